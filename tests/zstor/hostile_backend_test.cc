// zstor's CLI (in process, no daemon) against backends that answer every
// request with a hostile reply: a huge declared array, an endless line, a
// huge bulk string, a trickle. Each command must end with a clear error,
// within a deadline, without allocating what the reply declares.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/common/hostile_server.h"
#include "tests/common/run_command.h"
#include "tests/zdb/test_util.h"
#include "zstor/crypto.h"

namespace {

using qs_test::HostileServer;
using qs_test::RunCommand;

struct Outcome {
  int rc;
  std::string out;
  long max_rss_kib;
  double seconds;
};

class HostileBackendTest : public ::testing::TestWithParam<HostileServer::Mode> {
 protected:
  void SetUp() override {
    // 3 data backends (2 + 1) and 4 meta backends, every one hostile.
    for (int i = 0; i < 7; ++i)
      servers_.push_back(std::make_unique<HostileServer>(dir_.path() + "/h" + std::to_string(i) + ".sock", GetParam()));
    cfg_ = dir_.path() + "/zstor.toml";
    std::ofstream f(cfg_);
    f << "minimal_shards = 2\nexpected_shards = 3\nchunk_size = \"1M\"\njournal_dir = \"" << dir_.path() << "/journal\"\n"
      << "[encryption]\nalgorithm = \"AES\"\nkey = \"" << zstor::Key::Random().ToHex() << "\"\n"
      << "[compression]\nalgorithm = \"zstd\"\nlevel = 1\n"
      << "[meta]\ntype = \"zdb\"\n[meta.config]\nprefix = \"test\"\n"
      << "[meta.config.encryption]\nalgorithm = \"AES\"\nkey = \"" << zstor::Key::Random().ToHex() << "\"\n";
    for (int i = 3; i < 7; ++i)
      f << "[[meta.config.backends]]\naddress = \"unix:" << servers_[i]->path() << "\"\nnamespace = \"default\"\n";
    f << "[[groups]]\n";
    for (int i = 0; i < 3; ++i)
      f << "[[groups.backends]]\naddress = \"unix:" << servers_[i]->path() << "\"\nnamespace = \"default\"\n";
    f.close();
    chmod(cfg_.c_str(), 0600);  // zstor refuses keys readable by every user
    file_ = dir_.path() + "/in";
    zdb_test::WriteRaw(file_, std::string(100000, 'q'));
  }

  // Runs the CLI under `timeout` (a hang shows as exit status 124) and
  // /usr/bin/time (its peak resident memory).
  Outcome Run(const std::string& args) {
    std::string rss = dir_.path() + "/rss";
    auto start = std::chrono::steady_clock::now();
    auto [rc, out] = RunCommand("/usr/bin/time -f %M -o " + rss + " timeout -s KILL 300 " + std::string(QS_BIN_DIR) +
                                "/zstor -c " + cfg_ + " " + args);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // time(1) writes "Command exited with non-zero status N" first then.
    std::string text = zdb_test::ReadRaw(rss);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    long kib = std::atol(text.substr(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1).c_str());
    std::printf("zstor %s: exit %d after %.1f s, peak RSS %ld KiB\n", args.c_str(), rc, secs, kib);
    return {rc, out, kib, secs};
  }

  zdb_test::TempDir dir_;
  std::vector<std::unique_ptr<HostileServer>> servers_;
  std::string cfg_, file_;
};

// A reply is cut at 64 MiB on a meta backend and 2.5 MiB on a data backend
// here (MaxMetaReply, MaxDataReply); status asks all 7 at once, and ASan
// keeps freed buffers in quarantine. Without the limits a 2 GiB bulk is
// buffered whole, per backend.
constexpr long kRssLimitKiB = 1536 << 10;

TEST_P(HostileBackendTest, StatusReportsEveryBackendDown) {
  Outcome o = Run("status");
  EXPECT_NE(o.rc, 124) << "status hung";
  EXPECT_EQ(o.rc, 0) << o.out;
  EXPECT_NE(o.out.find("7 of 7 backends down"), std::string::npos) << o.out;
  EXPECT_LT(o.max_rss_kib, kRssLimitKiB);
}

TEST_P(HostileBackendTest, StoreFailsCleanly) {
  Outcome o = Run("store -f " + file_ + " -k /x");
  EXPECT_EQ(o.rc, 1) << o.out;  // 124: hung; 134 or a signal: crashed
  EXPECT_NE(o.out.find("zstor: "), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("bad_alloc"), std::string::npos) << o.out;
  EXPECT_LT(o.max_rss_kib, kRssLimitKiB);
}

TEST_P(HostileBackendTest, CheckFailsCleanly) {
  Outcome o = Run("check -f " + file_ + " -k /x");
  EXPECT_EQ(o.rc, 1) << o.out;
  EXPECT_NE(o.out.find("zstor: "), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("bad_alloc"), std::string::npos) << o.out;
  EXPECT_LT(o.max_rss_kib, kRssLimitKiB);
}

INSTANTIATE_TEST_SUITE_P(Modes, HostileBackendTest,
                         ::testing::Values(HostileServer::Mode::kHugeArray, HostileServer::Mode::kEndlessLine,
                                           HostileServer::Mode::kHugeBulk, HostileServer::Mode::kTrickle),
                         [](const auto& info) {
                           switch (info.param) {
                             case HostileServer::Mode::kHugeArray: return std::string("HugeArray");
                             case HostileServer::Mode::kEndlessLine: return std::string("EndlessLine");
                             case HostileServer::Mode::kHugeBulk: return std::string("HugeBulk");
                             case HostileServer::Mode::kTrickle: return std::string("Trickle");
                           }
                           return std::string("?");
                         });

}  // namespace
