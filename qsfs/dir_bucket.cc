#include "qsfs/dir_bucket.h"

#include "common/coding.h"
#include "common/crc32c.h"

namespace qsfs {

uint64_t NameHash(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint32_t BucketOf(uint64_t hash, uint32_t level, uint32_t split) {
  uint64_t low = hash & ((uint64_t{1} << level) - 1);
  if (low < split) low = hash & ((uint64_t{1} << (level + 1)) - 1);
  return static_cast<uint32_t>(low);
}

std::string EncodeDirBucket(const std::vector<DirEntry>& entries) {
  std::string out;
  out.push_back(static_cast<char>(kDirBucketVersion));
  qs::PutFixed32(&out, static_cast<uint32_t>(entries.size()));
  for (const DirEntry& e : entries) {
    qs::PutFixed64(&out, e.ino);
    out.push_back(static_cast<char>(e.type));
    out.push_back(static_cast<char>(e.name.size()));
    out.append(e.name);
  }
  qs::PutFixed32(&out, qs::Crc32c(out));
  return out;
}

qs::Result<std::vector<DirEntry>> DecodeDirBucket(std::string_view data) {
  auto bad = [](const char* why) { return qs::Status::Corruption(std::string("dir bucket: ") + why); };
  if (data.size() < 9) return bad("too short");
  size_t end = data.size() - 4;
  if (qs::Crc32c(data.substr(0, end)) != qs::DecodeFixed32(data.data() + end)) return bad("checksum mismatch");
  const char* p = data.data();
  if (static_cast<uint8_t>(p[0]) != kDirBucketVersion) return bad("unknown version");
  uint32_t count = qs::DecodeFixed32(p + 1);
  size_t pos = 5;
  std::vector<DirEntry> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    if (end - pos < 10) return bad("entry overruns bucket");
    DirEntry e;
    e.ino = qs::DecodeFixed64(p + pos);
    e.type = static_cast<uint8_t>(p[pos + 8]);
    size_t len = static_cast<uint8_t>(p[pos + 9]);
    pos += 10;
    if (len == 0 || len > end - pos) return bad("bad name length");
    e.name.assign(p + pos, len);
    pos += len;
    out.push_back(std::move(e));
  }
  if (pos != end) return bad("trailing bytes");
  return out;
}

}  // namespace qsfs
