// The zstor CLI's commands, one runner each, named in the command table
// (zstor/command_table.cc). A runner of a kAnywhere command asks the daemon
// when inv.daemon is set, else runs on inv.store, and prints the same typed
// result either way (zstor/cli_output.h). Each returns the exit status:
// 0 success, 1 operation failed, 2 bad usage or configuration.
#pragma once

#include <string>
#include <vector>

#include "common/zdb_client.h"
#include "zstor/command_table.h"
#include "zstor/config.h"
#include "zstor/object_store.h"

namespace zstor {

// One command line, checked against the table, and what main() set up for it.
struct Invocation {
  const CommandSpec* spec = nullptr;
  std::string config_path, file, key, out;
  bool json = false, verbose = false, full = false, dry_run = false;
  std::vector<std::string> rest;  // kOptRest: the words after the command

  // Set by main() before the runner is called.
  const Config* cfg = nullptr;      // all but kSetup
  std::string object;               // -k KEY, else FILE's absolute path
  qs::ZdbClient* daemon = nullptr;  // kAnywhere, kDaemon: the listening daemon, else null
  ObjectStore* store = nullptr;     // kAnywhere without a daemon
  // hook's body (RunHook in main.cc: the staging zdb's event, to the daemon or in-process).
  int (*run_hook)(const Config& cfg, const std::vector<std::string>& args) = nullptr;
};

int RunStoreCommand(Invocation& inv);
int RunRetrieveCommand(Invocation& inv);
int RunCheckCommand(Invocation& inv);
int RunRebuildCommand(Invocation& inv);
int RunDeleteCommand(Invocation& inv);
int RunListCommand(Invocation& inv);
int RunStatusCommand(Invocation& inv);
int RunMonitorCommand(Invocation& inv);
int RunRepairCommand(Invocation& inv);
int RunScrubCommand(Invocation& inv);
int RunSweepCommand(Invocation& inv);
int RunInitCommand(Invocation& inv);
int RunAddBackendCommand(Invocation& inv);
int RunHookCommand(Invocation& inv);

// monitor's prepare step: blocks the signals the daemon takes with sigwait.
// They must be blocked before any thread exists (spdlog's flusher too): a
// thread that leaves one unblocked receives it and dies of it.
void BlockDaemonSignals();

}  // namespace zstor
