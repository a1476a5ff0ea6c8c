#include "zstor/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <memory>

namespace zstor {

using qs::Status;

namespace {

// Direct I/O wants buffer address, offset and length aligned; 4096 covers
// every logical block size in use.
constexpr size_t kAlign = 4096;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

size_t RoundUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// One per thread and kept, so its pages are touched once per thread rather
// than once per chunk.
thread_local std::unique_ptr<char, FreeDeleter> scratch_buf;
thread_local size_t scratch_cap = 0;

}  // namespace

char* OutputFile::Scratch(size_t n) {
  n = RoundUp(std::max<size_t>(n, 1));
  auto& buf = scratch_buf;
  auto& cap = scratch_cap;
  if (cap < n) {
    buf.reset();
    cap = 0;
    void* p = std::aligned_alloc(kAlign, n);
    if (p == nullptr) return nullptr;
    buf.reset(static_cast<char*>(p));
    cap = n;
  }
  return buf.get();
}

namespace {

Status PwriteAll(int fd, const char* p, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write");
    }
    if (w == 0) return Status::IOError("write: no progress");
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::OK();
}

}  // namespace

OutputFile::~OutputFile() { Close(); }

Status OutputFile::Open(const std::string& path, uint64_t stride) {
  Close();
  path_ = path;
  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  if (stride > 0 && stride % kAlign == 0) {
    fd_ = open(path.c_str(), flags | O_DIRECT, 0644);
    if (fd_ >= 0) {
      direct_ = true;
      return Status::OK();
    }
    if (errno != EINVAL) return Status::FromErrno(errno, "create " + path);
    // EINVAL: this file system has no direct I/O (tmpfs); buffered it is.
  }
  fd_ = open(path.c_str(), flags, 0644);
  if (fd_ < 0) return Status::FromErrno(errno, "create " + path);
  direct_ = false;
  return Status::OK();
}

void OutputFile::DropDirect() {
  if (!direct_.exchange(false)) return;
  int fl = fcntl(fd_, F_GETFL);
  if (fl >= 0) fcntl(fd_, F_SETFL, fl & ~O_DIRECT);
}

Status OutputFile::BufferedWrite(std::string_view data, uint64_t offset) {
  return PwriteAll(fd_, data.data(), data.size(), offset);
}

Status OutputFile::WriteAt(std::string_view data, uint64_t offset) {
  if (fd_ < 0) return Status::IOError("write to " + path_ + ": file not open");
  if (data.empty()) return Status::OK();
  char* buf = direct_ && offset % kAlign == 0 ? Scratch(data.size()) : nullptr;
  if (buf == nullptr) return BufferedWrite(data, offset);
  std::memcpy(buf, data.data(), data.size());
  return WriteScratch(data.size(), offset);
}

Status OutputFile::WriteScratch(size_t n, uint64_t offset) {
  if (fd_ < 0) return Status::IOError("write to " + path_ + ": file not open");
  if (n == 0) return Status::OK();
  const char* buf = scratch_buf.get();
  if (buf == nullptr || scratch_cap < RoundUp(n))
    return Status::InvalidArgument("WriteScratch beyond this thread's Scratch");
  if (!direct_ || offset % kAlign != 0) return BufferedWrite(std::string_view(buf, n), offset);
  const size_t padded = RoundUp(n);
  std::memset(scratch_buf.get() + n, 0, padded - n);
  Status s = PwriteAll(fd_, buf, padded, offset);
  if (s.ok() || s.code() != Status::Code::kInvalidArgument) return s;
  // The file system refused this direct write after all: go buffered.
  DropDirect();
  return BufferedWrite(std::string_view(buf, n), offset);
}

Status OutputFile::Finish(uint64_t size) {
  if (fd_ < 0) return Status::IOError("finish " + path_ + ": file not open");
  Status s;
  // Direct writes round the last chunk up to a block; cut the padding.
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) s = Status::FromErrno(errno, "truncate " + path_);
  if (s.ok() && fsync(fd_) != 0) s = Status::FromErrno(errno, "fsync " + path_);
  if (close(fd_) != 0 && s.ok()) s = Status::FromErrno(errno, "close " + path_);
  fd_ = -1;
  return s;
}

void OutputFile::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

}  // namespace zstor
