// qsfs command line and configuration file.
//   qsfs [-f] [-d] [-o key=value,...] [--config FILE] [SOURCE] MOUNTPOINT
// Options from -o override the same keys from the TOML file (given with
// --config or as -o config=FILE). The mount(8) shape, as /sbin/mount.fuse3
// runs it for type fuse.qsfs (`qsfs SOURCE MOUNTPOINT -o rw,...`), is
// accepted: the generic mount flags (ro, nosuid, noexec, ...) go to the
// kernel, the options only mount(8) and systemd act on (_netdev, nofail,
// noauto, x-*, ...) are ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace qsfs {

struct Options {
  // zdb
  std::string host = "127.0.0.1";
  int port = 9900;
  std::string unix_path;  // when set, replaces host/port
  std::string meta_ns = "qsfs-meta";
  std::string data_ns = "qsfs-data";
  std::string meta_password;
  std::string data_password;
  std::string admin_password;  // for NSNEW/NSSET when zdb runs with --admin
  bool create_namespaces = true;
  // Run the consistency check (fsck.cc) at mount even after a clean unmount
  // (it always runs after a crash).
  bool fsck = false;
  // Mount lease (docs/qsfs-format.md, "Mount lease and fencing"): another
  // mount may take the namespaces over once this mount's lease has not been
  // renewed for this long; this mount stops acknowledging changes after
  // two thirds of it without a renewal.
  int lease_timeout_seconds = 30;
  // At start, how long to wait for zdb to accept connections (it may still
  // be starting, at boot), retrying with back-off; 0 = fail at once.
  int wait_seconds = 300;

  // filesystem
  uint32_t block_size = 128 * 1024;  // used when formatting a new filesystem
  uint64_t dirty_cache_bytes = 64ull << 20;
  uint64_t dir_cache_buckets = 4096;
  // Inodes kept in memory. Beyond it, clean inodes the kernel still holds
  // are parked: only their lookup count and the name they were looked up by
  // stay (reloaded from zdb on use); beyond it parked ones, the kernel is
  // asked to drop those names, so that it forgets the inodes.
  uint64_t inode_cache = 65536;
  double writeback_delay_seconds = 5.0;
  // The kernel's write-back cache (FUSE_CAP_WRITEBACK_CACHE): writes land in
  // the page cache and reach qsfs when the kernel writes them back (close,
  // fsync, memory pressure, and every writeback_delay/2 at most: qsfs syncs
  // its own mount while a file is open for writing). Off by default:
  // SEEK_DATA/SEEK_HOLE then report every file as data (the kernel answers).
  bool writeback_cache = false;
  unsigned max_threads = 8;

  // process
  std::string mountpoint;
  // What mount(8) calls the device (the fstab's first field): the name the
  // mount shows in /proc/mounts and df ("qsfs" when not given).
  std::string source = "qsfs";
  // Generic mount flags for the kernel, in the order given: ro, rw, nosuid,
  // suid, nodev, dev, noexec, exec, sync, async, dirsync, noatime, atime.
  std::vector<std::string> mount_flags;
  bool foreground = false;
  bool debug = false;  // libfuse request tracing (implies foreground)
  bool verbose = false;
  std::string logfile;
  std::string metrics;  // "ADDR:PORT" of a Prometheus /metrics endpoint, empty = off
  bool allow_other = false;
  std::string config_file;
  bool show_help = false;
};

std::string Usage();

// Parses argv (argv[0] is skipped). InvalidArgument with a message that
// names the offending option.
qs::Result<Options> ParseOptions(const std::vector<std::string>& args);

}  // namespace qsfs
