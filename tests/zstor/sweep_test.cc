// The fragment sweep (`zstor sweep`) deletes fragments no object record
// names once they are older than sweep_min_age; it keeps every fragment of
// a committed object, young orphans and fragments named by intents, and
// refuses to delete anything when a record cannot be read.
#include "tests/common/refusing_proxy.h"
#include "tests/zstor/cluster_fixture.h"
#include "zstor/fragment_sweep.h"

namespace zstor_test {
namespace {

// A JSON field's integer value in `zstor --json sweep` output, -1 if absent.
long long Field(const std::string& json, const std::string& name) {
  size_t p = json.find("\"" + name + "\": ");
  return p == std::string::npos ? -1 : std::atoll(json.c_str() + p + name.size() + 4);
}

class SweepTest : public ClusterTest {
 protected:
  // Writes an unreferenced fragment-sized value to data backend i (a
  // sequential namespace), stamped age_s seconds ago (0: now).
  void WriteOrphan(int i, size_t bytes, long long age_s) {
    redisContext* c = redisConnectUnix(Sock(i).c_str());
    ASSERT_NE(c, nullptr);
    std::string v = RandomData(bytes, static_cast<uint32_t>(i * 31 + bytes));
    long long ts = age_s > 0 ? static_cast<long long>(time(nullptr)) - age_s : 0;
    std::string tss = std::to_string(ts);
    redisReply* r = static_cast<redisReply*>(
        redisCommand(c, "SET %b %b %b", "", static_cast<size_t>(0), v.data(), v.size(), tss.data(), tss.size()));
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->type, REDIS_REPLY_STRING) << (r->str ? r->str : "");
    freeReplyObject(r);
    redisFree(c);
  }
  long long Fragments() {
    long long n = 0;
    for (int b = 0; b < kData; ++b) n += Dbsize(b);
    return n;
  }
  std::pair<int, std::string> Zstor(const std::string& args) {
    return RunCommand(std::string(QS_BIN_DIR) + "/zstor -c " + dir_.path() + "/zstor.toml " + args);
  }
};

TEST_F(SweepTest, DeletesOldOrphansKeepsCommittedObjectsAndYoungOrphans) {
  std::string a1 = RandomData(2 << 20, 91), a2 = RandomData(3 << 20, 92), b = TextData(1 << 20);
  ASSERT_TRUE(store_->Store(WriteFile("a1.in", a1), "/a").ok());
  ASSERT_TRUE(store_->Store(WriteFile("a2.in", a2), "/a").ok());  // replaces /a
  ASSERT_TRUE(store_->Store(WriteFile("b.in", b), "/b").ok());
  long long committed = Fragments();
  ASSERT_EQ(committed, 3 * 20 + 1 * 20);
  for (int i = 0; i < 7; ++i) WriteOrphan(i * 3 % kData, 4096 + static_cast<size_t>(i), 7200);  // 2 h old
  for (int i = 0; i < 3; ++i) WriteOrphan(i + 1, 1000, 0);                                  // just written
  long long before = Fragments();
  ASSERT_EQ(before, committed + 10);

  auto [rc, out] = Zstor("--json sweep --dry-run");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(Field(out, "orphans"), 7) << out;
  EXPECT_EQ(Field(out, "deleted"), 0) << out;
  EXPECT_EQ(Field(out, "young"), 3) << out;
  EXPECT_EQ(Field(out, "referenced"), committed) << out;
  EXPECT_EQ(Fragments(), before);

  std::tie(rc, out) = Zstor("--json sweep");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(Field(out, "deleted"), 7) << out;
  long long expected_bytes = 0;
  for (int i = 0; i < 7; ++i) expected_bytes += 4096 + i;
  EXPECT_EQ(Field(out, "bytes"), expected_bytes) << out;
  long long after = Fragments();
  std::printf("committed: %lld fragments; with orphans: %lld (7 old, 3 young); after sweep: %lld; %lld bytes freed\n",
              committed, before, after, Field(out, "bytes"));
  EXPECT_EQ(after, committed + 3);

  std::tie(rc, out) = Zstor("sweep");  // human output; nothing left to delete
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("0 orphan fragments deleted"), std::string::npos) << out;
  EXPECT_EQ(Fragments(), committed + 3);

  ASSERT_TRUE(store_->Retrieve("/a", dir_.path() + "/a.out").ok());
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/a.out"), a2);
  ASSERT_TRUE(store_->Retrieve("/b", dir_.path() + "/b.out").ok());
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/b.out"), b);
}

TEST_F(SweepTest, AnUnreadableRecordMakesTheSweepRefuse) {
  ASSERT_TRUE(store_->Store(WriteFile("a.in", RandomData(1 << 20, 93)), "/a").ok());
  for (int i = 0; i < 4; ++i) WriteOrphan(i, 4096, 7200);
  // A record key whose shards are garbage on every meta backend.
  for (int i = kData; i < kData + kMeta; ++i) {
    redisContext* c = redisConnectUnix(Sock(i).c_str());
    ASSERT_NE(c, nullptr);
    redisReply* r = static_cast<redisReply*>(redisCommand(c, "SET test:%s junk", std::string(64, '0').c_str()));
    ASSERT_NE(r, nullptr);
    freeReplyObject(r);
    redisFree(c);
  }
  long long before = Fragments();
  auto [rc, out] = Zstor("--json sweep");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("\"ok\": false"), std::string::npos) << out;
  EXPECT_NE(out.find("object records unreadable"), std::string::npos) << out;
  EXPECT_NE(out.find("nothing swept"), std::string::npos) << out;
  EXPECT_EQ(Fragments(), before);
}

// A meta backend that answers SCAN with an error other than "No more data"
// listed nothing, not everything: with every meta backend so, the records
// cannot be listed and the sweep must delete nothing.
TEST_F(SweepTest, MetaBackendsThatCannotScanMakeTheSweepRefuse) {
  std::string a = RandomData(1 << 20, 97);
  ASSERT_TRUE(store_->Store(WriteFile("a.in", a), "/a").ok());
  for (int i = 0; i < 4; ++i) WriteOrphan(i, 4096, 7200);
  std::vector<std::unique_ptr<qs_test::RefusingProxy>> proxies;
  for (int i = kData; i < kData + kMeta; ++i) {
    KillBackend(i);
    ASSERT_TRUE(zdbs_[i].Start(std::string(QS_BIN_DIR) + "/zdb",
                               {"--data", Dir(i) + "/data", "--index", Dir(i) + "/index", "--socket", Sock(i) + ".real",
                                "--mode", "user", "--datasize", "4M"},
                               Dir(i) + ".log"));
    ASSERT_TRUE(zdbs_[i].WaitUnix(Sock(i) + ".real")) << "zdb " << i;
    proxies.push_back(std::make_unique<qs_test::RefusingProxy>(Sock(i), Sock(i) + ".real", std::set<std::string>{"SCAN"}));
  }
  long long before = Fragments();
  auto [rc, out] = Zstor("--json sweep");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("\"ok\": false"), std::string::npos) << out;
  EXPECT_EQ(Fragments(), before);
  int refusals = 0;
  for (auto& p : proxies) refusals += p->refusals();
  EXPECT_GT(refusals, 0);  // the sweep did scan, and got the refusal
  ASSERT_TRUE(store_->Retrieve("/a", dir_.path() + "/a.out").ok());
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/a.out"), a);
}

TEST_F(SweepTest, FragmentsNamedByAnIntentAreKept) {
  ASSERT_TRUE(store_->Store(WriteFile("a.in", RandomData(1 << 20, 94)), "/a").ok());
  long long committed = Fragments();
  // An old fragment that an unfinished store's intent names (its store may
  // still write its record): the journal decides about it, not the sweep.
  WriteOrphan(5, 4096, 7200);
  auto journal = zstor::StoreJournal::Begin(dir_.path() + "/journal", "/pending", std::string(16, 'x'));
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  // The key zdb assigned: the newest id of backend 5 (SCAN from the start).
  redisContext* c = redisConnectUnix(Sock(5).c_str());
  ASSERT_NE(c, nullptr);
  std::string last;
  std::string cursor;
  for (;;) {
    redisReply* r = cursor.empty() ? static_cast<redisReply*>(redisCommand(c, "SCAN"))
                                   : static_cast<redisReply*>(redisCommand(c, "SCAN %b", cursor.data(), cursor.size()));
    ASSERT_NE(r, nullptr);
    if (r->type != REDIS_REPLY_ARRAY) {
      freeReplyObject(r);
      break;
    }
    cursor.assign(r->element[0]->str, r->element[0]->len);
    redisReply* items = r->element[1];
    for (size_t j = 0; j < items->elements; ++j) last.assign(items->element[j]->element[0]->str, items->element[j]->element[0]->len);
    freeReplyObject(r);
  }
  redisFree(c);
  ASSERT_EQ(last.size(), 8u);
  (*journal)->Fragment("unix:" + Sock(5), "default", last);
  (*journal)->Sync();
  WriteOrphan(6, 4096, 7200);  // named by nothing
  auto [rc, out] = Zstor("--json sweep");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(Field(out, "deleted"), 1) << out;
  EXPECT_EQ(Field(out, "intent"), 1) << out;
  EXPECT_EQ(Fragments(), committed + 1);
}

// An older generation of a record that a reader may still get is marked
// too: here a replace whose record reached 2 of 4 meta backends (k_meta,
// below the write quorum of 3) leaves the old generation on the other 2.
TEST_F(SweepTest, FragmentsOfAnOlderDecodableGenerationAreKept) {
  std::string v1 = RandomData(1 << 20, 95), v2 = RandomData(1 << 20, 96);
  ASSERT_TRUE(store_->Store(WriteFile("v1.in", v1), "/a").ok());
  KillBackend(kData + 2);
  KillBackend(kData + 3);
  qs::Status s = store_->Store(WriteFile("v2.in", v2), "/a");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("write quorum"), std::string::npos) << s.ToString();
  StartBackend(kData + 2);
  StartBackend(kData + 3);
  for (size_t i = 0; i < store_->meta().backends().size(); ++i) store_->meta().backends().at(i).MarkUp();
  store_->ReclaimOrphans();  // the record read is v2's: its intent goes
  ASSERT_TRUE(store_->Retrieve("/a", dir_.path() + "/a.out").ok());
  ASSERT_EQ(zdb_test::ReadRaw(dir_.path() + "/a.out"), v2);
  long long both = Fragments();
  ASSERT_EQ(both, 40);  // v1's 20 are kept: v1 may still be read
  zstor::SweepOptions o;
  o.min_age_s = -10;  // every unreferenced key counts as old
  auto r = zstor::SweepFragments(store_.get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->referenced, 40u);
  EXPECT_EQ(r->deleted, 0u);
  EXPECT_EQ(Fragments(), 40);
}

// Issue 12's case: kill -9 of a store mid-way. The journal frees what it
// named; the sweep frees the rest (the fragments whose answer never reached
// the killed store), here with the age limit lifted since they are young.
TEST_F(SweepTest, AfterAKilledStoreJournalAndSweepLeaveOnlyCommittedFragments) {
  std::string keep = RandomData(2 << 20, 98);
  ASSERT_TRUE(store_->Store(WriteFile("keep.in", keep), "/keep").ok());
  long long committed = Fragments();
  ASSERT_EQ(committed, 40);
  std::string in = WriteFile("big.in", RandomData(40 << 20, 99));
  DaemonProcess p;
  ASSERT_TRUE(p.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", dir_.path() + "/zstor.toml", "store", "-f", in, "-k", "/big"},
                      dir_.path() + "/big.log"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (Fragments() < committed + 100 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  p.Kill();
  long long killed = Fragments();
  ASSERT_GT(killed, committed + 100);
  auto reclaim = store_->ReclaimOrphans();
  long long after_journal = Fragments();
  zstor::SweepOptions o;
  o.min_age_s = -10;  // the leftovers are seconds old; the configured floor is 300 s
  auto r = zstor::SweepFragments(store_.get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  long long end = Fragments();
  std::printf("committed: %lld fragments; after kill -9 mid-store: %lld; after the journal's reclaim: %lld "
              "(%zu deleted); after the sweep: %lld (%zu deleted, %llu bytes)\n",
              committed, killed, after_journal, reclaim.fragments, end, r->deleted,
              static_cast<unsigned long long>(r->bytes));
  EXPECT_EQ(end, committed);
  EXPECT_EQ(static_cast<long long>(r->deleted), after_journal - committed);
  ASSERT_TRUE(store_->Retrieve("/keep", dir_.path() + "/keep.out").ok());
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/keep.out"), keep);
}

TEST_F(SweepTest, ADataBackendDownIsSkippedAndNamedTheOthersAreSwept) {
  ASSERT_TRUE(store_->Store(WriteFile("a.in", RandomData(1 << 20, 101)), "/a").ok());
  WriteOrphan(3, 4096, 7200);
  WriteOrphan(21, 4096, 7200);
  long long on21 = Dbsize(21);
  KillBackend(21);
  auto [rc, out] = Zstor("--json sweep");
  EXPECT_EQ(rc, 1) << out;  // not everything could be swept
  EXPECT_NE(out.find("{\"ok\": false, "), std::string::npos) << out;  // and --json says so too
  EXPECT_EQ(Field(out, "deleted"), 1) << out;
  EXPECT_EQ(Field(out, "backends"), kData - 1) << out;
  EXPECT_NE(out.find("zdb21.sock/default: "), std::string::npos) << out;
  std::printf("data backend down: %s", out.c_str() + std::min(out.find("{\"ok"), out.size()));
  StartBackend(21);
  EXPECT_EQ(Dbsize(21), on21);
  std::tie(rc, out) = Zstor("--json sweep");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("{\"ok\": true, "), std::string::npos) << out;
  EXPECT_EQ(Field(out, "deleted"), 1) << out;
  EXPECT_EQ(Dbsize(21), on21 - 1);
}

TEST_F(SweepTest, AMetaBackendDownMakesTheSweepRefuse) {
  ASSERT_TRUE(store_->Store(WriteFile("a.in", RandomData(1 << 20, 102)), "/a").ok());
  WriteOrphan(3, 4096, 7200);
  long long before = Fragments();
  KillBackend(kData + 1);  // the record is still readable (2 of 4 answer)
  auto [rc, out] = Zstor("--json sweep");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("nothing swept: "), std::string::npos) << out;
  EXPECT_EQ(Fragments(), before);
  std::printf("meta backend down: %s", out.c_str() + std::min(out.find("{\"ok"), out.size()));
}

TEST_F(SweepTest, ConfigKeysHaveDefaultsAndAFloor) {
  EXPECT_EQ(cfg_.monitor.sweep_interval, 86400);
  EXPECT_EQ(cfg_.monitor.sweep_min_age, 3600);
  std::string text = zdb_test::ReadRaw(dir_.path() + "/zstor.toml");
  auto c = zstor::ParseConfig(text + "[monitor]\nsweep_interval = 0\nsweep_min_age = 300\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->monitor.sweep_interval, 0);
  EXPECT_EQ(c->monitor.sweep_min_age, 300);
  c = zstor::ParseConfig(text + "[monitor]\nsweep_min_age = 60\n", "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sweep_min_age"), std::string::npos) << c.status().ToString();
}

class SweepDaemonTest : public DaemonTest {
 protected:
  using ClusterTest::Dbsize;
};

TEST_F(SweepDaemonTest, TheDaemonSweepsAndCountsInItsMetrics) {
  auto [rc, out] = Cli("store -f " + WriteFile("a.in", RandomData(1 << 20, 97)) + " -k /a");
  ASSERT_EQ(rc, 0) << out;
  for (int i = 0; i < 4; ++i) {
    redisContext* c = redisConnectUnix(Sock(i).c_str());
    ASSERT_NE(c, nullptr);
    std::string ts = std::to_string(time(nullptr) - 7200);
    redisReply* r = static_cast<redisReply*>(redisCommand(c, "SET %b %s %s", "", static_cast<size_t>(0), "orphan", ts.c_str()));
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    redisFree(c);
  }
  std::tie(rc, out) = Cli("--json sweep --dry-run");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(Field(out, "orphans"), 4) << out;
  EXPECT_EQ(Field(out, "deleted"), 0) << out;
  std::tie(rc, out) = Cli("sweep");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("sweep: 4 orphan fragments deleted (24 B) of 24 keys on 22 backends"), std::string::npos) << out;
  long long n = 0;
  for (int b = 0; b < kData; ++b) n += Dbsize(b);
  EXPECT_EQ(n, 20);
  std::string metrics = qs_test::HttpGet(metrics_port_, "/metrics");
  EXPECT_NE(metrics.find("zstor_sweep_fragments_total 4"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("zstor_sweep_bytes_total 24"), std::string::npos);
  EXPECT_NE(metrics.find("zstor_sweeps_total{result=\"ok\"} 2"), std::string::npos);
}

TEST_F(SweepDaemonTest, TheDaemonSweepsEverySweepInterval) {
  daemon_.Kill();
  std::string text = zdb_test::ReadRaw(cfg_path_);
  size_t at = text.find("[monitor]\n");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 10, "sweep_interval = 1\n");
  zdb_test::WriteRaw(cfg_path_, text);
  ASSERT_TRUE(daemon_.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", cfg_path_, "monitor"}, dir_.path() + "/daemon2.log"));
  ASSERT_TRUE(daemon_.WaitUnix(dir_.path() + "/zstor.sock"));
  auto [rc, out] = Cli("store -f " + WriteFile("a.in", RandomData(1 << 20, 100)) + " -k /a");
  ASSERT_EQ(rc, 0) << out;
  for (int i = 0; i < 3; ++i) {
    redisContext* c = redisConnectUnix(Sock(i).c_str());
    ASSERT_NE(c, nullptr);
    std::string ts = std::to_string(time(nullptr) - 7200);
    redisReply* r = static_cast<redisReply*>(redisCommand(c, "SET %b %s %s", "", static_cast<size_t>(0), "orphan", ts.c_str()));
    ASSERT_NE(r, nullptr);
    freeReplyObject(r);
    redisFree(c);
  }
  auto count = [&] {
    long long n = 0;
    for (int b = 0; b < kData; ++b) n += Dbsize(b);
    return n;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (count() != 20 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(count(), 20) << zdb_test::ReadRaw(dir_.path() + "/daemon2.log");
  std::tie(rc, out) = Cli("retrieve -k /a -f x -o " + dir_.path() + "/a.out");
  EXPECT_EQ(rc, 0) << out;
}

}  // namespace
}  // namespace zstor_test
