#include "zstor/cli_commands.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

#include "common/logging.h"
#include "common/quote.h"
#include "common/service_notify.h"
#include "zstor/cli_output.h"
#include "zstor/daemon.h"
#include "zstor/fragment_sweep.h"
#include "zstor/init.h"
#include "zstor/replies.h"

namespace zstor {

namespace {

// The command's daemon request: its RESP name, then args.
qs::Result<qs::Reply> Ask(Invocation& inv, std::vector<std::string_view> args) {
  args.insert(args.begin(), inv.spec->resp);
  return inv.daemon->Command(args);
}

// Decodes the daemon's answer to a request (a transport failure stays what it is).
template <typename Decode>
auto AskDecoded(Invocation& inv, std::vector<std::string_view> args, Decode decode) -> decltype(decode(qs::Reply())) {
  auto r = Ask(inv, std::move(args));
  if (!r.ok()) return r.status();
  return decode(*r);
}

sigset_t DaemonSignals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  return mask;
}

// init and add-backend parse their own words; --help and --json among them count.
bool RestHas(const Invocation& inv, const char* word) {
  return std::find(inv.rest.begin(), inv.rest.end(), word) != inv.rest.end();
}

}  // namespace

int RunStoreCommand(Invocation& inv) {
  if (inv.daemon != nullptr) {
    std::string local = std::filesystem::absolute(inv.file).string();
    auto r = Ask(inv, {local, inv.object});
    qs::Status s = r.ok() ? DecodeOk(*r) : r.status();
    if (!s.ok()) return Fail(inv.json, s);
    PrintDone("stored", inv.object, inv.json);
    return 0;
  }
  inv.store->ReclaimOrphans();  // what earlier in-process stores that died left behind
  auto t0 = std::chrono::steady_clock::now();
  qs::Status s = inv.store->Store(inv.file, inv.object, ProgressBar("store"));
  if (!s.ok()) return Fail(inv.json, s);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t size = std::filesystem::file_size(inv.file);
  if (inv.json) std::printf("{\"ok\": true, \"key\": %s, \"size\": %llu, \"seconds\": %.3f}\n", qs::Quote(inv.object).c_str(), static_cast<unsigned long long>(size), secs);
  else std::printf("stored %s (%s) in %.2f s\n", inv.object.c_str(), HumanBytes(size).c_str(), secs);
  return 0;
}

int RunRetrieveCommand(Invocation& inv) {
  std::string dest;
  qs::Status s;
  if (inv.daemon != nullptr) {
    dest = std::filesystem::absolute(inv.out.empty() ? (inv.file.empty() ? "." : inv.file) : inv.out).string();
    auto r = Ask(inv, {inv.object, dest});
    s = r.ok() ? DecodeOk(*r) : r.status();
  } else {
    dest = inv.out.empty() ? inv.file : inv.out;
    s = inv.store->Retrieve(inv.object, dest, ProgressBar("retrieve"));
  }
  if (!s.ok()) return Fail(inv.json, s);
  PrintRetrieved(inv.object, dest, inv.json);
  return 0;
}

int RunCheckCommand(Invocation& inv) {
  auto r = inv.daemon != nullptr ? AskDecoded(inv, {inv.object}, DecodeCheckReport) : inv.store->Check(inv.object);
  if (!r.ok()) return Fail(inv.json, r.status());
  return PrintCheck(inv.object, *r, inv.json);
}

int RunRebuildCommand(Invocation& inv) {
  qs::Result<uint64_t> r = qs::Status::IOError("not run");
  if (inv.daemon != nullptr) {
    r = AskDecoded(inv, {inv.object}, DecodeCount);
  } else {
    auto n = inv.store->Rebuild(inv.object);
    r = n.ok() ? qs::Result<uint64_t>(static_cast<uint64_t>(*n)) : qs::Result<uint64_t>(n.status());
  }
  if (!r.ok()) return Fail(inv.json, r.status());
  PrintRebuilt(inv.object, *r, inv.json);
  return 0;
}

int RunDeleteCommand(Invocation& inv) {
  qs::Status s;
  if (inv.daemon != nullptr) {
    auto r = Ask(inv, {inv.object});
    s = r.ok() ? DecodeOk(*r) : r.status();
  } else {
    s = inv.store->Delete(inv.object);
  }
  if (!s.ok()) return Fail(inv.json, s);
  PrintDone("deleted", inv.object, inv.json);
  return 0;
}

int RunListCommand(Invocation& inv) {
  qs::Result<std::vector<ObjectSummary>> l = std::vector<ObjectSummary>();
  if (inv.daemon != nullptr) {
    l = AskDecoded(inv, {}, DecodeObjectList);
  } else {
    auto metas = inv.store->List(/*strict=*/true);
    if (!metas.ok()) return Fail(inv.json, metas.status());
    std::vector<ObjectSummary> summaries;
    for (const auto& m : *metas) summaries.push_back(ObjectSummary{m.path, m.size, m.chunks.size(), m.created});
    l = std::move(summaries);
  }
  if (!l.ok()) return Fail(inv.json, l.status());
  PrintList(*l, inv.json);
  return 0;
}

int RunStatusCommand(Invocation& inv) {
  if (inv.daemon != nullptr) {
    auto rows = AskDecoded(inv, {}, DecodeBackendRows);
    if (!rows.ok()) return Fail(inv.json, rows.status());
    // A daemon that cannot say (e.g. one without STAGING) shows no staging line.
    auto st = inv.daemon->Command({"STAGING"});
    qs::Result<StagingStats> staging = st.ok() ? DecodeStagingStats(*st) : qs::Result<StagingStats>(st.status());
    PrintStatus(*rows, staging.ok() ? &*staging : nullptr, inv.json);
    return 0;
  }
  // Asked of every backend now (no daemon has it cached), all at once: a
  // slow backend costs its own deadline, not one per backend.
  auto report = [](Backend* b, const char* role) {
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
  for (size_t i = 0; i < inv.store->backends().size(); ++i)
    asked.push_back(std::async(std::launch::async, report, &inv.store->backends().at(i), "data"));
  for (size_t i = 0; i < inv.store->meta().backends().size(); ++i)
    asked.push_back(std::async(std::launch::async, report, &inv.store->meta().backends().at(i), "meta"));
  std::vector<BackendRow> rows;
  for (auto& f : asked) rows.push_back(f.get());
  PrintStatus(rows, nullptr, inv.json);
  return 0;
}

void BlockDaemonSignals() {
  sigset_t mask = DaemonSignals();
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
}

int RunMonitorCommand(Invocation& inv) {
  const Config& cfg = *inv.cfg;
  sigset_t mask = DaemonSignals();
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);  // threads inherit; sigwait below takes them
  signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::info);
  auto store = ObjectStore::Create(cfg);
  if (!store.ok()) {
    std::fprintf(stderr, "zstor: %s\n", store.status().message().c_str());
    return 2;
  }
  Daemon daemon(std::move(store.value()));
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

int RunRepairCommand(Invocation& inv) {
  auto r = AskDecoded(inv, {}, DecodeCount);
  if (!r.ok()) return Fail(inv.json, r.status());
  PrintRound("repair", *r, inv.json);
  return 0;
}

int RunScrubCommand(Invocation& inv) {
  auto r = inv.full ? AskDecoded(inv, {"FULL"}, DecodeCount) : AskDecoded(inv, {}, DecodeCount);
  if (!r.ok()) return Fail(inv.json, r.status());
  PrintRound("scrub", *r, inv.json);
  return 0;
}

int RunSweepCommand(Invocation& inv) {
  qs::Result<SweepReport> r = SweepReport();
  if (inv.daemon != nullptr) {
    r = inv.dry_run ? AskDecoded(inv, {"DRYRUN"}, DecodeSweepReport) : AskDecoded(inv, {}, DecodeSweepReport);
  } else {
    SweepOptions o;
    o.min_age_s = inv.cfg->monitor.sweep_min_age;
    o.dry_run = inv.dry_run;
    r = SweepFragments(inv.store, o);
  }
  if (!r.ok()) return Fail(inv.json, r.status());
  return PrintSweep(*r, inv.dry_run, inv.json);
}

int RunInitCommand(Invocation& inv) {
  if (RestHas(inv, "-h") || RestHas(inv, "--help")) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  return RunInit(inv.config_path, inv.rest, inv.json || RestHas(inv, "--json"));
}

int RunAddBackendCommand(Invocation& inv) {
  if (RestHas(inv, "-h") || RestHas(inv, "--help")) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  return RunAddBackend(inv.config_path, inv.rest, inv.json || RestHas(inv, "--json"));
}

int RunHookCommand(Invocation& inv) {
  spdlog::set_level(inv.verbose ? spdlog::level::debug : spdlog::level::info);
  return inv.run_hook(*inv.cfg, inv.rest);
}

}  // namespace zstor
