// Start-up recovery of a namespace: loading index files, rebuilding them
// from data, and keeping track of what could not be read. What recovery can
// and cannot know is in docs/zdb-format.md, "Start-up recovery".
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "zdb/namespace.h"

namespace zdb {

using qs::Status;

namespace {

uint64_t NowSeconds() { return static_cast<uint64_t>(std::time(nullptr)); }

uint64_t Position(uint32_t segment, uint64_t offset) { return (static_cast<uint64_t>(segment) << 32) | offset; }

// The smallest possible entry (an 8-byte sequential key, no value): an
// unknown region of n bytes holds at most n / this many entries.
constexpr uint64_t kMinSeqEntry = kDataEntryHeaderSize + 8;

}  // namespace

void Namespace::NoteUnknownRegion(uint32_t id, uint64_t offset, uint64_t len) {
  spdlog::error("namespace {}: segment {}: {} bytes at offset {} cannot be read; keys last written before them "
                "answer Corruption until written again",
                name_, id, len, offset);
  unknown_horizon_ = std::max(unknown_horizon_, Position(id, offset));
  seq_id_slack_ += len / kMinSeqEntry + 1;
  auto it = segments_.find(id);
  if (it != segments_.end()) it->second.damaged = true;
}

Status Namespace::Current(std::string_view key, Location* loc) const {
  if (!index_->Find(key, loc)) return Status::NotFound("key not found");
  if (unknown_horizon_ != 0 && Position(loc->segment, loc->offset) < unknown_horizon_) {
    return Status::Corruption("newest version unknown: segment " + std::to_string(unknown_horizon_ >> 32) +
                              " has unreadable bytes at offset " + std::to_string(unknown_horizon_ & 0xFFFFFFFFu) +
                              " that may hold a newer version");
  }
  return Status::OK();
}

Status Namespace::Load() {
  unknown_horizon_ = 0;
  seq_id_slack_ = 0;
  auto data_names = env_->ListDir(data_dir_);
  if (!data_names.ok()) return data_names.status();
  auto index_names = env_->ListDir(index_dir_);
  if (!index_names.ok()) return index_names.status();
  std::set<uint32_t> data_ids, index_ids, all;
  for (const auto& n : *data_names) {
    bool is_index;
    uint32_t id;
    if (ParseSegmentFileName(n, &is_index, &id) && !is_index) data_ids.insert(id);
  }
  for (const auto& n : *index_names) {
    bool is_index;
    uint32_t id;
    if (ParseSegmentFileName(n, &is_index, &id) && is_index) index_ids.insert(id);
  }
  all = data_ids;
  all.insert(index_ids.begin(), index_ids.end());
  for (uint32_t id : all) {
    Segment& seg = segments_[id];
    seg.data_missing = data_ids.count(id) == 0;
    QS_RETURN_IF_ERROR(LoadSegment(id, id == *all.rbegin()));
    ever_written_ = true;
  }
  if (all.empty()) {
    head_id_ = 0;
  } else {
    uint32_t last = *all.rbegin();
    const Segment& seg = segments_[last];
    // Keep appending to the last segment unless it is gone, full, or ends
    // in bytes that could not be read.
    head_id_ = (seg.data_missing || seg.sealed || seg.data_bytes >= opts_.datasize) ? last + 1 : last;
  }
  if (settings_.mode == Mode::kSeq && seq_id_slack_ > 0) {
    // An unknown region may have held ids above the highest one seen: never
    // hand those out again.
    auto* seq = static_cast<SeqKeyIndex*>(index_.get());
    seq->set_next_id(seq->next_id() + seq_id_slack_);
  }
  spdlog::info("namespace {}: loaded {} keys from {} segments ({} bytes of live values)", name_, index_->size(),
               segments_.size(), live_bytes_);
  return Status::OK();
}

// Loads one segment's entries into memory, repairing on the way:
//  - index missing or damaged, data present: rebuild the index from data,
//    trusting the index's valid prefix;
//  - last segment, data shorter or longer than its index covers (power loss
//    between or during the appends): rebuild; a torn tail is cut;
//  - closed segment, data shorter than its index: keep the index, the
//    entries past the end of data answer Corruption;
//  - index damaged, data missing: the valid prefix is used, the rest is an
//    unknown region.
Status Namespace::LoadSegment(uint32_t id, bool last) {
  Segment& seg = segments_[id];
  std::string index;
  bool rebuild = false;
  if (env_->Exists(IndexPath(id))) {
    QS_RETURN_IF_ERROR(ReadIndexFile(id, &index));
  } else {
    rebuild = true;
  }
  // Validate the index file entry by entry; `good` ends at the first bad one.
  size_t good = 0;
  uint64_t covered = kFileHeaderSize;  // data bytes the valid index entries describe
  if (!rebuild) {
    FileHeader h;
    if (!DecodeFileHeader(index, true, &h).ok() || h.segment_id != id) {
      rebuild = true;
    } else {
      good = kFileHeaderSize;
      while (good < index.size()) {
        IndexEntry e;
        if (!DecodeIndexEntry(std::string_view(index).substr(good), &e).ok()) break;
        // Entries follow each other in data; a gap is a region that a
        // rebuild could not read.
        if (e.data_offset < covered) break;
        covered = static_cast<uint64_t>(e.data_offset) + e.length;
        good += IndexEntrySize(e.key.size());
      }
      if (good < index.size()) {
        if (!seg.data_missing) {
          spdlog::warn("namespace {}: index {} damaged at offset {}: rebuilding from data", name_, id, good);
          rebuild = true;
        } else {
          // The file is left as it is: the next start-up sees the same.
          spdlog::error("namespace {}: index {} damaged at offset {} and its data is not local: using {} bytes",
                        name_, id, good, good);
          index.resize(good);
          NoteUnknownRegion(id, covered, std::max<uint64_t>(opts_.datasize, covered) - covered + 1);
        }
      }
    }
  }
  if (rebuild) {
    if (seg.data_missing) {
      spdlog::error("namespace {}: segment {} has neither a usable index nor data; skipped", name_, id);
      NoteUnknownRegion(id, kFileHeaderSize, opts_.datasize);
      segments_.erase(id);
      return Status::OK();
    }
    index.resize(good);
    std::string trusted = std::move(index);
    QS_RETURN_IF_ERROR(RebuildIndex(id, last, std::move(trusted), &index));
  } else if (!seg.data_missing) {
    auto dsize = env_->FileSize(DataPath(id));
    if (!dsize.ok()) return dsize.status();
    if (*dsize < covered && !last) {
      // A closed segment was synced when it was closed: missing bytes are
      // damage, not a lost unsynced tail. The index still names the keys.
      spdlog::error("namespace {}: closed data segment {} is {} bytes but its index covers {}: the entries past "
                    "its end answer Corruption",
                    name_, id, *dsize, covered);
      seg.damaged = true;
    } else if (*dsize != covered) {
      // Shorter: a lost unsynced data tail (the index reached the disk
      // first); longer: entries whose index entries were lost.
      spdlog::warn("namespace {}: data {} is {} bytes and its index covers {}: rebuilding", name_, id, *dsize,
                   covered);
      std::string trusted = std::move(index);
      QS_RETURN_IF_ERROR(RebuildIndex(id, last, std::move(trusted), &index));
    }
  }
  seg.index_bytes = index.size();
  disk_index_bytes_ += seg.index_bytes;
  if (!seg.data_missing) {
    auto dsize = env_->FileSize(DataPath(id));
    seg.data_bytes = dsize.ok() ? *dsize : 0;
  } else {
    seg.data_bytes = 0;
  }
  size_t pos = kFileHeaderSize;
  uint64_t expect = kFileHeaderSize;  // where the next entry should start in data
  while (pos < index.size()) {
    IndexEntry e;
    if (!DecodeIndexEntry(std::string_view(index).substr(pos), &e).ok()) break;
    if (e.data_offset > expect) NoteUnknownRegion(id, expect, e.data_offset - expect);
    expect = static_cast<uint64_t>(e.data_offset) + e.length;
    if (seg.data_missing) seg.data_bytes = expect;
    ApplyIndexEntry(id, e);
    if (seg.first_write == 0) seg.first_write = e.timestamp;
    pos += IndexEntrySize(e.key.size());
  }
  disk_data_bytes_ += seg.data_bytes;
  return Status::OK();
}

// The walk starts at offset 32 and moves only by lengths a checksum vouches
// for: a valid data entry's own, or that of a valid index entry of
// `trusted` at the same offset. It never searches the bytes for something
// that looks like an entry, so bytes inside values are never taken for
// entries. At damage:
//  - an entry that `trusted` names is kept in the index as it was (its key
//    is known; reading it answers Corruption);
//  - otherwise the bytes up to the next offset `trusted` names are an
//    unknown region (a gap in the new index), or up to the end of file;
//  - in the last segment, an unknown region reaching the end of file that
//    looks like a torn append (shorter than an entry header, zeros, or an
//    entry running past the end) is cut.
Status Namespace::RebuildIndex(uint32_t id, bool last, std::string trusted, std::string* index_out) {
  auto rf = env_->OpenRead(DataPath(id));
  if (!rf.ok()) return rf.status();
  auto size_r = env_->FileSize(DataPath(id));
  if (!size_r.ok()) return size_r.status();
  uint64_t size = *size_r;
  std::string out = EncodeFileHeader(FileHeader{true, id, NowSeconds()});
  std::string buf(kFileHeaderSize, '\0');
  std::string_view got;
  QS_RETURN_IF_ERROR((*rf)->Read(0, kFileHeaderSize, buf.data(), &got));
  FileHeader h;
  if (size < kFileHeaderSize || !DecodeFileHeader(got, false, &h).ok()) {
    if (last && size < kFileHeaderSize) {
      // Empty or torn header (e.g. a rotation that hit ENOSPC): both files
      // go back to 0 bytes and the headers are written with the first
      // write (OpenHead). Truncating needs no free space, so this works on
      // a full disk.
      if (size > 0) spdlog::warn("namespace {}: data {} has a torn header: resetting it", name_, id);
      QS_RETURN_IF_ERROR(env_->Truncate(DataPath(id), 0));
      if (env_->Exists(IndexPath(id))) QS_RETURN_IF_ERROR(env_->Truncate(IndexPath(id), 0));
      index_out->clear();
      return Status::OK();
    }
    // Entries still start at offset 32 by format and carry their own crc.
    spdlog::error("namespace {}: data {} has a bad header; reading its entries anyway", name_, id);
  }
  // Offsets and entries the trusted index prefix vouches for, in order.
  std::vector<IndexEntry> known;
  for (size_t p = kFileHeaderSize; p < trusted.size();) {
    IndexEntry e;
    if (!DecodeIndexEntry(std::string_view(trusted).substr(p), &e).ok()) break;
    known.push_back(e);
    p += IndexEntrySize(e.key.size());
  }
  // Reads go through a window buffer: a rebuild reads the segment once.
  std::string window;
  uint64_t window_start = 0;
  auto read_at = [&](uint64_t off, size_t n, std::string_view* view) -> Status {
    if (off < window_start || off + n > window_start + window.size()) {
      window.resize(std::max<size_t>(n, size_t{1} << 20));
      std::string_view g;
      QS_RETURN_IF_ERROR((*rf)->Read(off, window.size(), window.data(), &g));
      window.resize(g.size());
      window_start = off;
    }
    *view = std::string_view(window).substr(off - window_start, n);
    return Status::OK();
  };
  // A tail from off to the end of file that a torn append would leave.
  auto looks_torn = [&](uint64_t off) -> Status {
    for (const IndexEntry& k : known) {
      // The index names a complete entry after it: more than a torn append.
      if (k.data_offset > off && k.data_offset + static_cast<uint64_t>(k.length) <= size)
        return Status::Corruption("entries follow");
    }
    std::string_view v;
    QS_RETURN_IF_ERROR(read_at(off, size - off, &v));
    if (v.size() < kDataEntryHeaderSize) return Status::OK();
    if (std::all_of(v.begin(), v.end(), [](char c) { return c == 0; })) return Status::OK();
    DataEntry e;
    size_t total = 0;
    if (DecodeDataHeader(v, &e, &total).ok() && off + total > size) return Status::OK();
    return Status::Corruption("not a torn append");
  };
  size_t k = 0;  // first known entry not before pos
  uint64_t pos = kFileHeaderSize;
  while (pos < size) {
    while (k < known.size() && known[k].data_offset < pos) ++k;
    const IndexEntry* here = k < known.size() && known[k].data_offset == pos ? &known[k] : nullptr;
    DataEntry e;
    size_t total = 0;
    std::string_view v;
    bool valid = false;
    if (size - pos >= kDataEntryHeaderSize) {
      QS_RETURN_IF_ERROR(read_at(pos, kDataEntryHeaderSize, &v));
      if (DecodeDataHeader(v, &e, &total).ok() && pos + total <= size) {
        QS_RETURN_IF_ERROR(read_at(pos, total, &v));
        valid = DecodeDataEntry(v, &e).ok() && (here == nullptr || (here->length == total && here->data_crc == e.crc));
      }
    }
    if (valid) {
      IndexEntry ie;
      ie.flags = e.flags;
      ie.data_offset = static_cast<uint32_t>(pos);
      ie.length = static_cast<uint32_t>(total);
      ie.timestamp = e.timestamp;
      ie.data_crc = e.crc;
      ie.key = e.key;
      EncodeIndexEntry(ie, &out);
      pos += total;
      continue;
    }
    if (here != nullptr && pos + here->length <= size) {
      // The index knows whose entry this is: keep it; reading answers Corruption.
      spdlog::error("namespace {}: data {} entry at offset {} is damaged (key known from the index)", name_, id, pos);
      ++corrupt_entries_;
      EncodeIndexEntry(*here, &out);
      pos += here->length;
      continue;
    }
    if (last && looks_torn(pos).ok()) {
      spdlog::warn("namespace {}: cutting torn tail of data {}: {} bytes at offset {}", name_, id, size - pos, pos);
      QS_RETURN_IF_ERROR(env_->Truncate(DataPath(id), pos));
      break;
    }
    ++corrupt_entries_;
    uint64_t next = size;
    for (size_t j = k; j < known.size(); ++j) {
      if (known[j].data_offset > pos && known[j].data_offset + static_cast<uint64_t>(known[j].length) <= size) {
        next = known[j].data_offset;
        break;
      }
    }
    if (next == size) {
      // Nothing trustworthy follows: the rest of the segment is unknown.
      // The bytes stay; a later start-up finds the same.
      NoteUnknownRegion(id, pos, size - pos);
      segments_[id].sealed = true;
      break;
    }
    spdlog::error("namespace {}: data {} damaged at offset {}: resuming at offset {} named by the index", name_, id,
                  pos, next);
    pos = next;  // the gap in the new index marks the unknown region
  }
  if (last && out.size() == kFileHeaderSize && !segments_[id].sealed) {
    // A last segment without entries (e.g. its index header hit ENOSPC):
    // both files go back to 0 bytes, the first write makes the headers.
    QS_RETURN_IF_ERROR(env_->Truncate(DataPath(id), 0));
    if (env_->Exists(IndexPath(id))) QS_RETURN_IF_ERROR(env_->Truncate(IndexPath(id), 0));
    index_out->clear();
    return Status::OK();
  }
  Status w = env_->WriteFileAtomic(IndexPath(id), out);
  if (w.IsNoSpace()) {
    // A full disk must not keep the namespace from opening: the rebuilt
    // index serves from memory, the segment takes no more appends (its
    // index file is not the one in memory), and the next start-up rebuilds
    // it again.
    spdlog::error("namespace {}: cannot write the rebuilt index {}: {}; using it from memory", name_, id,
                  w.ToString());
    Status rm = env_->Remove(IndexPath(id) + ".tmp");
    (void)rm;
    segments_[id].sealed = true;
  } else if (!w.ok()) {
    return w;
  }
  *index_out = std::move(out);
  return Status::OK();
}

void Namespace::ApplyIndexEntry(uint32_t segment, const IndexEntry& e) {
  Location old;
  Segment& seg = segments_[segment];
  if (e.flags & kFlagDeleted) {
    if (index_->Erase(e.key, &old)) {
      MarkDead(old);
      live_bytes_ -= ValueSize(old, e.key.size());
    }
    if (settings_.mode == Mode::kSeq) {
      uint64_t id;
      if (SeqKeyIndex::DecodeId(e.key, &id)) static_cast<SeqKeyIndex*>(index_.get())->set_next_id(id + 1);
    }
    seg.dead_bytes += e.length;
    return;
  }
  Location loc{segment, e.data_offset, e.length};
  if (index_->Put(e.key, loc, &old)) {
    MarkDead(old);
    live_bytes_ -= ValueSize(old, e.key.size());
  }
  live_bytes_ += ValueSize(loc, e.key.size());
}

}  // namespace zdb
