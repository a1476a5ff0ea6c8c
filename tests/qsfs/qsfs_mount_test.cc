// Integration tests: a real qsfs mounted with FUSE on a real zdb. Results
// are checked byte for byte and errors by their exact errno.
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

using qsfs_test::QsfsFixture;
using qsfs_test::ReadFile;
using qsfs_test::RunAs;
using qsfs_test::WriteFile;

using QsfsTest = QsfsFixture;

struct stat Stat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
  return st;
}

// name -> d_type, without "." and "..".
std::map<std::string, int> List(const std::string& dir) {
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

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

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

// Value of the sample `series` ("name{labels}") in a /metrics page, -1 if absent.
double MetricValue(const std::string& page, const std::string& series) {
  size_t p = page.find("\n" + series + " ");
  if (p == std::string::npos) return -1;
  return std::strtod(page.c_str() + p + series.size() + 2, nullptr);
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
