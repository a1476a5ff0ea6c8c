// A namespace: its settings, its segment files (data + index, rotating
// together) and its in-memory key index. Owned by the Server (its map of
// namespaces by name); used only from the server's loop thread, except that
// the file handles handed out by DirtyFiles() may be synced from another
// thread.
//
// One class, its parts in one file each: namespace.cc (opening, settings,
// rotation, sync, flush), namespace_write.cc (the append path: SET, DEL),
// namespace_read.cc (GET and friends, SCAN, HISTORY), namespace_compaction.cc
// (online compaction) and namespace_recovery.cc (start-up recovery). The
// descriptor's codec is namespace_descriptor.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_env.h"
#include "common/status.h"
#include "zdb/format.h"
#include "zdb/key_index.h"
#include "zdb/namespace_descriptor.h"

namespace zdb {

struct StorageOptions {
  uint64_t datasize = 256ull << 20;  // rotate segments beyond this many bytes
  bool sync_always = false;          // fdatasync before acknowledging (group commit)
  bool evict_synced = false;         // synced bytes leave the page cache after each sync
};

// Observer of file events, used for hooks (jump-data, jump-index, missing-data).
struct NamespaceEvents {
  std::function<void(const std::string& old_data, const std::string& new_data)> on_jump_data;
  std::function<void(const std::string& old_index, const std::string& new_index,
                     const std::vector<uint32_t>& dirty)> on_jump_index;
};

struct KeyInfo {
  uint32_t value_size = 0;
  uint64_t timestamp = 0;
};

struct ScanItem {
  std::string key;
  uint32_t value_size = 0;
  uint64_t timestamp = 0;
};

struct HistoryItem {
  std::string parent_cursor;  // empty when there is no older version
  uint64_t timestamp = 0;
  std::string value;
  bool deleted = false;
};

class Namespace {
 public:
  // Opens (or creates, writing its descriptor) the namespace stored under
  // data_root/name and index_root/name, loading or rebuilding its index.
  static qs::Result<std::unique_ptr<Namespace>> Open(qs::Env* env, const std::string& name,
                                                     const std::string& data_root, const std::string& index_root,
                                                     const StorageOptions& opts, const NamespaceSettings* create_with);
  ~Namespace();

  const std::string& name() const { return name_; }
  const NamespaceSettings& settings() const { return settings_; }
  qs::Status UpdateSettings(const NamespaceSettings& s);  // persists the descriptor
  void set_events(NamespaceEvents ev) { events_ = std::move(ev); }

  // SET. In seq mode an empty key allocates the next id; a non-empty key must
  // exist. *assigned gets the key written; *unchanged is true (and nothing is
  // written) when the stored value is identical. LimitExceeded when maxsize
  // is hit; NoSpace/IOError when the disk refuses.
  qs::Status Set(std::string_view key, std::string_view value, uint64_t timestamp,
                 std::string* assigned, bool* unchanged);
  // Get: NotFound, Corruption (checksum), or Unavailable when the segment file
  // is missing (evicted); then *missing_segment names it.
  qs::Status Get(std::string_view key, std::string* value, uint32_t* missing_segment = nullptr);
  // Like Get, without a copy: *value stays valid until the next call on this
  // namespace.
  qs::Status GetView(std::string_view key, std::string_view* value, uint32_t* missing_segment = nullptr);
  qs::Status Del(std::string_view key, uint64_t timestamp);
  bool Exists(std::string_view key) const;
  qs::Status Stat(std::string_view key, KeyInfo* info);
  // Verifies the stored checksum; OK, NotFound or Corruption.
  qs::Status Check(std::string_view key);
  // Proof of storage: hex HMAC-SHA256 of the stored value keyed by nonce.
  qs::Status Prove(std::string_view key, std::string_view nonce, std::string* proof_hex);

  // SCAN/RSCAN: up to max_items live entries after (before) cursor; empty
  // cursor = from the start (end). *next is the cursor of the last item.
  qs::Status Scan(std::string_view cursor, bool reverse, size_t max_items, std::vector<ScanItem>* items,
                  std::string* next);
  qs::Status KeyCursor(std::string_view key, std::string* cursor);
  // The version at cursor (empty = current version of key).
  qs::Status History(std::string_view key, std::string_view cursor, HistoryItem* item);

  qs::Status Flush();  // drops every key and file; settings stay
  qs::Status Jump();   // closes the current segment; the next write opens a new one
  // Rotates when the current segment holds data older than max_age_s.
  qs::Status RotateIfOlder(uint64_t now_s, uint64_t max_age_s);
  qs::Status Sync();   // everything acknowledged is on stable storage
  bool dirty() const { return unsynced_; }
  // Files holding unsynced appends; syncing them (any thread) and then calling
  // MarkSynced() with the generation returned makes the namespace clean.
  std::vector<std::shared_ptr<qs::AppendFile>> DirtyFiles(uint64_t* generation);
  void MarkSynced(uint64_t generation);

  // One bounded step of online compaction; returns true if work remains.
  bool CompactStep(double dead_ratio, size_t budget_entries);
  qs::Status Reload();  // drops the memory index and loads it again from disk
  // Closes and removes everything on disk.
  qs::Status Destroy();

  // Stats.
  uint64_t entries() const { return index_->size(); }
  uint64_t data_bytes() const { return live_bytes_; }
  uint64_t disk_data_bytes() const { return disk_data_bytes_; }
  uint64_t disk_index_bytes() const { return disk_index_bytes_; }
  size_t segment_count() const { return segments_.size(); }
  uint32_t current_segment() const { return head_id_; }
  uint64_t current_offset() const;
  uint64_t next_seq_id() const;
  bool ever_written() const { return ever_written_; }
  size_t index_memory() const { return index_->MemoryUsage(); }
  uint64_t corrupt_entries() const { return corrupt_entries_; }
  std::vector<uint32_t> dirty_index_ids() const;
  void ResetDirtyIndex() { dirty_index_ids_.clear(); }
  std::string data_dir() const { return data_dir_; }
  std::string index_dir() const { return index_dir_; }
  std::string DataPath(uint32_t id) const { return data_dir_ + "/" + DataFileName(id); }
  std::string IndexPath(uint32_t id) const { return index_dir_ + "/" + IndexFileName(id); }
  // Re-opens a data segment restored after missing-data.
  void ForgetReader(uint32_t id) { readers_.erase(id); }
  // Drops cached readers of closed data segments whose file is gone (evicted
  // by zstor): their mapping would pin the disk space and hide the absence
  // from missing-data. Returns how many were dropped. Loop thread only.
  size_t DropEvictedReaders();
  bool SegmentMissing(uint32_t id);

 private:
  struct Segment {
    uint64_t data_bytes = 0;   // file size including header
    uint64_t dead_bytes = 0;   // bytes of overwritten or deleted entries
    uint64_t index_bytes = 0;
    uint64_t first_write = 0;  // unix seconds of the oldest entry in the head
    bool data_missing = false;
    bool damaged = false;      // holds a region recovery could not read (never compacted)
    bool sealed = false;       // never appended to again (damaged end, or index not rewritable)
  };

  Namespace(qs::Env* env, std::string name, std::string data_dir, std::string index_dir, StorageOptions opts);
  // Start-up recovery (namespace_recovery.cc; docs/zdb-format.md).
  qs::Status Load();
  qs::Status LoadSegment(uint32_t id, bool last);
  // Walks data segment id from its start, trusting only lengths that a
  // checksum vouches for: those of valid data entries and of the entries of
  // `trusted`, a valid index prefix (may be empty). Writes the new index.
  qs::Status RebuildIndex(uint32_t id, bool last, std::string trusted, std::string* index_out);
  void ApplyIndexEntry(uint32_t segment, const IndexEntry& e);
  // Bytes [offset, offset + len) of segment id could not be read: any key
  // may have had a newer version there.
  void NoteUnknownRegion(uint32_t id, uint64_t offset, uint64_t len);
  // The key's newest location; Corruption when an unknown region after it
  // may hold a newer version (see NoteUnknownRegion).
  qs::Status Current(std::string_view key, Location* loc) const;
  qs::Status OpenHead();
  qs::Status CloseHead();
  void EvictSyncedHead();  // with evict_synced: the head's synced pages leave the page cache
  qs::Status AppendEntry(const DataEntry& e, Location* loc);
  qs::Status ReadEntry(const Location& loc, std::string* buf, DataEntry* e, uint32_t* missing_segment);
  qs::Result<qs::ReadFile*> Reader(uint32_t id, bool index_file);
  qs::Status ReadIndexFile(uint32_t id, std::string* buf);
  void MarkDead(const Location& old);
  std::string Key(std::string_view k) const;

  qs::Env* env_;
  std::string name_;
  std::string data_dir_, index_dir_;
  StorageOptions opts_;
  NamespaceSettings settings_;
  NamespaceEvents events_;
  std::unique_ptr<KeyIndex> index_;
  std::map<uint32_t, Segment> segments_;
  uint32_t head_id_ = 0;
  std::shared_ptr<qs::AppendFile> head_data_, head_index_;  // null until the first write
  std::map<uint32_t, std::unique_ptr<qs::ReadFile>> readers_;
  std::map<uint32_t, std::unique_ptr<qs::ReadFile>> index_readers_;
  std::vector<uint32_t> dirty_index_ids_;
  uint64_t live_bytes_ = 0;
  uint64_t disk_data_bytes_ = 0, disk_index_bytes_ = 0;
  uint64_t corrupt_entries_ = 0;
  // Position (segment << 32 | offset) of the latest region recovery could
  // not read, 0 = none: keys whose newest entry lies before it answer
  // Corruption until written again.
  uint64_t unknown_horizon_ = 0;
  uint64_t seq_id_slack_ = 0;  // ids an unknown region may have consumed
  bool ever_written_ = false;
  bool unsynced_ = false;
  uint64_t write_generation_ = 0, synced_generation_ = 0;
  // Compaction progress: segment being compacted and the next index offset.
  uint32_t compact_id_ = kNoSegment;
  uint64_t compact_pos_ = 0;
  std::string compact_index_;
  std::string scratch_;
  std::string read_buf_;  // GetView's buffer
};

}  // namespace zdb
