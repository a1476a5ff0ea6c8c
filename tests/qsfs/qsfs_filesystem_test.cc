// The Filesystem's POSIX logic on a MemoryStore: no zdb, no /dev/fuse, no
// mount. What the kernel would send through fs_ops.cc is called directly,
// so each test runs in milliseconds and error paths are reached by
// injecting store failures.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "qsfs/filesystem.h"
#include "qsfs/keys.h"
#include "qsfs/memory_store.h"

namespace qsfs {
namespace {

constexpr uint32_t kBlock = 4096;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class FilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.block_size = kBlock;
    options_.meta_ns = "memory-meta";
    options_.data_ns = "memory-data";
    caller_.uid = getuid();
    caller_.gid = getgid();
    MountAgain();
  }
  void TearDown() override { Unmount(); }

  void MountAgain() {
    auto fs = Filesystem::Mount(options_, store_);
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    fs_ = std::move(fs.value());
  }
  void Unmount() {
    if (!fs_) return;
    qs::Status s = fs_->Shutdown();
    EXPECT_TRUE(s.ok()) << s.ToString();
    fs_.reset();
  }
  void Remount() {
    Unmount();
    MountAgain();
  }

  // The inode a path names, walking from the root; 0 when a name is missing.
  uint64_t Resolve(const std::string& path) {
    uint64_t ino = kRootIno;
    size_t pos = 0;
    while (pos < path.size()) {
      size_t slash = path.find('/', pos);
      std::string name = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
      pos = slash == std::string::npos ? path.size() : slash + 1;
      Entry e;
      if (fs_->Lookup(ino, name, &e) != 0) return 0;
      fs_->Forget(e.ino, 1);
      ino = e.ino;
    }
    return ino;
  }
  struct stat Attr(uint64_t ino) {
    struct stat st {};
    EXPECT_EQ(fs_->GetAttr(ino, &st), 0);
    return st;
  }
  uint64_t MakeFile(uint64_t parent, const std::string& name, const std::string& content) {
    Entry e;
    EXPECT_EQ(fs_->Create(caller_, parent, name, 0644, O_WRONLY, &e), 0);
    size_t written = 0;
    if (!content.empty()) EXPECT_EQ(fs_->Write(e.ino, content.data(), content.size(), 0, false, &written), 0);
    EXPECT_EQ(written, content.size());
    EXPECT_EQ(fs_->Release(e.ino, O_WRONLY), 0);
    fs_->Forget(e.ino, 1);
    return e.ino;
  }
  uint64_t MakeDir(uint64_t parent, const std::string& name) {
    Entry e;
    EXPECT_EQ(fs_->MkDir(caller_, parent, name, 0755, &e), 0);
    fs_->Forget(e.ino, 1);
    return e.ino;
  }
  std::string ReadAll(uint64_t ino) {
    std::string out;
    EXPECT_EQ(fs_->Open(ino, O_RDONLY), 0);
    EXPECT_EQ(fs_->Read(ino, static_cast<size_t>(Attr(ino).st_size) + 1, 0, &out), 0);
    EXPECT_EQ(fs_->Release(ino, O_RDONLY), 0);
    return out;
  }
  std::vector<std::string> Names(uint64_t dir) {
    std::unique_ptr<DirHandle> h;
    EXPECT_EQ(fs_->OpenDir(dir, &h), 0);
    std::vector<std::string> names;
    if (h)
      for (const DirEntry& e : h->entries) names.push_back(e.name);
    return names;
  }

  Options options_;
  Caller caller_;
  std::shared_ptr<MemoryStore> store_ = std::make_shared<MemoryStore>();
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(FilesystemTest, WrittenBytesReadBackByteForByteBeforeAndAfterRemount) {
  const std::string content = RandomBytes(3 * kBlock + 1234, 1);
  Entry e;
  ASSERT_EQ(fs_->Create(caller_, kRootIno, "f", 0644, O_RDWR, &e), 0);
  size_t written = 0;
  // Out of order and across block edges: the tail first, then the head.
  ASSERT_EQ(fs_->Write(e.ino, content.data() + 5000, content.size() - 5000, 5000, false, &written), 0);
  ASSERT_EQ(fs_->Write(e.ino, content.data(), 5000, 0, false, &written), 0);
  std::string dirty;
  ASSERT_EQ(fs_->Read(e.ino, content.size() + 10, 0, &dirty), 0);  // from the dirty blocks
  EXPECT_EQ(dirty, content);
  ASSERT_EQ(fs_->Fsync(e.ino), 0);
  std::string part;
  ASSERT_EQ(fs_->Read(e.ino, 3000, kBlock - 1000, &part), 0);  // from the store
  EXPECT_EQ(part, content.substr(kBlock - 1000, 3000));
  ASSERT_EQ(fs_->Release(e.ino, O_RDWR), 0);
  fs_->Forget(e.ino, 1);
  EXPECT_EQ(store_->data().size(), 4u);  // four blocks, nothing else

  Remount();
  uint64_t ino = Resolve("f");
  ASSERT_EQ(ino, e.ino);
  EXPECT_EQ(Attr(ino).st_size, static_cast<off_t>(content.size()));
  EXPECT_EQ(ReadAll(ino), content);
}

TEST_F(FilesystemTest, LinkCountsFollowMkdirRenameLinkAndUnlink) {
  uint64_t a = MakeDir(kRootIno, "a");
  uint64_t b = MakeDir(a, "b");
  EXPECT_EQ(Attr(kRootIno).st_nlink, 3u);
  EXPECT_EQ(Attr(a).st_nlink, 3u);
  EXPECT_EQ(fs_->RmDir(kRootIno, "a"), ENOTEMPTY);

  ASSERT_EQ(fs_->Rename(caller_, a, "b", kRootIno, "b2", 0), 0);  // a directory moves up
  EXPECT_EQ(Attr(a).st_nlink, 2u);
  EXPECT_EQ(Attr(kRootIno).st_nlink, 4u);
  EXPECT_EQ(Resolve("a/b"), 0u);
  EXPECT_EQ(Resolve("b2"), b);
  EXPECT_EQ(fs_->Rename(caller_, kRootIno, "a", a, "inside", 0), EINVAL);  // not into itself

  uint64_t f = MakeFile(a, "f", "hello");
  Entry l;
  ASSERT_EQ(fs_->Link(f, b, "g", &l), 0);
  fs_->Forget(f, 1);
  EXPECT_EQ(Attr(f).st_nlink, 2u);
  EXPECT_EQ(fs_->Link(a, b, "dirlink", &l), EPERM);
  ASSERT_EQ(fs_->Unlink(a, "f"), 0);
  EXPECT_EQ(Attr(f).st_nlink, 1u);
  EXPECT_EQ(fs_->Unlink(a, "f"), ENOENT);
  EXPECT_EQ(ReadAll(Resolve("b2/g")), "hello");

  ASSERT_EQ(fs_->Unlink(b, "g"), 0);
  ASSERT_EQ(fs_->RmDir(kRootIno, "b2"), 0);
  ASSERT_EQ(fs_->RmDir(kRootIno, "a"), 0);
  EXPECT_EQ(Attr(kRootIno).st_nlink, 2u);
  Remount();
  EXPECT_EQ(Names(kRootIno), (std::vector<std::string>{".", ".."}));
  // Only the root inode and the superblock are left.
  std::set<std::string> keys;
  for (const auto& [k, v] : store_->meta()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{InodeKey(kRootIno), kSuperblockKey}));
  EXPECT_TRUE(store_->data().empty());
}

TEST_F(FilesystemTest, TruncateAndPunchHoleReadAsZeros) {
  const std::string content = RandomBytes(4 * kBlock, 2);
  uint64_t f = MakeFile(kRootIno, "f", content);
  ASSERT_EQ(fs_->Open(f, O_RDWR), 0);
  ASSERT_EQ(fs_->Fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kBlock / 2, 2 * kBlock), 0);
  std::string want = content;
  std::fill(want.begin() + kBlock / 2, want.begin() + kBlock / 2 + 2 * kBlock, '\0');
  std::string got;
  ASSERT_EQ(fs_->Read(f, want.size(), 0, &got), 0);
  EXPECT_EQ(got, want);
  uint64_t hole = 0;
  ASSERT_EQ(fs_->Lseek(f, kBlock + 1, SEEK_DATA, &hole), 0);
  EXPECT_EQ(hole, 2 * kBlock + 0u);  // block 1 is a hole, block 2 holds the rest of the range

  struct stat st {};
  st.st_size = kBlock + 10;
  struct stat out {};
  ASSERT_EQ(fs_->SetAttr(f, st, 1 << 3 /* FUSE_SET_ATTR_SIZE */, &out), 0);
  EXPECT_EQ(out.st_size, kBlock + 10);
  st.st_size = 3 * kBlock;  // grows again: the cut part reads as zeros
  ASSERT_EQ(fs_->SetAttr(f, st, 1 << 3, &out), 0);
  ASSERT_EQ(fs_->Release(f, O_RDWR), 0);
  want = want.substr(0, kBlock + 10) + std::string(3 * kBlock - (kBlock + 10), '\0');
  EXPECT_EQ(ReadAll(f), want);
  Remount();
  EXPECT_EQ(ReadAll(f), want);
}

TEST_F(FilesystemTest, XattrsSetGetListRemoveAndPersist) {
  uint64_t f = MakeFile(kRootIno, "f", "x");
  ASSERT_EQ(fs_->SetXattr(f, "user.a", "1", 0), 0);
  ASSERT_EQ(fs_->SetXattr(f, "user.b", std::string("\0two", 4), XATTR_CREATE), 0);
  EXPECT_EQ(fs_->SetXattr(f, "user.a", "9", XATTR_CREATE), EEXIST);
  EXPECT_EQ(fs_->SetXattr(f, "user.c", "9", XATTR_REPLACE), ENODATA);
  ASSERT_EQ(fs_->SetXattr(f, "user.a", "one", XATTR_REPLACE), 0);
  Remount();
  std::string v;
  ASSERT_EQ(fs_->GetXattr(f, "user.a", &v), 0);
  EXPECT_EQ(v, "one");
  ASSERT_EQ(fs_->GetXattr(f, "user.b", &v), 0);
  EXPECT_EQ(v, std::string("\0two", 4));
  std::string list;
  ASSERT_EQ(fs_->ListXattr(f, &list), 0);
  EXPECT_EQ(list, std::string("user.a\0user.b\0", 14));
  ASSERT_EQ(fs_->RemoveXattr(f, "user.a"), 0);
  EXPECT_EQ(fs_->RemoveXattr(f, "user.a"), ENODATA);
  EXPECT_EQ(fs_->GetXattr(f, "user.a", &v), ENODATA);
  EXPECT_EQ(ReadAll(f), "x");
}

TEST_F(FilesystemTest, ReaddirHandleIsASnapshot) {
  MakeFile(kRootIno, "one", "");
  MakeDir(kRootIno, "two");
  std::unique_ptr<DirHandle> h;
  ASSERT_EQ(fs_->OpenDir(kRootIno, &h), 0);
  MakeFile(kRootIno, "three", "");
  ASSERT_EQ(fs_->Unlink(kRootIno, "one"), 0);
  std::multiset<std::string> snap;
  for (const DirEntry& e : h->entries) snap.insert(e.name);
  EXPECT_EQ(snap, (std::multiset<std::string>{".", "..", "one", "two"}));
  std::vector<std::string> now = Names(kRootIno);
  EXPECT_EQ(std::multiset<std::string>(now.begin(), now.end()),
            (std::multiset<std::string>{".", "..", "three", "two"}));
}

TEST_F(FilesystemTest, ManyEntriesSurviveBucketSplitsAndRemount) {
  // Enough names that the root's buckets split (docs/qsfs-format.md).
  std::set<std::string> want = {".", ".."};
  for (int i = 0; i < 600; i++) {
    std::string name = "entry-" + std::to_string(i);
    if (i % 3 == 0) MakeDir(kRootIno, name);
    else MakeFile(kRootIno, name, name);
    want.insert(name);
  }
  Remount();
  std::vector<std::string> names = Names(kRootIno);
  EXPECT_EQ(names.size(), want.size());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), want);
  EXPECT_EQ(ReadAll(Resolve("entry-599")), "entry-599");
  EXPECT_EQ(Attr(kRootIno).st_nlink, 2u + 200u);
}

TEST_F(FilesystemTest, ReadErrorsAreReturnedNotServedStale) {
  uint64_t f = MakeFile(kRootIno, "f", RandomBytes(2 * kBlock, 3));
  Remount();  // nothing cached
  store_->FailReads(true);
  Entry e;
  EXPECT_EQ(fs_->Lookup(kRootIno, "f", &e), EIO);
  std::string out;
  EXPECT_EQ(fs_->Read(f, 10, 0, &out), EIO);
  store_->FailReads(false);
  EXPECT_EQ(ReadAll(f), RandomBytes(2 * kBlock, 3));
}

// A rename across directories cut by a store failure at each of its
// writes: the caller gets EIO, the file keeps its bytes under at least one
// of its names, and after a remount with a check its link count is the
// number of names that reach it.
TEST_F(FilesystemTest, StoreFailureMidRenameLosesNothing) {
  for (int cut = 0; cut < 8; cut++) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " writes");
    std::string d1 = "src" + std::to_string(cut);
    std::string d2 = "dst" + std::to_string(cut);
    uint64_t src = MakeDir(kRootIno, d1);
    uint64_t dst = MakeDir(kRootIno, d2);
    const std::string content = RandomBytes(kBlock + 7, 10 + cut);
    uint64_t f = MakeFile(src, "f", content);
    uint64_t victim = MakeFile(dst, "g", "old");  // replaced by the rename
    store_->FailWritesAfter(cut);
    int rc = fs_->Rename(caller_, src, "f", dst, "g", 0);
    store_->FailWritesAfter(-1);
    if (rc == 0) {
      EXPECT_EQ(Resolve(d1 + "/f"), 0u);
      EXPECT_EQ(Resolve(d2 + "/g"), f);
      continue;
    }
    EXPECT_EQ(rc, EIO);
    uint64_t at_old = Resolve(d1 + "/f");
    uint64_t at_new = Resolve(d2 + "/g");
    EXPECT_TRUE(at_old == f || at_new == f) << "the file lost both names";
    if (at_new != f) EXPECT_EQ(at_new, victim);  // the old target stays until replaced
    EXPECT_EQ(ReadAll(f), content);
    options_.fsck = true;
    Remount();
    options_.fsck = false;
    at_old = Resolve(d1 + "/f");
    at_new = Resolve(d2 + "/g");
    ASSERT_TRUE(at_old == f || at_new == f);
    EXPECT_EQ(Attr(f).st_nlink, static_cast<nlink_t>((at_old == f) + (at_new == f)));
    EXPECT_EQ(ReadAll(f), content);
    EXPECT_EQ(Attr(src).st_nlink, 2u);
    EXPECT_EQ(Attr(dst).st_nlink, 2u);
  }
}

// A create cut by a store failure at each of its writes: EIO, and the
// name is either absent or names a whole empty file (a prefix of the
// create's writes, docs/qsfs-format.md "Crash consistency"); after a
// remount with a check, the directory counts what it holds.
TEST_F(FilesystemTest, FailedCreateLeavesNoNameOrAWholeFile) {
  std::set<std::string> present;
  for (int cut = 0; cut < 3; cut++) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " writes");
    std::string name = "new" + std::to_string(cut);
    store_->FailWritesAfter(cut);
    Entry e;
    int rc = fs_->Create(caller_, kRootIno, name, 0644, O_WRONLY, &e);
    store_->FailWritesAfter(-1);
    if (rc == 0) {
      EXPECT_EQ(fs_->Release(e.ino, O_WRONLY), 0);
      fs_->Forget(e.ino, 1);
    } else {
      EXPECT_EQ(rc, EIO);
    }
    uint64_t ino = Resolve(name);
    if (ino == 0) continue;
    present.insert(name);
    EXPECT_TRUE(S_ISREG(Attr(ino).st_mode));
    EXPECT_EQ(Attr(ino).st_size, 0);
    EXPECT_EQ(ReadAll(ino), "");
  }
  options_.fsck = true;
  Remount();
  std::vector<std::string> names = Names(kRootIno);
  std::set<std::string> want = present;
  want.insert(".");
  want.insert("..");
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), want);
  for (const std::string& name : present) EXPECT_EQ(Attr(Resolve(name)).st_nlink, 1u);
}

// Polls cond (no fixed sleep) for up to 10 s.
template <typename Cond>
bool Eventually(Cond cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// An inode not in memory is read from the store with the filesystem's lock
// released: other operations go on meanwhile, and a second thread missing
// the same inode waits for that read (or finds its result) instead of
// making its own.
TEST_F(FilesystemTest, InodeReadsRunOutsideTheLockOncePerMiss) {
  uint64_t a = MakeFile(kRootIno, "a", "aaa");
  uint64_t b = MakeFile(kRootIno, "b", "bb");
  Remount();  // nothing cached but the root
  EXPECT_EQ(Attr(b).st_size, 2);
  store_->HoldMetaReads(true);
  struct stat st1 {}, st2 {};
  int r1 = -1, r2 = -1;
  std::thread t1([&] { r1 = fs_->GetAttr(a, &st1); });
  if (Eventually([&] { return store_->waiting_reads() == 1; })) {
    // The lock is free while t1 waits for the store.
    EXPECT_EQ(Attr(b).st_size, 2);
    EXPECT_EQ(ReadAll(b), "bb");
  } else {
    ADD_FAILURE() << "inode a was not read outside the lock";
  }
  std::thread t2([&] { r2 = fs_->GetAttr(a, &st2); });
  store_->HoldMetaReads(false);
  t1.join();
  t2.join();
  EXPECT_EQ(r1, 0);
  EXPECT_EQ(r2, 0);
  EXPECT_EQ(st1.st_size, 3);
  EXPECT_EQ(st2.st_size, 3);
  EXPECT_EQ(store_->reads_of(InodeKey(a)), 1u);
}

// A read outside the lock that an operation under the lock overtakes (it
// read and changed the same inode meanwhile) is dropped, never installed
// over the newer state.
TEST_F(FilesystemTest, AnInodeReadOvertakenByAChangeIsDropped) {
  uint64_t a = MakeFile(kRootIno, "a", "aaa");
  Remount();
  store_->HoldMetaReads(true);
  struct stat st {};
  int r = -1;
  std::thread t([&] { r = fs_->GetAttr(a, &st); });
  bool waiting = Eventually([&] { return store_->waiting_reads() == 1; });
  EXPECT_TRUE(waiting) << "inode a was not read outside the lock";
  // The reply with a's record (nlink 1) is on its way; a goes meanwhile.
  EXPECT_EQ(fs_->Unlink(kRootIno, "a"), 0);
  store_->HoldMetaReads(false);
  t.join();
  EXPECT_EQ(r, ENOENT) << "a stale record came back: nlink " << st.st_nlink;
  EXPECT_EQ(Resolve("a"), 0u);
}

}  // namespace
}  // namespace qsfs
