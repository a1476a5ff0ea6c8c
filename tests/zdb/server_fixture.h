// Test fixture for zdb integration tests: a real zdb process driven over its
// sockets with hiredis (Conn), exact-reply assertions, and raw exchanges for
// bytes hiredis would not send.
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tests/common/daemon_process.h"
#include "tests/common/free_port.h"
#include "tests/zdb/test_util.h"

namespace zdb_server_test {

using qs_test::DaemonProcess;

// QS_TEST_ZDB runs the tests against another zdb binary (e.g. an older build).
inline std::string ZdbBinary() {
  const char* other = std::getenv("QS_TEST_ZDB");
  return other != nullptr && *other != '\0' ? std::string(other) : std::string(QS_BIN_DIR) + "/zdb";
}

// Ports from the kernel: a fixed pid-based range ran into the ephemeral
// ports (another connection held one now and then).
using qs_test::FreePort;

struct R {
  int type = 0;
  std::string str;
  long long integer = 0;
  std::vector<R> elems;
};

inline R Convert(redisReply* r) {
  R out;
  if (r == nullptr) {
    out.type = -1;
    return out;
  }
  out.type = r->type;
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
    out.str.assign(r->str, r->len);
  if (r->type == REDIS_REPLY_INTEGER) out.integer = r->integer;
  if (r->type == REDIS_REPLY_ARRAY)
    for (size_t i = 0; i < r->elements; ++i) out.elems.push_back(Convert(r->element[i]));
  return out;
}

class Conn {
 public:
  explicit Conn(const std::string& unix_path) { c_ = redisConnectUnix(unix_path.c_str()); }
  Conn(const std::string& host, int port) { c_ = redisConnect(host.c_str(), port); }
  ~Conn() {
    if (c_) redisFree(c_);
  }
  bool ok() const { return c_ != nullptr && c_->err == 0; }
  R Cmd(std::vector<std::string> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisReply* r = static_cast<redisReply*>(redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    R out = Convert(r);
    if (r) freeReplyObject(r);
    return out;
  }
  void Append(std::vector<std::string> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data());
  }
  R Read() {
    void* r = nullptr;
    if (redisGetReply(c_, &r) != REDIS_OK) return R{-1, "", 0, {}};
    R out = Convert(static_cast<redisReply*>(r));
    freeReplyObject(r);
    return out;
  }
  redisContext* raw() { return c_; }

 private:
  redisContext* c_ = nullptr;
};

#define EXPECT_STATUS(r, s) do { R _r = (r); EXPECT_EQ(_r.type, REDIS_REPLY_STATUS) << _r.str; EXPECT_EQ(_r.str, s); } while (0)
#define EXPECT_ERROR(r, s) do { R _r = (r); EXPECT_EQ(_r.type, REDIS_REPLY_ERROR) << _r.str; EXPECT_EQ(_r.str, s); } while (0)
#define EXPECT_BULK(r, s) do { R _r = (r); EXPECT_EQ(_r.type, REDIS_REPLY_STRING) << _r.str; EXPECT_EQ(_r.str, s); } while (0)
#define EXPECT_NIL(r) do { R _r = (r); EXPECT_EQ(_r.type, REDIS_REPLY_NIL) << _r.str; } while (0)
#define EXPECT_INT(r, v) do { R _r = (r); EXPECT_EQ(_r.type, REDIS_REPLY_INTEGER) << _r.str; EXPECT_EQ(_r.integer, v); } while (0)

// Sends raw bytes on a Unix socket and reads until the server closes.
inline std::string RawExchange(const std::string& path, const std::string& request) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "connect failed";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return "write failed";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  close(fd);
  return got;
}

class IgnoreSigpipe : public ::testing::Environment {
 public:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    rlimit rl;  // TwoThousandClients needs the descriptors
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
};
const auto* const kSigpipe = ::testing::AddGlobalTestEnvironment(new IgnoreSigpipe);

class ZdbServerTest : public ::testing::Test {
 protected:
  void SetUp() override { sock_ = dir_.path() + "/zdb.sock"; }

  void StartZdb(std::vector<std::string> extra = {}) {
    const std::string log = dir_.path() + "/zdb.log";
    // The port may be taken between FreePort and zdb's bind: then another.
    for (int attempt = 1;; ++attempt) {
      port_ = FreePort();
      std::vector<std::string> args = {"--data", dir_.path() + "/data", "--index", dir_.path() + "/index",
                                       "--socket", sock_, "--dualnet", "--listen", "127.0.0.1",
                                       "--port", std::to_string(port_)};
      args.insert(args.end(), extra.begin(), extra.end());
      last_args_ = args;
      ASSERT_TRUE(zdb_.Start(ZdbBinary(), args, log));
      if (zdb_.WaitUnix(sock_)) return;
      const std::string text = zdb_test::ReadRaw(log);
      ASSERT_TRUE(attempt < 3 && text.find("Address already in use") != std::string::npos) << text;
      zdb_.Kill();
    }
  }
  void Restart() {
    ASSERT_EQ(zdb_.Stop(), 0);
    ASSERT_TRUE(zdb_.Start(ZdbBinary(), last_args_, dir_.path() + "/zdb.log"));
    ASSERT_TRUE(zdb_.WaitUnix(sock_)) << zdb_test::ReadRaw(dir_.path() + "/zdb.log");
  }
  std::unique_ptr<Conn> Connect() { return std::make_unique<Conn>(sock_); }

  zdb_test::TempDir dir_;
  std::string sock_;
  int port_ = 0;
  DaemonProcess zdb_;
  std::vector<std::string> last_args_;
};

}  // namespace zdb_server_test
