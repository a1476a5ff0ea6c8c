#include "common/crc32c.h"

#include <isa-l/crc.h>

namespace qs {

uint32_t Crc32c(uint32_t crc, const void* data, size_t n) {
  // isa-l's crc32_iscsi takes and returns the raw register; invert at the
  // ends so that results match the standard CRC-32C (0xE3069283 for "123456789").
  return ~crc32_iscsi(static_cast<unsigned char*>(const_cast<void*>(data)), static_cast<int>(n), ~crc);
}

}  // namespace qs
