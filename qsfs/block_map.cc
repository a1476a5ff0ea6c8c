#include "qsfs/block_map.h"

#include "common/coding.h"
#include "common/crc32c.h"

namespace qsfs {

std::string EncodeBlockMapChunk(const std::vector<uint64_t>& slots) {
  size_t used = slots.size();
  while (used > 0 && slots[used - 1] == 0) used--;
  std::string out;
  out.reserve(9 + used * 8);
  out.push_back(static_cast<char>(kBlockMapVersion));
  qs::PutFixed32(&out, static_cast<uint32_t>(used));
  for (size_t i = 0; i < used; i++) qs::PutFixed64(&out, slots[i]);
  qs::PutFixed32(&out, qs::Crc32c(out));
  return out;
}

qs::Result<std::vector<uint64_t>> DecodeBlockMapChunk(std::string_view data) {
  auto bad = [](const char* why) { return qs::Status::Corruption(std::string("block map: ") + why); };
  if (data.size() < 9) return bad("too short");
  size_t end = data.size() - 4;
  if (qs::Crc32c(data.substr(0, end)) != qs::DecodeFixed32(data.data() + end)) return bad("checksum mismatch");
  if (static_cast<uint8_t>(data[0]) != kBlockMapVersion) return bad("unknown version");
  uint32_t used = qs::DecodeFixed32(data.data() + 1);
  if (used > kBlocksPerChunk || 5 + size_t{used} * 8 != end) return bad("bad slot count");
  std::vector<uint64_t> slots(kBlocksPerChunk, 0);
  for (uint32_t i = 0; i < used; i++) slots[i] = qs::DecodeFixed64(data.data() + 5 + size_t{i} * 8);
  return slots;
}

}  // namespace qsfs
