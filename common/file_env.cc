#include "common/file_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace qs {
namespace {

class PosixAppendFile final : public AppendFile {
 public:
  PosixAppendFile(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixAppendFile() override { close(fd_); }

  Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    const uint64_t start = size_;
    while (left > 0) {
      ssize_t n = write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        // Keep the file a clean prefix of what callers appended: a partial
        // write is cut back so the next append starts on an entry boundary.
        if (ftruncate(fd_, static_cast<off_t>(start)) == 0) size_ = start;
        return Status::FromErrno(err, "write " + path_);
      }
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }

  Status Sync() override {
    const uint64_t size = size_;
    if (fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
    uint64_t prev = synced_.load();
    while (size > prev && !synced_.compare_exchange_weak(prev, size)) {
    }
    return Status::OK();
  }

  void EvictSynced() override {
    // Whole pages only: the page the next append goes on stays.
    const uint64_t upto = synced_.load() & ~uint64_t{4095};
    if (upto > 0) posix_fadvise(fd_, 0, static_cast<off_t>(upto), POSIX_FADV_DONTNEED);
  }

  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

  Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) return Status::FromErrno(errno, "ftruncate " + path_);
    size_ = size;
    if (synced_.load() > size) synced_ = size;
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_;
  std::atomic<uint64_t> size_;
  std::atomic<uint64_t> synced_{0};  // bytes known to be on stable storage
};

// Reads up to n bytes at offset, retrying on EINTR and short reads; stops early at end of file.
Status PreadFully(int fd, const std::string& path, uint64_t offset, size_t n, char* scratch,
                  std::string_view* result) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, scratch + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "pread " + path);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  *result = std::string_view(scratch, got);
  return Status::OK();
}

class PosixReadFile final : public ReadFile {
 public:
  PosixReadFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixReadFile() override { close(fd_); }

  Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) const override {
    return PreadFully(fd_, path_, offset, n, scratch, result);
  }

 private:
  std::string path_;
  int fd_;
};

// SIGBUS from a mapped read jumps back into the read that caused it.
// volatile: the handler reads it, so the stores around the copy must happen
// (an optimiser that sees no reader between them drops the first one, and a
// fault then kills the process).
thread_local sigjmp_buf* volatile tl_fault_jump = nullptr;

void OnSigbus(int sig, siginfo_t*, void*) {
  if (tl_fault_jump != nullptr) siglongjmp(*tl_fault_jump, 1);
  signal(sig, SIG_DFL);  // not a guarded read: die as usual
  raise(sig);
}

void InstallSigbusHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;  // NODEFER: no mask to restore after the jump
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, nullptr);
  });
}

class MappedReadFile final : public ReadFile {
 public:
  MappedReadFile(std::string path, int fd, char* map, uint64_t map_len)
      : path_(std::move(path)), fd_(fd), map_(map), map_len_(map_len) {}
  ~MappedReadFile() override {
    munmap(map_, map_len_);
    close(fd_);
  }

  Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) const override {
    if (offset + n > map_len_) return PreadFully(fd_, path_, offset, n, scratch, result);
    // Bytes past the end of file fault; the guard turns that into an error.
    sigjmp_buf jump;
    if (sigsetjmp(jump, 0) != 0) {
      tl_fault_jump = nullptr;
      return Status::IOError("read fault in " + path_ + " at offset " + std::to_string(offset) +
                             " (file truncated or unreadable)");
    }
    tl_fault_jump = &jump;
    std::memcpy(scratch, map_ + offset, n);
    tl_fault_jump = nullptr;
    *result = std::string_view(scratch, n);
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_;
  char* map_;
  uint64_t map_len_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) override {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      return Status::FromErrno(err, "fstat " + path);
    }
    return std::unique_ptr<AppendFile>(new PosixAppendFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  Result<std::unique_ptr<ReadFile>> OpenRead(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    return std::unique_ptr<ReadFile>(new PosixReadFile(path, fd));
  }

  Result<std::unique_ptr<ReadFile>> OpenReadMapped(const std::string& path, uint64_t map_len) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open " + path);
    InstallSigbusHandler();
    void* m = mmap(nullptr, map_len, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return std::unique_ptr<ReadFile>(new PosixReadFile(path, fd));
    return std::unique_ptr<ReadFile>(new MappedReadFile(path, fd, static_cast<char*>(m), map_len));
  }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
    return static_cast<uint64_t>(st.st_size);
  }

  bool Exists(const std::string& path) override { return access(path.c_str(), F_OK) == 0; }

  Status Truncate(const std::string& path, uint64_t size) override {
    if (truncate(path.c_str(), static_cast<off_t>(size)) != 0) return Status::FromErrno(errno, "truncate " + path);
    return Status::OK();
  }

  Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return Status::FromErrno(errno, "unlink " + path);
    return Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) return Status::FromErrno(errno, "rename " + from);
    return Status::OK();
  }

  Status CreateDirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::FromErrno(ec.value(), "mkdir " + path);
    return Status::OK();
  }

  Status RemoveDirRecursive(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return Status::FromErrno(ec.value(), "remove " + path);
    return Status::OK();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return Status::FromErrno(errno, "opendir " + path);
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    closedir(d);
    return names;
  }

  Status SyncDir(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open dir " + path);
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0) return Status::FromErrno(err, "fsync dir " + path);
    return Status::OK();
  }

  Result<uint64_t> FreeSpace(const std::string& path) override {
    struct statvfs sv;
    if (statvfs(path.c_str(), &sv) != 0) return Status::FromErrno(errno, "statvfs " + path);
    return static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

Result<std::string> Env::ReadWholeFile(const std::string& path) {
  auto size = FileSize(path);
  if (!size.ok()) return size.status();
  auto f = OpenRead(path);
  if (!f.ok()) return f.status();
  std::string buf(*size, '\0');
  std::string_view got;
  QS_RETURN_IF_ERROR((*f)->Read(0, buf.size(), buf.data(), &got));
  buf.resize(got.size());
  return buf;
}

Status Env::WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  Remove(tmp);  // a leftover from a crash; absence is fine
  {
    auto f = OpenAppend(tmp);
    if (!f.ok()) return f.status();
    QS_RETURN_IF_ERROR((*f)->Append(data));
    QS_RETURN_IF_ERROR((*f)->Sync());
  }
  QS_RETURN_IF_ERROR(Rename(tmp, path));
  std::string dir = path.substr(0, path.find_last_of('/'));
  return SyncDir(dir.empty() ? "." : dir);
}

}  // namespace qs
