// zstor against real zdb processes on Unix sockets (see cluster_fixture.h).
#include "tests/zstor/cluster_fixture.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <map>
#include <set>

#include "zstor/crypto.h"
#include "zstor/metadata.h"

namespace {

using namespace zstor_test;

TEST_F(ClusterTest, RoundTripsByteForByte) {
  std::vector<std::pair<std::string, std::string>> objects = {
      {"empty", ""},
      {"one", "x"},
      {"k-1", RandomData(15, 1)},
      {"chunk-1", RandomData((1 << 20) - 1, 2)},
      {"chunk", RandomData(1 << 20, 3)},
      {"chunk+1", RandomData((1 << 20) + 1, 4)},
      {"several", RandomData(3 * (1 << 20) + 12345, 5)},
      {"text", TextData(5 * (1 << 20) + 77)},
  };
  for (auto& [name, data] : objects) {
    std::string in = WriteFile(name + ".in", data);
    ASSERT_TRUE(store_->Store(in, "/obj/" + name).ok()) << name;
  }
  auto list = store_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), objects.size());
  for (auto& [name, data] : objects) {
    std::string out = dir_.path() + "/" + name + ".out";
    auto s = store_->Retrieve("/obj/" + name, out);
    ASSERT_TRUE(s.ok()) << name << ": " << s.ToString();
    EXPECT_EQ(zdb_test::ReadRaw(out), data) << name;
  }
  // Text-like data was compressed: far fewer bytes on the backends than 20/16 of it.
  auto meta = store_->meta().Get("/obj/text");
  ASSERT_TRUE(meta.ok());
  EXPECT_TRUE(meta->chunks[0].flags & zstor::kChunkCompressed);
  auto rnd = store_->meta().Get("/obj/several");
  EXPECT_FALSE(rnd->chunks[0].flags & zstor::kChunkCompressed);  // stored raw
  // Every fragment of a chunk sits on a distinct backend.
  std::set<int> procs;
  for (size_t j = 0; j < 20; ++j) procs.insert(ProcessOf(*rnd, 0, j));
  EXPECT_EQ(procs.size(), 20u);
}

TEST_F(ClusterTest, SurvivesFourLossesNotFive) {
  std::string data = RandomData(2 * (1 << 20) + 999, 11);
  ASSERT_TRUE(store_->Store(WriteFile("a.in", data), "/a").ok());
  auto meta = store_->meta().Get("/a");
  ASSERT_TRUE(meta.ok());
  // Kill the backends of 4 data fragments (forcing a real decode).
  std::vector<int> victims;
  for (size_t j = 0; j < 5; ++j) victims.push_back(ProcessOf(*meta, 0, j));
  for (int i = 0; i < 4; ++i) KillBackend(victims[static_cast<size_t>(i)]);
  std::string out = dir_.path() + "/a.out";
  auto s = store_->Retrieve("/a", out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
  std::filesystem::remove(out);
  KillBackend(victims[4]);
  s = store_->Retrieve("/a", out);
  EXPECT_EQ(s.code(), qs::Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("cannot be rebuilt"), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(out + ".zstor-tmp"));
  for (int v : victims) StartBackend(v);
  for (int v : victims) PoolBackend(v).MarkUp();
  s = store_->Retrieve("/a", out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
}

// Verify checks every fragment's length on its backend; `tolerate` lets
// that many per chunk be out of reach (eviction of staging segments).
TEST_F(ClusterTest, VerifyToleratesAsManyLostFragmentsAsAsked) {
  ASSERT_TRUE(store_->Store(WriteFile("v.in", RandomData(300000, 5)), "/v").ok());
  auto meta = store_->meta().Get("/v");
  ASSERT_TRUE(meta.ok());
  EXPECT_TRUE(store_->Verify("/v", meta->object_id).ok());
  EXPECT_FALSE(store_->Verify("/v", "another id").ok());
  KillBackend(ProcessOf(*meta, 0, 0));
  KillBackend(ProcessOf(*meta, 0, 7));
  EXPECT_FALSE(store_->Verify("/v", meta->object_id).ok());
  EXPECT_FALSE(store_->Verify("/v", meta->object_id, 1).ok());
  EXPECT_TRUE(store_->Verify("/v", meta->object_id, 2).ok());
  KillBackend(ProcessOf(*meta, 0, 19));
  EXPECT_FALSE(store_->Verify("/v", meta->object_id, 2).ok());
}

// The record's object checksum is a hash list over the chunks (their GCM
// tags): a record whose checksum does not match is refused and writes no
// file. Records of older writers (chunk flag bit 2 clear) list the SHA-256
// of each chunk's plaintext instead, and still read back.
TEST_F(ClusterTest, ObjectChecksumIsCheckedAndOlderRecordsStillRead) {
  const std::string data = RandomData(2 * (1 << 20) + 5, 41) + TextData((1 << 20) + 3);  // raw and zstd chunks
  ASSERT_TRUE(store_->Store(WriteFile("h.in", data), "/h").ok());
  auto meta = store_->meta().Get("/h");
  ASSERT_TRUE(meta.ok());
  ASSERT_EQ(meta->chunks.size(), 4u);
  EXPECT_FALSE(meta->chunks[0].flags & zstor::kChunkCompressed);
  EXPECT_TRUE(meta->chunks[2].flags & zstor::kChunkCompressed);  // 5 random bytes, then text
  const std::string out = dir_.path() + "/h.out";
  ASSERT_TRUE(store_->Retrieve("/h", out).ok());
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
  ASSERT_EQ(unlink(out.c_str()), 0);

  auto expect_refused = [&](const zstor::ObjectMeta& m, const char* what) {
    ASSERT_TRUE(store_->meta().Put(m).ok()) << what;
    qs::Status s = store_->Retrieve("/h", out);
    EXPECT_TRUE(s.IsCorruption()) << what << ": " << s.ToString();
    EXPECT_NE(s.message().find("does not match its checksum"), std::string::npos) << what << ": " << s.ToString();
    EXPECT_NE(access(out.c_str(), F_OK), 0) << what;
    EXPECT_NE(access((out + ".zstor-tmp").c_str(), F_OK), 0) << what;
  };
  zstor::ObjectMeta bad = *meta;
  bad.checksum[7] ^= 0x10;
  expect_refused(bad, "flipped checksum");

  // As an older writer recorded it: plaintext SHA-256 digests in the list.
  zstor::ObjectMeta old = *meta;
  zstor::Sha256Hasher list;
  for (size_t i = 0; i < old.chunks.size(); ++i) {
    old.chunks[i].flags &= static_cast<uint8_t>(~zstor::kChunkTagDigest);
    zstor::Digest d = zstor::Sha256(std::string_view(data).substr(i << 20, 1 << 20));
    list.Update(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
  }
  old.checksum = list.Finish();
  ASSERT_TRUE(store_->meta().Put(old).ok());
  qs::Status s = store_->Retrieve("/h", out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
  ASSERT_EQ(unlink(out.c_str()), 0);
  // ... and there the plaintext is what the list checks.
  old.checksum = meta->checksum;
  expect_refused(old, "older record, tag list as checksum");
}

TEST_F(ClusterTest, CorruptFragmentIsDetectedAndRebuilt) {
  std::string data = TextData(1 << 20);
  ASSERT_TRUE(store_->Store(WriteFile("c.in", data), "/c").ok());
  auto meta = store_->meta().Get("/c");
  ASSERT_TRUE(meta.ok());
  // Rewrite fragment 3 with one byte flipped: zdb's own CRC is valid, only
  // zstor's checksum can tell.
  int p = ProcessOf(*meta, 0, 3);
  qs::ZdbAddress addr;
  addr.unix_path = Sock(p);
  qs::ZdbClient client(addr);
  auto bytes = client.Get(meta->chunks[0].fragments[3].key);
  ASSERT_TRUE(bytes.ok() && bytes->has_value());
  std::string bad = **bytes;
  bad[bad.size() / 2] ^= 1;
  ASSERT_TRUE(client.Set(meta->chunks[0].fragments[3].key, bad).ok());
  auto report = store_->Check("/c");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->fragments_ok, 19u);
  EXPECT_TRUE(report->readable());
  EXPECT_FALSE(report->complete());
  std::string out = dir_.path() + "/c.out";
  ASSERT_TRUE(store_->Retrieve("/c", out).ok());
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
  auto rebuilt = store_->Rebuild("/c");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, 1u);
  report = store_->Check("/c");
  EXPECT_TRUE(report->complete());
}

TEST_F(ClusterTest, RebuildOntoSpareThenSurviveFourMore) {
  std::string data = RandomData(1 << 20, 21);
  ASSERT_TRUE(store_->Store(WriteFile("d.in", data), "/d").ok());
  auto meta = store_->meta().Get("/d");
  int dead = ProcessOf(*meta, 0, 0);
  KillBackend(dead);  // for good
  auto rebuilt = store_->Rebuild("/d");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, 1u);
  auto report = store_->Check("/d");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->complete());
  // Four more losses, none of them the dead one.
  meta = store_->meta().Get("/d");
  int killed = 0;
  for (size_t j = 0; j < 20 && killed < 4; ++j) {
    int p = ProcessOf(*meta, 0, j);
    if (p != dead && p >= 0) {
      KillBackend(p);
      ++killed;
    }
  }
  std::string out = dir_.path() + "/d.out";
  auto s = store_->Retrieve("/d", out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
}

TEST_F(ClusterTest, DeleteAndReplaceFreeFragments) {
  std::string in = WriteFile("e.in", RandomData(300000, 31));
  ASSERT_TRUE(store_->Store(in, "/e").ok());
  long long total = 0;
  for (int i = 0; i < kData; ++i) total += Dbsize(i);
  EXPECT_EQ(total, 20);
  ASSERT_TRUE(store_->Store(in, "/e").ok());  // replace: old fragments freed
  total = 0;
  for (int i = 0; i < kData; ++i) total += Dbsize(i);
  EXPECT_EQ(total, 20);
  ASSERT_TRUE(store_->Delete("/e").ok());
  total = 0;
  for (int i = 0; i < kData; ++i) total += Dbsize(i);
  EXPECT_EQ(total, 0);
  EXPECT_TRUE(store_->meta().Get("/e").status().IsNotFound());
  EXPECT_TRUE(store_->Delete("/e").IsNotFound());
  auto list = store_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(ClusterTest, WrongKeysAreRefusedCleanly) {
  std::string data = TextData(200000);
  ASSERT_TRUE(store_->Store(WriteFile("f.in", data), "/f").ok());
  // Wrong data key: authentication fails, no output file.
  WriteConfig(dir_.path() + "/bad.toml", zstor::Key::Random().ToHex(), meta_key_hex_);
  auto bad_cfg = zstor::LoadConfig(dir_.path() + "/bad.toml");
  ASSERT_TRUE(bad_cfg.ok());
  auto bad = zstor::ObjectStore::Create(bad_cfg.value());
  std::string out = dir_.path() + "/f.out";
  auto s = (*bad)->Retrieve("/f", out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("authentication failed"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out));
  // Wrong meta key: the record cannot be decrypted.
  WriteConfig(dir_.path() + "/bad2.toml", key_hex_, zstor::Key::Random().ToHex());
  auto bad2_cfg = zstor::LoadConfig(dir_.path() + "/bad2.toml");
  ASSERT_TRUE(bad2_cfg.ok());
  auto bad2 = zstor::ObjectStore::Create(bad2_cfg.value());
  s = (*bad2)->Retrieve("/f", out);
  EXPECT_NE(s.message().find("wrong meta key"), std::string::npos) << s.ToString();
  // `zstor list` with the wrong meta key fails, it does not list nothing.
  std::string zstor = std::string(QS_BIN_DIR) + "/zstor -c " + dir_.path() + "/bad2.toml ";
  for (const char* args : {"list", "--json list"}) {
    auto [rc, text] = RunCommand(zstor + args);
    EXPECT_EQ(rc, 1) << args << ": " << text;
    EXPECT_NE(text.find("1 of 1 object records unreadable"), std::string::npos) << args << ": " << text;
    EXPECT_NE(text.find("wrong meta key"), std::string::npos) << args << ": " << text;
  }
  auto [rc, text] = RunCommand(std::string(QS_BIN_DIR) + "/zstor -c " + dir_.path() + "/zstor.toml list");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("/f"), std::string::npos) << text;
}

TEST_F(ClusterTest, StoreSkipsDeadBackendsAndRespectsLabels) {
  // Two backends down before the store: placement avoids them (22 - 2 = 20).
  KillBackend(0);
  KillBackend(1);
  // Only zdb 0 is known to be down; zdb 1 is found dead during the store,
  // which then retries on other backends.
  PoolBackend(0).MarkDown(qs::Status::Unavailable("test"));
  auto st = store_->Store(WriteFile("g.in", "payload"), "/g");
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto meta = store_->meta().Get("/g");
  for (size_t j = 0; j < 20; ++j) {
    EXPECT_NE(ProcessOf(*meta, 0, j), 0);
    EXPECT_NE(ProcessOf(*meta, 0, j), 1);
  }
  // A third one down: 19 healthy backends cannot hold 20 fragments.
  KillBackend(2);
  PoolBackend(2).MarkDown(qs::Status::Unavailable("test"));
  auto s = store_->Store(WriteFile("h.in", "payload"), "/h");
  EXPECT_EQ(s.code(), qs::Status::Code::kUnavailable);
  EXPECT_NE(s.message().find("only 19 healthy backends"), std::string::npos) << s.message();
  EXPECT_TRUE(store_->meta().Get("/h").status().IsNotFound());
}

TEST_F(ClusterTest, PolicyKeepsObjectsOnLabelledBackends) {
  std::string path = dir_.path() + "/policy.toml";
  WriteConfig(path, key_hex_, meta_key_hex_, "", [](int i) { return i < 2 ? "US" : "BE"; });
  {
    std::ofstream f(path, std::ios::app);
    f << "[[policies]]\npath_prefix = \"/eu/\"\n[policies.labels]\ncountry = \"BE\"\n";
  }
  auto cfg = zstor::LoadConfig(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  auto store = zstor::ObjectStore::Create(*cfg);
  ASSERT_TRUE(store.ok());
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE((*store)->Store(WriteFile("p.in", "eu data"), "/eu/p" + std::to_string(round)).ok());
    auto meta = (*store)->meta().Get("/eu/p" + std::to_string(round));
    for (size_t j = 0; j < 20; ++j) {
      EXPECT_GE(ProcessOf(*meta, 0, j), 2) << "fragment " << j << " left the EU";
    }
  }
  // With one BE backend gone, EU data has nowhere to go: a clear refusal.
  KillBackend(5);
  (*store)->backends().at(static_cast<size_t>((*store)->backends().Find("unix:" + Sock(5), "default")))
      .MarkDown(qs::Status::Unavailable("test"));
  auto s = (*store)->Store(WriteFile("p.in", "eu data"), "/eu/late");
  EXPECT_NE(s.message().find("matching the placement policy"), std::string::npos) << s.ToString();
  EXPECT_TRUE((*store)->Store(WriteFile("q.in", "anywhere"), "/elsewhere").ok());
}

TEST_F(ClusterTest, FullBackendsAreSkipped) {
  KillBackend(3);
  StartBackend(3, {"--maxsize", "100"});
  auto& b = PoolBackend(3);
  ASSERT_TRUE(b.RefreshSpace());
  EXPECT_EQ(b.free_bytes(), 100);
  ASSERT_TRUE(store_->Store(WriteFile("full.in", RandomData(200000, 61)), "/full").ok());
  auto meta = store_->meta().Get("/full");
  for (size_t j = 0; j < 20; ++j) EXPECT_NE(ProcessOf(*meta, 0, j), 3);
}

// Repair placement follows the rules of a store (zstor/placement.h): the
// group spread, the [[policies]] labels and free space.

// 8 + 4 with redundant_groups = 1: a group may hold at most 4 fragments of a
// chunk. Store puts 3 in each group; group 3 loses its three. The first
// spares in config order are group 0's, which could take all three (6 in
// one group: losing it would leave 6 < 8).
TEST_F(ClusterTest, RebuildKeepsTheGroupSpread) {
  auto store = OpenStore("minimal_shards = 8\nexpected_shards = 12\nredundant_groups = 1\nredundant_nodes = 0\n");
  ASSERT_TRUE(store);
  std::string data = RandomData(2 * (1 << 20) + 4321, 91);  // 3 chunks
  ASSERT_TRUE(store->Store(WriteFile("spread.in", data), "/spread").ok());
  auto meta = store->meta().Get("/spread");
  ASSERT_TRUE(meta.ok());
  ASSERT_EQ(meta->chunks.size(), 3u);
  auto stored = FragmentsPerGroup(*meta, 0, nullptr);
  for (int g = 0; g < 4; ++g) EXPECT_EQ(stored[g], 3) << "group " << g;
  std::set<int> dead;
  for (size_t j = 0; j < 12; ++j)
    if (GroupOf(ProcessOf(*meta, 0, j)) == 3) dead.insert(ProcessOf(*meta, 0, j));
  ASSERT_EQ(dead.size(), 3u);
  for (int p : dead) {
    KillBackend(p);
    PoolBackend(*store, p).MarkDown(qs::Status::Unavailable("test"));
  }
  auto rebuilt = store->Rebuild("/spread");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, 9u);
  meta = store->meta().Get("/spread");
  ASSERT_TRUE(meta.ok());
  for (size_t c = 0; c < meta->chunks.size(); ++c) {
    std::set<int> procs;
    auto per_group = FragmentsPerGroup(*meta, c, &procs);
    EXPECT_EQ(procs.size(), 12u) << "chunk " << c << ": fragments share a backend";
    for (int p : procs) EXPECT_EQ(dead.count(p), 0u) << "chunk " << c << " still on dead zdb " << p;
    for (auto [g, n] : per_group) {
      EXPECT_LE(n, 4) << "chunk " << c << ": group " << g << " holds more than m";
      EXPECT_GE(12 - n, 8) << "chunk " << c << ": losing group " << g << " loses the chunk";
    }
  }
  auto report = store->Check("/spread");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->complete());
  // Now lose the whole group holding the most fragments of chunk 0.
  auto per_group = FragmentsPerGroup(*meta, 0, nullptr);
  int busiest = 0;
  for (auto [g, n] : per_group)
    if (n > per_group[busiest]) busiest = g;
  for (int i = busiest; i < kData; i += 4) {
    KillBackend(i);
    PoolBackend(*store, i).MarkDown(qs::Status::Unavailable("test"));
  }
  std::string out = dir_.path() + "/spread.out";
  auto s = store->Retrieve("/spread", out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
}

// Group 3 is lost whole and groups 1 and 2 have no spare left: the 3
// missing fragments of each chunk fit only in group 0, which may take one
// more (4 = m). The other 2 stay missing (degraded, retried later) instead
// of 6 fragments in group 0.
TEST_F(ClusterTest, RebuildLeavesFragmentsMissingRatherThanBreakTheSpread) {
  auto store = OpenStore("minimal_shards = 8\nexpected_shards = 12\nredundant_groups = 1\nredundant_nodes = 0\n");
  ASSERT_TRUE(store);
  std::string data = RandomData((1 << 20) + 500000, 92);  // 2 chunks
  ASSERT_TRUE(store->Store(WriteFile("tight.in", data), "/tight").ok());
  auto meta = store->meta().Get("/tight");
  ASSERT_TRUE(meta.ok());
  std::set<int> holding, dead;
  FragmentsPerGroup(*meta, 0, &holding);
  for (int i = 0; i < kData; ++i) {
    if (GroupOf(i) == 0 || (GroupOf(i) < 3 && holding.count(i) != 0)) continue;
    dead.insert(i);
    KillBackend(i);
    PoolBackend(*store, i).MarkDown(qs::Status::Unavailable("test"));
  }
  ASSERT_EQ(dead.size(), 10u);  // group 3 (5), the spares of groups 1 (3) and 2 (2)
  auto rebuilt = store->Rebuild("/tight");
  ASSERT_FALSE(rebuilt.ok()) << *rebuilt << " fragments rebuilt";
  EXPECT_EQ(rebuilt.status().code(), qs::Status::Code::kUnavailable);
  EXPECT_NE(rebuilt.status().message().find("redundant_groups"), std::string::npos) << rebuilt.status().message();
  meta = store->meta().Get("/tight");
  ASSERT_TRUE(meta.ok());
  for (size_t c = 0; c < meta->chunks.size(); ++c) {
    std::map<int, int> live;
    for (size_t j = 0; j < 12; ++j) {
      int p = ProcessOf(*meta, c, j);
      if (dead.count(p) == 0) ++live[GroupOf(p)];
    }
    EXPECT_EQ(live[0], 4) << "chunk " << c;  // what the rule allows, and no more
    EXPECT_EQ(live[1], 3) << "chunk " << c;
    EXPECT_EQ(live[2], 3) << "chunk " << c;
    EXPECT_EQ(live[3], 0) << "chunk " << c;
  }
  auto report = store->Check("/tight");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->fragments_ok, 20u);
  EXPECT_TRUE(report->readable());
  EXPECT_FALSE(report->complete());
  std::string out = dir_.path() + "/tight.out";
  auto s = store->Retrieve("/tight", out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
  // The dead come back: the fragments that were not replaced are whole
  // again, and still no group holds more than 4.
  for (int p : dead) {
    StartBackend(p);
    PoolBackend(*store, p).MarkUp();
  }
  report = store->Check("/tight");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->complete());
  for (size_t c = 0; c < meta->chunks.size(); ++c)
    for (auto [g, n] : FragmentsPerGroup(*meta, c, nullptr)) EXPECT_LE(n, 4) << "chunk " << c << " group " << g;
  rebuilt = store->Rebuild("/tight");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, 0u);
}

// /eu/ objects live on BE backends only; zdb 0 and 1 (US) come first in
// config order and are never used by a repair, even when that leaves a
// fragment missing.
TEST_F(ClusterTest, RebuildKeepsThePlacementPolicy) {
  auto store = OpenStore("minimal_shards = 16\nexpected_shards = 18\nredundant_groups = 0\nredundant_nodes = 0\n",
                         "[[policies]]\npath_prefix = \"/eu/\"\n[policies.labels]\ncountry = \"BE\"\n",
                         [](int i) { return i < 2 ? "US" : "BE"; });
  ASSERT_TRUE(store);
  std::string data = RandomData(300000, 93);
  ASSERT_TRUE(store->Store(WriteFile("eu.in", data), "/eu/x").ok());
  auto meta = store->meta().Get("/eu/x");
  ASSERT_TRUE(meta.ok());
  int victim = ProcessOf(*meta, 0, 0);
  KillBackend(victim);
  PoolBackend(*store, victim).MarkDown(qs::Status::Unavailable("test"));
  auto rebuilt = store->Rebuild("/eu/x");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, 1u);
  meta = store->meta().Get("/eu/x");
  std::set<int> procs;
  FragmentsPerGroup(*meta, 0, &procs);
  EXPECT_EQ(procs.size(), 18u);
  for (int p : procs) {
    EXPECT_GE(p, 2) << "a fragment left the EU";
    EXPECT_NE(p, victim);
  }
  std::string out = dir_.path() + "/eu.out";
  ASSERT_TRUE(store->Retrieve("/eu/x", out).ok());
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
  // Two more losses, one BE spare left: one fragment is rebuilt, the other
  // stays missing with a clear error.
  int killed = 0;
  for (size_t j = 0; j < 18 && killed < 2; ++j) {
    int p = ProcessOf(*meta, 0, j);
    KillBackend(p);
    PoolBackend(*store, p).MarkDown(qs::Status::Unavailable("test"));
    ++killed;
  }
  rebuilt = store->Rebuild("/eu/x");
  ASSERT_FALSE(rebuilt.ok()) << *rebuilt << " fragments rebuilt";
  EXPECT_NE(rebuilt.status().message().find("matching the placement policy"), std::string::npos)
      << rebuilt.status().message();
  meta = store->meta().Get("/eu/x");
  for (size_t j = 0; j < 18; ++j) EXPECT_GE(ProcessOf(*meta, 0, j), 2) << "fragment " << j << " left the EU";
  EXPECT_EQ(Dbsize(0) + Dbsize(1), 0);
  auto report = store->Check("/eu/x");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->fragments_ok, 17u);
  std::filesystem::remove(out);
  ASSERT_TRUE(store->Retrieve("/eu/x", out).ok());
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
}

// A spare with less free space than one chunk is full for placement (even
// though this small fragment would fit): a repair skips it, and rather
// leaves the fragment missing than use it.
TEST_F(ClusterTest, RebuildSkipsFullBackends) {
  std::string data = RandomData(200000, 94);
  ASSERT_TRUE(store_->Store(WriteFile("rf.in", data), "/rf").ok());
  auto meta = store_->meta().Get("/rf");
  ASSERT_TRUE(meta.ok());
  std::set<int> used;
  for (size_t j = 0; j < 20; ++j) used.insert(ProcessOf(*meta, 0, j));
  // The two spares in config order (group by group): the first is made full.
  std::vector<int> spares;
  for (int g = 0; g < 4; ++g)
    for (int i = g; i < kData; i += 4)
      if (used.count(i) == 0) spares.push_back(i);
  ASSERT_EQ(spares.size(), 2u);
  const int full = spares[0], room = spares[1];
  KillBackend(full);
  StartBackend(full, {"--maxsize", "900000"});
  auto& fb = PoolBackend(full);
  fb.MarkUp();
  ASSERT_TRUE(fb.RefreshSpace());
  ASSERT_TRUE(fb.full(static_cast<int64_t>(cfg_.chunk_size))) << fb.free_bytes();
  int victim = ProcessOf(*meta, 0, 5);
  KillBackend(victim);
  PoolBackend(victim).MarkDown(qs::Status::Unavailable("test"));
  auto rebuilt = store_->Rebuild("/rf");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, 1u);
  meta = store_->meta().Get("/rf");
  EXPECT_EQ(ProcessOf(*meta, 0, 5), room);
  // Another loss: only the full spare is left, and it stays empty.
  int victim2 = ProcessOf(*meta, 0, 6);
  KillBackend(victim2);
  PoolBackend(victim2).MarkDown(qs::Status::Unavailable("test"));
  rebuilt = store_->Rebuild("/rf");
  ASSERT_FALSE(rebuilt.ok()) << *rebuilt << " fragments rebuilt";
  EXPECT_EQ(rebuilt.status().code(), qs::Status::Code::kUnavailable);
  meta = store_->meta().Get("/rf");
  for (size_t j = 0; j < 20; ++j) EXPECT_NE(ProcessOf(*meta, 0, j), full);
  EXPECT_EQ(Dbsize(full), 0);
  std::string out = dir_.path() + "/rf.out";
  ASSERT_TRUE(store_->Retrieve("/rf", out).ok());
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
}

// Key rotation: a new key encrypts new chunks and metadata; objects stored
// under the old keys stay readable while those are listed in old_keys.
TEST_F(ClusterTest, RotatedKeysKeepOldObjectsReadable) {
  std::string old_data = RandomData(2 * (1 << 20) + 5, 81);
  ASSERT_TRUE(store_->Store(WriteFile("old.in", old_data), "/old").ok());
  const std::string key2 = zstor::Key::Random().ToHex(), meta2 = zstor::Key::Random().ToHex();
  auto rotated = [&](bool keep_old) {
    std::string path = dir_.path() + (keep_old ? "/rotated.toml" : "/rotated-only.toml");
    WriteConfig(path, key2, meta2);
    std::string text = zdb_test::ReadRaw(path);
    if (keep_old) {
      auto add = [&](const std::string& k, const std::string& old) {
        std::string line = "key = \"" + k + "\"\n";
        size_t p = text.find(line);
        ASSERT_NE(p, std::string::npos);
        text.insert(p + line.size(), "old_keys = [\"" + old + "\"]\n");
      };
      add(key2, key_hex_);
      add(meta2, meta_key_hex_);
    }
    zdb_test::WriteRaw(path, text);
    auto cfg = zstor::LoadConfig(path);
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    auto st = zstor::ObjectStore::Create(*cfg);
    EXPECT_TRUE(st.ok());
    return std::move(st.value());
  };
  auto store2 = rotated(true);
  std::string out = dir_.path() + "/old.out";
  auto s = store2->Retrieve("/old", out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(zdb_test::ReadRaw(out), old_data);
  std::string new_data = TextData(1 << 20);
  ASSERT_TRUE(store2->Store(WriteFile("new.in", new_data), "/new").ok());
  ASSERT_TRUE(store2->Retrieve("/new", out).ok());
  EXPECT_EQ(zdb_test::ReadRaw(out), new_data);
  // The old keys alone cannot read the new object; the new key alone cannot
  // read the old one: both refused, nothing written.
  std::filesystem::remove(out);
  s = store_->Retrieve("/new", out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  auto only_new = rotated(false);
  s = only_new->Retrieve("/old", out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(ClusterTest, CliHumanAndJson) {
  std::string cfg = dir_.path() + "/zstor.toml";
  std::string in = WriteFile("cli.in", TextData(100000));
  std::string zstor = std::string(QS_BIN_DIR) + "/zstor";
  auto run = [&](const std::string& args) { return RunCommand(zstor + " -c " + cfg + " " + args); };
  auto [rc, out] = run("store -f " + in + " -k /cli");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("stored /cli"), std::string::npos) << out;
  std::tie(rc, out) = run("--json list");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("{\"key\": \"/cli\", \"size\": 100000"), std::string::npos) << out;
  std::tie(rc, out) = run("check -k /cli -f " + in);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("/cli: healthy, 20/20 fragments healthy"), std::string::npos) << out;
  std::tie(rc, out) = run("retrieve -k /cli -f " + in + " -o " + dir_.path() + "/cli.out");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/cli.out"), TextData(100000));
  std::tie(rc, out) = run("retrieve -k /nope -f x");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("zstor: no object stored at /nope"), std::string::npos) << out;
  std::tie(rc, out) = run("frobnicate");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("unknown command 'frobnicate'"), std::string::npos);
  std::tie(rc, out) = run("store");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("store needs -f FILE"), std::string::npos);
  std::tie(rc, out) = run("--json status");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("\"down\": 0"), std::string::npos) << out;
  // One object of 20 fragments on 22 data backends: 20 hold one each.
  size_t ones = 0;
  for (size_t p = out.find("\"role\": \"data\""); p != std::string::npos; p = out.find("\"role\": \"data\"", p + 1))
    ones += out.compare(out.find("\"fragments\": ", p), 15, "\"fragments\": 1,") == 0;
  EXPECT_EQ(ones, 20u) << out;
  std::tie(rc, out) = run("status");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("fragments"), std::string::npos) << out;
  EXPECT_NE(out.find("0 of 26 backends down"), std::string::npos) << out;
}

TEST_F(ClusterTest, KillNineMidStoreLeavesNothingListed) {
  std::string in = WriteFile("big.in", RandomData(40 << 20, 41));
  std::string zstor = std::string(QS_BIN_DIR) + "/zstor";
  DaemonProcess p;
  ASSERT_TRUE(p.Start(zstor, {"-c", dir_.path() + "/zstor.toml", "store", "-f", in, "-k", "/big"}, dir_.path() + "/big.log"));
  // Kill it while fragments are flowing: once a data backend holds some.
  for (int i = 0; i < 500; ++i) {
    long long n = 0;
    for (int b = 0; b < kData; ++b) n += Dbsize(b);
    if (n > 40) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  p.Kill();
  auto list = store_->List();
  ASSERT_TRUE(list.ok());
  for (const auto& m : *list) EXPECT_NE(m.path, "/big");
  EXPECT_TRUE(store_->meta().Get("/big").status().IsNotFound());
}

// A backend that hangs (SIGSTOP: connected, silent) must not stall a
// retrieve until its 3 s command timeout: after the hedge delay the parity
// fragments are read and the first k that verify win.
TEST_F(ClusterTest, FrozenBackendIsRacedByParity) {
  std::string data = RandomData(3 * (1 << 20) + 4321, 61);
  ASSERT_TRUE(store_->Store(WriteFile("f.in", data), "/f").ok());
  auto meta = store_->meta().Get("/f");
  ASSERT_TRUE(meta.ok());
  int frozen = ProcessOf(*meta, 0, 3);  // holds a data fragment of every chunk
  ASSERT_EQ(kill(zdbs_[frozen].pid(), SIGSTOP), 0);
  std::string out = dir_.path() + "/f.out";
  auto t0 = std::chrono::steady_clock::now();
  auto s = store_->Retrieve("/f", out);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  kill(zdbs_[frozen].pid(), SIGCONT);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
  // Not a speed target: without the hedge this path waits the timeout.
  EXPECT_LT(elapsed, std::chrono::milliseconds(2500));
}

TEST_F(DaemonTest, RepairsADeadBackendWithoutAnyCommand) {
  std::string data = RandomData(1500000, 51);
  std::string in = WriteFile("m.in", data);
  auto [rc, out] = Cli("store -f " + in + " -k /m");
  ASSERT_EQ(rc, 0) << out;
  auto meta = store_->meta().Get("/m");
  ASSERT_TRUE(meta.ok());
  int dead = ProcessOf(*meta, 0, 2);
  KillBackend(dead);
  // The monitor notices, waits repair_delay, and rebuilds onto a spare.
  for (int i = 0; i < 150; ++i) {
    std::tie(rc, out) = Cli("check -k /m -f x");
    if (out.find("/m: healthy,") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_NE(out.find("/m: healthy, 40/40 fragments healthy"), std::string::npos) << out;
  auto fresh = store_->meta().Get("/m");
  for (size_t j = 0; j < 20; ++j) EXPECT_NE(ProcessOf(*fresh, 0, j), dead);
  // And the object survives four further losses.
  int killed = 0;
  for (size_t j = 0; j < 20 && killed < 4; ++j) {
    int p = ProcessOf(*fresh, 0, j);
    if (p != dead) {
      KillBackend(p);
      ++killed;
    }
  }
  std::tie(rc, out) = Cli("retrieve -k /m -f x -o " + dir_.path() + "/m.out");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/m.out"), data);
  std::string metrics = qs_test::HttpGet(metrics_port_, "/metrics");
  EXPECT_NE(metrics.find("connection_status{"), std::string::npos) << metrics.substr(0, 2000);
  EXPECT_NE(metrics.find("zstor_fragments_repaired_total"), std::string::npos);
  EXPECT_NE(metrics.find("zstor_operations_total{op=\"store\",result=\"ok\"} 1"), std::string::npos);
  EXPECT_EQ(daemon_.Stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/zstor.sock"));
}

TEST_F(DaemonTest, KillNineOfTheDaemonMidStoreLeavesNothingListed) {
  std::string data = RandomData(40 << 20, 71);
  std::string in = WriteFile("d.in", data);
  DaemonProcess cli;
  ASSERT_TRUE(cli.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", cfg_path_, "store", "-f", in, "-k", "/d"},
                        dir_.path() + "/cli.log"));
  for (int i = 0; i < 500; ++i) {
    long long n = 0;
    for (int b = 0; b < kData; ++b) n += Dbsize(b);
    if (n > 40) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  daemon_.Kill();  // the daemon runs the store; the CLI only waits for it
  for (int i = 0; i < 500 && cli.Running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(cli.Running());
  EXPECT_NE(cli.exit_status(), 0);  // the CLI reports the lost daemon, never success
  EXPECT_TRUE(store_->meta().Get("/d").status().IsNotFound());
  // A restarted daemon lists nothing half-stored and stores the path anew.
  ASSERT_TRUE(daemon_.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", cfg_path_, "monitor"}, dir_.path() + "/daemon2.log"));
  ASSERT_TRUE(daemon_.WaitUnix(dir_.path() + "/zstor.sock"));
  auto [rc, out] = Cli("list");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out.find("/d"), std::string::npos) << out;
  std::tie(rc, out) = Cli("store -f " + in + " -k /d");
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) = Cli("retrieve -k /d -f x -o " + dir_.path() + "/d.out");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/d.out"), data);
}

// Bad input on the daemon's socket gets exact errors and harms nothing: a
// refused request is -ERR, a failed operation -CODE (docs/zstor-protocol.md).
TEST_F(DaemonTest, BadRequestsGetClearErrors) {
  qs::ZdbAddress addr;
  addr.unix_path = dir_.path() + "/zstor.sock";
  qs::ZdbClient c(addr);
  auto r = c.Command({"FROB"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str, "ERR unknown command 'FROB'");
  r = c.Command({"store", "only-one"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str, "ERR wrong number of arguments for STORE");
  r = c.Command({"HOOK", "jump-data"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str, "ERR wrong number of arguments for HOOK");
  r = c.Command({"HOOK", "jump-data", "unix:///x", "/etc/passwd", "/x"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str, "INVALID staging is off (config key 'zdb_data_dir_path')");
  r = c.Command({"RETRIEVE", "/nothing/here", dir_.path() + "/x.out"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str, "NOTFOUND no object stored at /nothing/here");
  // Malformed RESP: an error, the connection closed, the daemon unharmed.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", addr.unix_path.c_str());
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  const char bad[] = "*2\r\n$-7\r\nxx\r\n";
  ASSERT_EQ(write(fd, bad, sizeof(bad) - 1), static_cast<ssize_t>(sizeof(bad) - 1));
  char buf[256];
  ssize_t n = read(fd, buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(buf[0], '-') << std::string(buf, static_cast<size_t>(n));
  EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);  // closed
  close(fd);
  r = c.Command({"PING"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str, "PONG");
}

TEST_F(DaemonTest, ScrubFindsBitrotByProofAndHealsIt) {
  std::string data = TextData(400000);
  auto [rc, out] = Cli("store -f " + WriteFile("s.in", data) + " -k /s");
  ASSERT_EQ(rc, 0) << out;
  auto meta = store_->meta().Get("/s");
  ASSERT_TRUE(meta.ok());
  ASSERT_FALSE(meta->chunks[0].challenges.empty());
  size_t j = meta->chunks[0].challenges[0].fragment;
  qs::ZdbAddress addr;
  addr.unix_path = Sock(ProcessOf(*meta, 0, j));
  qs::ZdbClient client(addr);
  auto bytes = client.Get(meta->chunks[0].fragments[j].key);
  ASSERT_TRUE(bytes.ok() && bytes->has_value());
  std::string bad = **bytes;
  bad[7] ^= 0x40;
  ASSERT_TRUE(client.Set(meta->chunks[0].fragments[j].key, bad).ok());
  std::tie(rc, out) = Cli("scrub");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("scrub: 1 objects found damaged and rebuilt"), std::string::npos) << out;
  std::string metrics = qs_test::HttpGet(metrics_port_, "/metrics");
  EXPECT_NE(metrics.find("zstor_scrub_backlog{kind=\"proof\"} 0"), std::string::npos) << metrics.substr(0, 3000);
  EXPECT_NE(metrics.find("zstor_scrub_objects_total{result=\"damaged\"} 1"), std::string::npos);
  EXPECT_EQ(metrics.find("zstor_scrub_last_completed_timestamp_seconds{kind=\"proof\"} 0\n"), std::string::npos);
  std::tie(rc, out) = Cli("--json check -k /s -f x");
  EXPECT_NE(out.find("\"state\": \"healthy\""), std::string::npos) << out;
  std::tie(rc, out) = Cli("retrieve -k /s -f x -o " + dir_.path() + "/s.out");
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/s.out"), data);
}

}  // namespace
