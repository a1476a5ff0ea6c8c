// Namespace: the append path. Every write appends a data entry to the head
// segment and its index entry to the head index file, then updates the
// memory index; a write the disk refused leaves the index as it was.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "common/zdb_errors.h"
#include "zdb/namespace.h"

namespace zdb {

using qs::Result;
using qs::Status;
using qs::ZdbError;
using qs::ZdbErrorReply;

namespace {
uint64_t NowSeconds() { return static_cast<uint64_t>(std::time(nullptr)); }
}  // namespace

void Namespace::MarkDead(const Location& old) {
  auto it = segments_.find(old.segment);
  if (it != segments_.end()) it->second.dead_bytes += old.length;
}

Status Namespace::OpenHead() {
  if (head_data_ != nullptr) return Status::OK();
  auto d = env_->OpenAppend(DataPath(head_id_));
  if (!d.ok()) return d.status();
  auto i = env_->OpenAppend(IndexPath(head_id_));
  if (!i.ok()) return i.status();
  uint64_t now = NowSeconds();
  // A file shorter than a header is new or holds a torn header from a failed
  // earlier attempt: (re)write the header. The handles are kept only once both
  // files have one, so a failure here (e.g. ENOSPC) is retried on next write
  // instead of leaving entries appended to a file without a header.
  auto write_header = [&](qs::AppendFile* f, bool is_index) -> Status {
    if (f->Size() >= kFileHeaderSize) return Status::OK();
    if (f->Size() > 0) QS_RETURN_IF_ERROR(f->Truncate(0));
    Status s = f->Append(EncodeFileHeader(FileHeader{is_index, head_id_, now}));
    if (!s.ok()) f->Truncate(0);
    return s;
  };
  QS_RETURN_IF_ERROR(write_header(d->get(), false));
  QS_RETURN_IF_ERROR(write_header(i->get(), true));
  head_data_ = std::move(d.value());
  head_index_ = std::move(i.value());
  Segment& seg = segments_[head_id_];
  disk_data_bytes_ += head_data_->Size() - seg.data_bytes;
  disk_index_bytes_ += head_index_->Size() - seg.index_bytes;
  seg.data_bytes = head_data_->Size();
  seg.index_bytes = head_index_->Size();
  seg.data_missing = false;
  QS_RETURN_IF_ERROR(env_->SyncDir(data_dir_));
  QS_RETURN_IF_ERROR(env_->SyncDir(index_dir_));
  return Status::OK();
}

void Namespace::EvictSyncedHead() {
  if (!opts_.evict_synced) return;
  head_data_->EvictSynced();
  head_index_->EvictSynced();
}

Status Namespace::CloseHead() {
  if (head_data_ == nullptr) return Status::OK();
  Status s = head_data_->Sync();
  Status s2 = head_index_->Sync();
  if (s.ok() && s2.ok()) EvictSyncedHead();
  head_data_.reset();
  head_index_.reset();
  unsynced_ = false;
  return s.ok() ? s2 : s;
}

Status Namespace::AppendEntry(const DataEntry& e, Location* loc) {
  size_t need = DataEntrySize(e.key.size(), e.value.size());
  if (head_data_ != nullptr && head_data_->Size() > kFileHeaderSize && head_data_->Size() + need > opts_.datasize) {
    QS_RETURN_IF_ERROR(Jump());
  }
  if (head_data_ == nullptr) {
    auto it = segments_.find(head_id_);
    if (it != segments_.end() && it->second.data_bytes > kFileHeaderSize && it->second.data_bytes + need > opts_.datasize) {
      ++head_id_;
    }
    QS_RETURN_IF_ERROR(OpenHead());
  }
  scratch_.clear();
  uint32_t crc = EncodeDataEntry(e, &scratch_);
  uint64_t offset = head_data_->Size();
  if (offset + need > 0xFFFFFFFFull) return Status::LimitExceeded("segment offset overflow");
  uint64_t index_size = head_index_->Size();
  Status ds = head_data_->Append(scratch_);
  if (!ds.ok()) {
    // A failed append may leave a torn partial entry (ENOSPC after a short
    // write); cut it so the next entry starts where the index expects it.
    Status t = head_data_->Truncate(offset);
    if (!t.ok()) spdlog::error("namespace {}: cannot undo torn data append: {}", name_, t.ToString());
    return ds;
  }
  IndexEntry ie;
  ie.flags = e.flags;
  ie.data_offset = static_cast<uint32_t>(offset);
  ie.length = static_cast<uint32_t>(need);
  ie.timestamp = e.timestamp;
  ie.data_crc = crc;
  ie.key = e.key;
  scratch_.clear();
  EncodeIndexEntry(ie, &scratch_);
  Status s = head_index_->Append(scratch_);
  if (!s.ok()) {
    // Undo the data append so an unacknowledged write cannot reappear.
    Status t = head_data_->Truncate(offset);
    if (!t.ok()) spdlog::error("namespace {}: cannot undo data append: {}", name_, t.ToString());
    t = head_index_->Truncate(index_size);
    if (!t.ok()) spdlog::error("namespace {}: cannot undo torn index append: {}", name_, t.ToString());
    return s;
  }
  Segment& seg = segments_[head_id_];
  if (seg.first_write == 0) seg.first_write = e.timestamp ? e.timestamp : NowSeconds();
  disk_data_bytes_ += need;
  disk_index_bytes_ += scratch_.size();
  seg.data_bytes = head_data_->Size();
  seg.index_bytes = head_index_->Size();
  if (dirty_index_ids_.empty() || dirty_index_ids_.back() != head_id_) {
    if (std::find(dirty_index_ids_.begin(), dirty_index_ids_.end(), head_id_) == dirty_index_ids_.end())
      dirty_index_ids_.push_back(head_id_);
  }
  ever_written_ = true;
  unsynced_ = true;
  ++write_generation_;
  *loc = Location{head_id_, static_cast<uint32_t>(offset), static_cast<uint32_t>(need)};
  return Status::OK();
}

Status Namespace::Set(std::string_view key, std::string_view value, uint64_t timestamp, std::string* assigned,
                      bool* unchanged) {
  *unchanged = false;
  std::string seq_key;
  Location old;
  bool exists = false;
  if (settings_.mode == Mode::kSeq) {
    if (key.empty()) {
      seq_key = SeqKeyIndex::EncodeId(static_cast<SeqKeyIndex*>(index_.get())->next_id());
      key = seq_key;
    } else {
      exists = index_->Find(key, &old);
      if (!exists) return Status::NotFound(ZdbErrorReply(ZdbError::kOnlyUpdate));
    }
  } else {
    if (key.empty()) return Status::InvalidArgument(ZdbErrorReply(ZdbError::kKeyNeeded));
    exists = index_->Find(key, &old);
  }
  if (key.size() > kMaxKeySize) return Status::InvalidArgument(ZdbErrorReply(ZdbError::kKeyTooLarge));
  if (exists && settings_.worm) return Status::PermissionDenied(ZdbErrorReply(ZdbError::kWormOverwrite));
  size_t old_value = exists ? ValueSize(old, key.size()) : 0;
  if (settings_.maxsize > 0 && live_bytes_ + value.size() > settings_.maxsize + old_value)
    return Status::LimitExceeded(ZdbErrorReply(ZdbError::kNamespaceFull));
  if (exists && old_value == value.size() && Current(key, &old).ok()) {
    std::string buf;
    DataEntry cur;
    if (ReadEntry(old, &buf, &cur, nullptr).ok() && cur.value == value) {
      *unchanged = true;
      *assigned = std::string(key);
      return Status::OK();
    }
  }
  if (settings_.mode == Mode::kSeq && exists) {
    // As in 0-db, an update consumes an id. A tombstone of that id records
    // it on disk, so replay and compaction (which keeps the tombstones of a
    // sequential namespace) rebuild the same next id.
    auto* seq = static_cast<SeqKeyIndex*>(index_.get());
    std::string consumed = SeqKeyIndex::EncodeId(seq->next_id());
    DataEntry t;
    t.flags = kFlagDeleted;
    t.timestamp = timestamp ? timestamp : NowSeconds();
    t.key = consumed;
    Location tl;
    QS_RETURN_IF_ERROR(AppendEntry(t, &tl));
    seq->set_next_id(seq->next_id() + 1);
    segments_[tl.segment].dead_bytes += tl.length;
  }
  DataEntry e;
  e.timestamp = timestamp ? timestamp : NowSeconds();
  e.key = key;
  e.value = value;
  if (exists) {
    e.prev_segment = old.segment;
    e.prev_offset = old.offset;
  }
  Location loc;
  QS_RETURN_IF_ERROR(AppendEntry(e, &loc));
  Location replaced;
  if (index_->Put(key, loc, &replaced)) {
    MarkDead(replaced);
    live_bytes_ -= ValueSize(replaced, key.size());
  }
  live_bytes_ += value.size();
  *assigned = std::string(key);
  return Status::OK();
}

Status Namespace::Del(std::string_view key, uint64_t timestamp) {
  Location old;
  if (!index_->Find(key, &old)) return Status::NotFound(ZdbErrorReply(ZdbError::kKeyNotFound));
  if (settings_.worm) return Status::PermissionDenied(ZdbErrorReply(ZdbError::kWormDelete));
  DataEntry e;
  e.flags = kFlagDeleted;
  e.timestamp = timestamp ? timestamp : NowSeconds();
  e.key = key;
  e.prev_segment = old.segment;
  e.prev_offset = old.offset;
  Location loc;
  QS_RETURN_IF_ERROR(AppendEntry(e, &loc));
  index_->Erase(key, &old);
  MarkDead(old);
  live_bytes_ -= ValueSize(old, key.size());
  segments_[loc.segment].dead_bytes += loc.length;
  return Status::OK();
}

}  // namespace zdb
