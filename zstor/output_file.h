// The file a retrieve writes: chunks land at their offsets from several
// threads at once, then Finish() sets the exact size and fsyncs. Writes
// bypass the page cache (O_DIRECT) when the file system allows it and the
// offsets are block-aligned: a retrieve writes each byte once and nobody
// reads it back soon, and copying into fresh page-cache pages costs more
// than the whole decode (docs/zstor-metadata.md, "Reading a chunk back").
// Otherwise, or when the file system refuses a direct write, plain buffered
// writes.
// WriteAt is thread-safe for disjoint ranges; the caller owns the path.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace zstor {

class OutputFile {
 public:
  OutputFile() = default;
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Creates (truncates) path for writing. Direct I/O is tried when every
  // WriteAt offset will be a multiple of `stride` (the chunk size) and
  // stride is a multiple of the block alignment.
  qs::Status Open(const std::string& path, uint64_t stride);

  // Writes data at offset. A direct write of a length that is not a block
  // multiple (the last chunk) is padded with zeros; Finish trims it.
  qs::Status WriteAt(std::string_view data, uint64_t offset);

  // A block-aligned buffer of the calling thread with room for n bytes and
  // the padding a direct write adds; valid until the thread's next call.
  // nullptr when out of memory. Fill it, then WriteScratch: no copy.
  static char* Scratch(size_t n);
  // Writes the first n bytes of this thread's Scratch at offset.
  qs::Status WriteScratch(size_t n, uint64_t offset);

  // Sets the file to `size` bytes and fsyncs it. Closes the file.
  qs::Status Finish(uint64_t size);

  // Closes without syncing (the caller unlinks the file).
  void Close();

  bool direct() const { return direct_.load(std::memory_order_relaxed); }

 private:
  qs::Status BufferedWrite(std::string_view data, uint64_t offset);
  // Turns direct I/O off for all later writes (a refused direct write).
  void DropDirect();

  int fd_ = -1;
  std::string path_;
  std::atomic<bool> direct_{false};
};

}  // namespace zstor
