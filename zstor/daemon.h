// `zstor monitor`: serves the CLI's commands over a Unix socket (RESP),
// runs the Monitor, and exposes /metrics. Each connection gets a thread;
// store operations are serialized by one lock shared with the Monitor.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/resp_parser.h"
#include "zstor/command_table.h"
#include "zstor/monitor.h"
#include "zstor/fragment_sweep.h"
#include "zstor/object_store.h"
#include "zstor/staging.h"

namespace zstor {

class Daemon {
 public:
  explicit Daemon(std::unique_ptr<ObjectStore> store);
  ~Daemon();
  qs::Status Start();  // socket, metrics, monitor
  void Stop();
  Monitor& monitor() { return *monitor_; }

 private:
  void AcceptLoop();
  void Serve(int fd);
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
  // One fragment sweep under op_mu_, counted in the metrics.
  qs::Result<SweepReport> Sweep(bool dry_run);
  void SweepLoop();  // every [monitor] sweep_interval seconds until Stop
  void Count(const std::string& op, bool ok, double seconds, uint64_t bytes);

  std::unique_ptr<ObjectStore> store_;
  std::mutex op_mu_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<qs::MetricsServer> metrics_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<Staging> staging_;  // null unless zdb_data_dir_path is set
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::thread sweep_thread_;  // only with sweep_interval > 0
  std::mutex sweep_mu_;       // guards nothing but the wait on sweep_cv_
  std::condition_variable sweep_cv_;
  std::mutex conn_mu_;
  std::vector<std::thread> conns_;
  std::vector<int> conn_fds_;
  prometheus::Family<prometheus::Counter>* ops_ = nullptr;
  prometheus::Family<prometheus::Counter>* bytes_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
  prometheus::Counter* swept_fragments_ = nullptr;  // orphan fragments the sweep deleted
  prometheus::Counter* swept_bytes_ = nullptr;
  prometheus::Family<prometheus::Counter>* sweeps_ = nullptr;  // runs, by result
};

}  // namespace zstor
