// Gathers the fragments of one chunk from their backends. Reads run on an
// I/O TaskPool. Verified fetches check each fragment against its recorded
// checksum in the reading task, so a fragment counts only once it arrived
// and verified; unverified ones (a retrieve's first try, which the chunk's
// AES-GCM tag authenticates as a whole) check only the length. The data
// fragments are asked for first (no decoding needed when they all verify);
// parity is asked for as soon as one of them fails, or when they have not
// all arrived within the hedge delay (a slow backend costs one delay, not a
// timeout). Shared by its reads: safe to drop before late reads finish.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "zstor/backend_pool.h"
#include "zstor/metadata.h"
#include "zstor/task_pool.h"

namespace zstor {

class FragmentFetch : public std::enable_shared_from_this<FragmentFetch> {
 public:
  // Maps a fragment's backend index (in ObjectMeta::backends) to a backend,
  // or nullptr when it is not configured here.
  using BackendLookup = std::function<Backend*(uint16_t)>;

  // Starts the reads of chunk `chunk`: every fragment when all is true, else
  // the k data fragments. meta must stay alive until Wait returns. verify
  // false skips the checksums (length still checked). urgent: the reads go
  // ahead of queued pool work and use the backends' urgent lane (a reader
  // waits for them).
  static std::shared_ptr<FragmentFetch> Start(TaskPool* pool, const ChunkMeta& chunk, size_t k, bool all,
                                              const BackendLookup& lookup, bool verify = true, bool urgent = false);

  // Blocks until k fragments arrived (and verified) (all requested ones when all was
  // true) or no read is left that could help; then moves the fragments out:
  // shards[i] holds fragment i where present[i]. Call once.
  void Wait(std::chrono::milliseconds hedge, std::vector<std::string>* shards, std::vector<bool>* present);

 private:
  FragmentFetch(TaskPool* pool, const ChunkMeta& chunk, size_t k, const BackendLookup& lookup);
  // Submits the read of fragment j unless already asked for.
  void RequestLocked(size_t j) REQUIRES(mu_);
  void RequestParityLocked() REQUIRES(mu_);
  bool DoneLocked() const REQUIRES(mu_);

  TaskPool* pool_;
  const ChunkMeta* chunk_;
  size_t k_;
  BackendLookup lookup_;
  bool all_ = false;     // set in Start, before any read runs
  bool verify_ = true;   // likewise
  bool urgent_ = false;  // likewise
  qs::Mutex mu_;
  qs::CondVar cv_;  // a read finished
  std::vector<std::string> shards_ GUARDED_BY(mu_);
  std::vector<bool> present_ GUARDED_BY(mu_);
  std::vector<bool> requested_ GUARDED_BY(mu_);
  size_t valid_ GUARDED_BY(mu_) = 0;
  size_t outstanding_ GUARDED_BY(mu_) = 0;
  bool failed_data_ GUARDED_BY(mu_) = false;  // a data fragment is missing or bad: parity needed
  bool closed_ GUARDED_BY(mu_) = false;       // Wait returned; late reads are dropped
};

}  // namespace zstor
