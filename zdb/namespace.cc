#include "zdb/namespace.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/hex.h"
#include "common/zdb_errors.h"

namespace zdb {

using qs::Result;
using qs::Status;

namespace {

constexpr char kSettingsMagic[8] = {'Z', 'D', 'B', 'N', 'S', '0', '0', '1'};

uint64_t NowSeconds() { return static_cast<uint64_t>(std::time(nullptr)); }

std::string EncodeCursor(uint32_t a, uint32_t b) {
  std::string c(8, '\0');
  qs::EncodeFixed32(c.data(), a);
  qs::EncodeFixed32(c.data() + 4, b);
  return c;
}

bool DecodeCursor(std::string_view c, uint32_t* a, uint32_t* b) {
  if (c.size() != 8) return false;
  *a = qs::DecodeFixed32(c.data());
  *b = qs::DecodeFixed32(c.data() + 4);
  return true;
}

size_t ValueSize(const Location& loc, size_t key_len) {
  return loc.length - kDataEntryHeaderSize - key_len;
}

}  // namespace

// Descriptor layout (docs/zdb-format.md, "Namespace descriptor").
std::string EncodeSettings(std::string_view name, const NamespaceSettings& s) {
  std::string out(kSettingsMagic, 8);
  qs::PutFixed32(&out, kFormatVersion);
  out.push_back(static_cast<char>(s.mode));
  out.push_back(static_cast<char>((s.is_public ? 1 : 0) | (s.worm ? 2 : 0) | (s.locked ? 4 : 0) | (s.frozen ? 8 : 0)));
  out.append(2, '\0');
  qs::PutFixed64(&out, s.maxsize);
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  out.push_back(static_cast<char>(s.password.size()));
  out.append(s.password);
  if (s.fence != 0) qs::PutFixed64(&out, s.fence);  // absent when 0: older zdbs read it
  qs::PutFixed32(&out, qs::Crc32c(out));
  return out;
}

Status DecodeSettings(std::string_view buf, std::string* name, NamespaceSettings* s) {
  if (buf.size() < 30 || std::memcmp(buf.data(), kSettingsMagic, 8) != 0)
    return Status::Corruption("namespace descriptor: bad magic or size");
  if (qs::Crc32c(buf.substr(0, buf.size() - 4)) != qs::DecodeFixed32(buf.data() + buf.size() - 4))
    return Status::Corruption("namespace descriptor: checksum mismatch");
  if (qs::DecodeFixed32(buf.data() + 8) != kFormatVersion)
    return Status::Corruption("namespace descriptor: unsupported version");
  uint8_t mode = static_cast<uint8_t>(buf[12]);
  uint8_t flags = static_cast<uint8_t>(buf[13]);
  if (mode > 1) return Status::Corruption("namespace descriptor: bad mode");
  s->mode = static_cast<Mode>(mode);
  s->is_public = flags & 1;
  s->worm = flags & 2;
  s->locked = flags & 4;
  s->frozen = flags & 8;
  s->maxsize = qs::DecodeFixed64(buf.data() + 16);
  size_t pos = 24;
  size_t nlen = static_cast<uint8_t>(buf[pos++]);
  if (pos + nlen + 1 + 4 > buf.size()) return Status::Corruption("namespace descriptor: truncated");
  name->assign(buf.substr(pos, nlen));
  pos += nlen;
  size_t plen = static_cast<uint8_t>(buf[pos++]);
  size_t rest = buf.size() - 4 - std::min(buf.size() - 4, pos + plen);  // bytes after the password
  if (pos + plen + 4 > buf.size() || (rest != 0 && rest != 8))
    return Status::Corruption("namespace descriptor: truncated");
  s->password.assign(buf.substr(pos, plen));
  s->fence = rest == 8 ? qs::DecodeFixed64(buf.data() + pos + plen) : 0;
  return Status::OK();
}

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
  if (mode_change && ever_written_) return Status::InvalidArgument(qs::ZdbErrorReply(qs::ZdbError::kCannotChangeMode));
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

Status Namespace::ReadIndexFile(uint32_t id, std::string* buf) {
  auto r = env_->ReadWholeFile(IndexPath(id));
  if (!r.ok()) return r.status();
  *buf = std::move(r.value());
  return Status::OK();
}

void Namespace::MarkDead(const Location& old) {
  auto it = segments_.find(old.segment);
  if (it != segments_.end()) it->second.dead_bytes += old.length;
}

// ---- writing ----

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
      if (!exists) return Status::NotFound(qs::ZdbErrorReply(qs::ZdbError::kOnlyUpdate));
    }
  } else {
    if (key.empty()) return Status::InvalidArgument(qs::ZdbErrorReply(qs::ZdbError::kKeyNeeded));
    exists = index_->Find(key, &old);
  }
  if (key.size() > kMaxKeySize) return Status::InvalidArgument(qs::ZdbErrorReply(qs::ZdbError::kKeyTooLarge));
  if (exists && settings_.worm) return Status::PermissionDenied(qs::ZdbErrorReply(qs::ZdbError::kWormOverwrite));
  size_t old_value = exists ? ValueSize(old, key.size()) : 0;
  if (settings_.maxsize > 0 && live_bytes_ + value.size() > settings_.maxsize + old_value)
    return Status::LimitExceeded(qs::ZdbErrorReply(qs::ZdbError::kNamespaceFull));
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
  if (!index_->Find(key, &old)) return Status::NotFound(qs::ZdbErrorReply(qs::ZdbError::kKeyNotFound));
  if (settings_.worm) return Status::PermissionDenied(qs::ZdbErrorReply(qs::ZdbError::kWormDelete));
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

// ---- reading ----

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
  if (!from_start && !DecodeCursor(cursor, &seg_id, &pos)) return Status::InvalidArgument(qs::ZdbErrorReply(qs::ZdbError::kInvalidKeyFormat));
  if (segments_.empty()) return Status::NotFound(qs::ZdbErrorReply(qs::ZdbError::kNoMoreData));
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
  if (items->empty()) return Status::NotFound(qs::ZdbErrorReply(qs::ZdbError::kNoMoreData));
  return Status::OK();
}

Status Namespace::KeyCursor(std::string_view key, std::string* cursor) {
  Location loc;
  if (!index_->Find(key, &loc)) return Status::NotFound(qs::ZdbErrorReply(qs::ZdbError::kKeyNotFound));
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
    if (s.IsNotFound()) return Status::NotFound(qs::ZdbErrorReply(qs::ZdbError::kKeyNotFound));
    QS_RETURN_IF_ERROR(s);
  } else {
    uint32_t seg, off;
    if (!DecodeCursor(cursor, &seg, &off)) return Status::InvalidArgument(qs::ZdbErrorReply(qs::ZdbError::kInvalidArguments));
    auto r = Reader(seg, false);
    if (!r.ok()) return Status::InvalidArgument(qs::ZdbErrorReply(qs::ZdbError::kIndexQuery));
    char hdr[kDataEntryHeaderSize];
    std::string_view got;
    DataEntry h;
    size_t total = 0;
    if (!(*r)->Read(off, sizeof(hdr), hdr, &got).ok() || got.size() != sizeof(hdr) ||
        !DecodeDataHeader(got, &h, &total).ok()) {
      return Status::InvalidArgument(qs::ZdbErrorReply(qs::ZdbError::kIndexQuery));
    }
    loc = Location{seg, off, static_cast<uint32_t>(total)};
  }
  std::string buf;
  DataEntry e;
  QS_RETURN_IF_ERROR(ReadEntry(loc, &buf, &e, nullptr));
  if (e.key != key) return Status::InvalidArgument(qs::ZdbErrorReply(qs::ZdbError::kHistoryKeyMismatch));
  item->parent_cursor.clear();
  if (e.prev_segment != kNoSegment && segments_.count(e.prev_segment)) {
    item->parent_cursor = EncodeCursor(e.prev_segment, e.prev_offset);
  }
  item->timestamp = e.timestamp;
  item->value.assign(e.value);
  item->deleted = e.flags & kFlagDeleted;
  return Status::OK();
}

// ---- maintenance ----

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
