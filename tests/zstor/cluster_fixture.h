// Test fixtures shared by the zstor cluster tests: real zdb processes on
// Unix sockets, 22 data backends in 4 groups (20 fragments + 2 spares) and 4
// metadata backends; DaemonTest adds a running `zstor monitor`.
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <set>
#include <random>
#include <thread>

#include "common/zdb_client.h"
#include "tests/common/daemon_process.h"
#include "tests/common/http_get.h"
#include "tests/common/random_data.h"
#include "tests/common/run_command.h"
#include "tests/zdb/test_util.h"
#include "zstor/config.h"
#include "zstor/object_store.h"

namespace zstor_test {

using qs_test::DaemonProcess;

constexpr int kData = 22;
constexpr int kMeta = 4;

using qs_test::RandomData;

inline std::string TextData(size_t n) {
  static const char* words[] = {"storage ", "fragment ", "zstor ", "erasure ", "parity ", "backend ", "chunk\n"};
  std::string s;
  std::mt19937 rng(7);
  while (s.size() < n) s += words[rng() % 7];
  s.resize(n);
  return s;
}

using qs_test::RunCommand;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kData + kMeta; ++i) StartBackend(i);
    key_hex_ = zstor::Key::Random().ToHex();
    meta_key_hex_ = zstor::Key::Random().ToHex();
    WriteConfig(dir_.path() + "/zstor.toml", key_hex_, meta_key_hex_);
    auto cfg = zstor::LoadConfig(dir_.path() + "/zstor.toml");
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    cfg_ = *cfg;
    auto store = zstor::ObjectStore::Create(cfg_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store.value());
  }

  std::string Sock(int i) { return dir_.path() + "/zdb" + std::to_string(i) + ".sock"; }
  std::string Dir(int i) { return dir_.path() + "/zdb" + std::to_string(i); }

  void StartBackend(int i, std::vector<std::string> extra = {}) {
    bool meta = i >= kData;
    std::vector<std::string> args = {"--data", Dir(i) + "/data", "--index", Dir(i) + "/index", "--socket", Sock(i),
                                     "--mode", meta ? "user" : "seq", "--datasize", "4M"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(zdbs_[i].Start(std::string(QS_BIN_DIR) + "/zdb", args, Dir(i) + ".log"));
    ASSERT_TRUE(zdbs_[i].WaitUnix(Sock(i))) << "zdb " << i;
  }
  void KillBackend(int i) { zdbs_[i].Kill(); }

  void WriteConfig(const std::string& path, const std::string& key, const std::string& meta_key,
                   const std::string& extra = "", const std::function<std::string(int)>& labels = nullptr) {
    std::ofstream f(path);
    f << "minimal_shards = 16\nexpected_shards = 20\nredundant_groups = 0\nredundant_nodes = 0\n"
      << "chunk_size = \"1M\"\n" << "journal_dir = \"" << dir_.path() << "/journal\"\n" << extra
      << "[encryption]\nalgorithm = \"AES\"\nkey = \"" << key << "\"\n"
      << "[compression]\nalgorithm = \"zstd\"\nlevel = 1\n"
      << "[meta]\ntype = \"zdb\"\n[meta.config]\nprefix = \"test\"\n"
      << "[meta.config.encryption]\nalgorithm = \"AES\"\nkey = \"" << meta_key << "\"\n";
    for (int i = kData; i < kData + kMeta; ++i)
      f << "[[meta.config.backends]]\naddress = \"unix:" << Sock(i) << "\"\nnamespace = \"default\"\n";
    for (int g = 0; g < 4; ++g) {
      f << "[[groups]]\n";
      for (int i = g; i < kData; i += 4)
      {
        f << "[[groups.backends]]\naddress = \"unix:" << Sock(i) << "\"\nnamespace = \"default\"\n";
        if (labels) f << "[groups.backends.labels]\ncountry = \"" << labels(i) << "\"\n";
      }
    }
    f.close();
    chmod(path.c_str(), 0600);  // zstor refuses keys readable by every user
  }

  std::string WriteFile(const std::string& name, const std::string& data) {
    std::string p = dir_.path() + "/" + name;
    zdb_test::WriteRaw(p, data);
    return p;
  }

  // Index of the zdb process serving fragment j of chunk c.
  int ProcessOf(const zstor::ObjectMeta& m, size_t c, size_t j) {
    const auto& ref = m.backends[m.chunks[c].fragments[j].backend];
    for (int i = 0; i < kData; ++i)
      if (ref.address == "unix:" + Sock(i)) return i;
    return -1;
  }

  // The pool entry of zdb process i (the config lists backends group by group).
  zstor::Backend& PoolBackend(int i) { return PoolBackend(*store_, i); }
  zstor::Backend& PoolBackend(zstor::ObjectStore& store, int i) {
    int idx = store.backends().Find("unix:" + Sock(i), "default");
    EXPECT_GE(idx, 0);
    return store.backends().at(static_cast<size_t>(idx));
  }

  // Group of zdb process i: WriteConfig lists i = g, g + 4, ... in group g.
  static int GroupOf(int i) { return i % 4; }

  // Fragments of chunk c per group; *procs (optional) collects their zdbs.
  std::map<int, int> FragmentsPerGroup(const zstor::ObjectMeta& m, size_t c, std::set<int>* procs) {
    std::map<int, int> per_group;
    for (size_t j = 0; j < m.chunks[c].fragments.size(); ++j) {
      int p = ProcessOf(m, c, j);
      EXPECT_GE(p, 0);
      if (procs != nullptr) procs->insert(p);
      ++per_group[GroupOf(p)];
    }
    return per_group;
  }

  // A second ObjectStore on the same backends and keys, with `rules`
  // (minimal_shards, expected_shards, redundant_groups, redundant_nodes)
  // instead of WriteConfig's 16 + 4 without spread rules, and `tail`
  // (e.g. [[policies]]) appended. Null when the config does not load.
  std::unique_ptr<zstor::ObjectStore> OpenStore(const std::string& rules, const std::string& tail = "",
                                                const std::function<std::string(int)>& labels = nullptr) {
    static const std::string kDefaults =
        "minimal_shards = 16\nexpected_shards = 20\nredundant_groups = 0\nredundant_nodes = 0\n";
    std::string path = dir_.path() + "/rules.toml";
    WriteConfig(path, key_hex_, meta_key_hex_, "", labels);
    std::string text = zdb_test::ReadRaw(path);
    EXPECT_EQ(text.rfind(kDefaults, 0), 0u);
    text.replace(0, kDefaults.size(), rules);
    zdb_test::WriteRaw(path, text + tail);
    auto cfg = zstor::LoadConfig(path);
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    if (!cfg.ok()) return nullptr;
    auto store = zstor::ObjectStore::Create(*cfg);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store.value()) : nullptr;
  }

  long long Dbsize(int i) {
    redisContext* c = redisConnectUnix(Sock(i).c_str());
    redisReply* r = static_cast<redisReply*>(redisCommand(c, "DBSIZE"));
    long long n = r ? r->integer : -1;
    if (r) freeReplyObject(r);
    redisFree(c);
    return n;
  }

  zdb_test::TempDir dir_;
  DaemonProcess zdbs_[kData + kMeta];
  std::string key_hex_, meta_key_hex_;
  zstor::Config cfg_;
  std::unique_ptr<zstor::ObjectStore> store_;
};

// Runs `zstor monitor` with fast health/repair cycles and talks to it
// through the CLI, as an operator would.
class DaemonTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    metrics_port_ = 24000 + static_cast<int>(getpid() % 1000);
    cfg_path_ = dir_.path() + "/daemon.toml";
    WriteConfig(cfg_path_, key_hex_, meta_key_hex_,
                ExtraDaemonConfig() + "socket = \"" + dir_.path() + "/zstor.sock\"\nprometheus_port = " + std::to_string(metrics_port_) +
                    "\n[monitor]\nhealth_interval = 1\nrepair_interval = 1\nrepair_delay = 1\n"
                    "scrub_interval = 3600\nfull_scrub_interval = 3600\n");
    ASSERT_TRUE(daemon_.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", cfg_path_, "monitor"}, dir_.path() + "/daemon.log"));
    ASSERT_TRUE(daemon_.WaitUnix(dir_.path() + "/zstor.sock")) << zdb_test::ReadRaw(dir_.path() + "/daemon.log");
  }
  // Top-level keys added to the daemon's config by subclasses.
  virtual std::string ExtraDaemonConfig() { return ""; }
  std::pair<int, std::string> Cli(const std::string& args) {
    return RunCommand(std::string(QS_BIN_DIR) + "/zstor -c " + cfg_path_ + " " + args);
  }
  // Waits until the daemon's staging queue is empty, for as long as it
  // keeps shrinking: gives up only when the number of jobs has not gone
  // down for stall_s seconds. Returns the last `--json status` output.
  std::string WaitQueueEmpty(int stall_s = 60) {
    std::string out;
    long fewest = -1;
    auto last_progress = std::chrono::steady_clock::now();
    for (;;) {
      int rc;
      std::tie(rc, out) = Cli("--json status");
      size_t p = out.find("\"jobs\": ");
      long jobs = p == std::string::npos ? -1 : std::atol(out.c_str() + p + 8);
      if (jobs == 0) break;
      if (jobs >= 0 && (fewest < 0 || jobs < fewest)) {
        fewest = jobs;
        last_progress = std::chrono::steady_clock::now();
      }
      if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(stall_s)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return out;
  }
  int metrics_port_ = 0;
  std::string cfg_path_;
  DaemonProcess daemon_;
};

}  // namespace zstor_test
