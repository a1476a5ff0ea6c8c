#include "zstor/config_writer.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common/file_env.h"
#include "common/quote.h"

namespace zstor {

using qs::Result;
using qs::Status;

std::string DataNamespace(const std::string& prefix) { return "zstor-" + prefix + "-data"; }
std::string MetaNamespace(const std::string& prefix) { return "zstor-" + prefix + "-meta"; }

namespace {

std::string Labels(const std::map<std::string, std::string>& labels) {
  std::string o;
  for (const auto& [k, v] : labels) {
    bool bare = std::all_of(k.begin(), k.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    o += (o.empty() ? "" : ", ") + (bare ? k : qs::Quote(k)) + " = " + qs::Quote(v);
  }
  return "{ " + o + " }";
}

std::string Entry(const char* table, const InitBackend& b, const std::string& ns) {
  std::string o = std::string("\n[[") + table + "]]\naddress = " + qs::Quote(b.address) + "\nnamespace = " +
                  qs::Quote(ns) + "\npassword = " + qs::Quote(b.password) + "\n";
  if (!b.labels.empty()) o += "labels = " + Labels(b.labels) + "\n";
  return o;
}

// A table header line ("[name]" or "[[name]]", maybe indented or followed
// by a comment): its name, or "" for any other line.
std::string HeaderName(std::string_view line, bool* array) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos || line[i] != '[') return "";
  *array = i + 1 < line.size() && line[i + 1] == '[';
  size_t start = i + (*array ? 2 : 1);
  size_t end = line.find(']', start);
  if (end == std::string_view::npos) return "";
  std::string name(line.substr(start, end - start));
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.erase(0, 1);
  return name;
}

bool CommentOrBlank(std::string_view line) {
  size_t i = line.find_first_not_of(" \t\r\n");
  return i == std::string_view::npos || line[i] == '#';
}

}  // namespace

std::string RenderDataBackend(const InitBackend& backend, const std::string& ns) {
  return Entry("groups.backends", backend, ns);
}

std::string RenderConfig(const InitLayout& l) {
  int m = l.expected_shards - l.minimal_shards;
  int meta_n = static_cast<int>(l.meta.size());
  int meta_k = meta_n / 2 > 0 ? meta_n / 2 : 1;
  std::string o;
  o += "# zstor configuration, written by `zstor init`. Every key the daemon reads is\n"
       "# here; config/zstor.toml (in the documentation's examples) explains each.\n"
       "#\n"
       "# BACK UP THIS FILE. It holds the encryption keys and the namespace\n"
       "# passwords: without it nothing stored can be read back.\n"
       "#\n"
       "# `zstor -c FILE init --admin-password-file F` checks every backend again\n"
       "# and creates what is missing; `zstor -c FILE add-backend --group N ADDR`\n"
       "# adds a data backend. zstor reads this file at start: restart it after\n"
       "# a change (systemctl restart zstor).\n\n";
  o += "# Erasure coding: each chunk becomes expected_shards fragments, each on its\n"
       "# own data backend; any minimal_shards of them read it back (" +
       std::to_string(l.minimal_shards) + " + " + std::to_string(m) + ":\n# " + std::to_string(m) +
       " backends may be lost).\n";
  o += "minimal_shards = " + std::to_string(l.minimal_shards) + "\nexpected_shards = " +
       std::to_string(l.expected_shards) + "\n";
  o += "# Whole groups, then further backends, that may be lost with every object\n"
       "# still readable; a store that cannot keep that is refused. 0: fragments\n"
       "# are only spread over the groups as evenly as they allow.\n"
       "redundant_groups = 0\nredundant_nodes = 0\n\n";
  o += "# The daemon (`zstor monitor`, zstor.service): the CLI sends its commands to\n"
       "# this socket when the daemon listens there; /metrics on this TCP port.\n";
  o += std::string("socket = ") + qs::Quote(kDaemonSocket) + "\nprometheus_port = " + std::to_string(kPrometheusPort) +
       "\n\n";
  o += "# The staging zdb (zdb-staging.service) whose segments zstor uploads for\n"
       "# qsfs, the durable upload queue and the journal of stores in flight.\n";
  o += std::string("zdb_data_dir_path = ") + qs::Quote(kStagingDataDir) + "\nzdb_index_dir_path = " +
       qs::Quote(kStagingIndexDir) + "\nqueue_dir = " + qs::Quote(kQueueDir) + "\njournal_dir = " +
       qs::Quote(kJournalDir) + "\n";
  o += "# Evict uploaded staging segments when the staging data grows beyond this\n"
       "# (e.g. \"64G\"; an integer is MiB). 0: never evict.\n"
       "max_zdb_data_dir_size = 0\n"
       "# Plaintext bytes per chunk (4096 .. \"256M\").\n"
       "chunk_size = \"16M\"\n\n";
  o += "# Encrypts every chunk (AES-256-GCM). Generated; never change it (rotate by\n"
       "# moving it to old_keys = [...] first, docs/operations.md).\n"
       "[encryption]\nalgorithm = \"AES\"\nkey = " +
       qs::Quote(l.key.ToHex()) + "\n\n";
  o += "# zstd level 1 (fast) .. 19 (small); 0 stores chunks uncompressed.\n"
       "[compression]\nalgorithm = \"zstd\"\nlevel = 3\n\n";
  o += "[meta]\ntype = \"zdb\"\n\n"
       "# Object records, encrypted and dispersed minimal_shards + parity over the\n"
       "# meta backends. prefix names this machine's records and namespaces.\n"
       "[meta.config]\nprefix = " +
       qs::Quote(l.prefix) + "\nminimal_shards = " + std::to_string(meta_k) + "\nexpected_shards = " +
       std::to_string(meta_n) + "\n\n";
  o += "# Encrypts the metadata records. Generated; keep it with the file.\n"
       "[meta.config.encryption]\nalgorithm = \"AES\"\nkey = " +
       qs::Quote(l.meta_key.ToHex()) + "\n\n";
  o += "# Meta backends: shard i of every record goes to the i-th one listed, so\n"
       "# this list never changes order or length.\n";
  for (const auto& b : l.meta) o += Entry("meta.config.backends", b, MetaNamespace(l.prefix));
  o += "\n# The daemon's background work, in seconds (config/zstor.toml explains each).\n"
       "[monitor]\nhealth_interval = 5\nrepair_interval = 30\nrepair_delay = 60\nrepair_objects_per_round = 100\n"
       "scrub_interval = 3600\nfull_scrub_interval = 86400\nsweep_interval = 86400\nsweep_min_age = 3600\n\n";
  o += "# Data backends, one [[groups]] per failure domain (site, rack, power feed);\n"
       "# `zstor add-backend --group N ADDR` appends to group N (0 is the first).\n";
  for (size_t g = 0; g < l.groups.size(); ++g) {
    o += "\n# Group " + std::to_string(g) + ".\n[[groups]]\n";
    for (const auto& b : l.groups[g]) o += Entry("groups.backends", b, DataNamespace(l.prefix));
  }
  return o;
}

Result<std::string> InsertDataBackend(std::string_view text, int group, const std::string& entry) {
  std::vector<size_t> starts;  // offset of each line
  for (size_t pos = 0; pos < text.size();) {
    starts.push_back(pos);
    size_t nl = text.find('\n', pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  auto line = [&](size_t i) {
    size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    return text.substr(starts[i], end - starts[i]);
  };
  int seen = -1;
  size_t insert_line = starts.size();  // default: at the end
  bool found = false;
  for (size_t i = 0; i < starts.size(); ++i) {
    bool array = false;
    std::string name = HeaderName(line(i), &array);
    if (name.empty()) continue;
    if (seen == group && !(name.rfind("groups.backends", 0) == 0)) {
      insert_line = i;  // the first header past group `group`'s entries
      break;
    }
    if (array && name == "groups") {
      ++seen;
      if (seen == group) found = true;
    }
  }
  std::string out(text);
  if (!out.empty() && out.back() != '\n') out += '\n';
  if (!found) {
    if (seen + 1 != group)
      return Status::InvalidArgument("group " + std::to_string(group) + " does not exist (the config has " +
                                     std::to_string(seen + 1) + " [[groups]]; " + std::to_string(seen + 1) +
                                     " starts a new one)");
    return out + "\n# Group " + std::to_string(group) + ".\n[[groups]]\n" + entry;
  }
  if (insert_line == starts.size()) return out + entry;
  // Comments and blank lines just above the next header belong to it.
  while (insert_line > 0 && CommentOrBlank(line(insert_line - 1))) --insert_line;
  // What is above `at` ends with a line that is no comment: the entry's own
  // leading newline separates them, the blank lines below stay below.
  size_t at = starts[insert_line];
  return out.substr(0, at) + entry + out.substr(at);
}

Status WriteConfigFile(const std::string& path, std::string_view text, bool keep_mode) {
  namespace fs = std::filesystem;
  fs::path p = fs::absolute(path);
  std::string dir = p.parent_path().string();
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("mkdir " + dir + ": " + ec.message());
  }
  struct stat old {};
  bool had = keep_mode && stat(path.c_str(), &old) == 0;
  std::string tmp = p.string() + ".tmp-XXXXXX";
  int fd = mkstemp(tmp.data());  // 0600 from the start
  if (fd < 0) return Status::FromErrno(errno, "create a temporary file beside " + path);
  auto fail = [&](const std::string& what) {
    Status s = Status::FromErrno(errno, what + " " + tmp);
    close(fd);
    unlink(tmp.c_str());
    return s;
  };
  if (had) {
    // Without the old owner and group (not root), only the owner keeps access.
    mode_t mode = fchown(fd, old.st_uid, old.st_gid) == 0 ? (old.st_mode & 07777) : (old.st_mode & 0700);
    if (fchmod(fd, mode) != 0) return fail("chmod");
  } else {
    struct group* g = getgrnam("qsfs");
    if (g != nullptr && fchown(fd, static_cast<uid_t>(-1), g->gr_gid) == 0) {
      if (fchmod(fd, 0640) != 0) return fail("chmod");
    } else if (fchmod(fd, 0600) != 0) {
      return fail("chmod");
    }
  }
  for (size_t off = 0; off < text.size();) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("fsync");
  if (close(fd) != 0) {
    Status s = Status::FromErrno(errno, "close " + tmp);
    unlink(tmp.c_str());
    return s;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Status::FromErrno(errno, "rename " + tmp + " to " + path);
    unlink(tmp.c_str());
    return s;
  }
  return qs::Env::Default()->SyncDir(dir);
}

}  // namespace zstor
