#include "qsfs/inode.h"

#include <time.h>

#include "common/coding.h"
#include "common/crc32c.h"

namespace qsfs {

namespace {
constexpr size_t kFixedSize = 128;

void PutTime(char* p, const Timespec& t) {
  qs::EncodeFixed64(p, static_cast<uint64_t>(t.sec));
  qs::EncodeFixed32(p + 8, t.nsec);
}
Timespec GetTime(const char* p) {
  return Timespec{static_cast<int64_t>(qs::DecodeFixed64(p)), qs::DecodeFixed32(p + 8)};
}
}  // namespace

Timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Timespec{ts.tv_sec, static_cast<uint32_t>(ts.tv_nsec)};
}

size_t Inode::XattrBytes() const {
  size_t n = 0;
  for (const auto& [k, v] : xattrs) n += k.size() + v.size();
  return n;
}

void Inode::ToStat(uint32_t block_size, struct stat* st) const {
  *st = {};
  st->st_ino = ino;
  st->st_mode = mode;
  st->st_nlink = nlink;
  st->st_uid = uid;
  st->st_gid = gid;
  st->st_rdev = rdev;
  st->st_size = static_cast<off_t>(size);
  st->st_blksize = block_size;
  st->st_blocks = static_cast<blkcnt_t>(blocks * (block_size / 512));
  st->st_atim.tv_sec = atime.sec;
  st->st_atim.tv_nsec = atime.nsec;
  st->st_mtim.tv_sec = mtime.sec;
  st->st_mtim.tv_nsec = mtime.nsec;
  st->st_ctim.tv_sec = ctime.sec;
  st->st_ctim.tv_nsec = ctime.nsec;
}

std::string EncodeInode(const Inode& n) {
  std::string out(kFixedSize, '\0');
  char* p = out.data();
  p[0] = static_cast<char>(kInodeVersion);
  qs::EncodeFixed32(p + 4, n.mode);
  qs::EncodeFixed32(p + 8, n.uid);
  qs::EncodeFixed32(p + 12, n.gid);
  qs::EncodeFixed32(p + 16, n.nlink);
  qs::EncodeFixed64(p + 24, n.size);
  qs::EncodeFixed64(p + 32, n.rdev);
  qs::EncodeFixed64(p + 40, n.blocks);
  PutTime(p + 48, n.atime);
  PutTime(p + 60, n.mtime);
  PutTime(p + 72, n.ctime);
  qs::EncodeFixed32(p + 84, n.dir_level);
  qs::EncodeFixed32(p + 88, n.dir_split);
  qs::EncodeFixed64(p + 96, n.dir_entries);
  qs::EncodeFixed64(p + 104, n.parent);
  qs::EncodeFixed32(p + 112, static_cast<uint32_t>(n.symlink.size()));
  qs::EncodeFixed32(p + 116, static_cast<uint32_t>(n.xattrs.size()));
  out.append(n.symlink);
  for (const auto& [k, v] : n.xattrs) {
    out.push_back(static_cast<char>(k.size()));
    qs::PutFixed32(&out, static_cast<uint32_t>(v.size()));
    out.append(k);
    out.append(v);
  }
  qs::PutFixed32(&out, qs::Crc32c(out));
  return out;
}

qs::Result<Inode> DecodeInode(uint64_t ino, std::string_view data) {
  auto bad = [&](const char* why) {
    return qs::Status::Corruption("inode " + std::to_string(ino) + ": " + why);
  };
  if (data.size() < kFixedSize + 4) return bad("record too short");
  uint32_t crc = qs::DecodeFixed32(data.data() + data.size() - 4);
  if (qs::Crc32c(data.substr(0, data.size() - 4)) != crc) return bad("checksum mismatch");
  const char* p = data.data();
  if (static_cast<uint8_t>(p[0]) != kInodeVersion) return bad("unknown record version");
  Inode n;
  n.ino = ino;
  n.mode = qs::DecodeFixed32(p + 4);
  n.uid = qs::DecodeFixed32(p + 8);
  n.gid = qs::DecodeFixed32(p + 12);
  n.nlink = qs::DecodeFixed32(p + 16);
  n.size = qs::DecodeFixed64(p + 24);
  n.rdev = qs::DecodeFixed64(p + 32);
  n.blocks = qs::DecodeFixed64(p + 40);
  n.atime = GetTime(p + 48);
  n.mtime = GetTime(p + 60);
  n.ctime = GetTime(p + 72);
  n.dir_level = qs::DecodeFixed32(p + 84);
  n.dir_split = qs::DecodeFixed32(p + 88);
  n.dir_entries = qs::DecodeFixed64(p + 96);
  n.parent = qs::DecodeFixed64(p + 104);
  uint32_t link_len = qs::DecodeFixed32(p + 112);
  uint32_t nx = qs::DecodeFixed32(p + 116);
  size_t end = data.size() - 4;
  size_t pos = kFixedSize;
  if (link_len > end - pos) return bad("symlink target overruns record");
  n.symlink.assign(p + pos, link_len);
  pos += link_len;
  for (uint32_t i = 0; i < nx; i++) {
    if (end - pos < 5) return bad("xattr header overruns record");
    size_t klen = static_cast<uint8_t>(p[pos]);
    size_t vlen = qs::DecodeFixed32(p + pos + 1);
    pos += 5;
    if (klen > end - pos || vlen > end - pos - klen) return bad("xattr overruns record");
    n.xattrs.emplace(std::string(p + pos, klen), std::string(p + pos + klen, vlen));
    pos += klen + vlen;
  }
  if (pos != end) return bad("trailing bytes");
  return n;
}

}  // namespace qsfs
