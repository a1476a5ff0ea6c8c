#include "zstor/upload_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "common/file_env.h"

namespace zstor {

using qs::Status;

namespace {

constexpr const char* kMagic = "zstor-job 1";
constexpr const char* kSuffix = ".job";

// Through env, so fault injection reaches every step: a temporary file,
// its bytes synced, renamed over the name, the directory synced. On
// failure nothing is left under the name (a temporary may be, removed when
// possible; Scan ignores names starting with '.').
Status WriteDurably(qs::Env* env, const std::string& dir, const std::string& name, const std::string& body) {
  const std::string tmp = dir + "/." + name + ".tmp";
  Status s;
  {
    auto f = env->OpenAppend(tmp);
    if (!f.ok()) return f.status().WithContext("create " + tmp);
    // Job files are private to the queue's owner (mode 0600).
    if (chmod(tmp.c_str(), 0600) != 0) s = Status::FromErrno(errno, "chmod " + tmp);
    if (s.ok() && (*f)->Size() != 0) s = Status::IOError(tmp + " exists");  // names are unique: never reused
    if (s.ok()) s = (*f)->Append(body);
    if (s.ok()) s = (*f)->Sync();
  }
  if (s.ok()) s = env->Rename(tmp, dir + "/" + name);
  if (!s.ok()) {
    (void)env->Remove(tmp);
    return s;
  }
  return env->SyncDir(dir);
}

// Names sort by creation time: nanoseconds, then pid and a random tag so
// that concurrent writers never collide.
std::string NewName() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  thread_local std::mt19937 rng(std::random_device{}());
  char b[64];
  std::snprintf(b, sizeof(b), "%020lld-%d-%08x%s", static_cast<long long>(ns), static_cast<int>(getpid()),
                static_cast<unsigned>(rng()), kSuffix);
  return b;
}

bool Parse(const std::string& body, UploadJob* job) {
  std::istringstream in(body);
  std::string magic, kind;
  if (!std::getline(in, magic) || magic != kMagic) return false;
  if (!std::getline(in, kind) || !std::getline(in, job->target) || !std::getline(in, job->key)) return false;
  if (kind == "upload") job->kind = UploadJob::Kind::kUpload;
  else if (kind == "forget") job->kind = UploadJob::Kind::kForget;
  else return false;
  return !job->target.empty() && !job->key.empty();
}

}  // namespace

std::string UploadQueue::Encode(UploadJob::Kind kind, const std::string& target, const std::string& key) {
  return std::string(kMagic) + "\n" + (kind == UploadJob::Kind::kUpload ? "upload" : "forget") + "\n" + target + "\n" +
         key + "\n";
}

Status UploadQueue::AddTo(const std::string& dir, UploadJob::Kind kind, const std::string& target,
                          const std::string& key, qs::Env* env) {
  if (target.empty() || key.empty() || target.find('\n') != std::string::npos || key.find('\n') != std::string::npos)
    return Status::InvalidArgument("job target and key must be non-empty single lines");
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno(errno, "mkdir " + dir);
  return WriteDurably(env, dir, NewName(), Encode(kind, target, key));
}

Status UploadQueue::Open() {
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno(errno, "mkdir " + dir_);
  qs::MutexLock lock(&mu_);
  ScanLocked();
  return Status::OK();
}

void UploadQueue::Scan() {
  qs::MutexLock lock(&mu_);
  ScanLocked();
}

void UploadQueue::ScanLocked() {
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || name.size() <= 4 || name.compare(name.size() - 4, 4, kSuffix) != 0) continue;
    if (jobs_.count(name)) continue;
    std::ifstream f(dir_ + "/" + name, std::ios::binary);
    std::stringstream body;
    body << f.rdbuf();
    UploadJob job;
    if (!Parse(body.str(), &job)) {
      // Written by rename, so never torn; keep it aside for a human.
      spdlog::error("queue: {} is not a job file; renamed to {}.bad", name, name);
      std::rename((dir_ + "/" + name).c_str(), (dir_ + "/" + name + ".bad").c_str());
      continue;
    }
    job.name = name;
    jobs_.emplace(name, std::move(job));
  }
  closedir(d);
}

Status UploadQueue::Add(UploadJob::Kind kind, const std::string& target, const std::string& key) {
  qs::MutexLock lock(&mu_);
  for (const auto& [name, j] : jobs_) {
    if (j.kind == kind && j.target == target && j.key == key && !running_.count(name) && j.attempts == 0)
      return Status::OK();
  }
  if (target.empty() || key.empty() || target.find('\n') != std::string::npos || key.find('\n') != std::string::npos)
    return Status::InvalidArgument("job target and key must be non-empty single lines");
  UploadJob job;
  job.name = NewName();
  job.kind = kind;
  job.target = target;
  job.key = key;
  QS_RETURN_IF_ERROR(WriteDurably(env_, dir_, job.name, Encode(kind, target, key)));
  jobs_.emplace(job.name, std::move(job));
  return Status::OK();
}

std::optional<UploadJob> UploadQueue::Next(int64_t now_ms) {
  qs::MutexLock lock(&mu_);
  for (auto& [name, j] : jobs_) {
    if (running_.count(name) || j.next_try_ms > now_ms) continue;
    running_[name] = true;
    return j;
  }
  return std::nullopt;
}

Status UploadQueue::Done(const std::string& name) {
  qs::MutexLock lock(&mu_);
  running_.erase(name);
  jobs_.erase(name);
  const std::string file = dir_ + "/" + name;
  if (env_->Exists(file)) QS_RETURN_IF_ERROR(env_->Remove(file));
  return env_->SyncDir(dir_);
}

void UploadQueue::Failed(const std::string& name, const std::string& error, int64_t now_ms,
                         bool for_lack_of_backends) {
  qs::MutexLock lock(&mu_);
  running_.erase(name);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;
  UploadJob& j = it->second;
  ++j.attempts;
  j.last_error = error;
  int64_t backoff_ms = std::min<int64_t>(int64_t{1000} << std::min(j.attempts - 1, 9), 300000);
  j.next_try_ms = now_ms + backoff_ms;
  j.waits_for_backends = for_lack_of_backends;
}

size_t UploadQueue::BackendsReturned() {
  qs::MutexLock lock(&mu_);
  size_t woken = 0;
  for (auto& [name, j] : jobs_) {
    if (!j.waits_for_backends || running_.count(name)) continue;
    j.waits_for_backends = false;
    j.next_try_ms = 0;
    ++woken;
  }
  return woken;
}

bool UploadQueue::Pending(const std::string& target) {
  qs::MutexLock lock(&mu_);
  for (const auto& [name, j] : jobs_)
    if (j.target == target) return true;
  return false;
}

UploadQueue::Stats UploadQueue::stats() {
  qs::MutexLock lock(&mu_);
  Stats s;
  s.pending = jobs_.size();
  for (const auto& [name, j] : jobs_) {
    if (j.attempts > 0) {
      ++s.failing;
      s.last_error = j.target + ": " + j.last_error;
    }
  }
  return s;
}

std::vector<UploadJob> UploadQueue::jobs() {
  qs::MutexLock lock(&mu_);
  std::vector<UploadJob> v;
  for (const auto& [name, j] : jobs_) v.push_back(j);
  return v;
}

}  // namespace zstor
