// `zstor monitor`: serves the CLI's commands over a Unix socket (RESP),
// runs the Monitor, and exposes /metrics. Each connection gets a thread;
// store operations are serialized by one lock shared with the Monitor.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/resp_parser.h"
#include "zstor/monitor.h"
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
  // Executes one request; appends the RESP reply to *out.
  void Execute(const std::vector<std::string_view>& argv, std::string* out);
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
  std::mutex conn_mu_;
  std::vector<std::thread> conns_;
  std::vector<int> conn_fds_;
  prometheus::Family<prometheus::Counter>* ops_ = nullptr;
  prometheus::Family<prometheus::Counter>* bytes_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
};

}  // namespace zstor
