// qsfs and its staging zdb starting and stopping independently: at start
// qsfs waits for zdb (wait=SECONDS) instead of failing at once, and a
// restart of zdb under a mount leaves the mount in place, its fsynced data
// intact and new writes working.
#include <sys/mount.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "tests/common/free_port.h"
#include "tests/common/run_command.h"
#include "tests/qsfs/qsfs_fixture.h"

namespace {

using qsfs_test::IsMounted;
using qsfs_test::ReadFile;
using qsfs_test::ReadWholeFile;
using qsfs_test::WriteFile;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Polls cond every 50 ms until it holds or `seconds` pass.
bool WaitFor(const std::function<bool()>& cond, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

bool Contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// A scratch directory with a mount point, no zdb running yet.
class QsfsWaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qsfs_wait.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    mnt_ = dir_ + "/mnt";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  }
  void TearDown() override {
    qsfs_test::UnmountAndWait(qsfs_, mnt_);
    zdb_.Stop();
    if (HasFailure()) {
      std::fprintf(stderr, "qsfs log:\n%s\nzdb log:\n%s\n", ReadWholeFile(dir_ + "/qsfs.log").c_str(),
                   ReadWholeFile(dir_ + "/zdb.log").c_str());
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  std::string dir_, mnt_;
  qs_test::DaemonProcess zdb_, qsfs_;
};

// zdb on TCP starts after qsfs: qsfs logs that it waits, with the reason
// and the time waited, then mounts once zdb answers.
TEST_F(QsfsWaitTest, WaitsForZdbThatStartsLater) {
  const int port = qs_test::FreePort();
  const std::string log = dir_ + "/qsfs.log";
  ASSERT_TRUE(qsfs_.Start(std::string(QS_BIN_DIR) + "/qsfs",
                          {"-f", "-o", "host=127.0.0.1,port=" + std::to_string(port) + ",wait=120", mnt_}, log));
  ASSERT_TRUE(WaitFor([&] {
    return !qsfs_.Running() || Contains(ReadWholeFile(log), "waiting for zdb at 127.0.0.1:" + std::to_string(port));
  }, 60));
  ASSERT_TRUE(qsfs_.Running()) << ReadWholeFile(log);
  EXPECT_TRUE(Contains(ReadWholeFile(log), "Connection refused")) << ReadWholeFile(log);
  EXPECT_TRUE(Contains(ReadWholeFile(log), " of 120")) << ReadWholeFile(log);
  EXPECT_FALSE(IsMounted(mnt_));
  ASSERT_TRUE(zdb_.Start(std::string(QS_BIN_DIR) + "/zdb",
                         {"--data", dir_ + "/data", "--index", dir_ + "/index", "--listen", "127.0.0.1", "--port",
                          std::to_string(port)},
                         dir_ + "/zdb.log"));
  qsfs_test::WaitMounted(qsfs_, mnt_, log, 120);
  WriteFile(mnt_ + "/f", "after the wait");
  EXPECT_EQ(ReadFile(mnt_ + "/f"), "after the wait");
}

// The same through a Unix socket that does not exist yet (zdb-staging's
// socket at boot).
TEST_F(QsfsWaitTest, WaitsForUnixSocketThatAppearsLater) {
  const std::string sock = dir_ + "/zdb.sock";
  const std::string log = dir_ + "/qsfs.log";
  ASSERT_TRUE(qsfs_.Start(std::string(QS_BIN_DIR) + "/qsfs", {"-f", "-o", "unix=" + sock + ",wait=120", mnt_}, log));
  ASSERT_TRUE(WaitFor([&] { return !qsfs_.Running() || Contains(ReadWholeFile(log), "waiting for zdb at unix:" + sock); },
                      60));
  ASSERT_TRUE(qsfs_.Running()) << ReadWholeFile(log);
  ASSERT_TRUE(zdb_.Start(std::string(QS_BIN_DIR) + "/zdb",
                         {"--data", dir_ + "/data", "--index", dir_ + "/index", "--socket", sock}, dir_ + "/zdb.log"));
  qsfs_test::WaitMounted(qsfs_, mnt_, log, 120);
  WriteFile(mnt_ + "/f", "unix");
  EXPECT_EQ(ReadFile(mnt_ + "/f"), "unix");
}

// No zdb and a short wait: the background start (what mount(8) runs) exits
// 1 once the wait is over, says why on stderr, and leaves no mount.
TEST_F(QsfsWaitTest, ShortWaitWithoutZdbFailsCleanly) {
  const int port = qs_test::FreePort();
  auto start = std::chrono::steady_clock::now();
  auto [rc, out] = qs_test::RunCommand(std::string(QS_BIN_DIR) + "/qsfs -o host=127.0.0.1,port=" +
                                       std::to_string(port) + ",wait=2,logfile=" + dir_ + "/qsfs.log " + mnt_);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(rc, 1) << out;
  EXPECT_TRUE(Contains(out, "cannot reach zdb at 127.0.0.1:" + std::to_string(port))) << out;
  EXPECT_TRUE(Contains(out, "waited 2 s")) << out;
  EXPECT_TRUE(Contains(ReadWholeFile(dir_ + "/qsfs.log"), "waiting for zdb at")) << ReadWholeFile(dir_ + "/qsfs.log");
  EXPECT_GE(took, std::chrono::seconds(2));
  EXPECT_FALSE(IsMounted(mnt_));

  // wait=0: at once, as before.
  start = std::chrono::steady_clock::now();
  std::tie(rc, out) = qs_test::RunCommand(std::string(QS_BIN_DIR) + "/qsfs -o host=127.0.0.1,port=" +
                                          std::to_string(port) + ",wait=0,logfile=" + dir_ + "/qsfs0.log " + mnt_);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_TRUE(Contains(out, "cannot reach zdb at 127.0.0.1:" + std::to_string(port))) << out;
  EXPECT_FALSE(Contains(ReadWholeFile(dir_ + "/qsfs0.log"), "waiting for zdb"));
  EXPECT_FALSE(IsMounted(mnt_));
}

// The pids of the processes whose command line holds `text`, but `except`.
std::vector<pid_t> ProcessesWith(const std::string& text, pid_t except) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = ReadWholeFile(e.path().string() + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid != except && pid != getpid() && Contains(cmd, text)) out.push_back(pid);
  }
  return out;
}

// mount(8) interrupted (Ctrl-C) while qsfs waits for zdb: the waiting
// daemon stops too, so the mount does not appear later behind the user's
// back.
TEST_F(QsfsWaitTest, InterruptedWhileWaitingMountsNothing) {
  const int port = qs_test::FreePort();
  const std::string log = dir_ + "/qsfs.log";
  qs_test::DaemonProcess parent;  // what mount(8) runs: forks, waits for the verdict
  ASSERT_TRUE(parent.Start(std::string(QS_BIN_DIR) + "/qsfs",
                           {"-o", "host=127.0.0.1,port=" + std::to_string(port) + ",wait=120,logfile=" + log, mnt_},
                           dir_ + "/out.log"));
  ASSERT_TRUE(WaitFor([&] { return Contains(ReadWholeFile(log), "waiting for zdb at"); }, 60)) << ReadWholeFile(log);
  std::vector<pid_t> daemon = ProcessesWith(mnt_, parent.pid());
  ASSERT_EQ(daemon.size(), 1u) << "the forked qsfs";
  kill(parent.pid(), SIGINT);  // the terminal's Ctrl-C reaches mount(8), not the daemon's session
  EXPECT_TRUE(WaitFor([&] { return !parent.Running(); }, 30));
  bool stopped = WaitFor([&] { return ProcessesWith(mnt_, -1).empty(); }, 30);
  EXPECT_TRUE(stopped) << "the daemon still waits for zdb after its parent was interrupted";
  if (!stopped) kill(daemon[0], SIGKILL);
  EXPECT_FALSE(IsMounted(mnt_));
}

// A wrong namespace password is not worth waiting for: refused at once.
TEST_F(QsfsWaitTest, ConfigurationErrorsAreNotWaitedFor) {
  const std::string sock = dir_ + "/zdb.sock";
  ASSERT_TRUE(zdb_.Start(std::string(QS_BIN_DIR) + "/zdb",
                         {"--data", dir_ + "/data", "--index", dir_ + "/index", "--socket", sock, "--admin", "secret"},
                         dir_ + "/zdb.log"));
  ASSERT_TRUE(zdb_.WaitUnix(sock));
  auto start = std::chrono::steady_clock::now();
  auto [rc, out] = qs_test::RunCommand(std::string(QS_BIN_DIR) + "/qsfs -o unix=" + sock +
                                       ",admin_password=wrong,wait=120,logfile=" + dir_ + "/qsfs.log " + mnt_);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_TRUE(Contains(out, "refused the admin password")) << out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
  EXPECT_FALSE(IsMounted(mnt_));
}

// The staging zdb restarted (SIGTERM, started again on the same directories
// and socket) under a mount, down longer than the lease lets the mount
// acknowledge changes: the mount stays, fsynced data reads back byte for
// byte, new writes work, and all of it survives a remount.
class QsfsZdbRestartTest : public qsfs_test::QsfsFixture {
 protected:
  QsfsZdbRestartTest() { first_mount_options_ = "lease_timeout=6"; }
};

void FsyncFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  EXPECT_EQ(fsync(fd), 0) << path << ": " << strerror(errno);
  // Later reads come from qsfs, not from the kernel's page cache.
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

TEST_F(QsfsZdbRestartTest, MountSurvivesStagingZdbRestart) {
  const std::string big = RandomBytes(3 << 20, 7);
  WriteFile(P("big"), big);
  WriteFile(P("small"), "fsynced before the restart");
  FsyncFile(P("big"));
  FsyncFile(P("small"));
  ASSERT_EQ(zdb_.Stop(), 0);
  // Down for longer than 2/3 of the lease timeout (4 s): the mount stops
  // acknowledging changes meanwhile, but stays mounted and answers.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // A change during the outage may fail (EIO) but must not hang or, when
  // acknowledged with fsync, be lost.
  bool during_acked = false;
  int fd = open(P("during").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    during_acked = write(fd, "during", 6) == 6 && fsync(fd) == 0;
    if (close(fd) != 0) during_acked = false;
  }
  std::this_thread::sleep_for(std::chrono::seconds(6));
  struct stat st {};
  EXPECT_EQ(stat(mnt_.c_str(), &st), 0) << strerror(errno);
  EXPECT_TRUE(IsMounted(mnt_));
  EXPECT_TRUE(qsfs_.Running()) << ReadWholeFile(dir_ + "/qsfs.log");
  StartZdb();

  // A change succeeds again once the lease is renewed (every second here).
  int last_errno = 0;
  EXPECT_TRUE(WaitFor([&] {
    int fd = open(P("after").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      last_errno = errno;
      return false;
    }
    bool ok = write(fd, "written after", 13) == 13 && fsync(fd) == 0;
    if (!ok) last_errno = errno;
    close(fd);
    return ok;
  }, 60)) << "last error: " << strerror(last_errno);
  EXPECT_TRUE(IsMounted(mnt_));
  EXPECT_TRUE(ReadFile(P("big")) == big) << "big differs after the zdb restart";
  EXPECT_EQ(ReadFile(P("small")), "fsynced before the restart");
  EXPECT_EQ(ReadFile(P("after")), "written after");
  if (during_acked) {
    EXPECT_EQ(ReadFile(P("during")), "during");
  }
  const std::string more = RandomBytes(1 << 20, 8);
  WriteFile(P("more"), more);
  FsyncFile(P("more"));
  EXPECT_TRUE(ReadFile(P("more")) == more);

  Remount();
  EXPECT_TRUE(ReadFile(P("big")) == big);
  EXPECT_EQ(ReadFile(P("small")), "fsynced before the restart");
  EXPECT_EQ(ReadFile(P("after")), "written after");
  if (during_acked) {
    EXPECT_EQ(ReadFile(P("during")), "during");
  }
  EXPECT_TRUE(ReadFile(P("more")) == more);
  EXPECT_FALSE(Contains(ReadWholeFile(dir_ + "/qsfs.log"), "fenced:")) << ReadWholeFile(dir_ + "/qsfs.log");
}

// zdb killed (SIGKILL, a crash) with data written but not yet fsynced in
// qsfs's cache, then started again: what fsync acknowledges afterwards
// reads back byte for byte; fsync may fail (EIO) but never acknowledges
// wrong or missing bytes; fsynced data from before the crash is intact.
TEST_F(QsfsZdbRestartTest, UnsyncedDataAcrossAZdbCrashIsNeverWrong) {
  const std::string synced = RandomBytes(1 << 20, 9);
  WriteFile(P("synced"), synced);
  FsyncFile(P("synced"));
  const std::string pending = RandomBytes(2 << 20, 10);
  // O_CLOEXEC: the zdb started below must not inherit a file of the mount
  // (it would keep the unmounted filesystem alive, and qsfs waiting).
  int fd = open(P("pending").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(write(fd, pending.data(), pending.size()), static_cast<ssize_t>(pending.size()));
  zdb_.Kill();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the write-back (every second) fails meanwhile
  StartZdb();
  int fsync_errno = 0;
  EXPECT_TRUE(WaitFor([&] {
    fsync_errno = fsync(fd) == 0 ? 0 : errno;
    return fsync_errno == 0;
  }, 60)) << "fsync after the restart: " << strerror(fsync_errno);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  EXPECT_EQ(close(fd), 0) << strerror(errno);
  EXPECT_TRUE(ReadFile(P("pending")) == pending) << "pending differs after fsync succeeded";
  EXPECT_TRUE(ReadFile(P("synced")) == synced);
  Remount();
  EXPECT_TRUE(ReadFile(P("pending")) == pending) << "pending differs after a remount";
  EXPECT_TRUE(ReadFile(P("synced")) == synced);
}

}  // namespace
