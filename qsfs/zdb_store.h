// ZdbStore: the Store (store.h) over zdb. Two connections, one SELECTed
// on the metadata namespace (user mode) and one on the data namespace
// (sequential mode), used by one caller at a time (the Filesystem
// serialises them); the Lease* calls have a metadata connection of their
// own (the lease thread's, qsfs/lease.h), one caller at a time;
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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/zdb_client.h"
#include "qsfs/fs_metrics.h"
#include "qsfs/options.h"
#include "qsfs/store.h"

namespace qsfs {

class ZdbStore final : public Store {
 public:
  // Connects, waiting up to options.wait_seconds for zdb to accept the
  // connection (logged: "waiting for zdb at ADDR: REASON; N s of WAIT");
  // creates the namespaces when missing (if allowed), checks the data
  // namespace is in sequential mode. Anything but an unreachable zdb fails
  // at once, with a message that names the address and the namespace.
  static qs::Result<std::unique_ptr<ZdbStore>> Open(const Options& options);

  qs::Result<std::optional<std::string>> MetaGet(const std::string& key) override;
  // On a pool of read connections, as DataGetMany.
  qs::Result<std::optional<std::string>> MetaRead(const std::string& key) override;
  qs::Result<std::vector<std::optional<std::string>>> MetaGetMany(const std::vector<std::string>& keys) override;
  qs::Status MetaSet(const std::string& key, std::string_view value) override;
  qs::Status MetaDel(const std::string& key) override;
  qs::Status Apply(const MetaBatch& batch) override;
  std::vector<std::optional<uint64_t>> DataWrite(const std::vector<BlockWrite>& writes, qs::Status* failed) override;
  // On a pool of read connections (see above).
  qs::Result<std::vector<std::optional<std::string>>> DataGetMany(const std::vector<uint64_t>& ids) override;
  qs::Status DataDelMany(const std::vector<uint64_t>& ids) override;
  // In zdb's order, by SCAN (100 a round trip).
  qs::Status MetaScan(const std::function<void(const std::string& key)>& fn) override;
  qs::Status DataScan(const std::function<void(uint64_t id)>& fn) override;
  void SetMetrics(FsMetrics* metrics) override { metrics_ = metrics; }
  // FENCE token on both namespaces; a zdb without FENCE is logged and left
  // unfenced.
  qs::Status Fence(uint64_t token) override;
  // By NSINFO; 0 on a zdb without FENCE.
  qs::Result<uint64_t> CurrentFence() override;
  bool fenced() const override { return fenced_.load(); }
  // On the lease connection.
  qs::Result<std::optional<std::string>> LeaseGet() override;
  qs::Status LeaseSet(std::string_view record) override;
  qs::Status LeaseDel() override;
  // FSYNC on both namespaces.
  qs::Status Sync() override;
  qs::Result<SpaceInfo> Space() override;

 private:
  ZdbStore(const Options& options, qs::ZdbAddress base, qs::ZdbAddress meta, qs::ZdbAddress data);
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
  // A read connection on the metadata (meta) or data namespace, from its
  // pool or new.
  std::unique_ptr<qs::ZdbClient> TakeReader(bool meta);
  void ReturnReader(bool meta, std::unique_ptr<qs::ZdbClient> c);

  Options options_;
  qs::ZdbClient meta_;
  qs::ZdbClient data_;
  qs::ZdbClient admin_;  // default namespace, for NSINFO
  qs::ZdbClient lease_;  // metadata namespace, for the lease record only
  std::atomic<FsMetrics*> metrics_{nullptr};  // set while the lease thread runs
  uint64_t token_ = 0;  // 0: not fenced (before Fence, or a zdb without FENCE)
  std::atomic<bool> fenced_{false};
  qs::Mutex readers_mu_;
  std::vector<std::unique_ptr<qs::ZdbClient>> readers_ GUARDED_BY(readers_mu_);       // idle, data namespace
  std::vector<std::unique_ptr<qs::ZdbClient>> meta_readers_ GUARDED_BY(readers_mu_);  // idle, metadata namespace
};

}  // namespace qsfs
