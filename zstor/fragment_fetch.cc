#include "zstor/fragment_fetch.h"

#include <spdlog/spdlog.h>

#include "zstor/chunk_codec.h"
#include "zstor/crypto.h"

namespace zstor {

FragmentFetch::FragmentFetch(TaskPool* pool, const ChunkMeta& chunk, size_t k, const BackendLookup& lookup)
    : pool_(pool),
      chunk_(&chunk),
      k_(k),
      lookup_(lookup),
      shards_(chunk.fragments.size()),
      present_(chunk.fragments.size(), false),
      requested_(chunk.fragments.size(), false) {}

std::shared_ptr<FragmentFetch> FragmentFetch::Start(TaskPool* pool, const ChunkMeta& chunk, size_t k, bool all,
                                                    const BackendLookup& lookup, bool verify, bool urgent) {
  std::shared_ptr<FragmentFetch> f(new FragmentFetch(pool, chunk, k, lookup));
  f->all_ = all;
  f->verify_ = verify;
  f->urgent_ = urgent;
  qs::MutexLock lock(&f->mu_);
  const size_t first = all ? chunk.fragments.size() : std::min(k, chunk.fragments.size());
  for (size_t j = 0; j < first; ++j) f->RequestLocked(j);
  if (f->failed_data_) f->RequestParityLocked();
  return f;
}

void FragmentFetch::RequestLocked(size_t j) {
  if (requested_[j]) return;
  requested_[j] = true;
  const FragmentMeta& frag = chunk_->fragments[j];
  Backend* b = lookup_(frag.backend);
  if (b == nullptr || !b->healthy() || frag.key.empty()) {
    if (j < k_) failed_data_ = true;
    return;
  }
  ++outstanding_;
  auto read = [self = shared_from_this(), b, j, key = frag.key, sum = frag.checksum,
               nonce = ChunkCodec::FragmentNonce(*chunk_, j), size = chunk_->shard_size, verify = verify_,
               lane = urgent_ ? Backend::Lane::kUrgent : Backend::Lane::kBulk]() {
    auto r = b->Get(key, lane);
    // Verified here, on the I/O thread: the hashing of k fragments spreads
    // over the pool instead of queueing behind the decoder.
    bool ok = r.ok() && r->size() == size && (!verify || ChunkCodec::FragmentChecksum(nonce, *r) == sum);
    if (r.ok() && !ok) spdlog::warn("{}: fragment {} ({} bytes) fails its length or checksum", b->name(), j, r->size());
    qs::MutexLock lock(&self->mu_);
    --self->outstanding_;
    if (ok && !self->closed_) {
      self->shards_[j] = std::move(r.value());
      self->present_[j] = true;
      ++self->valid_;
    } else if (!ok && j < self->k_) {
      self->failed_data_ = true;
      if (!self->closed_) self->RequestParityLocked();
    }
    self->cv_.SignalAll();
  };
  if (urgent_) pool_->SubmitUrgent(std::move(read));
  else pool_->Submit(std::move(read));
}

void FragmentFetch::RequestParityLocked() {
  for (size_t j = k_; j < requested_.size(); ++j) RequestLocked(j);
}

bool FragmentFetch::DoneLocked() const {
  if (all_) return outstanding_ == 0;
  return valid_ >= k_ || outstanding_ == 0;
}

void FragmentFetch::Wait(std::chrono::milliseconds hedge, std::vector<std::string>* shards,
                         std::vector<bool>* present) {
  qs::MutexLock lock(&mu_);
  const auto hedge_at = std::chrono::steady_clock::now() + hedge;
  while (!DoneLocked()) {
    if (!cv_.WaitUntil(&mu_, hedge_at)) {
      if (!DoneLocked()) RequestParityLocked();  // something is slow: race the parity against it
      break;
    }
  }
  for (;;) {
    while (!DoneLocked()) cv_.Wait(&mu_);
    // Reads ran out short of k: ask for what was never asked (parity), once.
    if (valid_ < k_ && !all_) {
      size_t before = outstanding_;
      RequestParityLocked();
      if (outstanding_ != before) continue;
    }
    break;
  }
  closed_ = true;
  *shards = std::move(shards_);
  *present = std::move(present_);
}

}  // namespace zstor
