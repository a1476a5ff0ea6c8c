#include "zstor/staging.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include "common/file_env.h"
#include "zdb/format.h"

namespace zstor {

using qs::Result;
using qs::Status;

namespace {

constexpr const char* kKeyRoot = "/zdb/";
constexpr const char* kDescriptor = zdb::kDescriptorName;
// In the index root while a namespaces-init restore is unfinished
// (docs/zstor-staging.md, "A new machine"): the next start restores again.
constexpr const char* kRestoreMarker = ".namespaces-init-unfinished";

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

bool ValidName(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos && s.find('\n') == std::string::npos;
}

// Segment number of a data segment's file name (zdb/format.h), or -1.
int64_t DataSegmentId(const std::string& name) {
  bool is_index = false;
  uint32_t id = 0;
  return zdb::ParseSegmentFileName(name, &is_index, &id) && !is_index ? int64_t{id} : -1;
}

bool IsIndexFileName(const std::string& name) {
  bool is_index = false;
  uint32_t id = 0;
  return zdb::ParseSegmentFileName(name, &is_index, &id) && is_index;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status MakeDirs(const std::string& dir) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    cur = dir.substr(0, pos);
    if (cur.empty()) continue;
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return Status::FromErrno(errno, "mkdir " + cur);
  }
  return Status::OK();
}

std::string Dirname(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? "." : p.substr(0, s);
}

// Creates the restore marker durably (an empty file).
Status PutMarker(const std::string& path) {
  qs::Env* env = qs::Env::Default();
  auto f = env->OpenAppend(path);
  if (!f.ok()) return f.status();
  QS_RETURN_IF_ERROR((*f)->Sync());
  return env->SyncDir(Dirname(path));
}

}  // namespace

Staging::Staging(ObjectStore* store, prometheus::Registry* registry)
    : store_(store), cfg_(store->config()), queue_(store->config().queue_dir) {
  if (registry == nullptr) return;
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add({});
  };
  pending_ = gauge("zstor_staging_queue_jobs", "Staging jobs (uploads, forgets) queued or running");
  failing_ = gauge("zstor_staging_queue_failing", "Queued staging jobs whose last attempt failed (retried with back-off)");
  dir_bytes_ = gauge("zstor_staging_data_dir_bytes", "Bytes of data segments in the staging zdb's data directory");
  auto& uploads = prometheus::BuildCounter().Name("zstor_staging_uploads_total").Help("Staging file uploads, by result").Register(*registry);
  uploads_ok_ = &uploads.Add({{"result", "ok"}});
  uploads_failed_ = &uploads.Add({{"result", "error"}});
  uploaded_bytes_ = &prometheus::BuildCounter().Name("zstor_staging_uploaded_bytes_total").Help("Bytes of staging files uploaded and verified").Register(*registry).Add({});
  evictions_ = &prometheus::BuildCounter().Name("zstor_staging_evictions_total").Help("Data segments evicted from the staging directory").Register(*registry).Add({});
  evicted_bytes_ = &prometheus::BuildCounter().Name("zstor_staging_evicted_bytes_total").Help("Bytes of data segments evicted").Register(*registry).Add({});
  auto& restores = prometheus::BuildCounter().Name("zstor_staging_restores_total").Help("Data segments restored for missing-data, by result").Register(*registry);
  restores_ok_ = &restores.Add({{"result", "ok"}});
  restores_failed_ = &restores.Add({{"result", "error"}});
}

Staging::~Staging() { Stop(); }

Status Staging::Open() { return queue_.Open(); }

void Staging::Start() { thread_ = std::thread([this] { Run(); }); }

void Staging::Stop() {
  {
    qs::MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

Result<std::string> Staging::KeyFor(const std::string& file) {
  size_t slash = file.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status::InvalidArgument("not a staging zdb file: " + file);
  std::string name = file.substr(slash + 1);
  std::string dir = file.substr(0, slash);
  std::string ns = dir.substr(dir.rfind('/') + 1);
  if (!ValidName(ns)) return Status::InvalidArgument("not a staging zdb file: " + file);
  if (DataSegmentId(name) >= 0) return std::string(kKeyRoot) + "data/" + ns + "/" + name;
  if (IsIndexFileName(name) || name == kDescriptor) return std::string(kKeyRoot) + "index/" + ns + "/" + name;
  return Status::InvalidArgument("not a staging zdb file: " + file);
}

Status Staging::Enqueue(const std::string& file) {
  auto key = KeyFor(file);
  if (!key.ok()) return key.status();
  QS_RETURN_IF_ERROR(queue_.Add(UploadJob::Kind::kUpload, file, *key));
  cv_.SignalAll();
  return Status::OK();
}

Status Staging::OnHook(const std::vector<std::string>& args) {
  if (args.size() < 2) return Status::InvalidArgument("hook: expected EVENT INSTANCE [ARGS...]");
  const std::string& event = args[0];
  auto arg = [&](size_t i) -> std::string { return i + 2 < args.size() ? args[i + 2] : std::string(); };
  auto dirty = [&](const std::string& index_file, const std::string& ids) -> Status {
    const std::string dir = Dirname(index_file);
    const char* p = ids.c_str();
    while (*p != '\0') {
      char* end = nullptr;
      unsigned long id = std::strtoul(p, &end, 10);
      if (end == p) break;
      if (id > UINT32_MAX) return Status::InvalidArgument("hook " + event + ": bad index file id");
      QS_RETURN_IF_ERROR(Enqueue(dir + "/" + zdb::IndexFileName(static_cast<uint32_t>(id))));
      p = end;
    }
    return Status::OK();
  };
  if (event == "jump-data") return Enqueue(arg(0));
  if (event == "jump-index") {
    QS_RETURN_IF_ERROR(Enqueue(arg(0)));
    return dirty(arg(0), arg(2));
  }
  if (event == "namespace-closing") {
    QS_RETURN_IF_ERROR(Enqueue(arg(1)));
    QS_RETURN_IF_ERROR(Enqueue(arg(2)));
    return dirty(arg(1), arg(3));
  }
  if (event == "namespace-created" || event == "namespace-updated") {
    if (cfg_.zdb_index_dir_path.empty()) {
      spdlog::warn("hook {}: zdb_index_dir_path is not configured; descriptor of {} not uploaded", event, arg(0));
      return Status::OK();
    }
    if (!ValidName(arg(0))) return Status::InvalidArgument("hook " + event + ": bad namespace name");
    return Enqueue(cfg_.zdb_index_dir_path + "/" + arg(0) + "/" + kDescriptor);
  }
  if (event == "namespace-deleted") {
    if (!ValidName(arg(0))) return Status::InvalidArgument("hook " + event + ": bad namespace name");
    QS_RETURN_IF_ERROR(queue_.Add(UploadJob::Kind::kForget, arg(0), kKeyRoot));
    cv_.SignalAll();
    return Status::OK();
  }
  if (event == "missing-data") return Restore(arg(0));
  if (event == "namespaces-init") return InitNamespaces(arg(0), arg(1));
  return Status::OK();  // ready, close, namespace-reloaded: nothing to keep
}

Status Staging::Upload(const UploadJob& job) {
  struct stat st;
  if (stat(job.target.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      spdlog::info("staging: {} is gone (deleted by zdb); nothing to upload", job.target);
      return Status::OK();
    }
    return Status::FromErrno(errno, "stat " + job.target);
  }
  ObjectMeta stored;
  QS_RETURN_IF_ERROR(store_->Store(job.target, job.key, nullptr, &stored));
  QS_RETURN_IF_ERROR(store_->Verify(job.key, stored.object_id));
  if (uploaded_bytes_ != nullptr) uploaded_bytes_->Increment(static_cast<double>(stored.size));
  spdlog::info("staging: uploaded {} ({} bytes) as {}", job.target, stored.size, job.key);
  return Status::OK();
}

Status Staging::Forget(const UploadJob& job) {
  auto list = store_->List();
  if (!list.ok()) return list.status();
  for (const char* kind : {"data/", "index/"}) {
    const std::string prefix = job.key + kind + job.target + "/";
    for (const auto& m : *list) {
      if (m.path.compare(0, prefix.size(), prefix) != 0) continue;
      Status s = store_->Delete(m.path);
      if (!s.ok() && !s.IsNotFound()) return s;
    }
  }
  spdlog::info("staging: namespace {} deleted; its objects are gone", job.target);
  return Status::OK();
}

bool Staging::RunOne() {
  auto job = queue_.Next(NowMs());
  if (!job) return false;
  Status s = job->kind == UploadJob::Kind::kUpload ? Upload(*job) : Forget(*job);
  if (s.ok()) {
    Status d = queue_.Done(job->name);
    if (!d.ok()) spdlog::error("staging: {}", d.ToString());
    if (uploads_ok_ != nullptr) uploads_ok_->Increment();
  } else {
    spdlog::warn("staging: {} of {} failed (attempt {}), retrying later: {}",
                 job->kind == UploadJob::Kind::kUpload ? "upload" : "forget", job->target, job->attempts + 1,
                 s.ToString());
    queue_.Failed(job->name, s.message(), NowMs(), s.code() == Status::Code::kUnavailable);
    if (uploads_failed_ != nullptr) uploads_failed_->Increment();
  }
  return true;
}

Status Staging::Restore(const std::string& file) {
  auto key = KeyFor(file);
  if (!key.ok()) return key.status();
  QS_RETURN_IF_ERROR(MakeDirs(Dirname(file)));
  Status s = store_->Retrieve(*key, file);
  if (s.ok()) spdlog::info("staging: restored {} from {}", file, *key);
  else spdlog::error("staging: cannot restore {}: {}", file, s.ToString());
  prometheus::Counter* c = s.ok() ? restores_ok_ : restores_failed_;
  if (c != nullptr) c->Increment();
  return s;
}

Status Staging::InitNamespaces(const std::string& index_root, const std::string& data_root) {
  if (index_root.empty() || data_root.empty()) return Status::InvalidArgument("namespaces-init: index and data roots needed");
  const std::string marker = index_root + "/" + kRestoreMarker;
  struct stat st;
  bool resuming = qs::Env::Default()->Exists(marker);
  if (resuming) {
    spdlog::warn("namespaces-init: an earlier restore did not finish; restoring again");
  } else {
    for (const auto& ns : ListDir(index_root)) {
      if (stat((index_root + "/" + ns + "/" + kDescriptor).c_str(), &st) == 0) return Status::OK();  // not a new machine
    }
  }
  std::vector<ObjectMeta> objects;
  {
    auto l = store_->List();
    if (!l.ok()) return l.status();
    objects = std::move(l.value());
  }
  // key -> local file: every index file and descriptor, newest data segment per namespace.
  std::map<std::string, std::string> wanted;
  std::map<std::string, std::pair<int64_t, std::string>> newest;  // ns -> (id, key)
  const std::string idx = std::string(kKeyRoot) + "index/", dat = std::string(kKeyRoot) + "data/";
  for (const auto& m : objects) {
    const std::string& k = m.path;
    bool is_index = k.compare(0, idx.size(), idx) == 0, is_data = k.compare(0, dat.size(), dat) == 0;
    if (!is_index && !is_data) continue;
    std::string rest = k.substr(is_index ? idx.size() : dat.size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;
    std::string ns = rest.substr(0, slash), name = rest.substr(slash + 1);
    if (!ValidName(ns) || !ValidName(name)) continue;
    if (is_index) {
      wanted[k] = index_root + "/" + ns + "/" + name;
    } else {
      int64_t id = DataSegmentId(name);
      if (id >= 0 && (!newest.count(ns) || id > newest[ns].first)) newest[ns] = {id, k};
    }
  }
  for (const auto& [ns, idk] : newest) {
    const std::string& k = idk.second;
    wanted[k] = data_root + "/" + ns + "/" + k.substr(k.rfind('/') + 1);
  }
  if (wanted.empty()) {
    spdlog::info("namespaces-init: nothing stored for this staging zdb; starting empty");
    if (resuming) QS_RETURN_IF_ERROR(qs::Env::Default()->Remove(marker));
    return Status::OK();
  }
  // The marker first: a restore that fails or is killed part way leaves it,
  // so the next start restores again instead of taking the files already
  // there for a machine that has its namespaces.
  QS_RETURN_IF_ERROR(MakeDirs(index_root));
  if (!resuming) QS_RETURN_IF_ERROR(PutMarker(marker));
  spdlog::info("namespaces-init: restoring {} files (descriptors, index files, newest data segments)", wanted.size());
  size_t done = 0;
  auto t0 = std::chrono::steady_clock::now();
  // Descriptors last: a namespace directory without one is not opened.
  for (bool descriptors : {false, true}) {
    for (const auto& [key, file] : wanted) {
      bool is_descriptor = file.size() >= std::strlen(kDescriptor) &&
                           file.compare(file.size() - std::strlen(kDescriptor), std::string::npos, kDescriptor) == 0;
      if (is_descriptor != descriptors) continue;
      QS_RETURN_IF_ERROR(MakeDirs(Dirname(file)));
      Status s = store_->Retrieve(key, file);
      if (!s.ok()) return s.WithContext("namespaces-init: " + key);
      ++done;
      if (done % 50 == 0 || done == wanted.size()) spdlog::info("namespaces-init: {}/{} files restored", done, wanted.size());
    }
  }
  QS_RETURN_IF_ERROR(qs::Env::Default()->Remove(marker));
  QS_RETURN_IF_ERROR(qs::Env::Default()->SyncDir(index_root));
  spdlog::info("namespaces-init: done in {:.1f} s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return Status::OK();
}

uint64_t Staging::EvictRound() {
  const std::string& root = cfg_.zdb_data_dir_path;
  if (root.empty()) return 0;
  struct Segment {
    std::string path;
    uint64_t size;
    int64_t last_use;
  };
  std::vector<Segment> candidates;
  uint64_t total = 0;
  for (const auto& ns : ListDir(root)) {
    std::vector<Segment> segs;
    int64_t head = -1;
    for (const auto& name : ListDir(root + "/" + ns)) {
      int64_t id = DataSegmentId(name);
      if (id < 0) continue;
      struct stat st;
      std::string path = root + "/" + ns + "/" + name;
      if (stat(path.c_str(), &st) != 0) continue;
      total += static_cast<uint64_t>(st.st_size);
      head = std::max(head, id);
      segs.push_back({path, static_cast<uint64_t>(st.st_size), std::max<int64_t>(st.st_atime, st.st_mtime)});
    }
    // The head segment (highest number) is the one zdb appends to.
    for (auto& s : segs)
      if (DataSegmentId(s.path.substr(s.path.rfind('/') + 1)) != head) candidates.push_back(std::move(s));
  }
  data_dir_bytes_ = total;
  if (dir_bytes_ != nullptr) dir_bytes_->Set(static_cast<double>(total));
  if (cfg_.max_zdb_data_dir_size == 0 || total <= cfg_.max_zdb_data_dir_size) return 0;
  std::sort(candidates.begin(), candidates.end(), [](const Segment& a, const Segment& b) { return a.last_use < b.last_use; });
  uint64_t evicted = 0;
  for (const auto& s : candidates) {
    if (total <= cfg_.max_zdb_data_dir_size) break;
    if (queue_.Pending(s.path)) continue;  // not uploaded yet
    auto key = KeyFor(s.path);
    if (!key.ok()) continue;
    {
      // Only what the backends verifiably hold, at this file's size, goes
      // (Verify checks the record is still the one read here).
      auto meta = store_->meta().Get(*key);
      if (!meta.ok() || meta->size != s.size) continue;
      // Up to half the parity may be out of reach (a dead backend not yet
      // repaired): the segment stays readable with margin, and a staging
      // directory that can never shrink while a backend is down would fill
      // the disk under the mount.
      Status v = store_->Verify(*key, meta->object_id, static_cast<size_t>(meta->m / 2));
      if (!v.ok()) {
        spdlog::warn("staging: not evicting {}: {}", s.path, v.ToString());
        continue;
      }
      if (unlink(s.path.c_str()) != 0) continue;
    }
    total -= s.size;
    evicted += s.size;
    if (evictions_ != nullptr) evictions_->Increment();
    if (evicted_bytes_ != nullptr) evicted_bytes_->Increment(static_cast<double>(s.size));
    spdlog::info("staging: evicted {} ({} bytes)", s.path, s.size);
  }
  data_dir_bytes_ = total;
  if (dir_bytes_ != nullptr) dir_bytes_->Set(static_cast<double>(total));
  return evicted;
}

size_t Staging::ReconcileRound() {
  const std::string& root = cfg_.zdb_data_dir_path;
  if (root.empty()) return 0;
  std::map<std::string, uint64_t> sizes;  // key -> stored size
  {
    auto l = store_->List();
    if (!l.ok()) return 0;  // try again next round
    for (const auto& m : *l) sizes[m.path] = m.size;
  }
  size_t queued = 0;
  for (const auto& ns : ListDir(root)) {
    int64_t head = -1;
    std::vector<std::string> names;
    for (const auto& name : ListDir(root + "/" + ns)) {
      int64_t id = DataSegmentId(name);
      if (id < 0) continue;
      head = std::max(head, id);
      names.push_back(name);
    }
    for (const auto& name : names) {
      if (DataSegmentId(name) == head) continue;
      std::string path = root + "/" + ns + "/" + name;
      auto key = KeyFor(path);
      struct stat st;
      if (!key.ok() || stat(path.c_str(), &st) != 0 || queue_.Pending(path)) continue;
      auto it = sizes.find(*key);
      if (it != sizes.end() && it->second == static_cast<uint64_t>(st.st_size)) continue;
      spdlog::warn("staging: {} was never uploaded (a lost hook event?); queueing it", path);
      if (Enqueue(path).ok()) ++queued;
    }
  }
  return queued;
}

void Staging::Run() {
  auto next_scan = std::chrono::steady_clock::now();
  auto next_evict = next_scan;
  auto next_reconcile = next_scan;
  qs::MutexLock lock(&mu_);
  while (!stop_) {
    lock.Unlock();
    auto now = std::chrono::steady_clock::now();
    if (now >= next_scan) {
      queue_.Scan();  // jobs the hook wrote while no daemon listened
      next_scan = now + std::chrono::seconds(1);
    }
    while (RunOne() && !Stopping()) {
    }
    if (std::chrono::steady_clock::now() >= next_reconcile) {
      ReconcileRound();
      next_reconcile = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    }
    if (std::chrono::steady_clock::now() >= next_evict) {
      EvictRound();
      next_evict = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
    auto st = queue_.stats();
    if (pending_ != nullptr) pending_->Set(static_cast<double>(st.pending));
    if (failing_ != nullptr) failing_->Set(static_cast<double>(st.failing));
    lock.Lock();
    if (!stop_) cv_.WaitFor(&mu_, std::chrono::milliseconds(200));
  }
}

void Staging::BackendsReturned() {
  size_t woken = queue_.BackendsReturned();
  if (woken == 0) return;
  spdlog::info("staging: a backend is back; {} jobs that failed for lack of backends retry now", woken);
  cv_.SignalAll();
}

bool Staging::Stopping() {
  qs::MutexLock lock(&mu_);
  return stop_;
}

}  // namespace zstor
