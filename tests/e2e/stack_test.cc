// The whole stack in one test process's children: 22 data zdbs (20 + 2
// spares) and 4 meta zdbs, the zstor daemon with staging on, the staging zdb
// whose hook is zstor-hook, and qsfs mounted on the staging zdb. Faults are
// injected at every layer; files are always checked byte for byte, through
// the mount, and finally on a staging directory rebuilt from the backends
// alone (so what the backends hold is checked too).
//
// QSFS_E2E_COPY_MIB sets the size of the copy in CopyWhileFourBackendsDie
// (default 1024, the 1 GiB; in 16 MiB files).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <dirent.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/qsfs/qsfs_fixture.h"
#include "tests/zstor/cluster_fixture.h"

namespace {

using qsfs_test::IsMounted;
using qsfs_test::ReadFile;
using zstor_test::RandomData;

class StackTest : public zstor_test::DaemonTest {
 protected:
  std::string ExtraDaemonConfig() override {
    return "zdb_data_dir_path = \"" + Root() + "/data\"\nzdb_index_dir_path = \"" + Root() + "/index\"\nqueue_dir = \"" +
           dir_.path() + "/queue\"\nmax_zdb_data_dir_size = \"" + limit_ + "\"\n";
  }

  void SetUp() override {
    DaemonTest::SetUp();
    if (HasFatalFailure()) return;
    mnt_ = dir_.path() + "/mnt";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    StartStaging();
    Mount();
  }

  void TearDown() override {
    Unmount();
    staging_.Stop();
    if (HasFailure()) {
      std::fprintf(stderr, "--- qsfs log\n%s\n--- staging zdb log\n%s\n--- zstor log (tail)\n%s\n",
                   ReadFile(dir_.path() + "/qsfs.log").c_str(), ReadFile(dir_.path() + "/staging.log").c_str(),
                   Tail(ReadFile(dir_.path() + "/daemon.log"), 4000).c_str());
    }
  }

  static std::string Tail(const std::string& s, size_t n) { return s.size() > n ? s.substr(s.size() - n) : s; }
  std::string Root() const { return dir_.path() + "/staging"; }
  std::string StagingSock() const { return dir_.path() + "/staging.sock"; }

  // The staging zdb: namespaces choose their mode (qsfs-meta user,
  // qsfs-data sequential); small segments so uploads run all the time.
  void StartStaging() {
    setenv("ZSTOR_CONFIG", cfg_path_.c_str(), 1);
    std::filesystem::remove(StagingSock());
    ASSERT_TRUE(staging_.Start(std::string(QS_BIN_DIR) + "/zdb",
                               {"--data", Root() + "/data", "--index", Root() + "/index", "--socket", StagingSock(),
                                "--datasize", datasize_, "--hook", std::string(QS_BIN_DIR) + "/zstor-hook", "--hook-timeout",
                                hook_timeout_},
                               dir_.path() + "/staging.log"));
    ASSERT_TRUE(staging_.WaitUnix(StagingSock(), 60000)) << ReadFile(dir_.path() + "/staging.log");
  }

  void Mount() {
    ASSERT_TRUE(qsfs_.Start(std::string(QS_BIN_DIR) + "/qsfs",
                            {"-f", "-o", "unix=" + StagingSock() + ",writeback_delay=1", mnt_}, dir_.path() + "/qsfs.log"));
    qsfs_test::WaitMounted(qsfs_, mnt_, dir_.path() + "/qsfs.log", 60);
  }

  // Clean unmount: the daemon flushes everything and exits.
  void Unmount() { qsfs_test::UnmountAndWait(qsfs_, mnt_); }

  // After a kill -9 of qsfs: the kernel mount is gone with the connection.
  void RemountAfterCrash() {
    qsfs_.Kill();
    umount2(mnt_.c_str(), MNT_DETACH);
    Mount();
  }

  // Throws the staging directory away and rebuilds it from the backends
  // (namespaces-init), as on a brand-new machine; mounts again.
  void RestoreOnFreshStaging() {
    Unmount();
    EXPECT_EQ(staging_.Stop(), 0);  // namespace-closing: the head segments are queued
    std::string st = WaitQueueEmpty();
    ASSERT_NE(st.find("\"jobs\": 0, \"failing\": 0"), std::string::npos) << st;
    std::filesystem::remove_all(Root());
    StartStaging();
    Mount();
  }

  std::string Content(const std::string& name) { return RandomData(file_size_, static_cast<uint32_t>(std::hash<std::string>{}(name))); }

  // Writes `name` (file_size_ random bytes derived from the name) and fsyncs it.
  void WriteSynced(const std::string& name) {
    std::string data = Content(name);
    int fd = open((mnt_ + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << name << ": " << strerror(errno);
    for (size_t done = 0; done < data.size();) {
      ssize_t n = write(fd, data.data() + done, data.size() - done);
      ASSERT_GT(n, 0) << name << ": " << strerror(errno);
      done += static_cast<size_t>(n);
    }
    ASSERT_EQ(fsync(fd), 0) << name << ": " << strerror(errno);
    ASSERT_EQ(close(fd), 0);
  }

  void ExpectFiles(const std::vector<std::string>& names) {
    for (const auto& n : names) {
      std::string got = ReadFile(mnt_ + "/" + n);
      ASSERT_EQ(got.size(), file_size_) << n << ": " << got.substr(0, 100);
      ASSERT_TRUE(got == Content(n)) << n << ": bytes differ";
    }
  }

  // Every stored object has all its fragments healthy. Waits as long as
  // repair makes progress (fewer fragments missing); fails when that
  // number has not gone down for stall_s seconds.
  void ExpectFullRedundancy(int stall_s = 60) {
    auto last_progress = std::chrono::steady_clock::now();
    long fewest = -1;
    std::string weak;
    for (;;) {
      weak.clear();
      long missing = 0;
      auto list = store_->List();
      ASSERT_TRUE(list.ok()) << list.status().ToString();
      for (const auto& m : *list) {
        auto r = store_->Check(m.path);
        if (!r.ok()) {
          weak += m.path + " (" + r.status().ToString() + ") ";
          missing += static_cast<long>(m.k) + m.m;
        } else if (!r->complete()) {
          weak += m.path + " (" + std::to_string(r->fragments_ok) + "/" + std::to_string(r->fragments) + ") ";
          missing += static_cast<long>(r->fragments - r->fragments_ok);
        }
      }
      if (weak.empty()) return;
      if (fewest < 0 || missing < fewest) {
        fewest = missing;
        last_progress = std::chrono::steady_clock::now();
      }
      if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(stall_s)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    FAIL() << "repair made no progress for " << stall_s << " s; not fully redundant: " << weak;
  }

  std::string mnt_;
  std::string limit_ = "1G";
  std::string hook_timeout_ = "300";
  std::string datasize_ = "1M";  // staging segments: small, so uploads run all the time
  size_t file_size_ = 1 << 20;
  qs_test::DaemonProcess staging_;
  qs_test::DaemonProcess qsfs_;
};

// The copy: a 1 GiB tree of 16 MiB files, in 16 MiB staging
// segments (64 uploads rather than 1024 of 1 MiB, which took 14 minutes
// under ASan).
class StackCopyTest : public StackTest {
 protected:
  StackCopyTest() {
    datasize_ = "16M";
    file_size_ = 16 << 20;
  }
};

// A copy into the mount while 4 backends (one per group) die one by one:
// the copy completes (writes land on the staging zdb), every file verifies;
// when the backends return, the queued uploads finish and every object is
// fully redundant again without any command; the backends alone give the
// filesystem back.
TEST_F(StackCopyTest, CopyWhileFourBackendsDie) {
  const char* env = std::getenv("QSFS_E2E_COPY_MIB");
  const int files = std::max(5, (env != nullptr ? std::atoi(env) : 1024) / 16);
  std::vector<std::string> names;
  ASSERT_EQ(mkdir((mnt_ + "/copy").c_str(), 0755), 0);
  for (int d = 0; d < 4; ++d) ASSERT_EQ(mkdir((mnt_ + "/copy/d" + std::to_string(d)).c_str(), 0755), 0);
  int killed = 0;
  for (int i = 0; i < files; ++i) {
    if (killed < 4 && i == files * (killed + 1) / 5) KillBackend(killed++);  // backends 0..3: groups 0..3
    names.push_back("copy/d" + std::to_string(i % 4) + "/f" + std::to_string(i));
    WriteSynced(names.back());
  }
  ASSERT_EQ(killed, 4);
  ExpectFiles(names);
  for (int i = 0; i < 4; ++i) StartBackend(i);
  std::string st = WaitQueueEmpty();
  ASSERT_NE(st.find("\"jobs\": 0, \"failing\": 0"), std::string::npos) << st;
  ExpectFullRedundancy();
  RestoreOnFreshStaging();
  ExpectFiles(names);
}

// Bytes flipped in the fragments on 4 backends' disks: the filesystem
// rebuilt from the backends still reads correct bytes, and the scrub finds
// the damage and repairs it.
TEST_F(StackTest, BitrotOnBackendDisksIsReadAroundAndRepaired) {
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) {
    names.push_back("rot" + std::to_string(i));
    WriteSynced(names.back());
  }
  Unmount();
  EXPECT_EQ(staging_.Stop(), 0);
  std::string st = WaitQueueEmpty();
  ASSERT_NE(st.find("\"jobs\": 0, \"failing\": 0"), std::string::npos) << st;
  int flipped = 0;
  for (int b = 0; b < 4; ++b) {
    for (const auto& e : std::filesystem::directory_iterator(Dir(b) + "/data/default")) {
      std::string name = e.path().filename().string();
      if (name.rfind("zdb-data-", 0) != 0) continue;
      std::string bytes = zdb_test::ReadRaw(e.path().string());
      for (size_t off = 64; off < bytes.size(); off += 4096) {
        bytes[off] = static_cast<char>(bytes[off] ^ 0x5a);
        ++flipped;
      }
      zdb_test::WriteRaw(e.path().string(), bytes);
    }
  }
  ASSERT_GT(flipped, 100);
  std::filesystem::remove_all(Root());
  StartStaging();
  Mount();
  ExpectFiles(names);  // read around the damage while restoring segments
  auto [rc, out] = Cli("scrub");
  EXPECT_EQ(rc, 0) << out;
  long long damaged = std::atoll(out.c_str() + out.find("scrub: ") + 7);
  EXPECT_GT(damaged, 0) << out;
  ExpectFullRedundancy(60);
  auto [rc2, out2] = Cli("scrub");
  EXPECT_NE(out2.find("scrub: 0 objects found damaged"), std::string::npos) << out2;
}

// kill -9 of qsfs, then of the staging zdb, then of zstor, each while files
// are written: nothing fsynced is lost, nothing is corrupt, and the uploads
// resume, so the backends alone give every fsynced file back.
TEST_F(StackTest, KillNineOfEachDaemonLosesNothingFsynced) {
  file_size_ = 300000;
  std::vector<std::string> names;
  auto write_some = [&](const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      names.push_back(prefix + std::to_string(i));
      WriteSynced(names.back());
    }
  };
  auto unsynced = [&](const std::string& name) {  // written, never fsynced
    int fd = open((mnt_ + "/" + name).c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "not synced", 10), 10);
    close(fd);
  };

  write_some("q", 8);
  unsynced("q-unsynced");
  kill(qsfs_.pid(), SIGKILL);
  RemountAfterCrash();
  ExpectFiles(names);

  write_some("z", 8);
  unsynced("z-unsynced");
  staging_.Kill();
  StartStaging();
  // qsfs reconnects by itself; an operation may fail with EIO meanwhile.
  struct statvfs sv;
  for (int i = 0; i < 100 && statvfs(mnt_.c_str(), &sv) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  write_some("z-after", 4);
  ExpectFiles(names);

  write_some("s", 8);  // several 1 MiB segments rotate: uploads queued
  daemon_.Kill();
  write_some("s-after", 4);  // the hook queues on its own while zstor is dead
  ASSERT_TRUE(daemon_.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", cfg_path_, "monitor"}, dir_.path() + "/daemon2.log"));
  ASSERT_TRUE(daemon_.WaitUnix(dir_.path() + "/zstor.sock"));
  ExpectFiles(names);

  RestoreOnFreshStaging();
  ExpectFiles(names);
}

// A stalled zstor (SIGSTOP) while a read needs a segment that only the
// backends have: that reader waits, then fails with EIO once the staging
// zdb kills the stalled hook (--hook-timeout); ls, df and reads of local
// data answer meanwhile. With zstor back, the same read succeeds.
TEST_F(StackTest, StalledZstorNeverHangsTheMount) {
  hook_timeout_ = "3";
  file_size_ = 300000;
  std::vector<std::string> names;
  for (int i = 0; i < 8; ++i) {
    names.push_back("old" + std::to_string(i));
    WriteSynced(names.back());
  }
  RestoreOnFreshStaging();  // older segments are now on the backends only
  struct stat st;
  for (const auto& n : names) ASSERT_EQ(stat((mnt_ + "/" + n).c_str(), &st), 0) << n;  // metadata local again
  WriteSynced("local");
  kill(daemon_.pid(), SIGSTOP);
  std::atomic<int> result{-1};
  std::thread reader([&] {
    int fd = open((mnt_ + "/old0").c_str(), O_RDONLY);
    char buf[4096];
    result = fd < 0 ? errno : (read(fd, buf, sizeof(buf)) < 0 ? errno : 0);
    if (fd >= 0) close(fd);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The mount answers while that read waits.
  DIR* d = opendir(mnt_.c_str());
  ASSERT_NE(d, nullptr);
  int entries = 0;
  while (readdir(d) != nullptr) ++entries;
  closedir(d);
  EXPECT_EQ(entries, 2 + 9);  // ., .., old0..7, local
  struct statvfs sv;
  EXPECT_EQ(statvfs(mnt_.c_str(), &sv), 0);
  EXPECT_TRUE(ReadFile(mnt_ + "/local") == Content("local"));
  EXPECT_EQ(result.load(), -1) << "the stalled read returned before the hook timeout";
  reader.join();
  EXPECT_EQ(result.load(), EIO);
  kill(daemon_.pid(), SIGCONT);
  ExpectFiles(names);
}

}  // namespace
