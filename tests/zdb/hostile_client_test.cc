// Clients that try to exhaust zdb: requests that never end, pipelines whose
// replies are never read, connections past the descriptor limit. zdb must
// keep its memory bounded, disconnect them, back off, and keep answering a
// well-behaved client (docs/zdb-protocol.md, "Limits").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/zdb/server_fixture.h"

namespace {

using namespace zdb_server_test;
using Clock = std::chrono::steady_clock;

// VmRSS of pid in bytes (0 when gone).
uint64_t RssBytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

// User + system CPU time of pid, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t paren = all.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(all.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `head`, then `body` `times` times (forever when times < 0), as fast
// as the server takes it, and never reads; returns when the server has
// disconnected it or on stop.
void Flood(const std::string& path, const std::string& head, const std::string& body, int times,
           const std::atomic<bool>& stop, std::atomic<int>* disconnected) {
  int fd = ConnectUnix(path);
  if (fd < 0) return;
  const std::string* part = &head;
  size_t at = 0;
  int sent_bodies = 0;
  while (!stop) {
    if (at == part->size()) {
      if (part == &body) ++sent_bodies;
      at = 0;
      part = &body;
      if (times >= 0 && sent_bodies == times) {  // all sent: wait for the server to close
        char b;
        ssize_t n = recv(fd, &b, 1, MSG_PEEK);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        at = part->size();
        --sent_bodies;
        continue;
      }
    }
    ssize_t n = send(fd, part->data() + at, part->size() - at, MSG_NOSIGNAL);
    if (n > 0) {
      at += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } else {
      break;  // EPIPE / ECONNRESET: the server closed this client
    }
  }
  if (!stop) ++*disconnected;
  close(fd);
}

// One unfinished MGET of 120 arguments of 8 MiB each, and six clients that
// pipeline GETs of an 8 MiB value and never read the replies. Bound:
// zdb's VmRSS stays under 1 GiB (under ASan, whose quarantine alone keeps up
// to 256 MiB of freed memory; the limits allow about 6 x 40 MiB of buffers
// here); before the limits it passed 3 GB. A PING from another client is
// answered throughout.
TEST_F(ZdbServerTest, HostileClientsGetBoundedMemoryAndAreDisconnected) {
  StartZdb({"--client-output-seconds", "2"});
  const pid_t pid = zdb_.pid();
  auto good = Connect();
  ASSERT_TRUE(good->ok());
  const std::string big(8 << 20, 'v');
  EXPECT_BULK(good->Cmd({"SET", "big", big}), "big");
  redisSetTimeout(good->raw(), timeval{10, 0});

  const std::string mget = "*121\r\n$4\r\nMGET\r\n";
  const std::string arg = "$8388608\r\n" + std::string(8 << 20, 'k') + "\r\n";
  std::string gets;
  for (int i = 0; i < 4096; ++i) gets += "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";

  constexpr uint64_t kRssBound = 1ull << 30;
  std::atomic<bool> stop{false};
  std::atomic<int> disconnected{0};
  std::vector<std::thread> hostile;
  const std::string none;
  hostile.emplace_back(Flood, sock_, std::cref(mget), std::cref(arg), 120, std::cref(stop), &disconnected);
  for (int i = 0; i < 6; ++i)
    hostile.emplace_back(Flood, sock_, std::cref(none), std::cref(gets), -1, std::cref(stop), &disconnected);

  uint64_t peak = 0;
  double worst_ping_ms = 0;
  int pings = 0;
  bool ping_failed = false;
  const auto start = Clock::now();
  auto last_ping = start;
  // Until all seven are disconnected (a generous deadline), or the bound is
  // crossed, or a PING fails.
  while (Clock::now() - start < std::chrono::seconds(60)) {
    peak = std::max(peak, RssBytes(pid));
    if (peak > kRssBound || !zdb_.Running()) break;
    if (Clock::now() - last_ping >= std::chrono::milliseconds(500)) {
      last_ping = Clock::now();
      R r = good->Cmd({"PING"});
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - last_ping).count();
      worst_ping_ms = std::max(worst_ping_ms, ms);
      ++pings;
      if (r.type != REDIS_REPLY_STATUS || r.str != "PONG") {
        ping_failed = true;
        break;
      }
    }
    if (disconnected == 7 && Clock::now() - start > std::chrono::seconds(3)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& t : hostile) t.join();
  std::printf("zdb VmRSS peak %.1f MiB (bound %.0f MiB); %d PINGs, slowest %.1f ms; %d of 7 hostile clients disconnected\n",
              static_cast<double>(peak) / (1 << 20), static_cast<double>(kRssBound) / (1 << 20), pings, worst_ping_ms,
              disconnected.load());
  ASSERT_TRUE(zdb_.Running());
  EXPECT_LT(peak, kRssBound);
  EXPECT_FALSE(ping_failed) << "PING unanswered within 10 s";
  EXPECT_GE(pings, 3);
  EXPECT_EQ(disconnected.load(), 7);
  // The well-behaved client still gets its 8 MiB value, byte for byte.
  R got = good->Cmd({"GET", "big"});
  EXPECT_EQ(got.type, REDIS_REPLY_STRING);
  EXPECT_TRUE(got.str == big) << got.str.size() << " bytes";
  R info = good->Cmd({"INFO"});
  EXPECT_NE(info.str.find("connected_clients: 1\n"), std::string::npos) << info.str;
  // The MGET client ended on a protocol error, the six others by the limits.
  EXPECT_NE(info.str.find("clients_disconnected_limits: 6\n"), std::string::npos) << info.str;
}

// A client that reads its replies slowly is not cut off: it waits while its
// unread replies are over the soft limit, and gets every one of them.
TEST_F(ZdbServerTest, SlowReaderGetsAllItsReplies) {
  StartZdb({"--client-output-soft", "1M", "--client-output-seconds", "30"});
  auto c = Connect();
  const std::string value(1 << 20, 'x');
  EXPECT_BULK(c->Cmd({"SET", "v", value}), "v");
  constexpr int kGets = 64;  // 64 MiB of replies, 64 times the soft limit
  for (int i = 0; i < kGets; ++i) c->Append({"GET", "v"});
  c->Append({"PING"});
  for (int i = 0; i < kGets; ++i) {
    if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    R r = c->Read();
    ASSERT_EQ(r.type, REDIS_REPLY_STRING) << i << " " << r.str;
    ASSERT_TRUE(r.str == value) << i << ": " << r.str.size() << " bytes";
  }
  EXPECT_STATUS(c->Read(), "PONG");
}

// The server-wide budget: with small limits, six clients that pipeline GETs
// and never read hold more than clients-memory together; the largest are
// disconnected (long before client-output-seconds) and a small client stays.
TEST_F(ZdbServerTest, ClientsMemoryBudgetDisconnectsTheLargest) {
  StartZdb({"--max-request", "9M", "--client-output-soft", "1M", "--client-output-hard", "4M",
            "--clients-memory", "13M", "--client-output-seconds", "600"});
  auto good = Connect();
  const std::string value(1 << 20, 'v');
  EXPECT_BULK(good->Cmd({"SET", "v", value}), "v");
  redisSetTimeout(good->raw(), timeval{10, 0});
  std::string gets;
  for (int i = 0; i < 4096; ++i) gets += "*2\r\n$3\r\nGET\r\n$1\r\nv\r\n";
  const std::string none;
  std::atomic<bool> stop{false};
  std::atomic<int> disconnected{0};
  std::vector<std::thread> hostile;
  for (int i = 0; i < 6; ++i)
    hostile.emplace_back(Flood, sock_, std::cref(none), std::cref(gets), -1, std::cref(stop), &disconnected);
  const auto start = Clock::now();
  while (disconnected < 3 && Clock::now() - start < std::chrono::seconds(30))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_STATUS(good->Cmd({"PING"}), "PONG");
  stop = true;
  for (auto& t : hostile) t.join();
  EXPECT_GE(disconnected.load(), 3);
  EXPECT_NE(zdb_test::ReadRaw(dir_.path() + "/zdb.log").find("(clients-memory 13631488): disconnected"),
            std::string::npos);
  R got = good->Cmd({"GET", "v"});
  EXPECT_TRUE(got.str == value) << got.str.size() << " bytes";
}

// One request is bounded as a whole, and one MGET reply too.
TEST_F(ZdbServerTest, RequestAndMgetReplyAreBounded) {
  StartZdb({"--client-output-soft", "1M", "--client-output-hard", "4M"});
  // 16 MiB by default: the second 8 MiB argument is refused from its header.
  const std::string eight(8 << 20, 'k');
  EXPECT_EQ(RawExchange(sock_, "*3\r\n$4\r\nMGET\r\n$8388608\r\n" + eight + "\r\n$8388608\r\n"),
            "-Protocol error: request too large\r\n");
  auto c = Connect();
  const std::string value((1 << 20) - 100, 'm');  // with its bulk header, under 1 MiB
  for (const char* k : {"a", "b", "c", "d"}) EXPECT_BULK(c->Cmd({"SET", k, value}), k);
  // hard - soft = 3 MiB: three values fit, four do not.
  R three = c->Cmd({"MGET", "a", "b", "c"});
  ASSERT_EQ(three.type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(three.elems.size(), 3u);
  EXPECT_ERROR(c->Cmd({"MGET", "a", "b", "c", "d"}), "Reply too large");
  EXPECT_STATUS(c->Cmd({"PING"}), "PONG");
}

// A blocked client is not read, but one that goes away is still noticed at
// once (over TCP, where only the peer's FIN arrives), not after its WAIT.
TEST_F(ZdbServerTest, BlockedClientThatLeavesIsClosed) {
  StartZdb();
  auto c = Connect();
  for (int i = 0; i < 3; ++i) {
    Conn waiter("127.0.0.1", port_);
    ASSERT_TRUE(waiter.ok());
    waiter.Append({"WAIT", "SET", "1800000"});
    ASSERT_EQ(redisBufferWrite(waiter.raw(), nullptr), REDIS_OK);
  }  // closed here
  bool gone = false;
  for (auto deadline = Clock::now() + std::chrono::seconds(10); !gone && Clock::now() < deadline;) {
    gone = c->Cmd({"INFO"}).str.find("connected_clients: 1\n") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << c->Cmd({"INFO"}).str;
}

// Limits that could not hold one legitimate request and its reply are
// refused at start-up (exit code 2), naming the option.
TEST_F(ZdbServerTest, LimitOptionsAreValidated) {
  const std::string log = dir_.path() + "/bad.log";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--max-request", "8M"}, "--max-request must be at least 9M"},
      {{"--client-output-soft", "512K"}, "--client-output-soft must be at least 1M"},
      {{"--client-output-soft", "32M", "--client-output-hard", "16M"},
       "--client-output-hard must not be below --client-output-soft"},
      {{"--clients-memory", "100M"}, "--clients-memory must hold one client's request and replies"},
      {{"--client-output-seconds", "0"}, "client-output-seconds: 0 out of range [1, 86400]"},
  };
  for (const auto& [args, message] : cases) {
    DaemonProcess p;
    ASSERT_TRUE(p.Start(ZdbBinary(), args, log));
    while (p.Running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(p.exit_status(), 2) << message;
    EXPECT_NE(zdb_test::ReadRaw(log).find(message), std::string::npos) << zdb_test::ReadRaw(log);
  }
}

// At the descriptor limit, accept() fails with EMFILE. zdb must not spin on
// it nor log every attempt; once descriptors are free, new clients are served.
TEST_F(ZdbServerTest, DescriptorLimitBacksOffAndRecovers) {
  const std::string log = dir_.path() + "/zdb.log";
  // Soft and hard limit: zdb raises its soft limit to the hard one. prlimit
  // execs zdb in its own process, so zdb_.pid() is zdb's.
  std::vector<std::string> args = {"--nofile=64:64", ZdbBinary(), "--data", dir_.path() + "/data",
                                   "--index", dir_.path() + "/index", "--socket", sock_};
  ASSERT_TRUE(zdb_.Start("/usr/bin/prlimit", args, log));
  ASSERT_TRUE(zdb_.WaitUnix(sock_)) << zdb_test::ReadRaw(log);
  const pid_t pid = zdb_.pid();

  // Connect until zdb is out of descriptors (the kernel's backlog takes the
  // rest), then keep connecting for 3 s and measure what zdb spends.
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i) {
    int fd = ConnectUnix(sock_);
    if (fd >= 0) fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double cpu_before = CpuSeconds(pid);
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(3)) {
    int fd = ConnectUnix(sock_);
    if (fd >= 0) fds.push_back(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double cpu = CpuSeconds(pid) - cpu_before;
  std::ifstream lf(log, std::ios::binary);
  std::stringstream buf;
  buf << lf.rdbuf();
  const std::string text = buf.str();
  size_t accept_lines = 0;  // lines that mention accept
  for (size_t at = text.find("accept"); at != std::string::npos;) {
    ++accept_lines;
    size_t eol = text.find('\n', at);
    at = eol == std::string::npos ? eol : text.find("accept", eol);
  }
  std::printf("zdb CPU %.2f s in 3 s at the descriptor limit; %zu log lines about accept; %zu connections open\n", cpu,
              accept_lines, fds.size());
  EXPECT_LT(cpu, 0.5);
  EXPECT_GE(accept_lines, 1u);  // the condition is logged...
  EXPECT_LE(accept_lines, 3u);  // ...once an interval
  ASSERT_TRUE(zdb_.Running());

  for (int fd : fds) close(fd);
  // New clients are served again (within a generous deadline).
  bool served = false;
  for (auto deadline = Clock::now() + std::chrono::seconds(20); !served && Clock::now() < deadline;) {
    Conn c(sock_);
    if (c.ok()) {
      redisSetTimeout(c.raw(), timeval{2, 0});
      R r = c.Cmd({"PING"});
      served = r.type == REDIS_REPLY_STATUS && r.str == "PONG";
    }
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served);
}

}  // namespace
