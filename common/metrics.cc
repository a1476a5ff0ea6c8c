#include "common/metrics.h"

#include <exception>

#include <prometheus/exposer.h>

namespace qs {

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                             std::shared_ptr<prometheus::Registry> registry, int port)
    : registry_(std::move(registry)), exposer_(std::move(exposer)), port_(port) {}

MetricsServer::~MetricsServer() {
  try {
    exposer_.reset();
  } catch (...) {
    // Never throw from a destructor.
  }
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& bind, std::shared_ptr<prometheus::Registry> registry) {
  if (registry == nullptr) return Status::InvalidArgument("metrics: no registry");
  if (bind.empty()) return Status::InvalidArgument("metrics: empty bind address");
  // civetweb takes "[ip:]port"; ":port" means every IPv4 interface.
  std::string listen = bind[0] == ':' ? "0.0.0.0" + bind : bind;
  size_t colon = listen.rfind(':');
  std::string port_str = colon == std::string::npos ? listen : listen.substr(colon + 1);
  if (port_str.empty() || port_str.find_first_not_of("0123456789") != std::string::npos ||
      port_str.size() > 5 || std::stoi(port_str) > 65535) {
    return Status::InvalidArgument("metrics: invalid bind address '" + bind +
                                   "' (expected host:port or :port)");
  }
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/2);
    exposer->RegisterCollectable(registry, "/metrics");
    std::vector<int> ports = exposer->GetListeningPorts();
    int port = ports.empty() ? 0 : ports[0];
    return std::unique_ptr<MetricsServer>(
        new MetricsServer(std::move(exposer), std::move(registry), port));
  } catch (const std::exception& e) {
    return Status::Unavailable("metrics: cannot listen on '" + bind + "': " + e.what());
  } catch (...) {
    return Status::Unavailable("metrics: cannot listen on '" + bind + "'");
  }
}

std::vector<double> LatencyBucketsSeconds() {
  std::vector<double> b;
  for (double v = 50e-6; v < 10.0; v *= 2) b.push_back(v);
  b.push_back(10.0);
  return b;
}

}  // namespace qs
