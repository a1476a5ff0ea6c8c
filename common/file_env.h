// File I/O behind a small interface (like LevelDB's Env) so that tests can
// inject faults: torn writes, lost unsynced data, ENOSPC. The storage code
// never calls open/write/fsync directly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qs {

// An append-only file. Not thread-safe, except that Sync() may run on
// another thread while the owner appends (fdatasync semantics).
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // data appended so far reaches stable storage
  // Advice: the whole pages synced so far may leave the page cache (reads
  // of them then go to the disk). Safe beside appends; by default nothing.
  virtual void EvictSynced() {}
  virtual uint64_t Size() const = 0;
  // Cuts the file back to size bytes (undoing appends that must not stay).
  virtual Status Truncate(uint64_t size) = 0;
  virtual const std::string& path() const = 0;
};

// A file read at arbitrary offsets; thread-safe.
class ReadFile {
 public:
  virtual ~ReadFile() = default;
  // Reads up to n bytes at offset into scratch; *result views the bytes read
  // (fewer than n only at end of file).
  virtual Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) const = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();  // the real POSIX file system; never deleted

  // Opens path for appending at its end, creating it if missing.
  virtual Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) = 0;
  virtual Result<std::unique_ptr<ReadFile>> OpenRead(const std::string& path) = 0;
  // Like OpenRead, but reads within the first map_len bytes come from a
  // shared memory map (no system call); the file may grow into that range.
  // A read that faults (file truncated behind our back, I/O error) returns
  // IOError instead of killing the process.
  virtual Result<std::unique_ptr<ReadFile>> OpenReadMapped(const std::string& path, uint64_t map_len) {
    (void)map_len;
    return OpenRead(path);
  }
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status CreateDirs(const std::string& path) = 0;  // mkdir -p
  virtual Status RemoveDirRecursive(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;  // names only
  virtual Status SyncDir(const std::string& path) = 0;
  // Free bytes on the file system holding path.
  virtual Result<uint64_t> FreeSpace(const std::string& path) = 0;

  // Helpers built on the primitives above.
  Result<std::string> ReadWholeFile(const std::string& path);
  // Writes path atomically: temp file, sync, rename, sync of the directory.
  Status WriteFileAtomic(const std::string& path, std::string_view data);
};

}  // namespace qs
