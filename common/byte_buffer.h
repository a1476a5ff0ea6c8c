// A growable byte buffer for socket input: space is reserved without being
// zero-filled (std::string::resize would memset every read), and consumed
// bytes are dropped from the front in O(remaining).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

namespace qs {

class ByteBuffer {
 public:
  const char* data() const { return buf_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }

  // Returns room for at least n more bytes after size(); Commit() what was written.
  char* PrepareWrite(size_t n) {
    if (size_ + n > cap_) {
      size_t ncap = cap_ == 0 ? 4096 : cap_;
      while (ncap < size_ + n) ncap *= 2;
      std::unique_ptr<char[]> nb(new char[ncap]);
      if (size_ > 0) std::memcpy(nb.get(), buf_.get(), size_);
      buf_ = std::move(nb);
      cap_ = ncap;
    }
    return buf_.get() + size_;
  }
  void Commit(size_t n) { size_ += n; }

  // Drops the first n bytes.
  void Consume(size_t n) {
    if (n >= size_) {
      size_ = 0;
      return;
    }
    std::memmove(buf_.get(), buf_.get() + n, size_ - n);
    size_ -= n;
  }

  // Frees memory when a burst left a large, mostly empty buffer behind.
  void ShrinkIfIdle(size_t keep) {
    if (cap_ > keep && size_ <= keep / 4) {
      std::unique_ptr<char[]> nb(new char[keep]);
      if (size_ > 0) std::memcpy(nb.get(), buf_.get(), size_);
      buf_ = std::move(nb);
      cap_ = keep;
    }
  }

 private:
  std::unique_ptr<char[]> buf_;
  size_t size_ = 0;
  size_t cap_ = 0;
};

}  // namespace qs
