// zstor's commands, each written once: its CLI name and usage, its daemon
// (RESP) name and arity, where it runs, the options it takes, and the
// functions that run it on either side. The CLI (main.cc) checks a command
// line and dispatches through the table; the daemon (Daemon::Execute) checks
// a request's name and arity through it, once, and calls the handler;
// `zstor --help` is generated from it. The protocol is in
// docs/zstor-protocol.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace zstor {

class Daemon;
struct Invocation;

// Where a CLI command runs.
enum class Runs {
  kNowhere,   // not a CLI command: the daemon's alone (PING, STAGING)
  kSetup,     // in this process, on the configuration file itself (not loaded first)
  kLocal,     // in this process, with the loaded configuration
  kAnywhere,  // in the daemon when one listens on `socket`, else in this process
  kDaemon,    // in the daemon only
};

// CLI options a command reads (a bit set). Options a command does not read
// are accepted and ignored.
enum Option : unsigned {
  kOptFile = 1u << 0,    // -f FILE
  kOptKey = 1u << 1,     // -k KEY
  kOptOutput = 1u << 2,  // -o OUT
  kOptFull = 1u << 3,    // --full
  kOptDryRun = 1u << 4,  // --dry-run
  kOptRest = 1u << 5,    // every word after the command is the command's own
};

using DaemonArgs = std::vector<std::string_view>;
using DaemonHandler = void (Daemon::*)(const DaemonArgs& argv, std::string* out);
using CliRunner = int (*)(Invocation& inv);

struct CommandSpec {
  std::string_view cli;       // CLI name; empty for kNowhere
  std::string_view resp;      // daemon request name (upper case); empty: not served
  int arity;                  // daemon argc with the name; negative: at least -arity
  Runs runs;
  unsigned options;           // Option bits the CLI command reads
  bool needs_file;            // -f FILE is required
  size_t min_rest;            // kOptRest: words required after the command
  std::string_view synopsis;  // "store -f FILE [-k KEY]"
  std::string_view usage;     // its --help lines, each "  "-indented, synopsis first
  DaemonHandler serve;        // null when resp is empty
  CliRunner run;              // null for kNowhere
  void (*prepare)();          // optional: runs before logging starts (before any thread)
};

// In --help order; the daemon-only commands last.
const std::vector<CommandSpec>& Commands();

// The CLI command named exactly `name`, or null.
const CommandSpec* FindCliCommand(std::string_view name);

// The daemon command of a request (name matched case-insensitively), its
// arity checked. Null with *error set to the refusal (the text after "ERR ")
// for an unknown name or a wrong argument count.
const CommandSpec* FindDaemonCommand(const DaemonArgs& argv, std::string* error);

// `zstor --help`.
std::string Usage();

}  // namespace zstor
