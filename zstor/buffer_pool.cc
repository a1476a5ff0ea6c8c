#include "zstor/buffer_pool.h"

#include <vector>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace zstor {

namespace {

qs::Mutex pool_mu;
// Idle buffers and when each came back. Never destroyed: a buffer may come
// back from a worker thread while the process exits.
std::vector<std::string*>* const idle PT_GUARDED_BY(pool_mu) = new std::vector<std::string*>();
std::vector<std::chrono::steady_clock::time_point>* const idle_since PT_GUARDED_BY(pool_mu) =
    new std::vector<std::chrono::steady_clock::time_point>();

void GiveBack(std::string* s) {
  {
    qs::MutexLock lock(&pool_mu);
    if (idle->size() < BufferPool::kKeep) {
      idle->push_back(s);
      idle_since->push_back(std::chrono::steady_clock::now());
      return;
    }
  }
  delete s;
}

}  // namespace

std::shared_ptr<std::string> BufferPool::Get(size_t size) {
  std::string* s = nullptr;
  {
    qs::MutexLock lock(&pool_mu);
    // The smallest idle buffer already that long (a shrink writes nothing,
    // a growth zero-fills), else the longest.
    const size_t none = idle->size();
    size_t fit = none, largest = none;
    for (size_t i = 0; i < idle->size(); ++i) {
      const size_t len = (*idle)[i]->size();
      if (len >= size && (fit == none || len < (*idle)[fit]->size())) fit = i;
      if (largest == none || len > (*idle)[largest]->size()) largest = i;
    }
    const size_t pick = fit != none ? fit : largest;
    if (pick != none) {
      s = (*idle)[pick];
      idle->erase(idle->begin() + static_cast<std::ptrdiff_t>(pick));
      idle_since->erase(idle_since->begin() + static_cast<std::ptrdiff_t>(pick));
    }
  }
  if (s == nullptr) s = new std::string();
  // Shrinking or keeping the size writes nothing; only growth is filled.
  s->resize(size);
  return std::shared_ptr<std::string>(s, GiveBack);
}

size_t BufferPool::Trim(std::chrono::steady_clock::duration idle_for) {
  std::vector<std::string*> gone;
  {
    qs::MutexLock lock(&pool_mu);
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < idle->size();) {
      if (now - (*idle_since)[i] >= idle_for) {
        gone.push_back((*idle)[i]);
        idle->erase(idle->begin() + static_cast<std::ptrdiff_t>(i));
        idle_since->erase(idle_since->begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  for (std::string* s : gone) delete s;  // outside the lock
  return gone.size();
}

size_t BufferPool::Idle() {
  qs::MutexLock lock(&pool_mu);
  return idle->size();
}

}  // namespace zstor
