// `zstor monitor`: serves the CLI's commands over a Unix socket (RESP),
// runs the Monitor, and exposes /metrics. Each connection gets a thread,
// up to max_connections at once (more are refused with an error reply);
// finished ones are joined as new ones arrive. Operations on different
// objects run in parallel (see ObjectStore).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/mutex.h"
#include "common/resp_parser.h"
#include "zstor/command_table.h"
#include "common/thread_annotations.h"
#include "zstor/monitor.h"
#include "zstor/fragment_sweep.h"
#include "zstor/object_store.h"
#include "zstor/staging.h"

namespace zstor {

class Daemon {
 public:
  static constexpr size_t kMaxConnections = 256;

  explicit Daemon(std::unique_ptr<ObjectStore> store, size_t max_connections = kMaxConnections);
  ~Daemon();
  qs::Status Start();  // socket, metrics, monitor
  void Stop();
  Monitor& monitor() { return *monitor_; }
  // Connection threads not yet joined (serving, or finished since the last
  // accept).
  size_t connection_threads();

 private:
  void AcceptLoop();
  void Serve(int fd);  // until the peer closes; the connection's thread closes fd
  void ReapLocked() REQUIRES(conn_mu_);  // joins the threads of finished connections
  // The command table names the handlers below (zstor/command_table.cc).
  friend const std::vector<CommandSpec>& Commands();
  static double Since(std::chrono::steady_clock::time_point t0);
  // Executes one request through the command table; appends the RESP reply
  // (zstor/daemon_commands.cc, with the handlers).
  void Execute(const std::vector<std::string_view>& argv, std::string* out);
  using Args = std::vector<std::string_view>;
  void PingCommand(const Args& argv, std::string* out);
  void StoreCommand(const Args& argv, std::string* out);
  void RetrieveCommand(const Args& argv, std::string* out);
  void CheckCommand(const Args& argv, std::string* out);
  void RebuildCommand(const Args& argv, std::string* out);
  void DeleteCommand(const Args& argv, std::string* out);
  void ListCommand(const Args& argv, std::string* out);
  void StatusCommand(const Args& argv, std::string* out);
  void HookCommand(const Args& argv, std::string* out);
  void StagingCommand(const Args& argv, std::string* out);
  void RepairCommand(const Args& argv, std::string* out);
  void ScrubCommand(const Args& argv, std::string* out);
  void SweepCommand(const Args& argv, std::string* out);
  // One fragment sweep, counted in the metrics.
  qs::Result<SweepReport> Sweep(bool dry_run);
  void SweepLoop();  // every [monitor] sweep_interval seconds until Stop
  void Count(const std::string& op, bool ok, double seconds, uint64_t bytes);

  std::unique_ptr<ObjectStore> store_;
  const size_t max_connections_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<qs::MetricsServer> metrics_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<Staging> staging_;  // null unless zdb_data_dir_path is set
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::thread sweep_thread_;  // only with sweep_interval > 0
  qs::Mutex sweep_mu_;   // guards nothing but the wait on sweep_cv_
  qs::CondVar sweep_cv_;  // Stop was called
  struct Connection {
    std::thread thread;
    int fd = -1;        // open until done
    bool done = false;  // Serve returned and fd is closed: the thread only has to be joined
  };
  qs::Mutex conn_mu_;
  std::list<Connection> conns_ GUARDED_BY(conn_mu_);  // a list: each thread keeps a pointer to its entry
  prometheus::Family<prometheus::Counter>* ops_ = nullptr;
  prometheus::Family<prometheus::Counter>* bytes_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
  prometheus::Counter* swept_fragments_ = nullptr;  // orphan fragments the sweep deleted
  prometheus::Counter* swept_bytes_ = nullptr;
  prometheus::Family<prometheus::Counter>* sweeps_ = nullptr;  // runs, by result
};

}  // namespace zstor
