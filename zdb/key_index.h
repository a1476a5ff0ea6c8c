// The in-memory index of a namespace: key -> location of its newest data
// entry. Two layouts, chosen by namespace mode, to stay small:
//   SeqKeyIndex   sequential mode, 12 bytes per id (chunked array)
//   UserKeyIndex  user mode, ~13 bytes + key in an arena plus an 8-byte slot
//                 in an open-addressing table (load factor <= 0.8)
// Neither is thread-safe; the owning namespace serializes access.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "zdb/format.h"

namespace zdb {

struct Location {
  uint32_t segment = 0;
  uint32_t offset = 0;   // of the data entry in its segment
  uint32_t length = 0;   // whole data entry size
  bool operator==(const Location& o) const {
    return segment == o.segment && offset == o.offset && length == o.length;
  }
};

// Bytes of the value in the data entry at loc, whose key is key_len bytes.
inline size_t ValueSize(const Location& loc, size_t key_len) {
  return loc.length - kDataEntryHeaderSize - key_len;
}

class KeyIndex {
 public:
  virtual ~KeyIndex() = default;
  virtual bool Find(std::string_view key, Location* loc) const = 0;
  // Inserts or replaces; sets *old and returns true when the key was present.
  virtual bool Put(std::string_view key, const Location& loc, Location* old) = 0;
  virtual bool Erase(std::string_view key, Location* old) = 0;
  virtual uint64_t size() const = 0;          // live keys
  virtual size_t MemoryUsage() const = 0;     // bytes held
  virtual void Clear() = 0;
};

// Keys are 8-byte little-endian ids; ids are dense from 0.
class SeqKeyIndex final : public KeyIndex {
 public:
  static constexpr size_t kChunkBits = 16;  // 65536 ids a chunk
  bool Find(std::string_view key, Location* loc) const override;
  bool Put(std::string_view key, const Location& loc, Location* old) override;
  bool Erase(std::string_view key, Location* old) override;
  uint64_t size() const override { return live_; }
  size_t MemoryUsage() const override;
  void Clear() override;

  uint64_t next_id() const { return next_id_; }  // one past the highest id seen
  void set_next_id(uint64_t id) { if (id > next_id_) next_id_ = id; }
  static bool DecodeId(std::string_view key, uint64_t* id);
  static std::string EncodeId(uint64_t id);

 private:
  struct Slot {
    uint32_t segment, offset, length;
  };
  Slot* SlotFor(uint64_t id, bool create);
  const Slot* SlotFor(uint64_t id) const;
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  uint64_t next_id_ = 0;
  uint64_t live_ = 0;
};

class UserKeyIndex final : public KeyIndex {
 public:
  UserKeyIndex();
  bool Find(std::string_view key, Location* loc) const override;
  bool Put(std::string_view key, const Location& loc, Location* old) override;
  bool Erase(std::string_view key, Location* old) override;
  uint64_t size() const override { return count_; }
  size_t MemoryUsage() const override;
  void Clear() override;

 private:
  static constexpr size_t kBlockBits = 20;  // 1 MiB arena blocks
  static constexpr size_t kBlockSize = size_t{1} << kBlockBits;
  static constexpr uint64_t kRefMask = (uint64_t{1} << 40) - 1;
  static constexpr size_t kRecordHeader = 13;  // segment, offset, length, key length

  char* RecordAt(uint64_t ref) const;
  uint64_t AppendRecord(std::string_view key, const Location& loc);
  // Returns the slot index holding key, or the empty slot where it would go.
  size_t Probe(std::string_view key, uint64_t hash, bool* found) const;
  void Grow();
  void CompactArena();

  std::vector<uint64_t> slots_;  // 0 = empty; else tag(24) << 40 | (ref + 1)
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_used_ = kBlockSize;  // bytes used in the last block
  uint64_t count_ = 0;
  uint64_t garbage_ = 0;  // arena bytes of erased records
  uint64_t arena_bytes_ = 0;
};

}  // namespace zdb
