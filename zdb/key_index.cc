#include "zdb/key_index.h"

#include <cstring>
#include <functional>

#include "common/coding.h"

namespace zdb {

namespace {
constexpr uint32_t kUnused = 0xFFFFFFFFu;
}

// ---- SeqKeyIndex ----

bool SeqKeyIndex::DecodeId(std::string_view key, uint64_t* id) {
  if (key.size() != 8) return false;
  *id = qs::DecodeFixed64(key.data());
  return true;
}

std::string SeqKeyIndex::EncodeId(uint64_t id) {
  std::string s(8, '\0');
  qs::EncodeFixed64(s.data(), id);
  return s;
}

SeqKeyIndex::Slot* SeqKeyIndex::SlotFor(uint64_t id, bool create) {
  uint64_t c = id >> kChunkBits;
  if (c >= chunks_.size()) {
    if (!create) return nullptr;
    while (chunks_.size() <= c) {
      auto chunk = std::make_unique<Slot[]>(size_t{1} << kChunkBits);
      for (size_t i = 0; i < (size_t{1} << kChunkBits); ++i) chunk[i] = Slot{kUnused, 0, 0};
      chunks_.push_back(std::move(chunk));
    }
  }
  return &chunks_[c][id & ((uint64_t{1} << kChunkBits) - 1)];
}

const SeqKeyIndex::Slot* SeqKeyIndex::SlotFor(uint64_t id) const {
  uint64_t c = id >> kChunkBits;
  if (c >= chunks_.size()) return nullptr;
  return &chunks_[c][id & ((uint64_t{1} << kChunkBits) - 1)];
}

bool SeqKeyIndex::Find(std::string_view key, Location* loc) const {
  uint64_t id;
  if (!DecodeId(key, &id)) return false;
  const Slot* s = SlotFor(id);
  if (s == nullptr || s->segment == kUnused) return false;
  *loc = Location{s->segment, s->offset, s->length};
  return true;
}

bool SeqKeyIndex::Put(std::string_view key, const Location& loc, Location* old) {
  uint64_t id;
  if (!DecodeId(key, &id)) return false;
  Slot* s = SlotFor(id, true);
  bool existed = s->segment != kUnused;
  if (existed && old != nullptr) *old = Location{s->segment, s->offset, s->length};
  if (!existed) ++live_;
  *s = Slot{loc.segment, loc.offset, loc.length};
  if (id + 1 > next_id_) next_id_ = id + 1;
  return existed;
}

bool SeqKeyIndex::Erase(std::string_view key, Location* old) {
  uint64_t id;
  if (!DecodeId(key, &id)) return false;
  if (id + 1 > next_id_) next_id_ = id + 1;  // a deleted id is never handed out again
  Slot* s = SlotFor(id, false);
  if (s == nullptr || s->segment == kUnused) return false;
  if (old != nullptr) *old = Location{s->segment, s->offset, s->length};
  *s = Slot{kUnused, 0, 0};
  --live_;
  return true;
}

size_t SeqKeyIndex::MemoryUsage() const {
  return chunks_.size() * (sizeof(Slot) << kChunkBits) + chunks_.capacity() * sizeof(void*);
}

void SeqKeyIndex::Clear() {
  chunks_.clear();
  chunks_.shrink_to_fit();
  next_id_ = 0;
  live_ = 0;
}

// ---- UserKeyIndex ----
// Arena record: segment(4) offset(4) length(4) key length(1) key.

UserKeyIndex::UserKeyIndex() { slots_.assign(1024, 0); }

static uint64_t HashKey(std::string_view key) {
  // libstdc++'s string hash is MurmurHash-based; mix once more so that both
  // the low bits (slot) and the high bits (tag) are well spread.
  uint64_t h = std::hash<std::string_view>{}(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

char* UserKeyIndex::RecordAt(uint64_t ref) const {
  return blocks_[ref >> kBlockBits].get() + (ref & (kBlockSize - 1));
}

uint64_t UserKeyIndex::AppendRecord(std::string_view key, const Location& loc) {
  size_t need = kRecordHeader + key.size();
  if (block_used_ + need > kBlockSize) {
    blocks_.push_back(std::make_unique<char[]>(kBlockSize));
    block_used_ = 0;
  }
  uint64_t ref = (static_cast<uint64_t>(blocks_.size() - 1) << kBlockBits) | block_used_;
  char* p = blocks_.back().get() + block_used_;
  qs::EncodeFixed32(p, loc.segment);
  qs::EncodeFixed32(p + 4, loc.offset);
  qs::EncodeFixed32(p + 8, loc.length);
  p[12] = static_cast<char>(key.size());
  std::memcpy(p + kRecordHeader, key.data(), key.size());
  block_used_ += need;
  arena_bytes_ += need;
  return ref;
}

size_t UserKeyIndex::Probe(std::string_view key, uint64_t hash, bool* found) const {
  size_t mask = slots_.size() - 1;
  uint64_t tag = hash >> 40;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint64_t s = slots_[i];
    if (s == 0) {
      *found = false;
      return i;
    }
    if ((s >> 40) == tag) {
      const char* r = RecordAt((s & kRefMask) - 1);
      size_t klen = static_cast<uint8_t>(r[12]);
      if (klen == key.size() && std::memcmp(r + kRecordHeader, key.data(), klen) == 0) {
        *found = true;
        return i;
      }
    }
  }
}

bool UserKeyIndex::Find(std::string_view key, Location* loc) const {
  bool found;
  size_t i = Probe(key, HashKey(key), &found);
  if (!found) return false;
  const char* r = RecordAt((slots_[i] & kRefMask) - 1);
  *loc = Location{qs::DecodeFixed32(r), qs::DecodeFixed32(r + 4), qs::DecodeFixed32(r + 8)};
  return true;
}

bool UserKeyIndex::Put(std::string_view key, const Location& loc, Location* old) {
  uint64_t h = HashKey(key);
  bool found;
  size_t i = Probe(key, h, &found);
  if (found) {
    char* r = RecordAt((slots_[i] & kRefMask) - 1);
    if (old != nullptr) *old = Location{qs::DecodeFixed32(r), qs::DecodeFixed32(r + 4), qs::DecodeFixed32(r + 8)};
    qs::EncodeFixed32(r, loc.segment);  // fixed-size fields: update in place
    qs::EncodeFixed32(r + 4, loc.offset);
    qs::EncodeFixed32(r + 8, loc.length);
    return true;
  }
  if ((count_ + 1) * 5 > slots_.size() * 4) {
    Grow();
    i = Probe(key, h, &found);
  }
  uint64_t ref = AppendRecord(key, loc);
  slots_[i] = ((h >> 40) << 40) | (ref + 1);
  ++count_;
  return false;
}

bool UserKeyIndex::Erase(std::string_view key, Location* old) {
  bool found;
  size_t i = Probe(key, HashKey(key), &found);
  if (!found) return false;
  const char* r = RecordAt((slots_[i] & kRefMask) - 1);
  if (old != nullptr) *old = Location{qs::DecodeFixed32(r), qs::DecodeFixed32(r + 4), qs::DecodeFixed32(r + 8)};
  garbage_ += kRecordHeader + static_cast<uint8_t>(r[12]);
  // Backward-shift deletion keeps probe chains intact without tombstones.
  size_t mask = slots_.size() - 1;
  size_t hole = i;
  for (size_t j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    const char* rj = RecordAt((slots_[j] & kRefMask) - 1);
    size_t home = HashKey(std::string_view(rj + kRecordHeader, static_cast<uint8_t>(rj[12]))) & mask;
    // Move j into the hole when its home is not in the cyclic range (hole, j].
    bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!in_range) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
  --count_;
  if (garbage_ > (size_t{64} << 20) && garbage_ * 2 > arena_bytes_) CompactArena();
  return true;
}

void UserKeyIndex::Grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, 0);
  size_t mask = slots_.size() - 1;
  for (uint64_t s : old) {
    if (s == 0) continue;
    const char* r = RecordAt((s & kRefMask) - 1);
    uint64_t h = HashKey(std::string_view(r + kRecordHeader, static_cast<uint8_t>(r[12])));
    size_t i = h & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void UserKeyIndex::CompactArena() {
  std::vector<std::unique_ptr<char[]>> old_blocks;
  old_blocks.swap(blocks_);
  block_used_ = kBlockSize;
  arena_bytes_ = 0;
  garbage_ = 0;
  for (uint64_t& s : slots_) {
    if (s == 0) continue;
    uint64_t ref = (s & kRefMask) - 1;
    const char* r = old_blocks[ref >> kBlockBits].get() + (ref & (kBlockSize - 1));
    std::string_view key(r + kRecordHeader, static_cast<uint8_t>(r[12]));
    Location loc{qs::DecodeFixed32(r), qs::DecodeFixed32(r + 4), qs::DecodeFixed32(r + 8)};
    uint64_t nref = AppendRecord(key, loc);
    s = (s & ~kRefMask) | (nref + 1);
  }
}

size_t UserKeyIndex::MemoryUsage() const {
  return slots_.capacity() * sizeof(uint64_t) + blocks_.size() * kBlockSize + blocks_.capacity() * sizeof(void*);
}

void UserKeyIndex::Clear() {
  slots_.assign(1024, 0);
  slots_.shrink_to_fit();
  blocks_.clear();
  blocks_.shrink_to_fit();
  block_used_ = kBlockSize;
  count_ = garbage_ = arena_bytes_ = 0;
}

}  // namespace zdb
