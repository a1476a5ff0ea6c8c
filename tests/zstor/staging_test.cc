// The staging path: the durable job queue, the key mapping, and a real
// staging zdb whose --hook is zstor-hook, against a running zstor daemon and
// 26 backend zdbs: uploads, eviction, missing-data restores, a queue that
// survives the daemon, and a staging zdb rebuilt from nothing but the
// backends (namespaces-init).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/zstor/cluster_fixture.h"
#include "zstor/monitor.h"
#include "zstor/staging.h"
#include "zstor/upload_queue.h"

namespace {

using namespace zstor_test;
using zstor::UploadJob;
using zstor::UploadQueue;

TEST(UploadQueueTest, JobsAreDurableUntilDone) {
  zdb_test::TempDir dir;
  const std::string q = dir.path() + "/queue";
  {
    UploadQueue queue(q);
    ASSERT_TRUE(queue.Open().ok());
    ASSERT_TRUE(queue.Add(UploadJob::Kind::kUpload, "/a/default/zdb-data-00001", "/zdb/data/default/zdb-data-00001").ok());
    ASSERT_TRUE(queue.Add(UploadJob::Kind::kUpload, "/a/default/zdb-data-00002", "/zdb/data/default/zdb-data-00002").ok());
    // The same waiting job again adds nothing.
    ASSERT_TRUE(queue.Add(UploadJob::Kind::kUpload, "/a/default/zdb-data-00001", "/zdb/data/default/zdb-data-00001").ok());
    EXPECT_EQ(queue.stats().pending, 2u);
  }  // as if killed: nothing but the files remains
  UploadQueue queue(q);
  ASSERT_TRUE(queue.Open().ok());
  ASSERT_EQ(queue.stats().pending, 2u);
  auto first = queue.Next(0);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->target, "/a/default/zdb-data-00001");  // oldest first
  EXPECT_EQ(first->key, "/zdb/data/default/zdb-data-00001");
  auto second = queue.Next(0);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(queue.Next(0).has_value());  // both running
  ASSERT_TRUE(queue.Done(first->name).ok());
  queue.Failed(second->name, "backend down", 1000);
  EXPECT_FALSE(queue.Next(1500).has_value());  // backing off for 1 s
  auto again = queue.Next(2000);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempts, 1);
  EXPECT_EQ(queue.stats().failing, 1u);
  EXPECT_EQ(queue.stats().last_error, "/a/default/zdb-data-00002: backend down");
  queue.Failed(again->name, "still down", 2000);
  EXPECT_FALSE(queue.Next(3999).has_value());  // 2 s now
  EXPECT_TRUE(queue.Next(4000).has_value());
  UploadQueue reopened(q);
  ASSERT_TRUE(reopened.Open().ok());
  EXPECT_EQ(reopened.stats().pending, 1u);
}

TEST(UploadQueueTest, JobsWaitingForBackendsRunWhenOneReturns) {
  zdb_test::TempDir dir;
  UploadQueue queue(dir.path() + "/queue");
  ASSERT_TRUE(queue.Open().ok());
  ASSERT_TRUE(queue.Add(UploadJob::Kind::kUpload, "/a/default/zdb-data-00001", "/zdb/data/default/zdb-data-00001").ok());
  ASSERT_TRUE(queue.Add(UploadJob::Kind::kUpload, "/a/default/zdb-data-00002", "/zdb/data/default/zdb-data-00002").ok());
  auto a = queue.Next(0), b = queue.Next(0);
  ASSERT_TRUE(a && b);
  // Failed 9 times: the next try would be 256 s away.
  for (int i = 0; i < 9; ++i) {
    queue.Failed(a->name, "only 18 healthy backends for 20 fragments", 0, /*for_lack_of_backends=*/true);
    queue.Failed(b->name, "cannot read file", 0, /*for_lack_of_backends=*/false);
    if (i < 8) a = queue.Next(1 << 30), b = queue.Next(1 << 30);
  }
  EXPECT_FALSE(queue.Next(1000).has_value());
  // A backend is back: the job that waited for backends runs now, the other
  // keeps its back-off.
  EXPECT_EQ(queue.BackendsReturned(), 1u);
  auto woken = queue.Next(1000);
  ASSERT_TRUE(woken.has_value());
  EXPECT_EQ(woken->target, "/a/default/zdb-data-00001");
  EXPECT_FALSE(queue.Next(1000).has_value());
  EXPECT_EQ(queue.BackendsReturned(), 0u);  // a running job is not woken twice
}

class MonitorBackTest : public ClusterTest {};

TEST_F(MonitorBackTest, HealthRoundReportsABackendBack) {
  zstor::Monitor monitor(store_.get(), nullptr);
  int calls = 0;
  monitor.OnBackendBack([&] { ++calls; });
  monitor.HealthRound();
  EXPECT_EQ(calls, 0);  // all up, none came back
  KillBackend(3);
  monitor.HealthRound();
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(PoolBackend(3).healthy());
  StartBackend(3);
  monitor.HealthRound();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(PoolBackend(3).healthy());
  monitor.HealthRound();
  EXPECT_EQ(calls, 1);
}

TEST(UploadQueueTest, OtherProcessesAddJobsAndBadFilesAreSetAside) {
  zdb_test::TempDir dir;
  const std::string q = dir.path() + "/queue";
  UploadQueue queue(q);
  ASSERT_TRUE(queue.Open().ok());
  ASSERT_TRUE(UploadQueue::AddTo(q, UploadJob::Kind::kForget, "ns1", "/zdb/").ok());
  zdb_test::WriteRaw(q + "/00000000000000000001-1-00000000.job", "garbage\n");
  EXPECT_EQ(queue.stats().pending, 0u);
  queue.Scan();
  ASSERT_EQ(queue.stats().pending, 1u);
  auto j = queue.Next(0);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->kind, UploadJob::Kind::kForget);
  EXPECT_EQ(j->target, "ns1");
  EXPECT_TRUE(std::filesystem::exists(q + "/00000000000000000001-1-00000000.job.bad"));
  EXPECT_FALSE(UploadQueue::AddTo(q, UploadJob::Kind::kUpload, "a\nb", "k").ok());
}

TEST(StagingKeyTest, MapsZdbFilesAndRefusesOthers) {
  using zstor::Staging;
  EXPECT_EQ(Staging::KeyFor("/var/lib/zdb/data/qsfs-data/zdb-data-00042").value(), "/zdb/data/qsfs-data/zdb-data-00042");
  EXPECT_EQ(Staging::KeyFor("/idx/default/zdb-index-00001").value(), "/zdb/index/default/zdb-index-00001");
  EXPECT_EQ(Staging::KeyFor("/idx/ns/zdb-namespace").value(), "/zdb/index/ns/zdb-namespace");
  for (const char* bad : {"/etc/passwd", "zdb-data-00001", "/x/../zdb-data-00001", "/x/ns/zdb-data-", "/x/ns/zdb-data-12a"})
    EXPECT_FALSE(Staging::KeyFor(bad).ok()) << bad;
}

// Value of the first sample line starting with `series` ("name{labels}").
double Metric(const std::string& text, const std::string& series) {
  size_t p = text.find("\n" + series + " ");
  if (p == std::string::npos) return -1;
  return std::strtod(text.c_str() + p + series.size() + 2, nullptr);
}

class StagingTest : public DaemonTest {
 protected:
  std::string ExtraDaemonConfig() override {
    return "zdb_data_dir_path = \"" + dir_.path() + "/staging/data\"\nzdb_index_dir_path = \"" + dir_.path() +
           "/staging/index\"\nqueue_dir = \"" + dir_.path() + "/queue\"\nmax_zdb_data_dir_size = \"" + limit_ + "\"\n";
  }
  void StartStaging(const std::string& root) {
    setenv("ZSTOR_CONFIG", cfg_path_.c_str(), 1);
    ASSERT_TRUE(staging_.Start(std::string(QS_BIN_DIR) + "/zdb",
                               {"--data", root + "/data", "--index", root + "/index", "--socket", StagingSock(),
                                "--mode", "user", "--datasize", "256K", "--hook",
                                std::string(QS_BIN_DIR) + "/zstor-hook"},
                               dir_.path() + "/staging.log"));
    ASSERT_TRUE(staging_.WaitUnix(StagingSock(), 60000)) << zdb_test::ReadRaw(dir_.path() + "/staging.log");
  }
  std::string StagingSock() { return dir_.path() + "/staging.sock"; }
  std::string Value(int i) { return RandomData(60000, static_cast<uint32_t>(1000 + i)); }
  void Put(int from, int to) {
    redisContext* c = redisConnectUnix(StagingSock().c_str());
    ASSERT_TRUE(c != nullptr && c->err == 0);
    for (int i = from; i < to; ++i) {
      std::string k = "key" + std::to_string(i), v = Value(i);
      auto* r = static_cast<redisReply*>(redisCommand(c, "SET %b %b", k.data(), k.size(), v.data(), v.size()));
      ASSERT_TRUE(r != nullptr && r->type != REDIS_REPLY_ERROR) << (r ? r->str : c->errstr);
      freeReplyObject(r);
    }
    redisFree(c);
  }
  // Every key from..to reads back byte for byte (evicted segments included).
  void ExpectAll(int from, int to) {
    redisContext* c = redisConnectUnix(StagingSock().c_str());
    ASSERT_TRUE(c != nullptr && c->err == 0);
    for (int i = from; i < to; ++i) {
      std::string k = "key" + std::to_string(i);
      auto* r = static_cast<redisReply*>(redisCommand(c, "GET %b", k.data(), k.size()));
      ASSERT_TRUE(r != nullptr) << c->errstr;
      ASSERT_EQ(r->type, REDIS_REPLY_STRING) << k << ": " << (r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
      EXPECT_EQ(std::string(r->str, r->len), Value(i)) << k;
      freeReplyObject(r);
    }
    redisFree(c);
  }
  size_t DataSegments(const std::string& root) {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(root + "/data/default"))
      if (e.path().filename().string().rfind("zdb-data-", 0) == 0) ++n;
    return n;
  }

  std::string limit_ = "600K";
  DaemonProcess staging_;
};

TEST_F(StagingTest, UploadsEvictsRestoresAndRecoversFromNothing) {
  const std::string root = dir_.path() + "/staging";
  StartStaging(root);
  Put(0, 40);  // ~2.4 MB: about ten 256 KiB segments rotate
  std::string status = WaitQueueEmpty();
  EXPECT_NE(status.find("\"jobs\": 0, \"failing\": 0"), std::string::npos) << status;
  // Uploaded segments beyond the limit were evicted; the head never is.
  for (int i = 0; i < 100 && DataSegments(root) > 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(DataSegments(root), 3u);
  auto list = store_->List();
  ASSERT_TRUE(list.ok());
  size_t data_objects = 0;
  for (const auto& m : *list) data_objects += m.path.rfind("/zdb/data/default/", 0) == 0;
  EXPECT_GE(data_objects, 8u);
  // Reads of evicted keys wait for missing-data restores and succeed.
  ExpectAll(0, 40);
  std::string metrics = qs_test::HttpGet(metrics_port_, "/metrics");
  EXPECT_GE(Metric(metrics, "zstor_staging_evictions_total"), 7) << metrics;
  EXPECT_GE(Metric(metrics, "zstor_staging_restores_total{result=\"ok\"}"), 7);
  EXPECT_EQ(Metric(metrics, "zstor_staging_restores_total{result=\"error\"}"), 0);
  EXPECT_GE(Metric(metrics, "zstor_staging_uploads_total{result=\"ok\"}"), 10);

  // A clean stop uploads the head segment and index (namespace-closing).
  EXPECT_EQ(staging_.Stop(), 0);
  status = WaitQueueEmpty();
  EXPECT_NE(status.find("\"jobs\": 0, \"failing\": 0"), std::string::npos) << status;

  // A brand-new machine: empty directories, same zstor config.
  const std::string fresh = dir_.path() + "/fresh";
  std::filesystem::remove(StagingSock());
  StartStaging(fresh);
  EXPECT_TRUE(std::filesystem::exists(fresh + "/index/default/zdb-index-00000"));
  ExpectAll(0, 40);
}

TEST_F(StagingTest, QueueOutlivesTheDaemon) {
  const std::string root = dir_.path() + "/staging";
  StartStaging(root);
  Put(0, 5);
  WaitQueueEmpty();
  daemon_.Kill();  // kill -9; the hook now queues to disk on its own
  Put(5, 30);
  auto pending = [&] {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/queue"))
      n += e.path().extension() == ".job";
    return n;
  };
  for (int i = 0; i < 100 && pending() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GT(pending(), 0u);
  ASSERT_TRUE(daemon_.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", cfg_path_, "monitor"}, dir_.path() + "/daemon2.log"));
  ASSERT_TRUE(daemon_.WaitUnix(dir_.path() + "/zstor.sock"));
  // A hook started while the daemon was dead may still write its job file
  // after the daemon's first scan: the queue is drained once no file is left.
  std::string status;
  for (int i = 0; i < 50; ++i) {
    status = WaitQueueEmpty();
    if (pending() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_NE(status.find("\"jobs\": 0, \"failing\": 0"), std::string::npos) << status;
  EXPECT_EQ(pending(), 0u);
  ExpectAll(0, 30);
}

}  // namespace

// A new machine whose restore fails part way (here: the index file of the
// namespace cannot be read back, 5 of its 20 fragments damaged) must not
// serve: a staging zdb that came up on a partial restore would let qsfs
// create an empty filesystem there, whose uploads replace the real one.
// zdb refuses to start; once the fragments are back, the next start
// restores everything.
TEST_F(StagingTest, FailedRestoreServesNothingAndTheNextStartCompletesIt) {
  const std::string root = dir_.path() + "/staging";
  StartStaging(root);
  Put(0, 12);
  EXPECT_EQ(staging_.Stop(), 0);  // namespace-closing: head segment and index uploaded
  std::string status = WaitQueueEmpty();
  ASSERT_NE(status.find("\"jobs\": 0, \"failing\": 0"), std::string::npos) << status;

  const std::string key = "/zdb/index/default/zdb-index-00000";
  auto meta = store_->meta().Get(key);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  std::vector<std::pair<std::string, std::string>> saved;  // (socket, key) -> original bytes
  std::vector<std::string> originals;
  for (size_t j = 0; j < 5; ++j) {
    qs::ZdbAddress addr;
    addr.unix_path = Sock(ProcessOf(*meta, 0, j));
    qs::ZdbClient client(addr);
    const std::string& fk = meta->chunks[0].fragments[j].key;
    auto bytes = client.Get(fk);
    ASSERT_TRUE(bytes.ok() && bytes->has_value());
    saved.emplace_back(addr.unix_path, fk);
    originals.push_back(**bytes);
    std::string bad = **bytes;
    bad[bad.size() / 2] ^= 0x5a;
    ASSERT_TRUE(client.Set(fk, bad).ok());
  }

  const std::string fresh = dir_.path() + "/fresh";
  std::filesystem::remove(StagingSock());
  setenv("ZSTOR_CONFIG", cfg_path_.c_str(), 1);
  ASSERT_TRUE(staging_.Start(std::string(QS_BIN_DIR) + "/zdb",
                             {"--data", fresh + "/data", "--index", fresh + "/index", "--socket", StagingSock(),
                              "--mode", "user", "--datasize", "256K", "--hook", std::string(QS_BIN_DIR) + "/zstor-hook"},
                             dir_.path() + "/fresh.log"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (staging_.Running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::string log = zdb_test::ReadRaw(dir_.path() + "/fresh.log");
  ASSERT_FALSE(staging_.Running()) << "zdb serves after a failed restore:\n" << log;
  EXPECT_NE(staging_.exit_status(), 0);
  EXPECT_NE(log.find("namespaces-init hook failed (exit 1): refusing to serve a partial restore"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(StagingSock()));
  // The data segment came back before the failure; the marker says the
  // restore is unfinished, so the next start does it again.
  EXPECT_TRUE(std::filesystem::exists(fresh + "/index/.namespaces-init-unfinished"));

  for (size_t j = 0; j < saved.size(); ++j) {
    qs::ZdbAddress addr;
    addr.unix_path = saved[j].first;
    qs::ZdbClient client(addr);
    ASSERT_TRUE(client.Set(saved[j].second, originals[j]).ok());
  }
  std::filesystem::remove(StagingSock());
  StartStaging(fresh);
  ExpectAll(0, 12);
  EXPECT_FALSE(std::filesystem::exists(fresh + "/index/.namespaces-init-unfinished"));
}
