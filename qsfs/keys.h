// Keys of the qsfs-meta namespace (user mode). Layout in docs/qsfs-format.md.
// Binary keys: a one-byte tag, then little-endian integers.
#pragma once

#include <cstdint>
#include <string>

#include "common/coding.h"

namespace qsfs {

inline constexpr char kSuperblockKey[] = "qsfs:super";
inline constexpr char kLeaseKey[] = "qsfs:lease";
inline constexpr char kOrphansKey[] = "qsfs:orphans";

// 'I' ino -> inode record (9 bytes).
inline std::string InodeKey(uint64_t ino) {
  std::string k(1, 'I');
  qs::PutFixed64(&k, ino);
  return k;
}

// 'D' dir-ino bucket -> directory bucket (13 bytes).
inline std::string DirBucketKey(uint64_t dir, uint32_t bucket) {
  std::string k(1, 'D');
  qs::PutFixed64(&k, dir);
  qs::PutFixed32(&k, bucket);
  return k;
}

// 'M' file-ino chunk -> block map chunk (13 bytes).
inline std::string BlockMapKey(uint64_t ino, uint32_t chunk) {
  std::string k(1, 'M');
  qs::PutFixed64(&k, ino);
  qs::PutFixed32(&k, chunk);
  return k;
}

// qsfs-data is a sequential namespace: keys are zdb's 8-byte ids.
inline std::string DataKey(uint64_t id) {
  std::string k;
  qs::PutFixed64(&k, id);
  return k;
}

}  // namespace qsfs
