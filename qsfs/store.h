// Store: qsfs's access to zdb. Two connections, one SELECTed on the
// metadata namespace (user mode) and one on the data namespace (sequential
// mode), used by one caller at a time (the Filesystem serialises them);
// the Lease* calls have a metadata connection of their own (the lease
// thread's, qsfs/lease.h), one caller at a time;
// DataGetMany alone is thread-safe: it runs on a pool of read connections,
// so a read stalled in zdb (a missing-data restore) holds up only itself.
// Transport failures are retried (the client reconnects with back-off);
// server errors become Status codes that ErrnoOf() maps to errno.
// Fencing: after Fence(token) every write carries the token (zdb FENCE,
// given again on each new connection); once zdb refuses a write because a
// later mount raised the fence, fenced() stays true.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/zdb_client.h"
#include "qsfs/fs_metrics.h"
#include "qsfs/options.h"

namespace qsfs {

// errno for a failed Status: NoSpace/LimitExceeded -> ENOSPC, Unavailable
// -> EIO, locked/frozen namespace -> EAGAIN, NotFound -> ENOENT, ...
int ErrnoOf(const qs::Status& s);

// Ordered writes sent in one pipeline. zdb applies them in order, so after
// a crash of either side a prefix of them is applied.
class MetaBatch {
 public:
  void Set(std::string key, std::string value) { ops_.push_back({std::move(key), std::move(value), false}); }
  void Del(std::string key) { ops_.push_back({std::move(key), {}, true}); }
  void Append(const MetaBatch& other) { ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end()); }
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }

 private:
  friend class Store;
  struct Op {
    std::string key;
    std::string value;
    bool del;
  };
  std::vector<Op> ops_;
};

struct SpaceInfo {
  uint64_t data_used = 0;   // bytes of live values
  uint64_t data_limit = 0;  // namespace maxsize, 0 = none
  uint64_t disk_free = 0;   // free bytes of zdb's data directory
  uint64_t entries = 0;
};

class Store {
 public:
  // Connects, waiting up to options.wait_seconds for zdb to accept the
  // connection (logged: "waiting for zdb at ADDR: REASON; N s of WAIT");
  // creates the namespaces when missing (if allowed), checks the data
  // namespace is in sequential mode. Anything but an unreachable zdb fails
  // at once, with a message that names the address and the namespace.
  static qs::Result<std::unique_ptr<Store>> Open(const Options& options);

  qs::Result<std::optional<std::string>> MetaGet(const std::string& key);
  // Many GETs in one round trip; nullopt for missing keys.
  qs::Result<std::vector<std::optional<std::string>>> MetaGetMany(const std::vector<std::string>& keys);
  qs::Status MetaSet(const std::string& key, std::string_view value);
  qs::Status MetaDel(const std::string& key);  // missing key is not an error
  qs::Status Apply(const MetaBatch& batch);    // DEL of a missing key is not an error

  // A data block write: update id in place when `id` is set, else append
  // a new entry. Returns the ids (same order) of every write that
  // succeeded; *failed gets the first error, later writes are not tried.
  struct BlockWrite {
    std::optional<uint64_t> id;
    std::string_view data;
  };
  std::vector<std::optional<uint64_t>> DataWrite(const std::vector<BlockWrite>& writes, qs::Status* failed);
  // Thread-safe (see above).
  qs::Result<std::vector<std::optional<std::string>>> DataGetMany(const std::vector<uint64_t>& ids);
  qs::Status DataDelMany(const std::vector<uint64_t>& ids);  // missing ids are ignored

  // Every live key of the namespace, in zdb's order, by SCAN (100 a round
  // trip): fn(key) for each. For fsck, with nothing else writing.
  qs::Status MetaScan(const std::function<void(const std::string& key)>& fn);
  qs::Status DataScan(const std::function<void(uint64_t id)>& fn);

  // Metrics to count round trips in (null: off). Not owned.
  void SetMetrics(FsMetrics* metrics) { metrics_ = metrics; }

  // FENCE token on both namespaces (docs/zdb-protocol.md); a zdb without
  // FENCE is logged and left unfenced. Error when a higher token holds a
  // namespace (fenced() is then true).
  qs::Status Fence(uint64_t token);
  // The higher of the two namespaces' fences (NSINFO; 0 on a zdb without).
  qs::Result<uint64_t> CurrentFence();
  bool fenced() const { return fenced_.load(); }

  // The mount lease record (keys.h kLeaseKey), on the lease connection.
  qs::Result<std::optional<std::string>> LeaseGet();
  qs::Status LeaseSet(std::string_view record);
  qs::Status LeaseDel();  // a missing record is not an error

  // FSYNC on both namespaces: every acknowledged write is on stable storage.
  qs::Status Sync();
  qs::Result<SpaceInfo> Space();

 private:
  Store(const Options& options, qs::ZdbAddress base, qs::ZdbAddress meta, qs::ZdbAddress data);
  // client.Connect() until it succeeds, fails for another reason than a
  // transport one, or wait_seconds pass; retries with back-off (0.1 s
  // doubling to 2 s).
  static qs::Status WaitForZdb(qs::ZdbClient& client, int wait_seconds);
  // Runs fn(client) again after Unavailable, up to kAttempts times.
  template <typename Fn>
  auto Retry(qs::ZdbClient& client, Fn fn) -> decltype(fn(client));
  qs::Result<std::vector<qs::Reply>> Pipeline(qs::ZdbClient& client,
                                              const std::vector<std::vector<std::string_view>>& cmds);
  qs::Result<std::string> NsInfo(const std::string& ns);
  // Pipeline of writes on meta_ or data_: when the connection is new (zdb:
  // "holds no token") it FENCEs again and resends the refused suffix; a
  // refusal for an older token sets fenced_.
  qs::Result<std::vector<qs::Reply>> WritePipeline(qs::ZdbClient& client,
                                                   const std::vector<std::vector<std::string_view>>& cmds);
  qs::Status FenceOn(qs::ZdbClient& client);
  qs::Status Scan(qs::ZdbClient& client, const std::function<void(const std::string& key)>& fn);

  // A read connection on the data namespace, from the pool or new.
  std::unique_ptr<qs::ZdbClient> TakeReader();
  void ReturnReader(std::unique_ptr<qs::ZdbClient> c);

  Options options_;
  qs::ZdbClient meta_;
  qs::ZdbClient data_;
  qs::ZdbClient admin_;  // default namespace, for NSINFO
  qs::ZdbClient lease_;  // metadata namespace, for the lease record only
  std::atomic<FsMetrics*> metrics_{nullptr};  // set while the lease thread runs
  uint64_t token_ = 0;  // 0: not fenced (before Fence, or a zdb without FENCE)
  std::atomic<bool> fenced_{false};
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<qs::ZdbClient>> readers_;  // idle read connections
};

}  // namespace qsfs
