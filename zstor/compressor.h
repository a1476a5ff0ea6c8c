// zstd compression of chunks. A chunk that does not shrink is stored raw;
// the caller records which (see docs/zstor-metadata.md, chunk flags).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zstor {

// Compresses in at level (1..19) into *out and returns true, or returns
// false and leaves *out empty when the result would not be smaller. The
// frame declares its size and carries zstd's content checksum (XXH64).
bool Compress(std::string_view in, int level, std::string* out);
// The same into *buf (grown as needed, never shrunk, so a buffer kept by
// the caller is reused): true and *n = the compressed size when smaller.
// buf must not be in.
bool CompressInto(std::string_view in, int level, std::string* buf, size_t* n);
// Decompresses exactly expected_size bytes; Corruption on bad or mismatched
// input (never returns a different size).
qs::Status Decompress(std::string_view in, size_t expected_size, std::string* out);
// The same into out, which has room for expected_size bytes (its contents
// are unspecified on failure). Frames from Compress carry zstd's content
// checksum, verified whenever present; require_checksum makes a frame
// without one Corruption too.
qs::Status DecompressInto(std::string_view in, size_t expected_size, char* out, bool require_checksum = false);

}  // namespace zstor
