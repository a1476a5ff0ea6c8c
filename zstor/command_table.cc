#include "zstor/command_table.h"

#include <cctype>

#include "zstor/cli_commands.h"
#include "zstor/daemon.h"

namespace zstor {

namespace {

constexpr const char* kUsageHead = "Usage: zstor -c CONFIG [--json] COMMAND [options]\nCommands:\n";

constexpr const char* kUsageTail = R"(Setup options (init, add-backend):
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

constexpr unsigned kObject = kOptFile | kOptKey;

}  // namespace

// Daemon requests are documented with their replies in docs/zstor-protocol.md.
const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> table = {
      {"store", "STORE", 3, Runs::kAnywhere, kObject, true, 0, "store -f FILE [-k KEY]",
       "  store -f FILE [-k KEY]        store FILE (object key: KEY, default the absolute path)\n",
       &Daemon::StoreCommand, &RunStoreCommand, nullptr},
      {"retrieve", "RETRIEVE", 3, Runs::kAnywhere, kObject | kOptOutput, true, 0, "retrieve -f FILE [-k KEY] [-o OUT]",
       "  retrieve -f FILE [-k KEY] [-o OUT]\n"
       "                                restore the object to OUT (default FILE)\n",
       &Daemon::RetrieveCommand, &RunRetrieveCommand, nullptr},
      {"check", "CHECK", 2, Runs::kAnywhere, kObject, true, 0, "check -f FILE [-k KEY]",
       "  check -f FILE [-k KEY]        count healthy fragments of the object\n",
       &Daemon::CheckCommand, &RunCheckCommand, nullptr},
      {"rebuild", "REBUILD", 2, Runs::kAnywhere, kObject, true, 0, "rebuild -f FILE [-k KEY]",
       "  rebuild -f FILE [-k KEY]      re-create missing or corrupt fragments\n",
       &Daemon::RebuildCommand, &RunRebuildCommand, nullptr},
      {"delete", "DELETE", 2, Runs::kAnywhere, kObject, true, 0, "delete -f FILE [-k KEY]",
       "  delete -f FILE [-k KEY]       delete the object and free its fragments\n",
       &Daemon::DeleteCommand, &RunDeleteCommand, nullptr},
      {"list", "LIST", 1, Runs::kAnywhere, 0, false, 0, "list",
       "  list                          list stored objects\n",
       &Daemon::ListCommand, &RunListCommand, nullptr},
      {"status", "STATUS", 1, Runs::kAnywhere, 0, false, 0, "status",
       "  status                        backends and their health\n",
       &Daemon::StatusCommand, &RunStatusCommand, nullptr},
      {"monitor", "", 0, Runs::kLocal, 0, false, 0, "monitor",
       "  monitor                       run the daemon: socket, health, repair, scrub, /metrics\n",
       nullptr, &RunMonitorCommand, &BlockDaemonSignals},
      {"repair", "REPAIR", 1, Runs::kDaemon, 0, false, 0, "repair",
       "  repair                        (daemon) one repair round now\n",
       &Daemon::RepairCommand, &RunRepairCommand, nullptr},
      {"scrub", "SCRUB", -1, Runs::kDaemon, kOptFull, false, 0, "scrub [--full]",
       "  scrub [--full]                (daemon) one scrub round now\n",
       &Daemon::ScrubCommand, &RunScrubCommand, nullptr},
      {"sweep", "SWEEP", -1, Runs::kAnywhere, kOptDryRun, false, 0, "sweep [--dry-run]",
       "  sweep [--dry-run]             delete fragments no object record names that are\n"
       "                                older than [monitor] sweep_min_age (--dry-run:\n"
       "                                count them only); refuses when a record is unreadable\n",
       &Daemon::SweepCommand, &RunSweepCommand, nullptr},
      {"init", "", 0, Runs::kSetup, kOptRest, false, 0, "init --meta ADDR,... --group ADDR,... [setup options]",
       "  init --meta ADDR,... --group ADDR,... [setup options]\n"
       "                                write CONFIG (new keys, a password per namespace;\n"
       "                                mode 0640 root:qsfs, else 0600), then create or\n"
       "                                check on every backend the namespaces\n"
       "                                zstor-PREFIX-data (mode seq) and zstor-PREFIX-meta\n"
       "                                (mode user). Run again: nothing is generated, what\n"
       "                                is missing is created, the rest checked; a namespace\n"
       "                                with another password is refused, never changed.\n"
       "                                Exit 1 names the backends that are not ready\n",
       nullptr, &RunInitCommand, nullptr},
      {"add-backend", "", 0, Runs::kSetup, kOptRest, false, 0, "add-backend --group N ADDR [setup options]",
       "  add-backend --group N ADDR [setup options]\n"
       "                                add data backend ADDR to group N of CONFIG (0 is the\n"
       "                                first; the number of groups starts a new one) and\n"
       "                                create its namespace; restart the daemon to use it.\n"
       "                                Meta backends cannot be added\n",
       nullptr, &RunAddBackendCommand, nullptr},
      // The CLI's hook asks the daemon's HOOK itself when one listens (RunHook).
      {"hook", "HOOK", -3, Runs::kLocal, kOptRest, false, 2, "hook EVENT INSTANCE [ARGS...]",
       "  hook EVENT INSTANCE [ARGS...]\n"
       "                                a staging zdb hook event (what zstor-hook runs)\n",
       &Daemon::HookCommand, &RunHookCommand, nullptr},
      // The daemon's alone: liveness, and the staging figures `status` shows.
      {"", "PING", 1, Runs::kNowhere, 0, false, 0, "", "", &Daemon::PingCommand, nullptr, nullptr},
      {"", "STAGING", 1, Runs::kNowhere, 0, false, 0, "", "", &Daemon::StagingCommand, nullptr, nullptr},
  };
  return table;
}

const CommandSpec* FindCliCommand(std::string_view name) {
  if (name.empty()) return nullptr;
  for (const auto& c : Commands())
    if (c.cli == name) return &c;
  return nullptr;
}

const CommandSpec* FindDaemonCommand(const DaemonArgs& argv, std::string* error) {
  std::string name(argv.empty() ? std::string_view() : argv[0]);
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& cmd : Commands()) {
    if (cmd.resp.empty() || name != cmd.resp) continue;
    const int n = static_cast<int>(argv.size());
    if (cmd.arity >= 0 ? n != cmd.arity : n < -cmd.arity) {
      *error = "wrong number of arguments for " + name;
      return nullptr;
    }
    return &cmd;
  }
  *error = "unknown command '" + name + "'";
  return nullptr;
}

std::string Usage() {
  std::string u = kUsageHead;
  for (const auto& c : Commands()) u += c.usage;
  return u + kUsageTail;
}

}  // namespace zstor
