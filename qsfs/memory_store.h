// MemoryStore: a Store (store.h) in memory, for tests of the Filesystem
// without zdb or /dev/fuse (as LevelDB's memenv is an Env in memory).
// Faithful where the Filesystem can tell: metadata keys as given, data ids
// assigned in sequence from 0 and updated in place, batches applied in
// order op by op, missing keys on DEL ignored, the lease record and the
// fence kept. Failures are injected on demand: after FailWritesAfter(n),
// n more write operations succeed (each op of a batch and each block of a
// DataWrite counts one) and every later one fails with IOError, so a batch
// is cut after a prefix as zdb's pipeline is after a crash; FailReads makes
// every read fail. The lease record and the fence never fail.
// Thread-safe. The contents outlive a Filesystem: a test mounts the same
// MemoryStore again to see what persisted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "qsfs/store.h"

namespace qsfs {

class MemoryStore final : public Store {
 public:
  // n more write operations succeed, then every one fails until
  // FailWritesAfter(-1).
  void FailWritesAfter(int64_t n) EXCLUDES(mu_);
  void FailReads(bool fail) EXCLUDES(mu_);
  // Write operations that succeeded so far (for tests that cut a change at
  // each of its steps).
  uint64_t writes() EXCLUDES(mu_);
  // While held, MetaRead calls wait after reading, as a reply on its way
  // (for tests of what runs meanwhile); waiting_reads() counts them.
  void HoldMetaReads(bool hold) EXCLUDES(mu_);
  size_t waiting_reads() EXCLUDES(mu_);
  // MetaGet and MetaRead calls for key so far.
  uint64_t reads_of(const std::string& key) EXCLUDES(mu_);
  // Copies of the namespaces, for checks.
  std::map<std::string, std::string> meta() EXCLUDES(mu_);
  std::map<uint64_t, std::string> data() EXCLUDES(mu_);

  qs::Result<std::optional<std::string>> MetaGet(const std::string& key) override EXCLUDES(mu_);
  qs::Result<std::optional<std::string>> MetaRead(const std::string& key) override EXCLUDES(mu_);
  qs::Result<std::vector<std::optional<std::string>>> MetaGetMany(const std::vector<std::string>& keys) override
      EXCLUDES(mu_);
  qs::Status MetaSet(const std::string& key, std::string_view value) override EXCLUDES(mu_);
  qs::Status MetaDel(const std::string& key) override EXCLUDES(mu_);
  qs::Status Apply(const MetaBatch& batch) override EXCLUDES(mu_);
  std::vector<std::optional<uint64_t>> DataWrite(const std::vector<BlockWrite>& writes, qs::Status* failed) override
      EXCLUDES(mu_);
  qs::Result<std::vector<std::optional<std::string>>> DataGetMany(const std::vector<uint64_t>& ids) override
      EXCLUDES(mu_);
  qs::Status DataDelMany(const std::vector<uint64_t>& ids) override EXCLUDES(mu_);
  // Over a copy of the keys: fn may call the store.
  qs::Status MetaScan(const std::function<void(const std::string& key)>& fn) override EXCLUDES(mu_);
  qs::Status DataScan(const std::function<void(uint64_t id)>& fn) override EXCLUDES(mu_);
  void SetMetrics(FsMetrics*) override {}
  qs::Status Fence(uint64_t token) override EXCLUDES(mu_);
  qs::Result<uint64_t> CurrentFence() override EXCLUDES(mu_);
  bool fenced() const override { return false; }
  qs::Result<std::optional<std::string>> LeaseGet() override EXCLUDES(mu_);
  qs::Status LeaseSet(std::string_view record) override EXCLUDES(mu_);
  qs::Status LeaseDel() override EXCLUDES(mu_);
  qs::Status Sync() override EXCLUDES(mu_);
  qs::Result<SpaceInfo> Space() override EXCLUDES(mu_);

 private:
  // IOError once the injected failure point is reached, else counts one.
  qs::Status TakeWrite() REQUIRES(mu_);
  qs::Status CheckRead() const REQUIRES(mu_);

  qs::Mutex mu_;
  std::map<std::string, std::string> meta_ GUARDED_BY(mu_);
  std::map<uint64_t, std::string> data_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
  std::optional<std::string> lease_ GUARDED_BY(mu_);
  uint64_t fence_ GUARDED_BY(mu_) = 0;
  int64_t writes_left_ GUARDED_BY(mu_) = -1;  // -1: no failure injected
  bool fail_reads_ GUARDED_BY(mu_) = false;
  uint64_t writes_ GUARDED_BY(mu_) = 0;
  bool hold_reads_ GUARDED_BY(mu_) = false;
  size_t waiting_reads_ GUARDED_BY(mu_) = 0;
  qs::CondVar released_;
  std::map<std::string, uint64_t> reads_ GUARDED_BY(mu_);
};

}  // namespace qsfs
