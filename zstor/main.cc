// zstor command line: zstor -c FILE [--json] <command> [options]. Checks the
// command line against the command table (zstor/command_table.cc) and runs
// the command's runner: in the daemon when one listens, else in-process.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/version.h"
#include "zstor/cli_commands.h"
#include "zstor/command_table.h"
#include "zstor/config.h"
#include "zstor/object_store.h"
#include "zstor/replies.h"
#include "zstor/staging.h"

namespace {

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
      std::fprintf(stderr, "zstor-hook %s: %s\n", args[0].c_str(),
                   r.ok() ? zstor::DecodeError(r->str).message().c_str() : r.status().message().c_str());
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

}  // namespace

int main(int argc, char** argv) {
  // Chunks and fragments are buffers of 1-20 MiB, allocated and freed per
  // chunk. glibc would mmap and munmap each one, so every chunk paid a page
  // fault per 4 KiB; kept in the heap they are reused already mapped. The
  // heap holds at most the pipeline's few chunks, so this bounds nothing new.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  if (qs::VersionRequested(argc, argv)) return qs::PrintVersion(std::filesystem::path(argv[0]).filename().c_str());
  const std::string usage = zstor::Usage();
  zstor::Invocation inv;
  std::string command;
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string self = std::filesystem::path(argv[0]).filename().string();
  if (self == "zstor-hook" && !(args.size() == 1 && args[0] == "--help")) {
    const char* env = std::getenv("ZSTOR_CONFIG");
    inv.config_path = env != nullptr && *env != '\0' ? env : "/etc/zstor/zstor.toml";
    command = "hook";
    inv.rest = args;
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
    if (a == "-c" || a == "--config") ok = value(&inv.config_path);
    else if (a == "-f" || a == "--file") ok = value(&inv.file);
    else if (a == "-k" || a == "--key") ok = value(&inv.key);
    else if (a == "-o" || a == "--output") ok = value(&inv.out);
    else if (a == "--json") inv.json = true;
    else if (a == "--full") inv.full = true;
    else if (a == "--dry-run") inv.dry_run = true;
    else if (a == "-v" || a == "--verbose") inv.verbose = true;
    else if (a == "-h" || a == "--help") {
      std::fputs(usage.c_str(), stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "zstor: unknown option '%s'\n%s", a.c_str(), usage.c_str());
      return 2;
    } else if (command.empty()) {
      command = a;
      const zstor::CommandSpec* spec = zstor::FindCliCommand(command);
      if (spec != nullptr && (spec->options & zstor::kOptRest) != 0) {  // the rest is theirs
        inv.rest.assign(args.begin() + static_cast<long>(i) + 1, args.end());
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
  if (inv.config_path.empty() || command.empty()) {
    std::fputs(usage.c_str(), stderr);
    return 2;
  }
  inv.spec = zstor::FindCliCommand(command);
  if (inv.spec == nullptr) {
    std::fprintf(stderr, "zstor: unknown command '%s'\n%s", command.c_str(), usage.c_str());
    return 2;
  }
  const zstor::CommandSpec& spec = *inv.spec;
  if (spec.runs == zstor::Runs::kSetup) return spec.run(inv);  // it writes the config: none is loaded
  if (inv.rest.size() < spec.min_rest) {
    std::fprintf(stderr, "zstor: %s needs %s\n", command.c_str(), std::string(spec.synopsis.substr(command.size() + 1)).c_str());
    return 2;
  }
  if (spec.needs_file && inv.file.empty()) {
    std::fprintf(stderr, "zstor: %s needs -f FILE\n", command.c_str());
    return 2;
  }
  if (spec.prepare != nullptr) spec.prepare();
  qs::InitLogging("zstor", "", inv.verbose);
  if (!inv.verbose) spdlog::set_level(spdlog::level::warn);
  auto cfg = zstor::LoadConfig(inv.config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "zstor: %s\n", cfg.status().message().c_str());
    return 2;
  }
  inv.cfg = &*cfg;
  inv.object = inv.key;
  if (spec.needs_file && inv.object.empty()) inv.object = std::filesystem::absolute(inv.file).lexically_normal().string();
  if (spec.runs == zstor::Runs::kLocal) {
    inv.run_hook = RunHook;
    return spec.run(inv);
  }
  // With a daemon configured and listening, it runs the command.
  const bool daemon_only = spec.runs == zstor::Runs::kDaemon;
  if (!cfg->socket.empty()) {
    qs::ZdbAddress addr;
    addr.unix_path = cfg->socket;
    qs::ZdbClientOptions copts;
    copts.connect_attempts = 1;
    copts.command_timeout = std::chrono::milliseconds(0);  // stores of big files take long
    qs::ZdbClient daemon(addr, copts);
    if (daemon.Connect().ok()) {
      inv.daemon = &daemon;
      return spec.run(inv);
    }
    if (daemon_only) {
      std::fprintf(stderr, "zstor: %s needs the daemon, and none listens on %s\n", command.c_str(), cfg->socket.c_str());
      return 1;
    }
    if (inv.verbose) std::fprintf(stderr, "zstor: no daemon on %s; running in-process\n", cfg->socket.c_str());
  } else if (daemon_only) {
    std::fprintf(stderr, "zstor: %s needs the daemon (config key 'socket')\n", command.c_str());
    return 2;
  }
  auto store = zstor::ObjectStore::Create(*cfg);
  if (!store.ok()) {
    std::fprintf(stderr, "zstor: %s\n", store.status().message().c_str());
    return 2;
  }
  inv.store = store->get();
  return spec.run(inv);
}
