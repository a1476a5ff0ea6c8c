// Prometheus /metrics HTTP endpoint on prometheus-cpp's Exposer (civetweb).
// Owns the exposer and keeps the registry alive while serving it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/registry.h>

#include "common/status.h"

namespace prometheus {
class Exposer;
}

namespace qs {

class MetricsServer {
 public:
  // Serves `registry` at http://<bind>/metrics from background threads.
  // `bind` is "host:port", "[v6addr]:port", ":port" (all IPv4 interfaces) or
  // "port"; port 0 picks a free port (see port()). Failures such as a port
  // already in use return Unavailable/InvalidArgument instead of throwing.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& bind,
                                                      std::shared_ptr<prometheus::Registry> registry);

  ~MetricsServer();  // stops serving
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }  // the port actually listened on
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                std::shared_ptr<prometheus::Registry> registry, int port);

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;  // destroyed first
  int port_;
};

// Histogram bucket bounds for latencies in seconds: 50us doubling up to
// 10s (50us, 100us, 200us, ..., 6.5536s, 10s).
std::vector<double> LatencyBucketsSeconds();

}  // namespace qs
