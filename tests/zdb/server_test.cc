// Integration tests: a real zdb process driven over its sockets with
// hiredis. Every reply is checked exactly (type and bytes).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <atomic>
#include <map>
#include <set>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/coding.h"
#include "common/zdb_client.h"
#include "tests/common/daemon_process.h"
#include "tests/common/free_port.h"
#include "tests/common/http_get.h"
#include "tests/zdb/server_fixture.h"
#include "tests/zdb/test_util.h"

namespace {

using namespace zdb_server_test;
using qs_test::DaemonProcess;

TEST_F(ZdbServerTest, BasicCommandsUserMode) {
  StartZdb();
  auto c = Connect();
  ASSERT_TRUE(c->ok());
  EXPECT_STATUS(c->Cmd({"PING"}), "PONG");
  EXPECT_BULK(c->Cmd({"SET", "key1", "value1"}), "key1");
  EXPECT_BULK(c->Cmd({"GET", "key1"}), "value1");
  EXPECT_NIL(c->Cmd({"SET", "key1", "value1"}));  // unchanged
  EXPECT_BULK(c->Cmd({"SET", "key1", "value2"}), "key1");
  EXPECT_BULK(c->Cmd({"GET", "key1"}), "value2");
  EXPECT_NIL(c->Cmd({"GET", "nope"}));
  EXPECT_INT(c->Cmd({"EXISTS", "key1"}), 1);
  EXPECT_INT(c->Cmd({"EXISTS", "nope"}), 0);
  EXPECT_INT(c->Cmd({"CHECK", "key1"}), 1);
  EXPECT_NIL(c->Cmd({"CHECK", "nope"}));
  EXPECT_INT(c->Cmd({"LENGTH", "key1"}), 6);
  EXPECT_NIL(c->Cmd({"LENGTH", "nope"}));
  R kt = c->Cmd({"KEYTIME", "key1"});
  EXPECT_EQ(kt.type, REDIS_REPLY_INTEGER);
  EXPECT_NEAR(kt.integer, time(nullptr), 5);
  EXPECT_INT(c->Cmd({"DBSIZE"}), 1);
  EXPECT_STATUS(c->Cmd({"DEL", "key1"}), "OK");
  EXPECT_ERROR(c->Cmd({"DEL", "key1"}), "Key not found");
  EXPECT_NIL(c->Cmd({"GET", "key1"}));
  EXPECT_INT(c->Cmd({"DBSIZE"}), 0);
  // Binary-safe keys and values.
  std::string bin("a\0b\r\nc", 6);
  EXPECT_BULK(c->Cmd({"SET", bin, bin + bin}), bin);
  EXPECT_BULK(c->Cmd({"GET", bin}), bin + bin);
  // MGET mixes hits and misses.
  c->Cmd({"SET", "m1", "one"});
  R mg = c->Cmd({"MGET", "m1", "missing", bin});
  ASSERT_EQ(mg.type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(mg.elems.size(), 3u);
  EXPECT_EQ(mg.elems[0].str, "one");
  EXPECT_EQ(mg.elems[1].type, REDIS_REPLY_NIL);
  EXPECT_EQ(mg.elems[2].str, bin + bin);
  R t = c->Cmd({"TIME"});
  ASSERT_EQ(t.elems.size(), 2u);
  EXPECT_NEAR(std::stoll(t.elems[0].str), time(nullptr), 5);
  R info = c->Cmd({"INFO"});
  EXPECT_NE(info.str.find("server_name: 0-db (zdb)"), std::string::npos);
  EXPECT_NE(info.str.find("sequential_key_size: 8"), std::string::npos);
}

TEST_F(ZdbServerTest, ArgumentErrors) {
  StartZdb();
  auto c = Connect();
  EXPECT_ERROR(c->Cmd({"NOSUCH"}), "Command not supported");
  EXPECT_ERROR(c->Cmd({"GE"}), "Command not supported");  // no prefix matching
  EXPECT_ERROR(c->Cmd({"GET"}), "Unexpected arguments");
  EXPECT_ERROR(c->Cmd({"GET", "a", "b"}), "Unexpected arguments");
  EXPECT_ERROR(c->Cmd({"SET", "a"}), "Unexpected arguments");
  EXPECT_ERROR(c->Cmd({"SET", "a", "b", "c", "d"}), "Unexpected arguments");
  EXPECT_ERROR(c->Cmd({"SET", std::string(256, 'k'), "v"}), "Key too large");
  EXPECT_ERROR(c->Cmd({"GET", std::string(256, 'k')}), "Invalid key");
  EXPECT_ERROR(c->Cmd({"GET", ""}), "Invalid argument");
  EXPECT_ERROR(c->Cmd({"SET", "", "v"}), "Invalid argument, key needed");
  EXPECT_ERROR(c->Cmd({"SELECT", "nope"}), "Namespace not found");
  EXPECT_ERROR(c->Cmd({"SCAN"}), "No more data");
  EXPECT_ERROR(c->Cmd({"HISTORY", "nope"}), "Key not found");
  EXPECT_ERROR(c->Cmd({"WAIT", "NOPE"}), "Unknown command to watch");
  EXPECT_ERROR(c->Cmd({"WAIT", "SET", "5"}), "Invalid timeout");
  EXPECT_ERROR(c->Cmd({"AUTH", "x"}), "Authentication disabled");
  // Still usable after all those errors.
  EXPECT_STATUS(c->Cmd({"PING"}), "PONG");
}

TEST_F(ZdbServerTest, HugeArgumentsAreLimited) {
  StartZdb();
  auto c = Connect();
  std::string big(8 * 1024 * 1024, 'x');
  big[12345] = 'y';
  EXPECT_BULK(c->Cmd({"SET", "big", big}), "big");
  EXPECT_BULK(c->Cmd({"GET", "big"}), big);
  // One byte over the limit: refused from the header alone, then closed.
  EXPECT_EQ(RawExchange(sock_, "*3\r\n$3\r\nSET\r\n$4\r\nbig2\r\n$8388609\r\n"),
            "-Protocol error: invalid bulk length\r\n");
  EXPECT_NIL(c->Cmd({"GET", "big2"}));
  // Too many arguments in one command.
  EXPECT_EQ(RawExchange(sock_, "*100000000\r\n"), "-Too many arguments\r\n");
}

TEST_F(ZdbServerTest, MalformedRespClosesOnlyThatClient) {
  StartZdb();
  auto good = Connect();
  EXPECT_BULK(good->Cmd({"SET", "k", "v"}), "k");
  EXPECT_EQ(RawExchange(sock_, "*2\r\n$3\r\nGET\r\n$abc\r\n"), "-Protocol error: invalid bulk length\r\n");
  EXPECT_BULK(good->Cmd({"GET", "k"}), "v");
}

TEST_F(ZdbServerTest, InlineCommandsOverTcp) {
  StartZdb();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char req[] = "PING\r\nSET greeting \"hello world\"\r\nGET greeting\r\nQUIT\r\n";
  ASSERT_EQ(write(fd, req, sizeof(req) - 1), static_cast<ssize_t>(sizeof(req) - 1));
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_EQ(got, "+PONG\r\n$8\r\ngreeting\r\n$11\r\nhello world\r\n+OK\r\n");
}

TEST_F(ZdbServerTest, PipelineOfTenThousand) {
  StartZdb();
  auto c = Connect();
  for (int i = 0; i < 10000; ++i) c->Append({"SET", "k" + std::to_string(i), "v" + std::to_string(i)});
  for (int i = 0; i < 10000; ++i) EXPECT_BULK(c->Read(), "k" + std::to_string(i));
  for (int i = 0; i < 10000; ++i) c->Append({"GET", "k" + std::to_string(i)});
  for (int i = 0; i < 10000; ++i) EXPECT_BULK(c->Read(), "v" + std::to_string(i));
  EXPECT_INT(c->Cmd({"DBSIZE"}), 10000);
}

TEST_F(ZdbServerTest, SequentialMode) {
  StartZdb();
  auto c = Connect();
  EXPECT_STATUS(c->Cmd({"NSNEW", "seq"}), "OK");
  EXPECT_STATUS(c->Cmd({"NSSET", "seq", "mode", "seq"}), "OK");
  EXPECT_STATUS(c->Cmd({"SELECT", "seq"}), "OK");
  for (uint64_t i = 0; i < 5; ++i) {
    R r = c->Cmd({"SET", "", "value" + std::to_string(i)});
    ASSERT_EQ(r.type, REDIS_REPLY_STRING);
    ASSERT_EQ(r.str.size(), 8u);
    EXPECT_EQ(qs::DecodeFixed64(r.str.data()), i);
  }
  std::string id2(8, '\0');
  qs::EncodeFixed64(id2.data(), 2);
  EXPECT_BULK(c->Cmd({"GET", id2}), "value2");
  EXPECT_BULK(c->Cmd({"SET", id2, "updated"}), id2);
  EXPECT_BULK(c->Cmd({"GET", id2}), "updated");
  std::string id99(8, '\0');
  qs::EncodeFixed64(id99.data(), 99);
  EXPECT_ERROR(c->Cmd({"SET", id99, "x"}), "Invalid key, only update authorized");
  EXPECT_STATUS(c->Cmd({"DEL", id2}), "OK");
  R r = c->Cmd({"SET", "", "after"});
  EXPECT_EQ(qs::DecodeFixed64(r.str.data()), 6u);  // the update consumed id 5 (as in 0-db)
  EXPECT_ERROR(c->Cmd({"NSSET", "seq", "mode", "user"}), "Cannot change mode of used namespace");
  Restart();
  c = Connect();
  EXPECT_STATUS(c->Cmd({"SELECT", "seq"}), "OK");
  EXPECT_NIL(c->Cmd({"GET", id2}));
  r = c->Cmd({"SET", "", "after restart"});
  EXPECT_EQ(qs::DecodeFixed64(r.str.data()), 7u);
  std::string id0(8, '\0');
  EXPECT_BULK(c->Cmd({"GET", id0}), "value0");
}

TEST_F(ZdbServerTest, NamespacesAndPermissions) {
  StartZdb({"--admin", "secret"});
  auto admin = Connect();
  auto user = Connect();
  EXPECT_ERROR(user->Cmd({"NSNEW", "x"}), "Permission denied");
  EXPECT_ERROR(admin->Cmd({"AUTH", "wrong"}), "Access denied");
  EXPECT_STATUS(admin->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "priv"}), "OK");
  EXPECT_ERROR(admin->Cmd({"NSNEW", "priv"}), "This namespace is not available");
  EXPECT_ERROR(admin->Cmd({"NSNEW", "default"}), "This name is not allowed");
  EXPECT_ERROR(admin->Cmd({"NSNEW", "a/b"}), "This name is not allowed");
  EXPECT_ERROR(admin->Cmd({"NSNEW", std::string(129, 'n')}), "Namespace too long");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "password", "pw"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "public", "0"}), "OK");
  EXPECT_ERROR(admin->Cmd({"NSSET", "priv", "bogus", "1"}), "Invalid property");
  EXPECT_ERROR(admin->Cmd({"NSSET", "nope", "public", "1"}), "Namespace not found");
  // Private + password: no access without it.
  EXPECT_ERROR(user->Cmd({"SELECT", "priv"}), "Namespace protected and private");
  EXPECT_ERROR(user->Cmd({"SELECT", "priv", "bad"}), "Access denied");
  EXPECT_STATUS(user->Cmd({"SELECT", "priv", "pw"}), "OK");
  EXPECT_BULK(user->Cmd({"SET", "k", "v"}), "k");
  // Public + password: read-only without it.
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "public", "1"}), "OK");
  auto reader = Connect();
  EXPECT_STATUS(reader->Cmd({"SELECT", "priv"}), "OK");
  EXPECT_BULK(reader->Cmd({"GET", "k"}), "v");
  EXPECT_ERROR(reader->Cmd({"SET", "k", "w"}), "Namespace is in read-only mode");
  EXPECT_ERROR(reader->Cmd({"DEL", "k"}), "Namespace is in read-only mode");
  // SELECT SECURE with a challenge.
  auto sec = Connect();
  R ch = sec->Cmd({"AUTH", "SECURE", "CHALLENGE"});
  ASSERT_EQ(ch.type, REDIS_REPLY_STATUS);
  ASSERT_EQ(ch.str.size(), 16u);
  unsigned char md[20];
  std::string in = ch.str + ":pw";
  EVP_Digest(in.data(), in.size(), md, nullptr, EVP_sha1(), nullptr);
  char hex[41];
  for (int i = 0; i < 20; ++i) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  EXPECT_STATUS(sec->Cmd({"SELECT", "priv", "SECURE", hex}), "OK");
  EXPECT_BULK(sec->Cmd({"SET", "k2", "v2"}), "k2");
  // The challenge answers once only.
  EXPECT_ERROR(sec->Cmd({"SELECT", "priv", "SECURE", hex}), "No CHALLENGE requested, secure authentication not available");
  // Lock, freeze, worm.
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "lock", "1"}), "OK");
  EXPECT_ERROR(user->Cmd({"SET", "k", "x"}), "Namespace is temporarily locked (read-only)");
  EXPECT_BULK(user->Cmd({"GET", "k"}), "v");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "lock", "0"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "freeze", "1"}), "OK");
  EXPECT_ERROR(user->Cmd({"GET", "k"}), "Namespace is temporarily frozen (read-write disabled)");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "freeze", "0"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "worm", "1"}), "OK");
  EXPECT_ERROR(user->Cmd({"SET", "k", "x"}), "Namespace is protected by worm mode");
  EXPECT_ERROR(user->Cmd({"DEL", "k"}), "Cannot delete a key when namespace is in worm mode");
  EXPECT_BULK(user->Cmd({"SET", "new", "x"}), "new");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "worm", "0"}), "OK");
  // maxsize.
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "maxsize", "10"}), "OK");
  EXPECT_ERROR(user->Cmd({"SET", "huge", std::string(100, 'h')}), "No space left on this namespace");
  // Settings survive restart.
  Restart();
  auto u2 = Connect();
  EXPECT_STATUS(u2->Cmd({"SELECT", "priv"}), "OK");
  EXPECT_ERROR(u2->Cmd({"SET", "k", "v"}), "Namespace is in read-only mode");
  EXPECT_BULK(u2->Cmd({"GET", "k"}), "v");
  R info = u2->Cmd({"NSINFO", "priv"});
  EXPECT_NE(info.str.find("data_limits_bytes: 10\n"), std::string::npos) << info.str;
}

TEST_F(ZdbServerTest, SettingsSurviveRestartAndNsdel) {
  StartZdb({"--admin", "secret"});
  auto a = Connect();
  EXPECT_STATUS(a->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(a->Cmd({"NSNEW", "ns1"}), "OK");
  EXPECT_STATUS(a->Cmd({"NSSET", "ns1", "password", "pw"}), "OK");
  EXPECT_STATUS(a->Cmd({"NSSET", "ns1", "public", "0"}), "OK");
  EXPECT_STATUS(a->Cmd({"NSSET", "ns1", "maxsize", "1000"}), "OK");
  Restart();
  auto u = Connect();
  EXPECT_ERROR(u->Cmd({"SELECT", "ns1"}), "Namespace protected and private");
  R info = u->Cmd({"NSINFO", "ns1"});
  EXPECT_NE(info.str.find("public: no"), std::string::npos) << info.str;
  EXPECT_NE(info.str.find("password: yes"), std::string::npos);
  EXPECT_NE(info.str.find("data_limits_bytes: 1000"), std::string::npos);
  R list = u->Cmd({"NSLIST"});
  ASSERT_EQ(list.elems.size(), 2u);
  EXPECT_EQ(list.elems[0].str, "default");
  EXPECT_EQ(list.elems[1].str, "ns1");
  // A client inside a deleted namespace is told and disconnected.
  EXPECT_STATUS(u->Cmd({"SELECT", "ns1", "pw"}), "OK");
  auto a2 = Connect();
  EXPECT_STATUS(a2->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_ERROR(a2->Cmd({"NSDEL", "default"}), "Cannot remove default namespace");
  EXPECT_ERROR(a2->Cmd({"NSDEL", "zzz"}), "This namespace doesn't exists");
  EXPECT_STATUS(a2->Cmd({"NSDEL", "ns1"}), "OK");
  EXPECT_ERROR(u->Cmd({"SCAN"}), "Your active namespace is not available anymore (probably removed).");
  Restart();
  auto u3 = Connect();
  EXPECT_ERROR(u3->Cmd({"SELECT", "ns1"}), "Namespace not found");
}

TEST_F(ZdbServerTest, ScanWalksEverythingOnce) {
  StartZdb({"--datasize", "8192"});  // many segments
  auto c = Connect();
  std::set<std::string> want;
  for (int i = 0; i < 500; ++i) {
    std::string k = "key" + std::to_string(i);
    c->Cmd({"SET", k, std::string(100, static_cast<char>('a' + i % 26))});
    want.insert(k);
  }
  c->Cmd({"DEL", "key7"});
  want.erase("key7");
  c->Cmd({"SET", "key8", "rewritten"});
  std::set<std::string> seen;
  std::vector<std::string> order;
  R r = c->Cmd({"SCAN", "0"});
  while (r.type == REDIS_REPLY_ARRAY) {
    ASSERT_EQ(r.elems.size(), 2u);
    for (auto& e : r.elems[1].elems) {
      ASSERT_EQ(e.elems.size(), 3u);
      EXPECT_TRUE(seen.insert(e.elems[0].str).second) << "duplicate " << e.elems[0].str;
      order.push_back(e.elems[0].str);
      EXPECT_EQ(e.elems[1].integer, e.elems[0].str == "key8" ? 9 : 100);
    }
    r = c->Cmd({"SCAN", r.elems[0].str});
  }
  EXPECT_ERROR(r, "No more data");
  EXPECT_EQ(seen, want);
  EXPECT_EQ(order.back(), "key8");  // rewritten keys move to the end
  // RSCAN walks the same set backwards.
  std::vector<std::string> rorder;
  r = c->Cmd({"RSCAN"});
  while (r.type == REDIS_REPLY_ARRAY) {
    for (auto& e : r.elems[1].elems) rorder.push_back(e.elems[0].str);
    r = c->Cmd({"RSCAN", r.elems[0].str});
  }
  std::reverse(rorder.begin(), rorder.end());
  EXPECT_EQ(rorder, order);
  EXPECT_ERROR(c->Cmd({"SCAN", "garbage"}), "Invalid key format");
  // KEYCUR gives a cursor that resumes right after that key.
  R kc = c->Cmd({"KEYCUR", "key100"});
  ASSERT_EQ(kc.type, REDIS_REPLY_STRING);
  R after = c->Cmd({"SCAN", kc.str});
  ASSERT_EQ(after.type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(after.elems[1].elems[0].elems[0].str, "key101");
}

TEST_F(ZdbServerTest, HistoryFollowsOverwrites) {
  StartZdb();
  auto c = Connect();
  c->Cmd({"SET", "h", "v1"});
  c->Cmd({"SET", "h", "v2"});
  c->Cmd({"SET", "h", "v3"});
  R r = c->Cmd({"HISTORY", "h"});
  ASSERT_EQ(r.elems.size(), 3u);
  EXPECT_EQ(r.elems[2].str, "v3");
  std::vector<std::string> values = {r.elems[2].str};
  while (r.elems[0].type == REDIS_REPLY_STRING) {
    r = c->Cmd({"HISTORY", "h", r.elems[0].str});
    ASSERT_EQ(r.type, REDIS_REPLY_ARRAY);
    values.push_back(r.elems[2].str);
  }
  EXPECT_EQ(values, (std::vector<std::string>{"v3", "v2", "v1"}));
  EXPECT_NEAR(std::stoll(r.elems[1].str), time(nullptr), 5);
}

TEST_F(ZdbServerTest, RestartKeepsEverything) {
  StartZdb({"--datasize", "65536"});
  auto c = Connect();
  std::mt19937 rng(42);
  std::map<std::string, std::string> model;
  for (int i = 0; i < 2000; ++i) {
    std::string k = "k" + std::to_string(rng() % 700);
    if (rng() % 5 == 0) {
      c->Cmd({"DEL", k});
      model.erase(k);
    } else {
      std::string v(rng() % 300 + 1, static_cast<char>(rng()));
      c->Cmd({"SET", k, v});
      model[k] = v;
    }
  }
  Restart();
  c = Connect();
  EXPECT_INT(c->Cmd({"DBSIZE"}), static_cast<long long>(model.size()));
  for (int i = 0; i < 700; ++i) {
    std::string k = "k" + std::to_string(i);
    auto it = model.find(k);
    if (it == model.end()) EXPECT_NIL(c->Cmd({"GET", k}));
    else EXPECT_BULK(c->Cmd({"GET", k}), it->second);
  }
}

TEST_F(ZdbServerTest, KillNineKeepsAcknowledgedWritesWithFsyncAlways) {
  StartZdb({"--fsync", "always", "--datasize", "1M"});
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  std::vector<std::vector<std::string>> acked_keys(4);
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      Conn c(sock_);
      for (int i = 0; !stop; ++i) {
        std::string k = "w" + std::to_string(w) + "-" + std::to_string(i);
        R r = c.Cmd({"SET", k, k + std::string(200, 'x')});
        if (r.type != REDIS_REPLY_STRING) break;  // server gone
        acked_keys[w].push_back(k);
        ++acked;
      }
    });
  }
  while (acked < 3000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  zdb_.Kill();
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_TRUE(zdb_.Start(ZdbBinary(), last_args_, dir_.path() + "/zdb.log"));
  ASSERT_TRUE(zdb_.WaitUnix(sock_));
  auto c = Connect();
  size_t checked = 0;
  for (auto& keys : acked_keys) {
    for (auto& k : keys) {
      EXPECT_BULK(c->Cmd({"GET", k}), k + std::string(200, 'x'));
      ++checked;
    }
  }
  EXPECT_GE(checked, 3000u);
}

TEST_F(ZdbServerTest, CorruptSegmentAnswersErrorNotWrongBytes) {
  StartZdb();
  auto c = Connect();
  c->Cmd({"SET", "a", std::string(1000, 'a')});
  c->Cmd({"SET", "b", std::string(1000, 'b')});
  EXPECT_STATUS(c->Cmd({"FSYNC"}), "OK");
  std::string seg = dir_.path() + "/data/default/zdb-data-00000";
  std::string d = zdb_test::ReadRaw(seg);
  size_t pos = d.find(std::string(1000, 'a'));
  ASSERT_NE(pos, std::string::npos);
  zdb_test::FlipByte(seg, pos + 500);
  R r = c->Cmd({"GET", "a"});
  EXPECT_EQ(r.type, REDIS_REPLY_ERROR);
  EXPECT_NE(r.str.find("checksum"), std::string::npos) << r.str;
  EXPECT_INT(c->Cmd({"CHECK", "a"}), 0);
  EXPECT_BULK(c->Cmd({"GET", "b"}), std::string(1000, 'b'));
  EXPECT_INT(c->Cmd({"CHECK", "b"}), 1);
}

TEST_F(ZdbServerTest, SegmentTruncatedUnderRunningServerIsAnErrorNotACrash) {
  StartZdb();
  auto c = Connect();
  c->Cmd({"SET", "a", std::string(100000, 'a')});
  EXPECT_BULK(c->Cmd({"GET", "a"}), std::string(100000, 'a'));  // mapped now
  EXPECT_STATUS(c->Cmd({"NSJUMP"}), "OK");
  c->Cmd({"SET", "b", "still here"});
  ASSERT_EQ(truncate((dir_.path() + "/data/default/zdb-data-00000").c_str(), 64), 0);
  R r = c->Cmd({"GET", "a"});
  EXPECT_EQ(r.type, REDIS_REPLY_ERROR) << r.str;
  EXPECT_BULK(c->Cmd({"GET", "b"}), "still here");
  EXPECT_TRUE(zdb_.Running());
}

TEST_F(ZdbServerTest, MetricsEndpoint) {
  int mport = FreePort();
  StartZdb({"--metrics", "127.0.0.1:" + std::to_string(mport)});
  auto c = Connect();
  EXPECT_STATUS(c->Cmd({"NSNEW", "m"}), "OK");
  EXPECT_STATUS(c->Cmd({"SELECT", "m"}), "OK");
  for (int i = 0; i < 7; ++i) c->Cmd({"SET", "k" + std::to_string(i), "v"});
  c->Cmd({"GET", "k1"});
  c->Cmd({"DEL", "nope"});
  std::string body;
  // Gauges refresh every second.
  for (int i = 0; i < 50; ++i) {
    body = qs_test::HttpBody(qs_test::HttpGet(mport, "/metrics"));
    if (body.find("zdb_namespace_keys{namespace=\"m\"} 7") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(body.find("zdb_namespace_keys{namespace=\"m\"} 7"), std::string::npos) << body;
  EXPECT_NE(body.find("zdb_commands_total{command=\"SET\"} 7"), std::string::npos) << body;
  EXPECT_NE(body.find("zdb_command_errors_total{command=\"DEL\"} 1"), std::string::npos);
  EXPECT_NE(body.find("zdb_command_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(body.find("zdb_namespace_segments{namespace=\"m\"} 1"), std::string::npos);
  EXPECT_NE(body.find("zdb_namespace_data_bytes{namespace=\"m\"} 7"), std::string::npos);
}

TEST_F(ZdbServerTest, OnlineCompactionReclaimsSpaceWhileServing) {
  StartZdb({"--datasize", "65536", "--compaction-ratio", "0.5"});
  auto c = Connect();
  // 40 rounds of rewriting the same 50 keys: most segments become dead.
  for (int round = 0; round < 40; ++round)
    for (int k = 0; k < 50; ++k)
      c->Cmd({"SET", "k" + std::to_string(k), std::to_string(round) + std::string(900, 'x')});
  auto disk = [&] {
    uint64_t total = 0;
    for (auto& e : std::filesystem::directory_iterator(dir_.path() + "/data/default")) total += e.file_size();
    return total;
  };
  uint64_t before = disk();
  uint64_t after = before;
  for (int i = 0; i < 200 && after * 3 > before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_BULK(c->Cmd({"GET", "k7"}), "39" + std::string(900, 'x'));  // served throughout
    after = disk();
  }
  EXPECT_LT(after * 3, before) << "before " << before << " after " << after;
  for (int k = 0; k < 50; ++k) EXPECT_BULK(c->Cmd({"GET", "k" + std::to_string(k)}), "39" + std::string(900, 'x'));
  Restart();
  c = Connect();
  EXPECT_INT(c->Cmd({"DBSIZE"}), 50);
  for (int k = 0; k < 50; ++k) EXPECT_BULK(c->Cmd({"GET", "k" + std::to_string(k)}), "39" + std::string(900, 'x'));
}

TEST_F(ZdbServerTest, TwoThousandClients) {
  StartZdb();
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < 2000; ++i) {
    conns.push_back(Connect());
    // A full accept backlog refuses for a moment; a client retries.
    for (int tries = 0; tries < 50 && !conns.back()->ok(); ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      conns.back() = Connect();
    }
    ASSERT_TRUE(conns.back()->ok()) << "connection " << i << ": " << conns.back()->raw()->errstr;
  }
  for (int i = 0; i < 2000; ++i) conns[static_cast<size_t>(i)]->Append({"SET", "c" + std::to_string(i), std::to_string(i)});
  for (int i = 0; i < 2000; ++i) EXPECT_BULK(conns[static_cast<size_t>(i)]->Read(), "c" + std::to_string(i));
  EXPECT_INT(conns[0]->Cmd({"DBSIZE"}), 2000);
}

TEST_F(ZdbServerTest, WaitWakesOnOtherClientsCommand) {
  StartZdb();
  auto waiter = Connect();
  auto actor = Connect();
  waiter->Append({"WAIT", "SET", "5000"});
  redisBufferWrite(waiter->raw(), nullptr);
  int done = 0;
  while (!done) redisBufferWrite(waiter->raw(), &done);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  actor->Cmd({"SET", "x", "y"});
  EXPECT_STATUS(waiter->Read(), "SET");
  EXPECT_ERROR(waiter->Cmd({"WAIT", "GET", "100"}), "Timeout");
}

TEST_F(ZdbServerTest, FlushReallyEmpties) {
  StartZdb();
  auto c = Connect();
  for (int i = 0; i < 100; ++i) c->Cmd({"SET", "k" + std::to_string(i), "v"});
  EXPECT_STATUS(c->Cmd({"FLUSH"}), "OK");
  EXPECT_INT(c->Cmd({"DBSIZE"}), 0);
  EXPECT_NIL(c->Cmd({"GET", "k1"}));
  Restart();
  c = Connect();
  EXPECT_INT(c->Cmd({"DBSIZE"}), 0);
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_.path() + "/data/default")) (void)e, ++files;
  EXPECT_EQ(files, 0u);
}

TEST_F(ZdbServerTest, ProveIsKeyedHashOfValue) {
  StartZdb();
  auto c = Connect();
  c->Cmd({"SET", "p", "proof me"});
  R a = c->Cmd({"PROVE", "p", "nonce-1"});
  R b = c->Cmd({"PROVE", "p", "nonce-2"});
  ASSERT_EQ(a.type, REDIS_REPLY_STRING);
  EXPECT_EQ(a.str.size(), 64u);
  EXPECT_NE(a.str, b.str);
  unsigned char md[32];
  unsigned int len = 0;
  std::string nonce = "nonce-1", value = "proof me";
  HMAC(EVP_sha256(), nonce.data(), static_cast<int>(nonce.size()), reinterpret_cast<const unsigned char*>(value.data()),
       value.size(), md, &len);
  char hex[65];
  for (int i = 0; i < 32; ++i) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  EXPECT_EQ(a.str, std::string(hex));
  EXPECT_NIL(c->Cmd({"PROVE", "nope", "n"}));
}

TEST_F(ZdbServerTest, SigtermStopsCleanly) {
  StartZdb();
  auto c = Connect();
  c->Cmd({"SET", "k", "v"});
  EXPECT_EQ(zdb_.Stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(sock_));
  std::string log = zdb_test::ReadRaw(dir_.path() + "/zdb.log");
  EXPECT_NE(log.find("stopped cleanly"), std::string::npos);
}

TEST_F(ZdbServerTest, RotateByTimeAndNoPreallocation) {
  std::string hook = dir_.path() + "/hook.sh";
  std::string events = dir_.path() + "/events.log";
  zdb_test::WriteRaw(hook, "#!/bin/sh\necho \"$@\" >> " + events + "\n");
  chmod(hook.c_str(), 0755);
  StartZdb({"--rotate", "1", "--hook", hook});
  auto c = Connect();
  EXPECT_STATUS(c->Cmd({"NSNEW", "empty"}), "OK");
  // An empty namespace owns no segment file at all.
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/data/empty"));
  c->Cmd({"SET", "k", "v"});
  std::string seg0 = dir_.path() + "/data/default/zdb-data-00000";
  std::string log;
  for (int i = 0; i < 100 && log.find("jump-data") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = zdb_test::ReadRaw(events);
  }
  EXPECT_NE(log.find("jump-data unix://" + sock_ + " " + seg0), std::string::npos) << log;
  R info = c->Cmd({"NSINFO", "default"});
  EXPECT_NE(info.str.find("data_current_id: 1\n"), std::string::npos) << info.str;
  // Nothing written since: no further rotation, no new empty file.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/data/default/zdb-data-00001"));
  EXPECT_BULK(c->Cmd({"GET", "k"}), "v");
}

TEST_F(ZdbServerTest, ExampleConfigLoadsAndFlagsWin) {
  StartZdb({"--config", std::string(QS_SOURCE_DIR) + "/config/zdb.toml"});
  auto c = Connect();
  EXPECT_BULK(c->Cmd({"SET", "k", "v"}), "k");
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/data/default/zdb-data-00000"));
}

TEST_F(ZdbServerTest, StopNeedsAnAdminPassword) {
  StartZdb();
  auto c = Connect();
  EXPECT_ERROR(c->Cmd({"STOP"}), "Unauthorized");
  EXPECT_TRUE(zdb_.Running());
}

TEST_F(ZdbServerTest, BackgroundDetachesOnceReady) {
  DaemonProcess p;
  std::string log = dir_.path() + "/bg.log";
  ASSERT_TRUE(p.Start(ZdbBinary(), {"--data", dir_.path() + "/data", "--index", dir_.path() + "/index", "--socket",
                                    sock_, "--background", "--logfile", dir_.path() + "/zdb-bg.log"}, log));
  while (p.Running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(p.exit_status(), 0);
  // The parent has exited; the detached child serves.
  auto c = Connect();
  ASSERT_TRUE(c->ok());
  EXPECT_STATUS(c->Cmd({"PING"}), "PONG");
  c.reset();
  // The detached process is nobody's child here: find it by its socket.
  EXPECT_EQ(system(("fuser -k -TERM " + sock_ + " >/dev/null 2>&1").c_str()), 0);
  for (int i = 0; i < 200 && std::filesystem::exists(sock_); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(std::filesystem::exists(sock_));  // it stopped cleanly
}

TEST_F(ZdbServerTest, ClientLibrarySelectsAndReconnects) {
  StartZdb({"--admin", "secret"});
  {
    auto a = Connect();
    EXPECT_STATUS(a->Cmd({"AUTH", "secret"}), "OK");
    EXPECT_STATUS(a->Cmd({"NSNEW", "lib"}), "OK");
    EXPECT_STATUS(a->Cmd({"NSSET", "lib", "password", "pw"}), "OK");
    EXPECT_STATUS(a->Cmd({"NSSET", "lib", "public", "0"}), "OK");
    EXPECT_STATUS(a->Cmd({"NSSET", "lib", "mode", "seq"}), "OK");
  }
  qs::ZdbAddress addr;
  addr.unix_path = sock_;
  addr.ns = "lib";
  addr.password = "pw";
  qs::ZdbClientOptions opts;
  opts.connect_attempts = 50;
  opts.backoff_max = std::chrono::milliseconds(200);
  qs::ZdbClient client(addr, opts);
  auto id = client.Set("", "first");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->size(), 8u);
  Restart();
  auto got = client.Get(*id);  // reconnects and SELECTs again
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, "first");
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(client.Append({"SET", "", "v" + std::to_string(i)}).ok());
  auto replies = client.Flush();
  ASSERT_TRUE(replies.ok());
  ASSERT_EQ(replies->size(), 100u);
  EXPECT_EQ(qs::DecodeFixed64((*replies)[99].str.data()), 100u);
  qs::ZdbAddress bad = addr;
  bad.password = "wrong";
  qs::ZdbClient denied(bad);
  EXPECT_FALSE(denied.Set("", "x").ok());
}

TEST_F(ZdbServerTest, BadFlagsGiveClearErrors) {
  DaemonProcess p;
  std::string log = dir_.path() + "/bad.log";
  ASSERT_TRUE(p.Start(ZdbBinary(), {"--fsync", "sometimes"}, log));
  while (p.Running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(p.exit_status(), 2);
  EXPECT_NE(zdb_test::ReadRaw(log).find("fsync: one of always|everysec|never expected, got 'sometimes'"), std::string::npos);
  std::string cfg = dir_.path() + "/zdb.toml";
  zdb_test::WriteRaw(cfg, "port = 1\nbogus = 3\n");
  DaemonProcess p2;
  ASSERT_TRUE(p2.Start(ZdbBinary(), {"--config", cfg}, log));
  while (p2.Running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(p2.exit_status(), 2);
  EXPECT_NE(zdb_test::ReadRaw(log).find("unknown config key 'bogus' (at " + cfg + ":2:1)"), std::string::npos) << zdb_test::ReadRaw(log);
  DaemonProcess p3;
  ASSERT_TRUE(p3.Start(ZdbBinary(), {"--evict-synced", "--fsync", "never"}, log));
  while (p3.Running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(p3.exit_status(), 2);
  EXPECT_NE(zdb_test::ReadRaw(log).find("--evict-synced needs --fsync always or everysec"), std::string::npos)
      << zdb_test::ReadRaw(log);
}

// --evict-synced changes where reads come from, never what they return:
// values written across several segments read back after the background
// syncs, after a rotation and after a restart.
TEST_F(ZdbServerTest, EvictSyncedReadsBackEverything) {
  StartZdb({"--evict-synced", "--datasize", "1M"});
  auto c = Connect();
  std::map<std::string, std::string> model;
  for (int i = 0; i < 400; ++i) {
    std::string k = "k" + std::to_string(i), v = std::string(9000 + i, static_cast<char>('a' + i % 26));
    EXPECT_BULK(c->Cmd({"SET", k, v}), k);
    model[k] = v;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // everysec syncs (and evicts) meanwhile
  for (const auto& [k, v] : model) EXPECT_BULK(c->Cmd({"GET", k}), v);
  EXPECT_NE(zdb_test::ReadRaw(dir_.path() + "/zdb.log").find("synced data evicted from the page cache"),
            std::string::npos);
  zdb_.Stop();
  ASSERT_TRUE(zdb_.Start(ZdbBinary(), last_args_, dir_.path() + "/zdb.log"));
  ASSERT_TRUE(zdb_.WaitUnix(sock_));
  c = Connect();
  for (const auto& [k, v] : model) EXPECT_BULK(c->Cmd({"GET", k}), v);
}

}  // namespace
