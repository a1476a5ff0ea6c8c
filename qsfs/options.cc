#include "qsfs/options.h"

#include <charconv>
#include <set>

#include "common/config.h"

namespace qsfs {

namespace {

qs::Status Bad(const std::string& what) { return qs::Status::InvalidArgument(what); }

qs::Status ParseBool(const std::string& key, const std::string& v, bool* out) {
  if (v.empty() || v == "1" || v == "true" || v == "yes") {
    *out = true;
  } else if (v == "0" || v == "false" || v == "no") {
    *out = false;
  } else {
    return Bad("option " + key + ": expected a boolean, got '" + v + "'");
  }
  return qs::Status::OK();
}

qs::Status ParseUint(const std::string& key, const std::string& v, uint64_t min, uint64_t max, uint64_t* out) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size() || n < min || n > max) {
    return Bad("option " + key + ": expected a number in " + std::to_string(min) + ".." + std::to_string(max) +
               ", got '" + v + "'");
  }
  *out = n;
  return qs::Status::OK();
}

qs::Status CheckBlockSize(uint64_t n) {
  if (n < 4096 || n > (1u << 20) || (n & (n - 1)) != 0) {
    return Bad("block_size must be a power of two between 4K and 1M");
  }
  return qs::Status::OK();
}

// Generic mount flags: libfuse hands them to the kernel (mount(2) flags).
// mount(8) sends some on every mount (rw; dev,suid from mount.fuse3).
bool IsMountFlag(const std::string& key) {
  static const std::set<std::string> kFlags = {"ro",   "rw",    "suid",  "nosuid", "dev",     "nodev",  "exec",
                                               "noexec", "sync", "async", "dirsync", "atime", "noatime"};
  return kFlags.count(key) != 0;
}

// Options for mount(8), its helper or systemd, not for the filesystem.
// mount(8) and mount.fuse3 drop most of them before running qsfs; the rest
// (and all of them when qsfs runs directly from an fstab-like line) are
// ignored. The access-time variants the kernel knows but FUSE does not
// take are ignored too (qsfs keeps no access times of its own).
bool IsMountOnlyOption(const std::string& key) {
  static const std::set<std::string> kIgnored = {
      "defaults", "_netdev",  "nofail",     "auto",         "noauto",   "user",       "nouser",
      "users",    "owner",    "group",      "relatime",     "norelatime", "strictatime", "nostrictatime",
      "diratime", "nodiratime", "lazytime", "nolazytime",   "silent",   "loud"};
  return kIgnored.count(key) != 0 || key.rfind("x-", 0) == 0 || key == "comment";
}

// One key=value from -o.
qs::Status ApplyOption(const std::string& key, const std::string& v, Options* o) {
  uint64_t n = 0;
  if (IsMountFlag(key)) {
    if (!v.empty()) return Bad("option " + key + " takes no value");
    o->mount_flags.push_back(key);
  } else if (IsMountOnlyOption(key)) {
    // not the filesystem's business
  } else if (key == "remount") {
    return Bad("remount is not supported: unmount qsfs and mount it again");
  } else if (key == "wait") {
    QS_RETURN_IF_ERROR(ParseUint(key, v, 0, 86400, &n));
    o->wait_seconds = static_cast<int>(n);
  } else if (key == "host") {
    o->host = v;
  } else if (key == "port") {
    QS_RETURN_IF_ERROR(ParseUint(key, v, 1, 65535, &n));
    o->port = static_cast<int>(n);
  } else if (key == "unix") {
    o->unix_path = v;
  } else if (key == "meta_ns") {
    o->meta_ns = v;
  } else if (key == "data_ns") {
    o->data_ns = v;
  } else if (key == "meta_password") {
    o->meta_password = v;
  } else if (key == "data_password") {
    o->data_password = v;
  } else if (key == "admin_password") {
    o->admin_password = v;
  } else if (key == "nocreate") {
    bool b = false;
    QS_RETURN_IF_ERROR(ParseBool(key, v, &b));
    o->create_namespaces = !b;
  } else if (key == "fsck") {
    QS_RETURN_IF_ERROR(ParseBool(key, v, &o->fsck));
  } else if (key == "writeback_cache") {
    QS_RETURN_IF_ERROR(ParseBool(key, v, &o->writeback_cache));
  } else if (key == "lease_timeout") {
    QS_RETURN_IF_ERROR(ParseUint(key, v, 3, 3600, &n));
    o->lease_timeout_seconds = static_cast<int>(n);
  } else if (key == "block_size") {
    auto s = qs::ParseSize(v);
    if (!s.ok()) return Bad("option block_size: " + s.status().message());
    QS_RETURN_IF_ERROR(CheckBlockSize(*s));
    o->block_size = static_cast<uint32_t>(*s);
  } else if (key == "dirty_cache") {
    auto s = qs::ParseSize(v);
    if (!s.ok()) return Bad("option dirty_cache: " + s.status().message());
    o->dirty_cache_bytes = *s;
  } else if (key == "dir_cache") {
    QS_RETURN_IF_ERROR(ParseUint(key, v, 16, 1ull << 30, &o->dir_cache_buckets));
  } else if (key == "inode_cache") {
    QS_RETURN_IF_ERROR(ParseUint(key, v, 1024, 1ull << 32, &o->inode_cache));
  } else if (key == "writeback_delay") {
    QS_RETURN_IF_ERROR(ParseUint(key, v, 0, 3600, &n));
    o->writeback_delay_seconds = static_cast<double>(n);
  } else if (key == "threads") {
    QS_RETURN_IF_ERROR(ParseUint(key, v, 1, 256, &n));
    o->max_threads = static_cast<unsigned>(n);
  } else if (key == "logfile") {
    o->logfile = v;
  } else if (key == "metrics") {
    o->metrics = v;
  } else if (key == "verbose") {
    QS_RETURN_IF_ERROR(ParseBool(key, v, &o->verbose));
  } else if (key == "allow_other") {
    QS_RETURN_IF_ERROR(ParseBool(key, v, &o->allow_other));
  } else if (key == "default_permissions") {
    // Always on: qsfs lets the kernel check permissions.
  } else if (key == "foreground") {
    QS_RETURN_IF_ERROR(ParseBool(key, v, &o->foreground));
  } else {
    return Bad("unknown option '" + key + "' (see qsfs --help)");
  }
  return qs::Status::OK();
}

qs::Status LoadConfig(const std::string& path, Options* o) {
  auto table = qs::LoadTomlFile(path);
  if (!table.ok()) return table.status();
  qs::TomlReader r(*table);
  auto host = r.GetStringOr("host", o->host);
  if (!host.ok()) return host.status();
  o->host = *host;
  auto port = r.GetIntOr("port", o->port, 1, 65535);
  if (!port.ok()) return port.status();
  o->port = static_cast<int>(*port);
  auto str = [&](const char* key, std::string* out) -> qs::Status {
    auto v = r.GetStringOr(key, *out);
    if (!v.ok()) return v.status();
    *out = *v;
    return qs::Status::OK();
  };
  QS_RETURN_IF_ERROR(str("unix", &o->unix_path));
  QS_RETURN_IF_ERROR(str("meta_ns", &o->meta_ns));
  QS_RETURN_IF_ERROR(str("data_ns", &o->data_ns));
  QS_RETURN_IF_ERROR(str("meta_password", &o->meta_password));
  QS_RETURN_IF_ERROR(str("data_password", &o->data_password));
  QS_RETURN_IF_ERROR(str("admin_password", &o->admin_password));
  QS_RETURN_IF_ERROR(str("logfile", &o->logfile));
  QS_RETURN_IF_ERROR(str("metrics", &o->metrics));
  auto create = r.GetBoolOr("create_namespaces", o->create_namespaces);
  if (!create.ok()) return create.status();
  o->create_namespaces = *create;
  auto bs = r.GetSizeOr("block_size", o->block_size);
  if (!bs.ok()) return bs.status();
  QS_RETURN_IF_ERROR(CheckBlockSize(*bs));
  o->block_size = static_cast<uint32_t>(*bs);
  auto dirty = r.GetSizeOr("dirty_cache", o->dirty_cache_bytes);
  if (!dirty.ok()) return dirty.status();
  o->dirty_cache_bytes = *dirty;
  auto dirc = r.GetIntOr("dir_cache", static_cast<int64_t>(o->dir_cache_buckets), 16, int64_t{1} << 30);
  if (!dirc.ok()) return dirc.status();
  o->dir_cache_buckets = static_cast<uint64_t>(*dirc);
  auto inoc = r.GetIntOr("inode_cache", static_cast<int64_t>(o->inode_cache), 1024, int64_t{1} << 32);
  if (!inoc.ok()) return inoc.status();
  o->inode_cache = static_cast<uint64_t>(*inoc);
  auto delay = r.GetDoubleOr("writeback_delay", o->writeback_delay_seconds, 0, 3600);
  if (!delay.ok()) return delay.status();
  o->writeback_delay_seconds = *delay;
  auto lease = r.GetIntOr("lease_timeout", o->lease_timeout_seconds, 3, 3600);
  if (!lease.ok()) return lease.status();
  o->lease_timeout_seconds = static_cast<int>(*lease);
  auto wait = r.GetIntOr("wait", o->wait_seconds, 0, 86400);
  if (!wait.ok()) return wait.status();
  o->wait_seconds = static_cast<int>(*wait);
  auto threads = r.GetIntOr("threads", o->max_threads, 1, 256);
  if (!threads.ok()) return threads.status();
  o->max_threads = static_cast<unsigned>(*threads);
  auto b = [&](const char* key, bool* out) -> qs::Status {
    auto v = r.GetBoolOr(key, *out);
    if (!v.ok()) return v.status();
    *out = *v;
    return qs::Status::OK();
  };
  QS_RETURN_IF_ERROR(b("foreground", &o->foreground));
  QS_RETURN_IF_ERROR(b("verbose", &o->verbose));
  QS_RETURN_IF_ERROR(b("allow_other", &o->allow_other));
  QS_RETURN_IF_ERROR(b("fsck", &o->fsck));
  QS_RETURN_IF_ERROR(b("writeback_cache", &o->writeback_cache));
  bool dp = true;
  QS_RETURN_IF_ERROR(b("default_permissions", &dp));
  return r.CheckNoUnknownKeys();
}

}  // namespace

std::string Usage() {
  return "usage: qsfs [-f] [-d] [-o OPTIONS] [--config FILE] [SOURCE] MOUNTPOINT\n"
         "       qsfs --help | --version\n"
         "\n"
         "  -f                  stay in the foreground\n"
         "  -d                  trace FUSE requests (implies -f)\n"
         "  --config FILE       TOML file with the keys below\n"
         "  SOURCE              the mount's name in /proc/mounts (qsfs): the fstab's first field\n"
         "  -o OPTIONS          comma-separated key=value:\n"
         "     config=FILE               as --config; read first, the other options override it\n"
         "     host=ADDR port=N          zdb TCP address (127.0.0.1:9900)\n"
         "     unix=PATH                 zdb Unix socket (replaces host/port)\n"
         "     wait=SECONDS              at start, wait for zdb to answer (300; 0 = fail at once)\n"
         "     meta_ns=NAME data_ns=NAME  namespaces (qsfs-meta, qsfs-data)\n"
         "     meta_password=P data_password=P  the namespaces' passwords (none)\n"
         "     admin_password=P          zdb's admin password, to create the namespaces\n"
         "     nocreate                  fail when a namespace is missing\n"
         "     fsck                      check the filesystem at mount (always after a crash)\n"
         "     lease_timeout=SECONDS     another mount may take over after (30; 3..3600)\n"
         "     block_size=SIZE           data block size of a new filesystem (128K)\n"
         "     dirty_cache=SIZE          unwritten data kept in memory (64M)\n"
         "     dir_cache=N               directory buckets cached (4096)\n"
         "     inode_cache=N             inodes kept in memory (65536)\n"
         "     writeback_delay=SECONDS   unwritten data reaches zdb within (5)\n"
         "     writeback_cache           let the kernel cache writes (off; see README)\n"
         "     threads=N                 FUSE worker threads (8)\n"
         "     metrics=ADDR:PORT         serve Prometheus /metrics (off)\n"
         "     logfile=PATH              log to this file (stderr)\n"
         "     verbose                   log debug messages too\n"
         "     allow_other               let other users use the mount\n"
         "     foreground                as -f\n"
         "     ro rw nosuid suid nodev dev noexec exec sync async dirsync noatime atime\n"
         "                               mount flags, passed to the kernel\n"
         "     _netdev nofail noauto auto user users defaults x-* comment=\n"
         "                               for mount(8) and systemd: ignored\n"
         "\n"
         "Examples:\n"
         "  an fstab line (mount(8) runs qsfs through /sbin/mount.fuse3)\n"
         "      qsfs /mnt/data fuse.qsfs _netdev,config=/etc/qsfs/qsfs.toml 0 0\n"
         "  the same by hand\n"
         "      mount -t fuse.qsfs -o config=/etc/qsfs/qsfs.toml qsfs /mnt/data\n"
         "  directly, in the foreground\n"
         "      qsfs -f -o unix=/run/zdb-staging/zdb.sock,wait=0 /mnt/data\n";
}

qs::Result<Options> ParseOptions(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> dash_o;
  std::vector<std::string> positional;
  for (size_t i = 1; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.show_help = true;
    } else if (a == "-f") {
      o.foreground = true;
    } else if (a == "-d") {
      o.debug = true;
      o.foreground = true;
    } else if (a == "-o") {
      if (i + 1 >= args.size()) return Bad("-o needs an argument");
      dash_o.push_back(args[++i]);
    } else if (a.rfind("-o", 0) == 0) {
      dash_o.push_back(a.substr(2));
    } else if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) return Bad(a + " needs a file name");
      o.config_file = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      o.config_file = a.substr(9);
    } else if (!a.empty() && a[0] == '-') {
      return Bad("unknown flag '" + a + "'");
    } else {
      positional.push_back(a);
    }
  }
  if (o.show_help) return o;
  // [SOURCE] MOUNTPOINT: mount.fuse3 runs `qsfs SOURCE MOUNTPOINT -o ...`.
  if (positional.size() > 2) {
    return Bad("too many arguments ('" + positional[2] + "'): expected [SOURCE] MOUNTPOINT");
  }
  // An empty SOURCE is what mount.fuse3 passes for the old form of an fstab
  // line, `qsfs#  /mnt/data  fuse  ...`: the default name then.
  if (positional.size() == 2 && !positional[0].empty()) {
    o.source = positional[0];
    if (o.source.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:@+-") !=
            std::string::npos) {
      return Bad("source '" + o.source + "': only letters, digits and ._/:@+- (it names the mount in /proc/mounts)");
    }
  }
  if (!positional.empty()) o.mountpoint = positional.back();

  std::vector<std::pair<std::string, std::string>> items;
  for (const std::string& group : dash_o) {
    size_t start = 0;
    while (start <= group.size()) {
      size_t comma = group.find(',', start);
      std::string item = group.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? group.size() + 1 : comma + 1;
      if (item.empty()) continue;
      size_t eq = item.find('=');
      std::string key = item.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
      if (key != "config") {
        items.emplace_back(std::move(key), std::move(value));
      } else if (value.empty()) {
        return Bad("option config needs a file name (config=/etc/qsfs/qsfs.toml)");
      } else if (!o.config_file.empty() && o.config_file != value) {
        return Bad("two configuration files given ('" + o.config_file + "', '" + value + "')");
      } else {
        o.config_file = value;
      }
    }
  }
  // The file first, wherever config= stood: the other -o options override it.
  if (!o.config_file.empty()) {
    qs::Status s = LoadConfig(o.config_file, &o);
    if (!s.ok()) return Bad("config " + o.config_file + ": " + s.message());
  }
  for (const auto& [key, value] : items) QS_RETURN_IF_ERROR(ApplyOption(key, value, &o));
  if (o.mountpoint.empty()) return Bad("no mount point given");
  if (o.meta_ns == o.data_ns) return Bad("meta_ns and data_ns must differ");
  return o;
}

}  // namespace qsfs
