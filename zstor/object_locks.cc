#include "zstor/object_locks.h"

namespace zstor {

ObjectLocks::Hold::Hold(ObjectLocks* locks, std::string path, Mode mode)
    : locks_(locks), path_(std::move(path)), mode_(mode) {
  locks_->Acquire(path_, mode_);
}

ObjectLocks::Hold::~Hold() { locks_->Release(path_, mode_); }

void ObjectLocks::Acquire(const std::string& path, Mode mode) {
  qs::MutexLock lock(&mu_);
  Entry* e = &entries_[path];  // std::map: stays valid while other entries come and go
  const bool exclusive = mode == Mode::kExclusive;
  ++e->waiting;
  if (exclusive) ++e->writers_waiting;
  while (exclusive ? (e->writer || e->readers > 0) : (e->writer || e->writers_waiting > 0)) cv_.Wait(&mu_);
  --e->waiting;
  if (exclusive) {
    --e->writers_waiting;
    e->writer = true;
  } else {
    ++e->readers;
  }
}

void ObjectLocks::Release(const std::string& path, Mode mode) {
  qs::MutexLock lock(&mu_);
  auto it = entries_.find(path);
  if (it == entries_.end()) return;  // not held: nothing to release
  Entry& e = it->second;
  if (mode == Mode::kExclusive) e.writer = false;
  else --e.readers;
  if (e.readers == 0 && !e.writer && e.waiting == 0) entries_.erase(it);
  cv_.SignalAll();
}

size_t ObjectLocks::entries() {
  qs::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace zstor
