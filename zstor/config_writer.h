// The config file `zstor init` writes and `zstor add-backend` extends: its
// text (every key the daemon reads, with short comments), the namespace
// names, and the atomic write (docs/operations.md, "Configure with zstor
// init").
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "zstor/crypto.h"

namespace zstor {

// Namespaces init creates on the backends: "zstor-PREFIX-data" (mode seq)
// and "zstor-PREFIX-meta" (mode user), so two prefixes never share one.
std::string DataNamespace(const std::string& prefix);
std::string MetaNamespace(const std::string& prefix);

struct InitBackend {
  std::string address;   // as ZdbAddress::ToString() gives it
  std::string password;  // of its namespace on that backend
  std::map<std::string, std::string> labels;
};

struct InitLayout {
  int minimal_shards = 16;
  int expected_shards = 20;
  std::string prefix;  // [meta.config] prefix and part of the namespace names
  Key key;             // [encryption]
  Key meta_key;        // [meta.config.encryption]
  std::vector<InitBackend> meta;                 // shard i of a record goes to meta[i]
  std::vector<std::vector<InitBackend>> groups;  // data backends per failure domain
};

// Paths of the installed layout (docs/operations.md).
constexpr const char* kDaemonSocket = "/run/zstor/zstor.sock";
constexpr int kPrometheusPort = 9100;
constexpr const char* kStagingDataDir = "/var/lib/qsfs/zdb/data";
constexpr const char* kStagingIndexDir = "/var/lib/qsfs/zdb/index";
constexpr const char* kQueueDir = "/var/lib/zstor/queue";
constexpr const char* kJournalDir = "/var/lib/zstor/journal";

// The whole config; the same layout gives the same bytes. Data backends
// come last, so a backend added to the last group is appended at the end.
std::string RenderConfig(const InitLayout& layout);

// One [[groups.backends]] entry (with a blank line before it).
std::string RenderDataBackend(const InitBackend& backend, const std::string& ns);

// `text` with `entry` placed as the last backend of group `group` (0-based,
// in file order); group == number of [[groups]] starts a new group at the
// end. Every other byte stays as it was. The caller checks the result
// parses to what it expects: a file whose groups are not written as
// [[groups]] tables is not understood here.
qs::Result<std::string> InsertDataBackend(std::string_view text, int group, const std::string& entry);

// Writes path atomically (temp file in the same directory, fsync, rename,
// fsync of the directory); the temp file has its final mode before a byte
// is written. A new file (keep_mode false, or path missing) gets 0640 with
// group qsfs when that group exists and can be given, else 0600; with
// keep_mode the existing file's mode, owner and group stay. The directory
// is created (0755) when missing.
qs::Status WriteConfigFile(const std::string& path, std::string_view text, bool keep_mode);

}  // namespace zstor
