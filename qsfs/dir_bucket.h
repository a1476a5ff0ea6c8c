// Directory bucket: the entries of one directory whose name hash falls in
// one linear-hashing bucket, stored under DirBucketKey(dir, bucket).
// Byte layout and the hashing rule in docs/qsfs-format.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qsfs {

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_* of the target
};

inline constexpr uint8_t kDirBucketVersion = 1;
// A directory splits one bucket when it holds more than this many entries
// per bucket on average.
inline constexpr uint64_t kDirEntriesPerBucket = 64;

// 64-bit FNV-1a of the name.
uint64_t NameHash(std::string_view name);
// Linear hashing: bucket of `hash` for a directory at (level, split).
uint32_t BucketOf(uint64_t hash, uint32_t level, uint32_t split);
// Number of buckets for (level, split): 2^level + split.
inline uint64_t BucketCount(uint32_t level, uint32_t split) { return (uint64_t{1} << level) + split; }

std::string EncodeDirBucket(const std::vector<DirEntry>& entries);
qs::Result<std::vector<DirEntry>> DecodeDirBucket(std::string_view data);

}  // namespace qsfs
