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

// Index gone and a flipped value byte in an older segment: the damaged entry
// is skipped, every other entry is found again.
TEST_F(RecoveryTest, RebuildSkipsDamagedEntry) {
  Open();
  WriteKeys(0, 10);
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(10, 12);
  Close();
  zdb_test::FlipByte(DataFile(0), OffsetOf(4) + 30 + 4 + 2);
  std::filesystem::remove(IndexFile(0));
  Open();
  EXPECT_EQ(Get(Key(4)), "NOT_FOUND");
  EXPECT_EQ(ns_->corrupt_entries(), 1u);
  ExpectKeys(0, 4);
  ExpectKeys(5, 12);
  Open();  // the rebuilt index with its gap loads as is
  ExpectKeys(5, 12);
  EXPECT_EQ(ns_->corrupt_entries(), 0u);
}

// Same in the last segment: a damaged entry followed by good ones is not a
// torn tail, nothing after it is cut.
TEST_F(RecoveryTest, RebuildOfLastSegmentKeepsEntriesAfterDamage) {
  Open();
  WriteKeys(0, 10);
  Close();
  uint64_t size = zdb_test::FileSize(DataFile(0));
  zdb_test::FlipByte(DataFile(0), OffsetOf(4) + 30 + 4 + 2);
  std::filesystem::remove(IndexFile(0));
  Open();
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), size);
  EXPECT_EQ(Get(Key(4)), "NOT_FOUND");
  ExpectKeys(0, 4);
  ExpectKeys(5, 10);
  ASSERT_TRUE(Set("new", "one").ok());
  Open();
  ExpectKeys(5, 10);
  EXPECT_EQ(Get("new"), "one");
}

// A damaged entry header inside an older segment: byte-wise resync finds
// the next entry.
TEST_F(RecoveryTest, RebuildResyncsAfterDamagedHeader) {
  Open();
  WriteKeys(0, 10);
  ASSERT_TRUE(ns_->Jump().ok());
  WriteKeys(10, 11);
  Close();
  zdb_test::FlipByte(DataFile(0), OffsetOf(6) + 6);  // value length of key6
  std::filesystem::remove(IndexFile(0));
  Open();
  EXPECT_EQ(Get(Key(6)), "NOT_FOUND");
  ExpectKeys(0, 6);
  ExpectKeys(7, 11);
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

}  // namespace
}  // namespace zdb
