// The mount lease and fencing (docs/qsfs-format.md, "Mount lease and
// fencing"): a qsfs stopped past the lease takeover, whose namespaces
// another mount (another host) took over, acknowledges nothing when it
// resumes, and nothing any mount acknowledged is lost.
#include <signal.h>
#include <sys/stat.h>

#include <random>

#include "qsfs/superblock.h"
#include "tests/qsfs/qsfs_fixture.h"

namespace {

using qsfs_test::ReadFile;
using qsfs_test::ReadWholeFile;
using qsfs_test::WriteFile;

constexpr int kLeaseTimeout = 9;  // seconds (lease_timeout=): changes stop 6 s after the last renewal

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

// A process that keeps a file of mount A open for writing across the stop
// (the processes that start mount B must hold no descriptor of A: their
// exec would flush it to the stopped mount and wait). It writes and fsyncs
// once before the stop, then once more when told, and reports errno values.
class Writer {
 public:
  explicit Writer(const std::string& path) {
    int to[2], from[2];
    EXPECT_EQ(pipe2(to, O_CLOEXEC), 0);  // not inherited by mount B's processes
    EXPECT_EQ(pipe2(from, O_CLOEXEC), 0);
    pid_ = fork();
    if (pid_ == 0) {
      close(to[1]);
      close(from[0]);
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      for (;;) {
        char what;
        if (read(to[0], &what, 1) != 1) _exit(0);
        int r[2] = {fd < 0 ? errno : 0, 0};
        if (fd >= 0) {
          r[0] = write(fd, "written", 7) == 7 ? 0 : errno;
          r[1] = fsync(fd) == 0 ? 0 : errno;
        }
        if (write(from[1], r, sizeof(r)) != sizeof(r)) _exit(1);
      }
    }
    close(to[0]);
    close(from[1]);
    to_ = to[1];
    from_ = from[0];
  }
  ~Writer() {
    close(to_);
    close(from_);
    waitpid(pid_, nullptr, 0);
  }
  // errno of write and of fsync (0: acknowledged).
  std::pair<int, int> WriteAndFsync() {
    int r[2] = {-1, -1};
    EXPECT_EQ(write(to_, "w", 1), 1);
    EXPECT_EQ(read(from_, r, sizeof(r)), static_cast<ssize_t>(sizeof(r)));
    return {r[0], r[1]};
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

class QsfsLeaseTest : public qsfs_test::QsfsFixture {
 protected:
  QsfsLeaseTest() { first_mount_options_ = "lease_timeout=" + std::to_string(kLeaseTimeout); }

  void TearDown() override {
    if (qsfs_.pid() > 0) kill(qsfs_.pid(), SIGCONT);
    writer_.reset();  // after A runs again: its descriptor is flushed on exit
    if (!mnt_b_.empty()) qsfs_test::UnmountAndWait(b_, mnt_b_);
    if (HasFailure() && !mnt_b_.empty())
      std::fprintf(stderr, "mount B's log:\n%s\n", ReadWholeFile(dir_ + "/b.log").c_str());
    QsfsFixture::TearDown();
  }

  // The lease record in qsfs-meta, or "" when there is none.
  std::string LeaseRecord() {
    qs::ZdbAddress a;
    a.unix_path = sock_;
    a.ns = "qsfs-meta";
    qs::ZdbClient meta(a);
    auto r = meta.Get("qsfs:lease");
    return r.ok() && r->has_value() ? **r : "";
  }

  // Mount B: another qsfs on the same namespaces, in its own UTS namespace
  // with another host name (the lease names its holder's host).
  void MountB(const std::string& extra) {
    mnt_b_ = dir_ + "/mnt-b";
    ASSERT_EQ(mkdir(mnt_b_.c_str(), 0755), 0);
    std::string cmd = "hostname qsfs-test-other && exec " + std::string(QS_BIN_DIR) + "/qsfs";
    for (const std::string& arg : QsfsArgs(mnt_b_, extra)) cmd += " '" + arg + "'";
    ASSERT_TRUE(b_.Start("/usr/bin/unshare", {"--uts", "/bin/sh", "-c", cmd}, dir_ + "/b.log"));
    qsfs_test::WaitMounted(b_, mnt_b_, dir_ + "/b.log", 60);
  }

  std::string mnt_b_;
  qs_test::DaemonProcess b_;
  std::unique_ptr<Writer> writer_;
};

TEST_F(QsfsLeaseTest, StoppedPastTheTakeoverFencesItselfAndLosesNothing) {
  // A writes file1 and fsyncs it: acknowledged.
  const std::string file1 = RandomBytes(700000, 1);
  int fd1 = open(P("file1").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd1, 0);
  ASSERT_EQ(write(fd1, file1.data(), file1.size()), static_cast<ssize_t>(file1.size()));
  ASSERT_EQ(fsync(fd1), 0);
  ASSERT_EQ(close(fd1), 0);
  // A file kept open for writing across the stop.
  writer_ = std::make_unique<Writer>(P("late"));
  ASSERT_EQ(writer_->WriteAndFsync(), std::make_pair(0, 0));

  // A stops past the takeover: the lease it last wrote grows stale.
  std::string held = LeaseRecord();
  ASSERT_NE(held, "");
  ASSERT_EQ(kill(qsfs_.pid(), SIGSTOP), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kLeaseTimeout * 4 + 60);
  for (;;) {
    auto lease = qsfs::DecodeLease(LeaseRecord());
    ASSERT_TRUE(lease.ok()) << LeaseRecord();
    if (time(nullptr) - lease->time > kLeaseTimeout + 1) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the lease of the stopped mount stays fresh";
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  // B (another host) takes the namespaces over, checks them, writes file2.
  MountB("lease_timeout=" + std::to_string(kLeaseTimeout));
  EXPECT_NE(ReadWholeFile(dir_ + "/b.log").find("taking over the stale mount lease"), std::string::npos)
      << ReadWholeFile(dir_ + "/b.log");
  EXPECT_TRUE(ReadFile(mnt_b_ + "/file1") == file1);
  const std::string file2 = RandomBytes(500000, 2);
  int fd2 = open((mnt_b_ + "/file2").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd2, 0);
  ASSERT_EQ(write(fd2, file2.data(), file2.size()), static_cast<ssize_t>(file2.size()));
  ASSERT_EQ(fsync(fd2), 0);
  ASSERT_EQ(close(fd2), 0);

  // A resumes: nothing it does is acknowledged any more.
  ASSERT_EQ(kill(qsfs_.pid(), SIGCONT), 0);
  // (errno of write, of fsync). With the kernel's write-back cache the
  // kernel answers write(2) itself; the fsync fails.
  EXPECT_EQ(writer_->WriteAndFsync(), std::make_pair(WritebackCache() ? 0 : EIO, EIO));
  EXPECT_EQ(QS_ERRNO(open(P("created-late").c_str(), O_WRONLY | O_CREAT, 0644)), EIO);
  EXPECT_EQ(QS_ERRNO(mkdir(P("dir-late").c_str(), 0755)), EIO);
  EXPECT_EQ(QS_ERRNO(unlink(P("file1").c_str())), EIO);
  EXPECT_EQ(QS_ERRNO(rename(P("file1").c_str(), P("renamed").c_str())), EIO);
  EXPECT_TRUE(ReadFile(P("file1")) == file1);  // reads still work
  // It finds out that it lost the lease (its next renewal at the latest)
  // and says so.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ReadWholeFile(dir_ + "/qsfs.log").find("fenced: ") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "mount A does not know it lost the lease";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(QS_ERRNO(mkdir(P("dir-later").c_str(), 0755)), EIO);

  // Both stop; the next mount has everything either acknowledged.
  writer_.reset();
  Unmount();
  qsfs_test::UnmountAndWait(b_, mnt_b_);
  EXPECT_EQ(b_.exit_status(), 0);
  Mount();
  EXPECT_TRUE(ReadFile(P("file1")) == file1);
  EXPECT_TRUE(ReadFile(P("file2")) == file2);
  struct stat st;
  EXPECT_EQ(QS_ERRNO(stat(P("created-late").c_str(), &st)), ENOENT);
  EXPECT_EQ(QS_ERRNO(stat(P("dir-late").c_str(), &st)), ENOENT);
  EXPECT_EQ(QS_ERRNO(stat(P("dir-later").c_str(), &st)), ENOENT);
}

// No renewal for 2/3 of the lease timeout (here qsfs-meta is locked, so
// renewals fail at once): the mount acknowledges no write, not even one its
// cache could take, until a renewal succeeds again; then it goes on, and
// what it acknowledged is kept.
TEST_F(QsfsLeaseTest, NoRenewalMeansNoAcknowledgementUntilTheNextOne) {
  if (WritebackCache()) GTEST_SKIP() << "the kernel answers write(2) itself with writeback_cache";
  Unmount();
  Mount("lease_timeout=" + std::to_string(kLeaseTimeout) + ",writeback_delay=600");  // writes stay cached
  const std::string before = RandomBytes(200000, 3);
  WriteFile(P("before"), before);
  int fd = open(P("f").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "x", 1), 1);
  ASSERT_EQ(fsync(fd), 0);
  qs::ZdbClient admin = Admin();
  auto r = admin.Command({"NSSET", "qsfs-meta", "lock", "1"});
  ASSERT_TRUE(r.ok() && r->is_status()) << r->DebugString();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int err = 0;
  while ((err = QS_ERRNO(write(fd, "y", 1))) == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "writes are still acknowledged";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(err, EIO);
  EXPECT_NE(ReadWholeFile(dir_ + "/qsfs.log").find("changes fail with EIO until a renewal succeeds"),
            std::string::npos);
  EXPECT_EQ(QS_ERRNO(fsync(fd)), EIO);
  r = admin.Command({"NSSET", "qsfs-meta", "lock", "0"});
  ASSERT_TRUE(r.ok() && r->is_status()) << r->DebugString();
  // The next renewal lifts it.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((err = QS_ERRNO(write(fd, "z", 1))) != 0) {
    ASSERT_EQ(err, EIO);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "writes stay refused";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(close(fd), 0);
  std::string log = ReadWholeFile(dir_ + "/qsfs.log");
  EXPECT_NE(log.find("mount lease renewed: changes are acknowledged again"), std::string::npos) << log;
  EXPECT_EQ(log.find("fenced:"), std::string::npos) << log;
  const std::string f = ReadFile(P("f"));
  EXPECT_EQ(f.substr(0, 1), "x");
  EXPECT_EQ(f.back(), 'z');
  Remount();
  EXPECT_TRUE(ReadFile(P("before")) == before);
  EXPECT_EQ(ReadFile(P("f")), f);
}

}  // namespace
