// The daemons under a service manager: readiness (sd_notify READY=1 only
// once the daemon serves, STOPPING=1 at SIGTERM) through a NOTIFY_SOCKET
// the test owns, and SIGHUP (never fatal; the log file is reopened after a
// rename, as logrotate does, and one line says so).
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/zdb_client.h"
#include "tests/common/daemon_process.h"
#include "tests/qsfs/qsfs_fixture.h"

namespace {

using qs_test::DaemonProcess;
using qsfs_test::ReadWholeFile;

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
  }
  ~NotifySocket() { close(fd_); }

  // The next datagram, or "" when none came within `seconds`.
  std::string Receive(int seconds) {
    timeval tv{seconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  // Datagrams until one contains `what` (returned), "" after `seconds`.
  std::string ReceiveContaining(const std::string& what, int seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string d = Receive(1);
      if (d.find(what) != std::string::npos) return d;
    }
    return "";
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Starts `binary` with NOTIFY_SOCKET set for it alone.
bool StartNotified(DaemonProcess* p, const std::string& notify, const std::string& binary,
                   const std::vector<std::string>& args, const std::string& log) {
  setenv("NOTIFY_SOCKET", notify.c_str(), 1);
  bool ok = p->Start(binary, args, log);
  unsetenv("NOTIFY_SOCKET");
  return ok;
}

// PING on a Unix socket, one attempt: the reply's text, or the error.
std::string Ping(const std::string& sock) {
  qs::ZdbAddress a;
  a.unix_path = sock;
  qs::ZdbClientOptions o;
  o.connect_attempts = 1;
  qs::ZdbClient c(a, o);
  qs::Status s = c.Connect();
  if (!s.ok()) return s.ToString();
  auto r = c.Command({"PING"});
  if (!r.ok()) return r.status().ToString();
  return r->str;
}

// Polls `path` until it contains `text`; false after `seconds`.
bool WaitForText(const std::string& path, const std::string& text, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadWholeFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class DaemonServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/daemon_service_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
  }
  void TearDown() override {
    if (!HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  void StartZdb(DaemonProcess* zdb, const std::string& notify = "") {
    std::vector<std::string> args = {"--data", dir_ + "/data", "--index", dir_ + "/index", "--socket", dir_ + "/zdb.sock",
                                     "--logfile", dir_ + "/zdb.log"};
    ASSERT_TRUE(StartNotified(zdb, notify, std::string(QS_BIN_DIR) + "/zdb", args, dir_ + "/zdb.out"));
  }

  // A zstor config with a daemon socket; the backends need not run.
  std::string WriteZstorConfig() {
    std::string key(64, 'a'), meta_key(64, 'b');
    std::string text = "minimal_shards = 1\nexpected_shards = 2\nredundant_groups = 0\n"
                       "socket = \"" + dir_ + "/zstor.sock\"\n"
                       "[encryption]\nalgorithm = \"AES\"\nkey = \"" + key + "\"\n"
                       "[compression]\nalgorithm = \"zstd\"\n"
                       "[meta]\ntype = \"zdb\"\n[meta.config]\nprefix = \"t\"\nminimal_shards = 1\nexpected_shards = 1\n"
                       "[meta.config.encryption]\nkey = \"" + meta_key + "\"\n"
                       "[[meta.config.backends]]\naddress = \"127.0.0.1:1\"\nnamespace = \"meta\"\n"
                       "[[groups]]\n[[groups.backends]]\naddress = \"127.0.0.1:1\"\nnamespace = \"data\"\n"
                       "[[groups.backends]]\naddress = \"127.0.0.1:1\"\nnamespace = \"data2\"\n";
    std::string path = dir_ + "/zstor.toml";
    qsfs_test::WriteFile(path, text);
    chmod(path.c_str(), 0600);  // zstor refuses keys readable by every user
    return path;
  }

  std::string dir_;
};

// READY=1 comes once zdb answers: a PING sent the moment it arrives gets
// PONG. STOPPING=1 comes at SIGTERM.
TEST_F(DaemonServiceTest, ZdbNotifiesReadyWhenServingAndStopping) {
  NotifySocket notify(dir_ + "/notify.sock");
  DaemonProcess zdb;
  StartZdb(&zdb, notify.path());
  std::string ready = notify.ReceiveContaining("READY=1", 30);
  ASSERT_NE(ready, "") << "no READY=1 from zdb within 30 s; log:\n" << ReadWholeFile(dir_ + "/zdb.log");
  EXPECT_EQ(Ping(dir_ + "/zdb.sock"), "PONG");
  EXPECT_NE(ready.find("STATUS=serving unix://" + dir_ + "/zdb.sock"), std::string::npos) << ready;
  kill(zdb.pid(), SIGTERM);
  EXPECT_NE(notify.ReceiveContaining("STOPPING=1", 30), "") << "no STOPPING=1 from zdb";
  EXPECT_TRUE(qsfs_test::WaitExit(zdb));
  EXPECT_EQ(zdb.exit_status(), 0);
}

TEST_F(DaemonServiceTest, ZdbSurvivesSighupAndReopensItsLog) {
  DaemonProcess zdb;
  StartZdb(&zdb);
  ASSERT_TRUE(zdb.WaitUnix(dir_ + "/zdb.sock"));
  const std::string log = dir_ + "/zdb.log";
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  kill(zdb.pid(), SIGHUP);
  EXPECT_TRUE(WaitForText(log, "SIGHUP: log file " + log + " reopened; settings not reloaded", 30))
      << "zdb " << (zdb.Running() ? "running" : "exited with " + std::to_string(zdb.exit_status()))
      << "; new log:\n" << ReadWholeFile(log) << "\nold log:\n" << ReadWholeFile(log + ".1");
  ASSERT_TRUE(zdb.Running()) << "exit status " << zdb.exit_status();
  EXPECT_EQ(Ping(dir_ + "/zdb.sock"), "PONG");
  // The rotated file keeps what was logged before, and nothing new.
  EXPECT_NE(ReadWholeFile(log + ".1").find("zdb ready"), std::string::npos);
  EXPECT_EQ(ReadWholeFile(log + ".1").find("SIGHUP"), std::string::npos);
  EXPECT_EQ(zdb.Stop(), 0);
  EXPECT_NE(ReadWholeFile(log).find("shutting down"), std::string::npos) << ReadWholeFile(log);
}

// zdb takes its signals on a signalfd with them blocked; its hooks must
// not inherit that mask (a hook with SIGTERM blocked outlives a stop).
TEST_F(DaemonServiceTest, ZdbHooksStartWithNoSignalBlocked) {
  const std::string hook = dir_ + "/hook.sh";
  // Not a shell script: dash unblocks every signal at its start.
  qsfs_test::WriteFile(hook,
                       "#!/usr/bin/python3\nimport sys\nif sys.argv[1] == 'ready':\n"
                       "    line = [l for l in open('/proc/self/status') if l.startswith('SigBlk:')][0]\n"
                       "    open('" + dir_ + "/sigblk', 'w').write(line)\n",
                       O_WRONLY | O_CREAT | O_TRUNC, 0755);
  DaemonProcess zdb;
  ASSERT_TRUE(zdb.Start(std::string(QS_BIN_DIR) + "/zdb",
                        {"--data", dir_ + "/data", "--index", dir_ + "/index", "--socket", dir_ + "/zdb.sock",
                         "--hook", hook},
                        dir_ + "/zdb.out"));
  ASSERT_TRUE(zdb.WaitUnix(dir_ + "/zdb.sock")) << ReadWholeFile(dir_ + "/zdb.out");
  // The ready hook is waited for before zdb serves: its file is there.
  EXPECT_EQ(ReadWholeFile(dir_ + "/sigblk"), "SigBlk:\t0000000000000000\n");
  EXPECT_EQ(zdb.Stop(), 0);
}

TEST_F(DaemonServiceTest, ZstorNotifiesReadyWhenServingAndStopping) {
  NotifySocket notify(dir_ + "/notify.sock");
  DaemonProcess zstor;
  ASSERT_TRUE(StartNotified(&zstor, notify.path(), std::string(QS_BIN_DIR) + "/zstor",
                            {"-c", WriteZstorConfig(), "monitor"}, dir_ + "/zstor.log"));
  std::string ready = notify.ReceiveContaining("READY=1", 30);
  ASSERT_NE(ready, "") << "no READY=1 from zstor within 30 s; log:\n" << ReadWholeFile(dir_ + "/zstor.log");
  EXPECT_EQ(Ping(dir_ + "/zstor.sock"), "PONG");
  kill(zstor.pid(), SIGTERM);
  EXPECT_NE(notify.ReceiveContaining("STOPPING=1", 30), "") << "no STOPPING=1 from zstor";
  EXPECT_TRUE(qsfs_test::WaitExit(zstor));
  EXPECT_EQ(zstor.exit_status(), 0);
}

// zstor logs to stderr (the journal under systemd): SIGHUP says there is
// no file to reopen, and the daemon goes on.
TEST_F(DaemonServiceTest, ZstorSurvivesSighup) {
  DaemonProcess zstor;
  const std::string log = dir_ + "/zstor.log";
  ASSERT_TRUE(zstor.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", WriteZstorConfig(), "monitor"}, log));
  ASSERT_TRUE(zstor.WaitUnix(dir_ + "/zstor.sock")) << ReadWholeFile(log);
  kill(zstor.pid(), SIGHUP);
  EXPECT_TRUE(WaitForText(log, "SIGHUP: logging to stderr, no log file to reopen; settings not reloaded", 30))
      << "zstor " << (zstor.Running() ? "running" : "exited with " + std::to_string(zstor.exit_status())) << "; log:\n"
      << ReadWholeFile(log);
  ASSERT_TRUE(zstor.Running()) << "exit status " << zstor.exit_status();
  EXPECT_EQ(Ping(dir_ + "/zstor.sock"), "PONG");
  EXPECT_EQ(zstor.Stop(), 0);
}

// qsfs: READY=1 once mounted (the mount is in the mount table when it
// arrives, and serves), STOPPING=1 at SIGTERM.
TEST_F(DaemonServiceTest, QsfsNotifiesReadyWhenMountedAndStopping) {
  DaemonProcess zdb;
  StartZdb(&zdb);
  ASSERT_TRUE(zdb.WaitUnix(dir_ + "/zdb.sock"));
  const std::string mnt = dir_ + "/mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  const std::string log = dir_ + "/qsfs.log";
  NotifySocket notify(dir_ + "/notify.sock");
  DaemonProcess qsfs;
  ASSERT_TRUE(StartNotified(&qsfs, notify.path(), std::string(QS_BIN_DIR) + "/qsfs",
                            {"-f", "-o", "unix=" + dir_ + "/zdb.sock,logfile=" + log, mnt}, dir_ + "/qsfs.out"));
  std::string ready = notify.ReceiveContaining("READY=1", 60);
  EXPECT_NE(ready, "") << "no READY=1 from qsfs within 60 s; log:\n" << ReadWholeFile(log);
  if (!ready.empty()) {
    EXPECT_TRUE(qsfs_test::IsMounted(mnt));
    qsfs_test::WriteFile(mnt + "/a", "after READY=1");
    EXPECT_EQ(qsfs_test::ReadFile(mnt + "/a"), "after READY=1");
    kill(qsfs.pid(), SIGTERM);
    EXPECT_NE(notify.ReceiveContaining("STOPPING=1", 30), "") << "no STOPPING=1 from qsfs";
    EXPECT_TRUE(qsfs_test::WaitExit(qsfs));
    EXPECT_EQ(qsfs.exit_status(), 0);
  }
  qsfs_test::UnmountAndWait(qsfs, mnt);
  EXPECT_EQ(zdb.Stop(), 0);
}

// SIGHUP reopens qsfs's log and keeps the mount (it used to unmount).
TEST_F(DaemonServiceTest, QsfsSurvivesSighupAndReopensItsLog) {
  DaemonProcess zdb;
  StartZdb(&zdb);
  ASSERT_TRUE(zdb.WaitUnix(dir_ + "/zdb.sock"));
  const std::string mnt = dir_ + "/mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  const std::string log = dir_ + "/qsfs.log";
  DaemonProcess qsfs;
  ASSERT_TRUE(qsfs.Start(std::string(QS_BIN_DIR) + "/qsfs",
                         {"-f", "-o", "unix=" + dir_ + "/zdb.sock,logfile=" + log, mnt}, dir_ + "/qsfs.out"));
  qsfs_test::WaitMounted(qsfs, mnt, log, 60);
  qsfs_test::WriteFile(mnt + "/a", "before SIGHUP");

  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  kill(qsfs.pid(), SIGHUP);
  EXPECT_TRUE(WaitForText(log, "SIGHUP: log file " + log + " reopened; settings not reloaded", 30))
      << "qsfs " << (qsfs.Running() ? "running" : "exited with " + std::to_string(qsfs.exit_status()))
      << "; new log:\n" << ReadWholeFile(log) << "\nold log:\n" << ReadWholeFile(log + ".1");
  EXPECT_TRUE(qsfs.Running()) << "exit status " << qsfs.exit_status();
  EXPECT_TRUE(qsfs_test::IsMounted(mnt));
  EXPECT_EQ(qsfs_test::ReadFile(mnt + "/a"), "before SIGHUP");
  // The rotated file keeps what was logged before, and nothing new.
  EXPECT_NE(ReadWholeFile(log + ".1").find("mounted on"), std::string::npos) << ReadWholeFile(log + ".1");
  EXPECT_EQ(ReadWholeFile(log + ".1").find("SIGHUP"), std::string::npos);
  qsfs_test::UnmountAndWait(qsfs, mnt);
  EXPECT_EQ(qsfs.exit_status(), 0);
  EXPECT_EQ(zdb.Stop(), 0);
}

}  // namespace
