#include "zdb/config_writer.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "common/quote.h"

namespace zdb {

using qs::Result;
using qs::Status;

namespace {

Result<Options> LoadConfig(const std::string& path) {
  std::vector<std::string> args = {"zdb", "--config", path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  Options o;
  bool help = false;
  Status s = ParseOptions(static_cast<int>(argv.size()), argv.data(), &o, &help);
  if (!s.ok()) return s;
  return o;
}

// How the settings loaded from an existing file differ from `c`; empty
// when they are the same. Never shows a password.
std::string Differences(const Options& have, const NodeConfig& c) {
  std::vector<std::string> diffs;
  if (have.listen != c.listen) diffs.push_back("listen " + have.listen + ", not " + c.listen);
  if (have.port != c.port) diffs.push_back("port " + std::to_string(have.port) + ", not " + std::to_string(c.port));
  if (have.admin != c.admin) diffs.push_back(have.admin.empty() ? "no admin password" : "another admin password");
  if (have.mode) diffs.push_back("mode " + *have.mode + ", not mixed");
  if (!have.socket.empty()) diffs.push_back("socket " + have.socket + ", not TCP");
  std::string out;
  for (const std::string& d : diffs) out += (out.empty() ? "" : ", ") + d;
  return out;
}

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "write " + path);
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::OK() : Status::FromErrno(err, "fsync " + dir);
}

}  // namespace

Result<std::string> ReadAdminPassword(const std::string& path) {
  const std::string what = "--admin-password-file " + path;
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::FromErrno(errno, what);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (text.size() >= 2 && text.compare(text.size() - 2, 2, "\r\n") == 0) text.resize(text.size() - 2);
  else if (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.empty()) return Status::InvalidArgument(what + ": the file is empty");
  if (text.find_first_of("\r\n") != std::string::npos)
    return Status::InvalidArgument(what + ": the password must be one line");
  return text;
}

std::string RenderNodeConfig(const NodeConfig& c) {
  return R"(# zdb configuration of a storage node, written by
# `zdb --write-config`; every key is described in zdb.toml(5) and
# docs/zdb-protocol.md. zdb@DISK.service passes --data and --index (the
# disk mounted at /srv/zdb/DISK) on its command line.

# TCP listener. "::" accepts IPv6 and IPv4.
listen = )" + qs::Quote(c.listen) + R"(
port = )" + std::to_string(c.port) + R"(

# Admin password: NSNEW, NSSET and the other admin commands need it (zstor
# init creates its namespaces with it). Keep this file from other users:
# mode 0640, group zdb (0600 where there is no zdb group).
admin = )" + qs::Quote(c.admin) + R"(

# No `mode` key: mixed mode. Each namespace has its own mode, set by the
# client that creates it (zstor: seq for data, user for metadata).

# Segment size: data and index files rotate at this size (K, M, G suffixes).
datasize = "256M"

# Durability of acknowledged writes (docs/zdb-format.md, "Durability"):
# always, everysec (a background fdatasync every second) or never.
fsync = "everysec"
# A storage node mostly writes fragments and seldom reads them back: drop
# synced data from the page cache.
evict-synced = true

# Segments with at least this fraction of dead bytes are compacted online
# (0 disables compaction).
compaction-ratio = 0.5

# Prometheus /metrics (ADDR:PORT); off when absent.
# metrics = "127.0.0.1:9910"

# Under systemd the journal has stderr.
verbose = false
)";
}

Result<WriteOutcome> WriteNodeConfig(const std::string& path, const NodeConfig& c, bool force,
                                     const std::string& group_name, std::string* mode_note) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    Result<Options> have = LoadConfig(path);
    std::string why;
    if (!have.ok()) why = path + " exists and is not a zdb config (" + have.status().message() + ")";
    else if (std::string d = Differences(*have, c); !d.empty()) why = path + " exists with other settings (" + d + ")";
    else return WriteOutcome::kUnchanged;
    if (!force) return Status::AlreadyExists(why + "; left unchanged (--force replaces it)");
  } else if (errno != ENOENT) {
    return Status::FromErrno(errno, "stat " + path);
  }

  std::filesystem::path target(path);
  std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("create directory " + dir + ": " + ec.message());

  const struct group* g = ::getgrnam(group_name.c_str());
  const mode_t mode = g != nullptr ? 0640 : 0600;
  *mode_note = g != nullptr ? "mode 0640, group " + group_name : "mode 0600: no group " + group_name;

  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::FromErrno(errno, "create a temporary file next to " + path);
  Status s;
  if (::fchmod(fd, mode) != 0) s = Status::FromErrno(errno, "chmod " + tmp);
  if (s.ok() && g != nullptr && ::fchown(fd, static_cast<uid_t>(-1), g->gr_gid) != 0)
    s = Status::FromErrno(errno, "give " + tmp + " to group " + group_name);
  if (s.ok()) s = WriteAll(fd, RenderNodeConfig(c), tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  if (::close(fd) != 0 && s.ok()) s = Status::FromErrno(errno, "close " + tmp);
  // What zdb will read is what was asked: the file loads back with these
  // settings (a password TOML cannot hold would show here).
  if (s.ok()) {
    Result<Options> back = LoadConfig(tmp);
    if (!back.ok()) s = Status::InvalidArgument("the written config does not load: " + back.status().message());
    else if (std::string d = Differences(*back, c); !d.empty())
      s = Status::InvalidArgument("the written config loads with other settings (" + d + ")");
  }
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Status::FromErrno(errno, "rename " + tmp + " to " + path);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  QS_RETURN_IF_ERROR(FsyncDir(dir));
  return WriteOutcome::kWritten;
}

int RunWriteConfig(const Options& o) {
  Result<std::string> password = ReadAdminPassword(o.admin_password_file);
  if (!password.ok()) {
    std::fprintf(stderr, "zdb: %s\n", password.status().message().c_str());
    return 2;
  }
  NodeConfig c;
  c.listen = o.listen;
  c.port = o.port;
  c.admin = *password;
  std::string mode_note;
  Result<WriteOutcome> r = WriteNodeConfig(o.write_config, c, o.force, "zdb", &mode_note);
  if (!r.ok()) {
    std::fprintf(stderr, "zdb: %s\n", r.status().message().c_str());
    return r.status().code() == Status::Code::kAlreadyExists ||
                   r.status().code() == Status::Code::kInvalidArgument
               ? 2
               : 1;
  }
  if (*r == WriteOutcome::kUnchanged) {
    std::printf("zdb: %s already has these settings: unchanged\n", o.write_config.c_str());
  } else {
    std::printf("zdb: wrote %s (listen %s, port %d, admin password from %s, mixed mode; %s)\n",
                o.write_config.c_str(), c.listen.c_str(), c.port, o.admin_password_file.c_str(), mode_note.c_str());
  }
  return 0;
}

}  // namespace zdb
