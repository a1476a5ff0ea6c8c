// Unit tests of qsfs's record encodings (docs/qsfs-format.md), the
// directory hashing rule and option parsing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "qsfs/block_map.h"
#include "qsfs/dir_bucket.h"
#include "qsfs/inode.h"
#include "qsfs/keys.h"
#include "qsfs/options.h"
#include "qsfs/superblock.h"

namespace qsfs {
namespace {

Inode SampleInode() {
  Inode n;
  n.ino = 77;
  n.mode = S_IFREG | 04755;
  n.uid = 4000000000u;
  n.gid = 7;
  n.nlink = 3;
  n.size = uint64_t{1} << 40;
  n.rdev = 0x0801;
  n.blocks = 12;
  n.atime = {int64_t{1} << 35, 999999999};
  n.mtime = {-5, 1};
  n.ctime = {1700000000, 42};
  n.dir_level = 3;
  n.dir_split = 5;
  n.dir_entries = 600;
  n.parent = 9;
  n.symlink = "target/path";
  n.xattrs["user.a"] = "alpha";
  n.xattrs["security.selinux"] = std::string("\0bin\xff", 5);
  return n;
}

TEST(InodeRecord, RoundTripsEveryField) {
  Inode n = SampleInode();
  std::string rec = EncodeInode(n);
  EXPECT_EQ(rec.size(), 128 + 11 + (1 + 4 + 16 + 5) + (1 + 4 + 6 + 5) + 4u);
  auto back = DecodeInode(77, rec);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->mode, n.mode);
  EXPECT_EQ(back->uid, n.uid);
  EXPECT_EQ(back->gid, n.gid);
  EXPECT_EQ(back->nlink, n.nlink);
  EXPECT_EQ(back->size, n.size);
  EXPECT_EQ(back->rdev, n.rdev);
  EXPECT_EQ(back->blocks, n.blocks);
  EXPECT_EQ(back->atime, n.atime);
  EXPECT_EQ(back->mtime, n.mtime);
  EXPECT_EQ(back->ctime, n.ctime);
  EXPECT_EQ(back->dir_level, n.dir_level);
  EXPECT_EQ(back->dir_split, n.dir_split);
  EXPECT_EQ(back->dir_entries, n.dir_entries);
  EXPECT_EQ(back->parent, n.parent);
  EXPECT_EQ(back->symlink, n.symlink);
  EXPECT_EQ(back->xattrs, n.xattrs);
  EXPECT_EQ(back->ino, 77u);
}

TEST(InodeRecord, FixedLayout) {
  Inode n;
  n.mode = 0x11223344;
  n.size = 0x0102030405060708ull;
  n.mtime = {0x1122334455667788ll, 0x99aabbcc};
  std::string rec = EncodeInode(n);
  ASSERT_EQ(rec.size(), 132u);
  EXPECT_EQ(rec[0], 1);  // version
  EXPECT_EQ(rec.substr(4, 4), std::string("\x44\x33\x22\x11", 4));
  EXPECT_EQ(rec.substr(24, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  EXPECT_EQ(rec.substr(60, 12), std::string("\x88\x77\x66\x55\x44\x33\x22\x11\xcc\xbb\xaa\x99", 12));
}

TEST(InodeRecord, DetectsDamage) {
  std::string rec = EncodeInode(SampleInode());
  for (size_t i = 0; i < rec.size(); i += 7) {
    std::string bad = rec;
    bad[i] ^= 0x20;
    EXPECT_TRUE(DecodeInode(1, bad).status().IsCorruption()) << "byte " << i;
  }
  EXPECT_TRUE(DecodeInode(1, rec.substr(0, 100)).status().IsCorruption());
  EXPECT_TRUE(DecodeInode(1, "").status().IsCorruption());
}

TEST(DirBucket, RoundTripAndDamage) {
  std::vector<DirEntry> entries = {{"a", 2, 8}, {std::string(255, 'z'), uint64_t{1} << 60, 4}, {"é", 9, 10}};
  std::string rec = EncodeDirBucket(entries);
  EXPECT_EQ(rec.size(), 1 + 4 + (10 + 1) + (10 + 255) + (10 + 2) + 4u);
  auto back = DecodeDirBucket(rec);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ((*back)[1].name, entries[1].name);
  EXPECT_EQ((*back)[1].ino, entries[1].ino);
  EXPECT_EQ((*back)[2].type, 10);
  std::string bad = rec;
  bad[6] ^= 1;
  EXPECT_TRUE(DecodeDirBucket(bad).status().IsCorruption());
  EXPECT_TRUE(DecodeDirBucket(EncodeDirBucket({})).ok());
}

TEST(DirBucket, LinearHashingSplitsOneBucketAtATime) {
  EXPECT_EQ(NameHash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(NameHash("a"), 0xaf63dc4c8601ec8cull);  // FNV-1a 64 test vector
  // Growing from 1 bucket: each split moves names only from bucket `split`
  // to bucket split + 2^level; all other names stay put.
  std::vector<std::string> names;
  for (int i = 0; i < 5000; i++) names.push_back("n" + std::to_string(i));
  uint32_t level = 0, split = 0;
  for (int step = 0; step < 40; step++) {
    uint32_t nl = level, ns = split + 1;
    if (ns == (1u << level)) {
      nl = level + 1;
      ns = 0;
    }
    for (const std::string& n : names) {
      uint64_t h = NameHash(n);
      uint32_t before = BucketOf(h, level, split);
      uint32_t after = BucketOf(h, nl, ns);
      EXPECT_LT(after, BucketCount(nl, ns));
      if (before != split) {
        EXPECT_EQ(before, after) << n;
      } else {
        EXPECT_TRUE(after == split || after == split + (1u << level)) << n;
      }
    }
    level = nl;
    split = ns;
  }
}

TEST(BlockMap, RoundTripTrimsTrailingHoles) {
  std::vector<uint64_t> slots(kBlocksPerChunk, 0);
  slots[0] = 1;
  slots[5] = 0x1234567890ull;
  std::string rec = EncodeBlockMapChunk(slots);
  EXPECT_EQ(rec.size(), 1 + 4 + 6 * 8 + 4u);
  auto back = DecodeBlockMapChunk(rec);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, slots);
  rec[9] ^= 1;
  EXPECT_TRUE(DecodeBlockMapChunk(rec).status().IsCorruption());
}

TEST(Superblock, RoundTripAndChecks) {
  Superblock sb;
  sb.block_size = 128 * 1024;
  sb.next_ino = 1025;
  sb.created = 1700000000;
  std::string rec = EncodeSuperblock(sb);
  ASSERT_EQ(rec.size(), 36u);
  EXPECT_EQ(rec.substr(0, 8), "QSFSSUPR");
  auto back = DecodeSuperblock(rec);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->block_size, sb.block_size);
  EXPECT_EQ(back->next_ino, sb.next_ino);
  EXPECT_EQ(back->created, sb.created);
  rec[20] ^= 1;
  EXPECT_TRUE(DecodeSuperblock(rec).status().IsCorruption());
}

TEST(Lease, TextRoundTrip) {
  Lease l;
  l.host = "host-1";
  l.pid = 4242;
  l.time = 1700000000;
  l.id = "abcdef";
  l.token = 0xfffffffe12345678ULL;
  l.timeout = 6;
  std::string text = EncodeLease(l);
  EXPECT_EQ(text, "host=host-1\npid=4242\ntime=1700000000\nid=abcdef\ntoken=18446744065425036920\ntimeout=6\n");
  auto back = DecodeLease(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->host, "host-1");
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->id, "abcdef");
  EXPECT_EQ(back->token, 0xfffffffe12345678ULL);
  EXPECT_EQ(back->timeout, 6);
  EXPECT_FALSE(DecodeLease("garbage").ok());
  EXPECT_FALSE(DecodeLease("time=1\ntimeout=0\n").ok());
  EXPECT_FALSE(DecodeLease("time=1\ntimeout=3601\n").ok());
  // A record of a qsfs without fencing: token 0, the default timeout.
  auto old = DecodeLease("host=h\npid=1\ntime=1700000000\nid=x\n");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->token, 0u);
  EXPECT_EQ(old->timeout, 30);
}

TEST(Orphans, RoundTrip) {
  auto back = DecodeOrphans(EncodeOrphans({5, 1ull << 50}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, (std::vector<uint64_t>{5, 1ull << 50}));
  EXPECT_TRUE(DecodeOrphans(EncodeOrphans({})).ok());
}

TEST(Keys, Layout) {
  EXPECT_EQ(InodeKey(1), std::string("I\x01\0\0\0\0\0\0\0", 9));
  EXPECT_EQ(DirBucketKey(2, 3), std::string("D\x02\0\0\0\0\0\0\0\x03\0\0\0", 13));
  EXPECT_EQ(BlockMapKey(2, 1), std::string("M\x02\0\0\0\0\0\0\0\x01\0\0\0", 13));
}

TEST(Options, CommandLine) {
  auto o = ParseOptions({"qsfs", "-f", "-o", "host=10.0.0.1,port=9901,meta_ns=m,data_ns=d", "-o",
                         "meta_password=p,block_size=256K,dirty_cache=16M,writeback_delay=2,nocreate,writeback_cache", "/mnt/x"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->host, "10.0.0.1");
  EXPECT_EQ(o->port, 9901);
  EXPECT_EQ(o->meta_ns, "m");
  EXPECT_EQ(o->data_ns, "d");
  EXPECT_EQ(o->meta_password, "p");
  EXPECT_EQ(o->block_size, 256u * 1024);
  EXPECT_EQ(o->dirty_cache_bytes, 16u << 20);
  EXPECT_EQ(o->writeback_delay_seconds, 2.0);
  EXPECT_FALSE(o->create_namespaces);
  EXPECT_TRUE(o->writeback_cache);
  EXPECT_TRUE(o->foreground);
  EXPECT_EQ(o->mountpoint, "/mnt/x");
  EXPECT_FALSE(ParseOptions({"qsfs", "-o", "host=h", "/m"})->writeback_cache);  // off by default

  EXPECT_FALSE(ParseOptions({"qsfs", "-o", "bogus=1", "/m"}).ok());
  EXPECT_FALSE(ParseOptions({"qsfs", "-o", "port=0", "/m"}).ok());
  EXPECT_FALSE(ParseOptions({"qsfs", "-o", "block_size=3000", "/m"}).ok());
  EXPECT_FALSE(ParseOptions({"qsfs"}).ok());
  EXPECT_FALSE(ParseOptions({"qsfs", "/a", "/b", "/c"}).ok());
  EXPECT_FALSE(ParseOptions({"qsfs", "-o", "meta_ns=x,data_ns=x", "/m"}).ok());
}

// What /sbin/mount.fuse3 runs for `mount -t fuse.qsfs` and fstab lines:
// `qsfs SOURCE MOUNTPOINT -o rw,...,dev,suid`, config= among the options.
TEST(Options, MountHelperShape) {
  char path[] = "/tmp/qsfs_opts_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "host = \"10.1.1.1\"\nport = 9911\nmeta_ns = \"file\"\nwait = 60\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  // config= comes first whatever its place: the other options override it.
  auto o = ParseOptions({"qsfs", "qsfs", "/mnt/data", "-o",
                         std::string("rw,port=9912,config=") + path + ",_netdev,nofail,noauto,x-systemd.automount,"
                         "defaults,user,relatime,comment=x,noatime,dev,suid"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->source, "qsfs");
  EXPECT_EQ(o->mountpoint, "/mnt/data");
  EXPECT_EQ(o->config_file, path);
  EXPECT_EQ(o->host, "10.1.1.1");
  EXPECT_EQ(o->port, 9912);
  EXPECT_EQ(o->meta_ns, "file");
  EXPECT_EQ(o->wait_seconds, 60);
  EXPECT_EQ(o->mount_flags, (std::vector<std::string>{"rw", "noatime", "dev", "suid"}));
  EXPECT_FALSE(o->foreground);

  auto plain = ParseOptions({"qsfs", "/m"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->source, "qsfs");
  EXPECT_EQ(plain->wait_seconds, 300);
  EXPECT_TRUE(plain->mount_flags.empty());
  EXPECT_EQ(ParseOptions({"qsfs", "-o", "wait=0", "/m"})->wait_seconds, 0);
  EXPECT_EQ(ParseOptions({"qsfs", "-o", "ro,nosuid,nodev,noexec", "data1", "/m"})->mount_flags,
            (std::vector<std::string>{"ro", "nosuid", "nodev", "noexec"}));
  EXPECT_EQ(ParseOptions({"qsfs", "data1", "/m"})->source, "data1");
  // mount.fuse3's arguments for the fstab line `qsfs#  /m  fuse  defaults  0 0`.
  auto old_form = ParseOptions({"qsfs", "", "/m", "-o", "rw,dev,suid"});
  ASSERT_TRUE(old_form.ok()) << old_form.status().ToString();
  EXPECT_EQ(old_form->source, "qsfs");
  EXPECT_EQ(old_form->mountpoint, "/m");

  auto error = [](const std::vector<std::string>& args) {
    auto r = ParseOptions(args);
    return r.ok() ? std::string("accepted") : r.status().message();
  };
  EXPECT_EQ(error({"qsfs", "-o", "wait=x", "/m"}), "option wait: expected a number in 0..86400, got 'x'");
  EXPECT_EQ(error({"qsfs", "-o", "remount", "qsfs", "/m"}), "remount is not supported: unmount qsfs and mount it again");
  EXPECT_EQ(error({"qsfs", "-o", "ro=1", "/m"}), "option ro takes no value");
  EXPECT_EQ(error({"qsfs", "-o", "config=", "/m"}), "option config needs a file name (config=/etc/qsfs/qsfs.toml)");
  EXPECT_EQ(error({"qsfs", "-o", "config=/a.toml", "--config", "/b.toml", "/m"}),
            "two configuration files given ('/b.toml', '/a.toml')");
  EXPECT_EQ(error({"qsfs", "-o", "config=/nonexistent/q.toml", "qsfs", "/m"}).find("config /nonexistent/q.toml: "), 0u);
  EXPECT_EQ(error({"qsfs", "a,b", "/m"}),
            "source 'a,b': only letters, digits and ._/:@+- (it names the mount in /proc/mounts)");
  EXPECT_EQ(error({"qsfs", "-o", "nonsense=1", "qsfs", "/m"}), "unknown option 'nonsense' (see qsfs --help)");
  unlink(path);
}

TEST(Options, ConfigFileAndOverride) {
  char path[] = "/tmp/qsfs_opts_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "unix = \"/run/zdb.sock\"\nmeta_ns = \"fm\"\ndirty_cache = \"8M\"\nwriteback_delay = 3\nwriteback_cache = true\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto o = ParseOptions({"qsfs", "--config", path, "-o", "meta_ns=cli", "/m"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->unix_path, "/run/zdb.sock");
  EXPECT_EQ(o->meta_ns, "cli");
  EXPECT_EQ(o->dirty_cache_bytes, 8u << 20);
  EXPECT_EQ(o->writeback_delay_seconds, 3.0);
  EXPECT_TRUE(o->writeback_cache);
  std::string bad = "metans = \"typo\"\n";
  fd = open(path, O_WRONLY | O_TRUNC);
  ASSERT_EQ(write(fd, bad.data(), bad.size()), static_cast<ssize_t>(bad.size()));
  close(fd);
  auto e = ParseOptions({"qsfs", "--config", path, "/m"});
  EXPECT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("metans"), std::string::npos);
  unlink(path);
}

// The command line wins over the file: `qsfs -f --config FILE` (qsfs@'s
// ExecStart, Type=notify) stays in the foreground whatever FILE says.
TEST(Options, ForegroundFlagWinsOverTheFile) {
  char path[] = "/tmp/qsfs_opts_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "foreground = false\nverbose = false\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto o = ParseOptions({"qsfs", "-f", "--config", path, "/m"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->foreground);
  o = ParseOptions({"qsfs", "-d", "--config", path, "/m"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->foreground);
  EXPECT_TRUE(o->debug);
  o = ParseOptions({"qsfs", "--config", path, "/m"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_FALSE(o->foreground);
  unlink(path);
}

}  // namespace
}  // namespace qsfs

namespace qsfs {
namespace {

TEST(Options, ExampleConfigParses) {
  auto o = ParseOptions({"qsfs", "--config", std::string(QS_SOURCE_DIR) + "/config/qsfs.toml", "/m"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 9900);
  EXPECT_EQ(o->block_size, 128u * 1024);
  EXPECT_EQ(o->writeback_delay_seconds, 5.0);
  EXPECT_EQ(o->wait_seconds, 300);
  EXPECT_EQ(o->unix_path, "/run/zdb-staging/zdb.sock");  // the staging zdb of the units
}

}  // namespace
}  // namespace qsfs
