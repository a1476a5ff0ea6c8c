// The durable queue of staging work: one small file per job in a directory
// (docs/zstor-staging.md). A job is on disk (written to a temporary name,
// fsynced, renamed, directory fsynced) before Add returns, and leaves it
// only once done, so a zstor killed with -9 finds its queue again. Other
// processes (the hook, when no daemon listens) may add jobs to the same
// directory; Scan picks them up. Job files are written and removed through
// a qs::Env (common/file_env.h). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/file_env.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace zstor {

struct UploadJob {
  enum class Kind { kUpload, kForget };
  std::string name;  // file name in the queue directory; orders jobs by age
  Kind kind = Kind::kUpload;
  std::string target;  // kUpload: local file; kForget: namespace name
  std::string key;     // kUpload: object key; kForget: key prefix to delete
  int attempts = 0;    // failed runs so far
  int64_t next_try_ms = 0;
  std::string last_error;
  bool waits_for_backends = false;  // the last run failed for lack of backends
};

class UploadQueue {
 public:
  // env must outlive the queue.
  explicit UploadQueue(std::string dir, qs::Env* env = qs::Env::Default()) : dir_(std::move(dir)), env_(env) {}

  // Creates the directory if needed and loads the jobs in it.
  qs::Status Open();
  // Durably adds a job, unless an identical one is already waiting (not
  // running): that one will read the file as it is when it runs.
  qs::Status Add(UploadJob::Kind kind, const std::string& target, const std::string& key);
  // Adds a job file without a queue object (for a process that only
  // enqueues); same durability.
  static qs::Status AddTo(const std::string& dir, UploadJob::Kind kind, const std::string& target,
                          const std::string& key, qs::Env* env = qs::Env::Default());
  // Loads job files added by other processes.
  void Scan();
  // The oldest job whose back-off has passed, marked running; nullopt if none.
  std::optional<UploadJob> Next(int64_t now_ms);
  // A running job finished: removes it from disk.
  qs::Status Done(const std::string& name);
  // A running job failed: it waits 2^attempts seconds (at most 5 minutes),
  // or, when it failed for lack of backends (unreachable, too few healthy,
  // no metadata quorum), until BackendsReturned if that comes sooner.
  void Failed(const std::string& name, const std::string& error, int64_t now_ms, bool for_lack_of_backends = false);
  // A backend came back: jobs waiting for backends may run at once.
  // Returns how many were woken.
  size_t BackendsReturned();
  // True when a job for this local file waits or runs.
  bool Pending(const std::string& target);

  struct Stats {
    size_t pending = 0;  // jobs on disk, running included
    size_t failing = 0;  // of those, jobs whose last run failed
    std::string last_error;
  };
  Stats stats();
  std::vector<UploadJob> jobs();

 private:
  static std::string Encode(UploadJob::Kind kind, const std::string& target, const std::string& key);
  void ScanLocked() REQUIRES(mu_);

  const std::string dir_;
  qs::Env* const env_;
  qs::Mutex mu_;
  std::map<std::string, UploadJob> jobs_ GUARDED_BY(mu_);  // by name: oldest first
  std::map<std::string, bool> running_ GUARDED_BY(mu_);    // names of running jobs
};

}  // namespace zstor
