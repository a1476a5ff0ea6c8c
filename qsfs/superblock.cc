#include "qsfs/superblock.h"

#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"

namespace qsfs {

std::string EncodeSuperblock(const Superblock& sb) {
  std::string out(kSuperMagic, 8);
  qs::PutFixed32(&out, sb.version);
  qs::PutFixed32(&out, sb.block_size);
  qs::PutFixed64(&out, sb.next_ino);
  qs::PutFixed64(&out, static_cast<uint64_t>(sb.created));
  qs::PutFixed32(&out, qs::Crc32c(out));
  return out;
}

qs::Result<Superblock> DecodeSuperblock(std::string_view data) {
  if (data.size() != 36) return qs::Status::Corruption("superblock: wrong length");
  if (std::memcmp(data.data(), kSuperMagic, 8) != 0) return qs::Status::Corruption("superblock: bad magic");
  if (qs::Crc32c(data.substr(0, 32)) != qs::DecodeFixed32(data.data() + 32)) {
    return qs::Status::Corruption("superblock: checksum mismatch");
  }
  Superblock sb;
  sb.version = qs::DecodeFixed32(data.data() + 8);
  if (sb.version != kFormatVersion) {
    return qs::Status::Corruption("superblock: format version " + std::to_string(sb.version) +
                                  " is not supported (this qsfs knows " + std::to_string(kFormatVersion) + ")");
  }
  sb.block_size = qs::DecodeFixed32(data.data() + 12);
  sb.next_ino = qs::DecodeFixed64(data.data() + 16);
  sb.created = static_cast<int64_t>(qs::DecodeFixed64(data.data() + 24));
  if (sb.block_size < 4096 || sb.block_size > (4u << 20) || (sb.block_size & (sb.block_size - 1)) != 0) {
    return qs::Status::Corruption("superblock: bad block size");
  }
  return sb;
}

std::string EncodeLease(const Lease& l) {
  return "host=" + l.host + "\npid=" + std::to_string(l.pid) + "\ntime=" + std::to_string(l.time) +
         "\nid=" + l.id + "\ntoken=" + std::to_string(l.token) + "\ntimeout=" + std::to_string(l.timeout) + "\n";
}

qs::Result<Lease> DecodeLease(std::string_view data) {
  Lease l;
  bool have_time = false;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return qs::Status::Corruption("lease: malformed line");
    std::string_view k = line.substr(0, eq);
    std::string v(line.substr(eq + 1));
    try {
      if (k == "host") l.host = v;
      else if (k == "pid") l.pid = std::stoll(v);
      else if (k == "time") { l.time = std::stoll(v); have_time = true; }
      else if (k == "id") l.id = v;
      else if (k == "token") l.token = std::stoull(v);
      else if (k == "timeout") l.timeout = std::stoll(v);
    } catch (const std::exception&) {
      return qs::Status::Corruption("lease: bad number");
    }
  }
  if (!have_time) return qs::Status::Corruption("lease: no time");
  if (l.timeout <= 0 || l.timeout > kMaxLeaseTimeout) return qs::Status::Corruption("lease: bad timeout");
  return l;
}

std::string EncodeOrphans(const std::vector<uint64_t>& inos) {
  std::string out;
  qs::PutFixed32(&out, static_cast<uint32_t>(inos.size()));
  for (uint64_t i : inos) qs::PutFixed64(&out, i);
  qs::PutFixed32(&out, qs::Crc32c(out));
  return out;
}

qs::Result<std::vector<uint64_t>> DecodeOrphans(std::string_view data) {
  if (data.size() < 8) return qs::Status::Corruption("orphans: too short");
  size_t end = data.size() - 4;
  if (qs::Crc32c(data.substr(0, end)) != qs::DecodeFixed32(data.data() + end)) {
    return qs::Status::Corruption("orphans: checksum mismatch");
  }
  uint32_t n = qs::DecodeFixed32(data.data());
  if (4 + size_t{n} * 8 != end) return qs::Status::Corruption("orphans: bad count");
  std::vector<uint64_t> out(n);
  for (uint32_t i = 0; i < n; i++) out[i] = qs::DecodeFixed64(data.data() + 4 + size_t{i} * 8);
  return out;
}

}  // namespace qsfs
