// Filesystem-wide records in qsfs-meta: the superblock, the mount lease and
// the orphan list. Byte layouts in docs/qsfs-format.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qsfs {

inline constexpr char kSuperMagic[] = "QSFSSUPR";  // 8 bytes stored
inline constexpr uint32_t kFormatVersion = 1;

struct Superblock {
  uint32_t version = kFormatVersion;
  uint32_t block_size = 0;
  uint64_t next_ino = 0;  // every inode number below this may be in use
  int64_t created = 0;    // unix seconds
};

std::string EncodeSuperblock(const Superblock& sb);
qs::Result<Superblock> DecodeSuperblock(std::string_view data);

// Who holds the filesystem mounted (qsfs/lease.h). Renewed every
// timeout/6; stale once `timeout` seconds old.
struct Lease {
  std::string host;
  int64_t pid = 0;
  int64_t time = 0;    // unix seconds the last renewal was sent
  std::string id;      // random per mount
  uint64_t token = 0;  // the zdb FENCE token of the holder; 0 in records without it
  int64_t timeout = kDefaultLeaseTimeout;  // seconds: the holder's lease_timeout
  static constexpr int64_t kDefaultLeaseTimeout = 30;  // records without a timeout line
};
inline constexpr int64_t kMaxLeaseTimeout = 3600;  // seconds, as the lease_timeout option

std::string EncodeLease(const Lease& lease);  // "key=value\n" text
qs::Result<Lease> DecodeLease(std::string_view data);

// Inodes with no directory entry left that must be freed (open at unlink).
std::string EncodeOrphans(const std::vector<uint64_t>& inos);
qs::Result<std::vector<uint64_t>> DecodeOrphans(std::string_view data);

}  // namespace qsfs
