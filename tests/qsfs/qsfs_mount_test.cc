// Integration tests: a real qsfs mounted with FUSE on a real zdb, POSIX
// semantics. Results are checked byte for byte and errors by their exact
// errno.
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

TEST_F(QsfsTest, FilesAndDirectoriesWithErrors) {
  WriteFile(P("a"), "hello world");
  EXPECT_EQ(ReadFile(P("a")), "hello world");
  EXPECT_EQ(Stat(P("a")).st_size, 11);
  EXPECT_TRUE(S_ISREG(Stat(P("a")).st_mode));
  EXPECT_EQ(QS_ERRNO(open(P("a").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)), EEXIST);
  EXPECT_EQ(QS_ERRNO(open(P("missing").c_str(), O_RDONLY)), ENOENT);
  EXPECT_EQ(QS_ERRNO(open(P("missing/x").c_str(), O_CREAT | O_WRONLY, 0644)), ENOENT);
  EXPECT_EQ(QS_ERRNO(open(P("a/x").c_str(), O_CREAT | O_WRONLY, 0644)), ENOTDIR);

  ASSERT_EQ(mkdir(P("d").c_str(), 0755), 0);
  EXPECT_EQ(QS_ERRNO(mkdir(P("d").c_str(), 0755)), EEXIST);
  EXPECT_EQ(QS_ERRNO(mkdir(P("a").c_str(), 0755)), EEXIST);
  EXPECT_EQ(Stat(P("d")).st_nlink, 2u);
  nlink_t root_links = Stat(mnt_).st_nlink;
  ASSERT_EQ(mkdir(P("d/sub").c_str(), 0700), 0);
  EXPECT_EQ(Stat(P("d")).st_nlink, 3u);
  EXPECT_EQ(Stat(P("d/sub")).st_mode, static_cast<mode_t>(S_IFDIR | 0700));
  WriteFile(P("d/f"), "x");
  EXPECT_EQ(QS_ERRNO(rmdir(P("d").c_str())), ENOTEMPTY);
  EXPECT_EQ(QS_ERRNO(rmdir(P("a").c_str())), ENOTDIR);
  EXPECT_EQ(QS_ERRNO(unlink(P("d").c_str())), EISDIR);
  EXPECT_EQ(QS_ERRNO(unlink(P("nothing").c_str())), ENOENT);
  EXPECT_EQ(QS_ERRNO(rmdir(P("nothing").c_str())), ENOENT);

  auto names = List(P("d"));
  EXPECT_EQ(names, (std::map<std::string, int>{{"f", DT_REG}, {"sub", DT_DIR}}));

  ASSERT_EQ(rmdir(P("d/sub").c_str()), 0);
  EXPECT_EQ(Stat(P("d")).st_nlink, 2u);
  ASSERT_EQ(unlink(P("d/f").c_str()), 0);
  ASSERT_EQ(rmdir(P("d").c_str()), 0);
  EXPECT_EQ(Stat(mnt_).st_nlink, root_links - 1);
  EXPECT_EQ(QS_ERRNO(access(P("d").c_str(), F_OK)), ENOENT);

  std::string n255(255, 'n');
  std::string n256(256, 'n');
  WriteFile(P(n255), "long");
  EXPECT_EQ(ReadFile(P(n255)), "long");
  EXPECT_EQ(QS_ERRNO(open(P(n256).c_str(), O_CREAT | O_WRONLY, 0644)), ENAMETOOLONG);
  EXPECT_EQ(QS_ERRNO(mkdir(P(n256).c_str(), 0755)), ENAMETOOLONG);
  struct stat st;
  EXPECT_EQ(QS_ERRNO(stat(P(n256).c_str(), &st)), ENAMETOOLONG);

  // Overwrite in the middle, then O_APPEND from two descriptors.
  int fd = open(P("a").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "WORLD", 5, 6), 5);
  close(fd);
  EXPECT_EQ(ReadFile(P("a")), "hello WORLD");
  int a1 = open(P("a").c_str(), O_WRONLY | O_APPEND);
  int a2 = open(P("a").c_str(), O_WRONLY | O_APPEND);
  ASSERT_EQ(write(a1, "1", 1), 1);
  ASSERT_EQ(write(a2, "2", 1), 1);
  ASSERT_EQ(write(a1, "3", 1), 1);
  close(a1);
  close(a2);
  EXPECT_EQ(ReadFile(P("a")), "hello WORLD123");
  // O_TRUNC.
  WriteFile(P("a"), "new");
  EXPECT_EQ(ReadFile(P("a")), "new");
}

TEST_F(QsfsTest, LinksSymlinksAndSpecialFiles) {
  WriteFile(P("f"), "data");
  ASSERT_EQ(link(P("f").c_str(), P("g").c_str()), 0);
  EXPECT_EQ(Stat(P("f")).st_nlink, 2u);
  EXPECT_EQ(Stat(P("f")).st_ino, Stat(P("g")).st_ino);
  EXPECT_EQ(QS_ERRNO(link(P("f").c_str(), P("g").c_str())), EEXIST);
  ASSERT_EQ(mkdir(P("d").c_str(), 0755), 0);
  EXPECT_EQ(QS_ERRNO(link(P("d").c_str(), P("d2").c_str())), EPERM);
  ASSERT_EQ(unlink(P("f").c_str()), 0);
  EXPECT_EQ(Stat(P("g")).st_nlink, 1u);
  EXPECT_EQ(ReadFile(P("g")), "data");

  ASSERT_EQ(symlink("g", P("s").c_str()), 0);
  char buf[64] = {};
  EXPECT_EQ(readlink(P("s").c_str(), buf, sizeof(buf)), 1);
  EXPECT_EQ(std::string(buf), "g");
  EXPECT_TRUE(S_ISLNK(Stat(P("s")).st_mode));
  EXPECT_EQ(Stat(P("s")).st_size, 1);
  EXPECT_EQ(ReadFile(P("s")), "data");
  EXPECT_EQ(QS_ERRNO(readlink(P("g").c_str(), buf, sizeof(buf))), EINVAL);
  std::string long_target(4000, 'x');
  ASSERT_EQ(symlink(long_target.c_str(), P("long").c_str()), 0);
  std::vector<char> lbuf(5000);
  EXPECT_EQ(readlink(P("long").c_str(), lbuf.data(), lbuf.size()), 4000);
  ASSERT_EQ(symlink("dangling", P("dl").c_str()), 0);
  EXPECT_EQ(QS_ERRNO(open(P("dl").c_str(), O_RDONLY)), ENOENT);

  ASSERT_EQ(mkfifo(P("fifo").c_str(), 0640), 0);
  EXPECT_EQ(Stat(P("fifo")).st_mode, static_cast<mode_t>(S_IFIFO | 0640));
  ASSERT_EQ(mknod(P("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  struct stat st = Stat(P("null"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
  ASSERT_EQ(mknod(P("blk").c_str(), S_IFBLK | 0600, makedev(8, 1)), 0);
  EXPECT_TRUE(S_ISBLK(Stat(P("blk")).st_mode));

  auto names = List(mnt_);
  EXPECT_EQ(names["d"], DT_DIR);
  EXPECT_EQ(names["g"], DT_REG);
  EXPECT_EQ(names["s"], DT_LNK);
  EXPECT_EQ(names["fifo"], DT_FIFO);
  EXPECT_EQ(names["null"], DT_CHR);
  EXPECT_EQ(names["blk"], DT_BLK);
}

TEST_F(QsfsTest, RenameAllFlavours) {
  WriteFile(P("a"), "A");
  WriteFile(P("b"), "B");
  ino_t a_ino = Stat(P("a")).st_ino;
  // Plain rename, then over an existing file.
  ASSERT_EQ(rename(P("a").c_str(), P("c").c_str()), 0);
  EXPECT_EQ(QS_ERRNO(access(P("a").c_str(), F_OK)), ENOENT);
  ASSERT_EQ(rename(P("c").c_str(), P("b").c_str()), 0);
  EXPECT_EQ(ReadFile(P("b")), "A");
  EXPECT_EQ(Stat(P("b")).st_ino, a_ino);
  EXPECT_EQ(List(mnt_), (std::map<std::string, int>{{"b", DT_REG}}));
  EXPECT_EQ(QS_ERRNO(rename(P("nope").c_str(), P("x").c_str())), ENOENT);

  // Directories: over an empty one, not over a full one, file vs dir.
  ASSERT_EQ(mkdir(P("d1").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(P("d2").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(P("full").c_str(), 0755), 0);
  WriteFile(P("full/x"), "x");
  nlink_t root_links = Stat(mnt_).st_nlink;
  ASSERT_EQ(rename(P("d1").c_str(), P("d2").c_str()), 0);
  EXPECT_EQ(Stat(mnt_).st_nlink, root_links - 1);
  EXPECT_EQ(QS_ERRNO(rename(P("d2").c_str(), P("full").c_str())), ENOTEMPTY);
  EXPECT_EQ(QS_ERRNO(rename(P("b").c_str(), P("d2").c_str())), EISDIR);
  EXPECT_EQ(QS_ERRNO(rename(P("d2").c_str(), P("b").c_str())), ENOTDIR);
  EXPECT_EQ(QS_ERRNO(rename(P("d2").c_str(), P("d2/inside").c_str())), EINVAL);
  ASSERT_EQ(mkdir(P("d2/deep").c_str(), 0755), 0);
  EXPECT_EQ(QS_ERRNO(rename(P("d2").c_str(), P("d2/deep/inside").c_str())), EINVAL);

  // Cross-directory move of a directory: ".." and link counts follow.
  ASSERT_EQ(rename(P("d2/deep").c_str(), P("full/deep").c_str()), 0);
  EXPECT_EQ(Stat(P("d2")).st_nlink, 2u);
  EXPECT_EQ(Stat(P("full")).st_nlink, 3u);
  EXPECT_EQ(Stat(P("full/deep/..")).st_ino, Stat(P("full")).st_ino);

  // RENAME_NOREPLACE and RENAME_EXCHANGE.
  WriteFile(P("e1"), "one");
  WriteFile(P("e2"), "two");
  EXPECT_EQ(QS_ERRNO(renameat2(AT_FDCWD, P("e1").c_str(), AT_FDCWD, P("e2").c_str(), RENAME_NOREPLACE)), EEXIST);
  ASSERT_EQ(renameat2(AT_FDCWD, P("e1").c_str(), AT_FDCWD, P("e3").c_str(), RENAME_NOREPLACE), 0);
  ASSERT_EQ(renameat2(AT_FDCWD, P("e3").c_str(), AT_FDCWD, P("e2").c_str(), RENAME_EXCHANGE), 0);
  EXPECT_EQ(ReadFile(P("e3")), "two");
  EXPECT_EQ(ReadFile(P("e2")), "one");
  EXPECT_EQ(QS_ERRNO(renameat2(AT_FDCWD, P("e3").c_str(), AT_FDCWD, P("zz").c_str(), RENAME_EXCHANGE)), ENOENT);
  // Exchange a file in one directory with a directory in another.
  nlink_t full_links = Stat(P("full")).st_nlink;
  nlink_t d2_links = Stat(P("d2")).st_nlink;
  ASSERT_EQ(renameat2(AT_FDCWD, P("e3").c_str(), AT_FDCWD, P("full/deep").c_str(), RENAME_EXCHANGE), 0);
  EXPECT_TRUE(S_ISDIR(Stat(P("e3")).st_mode));
  EXPECT_EQ(ReadFile(P("full/deep")), "two");
  EXPECT_EQ(Stat(P("e3/..")).st_ino, Stat(mnt_).st_ino);
  EXPECT_EQ(Stat(P("full")).st_nlink, full_links - 1);
  EXPECT_EQ(Stat(P("d2")).st_nlink, d2_links);
  EXPECT_EQ(List(P("full")), (std::map<std::string, int>{{"deep", DT_REG}, {"x", DT_REG}}));

  // Survives a remount.
  Remount();
  EXPECT_EQ(ReadFile(P("full/deep")), "two");
  EXPECT_EQ(ReadFile(P("e2")), "one");
  EXPECT_EQ(Stat(P("e3/..")).st_ino, Stat(mnt_).st_ino);
  EXPECT_EQ(Stat(P("full")).st_nlink, full_links - 1);
}

TEST_F(QsfsTest, SparseFilesTruncateAndSeek) {
  const off_t kFar = 10 << 20;
  int fd = open(P("sparse").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "head", 4, 0), 4);
  ASSERT_EQ(pwrite(fd, "tail", 4, kFar), 4);
  EXPECT_EQ(lseek(fd, 0, SEEK_DATA), 0);
  if (WritebackCache()) {
    // The kernel answers (qsfs may not have its pages yet): all data, as
    // POSIX allows, with the hole at the end of the file.
    EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), kFar + 4);
    EXPECT_EQ(lseek(fd, 200 * 1024, SEEK_DATA), 200 * 1024);
  } else {
    EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), 128 * 1024);
    EXPECT_EQ(lseek(fd, 200 * 1024, SEEK_DATA), kFar - kFar % (128 * 1024));
  }
  EXPECT_EQ(lseek(fd, kFar, SEEK_HOLE), kFar + 4);
  EXPECT_EQ(QS_ERRNO(lseek(fd, kFar + 4, SEEK_DATA)), ENXIO);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  struct stat st = Stat(P("sparse"));
  EXPECT_EQ(st.st_size, kFar + 4);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
  std::string all = ReadFile(P("sparse"));
  ASSERT_EQ(all.size(), static_cast<size_t>(kFar + 4));
  EXPECT_EQ(all.substr(0, 4), "head");
  EXPECT_EQ(all.substr(kFar), "tail");
  EXPECT_EQ(all.find_first_not_of('\0', 4), static_cast<size_t>(kFar));

  // Shrink then extend: the cut bytes read as zeros, never stale data.
  std::string data = RandomBytes(300 * 1024, 7);
  WriteFile(P("t"), data);
  ASSERT_EQ(truncate(P("t").c_str(), 1000), 0);
  EXPECT_EQ(ReadFile(P("t")), data.substr(0, 1000));
  ASSERT_EQ(truncate(P("t").c_str(), 300 * 1024), 0);
  std::string back = ReadFile(P("t"));
  ASSERT_EQ(back.size(), data.size());
  EXPECT_EQ(back.substr(0, 1000), data.substr(0, 1000));
  EXPECT_EQ(back.find_first_not_of('\0', 1000), std::string::npos);
  fd = open(P("t").c_str(), O_RDWR);
  ASSERT_EQ(ftruncate(fd, 10), 0);
  ASSERT_EQ(ftruncate(fd, 20), 0);
  char buf[32];
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 0), 20);
  EXPECT_EQ(std::string(buf, 10), data.substr(0, 10));
  EXPECT_EQ(std::string(buf + 10, 10), std::string(10, '\0'));
  close(fd);

  // fallocate: extend, and punch a hole.
  fd = open(P("fa").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_EQ(fallocate(fd, 0, 0, 4096), 0);
  EXPECT_EQ(Stat(P("fa")).st_size, 4096);
  std::string blob = RandomBytes(512 * 1024, 9);
  ASSERT_EQ(pwrite(fd, blob.data(), blob.size(), 0), static_cast<ssize_t>(blob.size()));
  ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 300 * 1024), 0);
  close(fd);
  std::string expect = blob;
  std::fill(expect.begin() + 100, expect.begin() + 100 + 300 * 1024, '\0');
  EXPECT_EQ(ReadFile(P("fa")), expect);
  Remount();
  EXPECT_EQ(ReadFile(P("fa")), expect);
  EXPECT_EQ(ReadFile(P("sparse")).substr(kFar), "tail");
}

TEST_F(QsfsTest, AttributesAndTimes) {
  WriteFile(P("f"), "x");
  ASSERT_EQ(chmod(P("f").c_str(), 04755), 0);
  EXPECT_EQ(Stat(P("f")).st_mode & 07777, 04755u);
  ASSERT_EQ(chown(P("f").c_str(), 4000000000u, 4000000001u), 0);
  struct stat st = Stat(P("f"));
  EXPECT_EQ(st.st_uid, 4000000000u);
  EXPECT_EQ(st.st_gid, 4000000001u);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "chown clears setuid";
  ASSERT_EQ(chmod(P("f").c_str(), 06775), 0);
  ASSERT_EQ(chown(P("f").c_str(), 1, 1), 0);
  EXPECT_EQ(Stat(P("f")).st_mode & 07777, 0775u) << "chown clears setgid of a group-executable file";

  // utimensat: explicit nanoseconds, 64-bit seconds, UTIME_OMIT, UTIME_NOW.
  timespec ts[2];
  ts[0] = {int64_t{1} << 33, 123456789};
  ts[1] = {1000000000, 987654321};
  ASSERT_EQ(utimensat(AT_FDCWD, P("f").c_str(), ts, 0), 0);
  st = Stat(P("f"));
  EXPECT_EQ(st.st_atim.tv_sec, int64_t{1} << 33);
  EXPECT_EQ(st.st_atim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987654321);
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1].tv_nsec = UTIME_NOW;
  time_t before = time(nullptr);
  ASSERT_EQ(utimensat(AT_FDCWD, P("f").c_str(), ts, 0), 0);
  st = Stat(P("f"));
  EXPECT_EQ(st.st_atim.tv_sec, int64_t{1} << 33);
  EXPECT_GE(st.st_mtim.tv_sec, before);
  EXPECT_GE(st.st_ctim.tv_sec, before);

  // Writing and truncating move mtime and ctime.
  ts[0] = {1000, 0};
  ts[1] = {1000, 0};
  ASSERT_EQ(utimensat(AT_FDCWD, P("f").c_str(), ts, 0), 0);
  WriteFile(P("f"), "more", O_WRONLY | O_APPEND);
  EXPECT_GE(Stat(P("f")).st_mtim.tv_sec, before);
  ASSERT_EQ(utimensat(AT_FDCWD, P("f").c_str(), ts, 0), 0);
  ASSERT_EQ(truncate(P("f").c_str(), 2), 0);
  EXPECT_GE(Stat(P("f")).st_mtim.tv_sec, before);
  // A new entry moves the directory's mtime.
  ASSERT_EQ(utimensat(AT_FDCWD, mnt_.c_str(), ts, 0), 0);
  WriteFile(P("g"), "");
  EXPECT_GE(Stat(mnt_).st_mtim.tv_sec, before);

  Remount();
  st = Stat(P("f"));
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_uid, 1u);
  EXPECT_EQ(st.st_size, 2);
}

TEST_F(QsfsTest, ExtendedAttributes) {
  WriteFile(P("f"), "x");
  std::string f = P("f");
  ASSERT_EQ(setxattr(f.c_str(), "user.a", "alpha", 5, 0), 0);
  ASSERT_EQ(setxattr(f.c_str(), "user.b", "", 0, 0), 0);
  EXPECT_EQ(QS_ERRNO(setxattr(f.c_str(), "user.a", "x", 1, XATTR_CREATE)), EEXIST);
  EXPECT_EQ(QS_ERRNO(setxattr(f.c_str(), "user.c", "x", 1, XATTR_REPLACE)), ENODATA);
  char buf[256];
  EXPECT_EQ(getxattr(f.c_str(), "user.a", nullptr, 0), 5);
  EXPECT_EQ(getxattr(f.c_str(), "user.a", buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string(buf, 5), "alpha");
  EXPECT_EQ(QS_ERRNO(getxattr(f.c_str(), "user.a", buf, 2)), ERANGE);
  EXPECT_EQ(getxattr(f.c_str(), "user.b", buf, sizeof(buf)), 0);
  EXPECT_EQ(QS_ERRNO(getxattr(f.c_str(), "user.none", buf, sizeof(buf))), ENODATA);
  ssize_t n = listxattr(f.c_str(), buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), std::string("user.a\0user.b\0", 14));
  ASSERT_EQ(setxattr(f.c_str(), "user.a", "replaced", 8, XATTR_REPLACE), 0);
  std::string big(65536, 'v');
  ASSERT_EQ(setxattr(f.c_str(), "user.big", big.data(), big.size(), 0), 0);
  ASSERT_EQ(removexattr(f.c_str(), "user.b"), 0);
  EXPECT_EQ(QS_ERRNO(removexattr(f.c_str(), "user.b")), ENODATA);
  ASSERT_EQ(mkdir(P("d").c_str(), 0755), 0);
  ASSERT_EQ(setxattr(P("d").c_str(), "user.dir", "yes", 3, 0), 0);
  Remount();
  EXPECT_EQ(getxattr(f.c_str(), "user.a", buf, sizeof(buf)), 8);
  EXPECT_EQ(std::string(buf, 8), "replaced");
  std::string got(70000, '\0');
  EXPECT_EQ(getxattr(f.c_str(), "user.big", got.data(), got.size()), 65536);
  EXPECT_EQ(got.substr(0, 65536), big);
  n = listxattr(f.c_str(), buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), std::string("user.a\0user.big\0", 16));
  EXPECT_EQ(getxattr(P("d").c_str(), "user.dir", buf, sizeof(buf)), 3);
}

TEST_F(QsfsTest, PermissionsAsAnotherUser) {
  ASSERT_EQ(mkdir(P("root_only").c_str(), 0755), 0);
  WriteFile(P("secret"), "s", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_EQ(chmod(P("secret").c_str(), 0600), 0);
  ASSERT_EQ(mkdir(P("tmp").c_str(), 01777), 0);
  ASSERT_EQ(chmod(P("tmp").c_str(), 01777), 0);
  std::string mnt = mnt_;
  EXPECT_EQ(RunAs(1000, 1000, [&] { return QS_ERRNO(open((mnt + "/root_only/x").c_str(), O_CREAT | O_WRONLY, 0644)); }),
            EACCES);
  EXPECT_EQ(RunAs(1000, 1000, [&] { return QS_ERRNO(open((mnt + "/secret").c_str(), O_RDONLY)); }), EACCES);
  EXPECT_EQ(RunAs(1000, 1000, [&] { return QS_ERRNO(chmod((mnt + "/secret").c_str(), 0777)); }), EPERM);
  EXPECT_EQ(RunAs(1000, 1000, [&] { return QS_ERRNO(unlink((mnt + "/secret").c_str())); }), EACCES);
  // Sticky directory: others may create, only the owner removes.
  EXPECT_EQ(RunAs(1000, 1000, [&] {
              int fd = open((mnt + "/tmp/mine").c_str(), O_CREAT | O_WRONLY, 04755);
              if (fd < 0) return errno;
              close(fd);
              return fchmodat(AT_FDCWD, (mnt + "/tmp/mine").c_str(), 04777, 0) < 0 ? errno : 0;
            }),
            0);
  struct stat st = Stat(P("tmp/mine"));
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1000u);
  EXPECT_EQ(RunAs(1001, 1001, [&] { return QS_ERRNO(unlink((mnt + "/tmp/mine").c_str())); }), EPERM);
  EXPECT_EQ(RunAs(1001, 1001, [&] {
              return QS_ERRNO(rename((mnt + "/tmp/mine").c_str(), (mnt + "/tmp/theirs").c_str()));
            }),
            EPERM);
  // A write by someone without CAP_FSETID clears setuid.
  EXPECT_EQ(RunAs(1001, 1001, [&] {
              int fd = open((mnt + "/tmp/mine").c_str(), O_WRONLY);
              if (fd < 0) return errno;
              int r = write(fd, "z", 1) == 1 ? 0 : errno;
              close(fd);
              return r;
            }),
            0);
  EXPECT_EQ(Stat(P("tmp/mine")).st_mode & 07000, 0u);
  EXPECT_EQ(RunAs(1000, 1000, [&] { return QS_ERRNO(unlink((mnt + "/tmp/mine").c_str())); }), 0);
  // setgid directories hand their group down.
  ASSERT_EQ(mkdir(P("sg").c_str(), 0777), 0);
  ASSERT_EQ(chown(P("sg").c_str(), 0, 555), 0);
  ASSERT_EQ(chmod(P("sg").c_str(), 02777), 0);
  EXPECT_EQ(RunAs(1000, 1000, [&] { return QS_ERRNO(mkdir((mnt + "/sg/sub").c_str(), 0755)); }), 0);
  st = Stat(P("sg/sub"));
  EXPECT_EQ(st.st_gid, 555u);
  EXPECT_TRUE(st.st_mode & S_ISGID);
}

TEST_F(QsfsTest, UnlinkedOpenFileLivesUntilClose) {
  std::string data = RandomBytes(400 * 1024, 3);
  WriteFile(P("f"), data);
  int fd = open(P("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(unlink(P("f").c_str()), 0);
  EXPECT_EQ(QS_ERRNO(access(P("f").c_str(), F_OK)), ENOENT);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  std::string back(data.size(), '\0');
  EXPECT_EQ(pread(fd, back.data(), back.size(), 0), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(back, data);
  ASSERT_EQ(pwrite(fd, "new", 3, 0), 3);
  ASSERT_EQ(pread(fd, back.data(), 3, 0), 3);
  EXPECT_EQ(back.substr(0, 3), "new");
  close(fd);
  // The blocks are deleted from the data namespace by the last release
  // (which the kernel sends just after close returns).
  qsfs_test::WaitForDataNamespace(Admin(), "\nentries: 0\n");
  EXPECT_TRUE(List(mnt_).empty());
}

TEST_F(QsfsTest, LargeFileSurvivesRemount) {
  const size_t kSize = 64u << 20;
  std::string data = RandomBytes(kSize, 42);
  int fd = open(P("big").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  for (size_t off = 0; off < kSize; off += 1 << 20) {
    ASSERT_EQ(write(fd, data.data() + off, 1 << 20), 1 << 20);
  }
  close(fd);
  EXPECT_EQ(ReadFile(P("big")), data);
  // Overwrite one block in the middle: only that block is rewritten.
  qs::ZdbClient admin = Admin();
  auto before = admin.Command({"NSINFO", "qsfs-data"});
  fd = open(P("big").c_str(), O_WRONLY);
  ASSERT_EQ(pwrite(fd, "patch", 5, 5 << 20), 5);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  std::memcpy(data.data() + (5 << 20), "patch", 5);
  auto after = admin.Command({"NSINFO", "qsfs-data"});
  ASSERT_TRUE(before.ok() && after.ok());
  auto field = [](const std::string& info, const std::string& key) {
    size_t p = info.find("\n" + key + ": ");
    return std::stoull(info.substr(p + key.size() + 3));
  };
  EXPECT_EQ(field(before->str, "entries"), field(after->str, "entries"));
  EXPECT_LE(static_cast<long long>(field(after->str, "data_disk_bytes")) -
                static_cast<long long>(field(before->str, "data_disk_bytes")),
            256 * 1024);
  Remount();
  EXPECT_EQ(ReadFile(P("big")), data);
}

TEST_F(QsfsTest, ReadMovesAtimeLikeRelatime) {
  WriteFile(P("f"), "content");
  timespec ts[2] = {{1000, 0}, {2000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, P("f").c_str(), ts, 0), 0);
  Remount();  // cold page cache: the read reaches qsfs
  time_t before = time(nullptr);
  EXPECT_EQ(ReadFile(P("f")), "content");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // attribute cache
  EXPECT_GE(Stat(P("f")).st_atim.tv_sec, before);
  EXPECT_EQ(Stat(P("f")).st_mtim.tv_sec, 2000);
  Remount();
  EXPECT_GE(Stat(P("f")).st_atim.tv_sec, before);
  EXPECT_EQ(QS_ERRNO(truncate(P("f").c_str(), int64_t{1} << 45)), EFBIG);
}

TEST_F(QsfsTest, BigDirectorySplitsAndLists) {
  const int kFiles = 3000;
  std::set<std::string> want;
  for (int i = 0; i < kFiles; i++) {
    std::string name = "file-" + std::to_string(i);
    int fd = open(P(name).c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0) << name;
    close(fd);
    want.insert(name);
  }
  auto check = [&] {
    auto got = List(mnt_);
    std::set<std::string> names;
    for (auto& [n, t] : got) names.insert(n);
    EXPECT_EQ(names, want);
  };
  check();
  for (int i = 0; i < kFiles; i += 2) {
    std::string name = "file-" + std::to_string(i);
    ASSERT_EQ(unlink(P(name).c_str()), 0);
    want.erase(name);
  }
  check();
  Remount();
  check();
  for (const std::string& n : want) {
    struct stat st;
    ASSERT_EQ(stat(P(n).c_str(), &st), 0) << n;
  }
}

TEST_F(QsfsTest, ConcurrentProcessesCreateAndRenameInOneDirectory) {
  const int kProcs = 4;
  const int kEach = 150;
  std::string mnt = mnt_;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; p++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 0; i < kEach; i++) {
        std::string tmp = mnt + "/tmp-" + std::to_string(p) + "-" + std::to_string(i);
        std::string fin = mnt + "/final-" + std::to_string(p) + "-" + std::to_string(i);
        int fd = open(tmp.c_str(), O_CREAT | O_WRONLY | O_EXCL, 0644);
        if (fd < 0) _exit(1);
        std::string body = std::to_string(p * 100000 + i);
        if (write(fd, body.data(), body.size()) != static_cast<ssize_t>(body.size())) _exit(2);
        close(fd);
        if (rename(tmp.c_str(), fin.c_str()) != 0) _exit(3);
        // Everyone also renames onto one shared name.
        std::string mine = mnt + "/shared-src-" + std::to_string(p);
        fd = open(mine.c_str(), O_CREAT | O_WRONLY, 0644);
        if (fd < 0) _exit(4);
        close(fd);
        if (rename(mine.c_str(), (mnt + "/shared").c_str()) != 0) _exit(5);
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  }
  auto names = List(mnt_);
  EXPECT_EQ(names.size(), static_cast<size_t>(kProcs * kEach + 1));
  for (int p = 0; p < kProcs; p++) {
    for (int i = 0; i < kEach; i++) {
      std::string fin = "final-" + std::to_string(p) + "-" + std::to_string(i);
      ASSERT_EQ(ReadFile(P(fin)), std::to_string(p * 100000 + i)) << fin;
    }
  }
  EXPECT_EQ(Stat(P("shared")).st_nlink, 1u);
}

TEST_F(QsfsTest, PosixAndFlockLocksAreEnforced) {
  WriteFile(P("l"), "locked");
  int fd = open(P("l").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  ASSERT_EQ(fcntl(fd, F_SETLK, &fl), 0);
  int other = open(P("l").c_str(), O_RDWR);
  ASSERT_EQ(flock(other, LOCK_EX | LOCK_NB), 0);
  std::string path = P("l");
  int child = RunAs(0, 0, [&] {
    int cfd = open(path.c_str(), O_RDWR);
    if (cfd < 0) return 100;
    struct flock c {};
    c.l_type = F_RDLCK;
    c.l_whence = SEEK_SET;
    int posix = fcntl(cfd, F_SETLK, &c) < 0 ? errno : 0;
    int bsd = flock(cfd, LOCK_SH | LOCK_NB) < 0 ? errno : 0;
    return (posix == EAGAIN || posix == EACCES) && bsd == EWOULDBLOCK ? 0 : 101;
  });
  EXPECT_EQ(child, 0);
  close(other);
  close(fd);
}

TEST_F(QsfsTest, StatfsReportsZdbSpace) {
  struct statvfs sv;
  ASSERT_EQ(statvfs(mnt_.c_str(), &sv), 0);
  EXPECT_EQ(sv.f_namemax, 255u);
  EXPECT_GT(sv.f_blocks, 0u);
  EXPECT_GT(sv.f_bavail, 0u);
  EXPECT_LE(sv.f_bavail, sv.f_blocks);
  EXPECT_EQ(sv.f_frsize, 4096u);
}

// Writes, overwrites, truncates and reads against an in-memory model while
// the background write-back runs constantly (a 1 MiB dirty cache): never a
// wrong byte, through the mount and after a remount.
TEST_F(QsfsTest, OverwritesAndTruncatesDuringWriteBackMatchAModel) {
  Unmount();
  Mount("dirty_cache=1M");
  const size_t kSpan = 4 << 20;
  std::string model;
  std::mt19937 rng(11);
  int fd = open(P("model").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  for (int round = 0; round < 300; ++round) {
    size_t off = rng() % kSpan;
    size_t len = 1 + rng() % (300 << 10);
    switch (rng() % 8) {
      case 0: {  // truncate, down or up
        size_t size = rng() % kSpan;
        ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
        model.resize(size, '\0');
        break;
      }
      case 1: {  // read a range back
        std::string got(len, '\0');
        ssize_t n = pread(fd, got.data(), len, static_cast<off_t>(off));
        ASSERT_GE(n, 0);
        size_t want = off >= model.size() ? 0 : std::min(len, model.size() - off);
        ASSERT_EQ(static_cast<size_t>(n), want) << "round " << round;
        if (want > 0) {
          ASSERT_TRUE(got.compare(0, want, model, off, want) == 0) << "round " << round << " off " << off;
        }
        break;
      }
      default: {  // write a range
        std::string data(len, static_cast<char>('a' + round % 26));
        for (size_t k = 0; k < len; k += 997) data[k] = static_cast<char>(rng());
        ASSERT_EQ(pwrite(fd, data.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
        if (model.size() < off + len) model.resize(off + len, '\0');
        model.replace(off, len, data);
      }
    }
  }
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  EXPECT_TRUE(ReadFile(P("model")) == model);
  Remount();
  EXPECT_TRUE(ReadFile(P("model")) == model);
}

// RENAME_WHITEOUT leaves a character device 0:0 at the old name, and
// overlayfs takes a qsfs directory as its upper layer (Docker on qsfs):
// copy-up, whiteouts and opaque directories, kept across a remount.
TEST_F(QsfsTest, WhiteoutsAndOverlayfsUpperLayer) {
  WriteFile(P("w1"), "moved");
  ASSERT_EQ(renameat2(AT_FDCWD, P("w1").c_str(), AT_FDCWD, P("w2").c_str(), RENAME_WHITEOUT), 0) << strerror(errno);
  EXPECT_EQ(ReadFile(P("w2")), "moved");
  struct stat st;
  ASSERT_EQ(lstat(P("w1").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_EQ(QS_ERRNO(renameat2(AT_FDCWD, P("w2").c_str(), AT_FDCWD, P("w3").c_str(), RENAME_WHITEOUT | RENAME_EXCHANGE)),
            EINVAL);

  const std::string lower = dir_ + "/lower", merged = dir_ + "/merged";
  ASSERT_EQ(mkdir(lower.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((lower + "/d").c_str(), 0755), 0);
  WriteFile(lower + "/a", "lower a\n");
  WriteFile(lower + "/gone", "lower gone\n");
  WriteFile(lower + "/d/x", "lower x\n");
  ASSERT_EQ(mkdir(merged.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(P("upper").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(P("work").c_str(), 0755), 0);
  const std::string opts = "lowerdir=" + lower + ",upperdir=" + P("upper") + ",workdir=" + P("work");
  auto overlay = [&] { return mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()); };
  ASSERT_EQ(overlay(), 0) << strerror(errno);
  WriteFile(merged + "/a", "upper a\n", O_WRONLY | O_APPEND);       // copy-up
  ASSERT_EQ(unlink((merged + "/gone").c_str()), 0);                 // whiteout
  ASSERT_EQ(unlink((merged + "/d/x").c_str()), 0);
  ASSERT_EQ(rmdir((merged + "/d").c_str()), 0);
  ASSERT_EQ(mkdir((merged + "/d").c_str(), 0755), 0);               // opaque directory
  WriteFile(merged + "/new", "new\n");
  ASSERT_EQ(rename((merged + "/new").c_str(), (merged + "/renamed").c_str()), 0);
  auto expect_view = [&] {
    EXPECT_EQ(ReadFile(merged + "/a"), "lower a\nupper a\n");
    EXPECT_EQ(QS_ERRNO(access((merged + "/gone").c_str(), F_OK)), ENOENT);
    EXPECT_EQ(QS_ERRNO(access((merged + "/d/x").c_str(), F_OK)), ENOENT);
    EXPECT_EQ(ReadFile(merged + "/renamed"), "new\n");
    EXPECT_EQ(ReadFile(lower + "/gone"), "lower gone\n");  // the lower layer is untouched
  };
  expect_view();
  ASSERT_EQ(umount2(merged.c_str(), 0), 0);
  Remount();
  ASSERT_EQ(overlay(), 0) << strerror(errno);
  expect_view();
  ASSERT_EQ(umount2(merged.c_str(), 0), 0);
}

}  // namespace
