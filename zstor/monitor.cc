#include "zstor/monitor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <atomic>
#include <future>
#include <vector>

#include "zstor/buffer_pool.h"
#include "zstor/chunk_codec.h"

namespace zstor {

namespace {
int64_t WallMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}
}  // namespace

Monitor::Monitor(ObjectStore* store, prometheus::Registry* registry) : store_(store), cfg_(store->config().monitor) {
  if (registry != nullptr) {
    status_ = &prometheus::BuildGauge()
                   .Name("connection_status")
                   .Help("1 when the backend answered its last health check, 0 otherwise")
                   .Register(*registry);
    free_ = &prometheus::BuildGauge()
                 .Name("zstor_backend_free_bytes")
                 .Help("Free bytes reported by the backend (namespace limit or disk), -1 when unknown")
                 .Register(*registry);
    backlog_ = &prometheus::BuildGauge().Name("zstor_repair_backlog").Help("Objects waiting for repair").Register(*registry).Add({});
    repaired_ = &prometheus::BuildCounter().Name("zstor_fragments_repaired_total").Help("Fragments rebuilt onto healthy backends").Register(*registry).Add({});
    auto& scrub = prometheus::BuildCounter().Name("zstor_scrub_objects_total").Help("Objects scrubbed, by result").Register(*registry);
    scrubbed_ = &scrub.Add({{"result", "ok"}});
    scrub_failures_ = &scrub.Add({{"result", "damaged"}});
    auto& backlog = prometheus::BuildGauge()
                        .Name("zstor_scrub_backlog")
                        .Help("Objects not yet verified in the running scrub round (kind: proof or full read)")
                        .Register(*registry);
    auto& done = prometheus::BuildGauge()
                     .Name("zstor_scrub_last_completed_timestamp_seconds")
                     .Help("Unix time the last complete scrub round of this kind ended")
                     .Register(*registry);
    for (int full = 0; full < 2; ++full) {
      const std::string kind = full ? "full" : "proof";
      scrub_backlog_[full] = &backlog.Add({{"kind", kind}});
      scrub_done_[full] = &done.Add({{"kind", kind}});
    }
  }
}

Monitor::~Monitor() { Stop(); }

void Monitor::Start() { thread_ = std::thread([this] { Run(); }); }

void Monitor::Stop() {
  {
    qs::MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

bool Monitor::Stopping() {
  qs::MutexLock lock(&mu_);
  return stop_;
}

bool Monitor::Dead(const Backend& b) const {
  int64_t since = b.down_since_ms();
  return since != 0 && WallMs() - since >= static_cast<int64_t>(cfg_.repair_delay) * 1000;
}

void Monitor::HealthRound() {
  std::atomic<int> back{0};
  auto check = [&](Backend& b, const char* type) {
    bool was_down = b.down_since_ms() != 0 || !b.healthy();
    auto r = b.Command({"PING"});
    bool up = r.ok() && !r->is_error();
    if (up) {
      if (was_down) ++back;
      b.MarkUp();
      b.RefreshSpace();
    } else if (r.ok()) {
      b.MarkDown(qs::Status::IOError(r->str));  // transport failures mark it already
    }
    prometheus::Labels labels{{"backend_type", type}, {"address", b.config().address.ToString()}, {"namespace", b.config().address.ns}};
    if (status_ != nullptr) status_->Add(labels).Set(up ? 1 : 0);
    if (free_ != nullptr) free_->Add(labels).Set(static_cast<double>(b.free_bytes()));
  };
  // All at once: an unreachable backend (packets dropped) costs its connect
  // timeout, and a round must not cost that once per such backend.
  std::vector<std::future<void>> probes;
  for (size_t i = 0; i < store_->backends().size(); ++i)
    probes.push_back(std::async(std::launch::async, check, std::ref(store_->backends().at(i)), "data"));
  for (size_t i = 0; i < store_->meta().backends().size(); ++i)
    probes.push_back(std::async(std::launch::async, check, std::ref(store_->meta().backends().at(i)), "meta"));
  for (auto& p : probes) p.wait();
  if (back > 0 && on_back_) on_back_();
}

size_t Monitor::ReclaimRound() {
  return store_->ReclaimOrphans().fragments;
}

size_t Monitor::RepairRound() {
  std::vector<ObjectMeta> objects;
  {
    auto l = store_->List();
    if (!l.ok()) {
      spdlog::warn("repair: cannot list objects: {}", l.status().ToString());
      return 0;
    }
    objects = std::move(l.value());
  }
  // Objects with fragments on dead backends; fewest healthy fragments first,
  // then the newest object.
  struct Damaged {
    size_t healthy;
    uint64_t created;
    std::string path;
  };
  std::vector<Damaged> damaged;
  for (const auto& m : objects) {
    size_t worst = SIZE_MAX;
    for (const auto& c : m.chunks) {
      size_t ok = 0;
      for (const auto& f : c.fragments) {
        const auto& ref = m.backends[f.backend];
        int i = store_->backends().Find(ref.address, ref.ns);
        if (i >= 0 && !Dead(store_->backends().at(static_cast<size_t>(i)))) ++ok;
      }
      worst = std::min(worst, ok);
    }
    if (worst < static_cast<size_t>(m.k + m.m)) damaged.push_back({worst, m.created, m.path});
  }
  std::sort(damaged.begin(), damaged.end(), [](const Damaged& a, const Damaged& b) {
    return a.healthy != b.healthy ? a.healthy < b.healthy : a.created > b.created;
  });
  if (backlog_ != nullptr) backlog_->Set(static_cast<double>(damaged.size()));
  size_t repaired = 0;
  for (size_t i = 0; i < damaged.size() && i < static_cast<size_t>(cfg_.repair_objects_per_round); ++i) {
    auto r = store_->Rebuild(damaged[i].path);
    if (!r.ok()) {
      spdlog::warn("repair of {} failed: {}", damaged[i].path, r.status().ToString());
      continue;
    }
    spdlog::info("repair: {} fragments of {} rebuilt", *r, damaged[i].path);
    if (repaired_ != nullptr) repaired_->Increment(static_cast<double>(*r));
    ++repaired;
  }
  if (backlog_ != nullptr) backlog_->Set(static_cast<double>(damaged.size() - repaired));
  return repaired;
}

size_t Monitor::ScrubRound(bool full) {
  std::vector<ObjectMeta> objects;
  {
    auto l = store_->List();
    if (!l.ok()) return 0;
    objects = std::move(l.value());
  }
  size_t bad = 0;
  prometheus::Gauge* backlog = scrub_backlog_[full ? 1 : 0];
  size_t left = objects.size();
  if (backlog != nullptr) backlog->Set(static_cast<double>(left));
  for (const auto& m : objects) {
    if (Stopping()) {
      if (backlog != nullptr) backlog->Set(0);
      return bad;  // an unfinished round is not a completed one
    }
    if (backlog != nullptr) backlog->Set(static_cast<double>(left--));
    bool damaged = false;
    if (full) {
      auto r = store_->Check(m.path);
      damaged = r.ok() && !r->complete();
    } else {
      // Cheap: zdb hashes the fragment itself; nothing is downloaded. Every
      // fragment with a keyed checksum proves it, then the random challenges.
      // Shared: a store or delete of the path does not free the fragments
      // under the proofs (the Rebuild below takes it exclusive).
      ObjectLocks::Hold hold(&store_->locks(), m.path, ObjectLocks::Mode::kShared);
      for (const auto& c : m.chunks) {
        auto prove = [&](size_t j, const std::string& nonce, const Digest& expected) {
          const auto& f = c.fragments[j];
          const auto& ref = m.backends[f.backend];
          int i = store_->backends().Find(ref.address, ref.ns);
          if (i < 0) return;
          Backend& b = store_->backends().at(static_cast<size_t>(i));
          if (!b.healthy()) return;  // health and repair deal with that
          auto proof = b.Prove(f.key, nonce);
          // A backend without PROVE (0-db): its fragments wait for the full scrub.
          if (proof.status().IsNotSupported()) {
            if (b.FirstNoProveNotice()) {
              spdlog::warn("scrub: {} does not support PROVE; its fragments are checked by the full scrub only", b.name());
            }
            return;
          }
          std::string expect = ToHex(std::string_view(reinterpret_cast<const char*>(expected.data()), expected.size()));
          if (proof.ok() ? *proof != expect : proof.status().IsNotFound() || proof.status().IsCorruption()) {
            spdlog::warn("scrub: fragment {} of {} on {} fails its proof", j, m.path, b.name());
            damaged = true;
          }
        };
        for (size_t j = 0; j < c.fragments.size(); ++j) {
          std::string nonce = ChunkCodec::FragmentNonce(c, j);
          if (!nonce.empty()) prove(j, nonce, c.fragments[j].checksum);
        }
        for (const auto& ch : c.challenges) prove(ch.fragment, ch.nonce, ch.expected);
      }
    }
    if (damaged) {
      ++bad;
      if (scrub_failures_ != nullptr) scrub_failures_->Increment();
      auto r = store_->Rebuild(m.path);
      if (r.ok()) {
        spdlog::info("scrub: {} fragments of {} rebuilt", *r, m.path);
        if (repaired_ != nullptr) repaired_->Increment(static_cast<double>(*r));
      } else {
        spdlog::error("scrub: rebuild of {} failed: {}", m.path, r.status().ToString());
      }
    } else if (scrubbed_ != nullptr) {
      scrubbed_->Increment();
    }
  }
  if (backlog != nullptr) backlog->Set(0);
  if (scrub_done_[full ? 1 : 0] != nullptr) scrub_done_[full ? 1 : 0]->Set(static_cast<double>(WallMs()) / 1000.0);
  return bad;
}

void Monitor::Run() {
  using clock = std::chrono::steady_clock;
  auto now = clock::now();
  auto next_health = now, next_repair = now + std::chrono::seconds(cfg_.repair_interval);
  auto next_reclaim = now;  // at start: stores a killed zstor left unfinished
  auto next_scrub = now + std::chrono::seconds(cfg_.scrub_interval);
  auto next_full = now + std::chrono::seconds(cfg_.full_scrub_interval);
  qs::MutexLock lock(&mu_);
  while (!stop_) {
    lock.Unlock();
    now = clock::now();
    if (now >= next_health) {
      HealthRound();
      // Chunk buffers of stores that ended a while ago go back to the system.
      BufferPool::Trim(std::chrono::seconds(30));
      next_health = now + std::chrono::seconds(cfg_.health_interval);
    }
    if (now >= next_reclaim) {
      ReclaimRound();
      next_reclaim = clock::now() + std::chrono::seconds(cfg_.repair_interval);
    }
    if (now >= next_repair) {
      RepairRound();
      next_repair = clock::now() + std::chrono::seconds(cfg_.repair_interval);
    }
    if (now >= next_scrub) {
      ScrubRound(false);
      next_scrub = clock::now() + std::chrono::seconds(cfg_.scrub_interval);
    }
    if (now >= next_full) {
      ScrubRound(true);
      next_full = clock::now() + std::chrono::seconds(cfg_.full_scrub_interval);
    }
    lock.Lock();
    if (!stop_) cv_.WaitFor(&mu_, std::chrono::milliseconds(500));
  }
}

}  // namespace zstor
