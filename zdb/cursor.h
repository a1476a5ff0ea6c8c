// SCAN and HISTORY cursors: opaque 8-byte strings to clients, inside a
// segment id and an offset, each a little-endian u32 (docs/zdb-format.md,
// "Cursors").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/coding.h"

namespace zdb {

inline std::string EncodeCursor(uint32_t segment, uint32_t offset) {
  std::string c(8, '\0');
  qs::EncodeFixed32(c.data(), segment);
  qs::EncodeFixed32(c.data() + 4, offset);
  return c;
}

// False when c is not 8 bytes long.
inline bool DecodeCursor(std::string_view c, uint32_t* segment, uint32_t* offset) {
  if (c.size() != 8) return false;
  *segment = qs::DecodeFixed32(c.data());
  *offset = qs::DecodeFixed32(c.data() + 4);
  return true;
}

}  // namespace zdb
