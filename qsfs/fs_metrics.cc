#include "qsfs/fs_metrics.h"

#include "common/metrics.h"

namespace qsfs {

const char* FsOpName(FsOp op) {
  static const char* const kNames[] = {"lookup",  "getattr", "setattr", "readlink", "mknod",    "mkdir",
                                       "symlink", "link",    "unlink",  "rmdir",    "rename",   "open",
                                       "create",  "read",    "write",   "flush",    "release",  "fsync",
                                       "opendir", "readdir", "statfs",  "xattr",    "fallocate", "lseek"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(FsOp::kCount), "one name per FsOp");
  return kNames[static_cast<int>(op)];
}

FsMetrics::FsMetrics(std::shared_ptr<prometheus::Registry> registry) : registry_(std::move(registry)) {
  auto& ops = prometheus::BuildCounter().Name("qsfs_operations_total").Help("FUSE operations, by operation").Register(*registry_);
  auto& errs = prometheus::BuildCounter()
                   .Name("qsfs_operation_errors_total")
                   .Help("FUSE operations answered with an errno, by operation")
                   .Register(*registry_);
  auto& lat = prometheus::BuildHistogram()
                  .Name("qsfs_operation_duration_seconds")
                  .Help("Time qsfs took to answer a FUSE operation, by operation")
                  .Register(*registry_);
  for (int i = 0; i < static_cast<int>(FsOp::kCount); ++i) {
    prometheus::Labels l{{"op", FsOpName(static_cast<FsOp>(i))}};
    ops_[i] = &ops.Add(l);
    errors_[i] = &errs.Add(l);
    latency_[i] = &lat.Add(l, prometheus::Histogram::BucketBoundaries(qs::LatencyBucketsSeconds()));
  }
  auto& bytes = prometheus::BuildCounter().Name("qsfs_bytes_total").Help("Bytes read and written through the mount").Register(*registry_);
  read_bytes_ = &bytes.Add({{"direction", "read"}});
  written_bytes_ = &bytes.Add({{"direction", "write"}});
  auto& cache = prometheus::BuildCounter()
                    .Name("qsfs_dir_cache_lookups_total")
                    .Help("Directory bucket lookups, by result (hit: served from memory)")
                    .Register(*registry_);
  dir_hits_ = &cache.Add({{"result", "hit"}});
  dir_misses_ = &cache.Add({{"result", "miss"}});
  auto& inodes = prometheus::BuildCounter()
                     .Name("qsfs_inode_cache_lookups_total")
                     .Help("Inodes loaded that no one held, by result (hit: a forgotten copy in memory, miss: read from zdb)")
                     .Register(*registry_);
  inode_hits_ = &inodes.Add({{"result", "hit"}});
  inode_misses_ = &inodes.Add({{"result", "miss"}});
  auto& trips = prometheus::BuildCounter()
                    .Name("qsfs_zdb_round_trips_total")
                    .Help("Requests (pipelines count once) sent to zdb, by namespace role")
                    .Register(*registry_);
  zdb_meta_ = &trips.Add({{"namespace", "meta"}});
  zdb_data_ = &trips.Add({{"namespace", "data"}});
  dirty_ = &prometheus::BuildGauge()
                .Name("qsfs_dirty_bytes")
                .Help("File data written but not yet in zdb")
                .Register(*registry_)
                .Add({});
  inodes_ = &prometheus::BuildGauge().Name("qsfs_cached_inodes").Help("Inodes held in memory").Register(*registry_).Add({});
  parked_ = &prometheus::BuildGauge()
                 .Name("qsfs_parked_inodes")
                 .Help("Inodes the kernel holds of which qsfs keeps only the lookup count")
                 .Register(*registry_)
                 .Add({});
}

void FsMetrics::Done(FsOp op, int err, std::chrono::steady_clock::duration took) {
  int i = static_cast<int>(op);
  ops_[i]->Increment();
  if (err != 0) errors_[i]->Increment();
  latency_[i]->Observe(std::chrono::duration<double>(took).count());
}

}  // namespace qsfs
