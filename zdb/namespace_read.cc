// Namespace: reads (GET, EXISTS, LENGTH, KEYTIME, CHECK, PROVE), SCAN and
// HISTORY, through cached read handles of the segment files.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/hex.h"
#include "common/zdb_errors.h"
#include "zdb/cursor.h"
#include "zdb/namespace.h"

namespace zdb {

using qs::Result;
using qs::Status;
using qs::ZdbError;
using qs::ZdbErrorReply;

Status Namespace::ReadIndexFile(uint32_t id, std::string* buf) {
  auto r = env_->ReadWholeFile(IndexPath(id));
  if (!r.ok()) return r.status();
  *buf = std::move(r.value());
  return Status::OK();
}

Result<qs::ReadFile*> Namespace::Reader(uint32_t id, bool index_file) {
  auto& cache = index_file ? index_readers_ : readers_;
  auto it = cache.find(id);
  if (it != cache.end()) return it->second.get();
  qs::Result<std::unique_ptr<qs::ReadFile>> f = Status::IOError("unopened");
  if (index_file) {
    f = env_->OpenRead(IndexPath(id));
  } else {
    // Map as much as the segment can ever hold: the head keeps growing into
    // the mapping; anything beyond falls back to pread.
    auto size = env_->FileSize(DataPath(id));
    uint64_t len = std::max<uint64_t>(size.ok() ? *size : 0, opts_.datasize) + (16u << 20);
    f = env_->OpenReadMapped(DataPath(id), len);
  }
  if (!f.ok()) return f.status();
  qs::ReadFile* raw = f->get();
  cache[id] = std::move(f.value());
  return raw;
}

size_t Namespace::DropEvictedReaders() {
  size_t dropped = 0;
  for (auto it = readers_.begin(); it != readers_.end();) {
    if (it->first != head_id_ && !env_->Exists(DataPath(it->first))) {
      it = readers_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

bool Namespace::SegmentMissing(uint32_t id) { return !env_->Exists(DataPath(id)); }

Status Namespace::ReadEntry(const Location& loc, std::string* buf, DataEntry* e, uint32_t* missing_segment) {
  auto r = Reader(loc.segment, false);
  if (!r.ok()) {
    if (r.status().IsNotFound()) {
      if (missing_segment != nullptr) *missing_segment = loc.segment;
      return Status::Unavailable("data segment " + std::to_string(loc.segment) + " is not available locally");
    }
    return r.status();
  }
  auto seg = segments_.find(loc.segment);
  if (seg != segments_.end() && !seg->second.data_missing &&
      static_cast<uint64_t>(loc.offset) + loc.length > seg->second.data_bytes) {
    ++corrupt_entries_;
    return Status::Corruption("data entry lies past the end of segment " + std::to_string(loc.segment) +
                              " (offset " + std::to_string(loc.offset) + ")");
  }
  buf->resize(loc.length);
  std::string_view got;
  QS_RETURN_IF_ERROR((*r)->Read(loc.offset, loc.length, buf->data(), &got));
  if (got.size() != loc.length) {
    return Status::Corruption("data entry truncated in segment " + std::to_string(loc.segment));
  }
  Status s = DecodeDataEntry(got, e);
  if (!s.ok()) {
    ++corrupt_entries_;
    return Status::Corruption(s.message() + " (segment " + std::to_string(loc.segment) + ", offset " +
                              std::to_string(loc.offset) + ")");
  }
  return Status::OK();
}

Status Namespace::GetView(std::string_view key, std::string_view* value, uint32_t* missing_segment) {
  Location loc;
  QS_RETURN_IF_ERROR(Current(key, &loc));
  DataEntry e;
  QS_RETURN_IF_ERROR(ReadEntry(loc, &read_buf_, &e, missing_segment));
  if (e.key != key || (e.flags & kFlagDeleted)) return Status::Corruption("index points at another entry");
  *value = e.value;
  return Status::OK();
}

Status Namespace::Get(std::string_view key, std::string* value, uint32_t* missing_segment) {
  std::string_view v;
  QS_RETURN_IF_ERROR(GetView(key, &v, missing_segment));
  value->assign(v);
  return Status::OK();
}

bool Namespace::Exists(std::string_view key) const {
  Location loc;
  return index_->Find(key, &loc);
}

Status Namespace::Stat(std::string_view key, KeyInfo* info) {
  Location loc;
  QS_RETURN_IF_ERROR(Current(key, &loc));
  info->value_size = static_cast<uint32_t>(ValueSize(loc, key.size()));
  auto r = Reader(loc.segment, false);
  info->timestamp = 0;
  if (r.ok()) {
    char hdr[kDataEntryHeaderSize];
    std::string_view got;
    if ((*r)->Read(loc.offset, sizeof(hdr), hdr, &got).ok() && got.size() == sizeof(hdr)) {
      info->timestamp = qs::DecodeFixed64(hdr + 10);
    }
  }
  return Status::OK();
}

Status Namespace::Check(std::string_view key) {
  Location loc;
  QS_RETURN_IF_ERROR(Current(key, &loc));
  std::string buf;
  DataEntry e;
  return ReadEntry(loc, &buf, &e, nullptr);
}

Status Namespace::Prove(std::string_view key, std::string_view nonce, std::string* proof_hex) {
  std::string value;
  QS_RETURN_IF_ERROR(Get(key, &value));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (HMAC(EVP_sha256(), nonce.data(), static_cast<int>(nonce.size()),
           reinterpret_cast<const unsigned char*>(value.data()), value.size(), md, &md_len) == nullptr) {
    return Status::IOError("HMAC failed");
  }
  *proof_hex = qs::HexEncode(std::string_view(reinterpret_cast<const char*>(md), md_len));
  return Status::OK();
}

// ---- scanning ----

Status Namespace::Scan(std::string_view cursor, bool reverse, size_t max_items, std::vector<ScanItem>* items,
                       std::string* next) {
  items->clear();
  uint32_t seg_id = 0, pos = 0;
  bool from_start = cursor.empty();
  if (!from_start && !DecodeCursor(cursor, &seg_id, &pos)) return Status::InvalidArgument(ZdbErrorReply(ZdbError::kInvalidKeyFormat));
  if (segments_.empty()) return Status::NotFound(ZdbErrorReply(ZdbError::kNoMoreData));
  // Segments in walk order starting at the cursor's segment.
  std::vector<uint32_t> order;
  for (auto& [id, s] : segments_) {
    if (from_start || (reverse ? id <= seg_id : id >= seg_id)) order.push_back(id);
  }
  if (reverse) std::reverse(order.begin(), order.end());
  std::string index;
  for (uint32_t id : order) {
    if (!env_->Exists(IndexPath(id))) continue;
    QS_RETURN_IF_ERROR(ReadIndexFile(id, &index));
    // Entries are variable-sized and chained forward: a forward walk starts
    // at the cursor's own entry (O(reply), not O(segment) per call); a
    // reverse one lists the entries before it first.
    const bool same_seg = !from_start && id == seg_id;
    // Adds the live entry at off (past the cursor); true once the reply is full.
    auto visit = [&](uint32_t off) {
      if (same_seg && (reverse ? off >= pos : off <= pos)) return false;
      IndexEntry e;
      if (!DecodeIndexEntry(std::string_view(index).substr(off), &e).ok()) return false;
      if (e.flags & kFlagDeleted) return false;
      Location loc;
      if (!index_->Find(e.key, &loc) || loc.segment != id || loc.offset != e.data_offset) return false;
      items->push_back(ScanItem{std::string(e.key), static_cast<uint32_t>(ValueSize(loc, e.key.size())), e.timestamp});
      *next = EncodeCursor(id, off);
      return items->size() >= max_items;
    };
    size_t first = kFileHeaderSize;
    if (!reverse && same_seg && pos >= kFileHeaderSize && pos < index.size()) {
      IndexEntry at;
      if (DecodeIndexEntry(std::string_view(index).substr(pos), &at).ok()) first = pos;
    }
    std::vector<uint32_t> offsets;  // reverse only
    for (size_t p = first; p < index.size();) {
      IndexEntry e;
      if (!DecodeIndexEntry(std::string_view(index).substr(p), &e).ok()) break;
      const auto off = static_cast<uint32_t>(p);
      p += IndexEntrySize(e.key.size());
      if (reverse) offsets.push_back(off);
      else if (visit(off)) return Status::OK();
    }
    for (auto it = offsets.rbegin(); it != offsets.rend(); ++it) {
      if (visit(*it)) return Status::OK();
    }
  }
  if (items->empty()) return Status::NotFound(ZdbErrorReply(ZdbError::kNoMoreData));
  return Status::OK();
}

Status Namespace::KeyCursor(std::string_view key, std::string* cursor) {
  Location loc;
  if (!index_->Find(key, &loc)) return Status::NotFound(ZdbErrorReply(ZdbError::kKeyNotFound));
  std::string index;
  QS_RETURN_IF_ERROR(ReadIndexFile(loc.segment, &index));
  for (size_t p = kFileHeaderSize; p < index.size();) {
    IndexEntry e;
    if (!DecodeIndexEntry(std::string_view(index).substr(p), &e).ok()) break;
    if (e.data_offset == loc.offset) {
      *cursor = EncodeCursor(loc.segment, static_cast<uint32_t>(p));
      return Status::OK();
    }
    p += IndexEntrySize(e.key.size());
  }
  return Status::Corruption("key's index entry not found");
}

Status Namespace::History(std::string_view key, std::string_view cursor, HistoryItem* item) {
  Location loc;
  if (cursor.empty()) {
    Status s = Current(key, &loc);
    if (s.IsNotFound()) return Status::NotFound(ZdbErrorReply(ZdbError::kKeyNotFound));
    QS_RETURN_IF_ERROR(s);
  } else {
    uint32_t seg, off;
    if (!DecodeCursor(cursor, &seg, &off)) return Status::InvalidArgument(ZdbErrorReply(ZdbError::kInvalidArguments));
    auto r = Reader(seg, false);
    if (!r.ok()) return Status::InvalidArgument(ZdbErrorReply(ZdbError::kIndexQuery));
    char hdr[kDataEntryHeaderSize];
    std::string_view got;
    DataEntry h;
    size_t total = 0;
    if (!(*r)->Read(off, sizeof(hdr), hdr, &got).ok() || got.size() != sizeof(hdr) ||
        !DecodeDataHeader(got, &h, &total).ok()) {
      return Status::InvalidArgument(ZdbErrorReply(ZdbError::kIndexQuery));
    }
    loc = Location{seg, off, static_cast<uint32_t>(total)};
  }
  std::string buf;
  DataEntry e;
  QS_RETURN_IF_ERROR(ReadEntry(loc, &buf, &e, nullptr));
  if (e.key != key) return Status::InvalidArgument(ZdbErrorReply(ZdbError::kHistoryKeyMismatch));
  item->parent_cursor.clear();
  if (e.prev_segment != kNoSegment && segments_.count(e.prev_segment)) {
    item->parent_cursor = EncodeCursor(e.prev_segment, e.prev_offset);
  }
  item->timestamp = e.timestamp;
  item->value.assign(e.value);
  item->deleted = e.flags & kFlagDeleted;
  return Status::OK();
}

}  // namespace zdb
