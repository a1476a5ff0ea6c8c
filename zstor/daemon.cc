#include "zstor/daemon.h"

#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/listener.h"
#include "common/resp_writer.h"

namespace zstor {

using qs::Status;
namespace resp = qs::resp;

Daemon::Daemon(std::unique_ptr<ObjectStore> store, size_t max_connections)
    : store_(std::move(store)), max_connections_(max_connections) {
  registry_ = std::make_shared<prometheus::Registry>();
  ops_ = &prometheus::BuildCounter().Name("zstor_operations_total").Help("Client operations, by operation and result").Register(*registry_);
  bytes_ = &prometheus::BuildCounter().Name("zstor_operation_bytes_total").Help("Object bytes stored and retrieved").Register(*registry_);
  latency_ = &prometheus::BuildHistogram().Name("zstor_operation_duration_seconds").Help("Duration of client operations").Register(*registry_);
  swept_fragments_ = &prometheus::BuildCounter().Name("zstor_sweep_fragments_total").Help("Orphan fragments the sweep deleted").Register(*registry_).Add({});
  swept_bytes_ = &prometheus::BuildCounter().Name("zstor_sweep_bytes_total").Help("Bytes of the orphan fragments the sweep deleted").Register(*registry_).Add({});
  sweeps_ = &prometheus::BuildCounter().Name("zstor_sweeps_total").Help("Fragment sweeps, by result (ok, partial: a backend skipped, refused)").Register(*registry_);
  monitor_ = std::make_unique<Monitor>(store_.get(), registry_.get());
  if (!store_->config().zdb_data_dir_path.empty()) {
    staging_ = std::make_unique<Staging>(store_.get(), registry_.get());
    monitor_->OnBackendBack([s = staging_.get()] { s->BackendsReturned(); });
  }
}

Daemon::~Daemon() { Stop(); }

Status Daemon::Start() {
  const Config& cfg = store_->config();
  if (cfg.socket.empty()) return Status::InvalidArgument("config key 'socket' is required to run the daemon");
  if (staging_ != nullptr) {
    Status q = staging_->Open();
    if (!q.ok()) return q.WithContext("staging queue (config key 'queue_dir')");
    auto st = staging_->queue().stats();
    if (st.pending > 0) spdlog::info("staging: {} queued jobs resumed from {}", st.pending, cfg.queue_dir);
  }
  auto fd = qs::ListenUnix(cfg.socket);
  if (!fd.ok()) return fd.status();
  listen_fd_ = *fd;
  // Blocking accept on its own thread.
  int flags = fcntl(listen_fd_, F_GETFL, 0);
  fcntl(listen_fd_, F_SETFL, flags & ~O_NONBLOCK);
  if (cfg.prometheus_port > 0) {
    auto m = qs::MetricsServer::Start(std::to_string(cfg.prometheus_port), registry_);
    if (!m.ok()) return m.status();
    metrics_ = std::move(m.value());
  }
  monitor_->Start();
  if (staging_ != nullptr) staging_->Start();
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  if (cfg.monitor.sweep_interval > 0) sweep_thread_ = std::thread([this] { SweepLoop(); });
  spdlog::info("zstor daemon on {} ({} data backends, {} meta backends{})", cfg.socket, cfg.backends.size(),
               cfg.meta.backends.size(), cfg.prometheus_port ? ", metrics on :" + std::to_string(cfg.prometheus_port) : "");
  return Status::OK();
}

void Daemon::Stop() {
  if (stop_.exchange(true)) return;
  if (listen_fd_ >= 0) {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    qs::MutexLock lock(&sweep_mu_);
    sweep_cv_.SignalAll();
  }
  if (sweep_thread_.joinable()) sweep_thread_.join();
  std::list<Connection> conns;
  {
    qs::MutexLock lock(&conn_mu_);
    for (auto& c : conns_)
      if (!c.done) shutdown(c.fd, SHUT_RDWR);  // its fd is open until done is set
    conns.swap(conns_);
  }
  for (auto& c : conns) c.thread.join();
  monitor_->Stop();
  if (staging_ != nullptr) staging_->Stop();
  if (!store_->config().socket.empty()) unlink(store_->config().socket.c_str());
  spdlog::info("zstor daemon stopped");
}

void Daemon::AcceptLoop() {
  while (!stop_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stop_) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    qs::MutexLock lock(&conn_mu_);
    ReapLocked();
    if (conns_.size() >= max_connections_) {
      // Refused with a reply the client can show, not a silent close.
      std::string reply;
      resp::AppendError(&reply, "ERR too many connections (at most " + std::to_string(max_connections_) + ")");
      (void)!write(fd, reply.data(), reply.size());
      close(fd);
      spdlog::warn("daemon: connection refused: {} connections already open", conns_.size());
      continue;
    }
    Connection& c = conns_.emplace_back();
    c.fd = fd;
    c.thread = std::thread([this, fd, conn = &c] {
      Serve(fd);
      qs::MutexLock l(&conn_mu_);
      close(fd);
      conn->done = true;
    });
  }
}

void Daemon::ReapLocked() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    it->thread.join();  // it has nothing left to do but return
    it = conns_.erase(it);
  }
}

size_t Daemon::connection_threads() {
  qs::MutexLock lock(&conn_mu_);
  return conns_.size();
}

void Daemon::Serve(int fd) {
  qs::RespParser parser;
  std::string in, out;
  std::vector<std::string_view> argv;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    size_t off = 0;
    for (;;) {
      size_t consumed = 0;
      auto r = parser.Parse(in.data() + off, in.size() - off, &consumed, &argv);
      if (r == qs::RespParser::Result::kNeedMore) break;
      if (r == qs::RespParser::Result::kError) {
        resp::AppendError(&out, parser.error());
        (void)!write(fd, out.data(), out.size());
        return;
      }
      if (!argv.empty()) Execute(argv, &out);
      off += consumed;
      parser.Reset();
    }
    in.erase(0, off);
    for (size_t sent = 0; sent < out.size();) {
      ssize_t w = write(fd, out.data() + sent, out.size() - sent);
      if (w <= 0) return;
      sent += static_cast<size_t>(w);
    }
    out.clear();
  }
}

void Daemon::Count(const std::string& op, bool ok, double seconds, uint64_t bytes) {
  ops_->Add({{"op", op}, {"result", ok ? "ok" : "error"}}).Increment();
  if (bytes > 0) bytes_->Add({{"op", op}}).Increment(static_cast<double>(bytes));
  latency_->Add({{"op", op}}, prometheus::Histogram::BucketBoundaries(qs::LatencyBucketsSeconds())).Observe(seconds);
}

// The daemon's commands mirror the CLI. Like zdb's, they live in one table
// (name, arity, handler); the dispatcher checks the arity once. Handlers
// call the ObjectStore directly: its per-object locks order operations on
// the same object (client requests, the monitor, the staging worker).
namespace {

using Args = std::vector<std::string_view>;

struct Reply {
  std::string* out;
  void Ok() const { resp::AppendOk(out); }
  void Fail(const Status& s) const { resp::AppendError(out, "ERR " + s.message()); }
};

}  // namespace

struct Daemon::Command {
  const char* name;
  int arity;  // argument count including the name; negative: at least -arity
  void (Daemon::*handler)(const Args& argv, std::string* out);
};

const std::vector<Daemon::Command>& Daemon::Commands() {
  static const std::vector<Command> table = {
      {"PING", 1, &Daemon::PingCommand},         {"STORE", 3, &Daemon::StoreCommand},
      {"RETRIEVE", 3, &Daemon::RetrieveCommand}, {"CHECK", 2, &Daemon::CheckCommand},
      {"REBUILD", 2, &Daemon::RebuildCommand},   {"DELETE", 2, &Daemon::DeleteCommand},
      {"LIST", 1, &Daemon::ListCommand},         {"STATUS", 1, &Daemon::StatusCommand},
      {"HOOK", -3, &Daemon::HookCommand},        {"STAGING", 1, &Daemon::StagingCommand},
      {"REPAIR", 1, &Daemon::RepairCommand},     {"SCRUB", -1, &Daemon::ScrubCommand},
      {"SWEEP", -1, &Daemon::SweepCommand},
  };
  return table;
}

void Daemon::Execute(const Args& argv, std::string* out) {
  std::string name(argv[0]);
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& cmd : Commands()) {
    if (name != cmd.name) continue;
    const int n = static_cast<int>(argv.size());
    if (cmd.arity >= 0 ? n != cmd.arity : n < -cmd.arity)
      return resp::AppendError(out, "ERR wrong number of arguments for " + name);
    return (this->*cmd.handler)(argv, out);
  }
  resp::AppendError(out, "ERR unknown command '" + name + "'");
}

double Daemon::Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Daemon::PingCommand(const Args&, std::string* out) { resp::AppendSimple(out, "PONG"); }

// STORE local-file key
void Daemon::StoreCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  std::string local(argv[1]), key(argv[2]);
  Status s = store_->Store(local, key);
  std::error_code ec;
  Count("store", s.ok(), Since(t0), s.ok() ? std::filesystem::file_size(local, ec) : 0);
  s.ok() ? Reply{out}.Ok() : Reply{out}.Fail(s);
}

// RETRIEVE key output-file
void Daemon::RetrieveCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  std::string dest(argv[2]);
  Status s = store_->Retrieve(std::string(argv[1]), dest);
  std::error_code ec;
  Count("retrieve", s.ok(), Since(t0), s.ok() ? std::filesystem::file_size(dest, ec) : 0);
  s.ok() ? Reply{out}.Ok() : Reply{out}.Fail(s);
}

// CHECK key -> [size, chunks, fragments, fragments ok, weakest chunk, k, m]
void Daemon::CheckCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = store_->Check(std::string(argv[1]));
  Count("check", r.ok(), Since(t0), 0);
  if (!r.ok()) return Reply{out}.Fail(r.status());
  resp::AppendArrayHeader(out, 7);
  for (int64_t v : {static_cast<int64_t>(r->size), static_cast<int64_t>(r->chunks), static_cast<int64_t>(r->fragments),
                    static_cast<int64_t>(r->fragments_ok), static_cast<int64_t>(r->min_chunk_ok),
                    static_cast<int64_t>(r->k), static_cast<int64_t>(r->m)})
    resp::AppendInteger(out, v);
}

// REBUILD key -> fragments rebuilt
void Daemon::RebuildCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = store_->Rebuild(std::string(argv[1]));
  Count("rebuild", r.ok(), Since(t0), 0);
  r.ok() ? resp::AppendInteger(out, static_cast<int64_t>(*r)) : Reply{out}.Fail(r.status());
}

// DELETE key
void Daemon::DeleteCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  Status s = store_->Delete(std::string(argv[1]));
  Count("delete", s.ok(), Since(t0), 0);
  s.ok() ? Reply{out}.Ok() : Reply{out}.Fail(s);
}

// LIST -> [[key, size, chunks, created], ...]
void Daemon::ListCommand(const Args&, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  auto l = store_->List(/*strict=*/true);
  Count("list", l.ok(), Since(t0), 0);
  if (!l.ok()) return Reply{out}.Fail(l.status());
  resp::AppendArrayHeader(out, static_cast<int64_t>(l->size()));
  for (const auto& m : *l) {
    resp::AppendArrayHeader(out, 4);
    resp::AppendBulk(out, m.path);
    resp::AppendInteger(out, static_cast<int64_t>(m.size));
    resp::AppendInteger(out, static_cast<int64_t>(m.chunks.size()));
    resp::AppendInteger(out, static_cast<int64_t>(m.created));
  }
}

// STATUS -> [[role, backend, group, up, entries, used bytes, free bytes], ...]:
// health and space as the monitor last saw them (-1: never seen), so a dead
// backend never blocks the answer.
void Daemon::StatusCommand(const Args&, std::string* out) {
  auto& pool = store_->backends();
  auto& meta = store_->meta().backends();
  resp::AppendArrayHeader(out, static_cast<int64_t>(pool.size() + meta.size()));
  auto row = [&](Backend& b, const char* role) {
    resp::AppendArrayHeader(out, 7);
    resp::AppendBulk(out, role);
    resp::AppendBulk(out, b.name());
    resp::AppendInteger(out, b.config().group);
    resp::AppendInteger(out, b.down_since_ms() == 0 ? 1 : 0);
    resp::AppendInteger(out, b.entries());
    resp::AppendInteger(out, b.used_bytes());
    resp::AppendInteger(out, b.free_bytes());
  };
  for (size_t i = 0; i < pool.size(); ++i) row(pool.at(i), "data");
  for (size_t i = 0; i < meta.size(); ++i) row(meta.at(i), "meta");
}

// HOOK event instance [args...]: a staging zdb hook event (zstor-hook).
void Daemon::HookCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  if (staging_ == nullptr) return Reply{out}.Fail(Status::InvalidArgument("staging is off (config key 'zdb_data_dir_path')"));
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  Status s = staging_->OnHook(args);
  Count("hook", s.ok(), Since(t0), 0);
  s.ok() ? Reply{out}.Ok() : Reply{out}.Fail(s);
}

// STAGING -> [enabled, jobs, failing, last error, data dir bytes, limit]
void Daemon::StagingCommand(const Args&, std::string* out) {
  resp::AppendArrayHeader(out, 6);
  if (staging_ == nullptr) {
    for (int i = 0; i < 6; ++i) i == 3 ? resp::AppendBulk(out, "") : resp::AppendInteger(out, 0);
    return;
  }
  auto st = staging_->queue().stats();
  resp::AppendInteger(out, 1);
  resp::AppendInteger(out, static_cast<int64_t>(st.pending));
  resp::AppendInteger(out, static_cast<int64_t>(st.failing));
  resp::AppendBulk(out, st.last_error);
  resp::AppendInteger(out, static_cast<int64_t>(staging_->data_dir_bytes()));
  resp::AppendInteger(out, static_cast<int64_t>(store_->config().max_zdb_data_dir_size));
}

// REPAIR -> objects repaired (one round now)
void Daemon::RepairCommand(const Args&, std::string* out) {
  monitor_->HealthRound();
  resp::AppendInteger(out, static_cast<int64_t>(monitor_->RepairRound()));
}

// SCRUB [FULL] -> objects found damaged (and rebuilt)
void Daemon::ScrubCommand(const Args& argv, std::string* out) {
  if (argv.size() > 2) return resp::AppendError(out, "ERR wrong number of arguments for SCRUB");
  bool full = argv.size() > 1 && (argv[1] == "FULL" || argv[1] == "full");
  resp::AppendInteger(out, static_cast<int64_t>(monitor_->ScrubRound(full)));
}

}  // namespace zstor

namespace zstor {

qs::Result<SweepReport> Daemon::Sweep(bool dry_run) {
  SweepOptions o;
  o.min_age_s = store_->config().monitor.sweep_min_age;
  o.dry_run = dry_run;
  auto r = SweepFragments(store_.get(), o);
  if (!r.ok()) {
    spdlog::warn("sweep: {}", r.status().ToString());
    sweeps_->Add({{"result", "refused"}}).Increment();
    return r;
  }
  sweeps_->Add({{"result", r->skipped.empty() ? "ok" : "partial"}}).Increment();
  if (!dry_run) {
    swept_fragments_->Increment(static_cast<double>(r->deleted));
    swept_bytes_->Increment(static_cast<double>(r->bytes));
  }
  return r;
}

void Daemon::SweepLoop() {
  const auto interval = std::chrono::seconds(store_->config().monitor.sweep_interval);
  qs::MutexLock lock(&sweep_mu_);
  while (!stop_) {
    const auto due = std::chrono::steady_clock::now() + interval;
    while (!stop_ && sweep_cv_.WaitUntil(&sweep_mu_, due)) {
    }
    if (stop_) return;
    lock.Unlock();
    (void)Sweep(false);  // logged and counted there
    lock.Lock();
  }
}

// SWEEP [DRYRUN] -> records, referenced, intent, backends, scanned, young,
// orphans, deleted, bytes, complete (0/1), [skipped backends]
void Daemon::SweepCommand(const Args& argv, std::string* out) {
  if (argv.size() > 2 || (argv.size() == 2 && argv[1] != "DRYRUN" && argv[1] != "dryrun"))
    return resp::AppendError(out, "ERR syntax: SWEEP [DRYRUN]");
  auto t0 = std::chrono::steady_clock::now();
  auto r = Sweep(argv.size() == 2);
  Count("sweep", r.ok(), Since(t0), 0);
  if (!r.ok()) return Reply{out}.Fail(r.status());
  resp::AppendArrayHeader(out, 11);
  for (size_t v : {r->records, r->referenced, r->intent, r->backends, r->scanned, r->young, r->orphans, r->deleted})
    resp::AppendInteger(out, static_cast<int64_t>(v));
  resp::AppendInteger(out, static_cast<int64_t>(r->bytes));
  resp::AppendInteger(out, r->complete ? 1 : 0);
  resp::AppendArrayHeader(out, static_cast<int64_t>(r->skipped.size()));
  for (const auto& s : r->skipped) resp::AppendBulk(out, s);
}

}  // namespace zstor
