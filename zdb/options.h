// zdb settings: command-line flags (0-db's names) and the same keys in TOML
// (--config FILE; flags given on the command line win over the file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace zdb {

enum class FsyncPolicy { kAlways, kEverySec, kNever };

struct Options {
  std::string data_dir = "./zdb-data";
  std::string index_dir = "./zdb-index";
  std::optional<std::string> mode;  // "user" | "seq"; unset = per namespace
  uint64_t datasize = 256ull << 20;
  std::string listen = "::";
  int port = 9900;
  std::string socket;
  bool dualnet = false;
  std::string hook;
  uint64_t hook_timeout = 300;  // seconds a hook may run before it is killed, 0 = never
  std::string admin;
  uint64_t maxsize = 0;
  bool protect = false;
  bool sync = false;  // 0-db's --sync: same as fsync = always
  FsyncPolicy fsync = FsyncPolicy::kEverySec;
  // After each sync, the synced bytes of the namespace files leave the page
  // cache (reads of them then go to the disk). For a write-mostly zdb.
  bool evict_synced = false;
  uint64_t rotate = 0;  // seconds, 0 = off
  bool background = false;
  std::string logfile;
  bool verbose = false;
  std::string metrics;           // "ADDR:PORT", empty = off
  double compaction_ratio = 0.5;  // dead fraction that triggers compaction, 0 = off
  // Client limits (docs/zdb-protocol.md, "Limits"). Bytes unless stated.
  uint64_t max_request = 16ull << 20;          // one multibulk request, all arguments
  uint64_t client_output_soft = 16ull << 20;   // unsent replies: above, the client's requests wait
  uint64_t client_output_seconds = 60;         // above the soft limit this long: disconnected
  uint64_t client_output_hard = 256ull << 20;  // unsent replies: above, disconnected at once
  uint64_t clients_memory = 1ull << 30;        // all clients' buffers; over it, the largest go
  std::string config_file;
  // --write-config FILE: write a storage node's config and exit
  // (zdb/config_writer.h); only port, listen and the two below go with it.
  std::string write_config;
  std::string admin_password_file;
  bool force = false;
};

// Parses argv; on --help sets *help. Errors name the flag or config key.
// With --write-config nothing is loaded: only the flags it takes are read.
qs::Status ParseOptions(int argc, char** argv, Options* out, bool* help);
std::string Usage();
// Hook instance id as 0-db builds it: "unix://path" or "tcp://listen:port".
std::string InstanceId(const Options& o);

}  // namespace zdb
