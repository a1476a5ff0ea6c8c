// zstor command line: zstor -c FILE [--json] <command> [options].
// Runs the command in-process against the configured backends.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "common/logging.h"
#include "zstor/config.h"
#include "zstor/object_store.h"

namespace {

const char* kUsage = R"(Usage: zstor -c CONFIG [--json] COMMAND [options]
Commands:
  store -f FILE [-k KEY]        store FILE (object key: KEY, default the absolute path)
  retrieve -f FILE [-k KEY] [-o OUT]
                                restore the object to OUT (default FILE)
  check -f FILE [-k KEY]        count healthy fragments of the object
  rebuild -f FILE [-k KEY]      re-create missing or corrupt fragments
  delete -f FILE [-k KEY]       delete the object and free its fragments
  list                          list stored objects
  status                        backends and their health
Options:
  -c, --config FILE   zstor configuration (TOML, see config/zstor.toml)
  --json              machine-readable output
  -v, --verbose       debug logging
Exit status: 0 success, 1 operation failed, 2 bad usage or configuration.
)";

std::string JsonEscape(std::string_view s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\u%04x", c);
          o += b;
        } else {
          o.push_back(static_cast<char>(c));
        }
    }
  }
  return o + "\"";
}

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

// A one-line progress bar on a terminal; silent otherwise.
zstor::Progress ProgressBar(const std::string& what) {
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

int Fail(bool json, const qs::Status& s) {
  if (json) std::printf("{\"ok\": false, \"error\": %s}\n", JsonEscape(s.message()).c_str());
  else std::fprintf(stderr, "zstor: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, command, file, key, out;
  bool json = false, verbose = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* dst) {
      if (i + 1 >= args.size()) return false;
      *dst = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "-c" || a == "--config") ok = value(&config_path);
    else if (a == "-f" || a == "--file") ok = value(&file);
    else if (a == "-k" || a == "--key") ok = value(&key);
    else if (a == "-o" || a == "--output") ok = value(&out);
    else if (a == "--json") json = true;
    else if (a == "-v" || a == "--verbose") verbose = true;
    else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "zstor: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    } else if (command.empty()) {
      command = a;
    } else {
      std::fprintf(stderr, "zstor: unexpected argument '%s'\n", a.c_str());
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "zstor: option '%s' needs a value\n", a.c_str());
      return 2;
    }
  }
  if (config_path.empty() || command.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  static const std::vector<std::string> kCommands = {"store", "retrieve", "check", "rebuild", "delete", "list", "status"};
  if (std::find(kCommands.begin(), kCommands.end(), command) == kCommands.end()) {
    std::fprintf(stderr, "zstor: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  }
  bool needs_file = command != "list" && command != "status";
  if (needs_file && file.empty()) {
    std::fprintf(stderr, "zstor: %s needs -f FILE\n", command.c_str());
    return 2;
  }
  qs::InitLogging("zstor", "", verbose);
  if (!verbose) spdlog::set_level(spdlog::level::warn);
  auto cfg = zstor::LoadConfig(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "zstor: %s\n", cfg.status().message().c_str());
    return 2;
  }
  auto store = zstor::ObjectStore::Create(*cfg);
  if (!store.ok()) {
    std::fprintf(stderr, "zstor: %s\n", store.status().message().c_str());
    return 2;
  }
  std::string object = key;
  if (needs_file && object.empty()) object = std::filesystem::absolute(file).lexically_normal().string();

  if (command == "store") {
    auto t0 = std::chrono::steady_clock::now();
    qs::Status s = (*store)->Store(file, object, ProgressBar("store"));
    if (!s.ok()) return Fail(json, s);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t size = std::filesystem::file_size(file);
    if (json) std::printf("{\"ok\": true, \"key\": %s, \"size\": %llu, \"seconds\": %.3f}\n", JsonEscape(object).c_str(), static_cast<unsigned long long>(size), secs);
    else std::printf("stored %s (%s) in %.2f s\n", object.c_str(), HumanBytes(size).c_str(), secs);
    return 0;
  }
  if (command == "retrieve") {
    std::string dest = out.empty() ? file : out;
    qs::Status s = (*store)->Retrieve(object, dest, ProgressBar("retrieve"));
    if (!s.ok()) return Fail(json, s);
    if (json) std::printf("{\"ok\": true, \"key\": %s, \"output\": %s}\n", JsonEscape(object).c_str(), JsonEscape(dest).c_str());
    else std::printf("retrieved %s to %s\n", object.c_str(), dest.c_str());
    return 0;
  }
  if (command == "check") {
    auto r = (*store)->Check(object);
    if (!r.ok()) return Fail(json, r.status());
    const char* state = r->complete() ? "healthy" : r->readable() ? "degraded" : "lost";
    if (json) {
      std::printf("{\"ok\": true, \"key\": %s, \"state\": \"%s\", \"size\": %llu, \"chunks\": %zu, \"fragments\": %zu, "
                  "\"fragments_ok\": %zu, \"min_chunk_ok\": %zu, \"k\": %d, \"m\": %d}\n",
                  JsonEscape(object).c_str(), state, static_cast<unsigned long long>(r->size), r->chunks, r->fragments,
                  r->fragments_ok, r->min_chunk_ok, r->k, r->m);
    } else {
      std::printf("%s: %s, %zu/%zu fragments healthy, weakest chunk %zu/%d+%d (needs %d)\n", object.c_str(), state,
                  r->fragments_ok, r->fragments, r->min_chunk_ok, r->k, r->m, r->k);
    }
    return r->readable() ? 0 : 1;
  }
  if (command == "rebuild") {
    auto r = (*store)->Rebuild(object);
    if (!r.ok()) return Fail(json, r.status());
    if (json) std::printf("{\"ok\": true, \"key\": %s, \"rebuilt\": %zu}\n", JsonEscape(object).c_str(), *r);
    else std::printf("%s: %zu fragments rebuilt\n", object.c_str(), *r);
    return 0;
  }
  if (command == "delete") {
    qs::Status s = (*store)->Delete(object);
    if (!s.ok()) return Fail(json, s);
    if (json) std::printf("{\"ok\": true, \"key\": %s}\n", JsonEscape(object).c_str());
    else std::printf("deleted %s\n", object.c_str());
    return 0;
  }
  if (command == "list") {
    auto l = (*store)->List();
    if (!l.ok()) return Fail(json, l.status());
    if (json) {
      std::printf("[");
      for (size_t i = 0; i < l->size(); ++i) {
        const auto& m = (*l)[i];
        std::printf("%s{\"key\": %s, \"size\": %llu, \"chunks\": %zu, \"created\": %llu}", i ? ", " : "",
                    JsonEscape(m.path).c_str(), static_cast<unsigned long long>(m.size), m.chunks.size(),
                    static_cast<unsigned long long>(m.created));
      }
      std::printf("]\n");
    } else {
      for (const auto& m : *l) {
        char when[32];
        time_t t = static_cast<time_t>(m.created);
        std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
        std::printf("%10s  %s  %s\n", HumanBytes(m.size).c_str(), when, m.path.c_str());
      }
    }
    return 0;
  }
  // status
  auto& pool = (*store)->backends();
  auto& mpool = (*store)->meta().backends();
  int down = 0;
  std::string body;
  auto report = [&](zstor::Backend& b, const char* role) {
    auto r = b.Command({"PING"});
    bool up = r.ok() && !r->is_error();
    if (up) b.MarkUp();
    else ++down;
    if (json) {
      if (!body.empty()) body += ", ";
      body += "{\"role\": \"" + std::string(role) + "\", \"backend\": " + JsonEscape(b.name()) +
              ", \"group\": " + std::to_string(b.config().group) + ", \"up\": " + (up ? "true" : "false") + "}";
    } else {
      std::printf("%-5s %-40s group %-3d %s\n", role, b.name().c_str(), b.config().group,
                  up ? "up" : ("DOWN " + (r.ok() ? r->str : r.status().message())).c_str());
    }
  };
  for (size_t i = 0; i < pool.size(); ++i) report(pool.at(i), "data");
  for (size_t i = 0; i < mpool.size(); ++i) report(mpool.at(i), "meta");
  if (json) std::printf("{\"backends\": [%s], \"down\": %d}\n", body.c_str(), down);
  else std::printf("%d of %zu backends down\n", down, pool.size() + mpool.size());
  return 0;
}
