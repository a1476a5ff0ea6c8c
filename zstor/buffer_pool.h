// Recycles the large byte buffers of a store (chunk plaintext, encoded
// chunks): a buffer handed back keeps its pages, so the next chunk writes
// into warm memory instead of having fresh pages faulted in and zeroed.
// Process-wide and thread-safe; keeps at most kKeep idle buffers and frees
// the rest, and Trim frees those idle for a while.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace zstor {

class BufferPool {
 public:
  static constexpr size_t kKeep = 8;  // a store has about this many chunk buffers in flight

  // A buffer of exactly `size` bytes (contents unspecified), returned to
  // the pool when the last reference goes.
  static std::shared_ptr<std::string> Get(size_t size);
  // Buffers idle in the pool now.
  static size_t Idle();
  // Frees the buffers idle for at least `idle` (the daemon calls it on its
  // health tick, so memory goes back once stores stop). Returns how many.
  static size_t Trim(std::chrono::steady_clock::duration idle);
};

}  // namespace zstor
