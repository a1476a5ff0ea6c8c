// zdb on a really full file system (a 1 MiB tmpfs): a rotation that hits
// ENOSPC, then a restart. zdb must start, serve reads, refuse writes with a
// clear error, and write again once space returns. Needs permission to
// mount tmpfs (root); skipped otherwise.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/mount.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/common/daemon_process.h"
#include "tests/common/free_port.h"
#include "tests/zdb/test_util.h"

namespace {

// QS_ZDB_BINARY runs the test against another build of zdb.
std::string ZdbBinary() {
  const char* other = std::getenv("QS_ZDB_BINARY");
  return other != nullptr ? other : std::string(QS_BIN_DIR) + "/zdb";
}

// One reply, flattened: "+OK", "-error text", "$value", "(nil)", ":n".
std::string Cmd(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (r == nullptr) return "(no reply)";
  std::string out;
  switch (r->type) {
    case REDIS_REPLY_STATUS: out = "+" + std::string(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out = "-" + std::string(r->str, r->len); break;
    case REDIS_REPLY_STRING: out = "$" + std::string(r->str, r->len); break;
    case REDIS_REPLY_NIL: out = "(nil)"; break;
    case REDIS_REPLY_INTEGER: out = ":" + std::to_string(r->integer); break;
    default: out = "(other)";
  }
  freeReplyObject(r);
  return out;
}

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_ = dir_.path() + "/mnt";
    std::filesystem::create_directories(mnt_);
    if (mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=1m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
    }
    mounted_ = true;
    sock_ = dir_.path() + "/zdb.sock";
  }
  void TearDown() override {
    zdb_.Stop();
    conn_.reset();
    if (mounted_) umount2(mnt_.c_str(), MNT_DETACH);
  }

  void StartZdb() {
    conn_.reset();
    const std::string log = dir_.path() + "/zdb.log";
    for (int attempt = 1;; ++attempt) {
      std::vector<std::string> args = {"--data", mnt_ + "/data", "--index", mnt_ + "/index", "--socket", sock_,
                                       "--listen", "127.0.0.1", "--port", std::to_string(qs_test::FreePort()),
                                       "--datasize", "64K"};
      ASSERT_TRUE(zdb_.Start(ZdbBinary(), args, log));
      if (zdb_.WaitUnix(sock_)) break;
      const std::string text = zdb_test::ReadRaw(log);
      ASSERT_TRUE(attempt < 3 && text.find("in use") != std::string::npos) << "zdb did not start:\n" << text;
    }
    conn_.reset(redisConnectUnix(sock_.c_str()));
    ASSERT_TRUE(conn_ != nullptr && conn_->err == 0);
  }
  void Restart() {
    conn_.reset();
    ASSERT_EQ(zdb_.Stop(), 0);
    StartZdb();
  }
  std::string Cmd(const std::vector<std::string>& args) { return ::Cmd(conn_.get(), args); }

  struct RedisFree {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  zdb_test::TempDir dir_;
  std::string mnt_, sock_;
  bool mounted_ = false;
  qs_test::DaemonProcess zdb_;
  std::unique_ptr<redisContext, RedisFree> conn_;
};

TEST_F(FullDiskTest, StartsServesReadsAndWritesAgainWhenSpaceReturns) {
  const std::string ballast = mnt_ + "/ballast";
  zdb_test::WriteRaw(ballast, std::string(256 << 10, 'b'));  // freed later: space returns
  ASSERT_NO_FATAL_FAILURE(StartZdb());
  const std::string no_space = "-Cannot write data right now (no space left on device)";
  std::map<std::string, std::string> written;
  std::string reply;
  for (int i = 0; i < 1000; ++i) {
    std::string k = "k" + std::to_string(i), v(8 << 10, static_cast<char>('a' + i % 26));
    reply = Cmd({"SET", k, v});
    if (reply != "$" + k) break;
    written[k] = v;
  }
  ASSERT_EQ(reply, no_space);
  ASSERT_GT(written.size(), 10u);
  // A rotation on the full disk: the new segment's files stay empty.
  EXPECT_EQ(Cmd({"NSJUMP"}), "+OK");
  EXPECT_EQ(Cmd({"SET", "x", "y"}), no_space);

  ASSERT_NO_FATAL_FAILURE(Restart());  // still full
  for (auto& [k, v] : written) ASSERT_EQ(Cmd({"GET", k}), "$" + v) << k;
  EXPECT_EQ(Cmd({"SET", "x", "y"}), no_space);
  EXPECT_EQ(Cmd({"GET", "x"}), "(nil)");

  std::filesystem::remove(ballast);
  EXPECT_EQ(Cmd({"SET", "x", "y"}), "$x");
  EXPECT_EQ(Cmd({"GET", "x"}), "$y");
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(Cmd({"GET", "x"}), "$y");
  for (auto& [k, v] : written) ASSERT_EQ(Cmd({"GET", k}), "$" + v) << k;
}

}  // namespace
