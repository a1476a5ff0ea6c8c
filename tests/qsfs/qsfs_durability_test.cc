// Integration tests: a real qsfs mounted with FUSE on a real zdb, what
// survives and what is refused: kill -9, a crash's leftovers repaired at
// mount, SIGTERM, the write-back cache, zdb restarts, full namespaces and
// disks, a second mount, and the metrics that follow it all.
#include <dirent.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "tests/common/http_get.h"
#include "tests/common/run_command.h"
#include "qsfs/block_map.h"
#include "qsfs/inode.h"
#include "qsfs/keys.h"
#include "tests/qsfs/qsfs_fixture.h"

namespace {

using namespace qsfs_test;  // the fixture and its helpers
using QsfsTest = QsfsFixture;

TEST_F(QsfsTest, KillNineAfterFsyncKeepsData) {
  std::string data = RandomBytes(3 << 20, 5);
  int fd = open(P("durable").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(mkdir(P("dir").c_str(), 0755), 0);
  int dfd = open(mnt_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_EQ(fsync(dfd), 0);
  close(dfd);
  kill(qsfs_.pid(), SIGKILL);
  WaitExit();
  close(fd);  // ENOTCONN, the daemon is gone
  umount2(mnt_.c_str(), MNT_DETACH);
  Mount();  // the dead mount's lease does not block
  EXPECT_EQ(ReadFile(P("durable")), data);
  EXPECT_TRUE(S_ISDIR(Stat(P("dir")).st_mode));
}

// What a crash can leave behind (docs/qsfs-format.md, "Crash
// consistency"), made by hand in zdb: data blocks no map references, an
// inode no name reaches (with its map and block), a link count too high
// and one too low. The mount after a kill -9 checks the filesystem and
// repairs all of it; what was there stays byte for byte.
TEST_F(QsfsTest, MountAfterCrashFreesLeaksAndFixesLinkCounts) {
  std::string data = RandomBytes(600000, 7);
  WriteFile(P("kept"), data);
  WriteFile(P("two-names"), "linked");
  ASSERT_EQ(link(P("two-names").c_str(), P("second-name").c_str()), 0);
  WriteFile(P("one-name"), "single");
  ASSERT_EQ(mkdir(P("dir").c_str(), 0755), 0);
  const ino_t two = Stat(P("two-names")).st_ino, one = Stat(P("one-name")).st_ino;
  Unmount();

  qs::ZdbAddress meta_addr, data_addr;
  meta_addr.unix_path = data_addr.unix_path = sock_;
  meta_addr.ns = "qsfs-meta";
  data_addr.ns = "qsfs-data";
  qs::ZdbClient meta(meta_addr), dat(data_addr);
  qsfs_test::JoinFence(meta, "qsfs-meta");
  qsfs_test::JoinFence(dat, "qsfs-data");
  // Blocks nothing references (a flush that died before its map).
  std::vector<std::string> leaked_ids;
  for (int i = 0; i < 3; ++i) {
    auto id = dat.Set("", "leaked block " + std::to_string(i));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    leaked_ids.push_back(*id);
  }
  // An inode no name reaches, with a map and a block of its own.
  auto block = dat.Set("", "block of the nameless inode");
  ASSERT_TRUE(block.ok());
  auto rec = meta.Get(qsfs::InodeKey(one));
  ASSERT_TRUE(rec.ok() && rec->has_value());
  const uint64_t nameless = 900000;
  ASSERT_TRUE(meta.Set(qsfs::InodeKey(nameless), **rec).ok());
  std::vector<uint64_t> slots(qsfs::kBlocksPerChunk, 0);
  slots[0] = qs::DecodeFixed64(block->data()) + 1;
  ASSERT_TRUE(meta.Set(qsfs::BlockMapKey(nameless, 0), qsfs::EncodeBlockMapChunk(slots)).ok());
  // Link counts: 5 for a file with two names, 0... rather 1 too low for
  // the other (a rename cut in the middle).
  auto set_nlink = [&](uint64_t ino, uint32_t nlink) {
    auto r = meta.Get(qsfs::InodeKey(ino));
    ASSERT_TRUE(r.ok() && r->has_value());
    auto in = qsfs::DecodeInode(ino, **r);
    ASSERT_TRUE(in.ok());
    in->nlink = nlink;
    ASSERT_TRUE(meta.Set(qsfs::InodeKey(ino), qsfs::EncodeInode(*in)).ok());
  };
  set_nlink(two, 5);
  set_nlink(one, 0);

  // A clean mount does not look (no fsck option): the damage is still there.
  Mount();
  EXPECT_EQ(Stat(P("two-names")).st_nlink, 5u);
  // Then a crash; the next mount checks.
  kill(qsfs_.pid(), SIGKILL);
  WaitExit();
  umount2(mnt_.c_str(), MNT_DETACH);
  Mount();
  std::string log = qsfs_test::ReadWholeFile(dir_ + "/qsfs.log");
  EXPECT_NE(log.find("the previous mount did not end cleanly"), std::string::npos) << log;
  EXPECT_NE(log.find("freed 1 inodes no name reached and 4 unreferenced blocks; fixed 2 link counts"),
            std::string::npos) << log;
  for (const std::string& id : leaked_ids) EXPECT_FALSE(dat.Exists(id).value()) << "leaked block still there";
  EXPECT_FALSE(dat.Exists(*block).value());
  EXPECT_FALSE(meta.Exists(qsfs::InodeKey(nameless)).value());
  EXPECT_FALSE(meta.Exists(qsfs::BlockMapKey(nameless, 0)).value());
  EXPECT_EQ(Stat(P("two-names")).st_nlink, 2u);
  EXPECT_EQ(Stat(P("one-name")).st_nlink, 1u);
  EXPECT_EQ(Stat(P("dir")).st_nlink, 2u);
  EXPECT_EQ(Stat(mnt_).st_nlink, 3u);  // root: ., .., dir
  EXPECT_EQ(ReadFile(P("kept")), data);
  EXPECT_EQ(ReadFile(P("second-name")), "linked");
  EXPECT_EQ(ReadFile(P("one-name")), "single");
  // Unlinking the file whose count was too low frees it only at its last name.
  ASSERT_EQ(unlink(P("second-name").c_str()), 0);
  EXPECT_EQ(ReadFile(P("two-names")), "linked");
  // Checked again on request: nothing left to repair.
  Unmount();
  Mount("fsck");
  log = qsfs_test::ReadWholeFile(dir_ + "/qsfs.log");
  EXPECT_NE(log.find("freed 0 inodes no name reached and 0 unreferenced blocks; fixed 0 link counts"),
            std::string::npos) << log;
  EXPECT_EQ(ReadFile(P("kept")), data);
}

// A directory bucket that no longer decodes hides names: the check then
// frees no inode and changes no link count, so the files it names, and
// their blocks, are still there once the bucket is repaired.
TEST_F(QsfsTest, CheckFreesNothingWhileADirectoryIsUnreadable) {
  ASSERT_EQ(mkdir(P("d").c_str(), 0755), 0);
  const std::string data = RandomBytes(300000, 8);
  WriteFile(P("d/f"), data);
  WriteFile(P("other"), "fine");
  const ino_t d = Stat(P("d")).st_ino, f = Stat(P("d/f")).st_ino;
  Unmount();
  qs::ZdbAddress meta_addr;
  meta_addr.unix_path = sock_;
  meta_addr.ns = "qsfs-meta";
  qs::ZdbClient meta(meta_addr);
  qsfs_test::JoinFence(meta, "qsfs-meta");
  auto bucket = meta.Get(qsfs::DirBucketKey(d, 0));
  ASSERT_TRUE(bucket.ok() && bucket->has_value());
  ASSERT_TRUE(meta.Set(qsfs::DirBucketKey(d, 0), "not a directory bucket").ok());

  Mount("fsck");
  std::string log = qsfs_test::ReadWholeFile(dir_ + "/qsfs.log");
  EXPECT_NE(log.find("1 directory buckets are unreadable"), std::string::npos) << log;
  EXPECT_NE(log.find("freed 0 inodes no name reached"), std::string::npos) << log;
  EXPECT_TRUE(meta.Exists(qsfs::InodeKey(f)).value());
  EXPECT_TRUE(meta.Exists(qsfs::BlockMapKey(f, 0)).value());
  EXPECT_EQ(ReadFile(P("other")), "fine");
  Unmount();
  qsfs_test::JoinFence(meta, "qsfs-meta");  // that mount fenced higher
  ASSERT_TRUE(meta.Set(qsfs::DirBucketKey(d, 0), **bucket).ok());
  Mount("fsck");
  EXPECT_EQ(ReadFile(P("d/f")), data);
  EXPECT_EQ(Stat(P("d/f")).st_nlink, 1u);
}

TEST_F(QsfsTest, SigtermAndUnmountFlushEverything) {
  WriteFile(P("a"), "written before SIGTERM");
  qsfs_.Stop();
  EXPECT_EQ(qsfs_.exit_status(), 0);
  EXPECT_FALSE(qsfs_test::IsMounted(mnt_));
  Mount();
  EXPECT_EQ(ReadFile(P("a")), "written before SIGTERM");
  // Without fsync or close, data reaches zdb within the write-back delay
  // (1 s here).
  int fd = open(P("b").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "written back", 12), 12);
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  kill(qsfs_.pid(), SIGKILL);
  WaitExit();
  close(fd);
  umount2(mnt_.c_str(), MNT_DETACH);
  Mount();
  EXPECT_EQ(ReadFile(P("b")), "written back");
}

// writeback_cache: writes wait in the kernel's page cache, yet still reach
// zdb within the write-back delay while the file stays open, survive a
// SIGTERM, and O_APPEND writes land where the kernel put them.
TEST_F(QsfsTest, WritebackCacheKeepsTheDelayAndSurvivesSigterm) {
  Unmount();
  Mount("writeback_cache");
  EXPECT_NE(qsfs_test::ReadWholeFile(dir_ + "/qsfs.log").find("kernel write-back cache"), std::string::npos);
  // Open for writing all along: only the periodic sync of the mount gets
  // the pages out of the kernel before the kill.
  const std::string kept = RandomBytes(3 << 20, 21);
  int fd = open(P("open-all-along").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, kept.data(), kept.size()), static_cast<ssize_t>(kept.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  kill(qsfs_.pid(), SIGKILL);
  WaitExit();
  close(fd);
  umount2(mnt_.c_str(), MNT_DETACH);
  Mount("writeback_cache");
  EXPECT_EQ(ReadFile(P("open-all-along")), kept);

  // SIGTERM right after the writes: qsfs has the kernel write back its
  // pages before it stops.
  const std::string late = RandomBytes(2 << 20, 22);
  fd = open(P("then-sigterm").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, late.data(), late.size()), static_cast<ssize_t>(late.size()));
  int afd = open(P("appended").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(afd, 0);
  ASSERT_EQ(pwrite(afd, "first,", 6, 0), 6);  // O_APPEND: the offset is ignored
  ASSERT_EQ(write(afd, "second", 6), 6);
  qsfs_.Stop();
  EXPECT_EQ(qsfs_.exit_status(), 0);
  close(fd);
  close(afd);
  Mount("writeback_cache");
  EXPECT_EQ(ReadFile(P("then-sigterm")), late);
  EXPECT_EQ(ReadFile(P("appended")), "first,second");
  EXPECT_EQ(Stat(P("then-sigterm")).st_size, static_cast<off_t>(late.size()));

  // kill -9 while a write-back of the kernel's pages waits (zdb stopped: the
  // kernel's SETATTR of the file's times waits on it): qsfs dies at once. No
  // thread of it waits on its own mount; one that did could not die, would
  // keep /dev/fuse open and hang the mount for good.
  const dev_t dev = Stat(mnt_).st_dev;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int wfd = open(P("busy").c_str(), O_WRONLY | O_CREAT, 0644);
    const std::string chunk = RandomBytes(64 << 10, 23);
    while (wfd >= 0 && !stop && write(wfd, chunk.data(), chunk.size()) > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (wfd >= 0) close(wfd);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(zdb_.pid(), SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  kill(qsfs_.pid(), SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (qsfs_.Running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool died = !qsfs_.Running();
  EXPECT_TRUE(died) << "qsfs still there 15 s after kill -9";
  if (!died) {  // unblock the writer and the half-dead qsfs: abort this connection
    mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, nullptr);  // EBUSY when mounted
    std::ofstream(std::string("/sys/fs/fuse/connections/") + std::to_string(minor(dev)) + "/abort") << "1";
    EXPECT_TRUE(WaitExit(15000));
  }
  kill(zdb_.pid(), SIGCONT);
  stop = true;
  writer.join();
  umount2(mnt_.c_str(), MNT_DETACH);
  Mount("writeback_cache");
  EXPECT_EQ(ReadFile(P("then-sigterm")), late);
}

TEST_F(QsfsTest, ZdbRestartUnderneath) {
  WriteFile(P("before"), "one");
  zdb_.Stop();
  // zdb down: after its reconnect attempts qsfs answers EIO, it never hangs.
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(QS_ERRNO(mkdir(P("while-down").c_str(), 0755)), EIO);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  StartZdb();
  EXPECT_EQ(QS_ERRNO(access(P("while-down").c_str(), F_OK)), ENOENT);
  EXPECT_EQ(ReadFile(P("before")), "one");
  WriteFile(P("after"), "two");
  int fd = open(P("after").c_str(), O_RDONLY);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  EXPECT_EQ(ReadFile(P("after")), "two");
  Remount();
  EXPECT_EQ(ReadFile(P("after")), "two");
}

TEST_F(QsfsTest, NamespaceFullGivesEnospcAndStaysUsable) {
  qs::ZdbClient admin = Admin();
  auto r = admin.Command({"NSSET", "qsfs-data", "maxsize", std::to_string(4 << 20)});
  ASSERT_TRUE(r.ok() && !r->is_error()) << r->DebugString();
  struct statvfs sv;
  ASSERT_EQ(statvfs(mnt_.c_str(), &sv), 0);
  EXPECT_EQ(sv.f_blocks * sv.f_frsize, 4u << 20);
  std::string chunk = RandomBytes(1 << 20, 11);
  int fd = open(P("fill").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  int err = 0;
  for (int i = 0; i < 8 && err == 0; i++) {
    if (write(fd, chunk.data(), chunk.size()) < 0) err = errno;
  }
  if (err == 0 && fsync(fd) < 0) err = errno;
  if (close(fd) < 0 && err == 0) err = errno;
  EXPECT_EQ(err, ENOSPC);
  ASSERT_EQ(unlink(P("fill").c_str()), 0);
  // The space comes back with the unlink, or with the release the kernel
  // sends just after close returned.
  qsfs_test::WaitForDataNamespace(Admin(), "\ndata_size_bytes: 0\n");
  WriteFile(P("small"), "still works");
  fd = open(P("small").c_str(), O_RDONLY);
  EXPECT_EQ(fsync(fd), 0);
  close(fd);
  EXPECT_EQ(ReadFile(P("small")), "still works");
  Remount();
  EXPECT_EQ(ReadFile(P("small")), "still works");
  EXPECT_EQ(QS_ERRNO(access(P("fill").c_str(), F_OK)), ENOENT);
}

TEST_F(QsfsTest, SecondMountAndUnreachableZdbRefused) {
  std::string other = dir_ + "/other";
  ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
  qs_test::DaemonProcess second;
  ASSERT_TRUE(second.Start(std::string(QS_BIN_DIR) + "/qsfs", QsfsArgs(other), dir_ + "/second.log"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (second.Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(second.exit_status(), 1);
  EXPECT_NE(qsfs_test::ReadWholeFile(dir_ + "/second.log").find("already mounted"), std::string::npos);
  EXPECT_FALSE(qsfs_test::IsMounted(other));

  qs_test::DaemonProcess lost;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(lost.Start(std::string(QS_BIN_DIR) + "/qsfs",
                         {"-f", "-o", "unix=" + dir_ + "/nothing.sock,wait=0", other}, dir_ + "/lost.log"));
  while (lost.Running() && std::chrono::steady_clock::now() < start + std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(lost.exit_status(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_NE(qsfs_test::ReadWholeFile(dir_ + "/lost.log").find("cannot reach zdb"), std::string::npos);

  // A data namespace in user mode is a configuration error, said so.
  qs::ZdbClient admin = Admin();
  auto r = admin.Command({"NSNEW", "userdata"});
  ASSERT_TRUE(r.ok() && !r->is_error());
  qs_test::DaemonProcess wrong;
  ASSERT_TRUE(wrong.Start(std::string(QS_BIN_DIR) + "/qsfs",
                          {"-f", "-o", "unix=" + sock_ + ",meta_ns=m2,data_ns=userdata", other}, dir_ + "/wrong.log"));
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (wrong.Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(wrong.exit_status(), 1);
  EXPECT_NE(qsfs_test::ReadWholeFile(dir_ + "/wrong.log").find("must be sequential"), std::string::npos);
  EXPECT_FALSE(qsfs_test::IsMounted(other));
}

// metrics=ADDR:PORT serves operations, bytes, cache and zdb figures that
// follow what the mount did; a port already taken refuses the mount.
TEST_F(QsfsTest, MetricsCountOperationsBytesAndRoundTrips) {
  Unmount();
  int port = 26000 + static_cast<int>(getpid() % 1000);
  Mount("metrics=127.0.0.1:" + std::to_string(port));
  WriteFile(P("m"), std::string(300000, 'q'));
  EXPECT_EQ(ReadFile(P("m")).size(), 300000u);
  EXPECT_EQ(mkdir(P("d").c_str(), 0755), 0);
  struct stat st;
  EXPECT_EQ(stat(P("nope").c_str(), &st), -1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // gauges refresh with the write-back tick
  std::string page = qs_test::HttpGet(port, "/metrics");
  EXPECT_GE(MetricValue(page, "qsfs_operations_total{op=\"write\"}"), 1) << page.substr(0, 3000);
  EXPECT_EQ(MetricValue(page, "qsfs_bytes_total{direction=\"write\"}"), 300000);
  // With the write-back cache the kernel serves the read from its pages.
  if (!WritebackCache()) {
    EXPECT_GE(MetricValue(page, "qsfs_bytes_total{direction=\"read\"}"), 300000);
  }
  EXPECT_GE(MetricValue(page, "qsfs_operations_total{op=\"mkdir\"}"), 1);
  EXPECT_GE(MetricValue(page, "qsfs_operation_errors_total{op=\"lookup\"}"), 1);  // ENOENT of "nope"
  EXPECT_GE(MetricValue(page, "qsfs_operation_duration_seconds_count{op=\"write\"}"), 1);
  EXPECT_GE(MetricValue(page, "qsfs_zdb_round_trips_total{namespace=\"data\"}"), 1);
  EXPECT_GE(MetricValue(page, "qsfs_zdb_round_trips_total{namespace=\"meta\"}"), 1);
  EXPECT_GE(MetricValue(page, "qsfs_dir_cache_lookups_total{result=\"hit\"}"), 1);
  EXPECT_EQ(MetricValue(page, "qsfs_dirty_bytes"), 0);  // closed: written back
  EXPECT_GE(MetricValue(page, "qsfs_cached_inodes"), 1);
  // A read-only open's close costs no FLUSH; a writable one's does. (With
  // the write-back cache the kernel sends FLUSH on every close.)
  const int ro_flush = WritebackCache() ? 1 : 0;
  const double flushes = MetricValue(page, "qsfs_operations_total{op=\"flush\"}");
  for (int i = 0; i < 5; ++i) {
    int fd = open(P("m").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(close(fd), 0);
  }
  page = qs_test::HttpGet(port, "/metrics");
  EXPECT_EQ(MetricValue(page, "qsfs_operations_total{op=\"flush\"}"), flushes + 5 * ro_flush);
  int wfd = open(P("m").c_str(), O_WRONLY);
  ASSERT_GE(wfd, 0);
  ASSERT_EQ(close(wfd), 0);
  page = qs_test::HttpGet(port, "/metrics");
  EXPECT_EQ(MetricValue(page, "qsfs_operations_total{op=\"flush\"}"), flushes + 5 * ro_flush + 1);

  // A second mount asking for the same port is refused with the reason.
  std::string other = dir_ + "/mnt2";
  ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
  auto [rc, out] = qs_test::RunCommand(std::string(QS_BIN_DIR) + "/qsfs -o unix=" + sock_ + ",meta_ns=m2,data_ns=d2,metrics=127.0.0.1:" +
                                       std::to_string(port) + " " + other);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("metrics: cannot listen"), std::string::npos) << out;
  EXPECT_FALSE(qsfs_test::IsMounted(other));
}

// zdb's disk full (a 16 MiB tmpfs under its data): writing fails with
// ENOSPC, what was fsynced before reads back intact, then and after a
// restart of zdb and a remount.
TEST_F(QsfsTest, DiskFullGivesEnospcAndKeepsEarlierData) {
  Unmount();
  zdb_.Stop();
  const std::string small = dir_ + "/small";
  ASSERT_EQ(mkdir(small.c_str(), 0755), 0);
  ASSERT_EQ(mount("tmpfs", small.c_str(), "tmpfs", 0, "size=16m"), 0) << strerror(errno);
  struct Unmounter {
    std::string path;
    ~Unmounter() { umount2(path.c_str(), MNT_DETACH); }
  } unmounter{small};
  auto start = [&] {
    ASSERT_TRUE(zdb_.Start(std::string(QS_BIN_DIR) + "/zdb", {"--data", small + "/data", "--index", small + "/index", "--socket", sock_},
                           dir_ + "/zdb.log"));
    ASSERT_TRUE(zdb_.WaitUnix(sock_));
  };
  start();
  Mount();
  std::mt19937 rng(3);
  std::string keep(4 << 20, '\0');
  for (auto& c : keep) c = static_cast<char>(rng());
  WriteFile(P("keep"), keep);
  int fd = open(P("keep").c_str(), O_RDONLY);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);

  fd = open(P("big").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::string chunk(1 << 20, 'b');
  int err = 0;
  for (int i = 0; i < 32 && err == 0; ++i)
    if (write(fd, chunk.data(), chunk.size()) < 0) err = errno;
  if (err == 0 && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && err == 0) err = errno;
  EXPECT_EQ(err, ENOSPC);
  EXPECT_TRUE(ReadFile(P("keep")) == keep);
  struct statvfs sv;
  EXPECT_EQ(statvfs(mnt_.c_str(), &sv), 0);  // still answering

  Unmount();
  zdb_.Stop();
  start();
  Mount();
  EXPECT_TRUE(ReadFile(P("keep")) == keep);
  Unmount();
  zdb_.Stop();
}

}  // namespace
