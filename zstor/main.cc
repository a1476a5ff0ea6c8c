// zstor command line: zstor -c FILE [--json] <command> [options].
// Runs the command in-process against the configured backends.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/quote.h"
#include "common/service_notify.h"
#include "common/version.h"
#include "zstor/config.h"
#include "zstor/daemon.h"
#include "zstor/fragment_sweep.h"
#include "zstor/init.h"
#include "zstor/object_store.h"
#include "zstor/staging.h"

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
  monitor                       run the daemon: socket, health, repair, scrub, /metrics
  repair                        (daemon) one repair round now
  scrub [--full]                (daemon) one scrub round now
  sweep [--dry-run]             delete fragments no object record names that are
                                older than [monitor] sweep_min_age (--dry-run:
                                count them only); refuses when a record is unreadable
  init --meta ADDR,... --group ADDR,... [setup options]
                                write CONFIG (new keys, a password per namespace;
                                mode 0640 root:qsfs, else 0600), then create or
                                check on every backend the namespaces
                                zstor-PREFIX-data (mode seq) and zstor-PREFIX-meta
                                (mode user). Run again: nothing is generated, what
                                is missing is created, the rest checked; a namespace
                                with another password is refused, never changed.
                                Exit 1 names the backends that are not ready
  add-backend --group N ADDR [setup options]
                                add data backend ADDR to group N of CONFIG (0 is the
                                first; the number of groups starts a new one) and
                                create its namespace; restart the daemon to use it.
                                Meta backends cannot be added
  hook EVENT INSTANCE [ARGS...]
                                a staging zdb hook event (what zstor-hook runs)
Setup options (init, add-backend):
  --admin-password-file FILE    the backends' zdb admin password (FILE's first line)
  --meta ADDR,ADDR,...          meta backends, host:port or [v6]:port; shard i of
                                every record goes to the i-th: the order is for good
  --group ADDR,...              data backends of one failure domain; one --group per
                                domain ([[groups]] in CONFIG)
  --labels k=v,...              labels of every backend of the --group before it
  --shards K+M                  data + parity fragments per chunk (default 16+4);
                                needs K+M data backends
  --prefix NAME                 [a-z0-9-]: record prefix and namespace names
                                (default: the short host name)
Options:
  -c, --config FILE   zstor configuration (TOML, see config/zstor.toml)
  --json              machine-readable output
  --dry-run           sweep: count, delete nothing
  -v, --verbose       debug logging
  -h, --help          this text
  --version           version and git revision
Exit status: 0 success, 1 operation failed, 2 bad usage or configuration.

Invoked as zstor-hook (a link to zstor), it is the staging zdb's --hook:
  zstor-hook EVENT INSTANCE [ARGS...]   with the config from $ZSTOR_CONFIG
                                        (default /etc/zstor/zstor.toml)
)";

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

int PrintCheck(const std::string& object, const zstor::CheckReport& r, bool json) {
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

void PrintList(const std::vector<zstor::ObjectMeta>& l, bool json) {
  if (json) {
    std::printf("[");
    for (size_t i = 0; i < l.size(); ++i) {
      const auto& m = l[i];
      std::printf("%s{\"key\": %s, \"size\": %llu, \"chunks\": %zu, \"created\": %llu}", i ? ", " : "",
                  qs::Quote(m.path).c_str(), static_cast<unsigned long long>(m.size), m.chunks.size(),
                  static_cast<unsigned long long>(m.created));
    }
    std::printf("]\n");
    return;
  }
  for (const auto& m : l) {
    char when[32];
    time_t t = static_cast<time_t>(m.created);
    std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
    std::printf("%10s  %s  %s\n", HumanBytes(m.size).c_str(), when, m.path.c_str());
  }
}

// One backend as `status` shows it; -1 for what is not known.
struct BackendRow {
  std::string role, name, error;
  int64_t group = 0;
  bool up = false;
  int64_t fragments = -1, used = -1, free = -1;
};

std::string Known(int64_t v, bool bytes) {
  if (v < 0) return "-";
  return bytes ? HumanBytes(static_cast<uint64_t>(v)) : std::to_string(v);
}

// Backends with health, fragment count and space; staging_json is "null"
// or the staging object already rendered (its human line printed by the caller).
void PrintStatus(const std::vector<BackendRow>& rows, bool json, const std::string& staging_json) {
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

int PrintSweep(const zstor::SweepReport& r, bool dry_run, bool json) {
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

int Fail(bool json, const qs::Status& s) {
  if (json) std::printf("{\"ok\": false, \"error\": %s}\n", qs::Quote(s.message()).c_str());
  else std::fprintf(stderr, "zstor: %s\n", s.message().c_str());
  return 1;
}

// The signals the daemon takes with sigwait (SIGHUP: reopen the log). They
// must be blocked before any thread exists (spdlog's flusher too): a thread
// that leaves one unblocked receives it and dies of it.
sigset_t DaemonSignals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  return mask;
}

int RunDaemon(const zstor::Config& cfg) {
  sigset_t mask = DaemonSignals();
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);  // threads inherit; sigwait below takes them
  signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::info);
  auto store = zstor::ObjectStore::Create(cfg);
  if (!store.ok()) {
    std::fprintf(stderr, "zstor: %s\n", store.status().message().c_str());
    return 2;
  }
  zstor::Daemon daemon(std::move(store.value()));
  qs::Status s = daemon.Start();
  if (!s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    return 1;
  }
  // Socket listening, backend pool and monitor up: serving.
  qs::NotifyReady("serving on " + cfg.socket);
  int sig = 0;
  while (sigwait(&mask, &sig) == 0 && sig == SIGHUP) qs::ReopenLoggingOnHangup();
  spdlog::info("signal {} received: stopping", sig);
  qs::NotifyStopping("stopping: finishing running jobs");
  daemon.Stop();
  return 0;
}

// A staging zdb hook event: handed to the daemon when one listens (it
// queues uploads durably, restores segments), else handled in-process.
int RunHook(const zstor::Config& cfg, const std::vector<std::string>& args) {
  if (!cfg.socket.empty()) {
    qs::ZdbAddress addr;
    addr.unix_path = cfg.socket;
    qs::ZdbClientOptions copts;
    copts.connect_attempts = 1;
    copts.command_timeout = std::chrono::milliseconds(0);  // restores take as long as they take
    qs::ZdbClient daemon(addr, copts);
    if (daemon.Connect().ok()) {
      std::vector<std::string_view> argv = {"HOOK"};
      for (const auto& a : args) argv.push_back(a);
      auto r = daemon.Command(argv);
      if (r.ok() && !r->is_error()) return 0;
      std::fprintf(stderr, "zstor-hook %s: %s\n", args[0].c_str(), r.ok() ? r->str.c_str() : r.status().message().c_str());
      return 1;
    }
  }
  if (cfg.zdb_data_dir_path.empty()) {
    std::fprintf(stderr, "zstor-hook: staging is off (config key 'zdb_data_dir_path')\n");
    return 2;
  }
  auto store = zstor::ObjectStore::Create(cfg);
  if (!store.ok()) {
    std::fprintf(stderr, "zstor-hook: %s\n", store.status().message().c_str());
    return 2;
  }
  zstor::Staging staging(store->get(), nullptr);
  qs::Status s = staging.Open();
  if (s.ok()) s = staging.OnHook(args);
  if (s.ok()) return 0;
  std::fprintf(stderr, "zstor-hook %s: %s\n", args[0].c_str(), s.message().c_str());
  return 1;
}

// Sends the command to the daemon and prints its answer like the in-process path.
int RunRemote(qs::ZdbClient& d, const std::string& command, const std::string& object, const std::string& local,
              const std::string& dest, bool json, bool full, bool dry_run) {
  auto call = [&](std::vector<std::string_view> argv) -> qs::Result<qs::Reply> {
    auto r = d.Command(argv);
    if (!r.ok()) return r.status();
    if (r->is_error()) return qs::Status::IOError(r->str.rfind("ERR ", 0) == 0 ? r->str.substr(4) : r->str);
    return r;
  };
  auto fail = [&](const qs::Status& st) { return Fail(json, st); };
  if (command == "store") {
    auto r = call({"STORE", local, object});
    if (!r.ok()) return fail(r.status());
    if (json) std::printf("{\"ok\": true, \"key\": %s}\n", qs::Quote(object).c_str());
    else std::printf("stored %s\n", object.c_str());
  } else if (command == "retrieve") {
    auto r = call({"RETRIEVE", object, dest});
    if (!r.ok()) return fail(r.status());
    if (json) std::printf("{\"ok\": true, \"key\": %s, \"output\": %s}\n", qs::Quote(object).c_str(), qs::Quote(dest).c_str());
    else std::printf("retrieved %s to %s\n", object.c_str(), dest.c_str());
  } else if (command == "check") {
    auto r = call({"CHECK", object});
    if (!r.ok()) return fail(r.status());
    zstor::CheckReport c;
    const auto& e = r->elements;
    if (e.size() != 7) return fail(qs::Status::IOError("malformed CHECK reply"));
    c.size = static_cast<uint64_t>(e[0].integer);
    c.chunks = static_cast<size_t>(e[1].integer);
    c.fragments = static_cast<size_t>(e[2].integer);
    c.fragments_ok = static_cast<size_t>(e[3].integer);
    c.min_chunk_ok = static_cast<size_t>(e[4].integer);
    c.k = static_cast<int>(e[5].integer);
    c.m = static_cast<int>(e[6].integer);
    return PrintCheck(object, c, json);
  } else if (command == "rebuild") {
    auto r = call({"REBUILD", object});
    if (!r.ok()) return fail(r.status());
    if (json) std::printf("{\"ok\": true, \"key\": %s, \"rebuilt\": %lld}\n", qs::Quote(object).c_str(), static_cast<long long>(r->integer));
    else std::printf("%s: %lld fragments rebuilt\n", object.c_str(), static_cast<long long>(r->integer));
  } else if (command == "delete") {
    auto r = call({"DELETE", object});
    if (!r.ok()) return fail(r.status());
    if (json) std::printf("{\"ok\": true, \"key\": %s}\n", qs::Quote(object).c_str());
    else std::printf("deleted %s\n", object.c_str());
  } else if (command == "list") {
    auto r = call({"LIST"});
    if (!r.ok()) return fail(r.status());
    std::vector<zstor::ObjectMeta> objs;
    for (const auto& e : r->elements) {
      if (e.elements.size() != 4) continue;
      zstor::ObjectMeta m;
      m.path = e.elements[0].str;
      m.size = static_cast<uint64_t>(e.elements[1].integer);
      m.chunks.resize(static_cast<size_t>(e.elements[2].integer));
      m.created = static_cast<uint64_t>(e.elements[3].integer);
      objs.push_back(std::move(m));
    }
    PrintList(objs, json);
  } else if (command == "status") {
    auto r = call({"STATUS"});
    if (!r.ok()) return fail(r.status());
    std::vector<BackendRow> rows;
    for (const auto& e : r->elements) {
      if (e.elements.size() != 7) return fail(qs::Status::IOError("malformed STATUS reply"));
      rows.push_back(BackendRow{e.elements[0].str, e.elements[1].str, "", e.elements[2].integer, e.elements[3].integer == 1,
                                e.elements[4].integer, e.elements[5].integer, e.elements[6].integer});
    }
    auto st = call({"STAGING"});
    std::string staging_json = "null";
    if (st.ok() && st->elements.size() == 6 && st->elements[0].integer == 1) {
      const auto& e = st->elements;
      staging_json = "{\"jobs\": " + std::to_string(e[1].integer) + ", \"failing\": " + std::to_string(e[2].integer) +
                     ", \"last_error\": " + qs::Quote(e[3].str) + ", \"data_dir_bytes\": " + std::to_string(e[4].integer) +
                     ", \"max_data_dir_bytes\": " + std::to_string(e[5].integer) + "}";
      if (!json) {
        std::printf("staging: %lld jobs queued, %lld failing%s%s; data dir %s (limit %s)\n", static_cast<long long>(e[1].integer),
                    static_cast<long long>(e[2].integer), e[3].str.empty() ? "" : " (last error: ", e[3].str.empty() ? "" : (e[3].str + ")").c_str(),
                    HumanBytes(static_cast<uint64_t>(e[4].integer)).c_str(),
                    e[5].integer > 0 ? HumanBytes(static_cast<uint64_t>(e[5].integer)).c_str() : "none");
      }
    }
    PrintStatus(rows, json, staging_json);
  } else if (command == "sweep") {
    auto r = dry_run ? call({"SWEEP", "DRYRUN"}) : call({"SWEEP"});
    if (!r.ok()) return fail(r.status());
    const auto& e = r->elements;
    if (e.size() != 11 || !e[10].is_array()) return fail(qs::Status::IOError("malformed SWEEP reply"));
    zstor::SweepReport s;
    size_t* fields[] = {&s.records, &s.referenced, &s.intent, &s.backends, &s.scanned, &s.young, &s.orphans, &s.deleted};
    for (size_t i = 0; i < 8; ++i) *fields[i] = static_cast<size_t>(e[i].integer);
    s.bytes = static_cast<uint64_t>(e[8].integer);
    s.complete = e[9].integer == 1;
    for (const auto& sk : e[10].elements) s.skipped.push_back(sk.str);
    return PrintSweep(s, dry_run, json);
  } else if (command == "repair" || command == "scrub") {
    auto r = command == "repair" ? call({"REPAIR"}) : full ? call({"SCRUB", "FULL"}) : call({"SCRUB"});
    if (!r.ok()) return fail(r.status());
    if (json) std::printf("{\"ok\": true, \"objects\": %lld}\n", static_cast<long long>(r->integer));
    else std::printf("%s: %lld objects %s\n", command.c_str(), static_cast<long long>(r->integer),
                     command == "repair" ? "repaired" : "found damaged and rebuilt");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Chunks and fragments are buffers of 1-20 MiB, allocated and freed per
  // chunk. glibc would mmap and munmap each one, so every chunk paid a page
  // fault per 4 KiB; kept in the heap they are reused already mapped. The
  // heap holds at most the pipeline's few chunks, so this bounds nothing new.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  if (qs::VersionRequested(argc, argv)) return qs::PrintVersion(std::filesystem::path(argv[0]).filename().c_str());
  std::string config_path, command, file, key, out;
  bool json = false, verbose = false, full = false, dry_run = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> hook_args;
  const std::string self = std::filesystem::path(argv[0]).filename().string();
  if (self == "zstor-hook" && !(args.size() == 1 && args[0] == "--help")) {
    const char* env = std::getenv("ZSTOR_CONFIG");
    config_path = env != nullptr && *env != '\0' ? env : "/etc/zstor/zstor.toml";
    command = "hook";
    hook_args = args;
    args.clear();
  }
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
    else if (a == "--full") full = true;
    else if (a == "--dry-run") dry_run = true;
    else if (a == "-v" || a == "--verbose") verbose = true;
    else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "zstor: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    } else if (command.empty()) {
      command = a;
      if (command == "hook" || command == "init" || command == "add-backend") {  // the rest is theirs
        hook_args.assign(args.begin() + static_cast<long>(i) + 1, args.end());
        break;
      }
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
  if (command == "init" || command == "add-backend") {
    for (const auto& h : hook_args) {
      if (h == "-h" || h == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      }
    }
    json = json || std::find(hook_args.begin(), hook_args.end(), "--json") != hook_args.end();
    return command == "init" ? zstor::RunInit(config_path, hook_args, json) : zstor::RunAddBackend(config_path, hook_args, json);
  }
  static const std::vector<std::string> kCommands = {"store",  "retrieve", "check",  "rebuild", "delete",
                                                     "list",   "status",   "monitor", "repair", "scrub", "hook",
                                                     "sweep"};
  if (std::find(kCommands.begin(), kCommands.end(), command) == kCommands.end()) {
    std::fprintf(stderr, "zstor: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  }
  bool needs_file = command != "list" && command != "status" && command != "monitor" && command != "repair" &&
                    command != "scrub" && command != "hook" && command != "sweep";
  if (command == "hook" && hook_args.size() < 2) {
    std::fprintf(stderr, "zstor: hook needs EVENT INSTANCE [ARGS...]\n");
    return 2;
  }
  if (needs_file && file.empty()) {
    std::fprintf(stderr, "zstor: %s needs -f FILE\n", command.c_str());
    return 2;
  }
  if (command == "monitor") {
    sigset_t mask = DaemonSignals();
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  }
  qs::InitLogging("zstor", "", verbose);
  if (!verbose) spdlog::set_level(spdlog::level::warn);
  auto cfg = zstor::LoadConfig(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "zstor: %s\n", cfg.status().message().c_str());
    return 2;
  }
  std::string object = key;
  if (needs_file && object.empty()) object = std::filesystem::absolute(file).lexically_normal().string();
  if (command == "monitor") return RunDaemon(*cfg);
  if (command == "hook") {
    spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    return RunHook(*cfg, hook_args);
  }
  // With a daemon configured and listening, it runs the command.
  if (!cfg->socket.empty()) {
    qs::ZdbAddress addr;
    addr.unix_path = cfg->socket;
    qs::ZdbClientOptions copts;
    copts.connect_attempts = 1;
    copts.command_timeout = std::chrono::milliseconds(0);  // stores of big files take long
    qs::ZdbClient daemon(addr, copts);
    if (daemon.Connect().ok()) {
      std::string local = needs_file ? std::filesystem::absolute(file).string() : "";
      std::string dest = std::filesystem::absolute(out.empty() ? (file.empty() ? "." : file) : out).string();
      return RunRemote(daemon, command, object, local, dest, json, full, dry_run);
    }
    if (command == "repair" || command == "scrub") {
      std::fprintf(stderr, "zstor: %s needs the daemon, and none listens on %s\n", command.c_str(), cfg->socket.c_str());
      return 1;
    }
    if (verbose) std::fprintf(stderr, "zstor: no daemon on %s; running in-process\n", cfg->socket.c_str());
  } else if (command == "repair" || command == "scrub") {
    std::fprintf(stderr, "zstor: %s needs the daemon (config key 'socket')\n", command.c_str());
    return 2;
  }
  auto store = zstor::ObjectStore::Create(*cfg);
  if (!store.ok()) {
    std::fprintf(stderr, "zstor: %s\n", store.status().message().c_str());
    return 2;
  }

  if (command == "store") {
    (*store)->ReclaimOrphans();  // what earlier in-process stores that died left behind
    auto t0 = std::chrono::steady_clock::now();
    qs::Status s = (*store)->Store(file, object, ProgressBar("store"));
    if (!s.ok()) return Fail(json, s);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t size = std::filesystem::file_size(file);
    if (json) std::printf("{\"ok\": true, \"key\": %s, \"size\": %llu, \"seconds\": %.3f}\n", qs::Quote(object).c_str(), static_cast<unsigned long long>(size), secs);
    else std::printf("stored %s (%s) in %.2f s\n", object.c_str(), HumanBytes(size).c_str(), secs);
    return 0;
  }
  if (command == "retrieve") {
    std::string dest = out.empty() ? file : out;
    qs::Status s = (*store)->Retrieve(object, dest, ProgressBar("retrieve"));
    if (!s.ok()) return Fail(json, s);
    if (json) std::printf("{\"ok\": true, \"key\": %s, \"output\": %s}\n", qs::Quote(object).c_str(), qs::Quote(dest).c_str());
    else std::printf("retrieved %s to %s\n", object.c_str(), dest.c_str());
    return 0;
  }
  if (command == "check") {
    auto r = (*store)->Check(object);
    if (!r.ok()) return Fail(json, r.status());
    return PrintCheck(object, *r, json);
  }
  if (command == "rebuild") {
    auto r = (*store)->Rebuild(object);
    if (!r.ok()) return Fail(json, r.status());
    if (json) std::printf("{\"ok\": true, \"key\": %s, \"rebuilt\": %zu}\n", qs::Quote(object).c_str(), *r);
    else std::printf("%s: %zu fragments rebuilt\n", object.c_str(), *r);
    return 0;
  }
  if (command == "delete") {
    qs::Status s = (*store)->Delete(object);
    if (!s.ok()) return Fail(json, s);
    if (json) std::printf("{\"ok\": true, \"key\": %s}\n", qs::Quote(object).c_str());
    else std::printf("deleted %s\n", object.c_str());
    return 0;
  }
  if (command == "sweep") {
    zstor::SweepOptions o;
    o.min_age_s = cfg->monitor.sweep_min_age;
    o.dry_run = dry_run;
    auto r = zstor::SweepFragments(store->get(), o);
    if (!r.ok()) return Fail(json, r.status());
    return PrintSweep(*r, dry_run, json);
  }
  if (command == "list") {
    auto l = (*store)->List(/*strict=*/true);
    if (!l.ok()) return Fail(json, l.status());
    PrintList(*l, json);
    return 0;
  }
  // status, asked of every backend now (no daemon has it cached), all at
  // once: a slow backend costs its own deadline, not one per backend.
  auto report = [](zstor::Backend* b, const char* role) {
    auto r = b->Command({"PING"});
    bool up = r.ok() && !r->is_error();
    if (up) {
      b->MarkUp();
      b->RefreshSpace();
    }
    return BackendRow{role, b->name(), up ? "" : (r.ok() ? r->str : r.status().message()), b->config().group, up,
                      b->entries(), b->used_bytes(), b->free_bytes()};
  };
  std::vector<std::future<BackendRow>> asked;
  for (size_t i = 0; i < (*store)->backends().size(); ++i)
    asked.push_back(std::async(std::launch::async, report, &(*store)->backends().at(i), "data"));
  for (size_t i = 0; i < (*store)->meta().backends().size(); ++i)
    asked.push_back(std::async(std::launch::async, report, &(*store)->meta().backends().at(i), "meta"));
  std::vector<BackendRow> rows;
  for (auto& f : asked) rows.push_back(f.get());
  PrintStatus(rows, json, "null");
  return 0;
}
