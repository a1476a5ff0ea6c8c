#include "tests/common/fault_env.h"

#include <algorithm>
#include <vector>

namespace qs_test {

using qs::Status;

namespace {
std::string DirOf(const std::string& path) {
  size_t p = path.find_last_of('/');
  return p == std::string::npos ? "." : path.substr(0, p);
}
}  // namespace

class FaultAppendFile final : public qs::AppendFile {
 public:
  FaultAppendFile(FaultEnv* env, std::unique_ptr<qs::AppendFile> base) : env_(env), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    if (!env_->filesystem_active()) return Status::IOError("fault env: filesystem inactive");
    size_t allowed = 0;
    if (env_->Admit(data.size(), &allowed)) return base_->Append(data);
    if (allowed > 0) {
      Status s = base_->Append(data.substr(0, allowed));  // the torn part
      if (!s.ok()) return s;
    }
    return Status::NoSpace("fault env: no space left on device: " + base_->path());
  }

  Status Sync() override {
    ++env_->syncs_;
    if (!env_->filesystem_active()) return Status::OK();  // pretend; nothing becomes durable
    QS_RETURN_IF_ERROR(base_->Sync());
    env_->RecordSync(base_->path(), base_->Size());
    return Status::OK();
  }

  uint64_t Size() const override { return base_->Size(); }

  Status Truncate(uint64_t size) override {
    if (!env_->filesystem_active()) return Status::IOError("fault env: filesystem inactive");
    QS_RETURN_IF_ERROR(base_->Truncate(size));
    std::lock_guard<std::mutex> l(env_->mu_);
    auto it = env_->files_.find(base_->path());
    if (it != env_->files_.end()) it->second.synced = std::min(it->second.synced, size);
    return Status::OK();
  }

  const std::string& path() const override { return base_->path(); }

 private:
  FaultEnv* env_;
  std::unique_ptr<qs::AppendFile> base_;
};

qs::Result<std::unique_ptr<qs::AppendFile>> FaultEnv::OpenAppend(const std::string& path) {
  bool existed = base_->Exists(path);
  auto f = base_->OpenAppend(path);
  if (!f.ok()) return f.status();
  {
    std::lock_guard<std::mutex> l(mu_);
    if (files_.count(path) == 0) {
      FileState st;
      st.synced = existed ? (*f)->Size() : 0;
      st.dir_synced = existed;
      files_[path] = st;
    }
  }
  return std::unique_ptr<qs::AppendFile>(new FaultAppendFile(this, std::move(f.value())));
}

Status FaultEnv::Truncate(const std::string& path, uint64_t size) {
  QS_RETURN_IF_ERROR(base_->Truncate(path, size));
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second.synced = std::min(it->second.synced, size);
  return Status::OK();
}

Status FaultEnv::Remove(const std::string& path) {
  QS_RETURN_IF_ERROR(base_->Remove(path));
  std::lock_guard<std::mutex> l(mu_);
  files_.erase(path);
  return Status::OK();
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  QS_RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard<std::mutex> l(mu_);
  files_.erase(to);
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(from);
  }
  return Status::OK();
}

Status FaultEnv::RemoveDirRecursive(const std::string& path) {
  QS_RETURN_IF_ERROR(base_->RemoveDirRecursive(path));
  std::lock_guard<std::mutex> l(mu_);
  std::string prefix = path + "/";
  for (auto it = files_.begin(); it != files_.end();) {
    it = it->first.compare(0, prefix.size(), prefix) == 0 ? files_.erase(it) : std::next(it);
  }
  return Status::OK();
}

Status FaultEnv::SyncDir(const std::string& path) {
  ++dir_syncs_;
  if (!active_) return Status::OK();
  QS_RETURN_IF_ERROR(base_->SyncDir(path));
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [p, st] : files_) {
    if (DirOf(p) == path) st.dir_synced = true;
  }
  return Status::OK();
}

qs::Result<uint64_t> FaultEnv::FreeSpace(const std::string& path) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (nospace_) return budget_;
  }
  return base_->FreeSpace(path);
}

Status FaultEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    const std::string& p = it->first;
    if (!base_->Exists(p)) {
      it = files_.erase(it);
      continue;
    }
    if (!it->second.dir_synced) {
      QS_RETURN_IF_ERROR(base_->Remove(p));
      it = files_.erase(it);
      continue;
    }
    auto size = base_->FileSize(p);
    if (!size.ok()) return size.status();
    if (*size > it->second.synced) QS_RETURN_IF_ERROR(base_->Truncate(p, it->second.synced));
    ++it;
  }
  return Status::OK();
}

void FaultEnv::SetNoSpaceAfter(uint64_t bytes, bool torn) {
  std::lock_guard<std::mutex> l(mu_);
  nospace_ = true;
  torn_ = torn;
  budget_ = bytes;
}

void FaultEnv::ClearNoSpace() {
  std::lock_guard<std::mutex> l(mu_);
  nospace_ = false;
}

uint64_t FaultEnv::SyncedSize(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.synced;
}

bool FaultEnv::Admit(size_t n, size_t* allowed) {
  std::lock_guard<std::mutex> l(mu_);
  if (!nospace_ || n <= budget_) {
    if (nospace_) budget_ -= n;
    *allowed = n;
    return true;
  }
  *allowed = torn_ ? static_cast<size_t>(budget_) : 0;
  budget_ = 0;
  return false;
}

void FaultEnv::RecordSync(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second.synced = size;
}

}  // namespace qs_test
