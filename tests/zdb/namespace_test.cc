#include "zdb/namespace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "common/coding.h"
#include "common/crc32c.h"
#include "tests/zdb/namespace_fixture.h"
#include "tests/zdb/test_util.h"

namespace zdb {
namespace {

using qs::Status;

std::string LE32(uint32_t v) { std::string s(4, '\0'); qs::EncodeFixed32(s.data(), v); return s; }
std::string LE64(uint64_t v) { std::string s(8, '\0'); qs::EncodeFixed64(s.data(), v); return s; }
std::string Cursor(uint32_t seg, uint32_t off) { return LE32(seg) + LE32(off); }
std::string Id(uint64_t id) { return SeqKeyIndex::EncodeId(id); }

class NamespaceTest : public zdb_test::NamespaceFixture {
 protected:
  NamespaceTest() { opts_.datasize = 4096; }

  Status Set(std::string_view k, std::string_view v, uint64_t ts = 0) {
    std::string assigned;
    bool unchanged = false;
    Status s = ns_->Set(k, v, ts, &assigned, &unchanged);
    if (s.ok()) {
      EXPECT_EQ(assigned, k);
    }
    return s;
  }
  std::string SetSeq(std::string_view v) {
    std::string assigned;
    bool unchanged = false;
    Status s = ns_->Set("", v, 0, &assigned, &unchanged);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return assigned;
  }
  // Every live key, walking SCAN (or RSCAN) with `page` items per call.
  std::vector<std::string> ScanAll(bool reverse, size_t page) {
    std::vector<std::string> keys;
    std::string cursor;
    for (int guard = 0; guard < 100000; ++guard) {
      std::vector<ScanItem> items;
      std::string next;
      Status s = ns_->Scan(cursor, reverse, page, &items, &next);
      if (s.IsNotFound()) break;
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok()) break;
      EXPECT_LE(items.size(), page);
      EXPECT_EQ(next.size(), 8u);
      for (auto& it : items) keys.push_back(it.key);
      cursor = next;
    }
    return keys;
  }
};

TEST_F(NamespaceTest, OpenWithoutDescriptorIsNotFound) {
  auto r = Namespace::Open(&env_, "ns", dir_.path() + "/data", dir_.path() + "/index", opts_, nullptr);
  EXPECT_TRUE(r.status().IsNotFound());
  Open();
  ns_.reset();
  r = Namespace::Open(&env_, "ns", dir_.path() + "/data", dir_.path() + "/index", opts_, nullptr);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(zdb_test::ReadRaw(IndexDir() + "/zdb-namespace"), EncodeSettings("ns", settings_));
}

TEST_F(NamespaceTest, SetGetDelExistsStatCheck) {
  Open();
  EXPECT_EQ(Get("k1"), "NOT_FOUND");
  EXPECT_FALSE(ns_->Exists("k1"));
  ASSERT_TRUE(Set("k1", "value-1", 1000).ok());
  ASSERT_TRUE(Set("k2", std::string("\0bin\xff", 5), 1001).ok());
  ASSERT_TRUE(Set("empty", "", 1002).ok());
  EXPECT_EQ(Get("k1"), "value-1");
  EXPECT_EQ(Get("k2"), std::string("\0bin\xff", 5));
  EXPECT_EQ(Get("empty"), "");
  EXPECT_TRUE(ns_->Exists("k1"));
  EXPECT_EQ(ns_->entries(), 3u);
  EXPECT_EQ(ns_->data_bytes(), 12u);

  KeyInfo info;
  ASSERT_TRUE(ns_->Stat("k1", &info).ok());
  EXPECT_EQ(info.value_size, 7u);
  EXPECT_EQ(info.timestamp, 1000u);
  EXPECT_TRUE(ns_->Stat("nope", &info).IsNotFound());
  EXPECT_TRUE(ns_->Check("k2").ok());
  EXPECT_TRUE(ns_->Check("nope").IsNotFound());

  ASSERT_TRUE(Set("k1", "v1b", 1003).ok());
  EXPECT_EQ(Get("k1"), "v1b");
  EXPECT_EQ(ns_->data_bytes(), 8u);

  ASSERT_TRUE(ns_->Del("k1", 1004).ok());
  EXPECT_EQ(Get("k1"), "NOT_FOUND");
  EXPECT_FALSE(ns_->Exists("k1"));
  EXPECT_TRUE(ns_->Del("k1", 0).IsNotFound());
  EXPECT_TRUE(ns_->Check("k1").IsNotFound());
  EXPECT_EQ(ns_->entries(), 2u);
  EXPECT_EQ(ns_->data_bytes(), 5u);

  EXPECT_EQ(Set("", "x").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Set(std::string(256, 'k'), "x").code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Set(std::string(255, 'k'), "x").ok());
  EXPECT_EQ(Get(std::string(255, 'k')), "x");
}

// The files hold exactly header + entries as documented.
TEST_F(NamespaceTest, OnDiskBytes) {
  Open();
  ASSERT_TRUE(Set("k1", "v1", 1000).ok());
  ASSERT_TRUE(ns_->Del("k1", 1001).ok());
  ASSERT_TRUE(ns_->Sync().ok());

  std::string data = zdb_test::ReadRaw(DataFile(0));
  std::string index = zdb_test::ReadRaw(IndexFile(0));
  FileHeader h;
  ASSERT_TRUE(DecodeFileHeader(data, false, &h).ok());
  EXPECT_EQ(h.segment_id, 0u);
  ASSERT_TRUE(DecodeFileHeader(index, true, &h).ok());

  std::string e1 = std::string("\x00\x02", 2) + LE32(2) + LE64(1000) + LE32(kNoSegment) + LE32(0) + LE32(0) + "k1" + "v1";
  std::string e2 = std::string("\x01\x02", 2) + LE32(0) + LE64(1001) + LE32(0) + LE32(32) + LE32(0) + "k1";
  uint32_t c1 = qs::Crc32c(e1), c2 = qs::Crc32c(e2);
  ASSERT_EQ(data.size(), 32u + 34 + 32);
  EXPECT_EQ(data.substr(32), LE32(c1) + e1 + LE32(c2) + e2);

  std::string i1 = std::string("\x00\x02", 2) + LE32(32) + LE32(34) + LE64(1000) + LE32(c1) + "k1";
  std::string i2 = std::string("\x01\x02", 2) + LE32(66) + LE32(32) + LE64(1001) + LE32(c2) + "k1";
  ASSERT_EQ(index.size(), 32u + 28 + 28);
  EXPECT_EQ(index.substr(32), LE32(qs::Crc32c(i1)) + i1 + LE32(qs::Crc32c(i2)) + i2);
  EXPECT_EQ(ns_->disk_data_bytes(), data.size());
  EXPECT_EQ(ns_->disk_index_bytes(), index.size());
  EXPECT_EQ(ns_->current_offset(), data.size());
}

TEST_F(NamespaceTest, ProveIsHmacSha256OfValueKeyedByNonce) {
  Open();
  ASSERT_TRUE(Set("k", "what do ya want for nothing?").ok());
  std::string proof;
  ASSERT_TRUE(ns_->Prove("k", "Jefe", &proof).ok());
  EXPECT_EQ(proof, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");  // RFC 4231 case 2
  EXPECT_TRUE(ns_->Prove("nope", "Jefe", &proof).IsNotFound());
}

TEST_F(NamespaceTest, SequentialIds) {
  settings_.mode = Mode::kSeq;
  Open();
  EXPECT_EQ(SetSeq("a"), std::string("\0\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(SetSeq("b"), std::string("\x01\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(SetSeq("c"), std::string("\x02\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(ns_->next_seq_id(), 3u);
  EXPECT_EQ(Get(Id(1)), "b");
  ASSERT_TRUE(Set(Id(1), "B").ok());  // an update consumes id 3 (as in 0-db)
  EXPECT_EQ(Get(Id(1)), "B");
  EXPECT_EQ(Get(Id(3)), "NOT_FOUND");
  EXPECT_EQ(ns_->next_seq_id(), 4u);
  EXPECT_TRUE(Set(Id(7), "x").IsNotFound());  // ids are not chosen by clients
  EXPECT_TRUE(Set(Id(3), "x").IsNotFound());  // nor a consumed one
  EXPECT_TRUE(Set("abc", "x").IsNotFound());
  ASSERT_TRUE(ns_->Del(Id(2), 0).ok());
  EXPECT_EQ(SetSeq("d"), Id(4));  // a deleted id is never reused
  ASSERT_TRUE(ns_->Del(Id(4), 0).ok());
  Open();
  EXPECT_EQ(ns_->next_seq_id(), 5u);  // recovered from the tombstone
  EXPECT_EQ(Get(Id(0)), "a");
  EXPECT_EQ(Get(Id(1)), "B");
  EXPECT_EQ(Get(Id(2)), "NOT_FOUND");
  EXPECT_EQ(SetSeq("e"), Id(5));
  // Mode cannot change once written.
  NamespaceSettings s = settings_;
  s.mode = Mode::kUser;
  EXPECT_EQ(ns_->UpdateSettings(s).code(), Status::Code::kInvalidArgument);
}

// 0-db compatibility: in sequential mode a SET consumes an id, new or
// update, a DEL does not. The count survives restart and compaction.
TEST_F(NamespaceTest, SequentialUpdateConsumesAnId) {
  settings_.mode = Mode::kSeq;
  Open();
  EXPECT_EQ(SetSeq("first"), Id(0));
  ASSERT_TRUE(Set(Id(0), "updated").ok());
  ASSERT_TRUE(ns_->Del(Id(0), 0).ok());
  EXPECT_EQ(ns_->next_seq_id(), 2u);
  EXPECT_EQ(SetSeq("second"), Id(2));
  Open();
  EXPECT_EQ(ns_->next_seq_id(), 3u);
  EXPECT_EQ(Get(Id(0)), "NOT_FOUND");
  EXPECT_EQ(Get(Id(1)), "NOT_FOUND");
  EXPECT_EQ(Get(Id(2)), "second");
  // Updates in a segment that compaction then removes still count.
  ASSERT_TRUE(Set(Id(2), "v2").ok());  // consumes 3
  ASSERT_TRUE(Set(Id(2), "v3").ok());  // consumes 4
  ASSERT_TRUE(ns_->Jump().ok());
  ASSERT_TRUE(Set(Id(2), "v4").ok());  // consumes 5
  ASSERT_TRUE(ns_->Jump().ok());
  for (int steps = 0; ns_->CompactStep(0.0, 100) && steps < 100; ++steps) {
  }
  EXPECT_FALSE(env_.Exists(DataFile(0)));
  EXPECT_FALSE(env_.Exists(DataFile(1)));
  Open();
  EXPECT_EQ(Get(Id(2)), "v4");
  EXPECT_EQ(ns_->next_seq_id(), 6u);
  EXPECT_EQ(SetSeq("third"), Id(6));
}

TEST_F(NamespaceTest, UnchangedSetWritesNothing) {
  Open();
  std::string assigned;
  bool unchanged = true;
  ASSERT_TRUE(ns_->Set("k", "same", 5, &assigned, &unchanged).ok());
  EXPECT_FALSE(unchanged);
  uint64_t off = ns_->current_offset();
  ASSERT_TRUE(ns_->Set("k", "same", 6, &assigned, &unchanged).ok());
  EXPECT_TRUE(unchanged);
  EXPECT_EQ(assigned, "k");
  EXPECT_EQ(ns_->current_offset(), off);
  KeyInfo info;
  ASSERT_TRUE(ns_->Stat("k", &info).ok());
  EXPECT_EQ(info.timestamp, 5u);
  ASSERT_TRUE(ns_->Set("k", "diff", 7, &assigned, &unchanged).ok());  // same size, other bytes
  EXPECT_FALSE(unchanged);
  EXPECT_GT(ns_->current_offset(), off);
  EXPECT_EQ(Get("k"), "diff");
}

TEST_F(NamespaceTest, Worm) {
  settings_.worm = true;
  Open();
  ASSERT_TRUE(Set("k", "v").ok());
  EXPECT_EQ(Set("k", "w").code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(ns_->Del("k", 0).code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(Get("k"), "v");
  EXPECT_TRUE(Set("k2", "w").ok());
  std::string a;
  bool unchanged;
  EXPECT_EQ(ns_->Set("k", "v", 0, &a, &unchanged).code(), Status::Code::kPermissionDenied);
}

TEST_F(NamespaceTest, MaxSize) {
  settings_.maxsize = 10;
  Open();
  ASSERT_TRUE(Set("a", "123456").ok());
  EXPECT_EQ(Set("b", "12345").code(), Status::Code::kLimitExceeded);
  EXPECT_EQ(Get("b"), "NOT_FOUND");
  ASSERT_TRUE(Set("b", "1234").ok());  // exactly full
  EXPECT_EQ(ns_->data_bytes(), 10u);
  EXPECT_EQ(Set("a", "1234567").code(), Status::Code::kLimitExceeded);
  ASSERT_TRUE(Set("a", "654321").ok());  // replacing counts the old value as freed
  ASSERT_TRUE(ns_->Del("b", 0).ok());
  ASSERT_TRUE(Set("a", "0123456789").ok());
  Open();
  EXPECT_EQ(ns_->data_bytes(), 10u);
  EXPECT_EQ(Set("c", "x").code(), Status::Code::kLimitExceeded);
}

TEST_F(NamespaceTest, SettingsPersist) {
  Open();
  NamespaceSettings s;
  s.password = "secret";
  s.is_public = false;
  s.maxsize = 1 << 20;
  ASSERT_TRUE(ns_->UpdateSettings(s).ok());
  Open();
  EXPECT_EQ(ns_->settings().password, "secret");
  EXPECT_FALSE(ns_->settings().is_public);
  EXPECT_EQ(ns_->settings().maxsize, 1u << 20);
}

// Live keys in write order (position of their newest entry).
struct Model {
  std::map<std::string, std::string> values;
  std::map<std::string, uint64_t> order;
  uint64_t seq = 0;
  void Set(const std::string& k, const std::string& v) { values[k] = v; order[k] = seq++; }
  void Del(const std::string& k) { values.erase(k); order.erase(k); }
  std::vector<std::string> ScanOrder() const {
    std::vector<std::pair<uint64_t, std::string>> v;
    for (auto& [k, s] : order) v.push_back({s, k});
    std::sort(v.begin(), v.end());
    std::vector<std::string> keys;
    for (auto& p : v) keys.push_back(p.second);
    return keys;
  }
};

TEST_F(NamespaceTest, ScanAcrossSegments) {
  Open();
  std::vector<ScanItem> items;
  std::string next;
  EXPECT_TRUE(ns_->Scan("", false, 10, &items, &next).IsNotFound());
  Model m;
  for (int i = 0; i < 120; ++i) {
    std::string k = "key-" + std::to_string(i);
    std::string v(100 + i % 5, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(Set(k, v, 100 + i).ok());
    m.Set(k, v);
  }
  for (int i = 0; i < 120; i += 7) {
    std::string k = "key-" + std::to_string(i);
    ASSERT_TRUE(Set(k, "overwritten").ok());
    m.Set(k, "overwritten");
  }
  for (int i = 3; i < 120; i += 11) {
    std::string k = "key-" + std::to_string(i);
    ASSERT_TRUE(ns_->Del(k, 0).ok());
    m.Del(k);
  }
  EXPECT_GE(ns_->segment_count(), 4u);
  std::vector<std::string> want = m.ScanOrder();
  for (size_t page : {1, 7, 1000}) {
    EXPECT_EQ(ScanAll(false, page), want) << page;
    std::vector<std::string> rev = want;
    std::reverse(rev.begin(), rev.end());
    EXPECT_EQ(ScanAll(true, page), rev) << page;
  }

  // Cursor = segment u32 + index offset u32 of the item's index entry.
  ASSERT_TRUE(ns_->Scan("", false, 2, &items, &next).ok());
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].key, "key-1");  // key-0 was overwritten
  EXPECT_EQ(items[0].value_size, 101u);
  EXPECT_EQ(items[0].timestamp, 101u);
  uint32_t off = 32 + IndexEntrySize(5) * 2;  // key-0, key-1, key-2
  EXPECT_EQ(next, Cursor(0, off));
  std::string kc;
  ASSERT_TRUE(ns_->KeyCursor("key-2", &kc).ok());
  EXPECT_EQ(kc, next);
  ASSERT_TRUE(ns_->Scan(kc, false, 1, &items, &next).ok());
  EXPECT_EQ(items[0].key, "key-4");  // key-3 deleted
  ASSERT_TRUE(ns_->Scan(kc, true, 1, &items, &next).ok());
  EXPECT_EQ(items[0].key, "key-1");

  EXPECT_EQ(ns_->Scan("12345", false, 1, &items, &next).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(ns_->KeyCursor(want.back(), &kc).ok());
  EXPECT_TRUE(ns_->Scan(kc, false, 5, &items, &next).IsNotFound());
  Open();
  EXPECT_EQ(ScanAll(false, 9), want);
}

TEST_F(NamespaceTest, HistoryChain) {
  Open();
  ASSERT_TRUE(Set("k", "v1", 11).ok());     // segment 0 offset 32, 33 bytes
  ASSERT_TRUE(Set("x", "other", 12).ok());  // offset 65, 36 bytes
  ASSERT_TRUE(Set("k", "v2", 13).ok());     // offset 101
  ASSERT_TRUE(ns_->Jump().ok());
  ASSERT_TRUE(Set("k", "v3", 14).ok());   // segment 1 offset 32
  HistoryItem h;
  ASSERT_TRUE(ns_->History("k", "", &h).ok());
  EXPECT_EQ(h.value, "v3");
  EXPECT_EQ(h.timestamp, 14u);
  EXPECT_FALSE(h.deleted);
  EXPECT_EQ(h.parent_cursor, Cursor(0, 101));
  std::string c = h.parent_cursor;
  ASSERT_TRUE(ns_->History("k", c, &h).ok());
  EXPECT_EQ(h.value, "v2");
  EXPECT_EQ(h.parent_cursor, Cursor(0, 32));
  c = h.parent_cursor;
  ASSERT_TRUE(ns_->History("k", c, &h).ok());
  EXPECT_EQ(h.value, "v1");
  EXPECT_EQ(h.timestamp, 11u);
  EXPECT_EQ(h.parent_cursor, "");
  EXPECT_EQ(ns_->History("x", Cursor(0, 101), &h).code(), Status::Code::kInvalidArgument);  // another key
  EXPECT_FALSE(ns_->History("k", Cursor(0, 33), &h).ok());  // not an entry boundary
  EXPECT_EQ(ns_->History("k", Cursor(9, 32), &h).code(), Status::Code::kInvalidArgument);   // no segment
  EXPECT_TRUE(ns_->History("nope", "", &h).IsNotFound());
  // A tombstone is part of the chain; its parent is the last value.
  ASSERT_TRUE(ns_->Del("k", 15).ok());
  ASSERT_TRUE(ns_->History("k", Cursor(1, 32 + 33), &h).ok());
  EXPECT_TRUE(h.deleted);
  EXPECT_EQ(h.parent_cursor, Cursor(1, 32));
}

TEST_F(NamespaceTest, Flush) {
  Open();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Set("k" + std::to_string(i), std::string(100, 'v')).ok());
  ASSERT_GT(ns_->segment_count(), 1u);
  ASSERT_TRUE(ns_->Flush().ok());
  EXPECT_EQ(ns_->entries(), 0u);
  EXPECT_EQ(ns_->segment_count(), 0u);
  EXPECT_EQ(ns_->disk_data_bytes(), 0u);
  EXPECT_EQ(Get("k1"), "NOT_FOUND");
  auto names = env_.ListDir(DataDir());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
  names = env_.ListDir(IndexDir());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"zdb-namespace"});  // settings stay
  ASSERT_TRUE(Set("after", "flush").ok());
  EXPECT_EQ(ns_->current_segment(), 0u);
  Open();
  EXPECT_EQ(ns_->entries(), 1u);
  EXPECT_EQ(Get("after"), "flush");
  EXPECT_EQ(Get("k1"), "NOT_FOUND");
}

// FLUSH of a namespace syncs nothing: the files it removes need no
// fdatasync, and without fsync=always nor does the directory (0-db-fs
// flushes its temporary namespace every idle second).
TEST_F(NamespaceTest, FlushSyncsNothing) {
  Open();
  ASSERT_TRUE(ns_->Flush().ok());  // an empty namespace
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Set("k" + std::to_string(i), "v").ok());
  uint64_t syncs = env_.sync_count(), dir_syncs = env_.dir_sync_count();
  ASSERT_TRUE(ns_->Flush().ok());
  EXPECT_EQ(env_.sync_count(), syncs);
  EXPECT_EQ(env_.dir_sync_count(), dir_syncs);
  EXPECT_EQ(Get("k1"), "NOT_FOUND");
  ASSERT_TRUE(ns_->Flush().ok());  // again, nothing written since
  EXPECT_EQ(env_.dir_sync_count(), dir_syncs);
  ASSERT_TRUE(Set("after", "flush").ok());
  Open();
  EXPECT_EQ(Get("after"), "flush");
  EXPECT_EQ(Get("k1"), "NOT_FOUND");
  EXPECT_EQ(ns_->entries(), 1u);
  // With fsync=always the removal is made durable before FLUSH returns.
  opts_.sync_always = true;
  Open();
  dir_syncs = env_.dir_sync_count();
  ASSERT_TRUE(ns_->Flush().ok());
  EXPECT_EQ(env_.dir_sync_count(), dir_syncs + 2);
}

TEST_F(NamespaceTest, Jump) {
  Open();
  std::vector<std::string> jumped;
  NamespaceEvents ev;
  ev.on_jump_data = [&](const std::string& o, const std::string& n) { jumped.push_back(o + ">" + n); };
  ns_->set_events(ev);
  ASSERT_TRUE(Set("a", "1").ok());
  ASSERT_TRUE(ns_->Jump().ok());
  ASSERT_EQ(jumped.size(), 1u);
  EXPECT_EQ(jumped[0], DataFile(0) + ">" + DataFile(1));
  ASSERT_TRUE(ns_->Jump().ok());  // nothing written since: no empty segment
  ASSERT_TRUE(Set("b", "2").ok());
  EXPECT_EQ(ns_->current_segment(), 1u);
  EXPECT_TRUE(env_.Exists(DataFile(1)));
  EXPECT_FALSE(env_.Exists(DataFile(2)));
  Open();
  EXPECT_EQ(ns_->segment_count(), 2u);
  EXPECT_EQ(Get("a"), "1");
  EXPECT_EQ(Get("b"), "2");
  ASSERT_TRUE(Set("c", "3").ok());
  EXPECT_EQ(ns_->current_segment(), 1u);  // the last segment is not full: appended to
}

TEST_F(NamespaceTest, RotationAtDataSize) {
  Open();
  std::string v(1000, 'x');
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(Set("k" + std::to_string(i), v).ok());
  // 32-byte header + 3 entries of 1032 bytes fit in 4096, a 4th does not.
  EXPECT_EQ(ns_->segment_count(), 4u);
  EXPECT_EQ(zdb_test::FileSize(DataFile(0)), 32u + 3 * 1032);
  // A value larger than datasize still goes in, alone in its segment.
  ASSERT_TRUE(Set("big", std::string(10000, 'b')).ok());
  EXPECT_EQ(zdb_test::FileSize(DataFile(4)), 32u + 30 + 3 + 10000);
  ASSERT_TRUE(Set("after", "x").ok());
  EXPECT_EQ(ns_->current_segment(), 5u);
  EXPECT_EQ(Get("big"), std::string(10000, 'b'));
}

TEST_F(NamespaceTest, CompactionReclaimsAndKeepsLiveKeys) {
  Open();
  Model m;
  auto set = [&](const std::string& k, const std::string& v) {
    ASSERT_TRUE(Set(k, v).ok());
    m.Set(k, v);
  };
  // Segment 0: values that stay live, and a victim deleted later.
  for (int i = 0; i < 10; ++i) set("live" + std::to_string(i), std::string(200, static_cast<char>('A' + i)));
  set("victim", "doomed");
  ASSERT_TRUE(ns_->Jump().ok());
  // Segment 1: the victim's tombstone and keys that are all rewritten later.
  ASSERT_TRUE(ns_->Del("victim", 0).ok());
  m.Del("victim");
  for (int i = 0; i < 10; ++i) set("tmp" + std::to_string(i), std::string(300, 't'));
  set("keep1", "still-live-in-segment-1");
  ASSERT_TRUE(ns_->Jump().ok());
  for (int i = 0; i < 10; ++i) set("tmp" + std::to_string(i), "new" + std::to_string(i));
  ASSERT_EQ(ns_->segment_count(), 3u);
  uint64_t disk_before = ns_->disk_data_bytes();

  int steps = 0;
  while (ns_->CompactStep(0.5, 4) && steps < 1000) ++steps;
  EXPECT_GT(steps, 1);
  EXPECT_FALSE(env_.Exists(DataFile(1)));  // mostly dead: compacted away
  EXPECT_FALSE(env_.Exists(IndexFile(1)));
  EXPECT_TRUE(env_.Exists(DataFile(0)));   // mostly live: kept
  EXPECT_LT(ns_->disk_data_bytes(), disk_before);
  EXPECT_EQ(ns_->segment_count(), 2u);

  auto verify = [&] {
    EXPECT_EQ(ns_->entries(), m.values.size());
    for (auto& [k, v] : m.values) EXPECT_EQ(Get(k), v) << k;
    EXPECT_EQ(Get("victim"), "NOT_FOUND");  // the tombstone was carried over
    std::vector<std::string> scanned = ScanAll(false, 5);
    std::sort(scanned.begin(), scanned.end());
    std::vector<std::string> keys;
    for (auto& [k, v] : m.values) keys.push_back(k);
    EXPECT_EQ(scanned, keys);
  };
  verify();
  Open();
  verify();
  EXPECT_EQ(ns_->segment_count(), 2u);
}

// Random writes with frequent compaction and reopening, against a model.
TEST_F(NamespaceTest, CompactionRandomized) {
  Open();
  std::map<std::string, std::string> m;
  std::mt19937 rng(42);
  for (int round = 0; round < 6; ++round) {
    for (int op = 0; op < 400; ++op) {
      std::string k = "k" + std::to_string(rng() % 60);
      if (rng() % 4 == 0) {
        Status s = ns_->Del(k, 0);
        ASSERT_EQ(s.ok(), m.count(k) == 1) << s.ToString();
        m.erase(k);
      } else {
        std::string v(rng() % 200, static_cast<char>('a' + rng() % 26));
        v += std::to_string(op);
        ASSERT_TRUE(Set(k, v).ok());
        m[k] = v;
      }
      if (op % 50 == 0) ns_->CompactStep(0.3, 8);
    }
    while (ns_->CompactStep(0.3, 8)) {
    }
    for (auto& [k, v] : m) ASSERT_EQ(Get(k), v) << k;
    Open();
    ASSERT_EQ(ns_->entries(), m.size());
    for (auto& [k, v] : m) ASSERT_EQ(Get(k), v) << k;
    for (int i = 0; i < 60; ++i) {
      std::string k = "k" + std::to_string(i);
      if (m.count(k) == 0) {
        ASSERT_EQ(Get(k), "NOT_FOUND") << k;
      }
    }
  }
  // Dead data went away: far fewer bytes on disk than were ever written.
  EXPECT_LT(ns_->disk_data_bytes(), 6u * 400 * 130 / 3);
}

TEST_F(NamespaceTest, RestartKeepsEverything) {
  Open();
  Model m;
  std::mt19937 rng(1);
  for (int i = 0; i < 500; ++i) {
    std::string k = "key" + std::to_string(rng() % 300);
    if (i % 9 == 0 && m.values.count(k)) {
      ASSERT_TRUE(ns_->Del(k, 0).ok());
      m.Del(k);
      continue;
    }
    std::string v = std::string(rng() % 90, 'q') + std::to_string(i);
    ASSERT_TRUE(Set(k, v, 5000 + i).ok());
    m.Set(k, v);
  }
  uint64_t entries = ns_->entries(), live = ns_->data_bytes(), disk = ns_->disk_data_bytes();
  uint64_t disk_index = ns_->disk_index_bytes();
  size_t segs = ns_->segment_count();
  std::vector<std::string> scan = ScanAll(false, 13);
  EXPECT_EQ(scan, m.ScanOrder());
  Open();
  EXPECT_EQ(ns_->entries(), entries);
  EXPECT_EQ(ns_->data_bytes(), live);
  EXPECT_EQ(ns_->disk_data_bytes(), disk);
  EXPECT_EQ(ns_->disk_index_bytes(), disk_index);
  EXPECT_EQ(ns_->segment_count(), segs);
  EXPECT_EQ(ScanAll(false, 13), scan);
  for (auto& [k, v] : m.values) EXPECT_EQ(Get(k), v);
  EXPECT_EQ(ns_->corrupt_entries(), 0u);
}

TEST_F(NamespaceTest, SyncAndDirtyTracking) {
  Open();
  EXPECT_FALSE(ns_->dirty());
  ASSERT_TRUE(Set("a", "1").ok());
  EXPECT_TRUE(ns_->dirty());
  uint64_t syncs = env_.sync_count();
  ASSERT_TRUE(ns_->Sync().ok());
  EXPECT_EQ(env_.sync_count(), syncs + 2);  // data and index
  EXPECT_FALSE(ns_->dirty());
  EXPECT_EQ(env_.SyncedSize(DataFile(0)), zdb_test::FileSize(DataFile(0)));
  EXPECT_EQ(env_.SyncedSize(IndexFile(0)), zdb_test::FileSize(IndexFile(0)));

  ASSERT_TRUE(Set("b", "2").ok());
  uint64_t gen = 0;
  auto files = ns_->DirtyFiles(&gen);
  ASSERT_EQ(files.size(), 2u);
  ASSERT_TRUE(Set("c", "3").ok());  // written after the snapshot
  for (auto& f : files) ASSERT_TRUE(f->Sync().ok());
  ns_->MarkSynced(gen);
  EXPECT_TRUE(ns_->dirty());  // "c" is not covered by that generation
  files = ns_->DirtyFiles(&gen);
  for (auto& f : files) ASSERT_TRUE(f->Sync().ok());
  ns_->MarkSynced(gen);
  EXPECT_FALSE(ns_->dirty());
  EXPECT_TRUE(ns_->DirtyFiles(&gen).empty());
}

}  // namespace
}  // namespace zdb
