#include "zdb/options.h"

#include <getopt.h>

#include <cstdlib>
#include <map>
#include <set>
#include <utility>
#include <vector>
#include <toml++/toml.h>

#include "common/config.h"

namespace zdb {

using qs::Status;

namespace {

Status ParseSize(const std::string& key, const std::string& v, uint64_t* out) {
  if (v.empty()) return Status::InvalidArgument(key + ": empty size");
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (errno != 0 || end == v.c_str()) return Status::InvalidArgument(key + ": not a size: '" + v + "'");
  std::string suffix(end);
  uint64_t mul = 1;
  if (suffix == "" ) mul = 1;
  else if (suffix == "K" || suffix == "k") mul = 1ull << 10;
  else if (suffix == "M" || suffix == "m") mul = 1ull << 20;
  else if (suffix == "G" || suffix == "g") mul = 1ull << 30;
  else return Status::InvalidArgument(key + ": bad size suffix in '" + v + "' (use K, M or G)");
  *out = n * mul;
  return Status::OK();
}

Status ParseInt(const std::string& key, const std::string& v, int64_t lo, int64_t hi, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || end == v.c_str() || *end != '\0') return Status::InvalidArgument(key + ": not a number: '" + v + "'");
  if (n < lo || n > hi)
    return Status::InvalidArgument(key + ": " + v + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  *out = n;
  return Status::OK();
}

// Applies one setting by name; used by both flags and the TOML file.
Status Apply(Options* o, const std::string& key, const std::string& v) {
  int64_t n = 0;
  if (key == "data") o->data_dir = v;
  else if (key == "index") o->index_dir = v;
  else if (key == "mode") {
    if (v == "direct") o->mode = "seq";
    else if (v != "user" && v != "seq") return Status::InvalidArgument("mode: 'user' or 'seq' expected, got '" + v + "'");
    else o->mode = v;
  } else if (key == "datasize") {
    QS_RETURN_IF_ERROR(ParseSize(key, v, &o->datasize));
    if (o->datasize < 4096 || o->datasize >= 0xFFFFFFFFull)
      return Status::InvalidArgument("datasize: must be between 4096 and 4294967294 bytes");
  } else if (key == "listen") o->listen = v;
  else if (key == "port") {
    QS_RETURN_IF_ERROR(ParseInt(key, v, 0, 65535, &n));
    o->port = static_cast<int>(n);
  } else if (key == "socket") o->socket = v;
  else if (key == "hook") o->hook = v;
  else if (key == "hook-timeout") {
    QS_RETURN_IF_ERROR(ParseInt(key, v, 0, 86400, &n));
    o->hook_timeout = static_cast<uint64_t>(n);
  }
  else if (key == "admin") o->admin = v;
  else if (key == "maxsize") QS_RETURN_IF_ERROR(ParseSize(key, v, &o->maxsize));
  else if (key == "rotate") {
    QS_RETURN_IF_ERROR(ParseInt(key, v, 0, 86400 * 365, &n));
    o->rotate = static_cast<uint64_t>(n);
  } else if (key == "logfile") o->logfile = v;
  else if (key == "metrics") o->metrics = v;
  else if (key == "fsync") {
    if (v == "always") o->fsync = FsyncPolicy::kAlways;
    else if (v == "everysec") o->fsync = FsyncPolicy::kEverySec;
    else if (v == "never") o->fsync = FsyncPolicy::kNever;
    else return Status::InvalidArgument("fsync: one of always|everysec|never expected, got '" + v + "'");
  } else if (key == "compaction-ratio") {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || d < 0 || d > 1)
      return Status::InvalidArgument("compaction-ratio: a number in [0, 1] expected, got '" + v + "'");
    o->compaction_ratio = d;
  } else if (key == "max-request") {
    QS_RETURN_IF_ERROR(ParseSize(key, v, &o->max_request));
  } else if (key == "client-output-soft") {
    QS_RETURN_IF_ERROR(ParseSize(key, v, &o->client_output_soft));
  } else if (key == "client-output-hard") {
    QS_RETURN_IF_ERROR(ParseSize(key, v, &o->client_output_hard));
  } else if (key == "client-output-seconds") {
    QS_RETURN_IF_ERROR(ParseInt(key, v, 1, 86400, &n));
    o->client_output_seconds = static_cast<uint64_t>(n);
  } else if (key == "clients-memory") {
    QS_RETURN_IF_ERROR(ParseSize(key, v, &o->clients_memory));
  } else if (key == "dualnet") o->dualnet = v != "false";
  else if (key == "protect") o->protect = v != "false";
  else if (key == "evict-synced") o->evict_synced = v != "false";
  else if (key == "sync") o->sync = v != "false";
  else if (key == "background") o->background = v != "false";
  else if (key == "verbose") o->verbose = v != "false";
  else return Status::InvalidArgument("unknown setting '" + key + "'");
  return Status::OK();
}

const std::set<std::string> kBoolKeys = {"dualnet", "protect", "sync", "evict-synced", "background", "verbose"};
// Every key Apply() knows; a test of zdb_config_test keeps the two in step.
const std::set<std::string> kKeys = {
    "data", "index", "mode", "datasize", "listen", "port", "socket", "hook", "hook-timeout", "admin", "maxsize",
    "rotate", "logfile", "metrics", "fsync", "compaction-ratio", "max-request", "client-output-soft",
    "client-output-hard", "client-output-seconds", "clients-memory", "dualnet", "protect", "evict-synced", "sync",
    "background", "verbose"};

// One TOML value as the text Apply() takes. The type is checked on the node
// itself: toml++'s value<int64_t>() also converts booleans (false -> 0).
Status TomlText(const std::string& key, const toml::node& node, std::string* v) {
  const bool bool_key = kBoolKeys.count(key) != 0;
  if (node.is_boolean()) {
    if (!bool_key) return Status::InvalidArgument("a boolean is not valid here");
    *v = node.as_boolean()->get() ? "true" : "false";
    return Status::OK();
  }
  if (bool_key) {
    return Status::InvalidArgument(std::string("expected true or false, got ") + qs::TomlTypeName(node.type()));
  }
  if (node.is_string()) *v = node.as_string()->get();
  else if (node.is_integer()) *v = std::to_string(node.as_integer()->get());
  else if (node.is_floating_point()) *v = std::to_string(node.as_floating_point()->get());
  else
    return Status::InvalidArgument(std::string("expected a string, number or boolean, got ") +
                                   qs::TomlTypeName(node.type()));
  return Status::OK();
}

Status LoadToml(const std::string& path, Options* o, const std::set<std::string>& from_flags) {
  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    return Status::InvalidArgument(path + ":" + std::to_string(src.begin.line) + ":" +
                                   std::to_string(src.begin.column) + ": " + std::string(e.description()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  for (auto& [k, node] : tbl) {
    std::string key(k.str());
    if (from_flags.count(key)) continue;
    if (!kKeys.count(key)) return Status::InvalidArgument("unknown config key '" + key + "'" + qs::TomlLocation(k.source()));
    std::string v;
    Status s = TomlText(key, node, &v);
    if (s.ok()) s = Apply(o, key, v);
    if (s.ok()) continue;
    // Apply's messages start with "key: "; the file's form quotes the key.
    std::string what = s.message();
    if (what.rfind(key + ": ", 0) == 0) what.erase(0, key.size() + 2);
    return Status::InvalidArgument("config key '" + key + "': " + what + qs::TomlLocation(node.source()));
  }
  return Status::OK();
}

// --write-config's own flags: the settings the written file holds.
Status ParseWriteConfig(const std::vector<std::pair<std::string, std::string>>& given, Options* out) {
  const char* kOnly = "--write-config takes only --port, --listen, --admin-password-file and --force";
  if (!out->config_file.empty()) return Status::InvalidArgument(std::string(kOnly) + " (not --config)");
  bool port = false;
  for (auto& [k, v] : given) {
    if (k != "port" && k != "listen") return Status::InvalidArgument(std::string(kOnly) + " (not --" + k + ")");
    port = port || k == "port";
  }
  if (!port) return Status::InvalidArgument("--write-config needs --port N");
  if (out->admin_password_file.empty()) return Status::InvalidArgument("--write-config needs --admin-password-file FILE");
  for (auto& [k, v] : given) {
    if (k == "listen") {
      if (v.empty()) return Status::InvalidArgument("--listen: empty address");
      out->listen = v;
      continue;
    }
    int64_t n = 0;
    Status s = ParseInt("port", v, 1, 65535, &n);
    if (!s.ok()) return Status::InvalidArgument("--" + s.message());
    out->port = static_cast<int>(n);
  }
  return Status::OK();
}

}  // namespace

std::string Usage() {
  return R"(Usage: zdb [options]
  --config FILE        read settings from a TOML file (same keys as the flags)
  --data DIR           data segments directory (default ./zdb-data)
  --index DIR          index files directory (default ./zdb-index)
  --mode user|seq      force one mode for every namespace (default: per namespace)
  --datasize BYTES     rotate segments at this size (default 256M; K/M/G suffixes)
  --listen ADDR        TCP listen address (default ::)
  --port N             TCP port (default 9900)
  --socket PATH        Unix socket (replaces TCP unless --dualnet)
  --dualnet            listen on both TCP and the Unix socket
  --hook FILE          executable run on events (see docs/zdb-protocol.md)
  --hook-timeout SECS  kill a hook still running after SECS (default 300; 0 = never);
                       a client waiting on missing-data then gets the error
  --admin PASS         admin password (without it every client is admin)
  --maxsize BYTES      size limit of the default namespace
  --protect            default namespace read-only unless admin password given
  --sync               same as --fsync always
  --fsync POLICY       always | everysec (default) | never
  --evict-synced       drop synced data from the page cache after each sync (a
                       write-mostly zdb: zstor backends; needs fsync always or everysec)
  --rotate SECS        close the current segment after SECS seconds
  --compaction-ratio R reclaim segments with this dead fraction (0.5; 0 = off)
  --metrics ADDR:PORT  serve Prometheus /metrics
  --max-request BYTES  largest multibulk request, all arguments (default 16M)
  --client-output-soft BYTES
                       a client with more unsent replies waits for them to drain
                       before its next request runs (default 16M)
  --client-output-seconds SECS
                       disconnect a client above the soft limit this long (default 60)
  --client-output-hard BYTES
                       disconnect a client with more unsent replies (default 256M)
  --clients-memory BYTES
                       all clients' buffers together; over it the largest clients
                       are disconnected (default 1G)
  --background         detach once ready
  --logfile FILE       log to FILE instead of stderr
  --verbose            debug logging
  --help               this text
  --version            version and git revision

Storage node set-up (writes a config, then exits):
  --write-config FILE  write a complete, commented config to FILE with --port N,
                       --listen ADDR (default ::) and the admin password, in
                       mixed mode (each namespace's creator sets its mode); FILE
                       gets mode 0640 and group zdb (0600 without that group).
                       Run again with the same settings: no change. An existing
                       FILE with other settings is refused (exit status 2)
  --admin-password-file FILE
                       with --write-config: the admin password, FILE's one line
  --force              with --write-config: replace an existing FILE
)";
}

Status ParseOptions(int argc, char** argv, Options* out, bool* help) {
  *help = false;
  static const option longopts[] = {
      {"config", required_argument, nullptr, 'c'}, {"data", required_argument, nullptr, 0},
      {"index", required_argument, nullptr, 0},    {"mode", required_argument, nullptr, 0},
      {"datasize", required_argument, nullptr, 0}, {"listen", required_argument, nullptr, 0},
      {"port", required_argument, nullptr, 0},     {"socket", required_argument, nullptr, 0},
      {"dualnet", no_argument, nullptr, 0},        {"hook", required_argument, nullptr, 0},
      {"hook-timeout", required_argument, nullptr, 0},
      {"admin", required_argument, nullptr, 0},    {"maxsize", required_argument, nullptr, 0},
      {"protect", no_argument, nullptr, 0},        {"sync", no_argument, nullptr, 0},
      {"evict-synced", no_argument, nullptr, 0},
      {"fsync", required_argument, nullptr, 0},    {"rotate", required_argument, nullptr, 0},
      {"background", no_argument, nullptr, 0},     {"logfile", required_argument, nullptr, 0},
      {"verbose", no_argument, nullptr, 0},        {"metrics", required_argument, nullptr, 0},
      {"compaction-ratio", required_argument, nullptr, 0}, {"help", no_argument, nullptr, 'h'},
      {"max-request", required_argument, nullptr, 0},
      {"client-output-soft", required_argument, nullptr, 0},
      {"client-output-seconds", required_argument, nullptr, 0},
      {"client-output-hard", required_argument, nullptr, 0},
      {"clients-memory", required_argument, nullptr, 0},
      {"write-config", required_argument, nullptr, 0},
      {"admin-password-file", required_argument, nullptr, 0},
      {"force", no_argument, nullptr, 0},
      {nullptr, 0, nullptr, 0}};
  std::vector<std::pair<std::string, std::string>> given;
  std::set<std::string> from_flags;
  optind = 1;
  opterr = 0;
  int idx = 0;
  int c;
  while ((c = getopt_long_only(argc, argv, "", longopts, &idx)) != -1) {
    if (c == 'h') {
      *help = true;
      return Status::OK();
    }
    if (c == '?') {
      return Status::InvalidArgument(std::string("unknown or incomplete option '") + argv[optind - 1] + "' (see --help)");
    }
    std::string name = c == 'c' ? "config" : longopts[idx].name;
    std::string val = optarg ? optarg : "true";
    if (name == "config") out->config_file = val;
    else if (name == "write-config") out->write_config = val;
    else if (name == "admin-password-file") out->admin_password_file = val;
    else if (name == "force") out->force = true;
    else {
      given.emplace_back(name, val);
      from_flags.insert(name);
    }
  }
  if (optind < argc) return Status::InvalidArgument(std::string("unexpected argument '") + argv[optind] + "'");
  if (!out->write_config.empty()) return ParseWriteConfig(given, out);
  if (!out->admin_password_file.empty() || out->force)
    return Status::InvalidArgument("--admin-password-file and --force only go with --write-config");
  if (!out->config_file.empty()) QS_RETURN_IF_ERROR(LoadToml(out->config_file, out, from_flags));
  for (auto& [k, v] : given) {
    Status s = Apply(out, k, v);
    if (!s.ok()) return Status::InvalidArgument("--" + s.message());
  }
  if (out->sync) out->fsync = FsyncPolicy::kAlways;
  if (out->protect && out->admin.empty())
    return Status::InvalidArgument("--protect only works with an admin password (--admin)");
  if (out->max_request < (9ull << 20))
    return Status::InvalidArgument("--max-request must be at least 9M (one 8 MiB value and its key)");
  if (out->client_output_hard < out->client_output_soft)
    return Status::InvalidArgument("--client-output-hard must not be below --client-output-soft");
  if (out->client_output_soft < (1ull << 20))
    return Status::InvalidArgument("--client-output-soft must be at least 1M");
  if (out->clients_memory < out->max_request + out->client_output_hard)
    return Status::InvalidArgument("--clients-memory must hold one client's request and replies (max-request + client-output-hard)");
  if (out->evict_synced && out->fsync == FsyncPolicy::kNever)
    return Status::InvalidArgument("--evict-synced needs --fsync always or everysec (with never nothing is synced)");
  return Status::OK();
}

std::string InstanceId(const Options& o) {
  if (!o.socket.empty()) return "unix://" + o.socket;
  return "tcp://" + o.listen + ":" + std::to_string(o.port);
}

}  // namespace zdb
