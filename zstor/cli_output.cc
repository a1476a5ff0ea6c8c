#include "zstor/cli_output.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

#include "common/quote.h"

namespace zstor {

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char b[32];
  std::snprintf(b, sizeof(b), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return b;
}

Progress ProgressBar(const std::string& what) {
  if (!isatty(STDERR_FILENO)) return nullptr;
  auto start = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [what, start](uint64_t done, uint64_t total) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - *start).count();
    int pct = total ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)) : 100;
    int bar = pct / 5;
    std::fprintf(stderr, "\r%s [%-20s] %3d%% %s/%s %.0f MB/s ", what.c_str(), std::string(static_cast<size_t>(bar), '#').c_str(),
                 pct, HumanBytes(done).c_str(), HumanBytes(total).c_str(), secs > 0 ? static_cast<double>(done) / 1e6 / secs : 0.0);
    if (done >= total) std::fprintf(stderr, "\n");
  };
}

int PrintCheck(const std::string& object, const CheckReport& r, bool json) {
  const char* state = r.complete() ? "healthy" : r.readable() ? "degraded" : "lost";
  if (json) {
    std::printf("{\"ok\": true, \"key\": %s, \"state\": \"%s\", \"size\": %llu, \"chunks\": %zu, \"fragments\": %zu, "
                "\"fragments_ok\": %zu, \"min_chunk_ok\": %zu, \"k\": %d, \"m\": %d}\n",
                qs::Quote(object).c_str(), state, static_cast<unsigned long long>(r.size), r.chunks, r.fragments,
                r.fragments_ok, r.min_chunk_ok, r.k, r.m);
  } else {
    std::printf("%s: %s, %zu/%zu fragments healthy, weakest chunk %zu/%d+%d (needs %d)\n", object.c_str(), state,
                r.fragments_ok, r.fragments, r.min_chunk_ok, r.k, r.m, r.k);
  }
  return r.readable() ? 0 : 1;
}

void PrintList(const std::vector<ObjectSummary>& l, bool json) {
  if (json) {
    std::printf("[");
    for (size_t i = 0; i < l.size(); ++i) {
      const auto& m = l[i];
      std::printf("%s{\"key\": %s, \"size\": %llu, \"chunks\": %llu, \"created\": %llu}", i ? ", " : "",
                  qs::Quote(m.key).c_str(), static_cast<unsigned long long>(m.size),
                  static_cast<unsigned long long>(m.chunks), static_cast<unsigned long long>(m.created));
    }
    std::printf("]\n");
    return;
  }
  for (const auto& m : l) {
    char when[32];
    time_t t = static_cast<time_t>(m.created);
    std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
    std::printf("%10s  %s  %s\n", HumanBytes(m.size).c_str(), when, m.key.c_str());
  }
}

namespace {

std::string Known(int64_t v, bool bytes) {
  if (v < 0) return "-";
  return bytes ? HumanBytes(static_cast<uint64_t>(v)) : std::to_string(v);
}

}  // namespace

void PrintStatus(const std::vector<BackendRow>& rows, const StagingStats* staging, bool json) {
  std::string staging_json = "null";
  if (staging != nullptr && staging->enabled) {
    const StagingStats& s = *staging;
    staging_json = "{\"jobs\": " + std::to_string(s.jobs) + ", \"failing\": " + std::to_string(s.failing) +
                   ", \"last_error\": " + qs::Quote(s.last_error) + ", \"data_dir_bytes\": " + std::to_string(s.data_dir_bytes) +
                   ", \"max_data_dir_bytes\": " + std::to_string(s.max_data_dir_bytes) + "}";
    if (!json) {
      std::printf("staging: %llu jobs queued, %llu failing%s%s; data dir %s (limit %s)\n",
                  static_cast<unsigned long long>(s.jobs), static_cast<unsigned long long>(s.failing),
                  s.last_error.empty() ? "" : " (last error: ", s.last_error.empty() ? "" : (s.last_error + ")").c_str(),
                  HumanBytes(s.data_dir_bytes).c_str(), s.max_data_dir_bytes > 0 ? HumanBytes(s.max_data_dir_bytes).c_str() : "none");
    }
  }
  int down = 0;
  std::string body;
  if (!json) std::printf("%-5s %-32s %5s %-5s %9s %10s %10s\n", "role", "backend", "group", "state", "fragments", "used", "free");
  for (const auto& b : rows) {
    if (!b.up) ++down;
    if (json) {
      if (!body.empty()) body += ", ";
      body += "{\"role\": \"" + b.role + "\", \"backend\": " + qs::Quote(b.name) + ", \"group\": " +
              std::to_string(b.group) + ", \"up\": " + (b.up ? "true" : "false") + ", \"fragments\": " +
              std::to_string(b.fragments) + ", \"used_bytes\": " + std::to_string(b.used) +
              ", \"free_bytes\": " + std::to_string(b.free) + "}";
    } else {
      std::printf("%-5s %-32s %5lld %-5s %9s %10s %10s%s%s\n", b.role.c_str(), b.name.c_str(), static_cast<long long>(b.group),
                  b.up ? "up" : "DOWN", Known(b.fragments, false).c_str(), Known(b.used, true).c_str(),
                  Known(b.free, true).c_str(), b.error.empty() ? "" : "  ", b.error.c_str());
    }
  }
  if (json) std::printf("{\"backends\": [%s], \"down\": %d, \"staging\": %s}\n", body.c_str(), down, staging_json.c_str());
  else std::printf("%d of %zu backends down\n", down, rows.size());
}

int PrintSweep(const SweepReport& r, bool dry_run, bool json) {
  if (json) {
    std::string skipped;
    for (const auto& s : r.skipped) skipped += (skipped.empty() ? "" : ", ") + qs::Quote(s);
    // ok as the exit status says: false when a backend was skipped.
    std::printf("{\"ok\": %s, \"dry_run\": %s, \"records\": %zu, \"referenced\": %zu, \"intent\": %zu, "
                "\"backends\": %zu, \"scanned\": %zu, \"young\": %zu, \"orphans\": %zu, \"deleted\": %zu, "
                "\"bytes\": %llu, \"complete\": %s, \"skipped\": [%s]}\n",
                r.skipped.empty() ? "true" : "false", dry_run ? "true" : "false", r.records, r.referenced, r.intent, r.backends, r.scanned, r.young, r.orphans,
                r.deleted, static_cast<unsigned long long>(r.bytes), r.complete ? "true" : "false", skipped.c_str());
  } else {
    std::printf("sweep%s: %zu orphan fragments %s (%s) of %zu keys on %zu backends; %zu records name %zu fragments, "
                "intents %zu; %zu unreferenced kept as too young%s\n",
                dry_run ? " (dry run)" : "", dry_run ? r.orphans : r.deleted, dry_run ? "found" : "deleted",
                HumanBytes(r.bytes).c_str(), r.scanned, r.backends, r.records, r.referenced, r.intent, r.young,
                r.complete ? "" : "; bound reached, run again for the rest");
    for (const auto& s : r.skipped) std::printf("skipped %s\n", s.c_str());
  }
  return r.skipped.empty() ? 0 : 1;
}

void PrintDone(const char* done, const std::string& object, bool json) {
  if (json) std::printf("{\"ok\": true, \"key\": %s}\n", qs::Quote(object).c_str());
  else std::printf("%s %s\n", done, object.c_str());
}

void PrintRetrieved(const std::string& object, const std::string& dest, bool json) {
  if (json) std::printf("{\"ok\": true, \"key\": %s, \"output\": %s}\n", qs::Quote(object).c_str(), qs::Quote(dest).c_str());
  else std::printf("retrieved %s to %s\n", object.c_str(), dest.c_str());
}

void PrintRebuilt(const std::string& object, uint64_t n, bool json) {
  if (json) std::printf("{\"ok\": true, \"key\": %s, \"rebuilt\": %llu}\n", qs::Quote(object).c_str(), static_cast<unsigned long long>(n));
  else std::printf("%s: %llu fragments rebuilt\n", object.c_str(), static_cast<unsigned long long>(n));
}

void PrintRound(const std::string& command, uint64_t objects, bool json) {
  if (json) std::printf("{\"ok\": true, \"objects\": %llu}\n", static_cast<unsigned long long>(objects));
  else std::printf("%s: %llu objects %s\n", command.c_str(), static_cast<unsigned long long>(objects),
                   command == "repair" ? "repaired" : "found damaged and rebuilt");
}

int Fail(bool json, const qs::Status& s) {
  if (json) std::printf("{\"ok\": false, \"error\": %s}\n", qs::Quote(s.message()).c_str());
  else std::fprintf(stderr, "zstor: %s\n", s.message().c_str());
  return 1;
}

}  // namespace zstor
