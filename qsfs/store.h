// Store: what qsfs keeps in zdb, as an interface. The Filesystem sees two
// namespaces: metadata (keys chosen by qsfs, keys.h) and data (blocks whose
// ids the store assigns), plus the mount lease record and the fence of
// docs/qsfs-format.md. ZdbStore (zdb_store.h) is the real one, over zdb
// connections; MemoryStore (memory_store.h) keeps everything in memory, for
// tests of the POSIX logic without zdb or /dev/fuse.
//
// Callers: the meta, data-write and scan calls have one caller at a time
// (the Filesystem serialises them); the Lease* calls, Fence and
// CurrentFence one caller at a time (the lease thread, qsfs/lease.h);
// MetaRead, DataGetMany, fenced() and SetMetrics are thread-safe.
// Errors are Status values; ErrnoOf maps them to errno.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "qsfs/fs_metrics.h"

namespace qsfs {

// errno for a failed Status: NoSpace/LimitExceeded -> ENOSPC, Unavailable
// -> EIO, locked/frozen namespace -> EAGAIN, NotFound -> ENOENT, ...
int ErrnoOf(const qs::Status& s);

// Ordered writes sent in one pipeline. zdb applies them in order, so after
// a crash of either side a prefix of them is applied.
class MetaBatch {
 public:
  struct Op {
    std::string key;
    std::string value;
    bool del;
  };
  void Set(std::string key, std::string value) { ops_.push_back({std::move(key), std::move(value), false}); }
  void Del(std::string key) { ops_.push_back({std::move(key), {}, true}); }
  void Append(const MetaBatch& other) { ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end()); }
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  const std::vector<Op>& ops() const { return ops_; }

 private:
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
  virtual ~Store() = default;

  virtual qs::Result<std::optional<std::string>> MetaGet(const std::string& key) = 0;
  // MetaGet for any thread at any time (the Filesystem reads inode records
  // with its lock released); sees every write acknowledged before it.
  virtual qs::Result<std::optional<std::string>> MetaRead(const std::string& key) = 0;
  // Many GETs in one round trip; nullopt for missing keys.
  virtual qs::Result<std::vector<std::optional<std::string>>> MetaGetMany(const std::vector<std::string>& keys) = 0;
  virtual qs::Status MetaSet(const std::string& key, std::string_view value) = 0;
  virtual qs::Status MetaDel(const std::string& key) = 0;  // missing key is not an error
  // In order; on failure a prefix of the batch is applied. DEL of a
  // missing key is not an error.
  virtual qs::Status Apply(const MetaBatch& batch) = 0;

  // A data block write: update id in place when `id` is set, else append
  // a new entry. Returns the ids (same order) of every write that
  // succeeded; *failed gets the first error, later writes are not tried.
  struct BlockWrite {
    std::optional<uint64_t> id;
    std::string_view data;
  };
  virtual std::vector<std::optional<uint64_t>> DataWrite(const std::vector<BlockWrite>& writes,
                                                         qs::Status* failed) = 0;
  // Thread-safe; nullopt for missing ids.
  virtual qs::Result<std::vector<std::optional<std::string>>> DataGetMany(const std::vector<uint64_t>& ids) = 0;
  virtual qs::Status DataDelMany(const std::vector<uint64_t>& ids) = 0;  // missing ids are ignored

  // Every live key of the namespace: fn(key) for each. For fsck, with
  // nothing else writing.
  virtual qs::Status MetaScan(const std::function<void(const std::string& key)>& fn) = 0;
  virtual qs::Status DataScan(const std::function<void(uint64_t id)>& fn) = 0;

  // Metrics to count round trips in (null: off). Not owned.
  virtual void SetMetrics(FsMetrics* metrics) = 0;

  // Raises the fence of both namespaces to token: from then on the store
  // refuses the writes of any earlier holder (docs/zdb-protocol.md). Error
  // when a higher token holds a namespace (fenced() is then true).
  virtual qs::Status Fence(uint64_t token) = 0;
  // The higher of the two namespaces' fences (0: none).
  virtual qs::Result<uint64_t> CurrentFence() = 0;
  // A write was refused because a later mount raised the fence; for good.
  virtual bool fenced() const = 0;

  // The mount lease record (keys.h kLeaseKey).
  virtual qs::Result<std::optional<std::string>> LeaseGet() = 0;
  virtual qs::Status LeaseSet(std::string_view record) = 0;
  virtual qs::Status LeaseDel() = 0;  // a missing record is not an error

  // Every acknowledged write is on stable storage.
  virtual qs::Status Sync() = 0;
  virtual qs::Result<SpaceInfo> Space() = 0;
};

}  // namespace qsfs
