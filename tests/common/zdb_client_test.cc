// Tests ZdbClient against a real redis-server (RESP compatible; SELECT takes
// a database index there, so namespaces are numbers in these tests).
#include "common/zdb_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/free_port.h"
#include "tests/common/hostile_server.h"

namespace qs {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using qs_test::FreePort;

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A redis-server child process on 127.0.0.1:port with a private directory.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {})
      : port_(FreePort()), extra_(std::move(extra_args)) {
    char tmpl[] = "/tmp/zdb_client_test_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) abort();
    dir_ = tmpl;
  }
  ~RedisServer() {
    Kill();
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
  }

  int port() const { return port_; }
  std::string unix_socket() const { return dir_ + "/redis.sock"; }

  bool Start() {
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_),
                                     "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                     "--dir", dir_, "--logfile", dir_ + "/redis.log",
                                     "--daemonize", "no", "--unixsocket", unix_socket(),
                                     "--protected-mode", "no"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 1);
      dup2(devnull, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv("/usr/bin/redis-server", argv.data());
      _exit(127);
    }
    for (int i = 0; i < 500; i++) {
      if (CanConnect(port_) && access(unix_socket().c_str(), F_OK) == 0) return true;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  int port_;
  std::vector<std::string> extra_;
  std::string dir_;
  pid_t pid_ = -1;
};

class ZdbClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new RedisServer();
    ASSERT_TRUE(server_->Start()) << "cannot start /usr/bin/redis-server";
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static ZdbAddress Addr(std::string ns = "") {
    ZdbAddress a;
    a.host = "127.0.0.1";
    a.port = server_->port();
    a.ns = std::move(ns);
    return a;
  }

  static RedisServer* server_;
};

RedisServer* ZdbClientTest::server_ = nullptr;

TEST(ZdbAddressTest, Parse) {
  Result<ZdbAddress> a = ParseZdbAddress("10.0.0.1:9901");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.1");
  EXPECT_EQ(a->port, 9901);
  EXPECT_EQ(a->ToString(), "10.0.0.1:9901");

  a = ParseZdbAddress("zdb.example.org");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "zdb.example.org");
  EXPECT_EQ(a->port, 9900);

  a = ParseZdbAddress("[2001:db8::1]:9000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "2001:db8::1");
  EXPECT_EQ(a->port, 9000);
  EXPECT_EQ(a->ToString(), "[2001:db8::1]:9000");

  a = ParseZdbAddress("[::1]");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 9900);

  a = ParseZdbAddress("unix:/run/zdb.sock");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->unix_path, "/run/zdb.sock");
  EXPECT_EQ(a->ToString(), "unix:/run/zdb.sock");

  for (const char* bad : {"", ":9900", "host:", "host:0", "host:65536", "host:12ab", "[::1",
                          "[::1]9000", "[]:9000", "unix:"}) {
    Result<ZdbAddress> r = ParseZdbAddress(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
    }
  }
}

TEST_F(ZdbClientTest, SetGetDelExists) {
  ZdbClient c(Addr());
  ASSERT_TRUE(c.Connect().ok());
  Result<std::string> key = c.Set("k1", "v1");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key.value(), "k1");  // redis replies +OK; the client reports the key

  Result<std::optional<std::string>> v = c.Get("k1");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "v1");

  Result<bool> e = c.Exists("k1");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e.value());

  EXPECT_TRUE(c.Del("k1").ok());
  Status again = c.Del("k1");
  EXPECT_TRUE(again.IsNotFound()) << again.ToString();

  v = c.Get("k1");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
  e = c.Exists("k1");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e.value());
  EXPECT_TRUE(c.Ping().ok());
}

TEST_F(ZdbClientTest, BinaryKeysAndValues) {
  ZdbClient c(Addr());
  std::string key("bin\0key\r\n", 9);
  std::string value("\0\r\n$3\r\n*1\r\n\0\xff", 14);
  ASSERT_TRUE(c.Set(key, value).ok());
  Result<std::optional<std::string>> v = c.Get(key);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, value);
  EXPECT_FALSE(c.Exists(std::string("bin", 3)).value());

  std::string big(4 << 20, '\0');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7919 % 251);
  ASSERT_TRUE(c.Set("big", big).ok());
  v = c.Get("big");
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->has_value());
  EXPECT_TRUE(**v == big);
  EXPECT_TRUE(c.Set("empty", "").ok());
  v = c.Get("empty");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(**v, "");
}

TEST_F(ZdbClientTest, Pipelining) {
  ZdbClient c(Addr());
  Result<std::vector<Reply>> none = c.Flush();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(c.Append({}).code(), Status::Code::kInvalidArgument);

  constexpr int kN = 1000;
  std::vector<std::string> keys, values;
  for (int i = 0; i < kN; i++) {
    keys.push_back("pipe:" + std::to_string(i));
    values.push_back(std::string("v\0\r\n", 4) + std::to_string(i * i));
  }
  for (int i = 0; i < kN; i++) ASSERT_TRUE(c.Append({"SET", keys[i], values[i]}).ok());
  EXPECT_EQ(c.pending(), static_cast<size_t>(kN));
  Result<std::vector<Reply>> r = c.Flush();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(c.pending(), 0u);
  ASSERT_EQ(r->size(), static_cast<size_t>(kN));
  for (const Reply& rep : *r) {
    ASSERT_TRUE(rep.is_status()) << rep.DebugString();
    EXPECT_EQ(rep.str, "OK");
  }

  for (int i = 0; i < kN; i++) ASSERT_TRUE(c.Append({"GET", keys[i]}).ok());
  c.Append({"GET", "pipe:missing"});
  c.Append({"NOSUCHCOMMAND", "x"});
  c.Append({"EXISTS", keys[0]});
  r = c.Flush();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), static_cast<size_t>(kN + 3));
  for (int i = 0; i < kN; i++) {
    ASSERT_TRUE((*r)[i].is_string()) << (*r)[i].DebugString();
    EXPECT_EQ((*r)[i].str, values[i]);
  }
  EXPECT_TRUE((*r)[kN].is_nil());
  EXPECT_TRUE((*r)[kN + 1].is_error());
  ASSERT_TRUE((*r)[kN + 2].is_integer());
  EXPECT_EQ((*r)[kN + 2].integer, 1);
}

TEST_F(ZdbClientTest, ServerErrorsAreErrorReplies) {
  ZdbClient c(Addr());
  Result<Reply> r = c.Command({"NOSUCHCOMMAND", "a", "b"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->is_error());
  EXPECT_NE(r->str.find("unknown command"), std::string::npos) << r->str;

  ASSERT_TRUE(c.Set("notanumber", "abc").ok());
  r = c.Command({"INCR", "notanumber"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_error()) << r->DebugString();

  // Typed helpers map server errors to a Status; the connection stays usable.
  r = c.Command({"RPUSH", "alist", "x"});
  ASSERT_TRUE(r.ok() && r->is_integer());
  Result<std::optional<std::string>> g = c.Get("alist");  // WRONGTYPE
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Status::Code::kInvalidArgument) << g.status().ToString();
  EXPECT_TRUE(c.Ping().ok());
  EXPECT_EQ(c.Command({}).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(ZdbClientTest, ReplyTypes) {
  ZdbClient c(Addr());
  c.Del("counter");
  Result<Reply> r = c.Command({"INCRBY", "counter", "41"});
  ASSERT_TRUE(r.ok() && r->is_integer());
  EXPECT_EQ(r->integer, 41);
  ASSERT_TRUE(c.Set("m1", "one").ok());
  r = c.Command({"MGET", "m1", "m-missing"});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->is_array()) << r->DebugString();
  ASSERT_EQ(r->elements.size(), 2u);
  EXPECT_EQ(r->elements[0].str, "one");
  EXPECT_TRUE(r->elements[1].is_nil());
  EXPECT_EQ(r->DebugString(), "[\"one\", (nil)]");
  r = c.Command({"PING"});
  ASSERT_TRUE(r.ok() && r->is_status());
  EXPECT_EQ(r->str, "PONG");
}

// Replies are built straight into Reply by the client's reader functions:
// nested arrays, empty arrays, nils, integers and errors at any depth.
TEST_F(ZdbClientTest, NestedReplies) {
  ZdbClient c(Addr());
  Result<Reply> r = c.Command({"EVAL", "return {1, {'a', {}, {2, 'b'}}, {}, redis.error_reply('inner')}", "0"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->DebugString(), "[1, [\"a\", [], [2, \"b\"]], [], -ERR inner]");
  r = c.Command({"EVAL", "return redis.error_reply('outer')", "0"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_error());
  EXPECT_EQ(r->str, "ERR outer");
}

// Values above the client's direct-write size go out without a copy, in
// commands and in pipelines, interleaved with small ones on one
// connection; every reply lines up with its command.
TEST_F(ZdbClientTest, LargeValuesInterleaveWithSmallOnes) {
  ZdbClient c(Addr());
  std::vector<std::string> values;
  for (size_t n : {size_t{64} << 10, (size_t{64} << 10) - 1, size_t{3} << 20, size_t{10}}) {
    std::string v(n, '\0');
    for (size_t i = 0; i < n; i++) v[i] = static_cast<char>((i * 31 + n) % 253);
    values.push_back(std::move(v));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(c.Set("lv" + std::to_string(i), values[i]).ok()) << i;
    ASSERT_TRUE(c.Ping().ok());
  }
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(c.Append({"GET", "lv" + std::to_string(i)}).ok());
    ASSERT_TRUE(c.Append({"SET", "lw" + std::to_string(i), values[i]}).ok());
  }
  Result<std::vector<Reply>> replies = c.Flush();
  ASSERT_TRUE(replies.ok()) << replies.status().ToString();
  ASSERT_EQ(replies->size(), 2 * values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_TRUE((*replies)[2 * i].str == values[i]) << i;
    EXPECT_TRUE((*replies)[2 * i + 1].is_status()) << i;
    auto v = c.Get("lw" + std::to_string(i));
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_TRUE(**v == values[i]) << i;
  }
}

// Pipeline sends large arguments from the caller's memory, small ones
// encoded, in one go; replies line up with commands. It refuses to mix
// with commands queued by Append (their order would be unclear).
TEST_F(ZdbClientTest, PipelineWithoutCopies) {
  ZdbClient c(Addr());
  Result<std::vector<Reply>> none = c.Pipeline({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(c.Pipeline({{}}).status().code(), Status::Code::kInvalidArgument);
  std::vector<std::string> values;
  for (size_t n : {size_t{0}, size_t{5}, (size_t{16} << 10) - 1, size_t{16} << 10, size_t{1} << 20, size_t{7}}) {
    std::string v(n, '\0');
    for (size_t i = 0; i < n; i++) v[i] = static_cast<char>((i * 131 + n) % 255);
    values.push_back(std::move(v));
  }
  std::vector<std::string> keys;
  for (size_t i = 0; i < values.size(); ++i) keys.push_back("pk" + std::to_string(i));
  std::vector<std::vector<std::string_view>> cmds;
  for (size_t i = 0; i < values.size(); ++i) {
    cmds.push_back({"SET", keys[i], values[i]});
    cmds.push_back({"STRLEN", keys[i]});
  }
  Result<std::vector<Reply>> r = c.Pipeline(cmds);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), cmds.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_TRUE((*r)[2 * i].is_status()) << i;
    ASSERT_TRUE((*r)[2 * i + 1].is_integer()) << i;
    EXPECT_EQ((*r)[2 * i + 1].integer, static_cast<long long>(values[i].size())) << i;
  }
  cmds.clear();
  for (size_t i = 0; i < values.size(); ++i) cmds.push_back({"GET", keys[i]});
  r = c.Pipeline(cmds);
  ASSERT_TRUE(r.ok());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_TRUE((*r)[i].str == values[i]) << i;
  ASSERT_TRUE(c.Append({"PING"}).ok());
  EXPECT_EQ(c.Pipeline({{"PING"}}).status().code(), Status::Code::kInvalidArgument);
  Result<std::vector<Reply>> flushed = c.Flush();
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(flushed->size(), 1u);
}

TEST_F(ZdbClientTest, NamespaceSelect) {
  ZdbClient db0(Addr());
  ZdbClient db1(Addr("1"));
  ASSERT_TRUE(db1.Set("nskey", "in-db1").ok());
  EXPECT_FALSE(db0.Exists("nskey").value());
  EXPECT_TRUE(db1.Exists("nskey").value());

  // A SELECT the server rejects fails the call (no retries, not Unavailable).
  ZdbClient bad(Addr("not-a-number"));
  Status s = bad.Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("SELECT"), std::string::npos) << s.ToString();
  EXPECT_FALSE(bad.connected());
  EXPECT_FALSE(bad.Get("x").ok());
}

TEST_F(ZdbClientTest, UnixSocket) {
  Result<ZdbAddress> a = ParseZdbAddress("unix:" + server_->unix_socket());
  ASSERT_TRUE(a.ok());
  ZdbClient c(*a);
  ASSERT_TRUE(c.Set("via-unix", "yes").ok());
  ZdbClient tcp(Addr());
  EXPECT_EQ(tcp.Get("via-unix").value().value_or(""), "yes");
}

TEST(ZdbClientNoServerTest, ConnectionRefusedIsUnavailableQuickly) {
  ZdbAddress addr;
  addr.host = "127.0.0.1";
  addr.port = FreePort();  // nothing listens there
  ZdbClientOptions one;
  one.connect_attempts = 1;
  ZdbClient c(addr, one);
  auto start = Clock::now();
  Status s = c.Connect();
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  Result<std::optional<std::string>> g = c.Get("k");
  EXPECT_EQ(g.status().code(), Status::Code::kUnavailable);
  EXPECT_LT(Clock::now() - start, milliseconds(500));
  EXPECT_NE(s.message().find(addr.ToString()), std::string::npos) << s.message();

  // Default options: 3 attempts with 100 ms + 200 ms back-off.
  ZdbClient d(addr);
  start = Clock::now();
  Result<Reply> r = d.Command({"PING"});
  auto took = Clock::now() - start;
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_GE(took, milliseconds(290));
  EXPECT_LT(took, milliseconds(1500));
}

TEST(ZdbClientNoServerTest, CommandTimeout) {
  // A listener that never accepts: connect succeeds (backlog), no reply ever.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);

  ZdbAddress addr;
  addr.host = "127.0.0.1";
  addr.port = ntohs(sa.sin_port);
  ZdbClientOptions opt;
  opt.command_timeout = milliseconds(200);
  opt.connect_attempts = 1;
  ZdbClient c(addr, opt);
  auto start = Clock::now();
  Status s = c.Ping();
  auto took = Clock::now() - start;
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("timed out"), std::string::npos) << s.message();
  EXPECT_GE(took, milliseconds(150));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_FALSE(c.connected());
  // A value larger than the socket buffers, written directly: the timeout
  // holds for the write too.
  std::string big(size_t{64} << 20, 'v');
  Result<std::string> set = c.Set("k", big);
  EXPECT_EQ(set.status().code(), Status::Code::kUnavailable) << set.status().ToString();
  EXPECT_NE(set.status().message().find("send: timed out"), std::string::npos) << set.status().message();
  EXPECT_FALSE(c.connected());
  close(fd);
}

TEST(ZdbClientRestartTest, ReconnectsAfterServerRestart) {
  RedisServer server;
  ASSERT_TRUE(server.Start());
  ZdbAddress addr;
  addr.host = "127.0.0.1";
  addr.port = server.port();
  ZdbClientOptions opt;
  opt.connect_attempts = 1;
  ZdbClient c(addr, opt);
  ASSERT_TRUE(c.Set("a", "1").ok());

  // Killed and restarted while the client was idle: the next call notices
  // the dead connection before sending and transparently reconnects.
  server.Kill();
  ASSERT_TRUE(server.Start());
  Result<std::string> set = c.Set("b", "2");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(c.Get("b").value().value_or(""), "2");

  // Calls while the server is down fail with Unavailable ...
  server.Kill();
  Result<std::optional<std::string>> g = c.Get("b");
  EXPECT_EQ(g.status().code(), Status::Code::kUnavailable) << g.status().ToString();
  EXPECT_EQ(c.Ping().code(), Status::Code::kUnavailable);
  c.Append({"SET", "p", "1"});
  EXPECT_EQ(c.Flush().status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(c.pending(), 0u);

  // ... and succeed again once it is back on the same port.
  ASSERT_TRUE(server.Start());
  EXPECT_TRUE(c.Ping().ok());
  ASSERT_TRUE(c.Set("c", "3").ok());
  EXPECT_EQ(c.Get("c").value().value_or(""), "3");

  // With several attempts per call, a call made while the server is still
  // coming back succeeds by itself.
  server.Kill();
  ZdbClientOptions patient;
  patient.connect_attempts = 6;  // sleeps 100+200+400+800+1600 ms at most
  ZdbClient p(addr, patient);
  std::thread restarter([&] {
    std::this_thread::sleep_for(milliseconds(250));
    server.Start();
  });
  Status ps = p.Ping();
  restarter.join();
  EXPECT_TRUE(ps.ok()) << ps.ToString();
}

TEST(ZdbClientAuthTest, AuthIsReplayedOnReconnect) {
  RedisServer server({"--requirepass", "s3cret"});
  ASSERT_TRUE(server.Start());
  ZdbAddress addr;
  addr.host = "127.0.0.1";
  addr.port = server.port();

  ZdbClient c(addr);
  Result<std::string> set = c.Set("k", "v");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), Status::Code::kPermissionDenied) << set.status().ToString();

  Status wrong = c.Auth("nope");
  EXPECT_EQ(wrong.code(), Status::Code::kPermissionDenied) << wrong.ToString();
  ASSERT_TRUE(c.Auth("s3cret").ok());
  ASSERT_TRUE(c.Set("k", "v").ok());

  server.Kill();
  ASSERT_TRUE(server.Start());
  ASSERT_TRUE(c.Set("k2", "v2").ok());  // reconnect sent AUTH again
  EXPECT_EQ(c.Get("k2").value().value_or(""), "v2");

  // Auth before the first connect runs before SELECT.
  addr.ns = "2";
  ZdbClient n(addr);
  ASSERT_TRUE(n.Auth("s3cret").ok());
  ASSERT_TRUE(n.Set("in2", "x").ok());
  EXPECT_FALSE(c.Exists("in2").value());

  ZdbClient w(addr);
  Status ws = w.Auth("bad");
  EXPECT_EQ(ws.code(), Status::Code::kPermissionDenied) << ws.ToString();
  EXPECT_FALSE(w.connected());
}

// A broken or malicious server cannot make the client allocate what a reply
// declares, buffer without bound, or wait past the request's deadline.
std::string HostileSocket(const char* name) {
  return "/tmp/zdb_client_test_" + std::to_string(getpid()) + "_" + name + ".sock";
}

ZdbAddress UnixAddress(const std::string& path) {
  ZdbAddress a;
  a.unix_path = path;
  return a;
}

TEST(ZdbClientHostileTest, HugeArrayIsRefusedNotAllocated) {
  qs_test::HostileServer server(HostileSocket("array"), qs_test::HostileServer::Mode::kHugeArray);
  ZdbClientOptions opt;
  opt.connect_attempts = 1;
  ZdbClient c(UnixAddress(server.path()), opt);
  Result<Reply> r = c.Command({"SCAN"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("2147483647 elements"), std::string::npos) << r.status().message();
  EXPECT_FALSE(c.connected());
  // Same through the typed helpers and a pipeline.
  EXPECT_EQ(c.Get("k").status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(c.Pipeline({{"GET", "a"}, {"GET", "b"}}).status().code(), Status::Code::kUnavailable);
}

TEST(ZdbClientHostileTest, EndlessLineAndHugeBulkAreCutAtTheReplyLimit) {
  for (auto mode : {qs_test::HostileServer::Mode::kEndlessLine, qs_test::HostileServer::Mode::kHugeBulk}) {
    qs_test::HostileServer server(HostileSocket("flood"), mode);
    ZdbClientOptions opt;
    opt.connect_attempts = 1;
    opt.max_reply_bytes = size_t{1} << 20;
    ZdbClient c(UnixAddress(server.path()), opt);
    Result<std::optional<std::string>> r = c.Get("k");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
    std::string want = mode == qs_test::HostileServer::Mode::kEndlessLine ? "reply exceeds 65536 bytes without a line end"
                                                                           : "reply exceeds 1048576 bytes";
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
    EXPECT_FALSE(c.connected());
  }
}

TEST(ZdbClientHostileTest, RequestDeadlineHoldsAgainstATrickle) {
  // A byte every 20 ms: no single read ever waits for the command timeout,
  // the request's total deadline ends it.
  qs_test::HostileServer server(HostileSocket("trickle"), qs_test::HostileServer::Mode::kTrickle);
  ZdbClientOptions opt;
  opt.connect_attempts = 1;
  opt.command_timeout = milliseconds(2000);
  opt.request_timeout = milliseconds(400);
  ZdbClient c(UnixAddress(server.path()), opt);
  auto start = Clock::now();
  Result<std::optional<std::string>> r = c.Get("k");
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("request deadline"), std::string::npos) << r.status().message();
  EXPECT_GE(took, milliseconds(350));
  EXPECT_LT(took, milliseconds(20000));  // sanity bound only: without the deadline this never returns
}

}  // namespace
}  // namespace qs
