// The staging path (docs/zstor-staging.md): the local staging zdb hands its
// closed data segments, dirty index files and namespace descriptors to
// zstor through its hook; Staging queues them durably (UploadQueue),
// uploads and verifies them, evicts verified segments when the data
// directory outgrows max_zdb_data_dir_size, restores an evicted segment
// when zdb reports it missing, and rebuilds an empty staging zdb from the
// backends at namespaces-init. Uploads run one at a time on the worker
// thread (a bounded share of the backends); restores run on the caller's
// thread at once, beside them (ObjectStore's per-object locks and urgent
// lane: they queue behind no upload).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "zstor/object_store.h"
#include "zstor/upload_queue.h"

namespace zstor {

class Staging {
 public:
  // registry may be null (no metrics). store must outlive this.
  Staging(ObjectStore* store, prometheus::Registry* registry);
  ~Staging();

  qs::Status Open();  // loads the queue (config key queue_dir)
  void Start();       // the worker: uploads, retries, eviction
  void Stop();

  // One hook invocation of the staging zdb: event, instance id, arguments.
  // Upload events only enqueue; missing-data and namespaces-init do the
  // work before returning (zdb waits for them).
  qs::Status OnHook(const std::vector<std::string>& args);

  // Object key of a staging zdb file, "/zdb/data/<ns>/zdb-data-NNNNN" or
  // "/zdb/index/<ns>/<zdb-index-NNNNN|zdb-namespace>"; InvalidArgument for
  // any other path.
  static qs::Result<std::string> KeyFor(const std::string& file);

  // Brings an evicted data segment back from the backends.
  qs::Status Restore(const std::string& file);
  // On an empty index root: restores every namespace descriptor and index
  // file, and each namespace's newest data segment (older ones come back on
  // demand through missing-data). Nothing to do when namespaces exist.
  qs::Status InitNamespaces(const std::string& index_root, const std::string& data_root);
  // Runs the next due job; false when none was due.
  bool RunOne();
  // Evicts verified, uploaded, non-head data segments, least recently used
  // first, until the data directory fits its limit. Returns bytes evicted.
  uint64_t EvictRound();

  // Queues closed data segments that have no object of their size and no
  // job (a jump event lost with its hook). Returns how many.
  size_t ReconcileRound();

  // A backend answers again: jobs that failed for lack of backends run
  // now instead of after their back-off.
  void BackendsReturned();

  UploadQueue& queue() { return queue_; }
  uint64_t data_dir_bytes() const { return data_dir_bytes_; }

 private:
  void Run();
  bool Stopping();  // Stop() was called
  qs::Status Upload(const UploadJob& job);
  qs::Status Forget(const UploadJob& job);
  qs::Status Enqueue(const std::string& file);

  ObjectStore* store_;
  const Config& cfg_;
  UploadQueue queue_;
  qs::Mutex mu_;
  qs::CondVar cv_;  // a job was queued, a backend returned, or stop_ was set
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
  std::atomic<uint64_t> data_dir_bytes_{0};
  prometheus::Gauge* pending_ = nullptr;
  prometheus::Gauge* failing_ = nullptr;
  prometheus::Gauge* dir_bytes_ = nullptr;
  prometheus::Counter* uploads_ok_ = nullptr;
  prometheus::Counter* uploads_failed_ = nullptr;
  prometheus::Counter* uploaded_bytes_ = nullptr;
  prometheus::Counter* evictions_ = nullptr;
  prometheus::Counter* evicted_bytes_ = nullptr;
  prometheus::Counter* restores_ok_ = nullptr;
  prometheus::Counter* restores_failed_ = nullptr;
};

}  // namespace zstor
