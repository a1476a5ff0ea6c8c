// The daemon's background work: backend health (PING), repair of objects
// with fragments on dead backends (fewest healthy fragments first, rate
// limited), scrub by PROVE challenges and, less often, by full download.
// Runs on its own thread; the ObjectStore's per-object locks order its
// rebuilds against client requests on the same objects.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <functional>
#include <thread>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "zstor/object_store.h"

namespace zstor {

class Monitor {
 public:
  // registry may be null (no metrics). store must outlive this.
  Monitor(ObjectStore* store, prometheus::Registry* registry);
  ~Monitor();
  void Start();
  void Stop();

  // Called (on the monitor's thread) after a health round found a backend
  // that was down answering again. Set before Start.
  void OnBackendBack(std::function<void()> fn) { on_back_ = std::move(fn); }

  // One round of each task, for tests and the REPAIR/SCRUB commands.
  void HealthRound();
  size_t RepairRound();             // objects repaired
  size_t ReclaimRound();            // orphan fragments deleted (store journal)
  size_t ScrubRound(bool full);     // objects found damaged (and rebuilt)

 private:
  void Run();
  bool Stopping();  // Stop() was called
  bool Dead(const Backend& b) const;

  ObjectStore* store_;
  const MonitorConfig cfg_;
  std::thread thread_;
  qs::Mutex mu_;
  qs::CondVar cv_;  // stop_ was set
  bool stop_ GUARDED_BY(mu_) = false;
  std::function<void()> on_back_;

  prometheus::Family<prometheus::Gauge>* status_ = nullptr;
  prometheus::Family<prometheus::Gauge>* free_ = nullptr;
  prometheus::Gauge* backlog_ = nullptr;
  prometheus::Counter* repaired_ = nullptr;
  prometheus::Counter* scrubbed_ = nullptr;
  prometheus::Counter* scrub_failures_ = nullptr;
  prometheus::Gauge* scrub_backlog_[2] = {nullptr, nullptr};  // [full]: objects left in the round
  prometheus::Gauge* scrub_done_[2] = {nullptr, nullptr};     // [full]: unix time the last round ended
};

}  // namespace zstor
