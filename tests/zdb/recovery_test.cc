// Start-up recovery and fault handling of a namespace: torn tails, flipped
// bytes, lost or damaged index files, missing data segments, lost unsynced
// writes (power loss) and ENOSPC.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/coding.h"
#include "tests/zdb/namespace_fixture.h"
#include "tests/zdb/test_util.h"
#include "zdb/namespace.h"

namespace zdb {
namespace {

using qs::Status;

class RecoveryTest : public zdb_test::NamespaceFixture {
 protected:
  RecoveryTest() { opts_.datasize = 1 << 20; }

  void Close() { ns_.reset(); }
  // Power loss: nothing the process does from now on reaches the disk, and
  // whatever was not synced is gone.
  void Crash() {
    env_.SetFilesystemActive(false);
    ns_.reset();  // its closing syncs must not count
    ASSERT_TRUE(env_.DropUnsyncedData().ok());
    env_.SetFilesystemActive(true);
  }

  Status Set(const std::string& k, const std::string& v, uint64_t ts = 1000) {
    std::string assigned;
    bool unchanged;
    return ns_->Set(k, v, ts, &assigned, &unchanged);
  }
  static std::string Key(int i) { return "key" + std::to_string(i); }
  static std::string Val(int i) { return "value-" + std::to_string(i) + std::string(i % 17, '.'); }
  // Offset of entry i in a fresh segment holding Key(0..) with Val(0..).
  static uint64_t OffsetOf(int i, int first = 0) {
    uint64_t off = kFileHeaderSize;
    for (int j = first; j < i; ++j) off += DataEntrySize(Key(j).size(), Val(j).size());
    return off;
  }
  void WriteKeys(int from, int to) {
    for (int i = from; i < to; ++i) ASSERT_TRUE(Set(Key(i), Val(i)).ok());
  }
  // A value holding a well-formed entry, the header of its own entry
  // damaged, the index lost (recovery_test.cc, below).
  void ForgedEntryCase(bool in_last);
  void ExpectKeys(int from, int to) {
    for (int i = from; i < to; ++i) EXPECT_EQ(Get(Key(i)), Val(i)) << i;
  }
};

TEST_F(RecoveryTest, TornDataTailIsCut) {
  Open();
  WriteKeys(0, 10);
  Close();
  uint64_t good = zdb_test::FileSize(DataFile(0));
  ASSERT_EQ(good, OffsetOf(10));
  std::string index_before = zdb_test::ReadRaw(IndexFile(0));
  // Half of an 11th entry reached the data file, none of its index entry.
  DataEntry e;
  e.key = "key10";
  e.value = "a value that was being written";
  std::string enc;
  EncodeDataEntry(e, &enc);
  std::string data = zdb_test::ReadRaw(DataFile(0));
  zdb_test::WriteRaw(DataFile(0), data + enc.substr(0, enc.size() / 2));

  Open();
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), good);  // tail cut
  EXPECT_EQ(zdb_test::ReadRaw(IndexFile(0)).substr(32), index_before.substr(32));
  ExpectKeys(0, 10);
  EXPECT_EQ(Get("key10"), "NOT_FOUND");
  EXPECT_EQ(ns_->entries(), 10u);
  EXPECT_EQ(ns_->corrupt_entries(), 0u);
  ASSERT_TRUE(Set("key10", "again").ok());
  EXPECT_EQ(ns_->current_offset(), good + DataEntrySize(5, 5));
  Open();
  ExpectKeys(0, 10);
  EXPECT_EQ(Get("key10"), "again");
}

TEST_F(RecoveryTest, TornTailOfZerosIsCut) {
  Open();
  WriteKeys(0, 5);
  Close();
  uint64_t good = zdb_test::FileSize(DataFile(0));
  // The file grew but the blocks never got written (read back as zeros).
  zdb_test::WriteRaw(DataFile(0), zdb_test::ReadRaw(DataFile(0)) + std::string(5000, '\0'));
  Open();
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), good);
  ExpectKeys(0, 5);
}

// The data entry is complete but its index entry is torn: the entry is
// indexed again from data.
TEST_F(RecoveryTest, TornIndexTailIsRebuiltFromData) {
  Open();
  WriteKeys(0, 6);
  Close();
  std::string index = zdb_test::ReadRaw(IndexFile(0));
  zdb_test::WriteRaw(IndexFile(0), index.substr(0, index.size() - 5));
  Open();
  ExpectKeys(0, 6);
  EXPECT_EQ(zdb_test::ReadRaw(IndexFile(0)).substr(32), index.substr(32));
}

// The index survived but the data tail did not (index ahead of data).
TEST_F(RecoveryTest, IndexPointingPastDataIsDropped) {
  Open();
  WriteKeys(0, 6);
  Close();
  zdb_test::WriteRaw(DataFile(0), zdb_test::ReadRaw(DataFile(0)).substr(0, OffsetOf(4) + 7));
  Open();
  ExpectKeys(0, 4);
  EXPECT_EQ(Get(Key(4)), "NOT_FOUND");
  EXPECT_EQ(Get(Key(5)), "NOT_FOUND");
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), OffsetOf(4));
  EXPECT_EQ(zdb_test::FileSize(IndexFile(0)), 32 + 4 * IndexEntrySize(4));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ns_->Check(Key(i)).ok());
}

TEST_F(RecoveryTest, FlippedDataByteIsCorruption) {
  Open();
  WriteKeys(0, 5);
  Close();
  zdb_test::FlipByte(DataFile(0), OffsetOf(2) + 30 + 4 + 3);  // a value byte of key2
  Open();
  EXPECT_EQ(Get(Key(2)).substr(0, 11), "Corruption:");
  std::string v;
  EXPECT_TRUE(ns_->Get(Key(2), &v).IsCorruption());
  EXPECT_TRUE(ns_->Check(Key(2)).IsCorruption());
  EXPECT_EQ(ns_->corrupt_entries(), 3u);  // one per damaged read
  for (int i : {0, 1, 3, 4}) {
    EXPECT_EQ(Get(Key(i)), Val(i));
    EXPECT_TRUE(ns_->Check(Key(i)).ok());
  }
  // Overwriting the damaged key heals it.
  ASSERT_TRUE(Set(Key(2), "fresh").ok());
  EXPECT_EQ(Get(Key(2)), "fresh");
}

TEST_F(RecoveryTest, FlippedIndexByteRebuildsIndex) {
  Open();
  WriteKeys(0, 8);
  ASSERT_TRUE(ns_->Del(Key(3), 2000).ok());
  Close();
  std::string index = zdb_test::ReadRaw(IndexFile(0));
  zdb_test::FlipByte(IndexFile(0), 32 + IndexEntrySize(4) * 2 + 10);  // length field of the 3rd entry
  Open();
  ExpectKeys(0, 3);
  ExpectKeys(4, 8);
  EXPECT_EQ(Get(Key(3)), "NOT_FOUND");
  EXPECT_EQ(ns_->entries(), 7u);
  // The rebuilt index is the original, entry for entry.
  EXPECT_EQ(zdb_test::ReadRaw(IndexFile(0)).substr(32), index.substr(32));
}

TEST_F(RecoveryTest, FlippedIndexHeaderRebuildsIndex) {
  Open();
  WriteKeys(0, 4);
  Close();
  zdb_test::FlipByte(IndexFile(0), 3);  // magic
  Open();
  ExpectKeys(0, 4);
  FileHeader h;
  EXPECT_TRUE(DecodeFileHeader(zdb_test::ReadRaw(IndexFile(0)), true, &h).ok());
}

TEST_F(RecoveryTest, DeletedIndexFilesAreRebuilt) {
  opts_.datasize = 512;
  Open();
  WriteKeys(0, 60);
  ASSERT_TRUE(ns_->Del(Key(7), 0).ok());
  ASSERT_TRUE(Set(Key(8), "changed").ok());
  size_t segs = ns_->segment_count();
  ASSERT_GE(segs, 4u);
  Close();
  std::map<uint32_t, std::string> before;
  for (uint32_t id : {0u, 2u, static_cast<uint32_t>(segs - 1)}) {
    before[id] = zdb_test::ReadRaw(IndexFile(id));
    std::filesystem::remove(IndexFile(id));
  }
  Open();
  EXPECT_EQ(ns_->segment_count(), segs);
  for (auto& [id, idx] : before) EXPECT_EQ(zdb_test::ReadRaw(IndexFile(id)).substr(32), idx.substr(32)) << id;
  for (int i = 0; i < 60; ++i) {
    if (i == 7 || i == 8) continue;
    EXPECT_EQ(Get(Key(i)), Val(i)) << i;
  }
  EXPECT_EQ(Get(Key(7)), "NOT_FOUND");
  EXPECT_EQ(Get(Key(8)), "changed");
}

// A flipped value byte and a damaged index entry after it: the rebuild
// trusts the index's valid prefix, so it knows whose entry is damaged. That
// key answers Corruption; every other key is found again.
TEST_F(RecoveryTest, RebuildKeepsDamagedEntryTheIndexNames) {
  Open();
  WriteKeys(0, 10);
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(10, 12);
  Close();
  zdb_test::FlipByte(DataFile(0), OffsetOf(4) + 30 + 4 + 2);
  zdb_test::FlipByte(IndexFile(0), 32 + 7 * IndexEntrySize(4) + 10);  // the index entry of key7
  for (int round = 0; round < 2; ++round) {
    Open();
    EXPECT_EQ(Get(Key(4)).substr(0, 11), "Corruption:");
    ExpectKeys(0, 4);
    ExpectKeys(5, 12);
    EXPECT_EQ(ns_->entries(), 12u);
  }
  ASSERT_TRUE(Set(Key(4), "rewritten").ok());
  EXPECT_EQ(Get(Key(4)), "rewritten");
}

// Index gone and a flipped value byte: the damaged entry's own length is
// not vouched for by its checksum, so the walk stops there. The keys after
// it are not known; those before may have had a newer version in it and
// answer Corruption; later segments are unaffected.
TEST_F(RecoveryTest, RebuildWithoutIndexStopsAtDamage) {
  Open();
  WriteKeys(0, 10);
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(10, 12);
  Close();
  zdb_test::FlipByte(DataFile(0), OffsetOf(4) + 30 + 4 + 2);
  std::filesystem::remove(IndexFile(0));
  for (int round = 0; round < 2; ++round) {
    Open();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(Get(Key(i)).substr(0, 11), "Corruption:") << i;
    for (int i = 4; i < 10; ++i) EXPECT_EQ(Get(Key(i)), "NOT_FOUND") << i;
    ExpectKeys(10, 12);
    EXPECT_EQ(ns_->corrupt_entries(), 1u);
  }
  ASSERT_TRUE(Set(Key(2), "rewritten").ok());  // a new version is the newest for sure
  Open();
  EXPECT_EQ(Get(Key(2)), "rewritten");
  EXPECT_EQ(Get(Key(1)).substr(0, 11), "Corruption:");
}

// Compaction neither copies entries from before an unreadable region (the
// copies would look newer) nor removes the region.
TEST_F(RecoveryTest, CompactionLeavesDamageAlone) {
  Open();
  WriteKeys(0, 10);
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(10, 12);
  ASSERT_TRUE(ns_->Jump().ok());
  ASSERT_TRUE(Set("z", "in the head").ok());
  Close();
  zdb_test::FlipByte(DataFile(0), OffsetOf(4) + 30 + 4 + 2);
  std::filesystem::remove(IndexFile(0));
  Open();
  for (int steps = 0; ns_->CompactStep(0.0, 100) && steps < 100; ++steps) {
  }
  EXPECT_TRUE(env_.Exists(DataFile(0)));
  EXPECT_FALSE(env_.Exists(DataFile(1)));  // after the region: compacted as usual
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 4; ++i) EXPECT_EQ(Get(Key(i)).substr(0, 11), "Corruption:") << i;
    ExpectKeys(10, 12);
    Open();
  }
}

// Same in the last segment: a damaged entry followed by more bytes is not a
// torn tail. Nothing is cut; writes go on in a new segment.
TEST_F(RecoveryTest, RebuildOfLastSegmentCutsNothingAfterDamage) {
  Open();
  WriteKeys(0, 10);
  Close();
  uint64_t size = zdb_test::FileSize(DataFile(0));
  zdb_test::FlipByte(DataFile(0), OffsetOf(4) + 30 + 4 + 2);
  std::filesystem::remove(IndexFile(0));
  Open();
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), size);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Get(Key(i)).substr(0, 11), "Corruption:") << i;
  for (int i = 4; i < 10; ++i) EXPECT_EQ(Get(Key(i)), "NOT_FOUND") << i;
  ASSERT_TRUE(Set("new", "one").ok());
  EXPECT_EQ(ns_->current_segment(), 1u);
  Open();
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), size);
  EXPECT_EQ(Get("new"), "one");
  EXPECT_EQ(Get(Key(0)).substr(0, 11), "Corruption:");
}

// A damaged entry header without an index: no search for the next header.
TEST_F(RecoveryTest, RebuildDoesNotSearchPastDamagedHeader) {
  Open();
  WriteKeys(0, 10);
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(10, 11);
  Close();
  zdb_test::FlipByte(DataFile(0), OffsetOf(6) + 6);  // value length of key6
  std::filesystem::remove(IndexFile(0));
  Open();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(Get(Key(i)).substr(0, 11), "Corruption:") << i;
  for (int i = 6; i < 10; ++i) EXPECT_EQ(Get(Key(i)), "NOT_FOUND") << i;
  ExpectKeys(10, 11);
}

TEST_F(RecoveryTest, MissingDataSegmentIsUnavailable) {
  opts_.datasize = 512;
  Open();
  WriteKeys(0, 40);
  ASSERT_GE(ns_->segment_count(), 3u);
  Close();
  // Which keys live in segment 1: those its index names.
  std::string index = zdb_test::ReadRaw(IndexFile(1));
  std::vector<std::string> in_seg1;
  for (size_t p = 32; p < index.size();) {
    IndexEntry e;
    ASSERT_TRUE(DecodeIndexEntry(std::string_view(index).substr(p), &e).ok());
    in_seg1.emplace_back(e.key);
    p += IndexEntrySize(e.key.size());
  }
  ASSERT_FALSE(in_seg1.empty());
  std::string saved = zdb_test::ReadRaw(DataFile(1));
  std::filesystem::remove(DataFile(1));

  Open();
  EXPECT_EQ(ns_->entries(), 40u);
  EXPECT_TRUE(ns_->SegmentMissing(1));
  EXPECT_FALSE(ns_->SegmentMissing(0));
  for (int i = 0; i < 40; ++i) {
    bool missing = std::find(in_seg1.begin(), in_seg1.end(), Key(i)) != in_seg1.end();
    std::string v;
    uint32_t seg = 12345;
    Status s = ns_->Get(Key(i), &v, &seg);
    if (missing) {
      EXPECT_EQ(s.code(), Status::Code::kUnavailable) << i;
      EXPECT_EQ(seg, 1u);
    } else {
      EXPECT_TRUE(s.ok()) << i << " " << s.ToString();
      EXPECT_EQ(v, Val(i));
      EXPECT_EQ(seg, 12345u);
    }
  }
  // Restored (e.g. fetched back from a backend): readable again.
  zdb_test::WriteRaw(DataFile(1), saved);
  ns_->ForgetReader(1);
  EXPECT_EQ(Get(in_seg1[0]), Val(std::stoi(in_seg1[0].substr(3))));
}

TEST_F(RecoveryTest, PowerLossKeepsSyncedWrites) {
  Open();
  WriteKeys(0, 20);
  ASSERT_TRUE(ns_->Sync().ok());
  WriteKeys(20, 30);     // never synced
  ASSERT_TRUE(Set(Key(3), "unsynced overwrite").ok());
  ASSERT_TRUE(ns_->Del(Key(4), 0).ok());
  Crash();
  Open();
  ExpectKeys(0, 20);     // including key3 and key4 as they were synced
  for (int i = 20; i < 30; ++i) EXPECT_EQ(Get(Key(i)), "NOT_FOUND");
  EXPECT_EQ(ns_->entries(), 20u);
  EXPECT_EQ(ns_->corrupt_entries(), 0u);
  WriteKeys(20, 25);
  Open();
  ExpectKeys(0, 25);
}

// Across rotations: closed segments are synced when the head moves on.
TEST_F(RecoveryTest, PowerLossAcrossSegments) {
  opts_.datasize = 600;
  Open();
  WriteKeys(0, 50);
  ASSERT_TRUE(ns_->Sync().ok());
  uint32_t synced_head = ns_->current_segment();
  WriteKeys(50, 100);
  ASSERT_GT(ns_->current_segment(), synced_head);
  uint32_t head = ns_->current_segment();
  Crash();
  Open();
  ExpectKeys(0, 50);
  // Keys of the unsynced head are gone; those in closed segments are intact.
  for (int i = 50; i < 100; ++i) {
    std::string g = Get(Key(i));
    EXPECT_TRUE(g == "NOT_FOUND" || g == Val(i)) << i << " " << g;
  }
  EXPECT_EQ(ns_->corrupt_entries(), 0u);
  EXPECT_LE(ns_->current_segment(), head);
  WriteKeys(100, 110);
  Open();
  ExpectKeys(0, 50);
  ExpectKeys(100, 110);
}

// Only the index reached the disk (syncs run file by file): the entries
// that point past the data are dropped, nothing else.
TEST_F(RecoveryTest, PowerLossWithIndexAheadOfData) {
  Open();
  WriteKeys(0, 10);
  ASSERT_TRUE(ns_->Sync().ok());
  WriteKeys(10, 15);
  uint64_t gen;
  auto files = ns_->DirtyFiles(&gen);
  ASSERT_EQ(files.size(), 2u);
  ASSERT_EQ(files[1]->path(), IndexFile(0));
  ASSERT_TRUE(files[1]->Sync().ok());
  files.clear();
  Crash();
  Open();
  ExpectKeys(0, 10);
  for (int i = 10; i < 15; ++i) EXPECT_EQ(Get(Key(i)), "NOT_FOUND");
  EXPECT_EQ(zdb_test::FileSize(IndexFile(0)), 32 + 10 * IndexEntrySize(4));
}

// ENOSPC at every byte position of one SET (data entry, then index entry),
// with torn partial appends: the SET fails, the namespace keeps working, and
// no failed write shows up after reopening.
TEST_F(RecoveryTest, NoSpaceDuringSet) {
  Open();
  WriteKeys(0, 3);
  const std::string v = "the value";
  const size_t budget_max = DataEntrySize(6, v.size()) + IndexEntrySize(6);
  int ok_keys = 0;
  for (size_t n = 0; n < budget_max; ++n) {
    for (bool torn : {false, true}) {
      std::string k = "f" + std::to_string(n) + (torn ? "t" : "c");
      k.resize(6, '_');
      env_.SetNoSpaceAfter(n, torn);
      Status s = Set(k, v);
      EXPECT_TRUE(s.IsNoSpace()) << n << " " << s.ToString();
      EXPECT_EQ(Get(k), "NOT_FOUND");
      env_.ClearNoSpace();
      ASSERT_TRUE(Set("ok" + std::to_string(ok_keys), std::to_string(n)).ok());
      ++ok_keys;
    }
  }
  // Failure on overwrite keeps the old value.
  env_.SetNoSpaceAfter(10, true);
  EXPECT_TRUE(Set(Key(1), "replacement").IsNoSpace());
  env_.ClearNoSpace();
  EXPECT_EQ(Get(Key(1)), Val(1));

  auto verify = [&] {
    ExpectKeys(0, 3);
    EXPECT_EQ(ns_->entries(), 3u + ok_keys);
    for (int i = 0; i < ok_keys; ++i) EXPECT_TRUE(ns_->Check("ok" + std::to_string(i)).ok()) << i;
  };
  verify();
  uint64_t size = zdb_test::FileSize(DataFile(0));
  Open();
  verify();
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), size);  // nothing cut: no garbage was left
  EXPECT_EQ(ns_->corrupt_entries(), 0u);
  std::vector<ScanItem> items;
  std::string next;
  ASSERT_TRUE(ns_->Scan("", false, 1000, &items, &next).ok());
  EXPECT_EQ(items.size(), 3u + ok_keys);
  for (auto& it : items) EXPECT_NE(it.key[0], 'f') << it.key;
}

// ENOSPC while a new segment's headers are written.
TEST_F(RecoveryTest, NoSpaceWhileOpeningSegment) {
  Open();
  WriteKeys(0, 3);
  ASSERT_TRUE(ns_->Jump().ok());
  for (size_t n : {0, 10, 32, 40}) {
    env_.SetNoSpaceAfter(n, true);
    EXPECT_TRUE(Set("x", "y").IsNoSpace()) << n;
    env_.ClearNoSpace();
  }
  ASSERT_TRUE(Set("x", "y").ok());
  EXPECT_EQ(ns_->current_segment(), 1u);
  FileHeader h;
  ASSERT_TRUE(DecodeFileHeader(zdb_test::ReadRaw(DataFile(1)), false, &h).ok());
  EXPECT_EQ(zdb_test::FileSize(DataFile(1)), 32 + DataEntrySize(1, 1));
  Open();
  ExpectKeys(0, 3);
  EXPECT_EQ(Get("x"), "y");
  EXPECT_EQ(ns_->corrupt_entries(), 0u);
}

// A rotation that hits ENOSPC leaves 0-byte head files behind. The namespace
// still opens on the full disk, serves reads, refuses writes with NoSpace,
// and writes again once space returns.
TEST_F(RecoveryTest, OpensWithEmptyHeadOnFullDisk) {
  Open();
  WriteKeys(0, 5);
  ASSERT_TRUE(ns_->Jump().ok());
  env_.SetNoSpaceAfter(0, false);
  EXPECT_TRUE(Set("x", "y").IsNoSpace());
  Close();
  ASSERT_EQ(zdb_test::FileSize(DataFile(1)), 0u);  // the rotation's leftovers
  ASSERT_EQ(zdb_test::FileSize(IndexFile(1)), 0u);

  ASSERT_NO_FATAL_FAILURE(Open());  // still no space
  ExpectKeys(0, 5);
  EXPECT_EQ(Get("x"), "NOT_FOUND");
  EXPECT_EQ(ns_->corrupt_entries(), 0u);
  EXPECT_TRUE(Set("x", "y").IsNoSpace());
  EXPECT_TRUE(ns_->Del(Key(1), 0).IsNoSpace());
  ExpectKeys(0, 5);

  env_.ClearNoSpace();  // space returns
  ASSERT_TRUE(Set("x", "y").ok());
  EXPECT_EQ(ns_->current_segment(), 1u);
  Open();
  ExpectKeys(0, 5);
  EXPECT_EQ(Get("x"), "y");
}

// Header-less head files (shorter than a header) on a full disk: same.
TEST_F(RecoveryTest, OpensWithShortHeadOnFullDisk) {
  Open();
  WriteKeys(0, 3);
  Close();
  zdb_test::WriteRaw(DataFile(1), std::string(7, '\0'));
  zdb_test::WriteRaw(IndexFile(1), "ZDBI");
  env_.SetNoSpaceAfter(0, false);
  ASSERT_NO_FATAL_FAILURE(Open());
  ExpectKeys(0, 3);
  EXPECT_TRUE(Set("x", "y").IsNoSpace());
  env_.ClearNoSpace();
  ASSERT_TRUE(Set("x", "y").ok());
  Open();
  ExpectKeys(0, 3);
  EXPECT_EQ(Get("x"), "y");
}

// The data header reached the disk, the index header did not (ENOSPC).
TEST_F(RecoveryTest, OpensWithHeaderOnlyHeadOnFullDisk) {
  Open();
  WriteKeys(0, 3);
  Close();
  zdb_test::WriteRaw(DataFile(1), EncodeFileHeader(FileHeader{false, 1, 1000}));
  zdb_test::WriteRaw(IndexFile(1), "");
  env_.SetNoSpaceAfter(0, false);
  ASSERT_NO_FATAL_FAILURE(Open());
  ExpectKeys(0, 3);
  EXPECT_TRUE(Set("x", "y").IsNoSpace());
  env_.ClearNoSpace();
  ASSERT_TRUE(Set("x", "y").ok());
  EXPECT_EQ(ns_->current_segment(), 1u);
  Open();
  ExpectKeys(0, 3);
  EXPECT_EQ(Get("x"), "y");
}

// An index that must be rebuilt cannot be written on a full disk: the
// rebuilt index serves from memory, writes go to a new segment once space
// returns, and the next start-up writes the index.
TEST_F(RecoveryTest, RebuiltIndexThatCannotBeWrittenServesFromMemory) {
  Open();
  WriteKeys(0, 6);
  Close();
  std::string index = zdb_test::ReadRaw(IndexFile(0));
  std::filesystem::remove(IndexFile(0));
  env_.SetNoSpaceAfter(0, false);
  ASSERT_NO_FATAL_FAILURE(Open());
  ExpectKeys(0, 6);
  EXPECT_FALSE(env_.Exists(IndexFile(0) + ".tmp"));
  EXPECT_TRUE(Set("x", "y").IsNoSpace());
  env_.ClearNoSpace();
  ASSERT_TRUE(Set("x", "y").ok());
  EXPECT_EQ(ns_->current_segment(), 1u);
  Open();
  ExpectKeys(0, 6);
  EXPECT_EQ(Get("x"), "y");
  EXPECT_EQ(zdb_test::ReadRaw(IndexFile(0)).substr(32), index.substr(32));
}

// ---- Damage that recovery cannot see past: never an older version ----

// Where key's live entry is (from the in-memory index, through KEYCUR-free
// means: the data offset is found by decoding the index file).
static bool FindInIndex(const std::string& index, const std::string& key, bool deleted, IndexEntry* out) {
  bool found = false;
  for (size_t p = kFileHeaderSize; p < index.size();) {
    IndexEntry e;
    if (!DecodeIndexEntry(std::string_view(index).substr(p), &e).ok()) break;
    if (e.key == key && ((e.flags & kFlagDeleted) != 0) == deleted) {
      *out = e;
      found = true;
    }
    p += IndexEntrySize(e.key.size());
  }
  return found;
}

// A closed segment lost its last 3000 bytes while its index is intact: the
// keys whose newest version was there answer Corruption, not the version
// before, at every restart.
TEST_F(RecoveryTest, TruncatedClosedSegmentAnswersErrorNotOlderVersion) {
  Open();
  ASSERT_TRUE(Set("a", "old").ok());
  ASSERT_TRUE(Set("f0", "first version of f0").ok());
  ASSERT_TRUE(ns_->Jump().ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Set("f" + std::to_string(i), std::string(500, 'a' + i)).ok());
  ASSERT_TRUE(Set("a", "new").ok());
  ASSERT_TRUE(ns_->Jump().ok());
  ASSERT_TRUE(Set("z", "in the head").ok());
  Close();
  std::string index1 = zdb_test::ReadRaw(IndexFile(1));
  std::string data1 = zdb_test::ReadRaw(DataFile(1));
  zdb_test::WriteRaw(DataFile(1), data1.substr(0, data1.size() - 3000));

  for (int round = 0; round < 2; ++round) {
    Open();
    EXPECT_EQ(Get("a").substr(0, 11), "Corruption:") << Get("a");
    EXPECT_TRUE(ns_->Check("a").IsCorruption());
    for (int i = 0; i < 10; ++i) {
      std::string k = "f" + std::to_string(i);
      // f0..f3 end before the cut; the others, f0's old version too, do not
      // come back.
      if (i < 4) {
        EXPECT_EQ(Get(k), std::string(500, 'a' + i)) << k;
      } else {
        EXPECT_EQ(Get(k).substr(0, 11), "Corruption:") << k << " " << Get(k);
      }
    }
    EXPECT_EQ(Get("z"), "in the head");
    EXPECT_EQ(zdb_test::ReadRaw(IndexFile(1)), index1);  // the evidence stays
  }
  ASSERT_TRUE(Set("a", "rewritten").ok());  // a new version heals the key
  Open();
  EXPECT_EQ(Get("a"), "rewritten");
}

// The newest version of a key is damaged and so is the index of its
// segment: recovery cannot know whose entry it was, so the key does not fall
// back to its older version.
TEST_F(RecoveryTest, DamagedNewestVersionWithDamagedIndexAnswersError) {
  Open();
  ASSERT_TRUE(Set("a", "old").ok());
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(0, 5);
  ASSERT_TRUE(Set("a", "new").ok());
  WriteKeys(5, 10);
  ASSERT_TRUE(ns_->Jump().ok());
  ASSERT_TRUE(Set("z", "in the head").ok());
  Close();
  IndexEntry ie;
  ASSERT_TRUE(FindInIndex(zdb_test::ReadRaw(IndexFile(1)), "a", false, &ie));
  zdb_test::FlipByte(DataFile(1), ie.data_offset + 30 + 1 + 1);  // a value byte of "a"
  zdb_test::FlipByte(IndexFile(1), 3);                           // the index header
  for (int round = 0; round < 2; ++round) {
    Open();
    std::string got = Get("a");
    EXPECT_NE(got, "old");
    EXPECT_EQ(got.substr(0, 11), "Corruption:") << got;
    EXPECT_EQ(Get("z"), "in the head");
  }
  ASSERT_TRUE(Set("a", "rewritten").ok());
  Open();
  EXPECT_EQ(Get("a"), "rewritten");
}

// Same with a damaged tombstone: the deleted key does not come back.
TEST_F(RecoveryTest, DamagedTombstoneWithDamagedIndexDoesNotResurrect) {
  Open();
  ASSERT_TRUE(Set("a", "deleted later").ok());
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(0, 5);
  ASSERT_TRUE(ns_->Del("a", 0).ok());
  WriteKeys(5, 10);
  ASSERT_TRUE(ns_->Jump().ok());
  ASSERT_TRUE(Set("z", "in the head").ok());
  Close();
  IndexEntry ie;
  ASSERT_TRUE(FindInIndex(zdb_test::ReadRaw(IndexFile(1)), "a", true, &ie));
  zdb_test::FlipByte(DataFile(1), ie.data_offset + 12);  // the tombstone's timestamp
  std::filesystem::remove(IndexFile(1));
  for (int round = 0; round < 2; ++round) {
    Open();
    std::string got = Get("a");
    EXPECT_NE(got, "deleted later");
    EXPECT_EQ(got.substr(0, 11), "Corruption:") << got;
    EXPECT_EQ(Get("z"), "in the head");
  }
}

// A value holding a well-formed entry: once the header of the entry that
// holds it is damaged and the index is rebuilt, the walk does not take the
// bytes inside the value for an entry.
void RecoveryTest::ForgedEntryCase(bool in_last) {
  Open();
  DataEntry forged;
  forged.key = "FORGED";
  forged.value = "evil";
  std::string payload = "prefix;";
  EncodeDataEntry(forged, &payload);
  payload += ";suffix";
  ASSERT_TRUE(Set("k0", "zero").ok());
  ASSERT_TRUE(Set("holder", payload).ok());
  ASSERT_TRUE(Set("k2", "two").ok());
  if (!in_last) {
    ASSERT_TRUE(ns_->Jump().ok());
    ASSERT_TRUE(Set("z", "in the head").ok());
  }
  Close();
  uint64_t size = zdb_test::FileSize(DataFile(0));
  uint64_t holder = kFileHeaderSize + DataEntrySize(2, 4);
  std::string d = zdb_test::ReadRaw(DataFile(0));
  d[holder + 4] = static_cast<char>(0x80);  // an unknown flag: the header is no longer sane
  zdb_test::WriteRaw(DataFile(0), d);
  std::filesystem::remove(IndexFile(0));
  Open();
  EXPECT_EQ(Get("FORGED"), "NOT_FOUND");
  EXPECT_EQ(Get("k0").substr(0, 11), "Corruption:");  // a newer version may be in the damage
  EXPECT_NE(Get("holder"), payload);
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), size);  // nothing cut: the bytes stay
  if (!in_last) {
    EXPECT_EQ(Get("z"), "in the head");
  }
  ASSERT_TRUE(Set("after", "damage").ok());
  Open();
  EXPECT_EQ(Get("FORGED"), "NOT_FOUND");
  EXPECT_EQ(Get("after"), "damage");
}

TEST_F(RecoveryTest, EntryInsideValueIsNeverIndexedInClosedSegment) { ForgedEntryCase(false); }
TEST_F(RecoveryTest, EntryInsideValueIsNeverIndexedInLastSegment) { ForgedEntryCase(true); }

// The index of an evicted segment (data not local) is damaged: the entries
// past the damage are unknown, so keys with an older version elsewhere do
// not fall back to it. The index file is left as it is.
TEST_F(RecoveryTest, DamagedIndexOfEvictedSegmentAnswersErrorNotOlderVersion) {
  Open();
  ASSERT_TRUE(Set("a", "old").ok());
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(0, 5);
  ASSERT_TRUE(Set("a", "new").ok());
  ASSERT_TRUE(ns_->Jump().ok());
  ASSERT_TRUE(Set("z", "in the head").ok());
  Close();
  std::filesystem::remove(DataFile(1));                              // evicted
  zdb_test::FlipByte(IndexFile(1), 32 + 3 * IndexEntrySize(4) + 8);  // the index entry of key3
  std::string index = zdb_test::ReadRaw(IndexFile(1));
  for (int round = 0; round < 2; ++round) {
    Open();
    std::string got = Get("a");
    EXPECT_NE(got, "old");
    EXPECT_EQ(got.substr(0, 11), "Corruption:") << got;
    // Known from the prefix, but the lost entries may hold a newer version.
    EXPECT_EQ(Get(Key(1)).substr(0, 11), "Corruption:");
    EXPECT_EQ(Get("z"), "in the head");
    EXPECT_EQ(zdb_test::ReadRaw(IndexFile(1)), index);
  }
}

// Sequential mode: ids that an unreadable region may have held are never
// handed out again (a client holding one would read another value).
TEST_F(RecoveryTest, SequentialIdsInUnreadableRegionAreNotReissued) {
  settings_.mode = Mode::kSeq;
  Open();
  std::vector<uint64_t> offsets;
  for (int i = 0; i < 10; ++i) {
    offsets.push_back(ns_->current_offset() == 0 ? kFileHeaderSize : ns_->current_offset());
    std::string assigned;
    bool unchanged;
    ASSERT_TRUE(ns_->Set("", "value " + std::to_string(i), 0, &assigned, &unchanged).ok());
  }
  Close();
  zdb_test::FlipByte(DataFile(0), offsets[4] + 30 + 8 + 1);
  std::filesystem::remove(IndexFile(0));
  for (int round = 0; round < 2; ++round) {
    Open();
    EXPECT_GE(ns_->next_seq_id(), 10u);
    std::string assigned;
    bool unchanged;
    ASSERT_TRUE(ns_->Set("", "after damage", 0, &assigned, &unchanged).ok());
    uint64_t id = qs::DecodeFixed64(assigned.data());
    EXPECT_GE(id, 10u);
    EXPECT_EQ(Get(assigned), "after damage");
  }
}

}  // namespace
}  // namespace zdb
