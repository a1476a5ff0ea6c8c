// CRC-32C (Castagnoli) over bytes, computed by isa-l's crc32_iscsi (SSE4.2
// accelerated). Used by every on-disk entry; see docs/zdb-format.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qs {

// Extends crc (start with 0) by data[0, n).
uint32_t Crc32c(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(std::string_view s) { return Crc32c(0, s.data(), s.size()); }

}  // namespace qs
