#include "zdb/key_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace zdb {
namespace {

Location Loc(uint32_t s, uint32_t o, uint32_t l) { return Location{s, o, l}; }

TEST(SeqKeyIndex, EncodeDecodeIds) {
  EXPECT_EQ(SeqKeyIndex::EncodeId(0), std::string(8, '\0'));
  EXPECT_EQ(SeqKeyIndex::EncodeId(0x0102030405060708ull), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  uint64_t id = 0;
  ASSERT_TRUE(SeqKeyIndex::DecodeId(std::string("\x02\x01\0\0\0\0\0\0", 8), &id));
  EXPECT_EQ(id, 0x0102u);
  EXPECT_FALSE(SeqKeyIndex::DecodeId("1234567", &id));
  EXPECT_FALSE(SeqKeyIndex::DecodeId("123456789", &id));
}

TEST(SeqKeyIndex, PutFindEraseAndNextId) {
  SeqKeyIndex idx;
  Location l;
  EXPECT_EQ(idx.next_id(), 0u);
  EXPECT_FALSE(idx.Find(SeqKeyIndex::EncodeId(0), &l));
  EXPECT_FALSE(idx.Put("short", Loc(1, 2, 3), &l));  // not an id: ignored
  EXPECT_EQ(idx.size(), 0u);

  for (uint64_t i = 0; i < 3; ++i) EXPECT_FALSE(idx.Put(SeqKeyIndex::EncodeId(i), Loc(0, 32 + i, 40), nullptr));
  EXPECT_EQ(idx.size(), 3u);
  EXPECT_EQ(idx.next_id(), 3u);
  ASSERT_TRUE(idx.Find(SeqKeyIndex::EncodeId(1), &l));
  EXPECT_EQ(l, Loc(0, 33, 40));

  Location old;
  EXPECT_TRUE(idx.Put(SeqKeyIndex::EncodeId(1), Loc(2, 64, 50), &old));
  EXPECT_EQ(old, Loc(0, 33, 40));
  EXPECT_EQ(idx.size(), 3u);

  EXPECT_TRUE(idx.Erase(SeqKeyIndex::EncodeId(2), &old));
  EXPECT_EQ(old, Loc(0, 34, 40));
  EXPECT_FALSE(idx.Find(SeqKeyIndex::EncodeId(2), &l));
  EXPECT_FALSE(idx.Erase(SeqKeyIndex::EncodeId(2), &old));
  EXPECT_EQ(idx.size(), 2u);
  EXPECT_EQ(idx.next_id(), 3u);  // a deleted id is not handed out again

  // Erasing an unknown id still advances next_id (a replayed tombstone).
  EXPECT_FALSE(idx.Erase(SeqKeyIndex::EncodeId(9), &old));
  EXPECT_EQ(idx.next_id(), 10u);
  idx.set_next_id(5);  // never goes backwards
  EXPECT_EQ(idx.next_id(), 10u);

  // Across chunk boundaries.
  uint64_t big = (uint64_t{1} << SeqKeyIndex::kChunkBits) * 2 + 5;
  EXPECT_FALSE(idx.Put(SeqKeyIndex::EncodeId(big), Loc(7, 8, 9), nullptr));
  ASSERT_TRUE(idx.Find(SeqKeyIndex::EncodeId(big), &l));
  EXPECT_EQ(l, Loc(7, 8, 9));
  EXPECT_FALSE(idx.Find(SeqKeyIndex::EncodeId(big - 1), &l));
  EXPECT_FALSE(idx.Find(SeqKeyIndex::EncodeId(big * 100), &l));
  EXPECT_EQ(idx.next_id(), big + 1);
  EXPECT_GE(idx.MemoryUsage(), 3u * 12 * (size_t{1} << SeqKeyIndex::kChunkBits));

  idx.Clear();
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_EQ(idx.next_id(), 0u);
  EXPECT_FALSE(idx.Find(SeqKeyIndex::EncodeId(0), &l));
}

TEST(UserKeyIndex, Basic) {
  UserKeyIndex idx;
  Location l, old;
  EXPECT_FALSE(idx.Find("a", &l));
  EXPECT_FALSE(idx.Put("a", Loc(1, 2, 3), &old));
  EXPECT_FALSE(idx.Put(std::string(255, 'z'), Loc(4, 5, 6), &old));
  EXPECT_FALSE(idx.Put(std::string("\0b", 2), Loc(7, 8, 9), &old));
  EXPECT_EQ(idx.size(), 3u);
  ASSERT_TRUE(idx.Find("a", &l));
  EXPECT_EQ(l, Loc(1, 2, 3));
  ASSERT_TRUE(idx.Find(std::string(255, 'z'), &l));
  EXPECT_EQ(l, Loc(4, 5, 6));
  ASSERT_TRUE(idx.Find(std::string("\0b", 2), &l));
  EXPECT_FALSE(idx.Find("b", &l));
  EXPECT_FALSE(idx.Find(std::string(254, 'z'), &l));

  EXPECT_TRUE(idx.Put("a", Loc(10, 20, 30), &old));
  EXPECT_EQ(old, Loc(1, 2, 3));
  EXPECT_EQ(idx.size(), 3u);
  EXPECT_TRUE(idx.Erase("a", &old));
  EXPECT_EQ(old, Loc(10, 20, 30));
  EXPECT_FALSE(idx.Erase("a", &old));
  EXPECT_FALSE(idx.Find("a", &l));
  EXPECT_EQ(idx.size(), 2u);

  idx.Clear();
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_FALSE(idx.Find("\0b", &l));
  EXPECT_FALSE(idx.Put("a", Loc(1, 1, 1), &old));  // usable after Clear
  EXPECT_TRUE(idx.Find("a", &l));
}

// Fills the initial 1024-slot table to just under its load limit so probe
// chains are long and wrap around, then erases in random order, checking
// after every erase that each remaining key is still reachable: a wrong
// backward shift strands a key behind an empty slot.
TEST(UserKeyIndex, BackwardShiftDeletion) {
  for (int round = 0; round < 5; ++round) {
    UserKeyIndex idx;
    std::vector<std::string> keys;
    for (int i = 0; i < 819; ++i) keys.push_back("k" + std::to_string(round) + "-" + std::to_string(i));
    for (size_t i = 0; i < keys.size(); ++i) ASSERT_FALSE(idx.Put(keys[i], Loc(0, i, 1), nullptr));
    size_t mem = idx.MemoryUsage();
    std::mt19937 rng(round);
    std::vector<size_t> order(keys.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> gone(keys.size(), false);
    for (size_t n = 0; n < order.size(); ++n) {
      ASSERT_TRUE(idx.Erase(keys[order[n]], nullptr));
      gone[order[n]] = true;
      if (n % 7 != 0 && n + 1 != order.size()) continue;  // full sweep every few erases
      for (size_t i = 0; i < keys.size(); ++i) {
        Location l;
        bool found = idx.Find(keys[i], &l);
        ASSERT_EQ(found, !gone[i]) << "round " << round << " erase #" << n << " key " << keys[i];
        if (found) {
          ASSERT_EQ(l.offset, i);
        }
      }
    }
    EXPECT_EQ(idx.size(), 0u);
    EXPECT_EQ(idx.MemoryUsage(), mem);  // no growth happened: the table stayed small
  }
}

TEST(UserKeyIndex, GrowthKeepsEverything) {
  UserKeyIndex idx;
  size_t mem0 = idx.MemoryUsage();
  const int n = 100000;
  for (int i = 0; i < n; ++i) ASSERT_FALSE(idx.Put("key:" + std::to_string(i), Loc(i % 7, i, i + 30), nullptr));
  EXPECT_EQ(idx.size(), static_cast<uint64_t>(n));
  // At most 0.8 load: 100000 keys need at least 131072 slots.
  EXPECT_GE(idx.MemoryUsage(), mem0 + 131072 * 8 - 1024 * 8);
  for (int i = 0; i < n; ++i) {
    Location l;
    ASSERT_TRUE(idx.Find("key:" + std::to_string(i), &l)) << i;
    ASSERT_EQ(l, Loc(i % 7, i, i + 30));
  }
  Location l;
  EXPECT_FALSE(idx.Find("key:" + std::to_string(n), &l));
}

// ~200k random operations against std::unordered_map over a small key space
// so that keys are erased, re-inserted and overwritten many times.
TEST(UserKeyIndex, RandomizedAgainstUnorderedMap) {
  UserKeyIndex idx;
  std::unordered_map<std::string, Location> ref;
  std::mt19937_64 rng(20240501);
  auto random_key = [&] {
    uint64_t k = rng() % 20000;
    std::string s = std::to_string(k);
    s.append(k % 13, static_cast<char>('a' + k % 26));  // varied key lengths
    if (k % 97 == 0) s.append(200, 'x');
    return s;
  };
  for (int op = 0; op < 200000; ++op) {
    std::string key = random_key();
    int kind = static_cast<int>(rng() % 10);
    Location got, old;
    if (kind < 5) {
      Location loc = Loc(static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()));
      auto it = ref.find(key);
      bool existed = idx.Put(key, loc, &old);
      ASSERT_EQ(existed, it != ref.end()) << op;
      if (existed) {
        ASSERT_EQ(old, it->second);
      }
      ref[key] = loc;
    } else if (kind < 8) {
      auto it = ref.find(key);
      bool existed = idx.Erase(key, &old);
      ASSERT_EQ(existed, it != ref.end()) << op;
      if (existed) {
        ASSERT_EQ(old, it->second);
        ref.erase(it);
      }
    } else {
      auto it = ref.find(key);
      bool found = idx.Find(key, &got);
      ASSERT_EQ(found, it != ref.end()) << op;
      if (found) {
        ASSERT_EQ(got, it->second);
      }
    }
    ASSERT_EQ(idx.size(), ref.size());
  }
  for (const auto& [k, v] : ref) {
    Location l;
    ASSERT_TRUE(idx.Find(k, &l));
    ASSERT_EQ(l, v);
  }
}

// Erasing more than 64 MiB of arena records triggers arena compaction; every
// remaining key must survive it with its location.
TEST(UserKeyIndex, ArenaCompaction) {
  UserKeyIndex idx;
  const int n = 400000;
  auto key = [](int i) {
    std::string k = std::to_string(i);
    k.resize(240, '#');
    return k;
  };
  for (int i = 0; i < n; ++i) ASSERT_FALSE(idx.Put(key(i), Loc(1, i, 2), nullptr));
  size_t before = idx.MemoryUsage();
  for (int i = 0; i < n; ++i) {
    if (i % 4 != 0) {
      ASSERT_TRUE(idx.Erase(key(i), nullptr));
    }
  }
  EXPECT_EQ(idx.size(), static_cast<uint64_t>(n / 4));
  EXPECT_LT(idx.MemoryUsage(), before);  // the arena shrank
  for (int i = 0; i < n; ++i) {
    Location l;
    bool found = idx.Find(key(i), &l);
    ASSERT_EQ(found, i % 4 == 0) << i;
    if (found) {
      ASSERT_EQ(l, Loc(1, i, 2));
    }
  }
  // Still writable after compaction.
  ASSERT_TRUE(idx.Put(key(0), Loc(9, 9, 9), nullptr));
  ASSERT_FALSE(idx.Put(key(1), Loc(8, 8, 8), nullptr));
  Location l;
  ASSERT_TRUE(idx.Find(key(1), &l));
  EXPECT_EQ(l, Loc(8, 8, 8));
}

}  // namespace
}  // namespace zdb
