#include "zdb/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>

#include "common/hex.h"
#include "common/logging.h"
#include "common/listener.h"
#include "common/metrics.h"
#include "common/resp_writer.h"

namespace zdb {

using qs::Status;
namespace resp = qs::resp;

namespace {

// "3 4 7": the dirty index ids as hooks receive them.
std::string JoinIds(const std::vector<uint32_t>& ids) {
  std::string out;
  for (uint32_t id : ids) {
    if (!out.empty()) out.push_back(' ');
    out += std::to_string(id);
  }
  return out;
}

// A name for the log: control bytes as \xHH, so no name can forge a line.
std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch < 0x20 || ch == 0x7f || ch == '\\') {
      out += "\\x";
      qs::AppendHexByte(&out, ch);
    } else {
      out.push_back(static_cast<char>(ch));
    }
  }
  return out;
}

}  // namespace

bool NamespaceNameAllowed(std::string_view n) {
  if (n.empty() || n.size() > 128 || n == "." || n == "..") return false;
  for (unsigned char ch : n)
    if (ch < 0x20 || ch == 0x7f || ch == '/') return false;
  return true;
}

Server::Server(Options opts, qs::Env* env)
    : opts_(std::move(opts)), env_(env), hooks_(opts_.hook, InstanceId(opts_), opts_.hook_timeout) {
  std::random_device rd;
  instance_id = rd();
  boot_time = static_cast<int64_t>(std::time(nullptr));
}

Server::~Server() {
  {
    qs::MutexLock lock(&sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.SignalAll();
  if (sync_thread_.joinable()) sync_thread_.join();
  for (int fd : listen_fds_) close(fd);
  for (auto& [id, c] : clients_)
    if (c->fd >= 0) close(c->fd);
  if (signal_fd_ >= 0) close(signal_fd_);
}

StorageOptions Server::storage_options() const {
  StorageOptions so;
  so.datasize = opts_.datasize;
  so.sync_always = opts_.fsync == FsyncPolicy::kAlways;
  so.evict_synced = opts_.evict_synced;
  return so;
}

void Server::WireEvents(Namespace* ns) {
  std::string name = ns->name();
  NamespaceEvents ev;
  ev.on_jump_data = [this](const std::string& old_file, const std::string& new_file) {
    hooks_.Run("jump-data", {old_file, new_file});
  };
  ev.on_jump_index = [this](const std::string& old_file, const std::string& new_file,
                            const std::vector<uint32_t>& dirty) {
    hooks_.Run("jump-index", {old_file, new_file, JoinIds(dirty)});
  };
  ns->set_events(std::move(ev));
}

Status Server::OpenNamespaces() {
  QS_RETURN_IF_ERROR(env_->CreateDirs(opts_.data_dir));
  QS_RETURN_IF_ERROR(env_->CreateDirs(opts_.index_dir));
  if (hooks_.enabled()) {
    // The hook may restore this zdb's namespaces (zstor's staging): serving
    // what a failed one left would show a partial or empty store as if it
    // were whole (docs/zdb-protocol.md, "Hooks").
    int rc = hooks_.RunAndWait("namespaces-init", {opts_.index_dir, opts_.data_dir});
    if (rc != 0) {
      return Status::Unavailable("namespaces-init hook failed (exit " + std::to_string(rc) +
                                 "): refusing to serve a partial restore; fix the cause and start again");
    }
  }
  auto names = env_->ListDir(opts_.index_dir);
  if (!names.ok()) return names.status();
  std::vector<std::string> list = *names;
  if (std::find(list.begin(), list.end(), "default") == list.end()) list.push_back("default");
  for (const auto& name : list) {
    if (!NamespaceNameAllowed(name)) {
      spdlog::warn("index directory entry '{}' is not a namespace name: skipped", Printable(name));
      continue;
    }
    bool is_default = name == "default";
    if (!is_default && !env_->Exists(opts_.index_dir + "/" + name + "/" + kDescriptorName)) continue;
    NamespaceSettings create;
    if (opts_.mode) create.mode = *opts_.mode == "seq" ? Mode::kSeq : Mode::kUser;
    if (is_default) {
      create.maxsize = opts_.maxsize;
      if (opts_.protect) {
        create.password = opts_.admin;
        create.is_public = true;
      }
    }
    auto ns = Namespace::Open(env_, name, opts_.data_dir, opts_.index_dir, storage_options(), &create);
    if (!ns.ok()) return Status::IOError("namespace " + name + ": " + ns.status().ToString());
    // Server-wide settings override what the descriptor says for default.
    if (is_default) {
      NamespaceSettings s = (*ns)->settings();
      bool changed = false;
      if (opts_.maxsize != s.maxsize) { s.maxsize = opts_.maxsize; changed = true; }
      if (opts_.protect && s.password != opts_.admin) { s.password = opts_.admin; changed = true; }
      if (changed) QS_RETURN_IF_ERROR((*ns)->UpdateSettings(s));
    }
    if (opts_.mode) {
      Mode forced = *opts_.mode == "seq" ? Mode::kSeq : Mode::kUser;
      if ((*ns)->settings().mode != forced) {
        if ((*ns)->ever_written())
          return Status::InvalidArgument("namespace " + name + " holds data in another mode than --mode " + *opts_.mode);
        NamespaceSettings s = (*ns)->settings();
        s.mode = forced;
        QS_RETURN_IF_ERROR((*ns)->UpdateSettings(s));
      }
    }
    WireEvents(ns->get());
    namespaces_[name] = std::move(ns.value());
    bindings_[name] = NamespaceBinding{next_instance_++, 0};
  }
  return Status::OK();
}

Status Server::Start() {
  QS_RETURN_IF_ERROR(loop_.Init());
  QS_RETURN_IF_ERROR(OpenNamespaces());
  SetupMetrics();
  // Listeners: Unix socket replaces TCP unless dualnet.
  if (!opts_.socket.empty()) {
    auto fd = qs::ListenUnix(opts_.socket);
    if (!fd.ok()) return fd.status();
    listen_fds_.push_back(*fd);
  }
  if (opts_.socket.empty() || opts_.dualnet) {
    auto fd = qs::ListenTcp(opts_.listen, opts_.port, true);
    if (!fd.ok()) return fd.status();
    listen_fds_.push_back(*fd);
  }
  for (int fd : listen_fds_) {
    QS_RETURN_IF_ERROR(loop_.AddFd(fd, EPOLLIN, [this, fd](uint32_t) { OnAccept(fd); }));
  }
  // Signals arrive through a signalfd so handlers run on the loop.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ >= 0) {
    QS_RETURN_IF_ERROR(loop_.AddFd(signal_fd_, EPOLLIN, [this](uint32_t) {
      signalfd_siginfo si;
      while (read(signal_fd_, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
          qs::ReopenLoggingOnHangup();
          continue;
        }
        spdlog::info("signal {} received: shutting down", si.ssi_signo);
        loop_.Stop();
      }
    }));
  }
  loop_.AddBeforeSleep([this] { BeforeSleep(); });
  loop_.AddTimer(1000, 1000, [this] { EverySecond(); });
  loop_.AddTimer(100, 100, [this] {
    hooks_.Poll();
    ExpireWaiters();
    if (opts_.compaction_ratio > 0 && !namespaces_.empty()) {
      // One namespace a tick, round robin, bounded work each time.
      auto it = namespaces_.begin();
      std::advance(it, static_cast<long>(compact_cursor_++ % namespaces_.size()));
      it->second->CompactStep(opts_.compaction_ratio, 512);
    }
  });
  if (opts_.fsync == FsyncPolicy::kEverySec) StartSyncThread();
  spdlog::info("zdb ready: {} ({} namespaces, fsync {}{}, datasize {})", InstanceId(opts_), namespaces_.size(),
               opts_.fsync == FsyncPolicy::kAlways ? "always" : opts_.fsync == FsyncPolicy::kEverySec ? "everysec" : "never",
               opts_.evict_synced ? ", synced data evicted from the page cache" : "", opts_.datasize);
  if (hooks_.enabled()) {
    int rc = hooks_.RunAndWait("ready", {});
    if (rc != 0) return Status::Unavailable("ready hook exited with " + std::to_string(rc));
  }
  return Status::OK();
}

void Server::Run() { loop_.Run(); }
void Server::Stop() { loop_.Stop(); }

void Server::Shutdown() {
  hooks_.Run("close", {});
  for (auto& [name, ns] : namespaces_) {
    Status s = ns->Sync();
    if (!s.ok()) spdlog::error("namespace {}: final sync failed: {}", name, s.ToString());
    hooks_.Run("namespace-closing", {name, ns->IndexPath(ns->current_segment()), ns->DataPath(ns->current_segment()),
                                     JoinIds(ns->dirty_index_ids())});
  }
  // The closing events must reach their handler (zstor queues the head
  // segments) before this process is gone and someone acts on its exit.
  if (hooks_.enabled()) {
    auto wait = std::chrono::seconds(opts_.hook_timeout > 0 ? std::min<uint64_t>(opts_.hook_timeout, 60) : 60);
    hooks_.Drain(wait);
  }
  namespaces_.clear();  // closes files
  if (!opts_.socket.empty()) unlink(opts_.socket.c_str());
  spdlog::info("zdb stopped cleanly");
}

// ---- namespaces ----

Namespace* Server::FindNamespace(const std::string& name) {
  auto it = namespaces_.find(name);
  return it == namespaces_.end() ? nullptr : it->second.get();
}

qs::Result<Namespace*> Server::CreateNamespace(const std::string& name) {
  NamespaceSettings s;
  if (opts_.mode) s.mode = *opts_.mode == "seq" ? Mode::kSeq : Mode::kUser;
  auto ns = Namespace::Open(env_, name, opts_.data_dir, opts_.index_dir, storage_options(), &s);
  if (!ns.ok()) return ns.status();
  Namespace* raw = ns->get();
  WireEvents(raw);
  namespaces_[name] = std::move(ns.value());
  bindings_[name] = NamespaceBinding{next_instance_++, 0};
  return raw;
}

void Server::BindClient(Client& c, const std::string& name, bool writable, bool keyed) {
  const NamespaceBinding& b = bindings_[name];
  c.ns_name = name;
  c.ns_instance = b.instance;
  c.ns_password_epoch = b.password_epoch;
  c.ns_keyed = keyed;
  c.writable = writable;
}

void Server::PasswordChanged(const std::string& name) {
  auto it = bindings_.find(name);
  if (it != bindings_.end()) ++it->second.password_epoch;
}

bool Server::CheckBinding(Client& c) {
  auto b = bindings_.find(c.ns_name);
  Namespace* ns = FindNamespace(c.ns_name);
  if (ns == nullptr || b == bindings_.end() || b->second.instance != c.ns_instance) {
    // Deleted, perhaps re-created: the new instance is another tenant's.
    AppendZdbError(&c.out, E::kNamespaceGone);
    c.close_after_write = true;
    return false;
  }
  if (b->second.password_epoch != c.ns_password_epoch) {
    // The password the session was admitted with (or its absence) is gone.
    c.ns_password_epoch = b->second.password_epoch;
    c.ns_keyed = false;
    c.writable = false;
  }
  const NamespaceSettings& s = ns->settings();
  if (!c.ns_keyed && !s.password.empty() && !s.is_public) {
    AppendZdbError(&c.out, E::kNamespaceProtected);
    return false;
  }
  return true;
}

Status Server::DeleteNamespace(const std::string& name) {
  auto it = namespaces_.find(name);
  if (it == namespaces_.end()) return Status::NotFound(name);
  QS_RETURN_IF_ERROR(it->second->Destroy());
  namespaces_.erase(it);
  bindings_.erase(name);
  // Clients waiting for a sync of this namespace get an answer, not a hang.
  auto w = fsync_waiters_.find(name);
  if (w != fsync_waiters_.end()) {
    std::vector<uint64_t> ids;
    ids.swap(w->second);
    fsync_waiters_.erase(w);
    for (uint64_t id : ids) {
      auto c = clients_.find(id);
      if (c == clients_.end()) continue;
      AppendZdbError(&c->second->out, E::kNamespaceGone);
      ResumeClient(id);
    }
  }
  if (ns_keys_ != nullptr) {
    // Gauges of a deleted namespace disappear from /metrics.
    for (auto* fam : {ns_keys_, ns_bytes_, ns_disk_bytes_, ns_segments_}) fam->Remove(&fam->Add({{"namespace", name}}));
  }
  return Status::OK();
}

std::vector<std::string> Server::NamespaceNames() const {
  std::vector<std::string> out = {"default"};
  for (auto& [n, ns] : namespaces_)
    if (n != "default") out.push_back(n);
  return out;
}

void Server::NotifyNamespaceEvent(const char* event, const std::string& name) { hooks_.Run(event, {name}); }

// ---- blocking ----

void Server::BlockClient(Client& c, const Args& argv) {
  c.blocked = true;
  c.blocked_argv.assign(argv.begin(), argv.end());
}

void Server::ResumeClient(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end() || it->second->closed) return;
  Client& c = *it->second;
  c.blocked = false;
  std::vector<std::string> saved = std::move(c.blocked_argv);
  c.blocked_argv.clear();
  if (!saved.empty()) {
    Args argv(saved.begin(), saved.end());
    c.retried = true;  // a second miss of the same read answers an error
    Dispatch(c, argv);
    c.retried = false;
  }
  if (!c.blocked && !c.in.empty()) pending_input_.insert(id);
  UpdateInterest(c);
  MarkPendingWrite(c);
  loop_.AddTimer(0, 0, [] {});  // make the loop turn again promptly
}

bool Server::FetchMissingSegment(Client& c, const Args& argv, Namespace* ns, uint32_t segment) {
  if (!hooks_.enabled() || c.retried) return false;  // no hook, or already retried once
  std::string path = ns->DataPath(segment);
  uint64_t id = c.id;
  std::string ns_name = ns->name();
  BlockClient(c, argv);
  bool started = hooks_.Run("missing-data", {path}, [this, id, ns_name, segment](int status) {
    Namespace* n = FindNamespace(ns_name);
    if (n != nullptr) n->ForgetReader(segment);
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    if (status != 0) spdlog::warn("missing-data hook failed for segment {} of {}", segment, ns_name);
    ResumeClient(id);
  });
  if (!started) {
    c.blocked = false;
    c.blocked_argv.clear();
    return false;
  }
  return true;
}

void Server::RequestFsync(Client& c, Namespace* ns) {
  c.blocked = true;
  c.blocked_argv.clear();
  fsync_waiters_[ns->name()].push_back(c.id);
}

void Server::AddWaiter(Client& c, std::string command, int64_t timeout_ms) {
  c.blocked = true;
  c.blocked_argv.clear();
  c.wait_command = std::move(command);
  c.wait_deadline_ms = qs::EventLoop::NowMs() + timeout_ms;
  c.wait_ns = c.ns_name;
  waiters_.push_back(c.id);
}

void Server::CheckWaiters(Client& actor, const std::string& command) {
  for (size_t i = 0; i < waiters_.size();) {
    auto it = clients_.find(waiters_[i]);
    if (it == clients_.end() || it->second.get() == &actor) {
      ++i;
      continue;
    }
    Client& w = *it->second;
    if (w.wait_ns == actor.ns_name && (w.wait_command == "*" || w.wait_command == command)) {
      resp::AppendSimple(&w.out, command);
      waiters_.erase(waiters_.begin() + static_cast<long>(i));
      ResumeClient(w.id);
      continue;
    }
    ++i;
  }
}

void Server::ExpireWaiters() {
  int64_t now = qs::EventLoop::NowMs();
  for (size_t i = 0; i < waiters_.size();) {
    auto it = clients_.find(waiters_[i]);
    if (it != clients_.end() && it->second->wait_deadline_ms > now) {
      ++i;
      continue;
    }
    uint64_t id = waiters_[i];
    waiters_.erase(waiters_.begin() + static_cast<long>(i));
    if (it != clients_.end()) {
      AppendZdbError(&it->second->out, E::kTimeout);
      ResumeClient(id);
    }
  }
}

// ---- the turn: group commit, then replies ----

void Server::BeforeSleep() {
  // Clients unblocked this turn may hold pipelined commands already read.
  while (!pending_input_.empty()) {
    std::set<uint64_t> todo;
    todo.swap(pending_input_);
    for (uint64_t id : todo) {
      auto it = clients_.find(id);
      if (it != clients_.end() && !it->second->closed) ProcessInput(*it->second);
    }
  }
  // Group commit: one fdatasync per namespace covers every write of the turn.
  for (auto& [name, ns] : namespaces_) {
    auto w = fsync_waiters_.find(name);
    bool waiters = w != fsync_waiters_.end() && !w->second.empty();
    if (!(waiters || (fsync_always() && ns->dirty()))) continue;
    Status s = ns->Sync();
    if (!s.ok()) {
      spdlog::error("namespace {}: sync failed: {}", name, s.ToString());
      if (fsync_always() && ns->dirty()) {
        // Replies of this turn promise durability that the disk just
        // refused; after a failed fsync the page cache state is unknown
        // too. Stop before any of them is sent (like PostgreSQL's fsync
        // panic); restart recovery trusts only what is on disk.
        spdlog::critical("namespace {}: cannot make acknowledged writes durable: exiting without replying", name);
        spdlog::shutdown();
        std::_Exit(3);
      }
    }
    if (waiters) {
      std::vector<uint64_t> ids;
      ids.swap(w->second);
      for (uint64_t id : ids) {
        auto it = clients_.find(id);
        if (it == clients_.end()) continue;
        if (s.ok()) resp::AppendOk(&it->second->out);
        else AppendZdbError(&it->second->out, E::kSyncFailed, s.message());
        ResumeClient(id);
      }
    }
  }
  if (!pending_input_.empty()) loop_.AddTimer(0, 0, [] {});
  std::vector<uint64_t> todo;
  todo.swap(pending_write_);
  for (uint64_t id : todo) {
    auto it = clients_.find(id);
    if (it == clients_.end()) continue;
    it->second->pending_write = false;
    if (!it->second->closed && !it->second->out.empty()) WriteOutput(*it->second);
  }
  EnforceClientLimits();
}

void Server::EverySecond() {
  DisconnectSlowReaders();
  uint64_t now = static_cast<uint64_t>(std::time(nullptr));
  for (auto& [name, ns] : namespaces_) {
    if (opts_.rotate > 0) {
      Status s = ns->RotateIfOlder(now, opts_.rotate);
      if (!s.ok()) spdlog::error("namespace {}: rotation failed: {}", name, s.ToString());
    }
    if (size_t n = ns->DropEvictedReaders(); n > 0)
      spdlog::info("namespace {}: released {} evicted data segments", name, n);
    if (opts_.fsync == FsyncPolicy::kEverySec && ns->dirty()) {
      SyncJob job;
      job.ns = name;
      job.files = ns->DirtyFiles(&job.generation);
      if (!job.files.empty()) {
        qs::MutexLock lock(&sync_mu_);
        sync_jobs_.push_back(std::move(job));
      }
    }
  }
  sync_cv_.Signal();
  UpdateGauges();
}

void Server::StartSyncThread() {
  sync_thread_ = std::thread([this] { SyncThreadMain(); });
}

void Server::SyncThreadMain() {
  qs::MutexLock lock(&sync_mu_);
  while (!sync_stop_) {
    while (!sync_stop_ && sync_jobs_.empty()) sync_cv_.Wait(&sync_mu_);
    std::vector<SyncJob> jobs;
    jobs.swap(sync_jobs_);
    lock.Unlock();
    for (auto& job : jobs) {
      bool ok = true;
      for (auto& f : job.files) {
        Status s = f->Sync();
        if (!s.ok()) {
          ok = false;
          spdlog::error("background sync of {} failed: {}", f->path(), s.ToString());
        } else if (opts_.evict_synced) {
          f->EvictSynced();
        }
      }
      if (ok) {
        std::string ns = job.ns;
        uint64_t gen = job.generation;
        loop_.RunInLoop([this, ns, gen] {
          Namespace* n = FindNamespace(ns);
          if (n != nullptr) n->MarkSynced(gen);
        });
      }
    }
    lock.Lock();
  }
}

// ---- metrics ----

void Server::SetupMetrics() {
  registry_ = std::make_shared<prometheus::Registry>();
  ops_family_ = &prometheus::BuildCounter().Name("zdb_commands_total").Help("Commands executed, by command").Register(*registry_);
  errors_family_ = &prometheus::BuildCounter().Name("zdb_command_errors_total").Help("Commands answered with an error, by command").Register(*registry_);
  for (auto& [name, spec] : CommandTable()) {
    op_counters_[spec.name] = &ops_family_->Add({{"command", spec.name}});
    err_counters_[spec.name] = &errors_family_->Add({{"command", spec.name}});
  }
  err_counters_["unknown"] = &errors_family_->Add({{"command", "unknown"}});
  latency_ = &prometheus::BuildHistogram()
                  .Name("zdb_command_duration_seconds")
                  .Help("Time to execute a command (excluding network and fsync)")
                  .Register(*registry_)
                  .Add({}, prometheus::Histogram::BucketBoundaries(qs::LatencyBucketsSeconds()));
  ns_keys_ = &prometheus::BuildGauge().Name("zdb_namespace_keys").Help("Live keys per namespace").Register(*registry_);
  ns_bytes_ = &prometheus::BuildGauge().Name("zdb_namespace_data_bytes").Help("Bytes of live values per namespace").Register(*registry_);
  ns_disk_bytes_ = &prometheus::BuildGauge().Name("zdb_namespace_disk_bytes").Help("Bytes of data segments on disk per namespace").Register(*registry_);
  ns_segments_ = &prometheus::BuildGauge().Name("zdb_namespace_segments").Help("Data segments per namespace").Register(*registry_);
  clients_gauge_ = &prometheus::BuildGauge().Name("zdb_connected_clients").Help("Connected clients").Register(*registry_).Add({});
  UpdateGauges();
  if (!opts_.metrics.empty()) {
    auto ms = qs::MetricsServer::Start(opts_.metrics, registry_);
    if (!ms.ok()) {
      spdlog::error("metrics: {}", ms.status().ToString());
    } else {
      metrics_server_ = std::move(ms.value());
      spdlog::info("metrics on http://{}/metrics", opts_.metrics);
    }
  }
}

void Server::UpdateGauges() {
  if (ns_keys_ == nullptr) return;
  for (auto& [name, ns] : namespaces_) {
    prometheus::Labels l{{"namespace", name}};
    ns_keys_->Add(l).Set(static_cast<double>(ns->entries()));
    ns_bytes_->Add(l).Set(static_cast<double>(ns->data_bytes()));
    ns_disk_bytes_->Add(l).Set(static_cast<double>(ns->disk_data_bytes()));
    ns_segments_->Add(l).Set(static_cast<double>(ns->segment_count()));
  }
  clients_gauge_->Set(static_cast<double>(clients_.size()));
}

}  // namespace zdb
