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

}  // namespace zstor
