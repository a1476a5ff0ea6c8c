// Prometheus metrics of one qsfs mount: FUSE operations (count, errors,
// latency), bytes through read and write, directory and inode cache hits, dirty
// bytes, cached inodes and zdb round trips. Every method is thread-safe
// (prometheus-cpp's metrics are atomic). Holders take an FsMetrics* that
// is null when metrics are off.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace qsfs {

enum class FsOp {
  kLookup, kGetattr, kSetattr, kReadlink, kMknod, kMkdir, kSymlink, kLink, kUnlink, kRmdir, kRename, kOpen,
  kCreate, kRead, kWrite, kFlush, kRelease, kFsync, kOpendir, kReaddir, kStatfs, kXattr, kFallocate, kLseek,
  kCount
};

class FsMetrics {
 public:
  explicit FsMetrics(std::shared_ptr<prometheus::Registry> registry);
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void Done(FsOp op, int err, std::chrono::steady_clock::duration took);
  void BytesRead(uint64_t n) { read_bytes_->Increment(static_cast<double>(n)); }
  void BytesWritten(uint64_t n) { written_bytes_->Increment(static_cast<double>(n)); }
  void DirCache(bool hit) { (hit ? dir_hits_ : dir_misses_)->Increment(); }
  // An inode not in use was needed: hit when a forgotten copy served it.
  void InodeCache(bool hit) { (hit ? inode_hits_ : inode_misses_)->Increment(); }
  void ZdbRoundTrip(bool data_ns) { (data_ns ? zdb_data_ : zdb_meta_)->Increment(); }
  void SetDirty(uint64_t bytes) { dirty_->Set(static_cast<double>(bytes)); }
  void SetCachedInodes(size_t n) { inodes_->Set(static_cast<double>(n)); }
  void SetParkedInodes(size_t n) { parked_->Set(static_cast<double>(n)); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* ops_[static_cast<int>(FsOp::kCount)];
  prometheus::Counter* errors_[static_cast<int>(FsOp::kCount)];
  prometheus::Histogram* latency_[static_cast<int>(FsOp::kCount)];
  prometheus::Counter* read_bytes_;
  prometheus::Counter* written_bytes_;
  prometheus::Counter* dir_hits_;
  prometheus::Counter* dir_misses_;
  prometheus::Counter* inode_hits_;
  prometheus::Counter* inode_misses_;
  prometheus::Counter* zdb_meta_;
  prometheus::Counter* zdb_data_;
  prometheus::Gauge* dirty_;
  prometheus::Gauge* inodes_;
  prometheus::Gauge* parked_;
};

const char* FsOpName(FsOp op);

}  // namespace qsfs
