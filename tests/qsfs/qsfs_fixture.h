// Test fixture: a real zdb on a Unix socket in a temporary directory and a
// real qsfs mounted (FUSE) on a directory next to it. Teardown always
// unmounts, lazily when the daemon is dead or the mount busy.
#pragma once

#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/zdb_client.h"
#include "tests/common/daemon_process.h"

namespace qsfs_test {

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// True when `path` is a mount point in this mount namespace.
inline bool IsMounted(const std::string& path) {
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string id, parent, dev, root, mnt;
    in >> id >> parent >> dev >> root >> mnt;
    if (mnt == path) return true;
  }
  return false;
}

// Waits until qsfs (started in the foreground) has mounted mnt; fails the
// test with its log if it exits first or takes longer than `seconds`.
inline void WaitMounted(qs_test::DaemonProcess& qsfs, const std::string& mnt, const std::string& log, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!IsMounted(mnt)) {
    ASSERT_TRUE(qsfs.Running()) << "qsfs exited: " << ReadWholeFile(log);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "qsfs did not mount";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Waits for the daemon to exit by itself (it flushes after the kernel
// unmount), then kills it if it does not. False when it had to be killed.
inline bool WaitExit(qs_test::DaemonProcess& qsfs, int timeout_ms = 60000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (qsfs.Running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      qsfs.Kill();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Clean unmount: umount(2), the daemon flushes and exits; lazily detached
// when the mount is busy or the daemon dead.
inline void UnmountAndWait(qs_test::DaemonProcess& qsfs, const std::string& mnt) {
  if (IsMounted(mnt) && umount2(mnt.c_str(), 0) != 0) umount2(mnt.c_str(), MNT_DETACH);
  WaitExit(qsfs);
  if (IsMounted(mnt)) umount2(mnt.c_str(), MNT_DETACH);
}

class QsfsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qsfs_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);  // other users reach the mount point
    sock_ = dir_ + "/zdb.sock";
    mnt_ = dir_ + "/mnt";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    StartZdb();
    Mount(first_mount_options_);
  }

  void TearDown() override {
    Unmount();
    zdb_.Stop();
    if (!HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    } else {
      std::fprintf(stderr, "qsfs log:\n%s\n", ReadWholeFile(dir_ + "/qsfs.log").c_str());
    }
  }

  void StartZdb() {
    ASSERT_TRUE(zdb_.Start(std::string(QS_BIN_DIR) + "/zdb",
                           {"--data", dir_ + "/data", "--index", dir_ + "/index", "--socket", sock_},
                           dir_ + "/zdb.log"));
    ASSERT_TRUE(zdb_.WaitUnix(sock_));
  }

  static bool WritebackCache() {
    const char* more = std::getenv("QSFS_TEST_OPTIONS");
    return more != nullptr && std::string(more).find("writeback_cache") != std::string::npos;
  }

  // QSFS_TEST_OPTIONS (e.g. writeback_cache) is added to every mount: CTest
  // runs the mount tests once without and once with the write-back cache.
  std::vector<std::string> QsfsArgs(const std::string& mnt, const std::string& extra = "") {
    std::string o = "unix=" + sock_ + ",writeback_delay=1,allow_other";
    if (const char* more = std::getenv("QSFS_TEST_OPTIONS"); more != nullptr && *more != '\0') o += std::string(",") + more;
    if (!extra.empty()) o += "," + extra;
    return {"-f", "-o", o, mnt};
  }

  void Mount(const std::string& extra = "") {
    ASSERT_TRUE(qsfs_.Start(std::string(QS_BIN_DIR) + "/qsfs", QsfsArgs(mnt_, extra), dir_ + "/qsfs.log"));
    WaitMounted(qsfs_, mnt_, dir_ + "/qsfs.log", 30);
  }

  bool WaitExit(int timeout_ms = 60000) { return qsfs_test::WaitExit(qsfs_, timeout_ms); }

  void Unmount() { UnmountAndWait(qsfs_, mnt_); }

  void Remount() {
    Unmount();
    EXPECT_EQ(qsfs_.exit_status(), 0);
    Mount();
  }

  std::string P(const std::string& name) const { return mnt_ + "/" + name; }

  qs::ZdbClient Admin() {
    qs::ZdbAddress a;
    a.unix_path = sock_;
    return qs::ZdbClient(a);
  }

  std::string dir_, sock_, mnt_;
  std::string first_mount_options_;  // extra -o options of the mount SetUp makes
  qs_test::DaemonProcess zdb_;
  qs_test::DaemonProcess qsfs_;
};

inline void WriteFile(const std::string& path, const std::string& data, int flags = O_WRONLY | O_CREAT | O_TRUNC,
                      mode_t mode = 0644) {
  int fd = open(path.c_str(), flags, mode);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    ASSERT_GT(n, 0) << path << ": " << strerror(errno);
    done += static_cast<size_t>(n);
  }
  ASSERT_EQ(close(fd), 0) << strerror(errno);
}

inline std::string ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return "<open failed: " + std::string(strerror(errno)) + ">";
  std::string out;
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

// Runs fn in a child with the given credentials; returns its result (an
// errno value or 0), or -1 if the child died.
inline int RunAs(uid_t uid, gid_t gid, const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) _exit(200);
    _exit(fn());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Polls NSINFO qsfs-data until it contains `text` (10 s at most).
inline void WaitForDataNamespace(qs::ZdbClient admin, const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    auto r = admin.Command({"NSINFO", "qsfs-data"});
    ASSERT_TRUE(r.ok());
    if (r->str.find(text) != std::string::npos) return;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << r->str;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// For damage made by hand in a qsfs namespace: the session joins the fence
// the last mount raised (FENCE, docs/zdb-protocol.md); zdb refuses its
// writes otherwise.
inline void JoinFence(qs::ZdbClient& c, const std::string& ns) {
  auto info = c.Command({"NSINFO", ns});
  ASSERT_TRUE(info.ok() && !info->is_error());
  size_t at = info->str.find("\nfence: ");
  ASSERT_NE(at, std::string::npos) << info->str;
  std::string fence = info->str.substr(at + 8, info->str.find('\n', at + 1) - at - 8);
  if (fence == "0") return;
  auto r = c.Command({"FENCE", fence});
  ASSERT_TRUE(r.ok() && r->is_status()) << (r.ok() ? r->DebugString() : r.status().ToString());
}

// lstat of path; a failure is a test failure (and a zeroed stat).
inline struct stat Stat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
  return st;
}

// name -> d_type, without "." and "..".
inline std::map<std::string, int> List(const std::string& dir) {
  std::map<std::string, int> out;
  DIR* d = opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir;
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    EXPECT_EQ(out.count(n), 0u) << "duplicate " << n;
    out[n] = e->d_type;
  }
  closedir(d);
  return out;
}

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

// Value of the sample `series` ("name{labels}") in a /metrics page, -1 if absent.
inline double MetricValue(const std::string& page, const std::string& series) {
  size_t p = page.find("\n" + series + " ");
  if (p == std::string::npos) return -1;
  return std::strtod(page.c_str() + p + series.size() + 2, nullptr);
}

// errno of a call that returns -1 on failure, or 0 when it succeeded.
#define QS_ERRNO(expr) ((expr) < 0 ? errno : 0)

}  // namespace qsfs_test
