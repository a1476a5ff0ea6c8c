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

Daemon::Daemon(std::unique_ptr<ObjectStore> store) : store_(std::move(store)) {
  registry_ = std::make_shared<prometheus::Registry>();
  ops_ = &prometheus::BuildCounter().Name("zstor_operations_total").Help("Client operations, by operation and result").Register(*registry_);
  bytes_ = &prometheus::BuildCounter().Name("zstor_operation_bytes_total").Help("Object bytes stored and retrieved").Register(*registry_);
  latency_ = &prometheus::BuildHistogram().Name("zstor_operation_duration_seconds").Help("Duration of client operations").Register(*registry_);
  swept_fragments_ = &prometheus::BuildCounter().Name("zstor_sweep_fragments_total").Help("Orphan fragments the sweep deleted").Register(*registry_).Add({});
  swept_bytes_ = &prometheus::BuildCounter().Name("zstor_sweep_bytes_total").Help("Bytes of the orphan fragments the sweep deleted").Register(*registry_).Add({});
  sweeps_ = &prometheus::BuildCounter().Name("zstor_sweeps_total").Help("Fragment sweeps, by result (ok, partial: a backend skipped, refused)").Register(*registry_);
  monitor_ = std::make_unique<Monitor>(store_.get(), &op_mu_, registry_.get());
  if (!store_->config().zdb_data_dir_path.empty()) {
    staging_ = std::make_unique<Staging>(store_.get(), &op_mu_, registry_.get());
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
    std::lock_guard<std::mutex> lock(sweep_mu_);
    sweep_cv_.notify_all();
  }
  if (sweep_thread_.joinable()) sweep_thread_.join();
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    for (int fd : conn_fds_) shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : conns_) t.join();
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
    std::lock_guard<std::mutex> lock(conn_mu_);
    conn_fds_.push_back(fd);
    conns_.emplace_back([this, fd] { Serve(fd); });
  }
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
        close(fd);
        return;
      }
      if (!argv.empty()) Execute(argv, &out);
      off += consumed;
      parser.Reset();
    }
    in.erase(0, off);
    for (size_t sent = 0; sent < out.size();) {
      ssize_t w = write(fd, out.data() + sent, out.size() - sent);
      if (w <= 0) {
        close(fd);
        return;
      }
      sent += static_cast<size_t>(w);
    }
    out.clear();
  }
  close(fd);
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
  std::lock_guard<std::mutex> lock(op_mu_);
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
  std::unique_lock<std::mutex> lock(sweep_mu_);
  while (!stop_) {
    if (sweep_cv_.wait_for(lock, interval, [this] { return stop_.load(); })) return;
    lock.unlock();
    (void)Sweep(false);  // logged and counted there
    lock.lock();
  }
}

}  // namespace zstor
