#include "zstor/compressor.h"

#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <memory>

namespace zstor {

using qs::Status;

namespace {

constexpr int kMinLevel = 1;
constexpr int kMaxLevel = 19;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One context per thread, created on first use and kept for the thread's
// lifetime, so chunks are (de)compressed without per-call allocation of the
// zstd workspace. nullptr if zstd could not allocate one.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  return cctx.get();
}

ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
  return dctx.get();
}

}  // namespace

bool CompressInto(std::string_view in, int level, std::string* buf, size_t* n) {
  // Nothing is smaller than nothing (a zstd frame has a header of its own).
  if (in.empty()) return false;
  level = std::clamp(level, kMinLevel, kMaxLevel);
  // Only a strictly smaller result is worth keeping, so the output room is
  // in.size() - 1 bytes rather than ZSTD_compressBound(in.size()): zstd fails
  // with dstSize_tooSmall as soon as the frame cannot fit, which is exactly
  // the "would not be smaller" case.
  const size_t room = in.size() - 1;
  if (buf->size() < room) buf->resize(room);
  ZSTD_CCtx* cctx = ThreadCCtx();
  if (cctx == nullptr) return false;  // zstd could not allocate: store raw
  // Every frame carries zstd's content checksum (XXH64 of the plaintext,
  // 4 bytes), which decompression verifies: docs/zstor-metadata.md, chunk
  // flag bit 2.
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)))
    return false;
  size_t r = ZSTD_compress2(cctx, buf->data(), room, in.data(), in.size());
  // Any error (dstSize_tooSmall, or memory trouble) means: store raw.
  if (ZSTD_isError(r) || r >= in.size()) return false;
  *n = r;
  return true;
}

// *out is only touched once in is no longer needed: callers may pass a view
// of *out as in.
bool Compress(std::string_view in, int level, std::string* out) {
  std::string buf;  // aside, so in may view *out
  size_t n = 0;
  if (!CompressInto(in, level, &buf, &n)) {
    out->clear();
    return false;
  }
  buf.resize(n);
  *out = std::move(buf);
  return true;
}

namespace {

// The frame's header against the size the metadata expects, before any
// output buffer is sized.
Status CheckFrame(std::string_view in, size_t expected_size) {
  unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return Status::Corruption("compressed chunk is not a valid zstd frame (" + std::to_string(in.size()) +
                              " bytes)");
  }
  // Frames written by Compress always declare their size; check it before
  // allocating anything. A frame without one (ZSTD_CONTENTSIZE_UNKNOWN) is
  // still bounded below: the output buffer is exactly expected_size bytes.
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected_size) {
    return Status::Corruption("compressed chunk declares " + std::to_string(declared) + " bytes, expected " +
                              std::to_string(expected_size));
  }
  return Status::OK();
}

}  // namespace

Status DecompressInto(std::string_view in, size_t expected_size, char* out, bool require_checksum) {
  QS_RETURN_IF_ERROR(CheckFrame(in, expected_size));
  // RFC 8878, 3.1.1.1.1: after the 4-byte magic number, bit 2 of the frame
  // header descriptor is Content_Checksum_Flag. CheckFrame has seen a
  // whole zstd frame header, so byte 4 is there.
  if (require_checksum && (in.size() < 5 || (static_cast<uint8_t>(in[4]) & 0x04) == 0))
    return Status::Corruption("compressed chunk has no content checksum, which its metadata requires");
  ZSTD_DCtx* dctx = ThreadDCtx();
  size_t n = dctx != nullptr ? ZSTD_decompressDCtx(dctx, out, expected_size, in.data(), in.size())
                             : ZSTD_decompress(out, expected_size, in.data(), in.size());
  if (ZSTD_isError(n)) {
    return Status::Corruption(std::string("zstd decompression failed: ") + ZSTD_getErrorName(n) + " (expected " +
                              std::to_string(expected_size) + " bytes)");
  }
  if (n != expected_size) {
    return Status::Corruption("compressed chunk decompressed to " + std::to_string(n) + " bytes, expected " +
                              std::to_string(expected_size));
  }
  return Status::OK();
}

Status Decompress(std::string_view in, size_t expected_size, std::string* out) {
  // Decompressed aside, so in may view *out and nothing partial is handed out.
  Status s = CheckFrame(in, expected_size);
  std::string buf;
  if (s.ok()) {
    buf.assign(expected_size, '\0');
    s = DecompressInto(in, expected_size, buf.data());
  }
  if (s.ok()) {
    *out = std::move(buf);
  } else {
    out->clear();
  }
  return s;
}

}  // namespace zstor
