// A test-only Env over a base Env (like LevelDB's FaultInjectionTestEnv):
//  - remembers, per file, its size at the last Sync(); DropUnsyncedData()
//    cuts every file back to it (power loss). Files whose creation was never
//    made durable by SyncDir() of their directory are removed instead.
//  - SetNoSpaceAfter(n, torn): appends fail with Status::NoSpace once n more
//    bytes have been written; with torn, the failing append first writes as
//    many of its bytes as still fit (a torn partial append).
//  - SetFilesystemActive(false): appends fail, syncs succeed without
//    effect: a crashed process whose later syncs must not count.
//  - counts syncs.
// Files are tracked only when opened for append through this Env; a file
// that already existed when first opened counts as fully synced.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/file_env.h"

namespace qs_test {

class FaultEnv final : public qs::Env {
 public:
  explicit FaultEnv(qs::Env* base = qs::Env::Default()) : base_(base) {}

  qs::Result<std::unique_ptr<qs::AppendFile>> OpenAppend(const std::string& path) override;
  qs::Result<std::unique_ptr<qs::ReadFile>> OpenRead(const std::string& path) override { return base_->OpenRead(path); }
  qs::Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  qs::Status Truncate(const std::string& path, uint64_t size) override;
  qs::Status Remove(const std::string& path) override;
  qs::Status Rename(const std::string& from, const std::string& to) override;
  qs::Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  qs::Status RemoveDirRecursive(const std::string& path) override;
  qs::Result<std::vector<std::string>> ListDir(const std::string& path) override { return base_->ListDir(path); }
  qs::Status SyncDir(const std::string& path) override;
  qs::Result<uint64_t> FreeSpace(const std::string& path) override;

  // Power loss: every tracked file goes back to its last synced size.
  qs::Status DropUnsyncedData();
  void SetFilesystemActive(bool active) { active_ = active; }
  bool filesystem_active() const { return active_; }
  // Appends fail with NoSpace after `bytes` more bytes; see above.
  void SetNoSpaceAfter(uint64_t bytes, bool torn);
  void ClearNoSpace();
  uint64_t sync_count() const { return syncs_; }
  uint64_t dir_sync_count() const { return dir_syncs_; }
  uint64_t SyncedSize(const std::string& path);  // tracked size at last sync

 private:
  friend class FaultAppendFile;
  struct FileState {
    uint64_t synced = 0;
    bool dir_synced = false;  // its directory entry is durable
  };
  // Decides how much of an n-byte append may be written; false = fail.
  bool Admit(size_t n, size_t* allowed);
  void RecordSync(const std::string& path, uint64_t size);

  qs::Env* base_;
  std::mutex mu_;
  std::map<std::string, FileState> files_;
  std::atomic<bool> active_{true};
  bool nospace_ = false;
  bool torn_ = false;
  uint64_t budget_ = 0;
  std::atomic<uint64_t> syncs_{0}, dir_syncs_{0};
};

}  // namespace qs_test
