// Inode record: attributes of one file, directory, symlink or special file
// as stored under InodeKey(ino) in qsfs-meta. Byte layout in
// docs/qsfs-format.md ("Inode record").
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace qsfs {

struct Timespec {
  int64_t sec = 0;
  uint32_t nsec = 0;
  bool operator==(const Timespec&) const = default;
};

Timespec Now();

struct Inode {
  uint64_t ino = 0;  // not stored in the record: it is the key
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;
  uint64_t rdev = 0;
  uint64_t blocks = 0;  // data blocks stored in qsfs-data (for st_blocks)
  Timespec atime, mtime, ctime;
  // Directories only: linear-hashing state of the entry buckets and the
  // parent directory (for "..").
  uint32_t dir_level = 0;
  uint32_t dir_split = 0;
  uint64_t dir_entries = 0;
  uint64_t parent = 0;
  std::string symlink;                          // symlinks only
  std::map<std::string, std::string> xattrs;    // name -> value

  bool is_dir() const { return S_ISDIR(mode); }
  bool is_reg() const { return S_ISREG(mode); }
  bool is_symlink() const { return S_ISLNK(mode); }
  // Bytes of all xattr names and values (the limit is kMaxXattrBytes).
  size_t XattrBytes() const;
  // Fills *st (st_blksize = block_size).
  void ToStat(uint32_t block_size, struct stat* st) const;
};

inline constexpr uint8_t kInodeVersion = 1;
inline constexpr uint64_t kRootIno = 1;  // the root directory, also FUSE_ROOT_ID
inline constexpr size_t kMaxXattrBytes = 256 * 1024;

std::string EncodeInode(const Inode& inode);
// Corruption on a bad checksum, version or length.
qs::Result<Inode> DecodeInode(uint64_t ino, std::string_view data);

}  // namespace qsfs
