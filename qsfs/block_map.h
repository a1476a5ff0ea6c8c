// Block map chunk: for one regular file, the zdb ids of kBlocksPerChunk
// consecutive data blocks, stored under BlockMapKey(ino, chunk).
// Slot value 0 is a hole; otherwise the block is qsfs-data id (value - 1).
// Byte layout in docs/qsfs-format.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qsfs {

inline constexpr uint32_t kBlocksPerChunk = 1024;
inline constexpr uint8_t kBlockMapVersion = 1;

// slots.size() == kBlocksPerChunk; trailing holes are not stored.
std::string EncodeBlockMapChunk(const std::vector<uint64_t>& slots);
// Always returns kBlocksPerChunk slots.
qs::Result<std::vector<uint64_t>> DecodeBlockMapChunk(std::string_view data);

}  // namespace qsfs
