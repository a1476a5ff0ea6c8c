// Integration tests: a real qsfs mounted with FUSE on a real zdb, with
// inode caches smaller than what the kernel holds: parked and forgotten
// inodes still answer right, and their number stays bounded.
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

// With a small inode cache most inodes the kernel holds are parked (only
// their lookup count in memory) and reloaded on use: every operation on
// them still answers right, and so does the filesystem after a remount.
// After the kernel drops its dentries and inodes (FORGET), qsfs still has
// clean copies of them: stat needs no zdb round trip, and every copy shows
// the inode's last change (mode, owner, size, link count, a moved
// directory's parent), within the inode cache and beyond it.
TEST_F(QsfsTest, ForgottenInodesServeLookupsWithoutZdb) {
  Unmount();
  int port = 27000 + static_cast<int>(getpid() % 1000);
  Mount("inode_cache=1024,metrics=127.0.0.1:" + std::to_string(port));
  ASSERT_EQ(mkdir(P("d").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(P("d/sub").c_str(), 0700), 0);
  const int kFiles = 600;
  for (int i = 0; i < kFiles; ++i) WriteFile(P("d/f" + std::to_string(i)), std::string(static_cast<size_t>(i), 'x'));
  ASSERT_EQ(chmod(P("d/f1").c_str(), 0600), 0);
  ASSERT_EQ(chown(P("d/f2").c_str(), 1234, 5678), 0);
  ASSERT_EQ(truncate(P("d/f3").c_str(), 100000), 0);
  ASSERT_EQ(link(P("d/f4").c_str(), P("d/f4-link").c_str()), 0);
  ASSERT_EQ(mkdir(P("other").c_str(), 0755), 0);
  ASSERT_EQ(rename(P("d/sub").c_str(), P("other/sub").c_str()), 0);
  auto drop = [] {
    sync();
    std::ofstream("/proc/sys/vm/drop_caches") << "2\n";  // dentries and inodes: FORGETs
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  };
  auto expect_all = [&] {
    struct stat st;
    for (int i = 5; i < kFiles; ++i) {
      ASSERT_EQ(stat(P("d/f" + std::to_string(i)).c_str(), &st), 0) << i;
      EXPECT_EQ(st.st_size, i) << i;
    }
    ASSERT_EQ(stat(P("d/f1").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(stat(P("d/f2").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1234u);
    EXPECT_EQ(st.st_gid, 5678u);
    ASSERT_EQ(stat(P("d/f3").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 100000);
    ASSERT_EQ(stat(P("d/f4").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 2u);
    ASSERT_EQ(stat(P("other/sub/..").c_str(), &st), 0);  // the moved directory's parent
    struct stat other;
    ASSERT_EQ(stat(P("other").c_str(), &other), 0);
    EXPECT_EQ(st.st_ino, other.st_ino);
  };
  drop();
  std::string page = qs_test::HttpGet(port, "/metrics");
  const double trips = MetricValue(page, "qsfs_zdb_round_trips_total{namespace=\"meta\"}");
  const double hits = MetricValue(page, "qsfs_inode_cache_lookups_total{result=\"hit\"}");
  expect_all();
  page = qs_test::HttpGet(port, "/metrics");
  EXPECT_EQ(MetricValue(page, "qsfs_zdb_round_trips_total{namespace=\"meta\"}"), trips);
  EXPECT_GE(MetricValue(page, "qsfs_inode_cache_lookups_total{result=\"hit\"}"), hits + kFiles - 5);
  // Beyond the cache: the oldest copies go, those inodes come from zdb.
  for (int i = kFiles; i < 2500; ++i) WriteFile(P("d/f" + std::to_string(i)), std::string(static_cast<size_t>(i % 100), 'y'));
  drop();
  expect_all();
  page = qs_test::HttpGet(port, "/metrics");
  EXPECT_GT(MetricValue(page, "qsfs_inode_cache_lookups_total{result=\"miss\"}"), 0);
  Unmount();
  Mount();
  expect_all();
}

// Beyond inode_cache parked inodes, qsfs has the kernel drop their entries
// (notify_inval_entry, by the name each was last looked up by), so it
// forgets them and the parked table, the only per-file memory left, stays
// bounded, also when their directory buckets left the directory cache long
// ago (16 buckets here, for 94 of them); the files are all still there.
TEST_F(QsfsTest, ParkedInodesStayBoundedByTheCache) {
  Unmount();
  int port = 28000 + static_cast<int>(getpid() % 1000);
  Mount("inode_cache=1024,dir_cache=16,metrics=127.0.0.1:" + std::to_string(port));
  for (int d = 0; d < 3; ++d) ASSERT_EQ(mkdir(P("many" + std::to_string(d)).c_str(), 0755), 0);
  const int kFiles = 6000;
  auto name = [](int i) { return "many" + std::to_string(i % 3) + "/f" + std::to_string(i); };
  std::vector<int> fds;
  for (int i = 0; i < kFiles; ++i) {
    int fd = open(P(name(i)).c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0) << i;
    ASSERT_EQ(write(fd, "x", 1), 1);
    if (i % 1000 == 0) fds.push_back(fd);  // a few stay open: their inodes stay
    else ASSERT_EQ(close(fd), 0);
  }
  double parked = 0;
  for (int t = 0; t < 100; ++t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    parked = MetricValue(qs_test::HttpGet(port, "/metrics"), "qsfs_parked_inodes");
    if (parked <= 1024) break;
  }
  EXPECT_LE(parked, 1024);
  for (int fd : fds) {
    EXPECT_EQ(write(fd, "y", 1), 1);
    EXPECT_EQ(close(fd), 0);
  }
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(ReadFile(P(name(i))), i % 1000 == 0 ? "xy" : "x") << i;
  }
}

TEST_F(QsfsTest, ParkedInodesBeyondTheInodeCacheStayCorrect) {
  Unmount();
  Mount("inode_cache=1024");
  ASSERT_EQ(mkdir(P("many").c_str(), 0755), 0);
  const int kFiles = 5000;
  for (int i = 0; i < kFiles; ++i) WriteFile(P("many/f" + std::to_string(i)), "content " + std::to_string(i));
  for (int i = 0; i < kFiles; i += 7) {  // stat and read parked ones
    struct stat st;
    ASSERT_EQ(stat(P("many/f" + std::to_string(i)).c_str(), &st), 0) << i;
    EXPECT_EQ(st.st_size, static_cast<off_t>(("content " + std::to_string(i)).size()));
    EXPECT_EQ(ReadFile(P("many/f" + std::to_string(i))), "content " + std::to_string(i));
  }
  for (int i = 0; i < kFiles; i += 3) ASSERT_EQ(unlink(P("many/f" + std::to_string(i)).c_str()), 0) << i;
  for (int i = 1; i < kFiles; i += 3) {
    ASSERT_EQ(link(P("many/f" + std::to_string(i)).c_str(), P("many/l" + std::to_string(i)).c_str()), 0) << i;
    ASSERT_EQ(rename(P("many/f" + std::to_string(i)).c_str(), P("many/r" + std::to_string(i)).c_str()), 0) << i;
  }
  auto check = [&] {
    int seen = 0;
    for (int i = 0; i < kFiles; ++i) {
      std::string want = "content " + std::to_string(i);
      if (i % 3 == 0) {
        EXPECT_EQ(QS_ERRNO(access(P("many/f" + std::to_string(i)).c_str(), F_OK)), ENOENT) << i;
      } else if (i % 3 == 1) {
        struct stat st;
        ASSERT_EQ(stat(P("many/r" + std::to_string(i)).c_str(), &st), 0) << i;
        EXPECT_EQ(st.st_nlink, 2u) << i;
        EXPECT_EQ(ReadFile(P("many/l" + std::to_string(i))), want);
        seen += 2;
      } else {
        EXPECT_EQ(ReadFile(P("many/f" + std::to_string(i))), want);
        seen += 1;
      }
    }
    EXPECT_EQ(static_cast<int>(List(P("many")).size()), seen);
  };
  check();
  Remount();
  check();
}

}  // namespace
