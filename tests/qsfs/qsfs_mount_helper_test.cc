// qsfs mounted the way Linux users mount things: mount(8) with -t fuse.qsfs
// and with an fstab line, through Debian's /sbin/mount.fuse3, which runs
// `qsfs SOURCE MOUNTPOINT -o OPTIONS` through /bin/sh; umount(8) unmounts.
//
// mount(8) runs its helpers with PATH removed from the environment, so the
// shell finds `qsfs` in its default PATH only. The tests run in a mount
// namespace of their own in which a directory holding a link to the built
// qsfs is bound over /usr/local/sbin (the first directory of that PATH):
// the machine's own directories are untouched.
// Other tests' FUSE mounts, copied into that namespace, are detached there.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>

#include <random>

#include "tests/common/free_port.h"
#include "tests/common/run_command.h"
#include "tests/qsfs/qsfs_fixture.h"

namespace {

using qs_test::RunCommand;
using qsfs_test::IsMounted;
using qsfs_test::ReadFile;
using qsfs_test::ReadWholeFile;
using qsfs_test::WriteFile;

bool Contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// "FSTYPE SOURCE OPTIONS" of the mount on `path` (mountinfo's mount options
// then its super options), empty when nothing is mounted there.
std::string MountInfo(const std::string& path) {
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  std::string found;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string id, parent, dev, root, mnt, opts;
    in >> id >> parent >> dev >> root >> mnt >> opts;
    if (mnt != path) continue;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string type, source, super;
    rest >> type >> source >> super;
    found = type + " " + source + " " + opts + "," + super;  // the last mount on path
  }
  return found;
}

class MountHelperTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(access("/sbin/mount.fuse3", X_OK), 0) << "/sbin/mount.fuse3 (package fuse3) is needed";
    ASSERT_EQ(unshare(CLONE_NEWNS), 0) << strerror(errno);
    ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << strerror(errno);
    // The namespace got a copy of every FUSE mount of other tests running
    // now; a copy would keep such a filesystem alive after its test
    // unmounts it (its daemon waiting for the end): detach them here.
    std::ifstream info("/proc/self/mountinfo");
    std::vector<std::string> fuse_mounts;
    for (std::string line; std::getline(info, line);) {
      std::istringstream in(line);
      std::string id, parent, dev, root, mnt;
      in >> id >> parent >> dev >> root >> mnt;
      size_t dash = line.find(" - ");
      if (dash != std::string::npos && line.compare(dash + 3, 4, "fuse") == 0) fuse_mounts.push_back(mnt);
    }
    for (auto it = fuse_mounts.rbegin(); it != fuse_mounts.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
    char tmpl[] = "/tmp/qsfs_helper_bin.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    bin_dir_ = tmpl;
    chmod(bin_dir_.c_str(), 0755);
    ASSERT_EQ(symlink((std::string(QS_BIN_DIR) + "/qsfs").c_str(), (bin_dir_ + "/qsfs").c_str()), 0);
    ASSERT_EQ(mount(bin_dir_.c_str(), "/usr/local/sbin", nullptr, MS_BIND, nullptr), 0) << strerror(errno);
  }
  static void TearDownTestSuite() {
    umount2("/usr/local/sbin", MNT_DETACH);
    std::error_code ec;
    std::filesystem::remove_all(bin_dir_, ec);
  }

  void SetUp() override {
    char tmpl[] = "/tmp/qsfs_helper.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    sock_ = dir_ + "/zdb.sock";
    mnt_ = dir_ + "/mnt";
    log_ = dir_ + "/qsfs.log";
    config_ = dir_ + "/qsfs.toml";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    port_ = qs_test::FreePort();
    ASSERT_TRUE(zdb_.Start(std::string(QS_BIN_DIR) + "/zdb",
                           {"--data", dir_ + "/data", "--index", dir_ + "/index", "--socket", sock_, "--dualnet",
                            "--listen", "127.0.0.1", "--port", std::to_string(port_)},
                           dir_ + "/zdb.log"));
    ASSERT_TRUE(zdb_.WaitUnix(sock_));
    std::ofstream(config_) << "unix = \"" << sock_ << "\"\nlogfile = \"" << log_ << "\"\nwriteback_delay = 1\n";
  }

  void TearDown() override {
    if (IsMounted(mnt_)) umount2(mnt_.c_str(), MNT_DETACH);
    if (daemon_pid_ > 0) WaitGone(daemon_pid_);
    zdb_.Stop();
    if (HasFailure()) {
      std::fprintf(stderr, "qsfs log:\n%s\n", ReadWholeFile(log_).c_str());
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // The mounted daemon's pid, from its mount lease (docs/qsfs-format.md).
  pid_t LeaseHolder() {
    qs::ZdbAddress a;
    a.unix_path = sock_;
    a.ns = "qsfs-meta";
    qs::ZdbClient c(a);
    auto r = c.Get("qsfs:lease");
    if (!r.ok() || !r->has_value()) return -1;
    size_t at = (*r)->find("pid=");
    return at == std::string::npos ? -1 : static_cast<pid_t>(std::stol((*r)->substr(at + 4)));
  }

  // Waits until pid is gone (or a zombie); SIGKILL after 60 s. False then.
  static bool WaitGone(pid_t pid) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
      size_t paren = stat.rfind(')');
      if (stat.empty() || (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z')) return true;
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // mount(8) ARGS from the test's directory: mount(8) makes the source an
  // absolute path when a file of that name ("qsfs") is in the current one.
  static std::pair<int, std::string> Mount(const std::string& args) {
    return RunCommand("cd /tmp && mount " + args);
  }

  // Mounted by the command that just returned 0: the daemon is known by its
  // lease; umount(8), then the daemon flushes and exits by itself.
  void Umount() {
    daemon_pid_ = LeaseHolder();
    EXPECT_GT(daemon_pid_, 0);
    auto [rc, out] = RunCommand("umount " + mnt_);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_FALSE(IsMounted(mnt_));
    if (daemon_pid_ > 0) {
      EXPECT_TRUE(WaitGone(daemon_pid_)) << "qsfs did not exit after umount";
    }
    daemon_pid_ = -1;
    EXPECT_EQ(LeaseHolder(), -1) << "the lease is released at a clean unmount";
  }

  // Writes `data` to name through the mount, fsyncs it, reads it back.
  void WriteAndReadBack(const std::string& name, const std::string& data) {
    WriteFile(mnt_ + "/" + name, data);
    int fd = open((mnt_ + "/" + name).c_str(), O_RDONLY);
    ASSERT_GE(fd, 0) << strerror(errno);
    EXPECT_EQ(fsync(fd), 0) << strerror(errno);
    close(fd);
    EXPECT_TRUE(ReadFile(mnt_ + "/" + name) == data) << name << " differs";
  }

  static std::string bin_dir_;
  std::string dir_, sock_, mnt_, log_, config_;
  int port_ = 0;
  pid_t daemon_pid_ = -1;
  qs_test::DaemonProcess zdb_;
};

std::string MountHelperTest::bin_dir_;

// mount -t fuse.qsfs with config=, then with host= and port= alone; the
// data written by the first mount reads back through the second.
TEST_F(MountHelperTest, MountDashTFuseQsfs) {
  auto [rc, out] = Mount("-t fuse.qsfs -o config=" + config_ + " qsfs " + mnt_);
  ASSERT_EQ(rc, 0) << out;
  // mount(8) returns once the filesystem answers: the daemon's verdict.
  EXPECT_EQ(MountInfo(mnt_).substr(0, 15), "fuse.qsfs qsfs ") << MountInfo(mnt_);
  const std::string data = RandomBytes(1 << 20, 1);
  WriteAndReadBack("file", data);
  Umount();

  std::tie(rc, out) = Mount("-t fuse.qsfs -o host=127.0.0.1,port=" + std::to_string(port_) +
                                 ",logfile=" + log_ + " qsfs " + mnt_);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(ReadFile(mnt_ + "/file") == data) << "file differs after a remount";
  Umount();
}

// An fstab line with the options mount(8), mount.fuse3 and systemd act on;
// `mount --fstab FILE MOUNTPOINT` mounts it as `mount MOUNTPOINT` would.
TEST_F(MountHelperTest, FstabLine) {
  const std::string fstab = dir_ + "/fstab";
  std::ofstream(fstab) << "# scratch fstab\n"
                       << "qsfs  " << mnt_ << "  fuse.qsfs  "
                       << "_netdev,nofail,x-systemd.after=zdb-staging.service,x-systemd.mount-timeout=6min,defaults,"
                          "noatime,config="
                       << config_ << "  0  0\n";
  auto [rc, out] = Mount("--fstab " + fstab + " " + mnt_);
  ASSERT_EQ(rc, 0) << out;
  std::string info = MountInfo(mnt_);
  EXPECT_EQ(info.substr(0, 15), "fuse.qsfs qsfs ") << info;
  EXPECT_TRUE(Contains(info, "noatime")) << info;  // a mount flag reaches the kernel
  const std::string data = RandomBytes(300 << 10, 2);
  WriteAndReadBack("f", data);
  Umount();
  std::tie(rc, out) = Mount("--fstab " + fstab + " " + mnt_);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(ReadFile(mnt_ + "/f") == data);
  Umount();

  // The old form of a FUSE fstab line: type fuse, the program before '#'.
  std::ofstream(fstab) << "qsfs#  " << mnt_ << "  fuse  config=" << config_ << "  0  0\n";
  std::tie(rc, out) = Mount("--fstab " + fstab + " " + mnt_);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(MountInfo(mnt_).substr(0, 15), "fuse.qsfs qsfs ") << MountInfo(mnt_);
  EXPECT_TRUE(ReadFile(mnt_ + "/f") == data);
  Umount();
}

// ro from mount(8) reaches the kernel: reads work, writes fail with EROFS.
TEST_F(MountHelperTest, ReadOnlyFlag) {
  auto [rc, out] = Mount("-t fuse.qsfs -o config=" + config_ + " qsfs " + mnt_);
  ASSERT_EQ(rc, 0) << out;
  WriteAndReadBack("kept", "written before ro");
  Umount();
  std::tie(rc, out) = Mount("-t fuse.qsfs -o ro,config=" + config_ + " qsfs " + mnt_);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(ReadFile(mnt_ + "/kept"), "written before ro");
  EXPECT_EQ(QS_ERRNO(open((mnt_ + "/new").c_str(), O_WRONLY | O_CREAT, 0644)), EROFS);
  Umount();
}

// Bad input: a clear message from mount(8)'s command, a status other than
// 0, and no mount (nor daemon) left behind.
TEST_F(MountHelperTest, BadOptionsFailCleanly) {
  struct Case {
    std::string options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"config=" + config_ + ",nonsense=1", "unknown option 'nonsense'"},
      {"config=" + dir_ + "/missing.toml", dir_ + "/missing.toml"},
      {"config=" + config_ + ",port=0", "option port: expected a number in 1..65535, got '0'"},
      {"unix=" + dir_ + "/none.sock,wait=1,logfile=" + log_, "cannot reach zdb at unix:" + dir_ + "/none.sock"},
  };
  for (const Case& c : cases) {
    auto [rc, out] = Mount("-t fuse.qsfs -o " + c.options + " qsfs " + mnt_);
    EXPECT_NE(rc, 0) << c.options << ": " << out;
    EXPECT_TRUE(Contains(out, c.message)) << c.options << ": " << out;
    EXPECT_FALSE(IsMounted(mnt_)) << c.options;
    EXPECT_EQ(LeaseHolder(), -1) << c.options;
  }
  // The mount point is usable right after.
  auto [rc, out] = Mount("-t fuse.qsfs -o config=" + config_ + " qsfs " + mnt_);
  ASSERT_EQ(rc, 0) << out;
  WriteAndReadBack("ok", "ok");
  Umount();
}

}  // namespace
