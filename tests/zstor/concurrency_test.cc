// zstor without a global lock: operations on different objects run in
// parallel (a store stalled on a backend holds up no retrieve or restore of
// another object), operations on the same object serialise (a store and a
// delete racing leave the object whole or gone, and no fragment behind),
// and the daemon reaps its finished connection threads and bounds them.
// Real zdbs: 3 data backends (2 + 1), the first behind a StallProxy, and 4
// meta backends; the daemon runs in this process.
#include <gtest/gtest.h>

#include <csignal>
#include <hiredis/hiredis.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/daemon_process.h"
#include "tests/common/random_data.h"
#include "tests/zdb/test_util.h"
#include "tests/zstor/stall_proxy.h"
#include "zstor/config.h"
#include "zstor/crypto.h"
#include "zstor/daemon.h"
#include "zstor/object_locks.h"
#include "zstor/object_store.h"

namespace {

using qs_test::DaemonProcess;
using qs_test::RandomData;
using zstor::ObjectLocks;

// Polls cond every 20 ms until it holds or deadline_s pass.
template <typename F>
bool WaitFor(F cond, int deadline_s = 60) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST(ObjectLocksTest, SameKeySerialisesOtherKeysDoNotAndEntriesGo) {
  ObjectLocks locks;
  std::atomic<int> stage{0};
  std::thread t;
  {
    ObjectLocks::Hold a(&locks, "a", ObjectLocks::Mode::kExclusive);
    // Another key, and shared holders of it, go at once.
    ObjectLocks::Hold b1(&locks, "b", ObjectLocks::Mode::kShared);
    ObjectLocks::Hold b2(&locks, "b", ObjectLocks::Mode::kShared);
    t = std::thread([&] {
      ObjectLocks::Hold again(&locks, "a", ObjectLocks::Mode::kShared);
      stage = 2;  // only once the exclusive holder let go
    });
    ASSERT_TRUE(WaitFor([&] { return locks.entries() == 2; }));
    stage = 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(stage.load(), 1);
  }
  t.join();
  EXPECT_EQ(stage.load(), 2);
  EXPECT_EQ(locks.entries(), 0u);
}

TEST(ObjectLocksTest, AWaitingWriterKeepsNewReadersOut) {
  ObjectLocks locks;
  std::atomic<bool> wrote{false}, read_after{false};
  auto r1 = std::make_unique<ObjectLocks::Hold>(&locks, "k", ObjectLocks::Mode::kShared);
  std::thread writer([&] {
    ObjectLocks::Hold w(&locks, "k", ObjectLocks::Mode::kExclusive);
    wrote = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the writer queue
  std::thread reader([&] {
    ObjectLocks::Hold r(&locks, "k", ObjectLocks::Mode::kShared);
    read_after = wrote.load();
  });
  r1.reset();
  writer.join();
  reader.join();
  EXPECT_TRUE(wrote);
  EXPECT_TRUE(read_after) << "a reader that came after a waiting writer went first";
  EXPECT_EQ(locks.entries(), 0u);
}

class ConcurrencyTest : public ::testing::Test {
 protected:
  static constexpr int kData = 3, kMeta = 4;

  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // a request to a refused connection fails, it does not kill the test
    for (int i = 0; i < kData + kMeta; ++i) {
      bool meta = i >= kData;
      ASSERT_TRUE(zdbs_[i].Start(std::string(QS_BIN_DIR) + "/zdb",
                                 {"--data", Dir(i) + "/data", "--index", Dir(i) + "/index", "--socket", Sock(i),
                                  "--mode", meta ? "user" : "seq"},
                                 Dir(i) + ".log"));
      ASSERT_TRUE(zdbs_[i].WaitUnix(Sock(i))) << "zdb " << i;
    }
    proxy_ = std::make_unique<zstor_test::StallProxy>(dir_.path() + "/proxy0.sock", Sock(0));
    std::filesystem::create_directories(StagingData() + "/ns");
    std::ofstream f(ConfigPath());
    f << "minimal_shards = 2\nexpected_shards = 3\nchunk_size = \"1M\"\n"
      << "journal_dir = \"" << dir_.path() << "/journal\"\nsocket = \"" << DaemonSock() << "\"\n"
      << "zdb_data_dir_path = \"" << StagingData() << "\"\nqueue_dir = \"" << dir_.path() << "/queue\"\n"
      << "[encryption]\nalgorithm = \"AES\"\nkey = \"" << zstor::Key::Random().ToHex() << "\"\n"
      << "[compression]\nalgorithm = \"zstd\"\nlevel = 1\n"
      << "[meta]\ntype = \"zdb\"\n[meta.config]\nprefix = \"test\"\n"
      << "[meta.config.encryption]\nalgorithm = \"AES\"\nkey = \"" << zstor::Key::Random().ToHex() << "\"\n";
    for (int i = kData; i < kData + kMeta; ++i)
      f << "[[meta.config.backends]]\naddress = \"unix:" << Sock(i) << "\"\nnamespace = \"default\"\n";
    f << "[[groups]]\n[[groups.backends]]\naddress = \"unix:" << proxy_->path() << "\"\nnamespace = \"default\"\n";
    for (int i = 1; i < kData; ++i)
      f << "[[groups.backends]]\naddress = \"unix:" << Sock(i) << "\"\nnamespace = \"default\"\n";
    f.close();
    chmod(ConfigPath().c_str(), 0600);  // zstor refuses keys readable by every user
    auto cfg = zstor::LoadConfig(ConfigPath());
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    cfg_ = *cfg;
  }
  void TearDown() override {
    if (proxy_) proxy_->Release();
    daemon_.reset();  // before the proxy: its connections go first
    proxy_.reset();
  }

  std::string Sock(int i) { return dir_.path() + "/zdb" + std::to_string(i) + ".sock"; }
  std::string Dir(int i) { return dir_.path() + "/zdb" + std::to_string(i); }
  std::string ConfigPath() { return dir_.path() + "/zstor.toml"; }
  std::string DaemonSock() { return dir_.path() + "/zstor.sock"; }
  std::string StagingData() { return dir_.path() + "/staging/data"; }
  std::string WriteFile(const std::string& name, const std::string& data) {
    std::string p = dir_.path() + "/" + name;
    zdb_test::WriteRaw(p, data);
    return p;
  }
  std::unique_ptr<zstor::ObjectStore> NewStore() {
    auto s = zstor::ObjectStore::Create(cfg_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  void StartDaemon(size_t max_connections = zstor::Daemon::kMaxConnections) {
    daemon_ = std::make_unique<zstor::Daemon>(NewStore(), max_connections);
    auto s = daemon_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // One request on a new connection to the daemon: the reply as
  // "+status", "-error", ":integer" or the type number.
  std::string Call(const std::vector<std::string>& argv) {
    redisContext* c = redisConnectUnix(DaemonSock().c_str());
    if (c == nullptr || c->err != 0) return "connect failed";
    timeval tv{300, 0};
    redisSetTimeout(c, tv);
    std::vector<const char*> a;
    std::vector<size_t> l;
    for (const auto& s : argv) {
      a.push_back(s.data());
      l.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(a.size()), a.data(), l.data()));
    std::string out = r == nullptr ? std::string("no reply: ") + c->errstr
                      : r->type == REDIS_REPLY_STATUS ? "+" + std::string(r->str, r->len)
                      : r->type == REDIS_REPLY_ERROR  ? "-" + std::string(r->str, r->len)
                      : r->type == REDIS_REPLY_INTEGER ? ":" + std::to_string(r->integer)
                                                       : "type " + std::to_string(r->type);
    if (r != nullptr) freeReplyObject(r);
    redisFree(c);
    return out;
  }
  // Data fragments on the data backends now (NSINFO entries).
  int64_t Fragments(zstor::ObjectStore* s) {
    int64_t n = 0;
    for (size_t i = 0; i < s->backends().size(); ++i) {
      zstor::Backend& b = s->backends().at(i);
      EXPECT_TRUE(b.RefreshSpace()) << b.name();
      n += b.entries();
    }
    return n;
  }

  zdb_test::TempDir dir_;
  DaemonProcess zdbs_[kData + kMeta];
  std::unique_ptr<zstor_test::StallProxy> proxy_;
  zstor::Config cfg_;
  std::unique_ptr<zstor::Daemon> daemon_;
};

// The store of object A waits on a stalled backend; a retrieve of object B
// (whose fragment on that backend is replaced by parity) answers meanwhile.
TEST_F(ConcurrencyTest, AStalledStoreDoesNotHoldUpTheRetrieveOfAnotherObject) {
  StartDaemon();
  const std::string b_data = RandomData(300000, 2);
  ASSERT_EQ(Call({"STORE", WriteFile("b.in", b_data), "b"}), "+OK");
  const std::string a_in = WriteFile("a.in", RandomData(3 << 20, 1));
  proxy_->Stall();
  std::atomic<bool> a_done{false};
  auto a = std::async(std::launch::async, [&] {
    std::string r = Call({"STORE", a_in, "a"});
    a_done = true;
    return r;
  });
  // A's first fragment write reached the stalled backend.
  ASSERT_TRUE(WaitFor([&] { return proxy_->held() > 0; })) << "the store never reached the stalled backend";
  const std::string out = dir_.path() + "/b.out";
  EXPECT_EQ(Call({"RETRIEVE", "b", out}), "+OK");
  EXPECT_FALSE(a_done.load()) << "the retrieve of b answered only after the store of a ended";
  EXPECT_EQ(zdb_test::ReadRaw(out), b_data);
  proxy_->Release();
  a.get();  // stored or failed: either is fine once the backend is back
}

// The staging path: a restore (missing-data) answers while the upload of a
// large segment is stalled on a backend, and restores the right bytes.
TEST_F(ConcurrencyTest, RestoreCompletesWhileAnUploadIsStalled) {
  StartDaemon();
  const std::string cold = StagingData() + "/ns/zdb-data-00001";
  const std::string cold_data = RandomData(200000, 3);
  zdb_test::WriteRaw(cold, cold_data);
  ASSERT_EQ(Call({"HOOK", "jump-data", "test", cold}), "+OK");
  auto jobs = [&] {
    redisContext* c = redisConnectUnix(DaemonSock().c_str());
    auto* r = static_cast<redisReply*>(redisCommand(c, "STAGING"));
    long long n = r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 6 ? r->element[1]->integer : -1;
    if (r != nullptr) freeReplyObject(r);
    redisFree(c);
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return jobs() == 0; })) << "the first upload did not finish";
  std::filesystem::remove(cold);  // evicted

  const std::string big = StagingData() + "/ns/zdb-data-00002";
  zdb_test::WriteRaw(big, RandomData(4 << 20, 4));
  proxy_->Stall();
  ASSERT_EQ(Call({"HOOK", "jump-data", "test", big}), "+OK");
  ASSERT_TRUE(WaitFor([&] { return proxy_->held() > 0; })) << "the upload never reached the stalled backend";
  EXPECT_EQ(Call({"HOOK", "missing-data", "test", cold}), "+OK");
  EXPECT_EQ(jobs(), 1) << "the restore answered only after the upload ended";
  EXPECT_EQ(zdb_test::ReadRaw(cold), cold_data);
  proxy_->Release();
}

// A store and a delete of the same object, racing, leave it whole (the
// stored bytes) or gone, and never a fragment that no record names.
TEST_F(ConcurrencyTest, StoreAndDeleteOfOneObjectLeaveItWholeOrGone) {
  auto store = NewStore();
  ASSERT_NE(store, nullptr);
  const std::string data = RandomData(100000, 5);
  const std::string in = WriteFile("x.in", data), out = dir_.path() + "/x.out";
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> ready{0};
    auto go = [&] {
      ++ready;
      while (ready.load() < 3) std::this_thread::yield();
    };
    auto s1 = std::async(std::launch::async, [&] { go(); return store->Store(in, "x"); });
    auto s2 = std::async(std::launch::async, [&] { go(); return store->Store(in, "x"); });
    auto d = std::async(std::launch::async, [&] { go(); return store->Delete("x"); });
    ASSERT_TRUE(s1.get().ok());
    ASSERT_TRUE(s2.get().ok());
    qs::Status del = d.get();
    ASSERT_TRUE(del.ok() || del.IsNotFound()) << del.ToString();
    auto meta = store->meta().Get("x");
    if (meta.ok()) {
      ASSERT_TRUE(store->Retrieve("x", out).ok()) << "round " << round;
      EXPECT_EQ(zdb_test::ReadRaw(out), data) << "round " << round;
      EXPECT_EQ(Fragments(store.get()), static_cast<int64_t>(3 * meta->chunks.size())) << "round " << round;
    } else {
      ASSERT_TRUE(meta.status().IsNotFound()) << meta.status().ToString();
      EXPECT_EQ(Fragments(store.get()), 0) << "round " << round;
    }
  }
}

// The sweep's mark pauses writes: a store does not run while another
// thread holds WritesPaused and runs once it is let go; a delete does not
// wait for it.
TEST_F(ConcurrencyTest, WritesPausedHoldsStoresBackButNotDeletes) {
  auto store = NewStore();
  ASSERT_NE(store, nullptr);
  const std::string data = RandomData(100000, 6);
  const std::string in = WriteFile("p.in", data), out = dir_.path() + "/p.out";
  ASSERT_TRUE(store->Store(in, "gone").ok());
  std::promise<void> paused, resume;
  std::thread holder([&] {
    zstor::ObjectStore::WritesPaused p(store.get());
    paused.set_value();
    resume.get_future().wait();
  });
  paused.get_future().wait();
  auto stored = std::async(std::launch::async, [&] { return store->Store(in, "p"); });
  EXPECT_TRUE(store->Delete("gone").ok());  // beside the pause
  EXPECT_EQ(stored.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "a store ran while writes were paused";
  resume.set_value();
  holder.join();
  ASSERT_TRUE(stored.get().ok());
  ASSERT_TRUE(store->Retrieve("p", out).ok());
  EXPECT_EQ(zdb_test::ReadRaw(out), data);
}

// Many short connections, one after the other: their threads are joined as
// new ones arrive, not kept until the daemon stops.
TEST_F(ConcurrencyTest, FinishedConnectionThreadsAreReaped) {
  StartDaemon();
  for (int i = 0; i < 200; ++i) ASSERT_EQ(Call({"PING"}), "+PONG") << i;
  EXPECT_LE(daemon_->connection_threads(), 3u);
}

// Past the bound, a connection gets an error reply and is closed; once one
// closes, a new one is served again.
TEST_F(ConcurrencyTest, ConnectionsPastTheBoundAreRefusedWithAnError) {
  StartDaemon(4);
  std::vector<redisContext*> open;
  for (int i = 0; i < 4; ++i) {
    redisContext* c = redisConnectUnix(DaemonSock().c_str());
    ASSERT_TRUE(c != nullptr && c->err == 0);
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    ASSERT_TRUE(r != nullptr && r->type == REDIS_REPLY_STATUS) << i;
    freeReplyObject(r);
    open.push_back(c);
  }
  // The refusal comes at accept, before any request: read it without
  // writing (a write could meet the closed socket first).
  {
    redisContext* c = redisConnectUnix(DaemonSock().c_str());
    ASSERT_TRUE(c != nullptr && c->err == 0);
    redisSetTimeout(c, timeval{60, 0});  // no refusal at all fails, it does not hang
    void* reply = nullptr;
    ASSERT_EQ(redisGetReply(c, &reply), REDIS_OK) << c->errstr;
    auto* r = static_cast<redisReply*>(reply);
    ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
    EXPECT_EQ(std::string(r->str, r->len), "ERR too many connections (at most 4)");
    freeReplyObject(r);
    redisFree(c);
  }
  redisFree(open.back());
  open.pop_back();
  EXPECT_TRUE(WaitFor([&] { return Call({"PING"}) == "+PONG"; }));
  for (auto* c : open) redisFree(c);
}

}  // namespace
