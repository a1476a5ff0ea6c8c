// Namespace: online compaction, a bounded step at a time from the loop.
#include <spdlog/spdlog.h>

#include "zdb/namespace.h"

namespace zdb {

using qs::Result;
using qs::Status;

// Online compaction: live entries of a mostly-dead closed segment are copied
// to the head; once every one is copied and synced the old files go. A crash
// in between leaves both copies, and the newer one wins on load.
bool Namespace::CompactStep(double dead_ratio, size_t budget) {
  if (compact_id_ == kNoSegment) {
    for (auto& [id, s] : segments_) {
      if (id == head_id_ || s.data_missing || s.data_bytes <= kFileHeaderSize) continue;
      // Damage stays where it is, and no entry from before an unreadable
      // region is copied past it (the copy would look newer than it is).
      if (s.damaged || (unknown_horizon_ != 0 && id <= (unknown_horizon_ >> 32))) continue;
      if (static_cast<double>(s.dead_bytes) >= dead_ratio * static_cast<double>(s.data_bytes - kFileHeaderSize)) {
        if (!ReadIndexFile(id, &compact_index_).ok()) continue;
        compact_id_ = id;
        compact_pos_ = kFileHeaderSize;
        spdlog::info("namespace {}: compacting segment {} ({} of {} bytes dead)", name_, id, s.dead_bytes,
                     s.data_bytes);
        break;
      }
    }
    if (compact_id_ == kNoSegment) return false;
  }
  bool oldest = segments_.begin()->first == compact_id_;
  std::string buf;
  for (size_t n = 0; n < budget && compact_pos_ < compact_index_.size(); ++n) {
    IndexEntry ie;
    if (!DecodeIndexEntry(std::string_view(compact_index_).substr(compact_pos_), &ie).ok()) {
      compact_pos_ = compact_index_.size();
      break;
    }
    compact_pos_ += IndexEntrySize(ie.key.size());
    Location cur;
    bool live = index_->Find(ie.key, &cur);
    Location here{compact_id_, ie.data_offset, ie.length};
    if (ie.flags & kFlagDeleted) {
      // A tombstone must outlive every older copy of its key.
      bool needed = !live && (settings_.mode == Mode::kSeq || !oldest);
      if (!needed) continue;
      DataEntry t;
      t.flags = kFlagDeleted;
      t.timestamp = ie.timestamp;
      t.key = ie.key;
      Location loc;
      if (!AppendEntry(t, &loc).ok()) return true;  // retry later
      segments_[loc.segment].dead_bytes += loc.length;
      continue;
    }
    if (!live || !(cur == here)) continue;
    DataEntry e;
    Status s = ReadEntry(here, &buf, &e, nullptr);
    if (!s.ok()) {
      spdlog::error("namespace {}: compaction cannot read an entry: {}; segment {} kept", name_, s.ToString(),
                    compact_id_);
      compact_id_ = kNoSegment;
      return false;
    }
    e.prev_segment = kNoSegment;  // the old version goes away with this segment
    Location loc;
    if (!AppendEntry(e, &loc).ok()) return true;
    index_->Put(e.key, loc, nullptr);
  }
  if (compact_pos_ < compact_index_.size()) return true;
  Status s = Sync();
  if (s.ok()) {
    uint32_t id = compact_id_;
    readers_.erase(id);
    index_readers_.erase(id);
    Status a = env_->Remove(DataPath(id));
    Status b = env_->Remove(IndexPath(id));
    if (a.ok() && b.ok()) {
      disk_data_bytes_ -= segments_[id].data_bytes;
      disk_index_bytes_ -= segments_[id].index_bytes;
      segments_.erase(id);
      spdlog::info("namespace {}: segment {} compacted away", name_, id);
    }
  }
  compact_id_ = kNoSegment;
  compact_index_.clear();
  compact_index_.shrink_to_fit();
  return true;
}

}  // namespace zdb
