// Namespace: opening, settings, rotation, sync, flush and removal.
#include "zdb/namespace.h"

#include <spdlog/spdlog.h>

#include "common/zdb_errors.h"

namespace zdb {

using qs::Result;
using qs::Status;
using qs::ZdbError;
using qs::ZdbErrorReply;

Namespace::Namespace(qs::Env* env, std::string name, std::string data_dir, std::string index_dir, StorageOptions opts)
    : env_(env), name_(std::move(name)), data_dir_(std::move(data_dir)), index_dir_(std::move(index_dir)), opts_(opts) {}

Namespace::~Namespace() {
  Status s = CloseHead();
  if (!s.ok()) spdlog::error("namespace {}: closing: {}", name_, s.ToString());
}

Result<std::unique_ptr<Namespace>> Namespace::Open(qs::Env* env, const std::string& name, const std::string& data_root,
                                                   const std::string& index_root, const StorageOptions& opts,
                                                   const NamespaceSettings* create_with) {
  std::unique_ptr<Namespace> ns(new Namespace(env, name, data_root + "/" + name, index_root + "/" + name, opts));
  std::string desc_path = ns->index_dir_ + "/" + kDescriptorName;
  if (env->Exists(desc_path)) {
    auto buf = env->ReadWholeFile(desc_path);
    if (!buf.ok()) return buf.status();
    std::string stored_name;
    Status s = DecodeSettings(*buf, &stored_name, &ns->settings_);
    if (!s.ok()) return Status::Corruption(desc_path + ": " + s.message());
  } else if (create_with != nullptr) {
    ns->settings_ = *create_with;
    QS_RETURN_IF_ERROR(env->CreateDirs(ns->index_dir_));
    QS_RETURN_IF_ERROR(env->CreateDirs(ns->data_dir_));
    QS_RETURN_IF_ERROR(env->WriteFileAtomic(desc_path, EncodeSettings(name, ns->settings_)));
  } else {
    return Status::NotFound("namespace " + name + " has no descriptor");
  }
  QS_RETURN_IF_ERROR(env->CreateDirs(ns->index_dir_));
  QS_RETURN_IF_ERROR(env->CreateDirs(ns->data_dir_));
  if (ns->settings_.mode == Mode::kSeq) {
    ns->index_ = std::make_unique<SeqKeyIndex>();
  } else {
    ns->index_ = std::make_unique<UserKeyIndex>();
  }
  QS_RETURN_IF_ERROR(ns->Load());
  return ns;
}

Status Namespace::UpdateSettings(const NamespaceSettings& s) {
  bool mode_change = s.mode != settings_.mode;
  if (mode_change && ever_written_) return Status::InvalidArgument(ZdbErrorReply(ZdbError::kCannotChangeMode));
  QS_RETURN_IF_ERROR(env_->WriteFileAtomic(index_dir_ + "/" + kDescriptorName, EncodeSettings(name_, s)));
  settings_ = s;
  if (mode_change) {
    if (s.mode == Mode::kSeq) {
      index_ = std::make_unique<SeqKeyIndex>();
    } else {
      index_ = std::make_unique<UserKeyIndex>();
    }
  }
  return Status::OK();
}

Status Namespace::Jump() {
  if (head_data_ == nullptr) {
    // Nothing open: the next write starts a new segment only if the current
    // one already holds entries.
    auto it = segments_.find(head_id_);
    if (it != segments_.end() && it->second.data_bytes > kFileHeaderSize) ++head_id_;
    return Status::OK();
  }
  std::string old_data = DataPath(head_id_), old_index = IndexPath(head_id_);
  QS_RETURN_IF_ERROR(CloseHead());
  ++head_id_;
  spdlog::info("namespace {}: segment {} closed, next is {}", name_, head_id_ - 1, head_id_);
  if (events_.on_jump_data) events_.on_jump_data(old_data, DataPath(head_id_));
  if (events_.on_jump_index) events_.on_jump_index(old_index, IndexPath(head_id_), dirty_index_ids_);
  return Status::OK();
}

Status Namespace::RotateIfOlder(uint64_t now_s, uint64_t max_age_s) {
  if (head_data_ == nullptr) return Status::OK();
  const Segment& seg = segments_[head_id_];
  if (seg.data_bytes <= kFileHeaderSize || seg.first_write == 0) return Status::OK();
  if (now_s < seg.first_write + max_age_s) return Status::OK();
  return Jump();
}

Status Namespace::Sync() {
  if (head_data_ == nullptr) {
    unsynced_ = false;
    return Status::OK();
  }
  QS_RETURN_IF_ERROR(head_data_->Sync());
  QS_RETURN_IF_ERROR(head_index_->Sync());
  EvictSyncedHead();
  unsynced_ = false;
  synced_generation_ = write_generation_;
  return Status::OK();
}

std::vector<std::shared_ptr<qs::AppendFile>> Namespace::DirtyFiles(uint64_t* generation) {
  *generation = write_generation_;
  if (!unsynced_ || head_data_ == nullptr) return {};
  return {head_data_, head_index_};
}

void Namespace::MarkSynced(uint64_t generation) {
  if (generation > synced_generation_) synced_generation_ = generation;
  if (synced_generation_ >= write_generation_) unsynced_ = false;
}

uint64_t Namespace::current_offset() const { return head_data_ ? head_data_->Size() : 0; }

uint64_t Namespace::next_seq_id() const {
  if (settings_.mode != Mode::kSeq) return 0;
  return static_cast<const SeqKeyIndex*>(index_.get())->next_id();
}

std::vector<uint32_t> Namespace::dirty_index_ids() const { return dirty_index_ids_; }

// The files go without being synced first (their bytes are thrown away);
// the directories are synced only with sync_always. Otherwise a power loss
// soon after may bring the flushed keys back, like any unsynced write.
Status Namespace::Flush() {
  const bool removes_files = !segments_.empty();
  head_data_.reset();
  head_index_.reset();
  unsynced_ = false;
  synced_generation_ = write_generation_;
  readers_.clear();
  index_readers_.clear();
  for (auto& [id, s] : segments_) {
    Status a = env_->Remove(DataPath(id));
    Status b = env_->Remove(IndexPath(id));
    if (!a.ok() && !a.IsNotFound()) return a;
    if (!b.ok() && !b.IsNotFound()) return b;
  }
  if (opts_.sync_always && removes_files) {
    QS_RETURN_IF_ERROR(env_->SyncDir(data_dir_));
    QS_RETURN_IF_ERROR(env_->SyncDir(index_dir_));
  }
  segments_.clear();
  index_->Clear();
  head_id_ = 0;
  live_bytes_ = disk_data_bytes_ = disk_index_bytes_ = 0;
  unknown_horizon_ = seq_id_slack_ = 0;
  dirty_index_ids_.clear();
  ever_written_ = false;
  compact_id_ = kNoSegment;
  return Status::OK();
}

Status Namespace::Reload() {
  QS_RETURN_IF_ERROR(CloseHead());
  readers_.clear();
  index_readers_.clear();
  segments_.clear();
  index_->Clear();
  live_bytes_ = disk_data_bytes_ = disk_index_bytes_ = 0;
  compact_id_ = kNoSegment;
  return Load();
}

Status Namespace::Destroy() {
  QS_RETURN_IF_ERROR(CloseHead());
  readers_.clear();
  index_readers_.clear();
  QS_RETURN_IF_ERROR(env_->RemoveDirRecursive(data_dir_));
  QS_RETURN_IF_ERROR(env_->RemoveDirRecursive(index_dir_));
  segments_.clear();
  index_->Clear();
  return Status::OK();
}

}  // namespace zdb
