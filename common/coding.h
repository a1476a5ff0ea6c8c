// Little-endian fixed-width integer encoding for on-disk and wire formats.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace qs {

inline void EncodeFixed16(char* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void EncodeFixed32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void EncodeFixed64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t DecodeFixed16(const char* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t DecodeFixed32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t DecodeFixed64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

inline void PutFixed32(std::string* s, uint32_t v) { char b[4]; EncodeFixed32(b, v); s->append(b, 4); }
inline void PutFixed64(std::string* s, uint64_t v) { char b[8]; EncodeFixed64(b, v); s->append(b, 8); }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "formats assume a little-endian host");

}  // namespace qs
