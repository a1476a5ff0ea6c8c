// The mount lease and fencing (docs/qsfs-format.md, "Mount lease and
// fencing"). One mount at a time writes a filesystem's namespaces:
//  * Acquire takes the lease record, after raising both namespaces' zdb
//    fence (FENCE) to a token above every earlier holder's, so zdb refuses
//    the writes of any earlier holder from then on;
//  * a thread of its own (Start) renews it every timeout/6, on a zdb
//    connection of its own, whatever the filesystem is busy with, and notes
//    on the monotonic clock when each successful renewal was sent;
//  * Gate says whether a change may be acknowledged now: only while the
//    last successful renewal was sent less than 2/3 of the timeout ago, and
//    never again once the lease was seen held by another mount or zdb
//    refused a write as fenced (then the mount is fenced for good).
// Gate and fenced() are thread-safe. Acquire comes before Start, Release
// after Stop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "qsfs/options.h"
#include "qsfs/store.h"
#include "qsfs/superblock.h"

namespace qsfs {

class MountLease {
 public:
  MountLease(const Options& options, Store* store);  // store: not owned, outlives this
  ~MountLease();  // stops the thread

  // Takes the lease; Busy when another mount holds it (fresh), or won a
  // race for it. *took_stale: a previous holder's lease was replaced (that
  // mount did not end cleanly, the filesystem needs a check).
  qs::Status Acquire(bool* took_stale);

  // Starts / stops the renewal thread. Stop waits for a renewal under way.
  void Start() EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);

  // 0 while this mount may acknowledge a change, else EIO (logged once per
  // episode).
  int Gate();
  // Fenced for good: another mount took the namespaces over.
  bool fenced();

  // Clean unmount: deletes the record, unless this mount was fenced.
  qs::Status Release();

 private:
  using Clock = std::chrono::steady_clock;
  // The token to FENCE with: the high 32 bits one above every token seen
  // (both namespaces' fences and the record's), the low 32 bits random.
  qs::Result<uint64_t> NextToken(const Lease* held);
  void LoseForGood(const std::string& why);
  // One renewal: re-reads the record (held by another mount: fenced for
  // good) and rewrites it with the current time.
  void Renew() EXCLUDES(mu_);

  const Options options_;
  Store* store_;
  const int64_t timeout_ms_;
  Lease lease_;
  std::atomic<int64_t> renewed_at_ns_{0};  // Clock time the last successful renewal was sent
  std::atomic<bool> lost_{false};
  std::atomic<bool> stale_logged_{false};
  std::thread thread_;
  qs::Mutex mu_;
  qs::CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
};

}  // namespace qsfs
