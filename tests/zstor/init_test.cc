// zstor init and zstor add-backend against real zdb processes started as a
// storage node runs them: an admin password, no --mode (zstor sets each
// namespace's mode). Every check goes through the zstor binary, as an
// operator types it.
#include <grp.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "common/zdb_client.h"
#include "tests/common/daemon_process.h"
#include "tests/common/free_port.h"
#include "tests/common/random_data.h"
#include "tests/common/run_command.h"
#include "tests/zdb/test_util.h"
#include "zstor/config.h"
#include "zstor/config_writer.h"
#include "zstor/init.h"

namespace {

using qs_test::DaemonProcess;
using qs_test::RunCommand;

constexpr int kZdbs = 8;
const char* kAdmin = "admin-secret";

class InitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zdb_test::WriteRaw(AdminFile(), std::string(kAdmin) + "\n");
    zdb_test::WriteRaw(dir_.path() + "/wrong-admin", "not-the-admin-password\n");
    for (int i = 0; i < 6; ++i) StartZdb(i);
  }

  std::string AdminFile() { return dir_.path() + "/admin"; }
  std::string Sock(int i) { return dir_.path() + "/zdb" + std::to_string(i) + ".sock"; }
  std::string Addr(int i) { return "unix:" + Sock(i); }
  std::string Config() { return dir_.path() + "/etc/zstor/zstor.toml"; }

  void StartZdb(int i, std::vector<std::string> extra = {}) {
    std::string d = dir_.path() + "/zdb" + std::to_string(i);
    std::vector<std::string> args = {"--data", d + "/data", "--index", d + "/index", "--socket", Sock(i),
                                     "--admin", kAdmin, "--datasize", "4M"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(zdbs_[i].Start(std::string(QS_BIN_DIR) + "/zdb", args, d + ".log"));
    ASSERT_TRUE(zdbs_[i].WaitUnix(Sock(i))) << "zdb " << i;
  }

  // Meta namespaces on zdbs 0-3, data in two groups: 0-2 (labelled) and 3-5.
  std::string InitArgs(const std::string& extra = "") {
    return "init --admin-password-file " + AdminFile() + " --meta " + Addr(0) + "," + Addr(1) + "," + Addr(2) + "," +
           Addr(3) + " --group " + Addr(0) + "," + Addr(1) + "," + Addr(2) + " --labels site=a,country=BE --group " +
           Addr(3) + "," + Addr(4) + "," + Addr(5) + " --shards 4+2" + extra;
  }

  std::pair<int, std::string> Zstor(const std::string& config, const std::string& args) {
    return RunCommand(std::string(QS_BIN_DIR) + "/zstor -c " + config + " " + args);
  }

  // A copy of the config whose machine paths (socket, state, staging dirs,
  // metrics port) point into the test's directory; backends and keys stay.
  std::string LocalCopy(const std::string& config, const std::string& name, int metrics_port = 0) {
    std::string text = zdb_test::ReadRaw(config);
    auto swap = [&](const std::string& from, const std::string& to) {
      size_t p = text.find(from);
      ASSERT_NE(p, std::string::npos) << from;
      text.replace(p, from.size(), to);
    };
    std::string d = dir_.path() + "/" + name;
    std::filesystem::create_directories(d + "/staging/data");
    std::filesystem::create_directories(d + "/staging/index");
    swap("\"/run/zstor/zstor.sock\"", "\"" + d + "/zstor.sock\"");
    swap("prometheus_port = 9100", "prometheus_port = " + std::to_string(metrics_port));
    swap("\"/var/lib/qsfs/zdb/data\"", "\"" + d + "/staging/data\"");
    swap("\"/var/lib/qsfs/zdb/index\"", "\"" + d + "/staging/index\"");
    swap("\"/var/lib/zstor/queue\"", "\"" + d + "/queue\"");
    swap("\"/var/lib/zstor/journal\"", "\"" + d + "/journal\"");
    std::string path = d + ".toml";
    zdb_test::WriteRaw(path, text);
    chmod(path.c_str(), 0600);
    return path;
  }

  // One command on zdb i as a fresh client (admin when admin is set).
  std::string Cmd(int i, const std::vector<std::string>& argv, bool admin = true) {
    redisContext* c = redisConnectUnix(Sock(i).c_str());
    if (c == nullptr || c->err) {
      if (c) redisFree(c);
      return "(no connection)";
    }
    if (admin) freeReplyObject(redisCommand(c, "AUTH %s", kAdmin));
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data()));
    std::string out = r == nullptr                        ? "(null)"
                      : r->type == REDIS_REPLY_INTEGER    ? std::to_string(r->integer)
                      : r->type == REDIS_REPLY_ERROR      ? "ERR " + std::string(r->str, r->len)
                      : r->str != nullptr                 ? std::string(r->str, r->len)
                                                          : "(nil)";
    if (r) freeReplyObject(r);
    redisFree(c);
    return out;
  }

  // SELECT ns password, then cmd, on one connection.
  std::string InNamespace(int i, const std::string& ns, const std::string& password, const std::vector<std::string>& cmd) {
    redisContext* c = redisConnectUnix(Sock(i).c_str());
    if (c == nullptr || c->err) {
      if (c) redisFree(c);
      return "(no connection)";
    }
    auto* s = static_cast<redisReply*>(redisCommand(c, "SELECT %s %s", ns.c_str(), password.c_str()));
    std::string out = s == nullptr ? "(null)" : s->type == REDIS_REPLY_ERROR ? "ERR " + std::string(s->str) : "";
    if (s) freeReplyObject(s);
    if (out.empty()) {
      std::vector<const char*> args;
      for (const auto& a : cmd) args.push_back(a.c_str());
      auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), args.data(), nullptr));
      out = r == nullptr ? "(null)"
            : r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer)
            : r->type == REDIS_REPLY_ERROR ? "ERR " + std::string(r->str)
            : r->str != nullptr ? std::string(r->str, r->len)
                                : "(nil)";
      if (r) freeReplyObject(r);
    }
    redisFree(c);
    return out;
  }

  static std::string Line(const std::string& out, const std::string& needle) {
    size_t p = out.find(needle);
    if (p == std::string::npos) return "";
    size_t b = out.rfind('\n', p);
    b = b == std::string::npos ? 0 : b + 1;
    return out.substr(b, out.find('\n', p) - b);
  }

  static int Count(const std::string& out, const std::string& needle) {
    int n = 0;
    for (size_t p = out.find(needle); p != std::string::npos; p = out.find(needle, p + 1)) ++n;
    return n;
  }

  zdb_test::TempDir dir_;
  DaemonProcess zdbs_[kZdbs];
};

TEST_F(InitTest, FreshBackendsGiveAWorkingConfig) {
  auto [rc, out] = Zstor(Config(), InitArgs(" --prefix t1"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(Line(out, "wrote "), "wrote " + Config() + " (prefix \"t1\"): new keys, a new password per namespace");
  EXPECT_EQ(Count(out, "zstor-t1-meta            created (mode user, private, password set)"), 4) << out;
  EXPECT_EQ(Count(out, "zstor-t1-data            created (mode seq, private, password set)"), 6) << out;
  EXPECT_NE(out.find("10 backends ready: 4 meta, 6 data in 2 groups (4+2)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Back up " + Config() + ": it holds the keys and passwords"), std::string::npos) << out;

  // The file: private to root (and group qsfs when it exists).
  struct stat st {};
  ASSERT_EQ(stat(Config().c_str(), &st), 0);
  struct group* qsfs = getgrnam("qsfs");
  EXPECT_EQ(st.st_mode & 07777, qsfs != nullptr ? 0640u : 0600u);
  if (qsfs != nullptr) {
    EXPECT_EQ(st.st_gid, qsfs->gr_gid);
  }

  auto cfg = zstor::LoadConfig(Config());
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->minimal_shards, 4);
  EXPECT_EQ(cfg->expected_shards, 6);
  EXPECT_EQ(cfg->group_count, 2);
  EXPECT_EQ(cfg->socket, "/run/zstor/zstor.sock");
  EXPECT_EQ(cfg->prometheus_port, 9100);
  EXPECT_EQ(cfg->zdb_data_dir_path, "/var/lib/qsfs/zdb/data");
  EXPECT_EQ(cfg->zdb_index_dir_path, "/var/lib/qsfs/zdb/index");
  EXPECT_EQ(cfg->queue_dir, "/var/lib/zstor/queue");
  EXPECT_EQ(cfg->journal_dir, "/var/lib/zstor/journal");
  EXPECT_EQ(cfg->meta.prefix, "t1");
  EXPECT_NE(cfg->key.ToHex(), cfg->meta.key.ToHex());
  std::set<std::string> passwords;
  for (const auto* list : {&cfg->meta.backends, &cfg->backends})
    for (const auto& b : *list) passwords.insert(b.address.password);
  EXPECT_EQ(passwords.size(), 10u) << "every namespace has its own password";
  EXPECT_EQ(cfg->backends[0].labels, (std::map<std::string, std::string>{{"country", "BE"}, {"site", "a"}}));
  EXPECT_TRUE(cfg->backends[3].labels.empty());

  // On the backends: private, with a password, in the right mode.
  std::string info = Cmd(4, {"NSINFO", "zstor-t1-data"});
  EXPECT_NE(info.find("mode: sequential\n"), std::string::npos) << info;
  EXPECT_NE(info.find("public: no\n"), std::string::npos) << info;
  EXPECT_NE(info.find("password: yes\n"), std::string::npos) << info;
  EXPECT_NE(Cmd(1, {"NSINFO", "zstor-t1-meta"}).find("mode: userkey\n"), std::string::npos);
  EXPECT_EQ(Cmd(4, {"SELECT", "zstor-t1-data"}, false), "ERR Namespace protected and private");

  // store and retrieve through the CLI, and the daemon answers.
  std::string local = LocalCopy(Config(), "node", qs_test::FreePort());
  std::string data = qs_test::RandomData(3 << 20, 11);
  zdb_test::WriteRaw(dir_.path() + "/in", data);
  auto [src, sout] = Zstor(local, "store -f " + dir_.path() + "/in -k /file");
  ASSERT_EQ(src, 0) << sout;
  auto [rrc, rout] = Zstor(local, "retrieve -f x -k /file -o " + dir_.path() + "/back");
  ASSERT_EQ(rrc, 0) << rout;
  EXPECT_TRUE(zdb_test::ReadRaw(dir_.path() + "/back") == data) << "retrieved bytes differ";
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.Start(std::string(QS_BIN_DIR) + "/zstor", {"-c", local, "monitor"}, dir_.path() + "/daemon.log"));
  ASSERT_TRUE(daemon.WaitUnix(dir_.path() + "/node/zstor.sock")) << zdb_test::ReadRaw(dir_.path() + "/daemon.log");
  auto [strc, stout] = Zstor(local, "status");
  EXPECT_EQ(strc, 0) << stout;
  EXPECT_NE(stout.find("0 of 10 backends down"), std::string::npos) << stout;
  auto [lrc, lout] = Zstor(local, "list");
  EXPECT_NE(lout.find("/file"), std::string::npos) << lout;
  EXPECT_EQ(daemon.Stop(), 0);

  // Run again: the file keeps every byte, every namespace is checked.
  std::string before = zdb_test::ReadRaw(Config());
  auto [rc2, out2] = Zstor(Config(), InitArgs(" --prefix t1"));
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_TRUE(zdb_test::ReadRaw(Config()) == before) << "the config changed on a second run";
  EXPECT_EQ(Line(out2, "read "), "read " + Config() + " (prefix \"t1\"): nothing generated, every backend checked");
  EXPECT_EQ(Count(out2, "exists, password works, mode "), 10) << out2;
  // Without the backend arguments it takes them from the file; --json.
  auto [rc3, out3] = Zstor(Config(), "--json init --admin-password-file " + AdminFile());
  EXPECT_EQ(rc3, 0) << out3;
  EXPECT_EQ(out3.rfind("{\"ok\": true, \"config\": \"" + Config() + "\", \"written\": false, \"prefix\": \"t1\", \"backends\": [", 0), 0u)
      << out3;
  EXPECT_NE(out3.find("{\"role\": \"data\", \"backend\": \"" + Addr(5) +
                      "\", \"group\": 1, \"namespace\": \"zstor-t1-data\", \"ok\": true, \"done\": \"checked\", \"error\": null}"),
            std::string::npos)
      << out3;
  EXPECT_NE(out3.find("\"ready\": 10, \"failed\": 0, \"error\": null, \"backup\": \"" + Config() + "\"}"), std::string::npos) << out3;
  EXPECT_TRUE(zdb_test::ReadRaw(Config()) == before);
  // The data is still there for the same config.
  auto [rrc2, rout2] = Zstor(local, "retrieve -f x -k /file -o " + dir_.path() + "/back2");
  ASSERT_EQ(rrc2, 0) << rout2;
  EXPECT_TRUE(zdb_test::ReadRaw(dir_.path() + "/back2") == data);
}

TEST_F(InitTest, ABackendDownIsNamedAndARerunCompletes) {
  // zdb 5 holds a namespace left half-made (NSNEW, then nothing): the run
  // completes it. zdb 4 is down.
  ASSERT_EQ(Cmd(5, {"NSNEW", "zstor-t2-data"}), "OK");
  zdbs_[4].Kill();
  auto [rc, out] = Zstor(Config(), InitArgs(" --prefix t2"));
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("zstor: init: 1 of 10 backends not ready: data backend " + Addr(4) +
                     " (zstor-t2-data): did not answer PING: zdb " + Addr(4) + ": connect: Connection refused "
                     "(deadline 5 s). Run the same command again once they are.\n"),
            std::string::npos)
      << out;
  EXPECT_NE(Line(out, "data  " + Addr(5) + " ").find("completed (mode seq, private, password set; an earlier run stopped half-way)"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("backends ready"), std::string::npos) << out;
  std::string written = zdb_test::ReadRaw(Config());
  ASSERT_FALSE(written.empty()) << "the config is written before the backends are touched";
  ASSERT_TRUE(zstor::LoadConfig(Config()).ok());

  StartZdb(4);
  auto [rc2, out2] = Zstor(Config(), InitArgs(" --prefix t2"));
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_TRUE(zdb_test::ReadRaw(Config()) == written) << "nothing generated anew";
  EXPECT_NE(Line(out2, "data  " + Addr(4) + " ").find("created (mode seq, private, password set)"), std::string::npos) << out2;
  EXPECT_EQ(Count(out2, "exists, password works"), 9) << out2;
  EXPECT_NE(out2.find("10 backends ready"), std::string::npos) << out2;
  auto cfg = zstor::LoadConfig(Config());
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(InNamespace(4, "zstor-t2-data", cfg->backends[4].address.password, {"DBSIZE"}), "0");
  EXPECT_EQ(InNamespace(5, "zstor-t2-data", cfg->backends[5].address.password, {"DBSIZE"}), "0");
}

TEST_F(InitTest, WrongAdminPasswordIsNamedAndCreatesNothing) {
  std::string args = InitArgs(" --prefix t3");
  args.replace(args.find(AdminFile()), AdminFile().size(), dir_.path() + "/wrong-admin");
  auto [rc, out] = Zstor(Config(), args);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("zstor: init: 10 of 10 backends not ready: meta backend " + Addr(0) +
                     " (zstor-t3-meta): admin password refused (AUTH: Access denied); "),
            std::string::npos)
      << out;
  EXPECT_EQ(Count(out, "FAILED: admin password refused (AUTH: Access denied)"), 10) << out;
  EXPECT_EQ(Cmd(0, {"NSINFO", "zstor-t3-meta"}), "ERR Namespace not found");
  EXPECT_EQ(Cmd(3, {"NSINFO", "zstor-t3-data"}), "ERR Namespace not found");
  // Without any admin password, zdb refuses NSNEW: the message says what to give.
  auto [rc2, out2] = Zstor(Config(), "init");
  EXPECT_EQ(rc2, 1) << out2;
  EXPECT_NE(out2.find("FAILED: NSNEW zstor-t3-meta: Permission denied (zdb has an admin password: give it with "
                      "--admin-password-file)"),
            std::string::npos)
      << out2;
}

TEST_F(InitTest, TooFewBackendsForTheShards) {
  std::string args = InitArgs(" --prefix t4");
  args.erase(args.find(" --shards 4+2"), 13);
  auto [rc, out] = Zstor(Config(), args);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_EQ(out,
            "zstor: init: --shards 16+4 writes 20 fragments per chunk, each to its own data backend, and 6 are given: "
            "add 14 data backends or use --shards 5+1\n");
  EXPECT_FALSE(std::filesystem::exists(Config()));
  auto [rc2, out2] = Zstor(Config(), args + " --shards 3+4");
  EXPECT_EQ(rc2, 2);
  EXPECT_EQ(out2,
            "zstor: init: --shards 3+4 writes 7 fragments per chunk, each to its own data backend, and 6 are given: "
            "add 1 data backends or use --shards 3+3\n");
  auto [rc3, out3] = Zstor(Config(), args + " --shards 4+2 --prefix Bad_Name");
  EXPECT_EQ(rc3, 2);
  EXPECT_EQ(out3, "zstor: init: --prefix 'Bad_Name': 1 to 64 characters of a-z, 0-9 and '-', not starting with '-'\n");
  EXPECT_FALSE(std::filesystem::exists(Config()));
}

TEST_F(InitTest, NamespaceWithAnotherPasswordIsRefusedAndKept) {
  ASSERT_EQ(Cmd(2, {"NSNEW", "zstor-t5-data"}), "OK");
  ASSERT_EQ(Cmd(2, {"NSSET", "zstor-t5-data", "password", "theirs"}), "OK");
  ASSERT_EQ(InNamespace(2, "zstor-t5-data", "theirs", {"SET", "k", "their bytes"}), "k");
  auto [rc, out] = Zstor(Config(), InitArgs(" --prefix t5"));
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("zstor: init: 1 of 10 backends not ready: data backend " + Addr(2) +
                     " (zstor-t5-data): namespace zstor-t5-data exists with another password than the config's: left as "
                     "it is (another zstor's namespace? give this machine its own --prefix). Run the same command again "
                     "once they are.\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(InNamespace(2, "zstor-t5-data", "theirs", {"GET", "k"}), "their bytes");
  auto cfg = zstor::LoadConfig(Config());
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(InNamespace(2, "zstor-t5-data", cfg->backends[2].address.password, {"GET", "k"}), "ERR Access denied");
  // Arguments that do not match the file are refused, the file kept.
  std::string before = zdb_test::ReadRaw(Config());
  auto [rc2, out2] = Zstor(Config(), InitArgs(" --prefix other"));
  EXPECT_EQ(rc2, 2);
  EXPECT_EQ(out2.rfind("zstor: init: " + Config() + " exists and differs from the arguments: its prefix is \"t5\". ", 0), 0u)
      << out2;
  EXPECT_TRUE(zdb_test::ReadRaw(Config()) == before);
}

TEST_F(InitTest, WhatInitDidNotMakeIsLeftAsItIs) {
  // zdb 1 holds a password-less namespace of that name with a key in it;
  // zdb 3 runs with a fixed --mode seq, so its meta namespace cannot be user.
  ASSERT_EQ(Cmd(1, {"NSNEW", "zstor-t7-data"}), "OK");
  ASSERT_EQ(InNamespace(1, "zstor-t7-data", "", {"SET", "k", "someone's"}), "k");
  zdbs_[3].Kill();
  StartZdb(3, {"--mode", "seq"});
  auto [rc, out] = Zstor(Config(), InitArgs(" --prefix t7"));
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(Line(out, "data  " + Addr(1) + " ")
                .find("FAILED: namespace zstor-t7-data exists without a password and holds 1 keys: zstor init did not "
                      "make it; left as it is"),
            std::string::npos)
      << out;
  EXPECT_NE(Line(out, "meta  " + Addr(3) + " ")
                .find("FAILED: NSSET zstor-t7-meta mode user: This server instance is configured to use a single "
                      "runtime mode (zdb runs with a fixed --mode; zstor sets each namespace's mode: start it without "
                      "--mode and without `mode` in its config)"),
            std::string::npos)
      << out;
  EXPECT_NE(Line(out, "data  " + Addr(3) + " ").find("created (mode seq, private, password set)"), std::string::npos) << out;
  EXPECT_NE(out.find("zstor: init: 2 of 10 backends not ready: "), std::string::npos) << out;
  EXPECT_EQ(InNamespace(1, "zstor-t7-data", "", {"GET", "k"}), "someone's");
  EXPECT_NE(Cmd(1, {"NSINFO", "zstor-t7-data"}).find("password: no\n"), std::string::npos);

  // --json says the same; zdb 3 without --mode: its meta namespace is completed.
  auto [jrc, jout] = Zstor(Config(), "--json init --admin-password-file " + AdminFile());
  EXPECT_EQ(jrc, 1);
  EXPECT_EQ(jout.rfind("{\"ok\": false, ", 0), 0u) << jout;
  EXPECT_NE(jout.find("\"ready\": 8, \"failed\": 2, \"error\": \"meta backend " + Addr(3)), std::string::npos) << jout;
  zdbs_[3].Kill();
  StartZdb(3);
  auto [rc2, out2] = Zstor(Config(), "init --admin-password-file " + AdminFile());
  EXPECT_EQ(rc2, 1) << out2;
  EXPECT_NE(Line(out2, "meta  " + Addr(3) + " ").find("completed (mode user, private, password set; an earlier run stopped half-way)"),
            std::string::npos)
      << out2;
  EXPECT_NE(out2.find("zstor: init: 1 of 10 backends not ready: data backend " + Addr(1)), std::string::npos) << out2;

  // A config that exists but does not load is named and kept.
  std::string bad = dir_.path() + "/bad.toml";
  zdb_test::WriteRaw(bad, "minimal_shards = \"many\"\n");
  auto [brc, bout] = Zstor(bad, InitArgs(" --prefix t7"));
  EXPECT_EQ(brc, 2);
  EXPECT_EQ(bout.rfind("zstor: init: " + bad + " exists but does not load (", 0), 0u) << bout;
  EXPECT_EQ(zdb_test::ReadRaw(bad), "minimal_shards = \"many\"\n");
}

TEST_F(InitTest, AHandWrittenConfigIsCheckedAsItIs) {
  // Namespaces without passwords, one already holding a key: init checks
  // what the file names and creates what is missing, adding no password.
  std::string text = "minimal_shards = 4\nexpected_shards = 6\n[encryption]\nkey = \"" + std::string(64, '1') +
                     "\"\n[meta]\n[meta.config]\nprefix = \"hand\"\n[meta.config.encryption]\nkey = \"" +
                     std::string(64, '2') + "\"\n";
  for (int i = 0; i < 4; ++i) text += "[[meta.config.backends]]\naddress = \"" + Addr(i) + "\"\nnamespace = \"hand-meta\"\n";
  text += "[[groups]]\n";
  for (int i = 0; i < 6; ++i) text += "[[groups.backends]]\naddress = \"" + Addr(i) + "\"\nnamespace = \"hand\"\n";
  zdb_test::WriteRaw(dir_.path() + "/hand.toml", text);
  ASSERT_EQ(Cmd(0, {"NSNEW", "hand"}), "OK");
  ASSERT_EQ(Cmd(0, {"NSSET", "hand", "mode", "seq"}), "OK");
  ASSERT_NE(InNamespace(0, "hand", "", {"SET", "", "fragment"}).find("ERR"), 0u);
  auto [rc, out] = Zstor(dir_.path() + "/hand.toml", "init --admin-password-file " + AdminFile());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(Line(out, "data  " + Addr(0) + " ").find("exists, no password as in the config, mode seq"), std::string::npos) << out;
  EXPECT_NE(Line(out, "data  " + Addr(1) + " ").find("created (mode seq, no password: the config gives none)"), std::string::npos)
      << out;
  EXPECT_NE(Line(out, "meta  " + Addr(2) + " ").find("created (mode user, no password: the config gives none)"), std::string::npos)
      << out;
  EXPECT_TRUE(zdb_test::ReadRaw(dir_.path() + "/hand.toml") == text);
  EXPECT_NE(Cmd(1, {"NSINFO", "hand"}).find("password: no\n"), std::string::npos);
  EXPECT_EQ(InNamespace(0, "hand", "", {"DBSIZE"}), "1");
}

TEST_F(InitTest, AddBackendThenStoreUsesIt) {
  auto [rc, out] = Zstor(Config(), InitArgs(" --prefix t6"));
  ASSERT_EQ(rc, 0) << out;
  std::string local = LocalCopy(Config(), "node");
  std::string data = qs_test::RandomData(1 << 20, 12);
  zdb_test::WriteRaw(dir_.path() + "/in", data);
  // 4+2 over 6 data backends: with one down, a store has nowhere to go.
  zdbs_[5].Kill();
  auto [src, sout] = Zstor(local, "store -f " + dir_.path() + "/in -k /before");
  ASSERT_EQ(src, 1) << sout;

  StartZdb(6);
  std::string before = zdb_test::ReadRaw(Config());
  auto [arc, aout] = Zstor(Config(), "add-backend --admin-password-file " + AdminFile() + " --group 1 " + Addr(6) + " --labels site=b");
  ASSERT_EQ(arc, 0) << aout;
  EXPECT_EQ(Line(aout, "added"), "added " + Addr(6) + " to group 1 of " + Config());
  EXPECT_NE(Line(aout, "data  " + Addr(6) + " ").find("zstor-t6-data            created (mode seq, private, password set)"), std::string::npos)
      << aout;
  EXPECT_NE(aout.find("the daemon reads its config at start: systemctl restart zstor"), std::string::npos) << aout;
  std::string after = zdb_test::ReadRaw(Config());
  ASSERT_EQ(after.rfind(before, 0), 0u) << "the rest of the file stays byte for byte";
  EXPECT_EQ(after.substr(before.size()).rfind("\n[[groups.backends]]\naddress = \"" + Addr(6) +
                                              "\"\nnamespace = \"zstor-t6-data\"\npassword = \"", 0),
            0u)
      << after.substr(before.size());
  auto cfg = zstor::LoadConfig(Config());
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_EQ(cfg->backends.size(), 7u);
  EXPECT_EQ(cfg->backends[6].group, 1);
  EXPECT_EQ(cfg->backends[6].labels, (std::map<std::string, std::string>{{"site", "b"}}));

  local = LocalCopy(Config(), "node2");
  auto [src2, sout2] = Zstor(local, "store -f " + dir_.path() + "/in -k /after");
  ASSERT_EQ(src2, 0) << sout2;
  EXPECT_NE(InNamespace(6, "zstor-t6-data", cfg->backends[6].address.password, {"DBSIZE"}), "0");
  auto [rrc, rout] = Zstor(local, "retrieve -f x -k /after -o " + dir_.path() + "/back");
  ASSERT_EQ(rrc, 0) << rout;
  EXPECT_TRUE(zdb_test::ReadRaw(dir_.path() + "/back") == data);

  // Again: nothing changes. Into group 0 (not the last): before group 1.
  auto [arc2, aout2] = Zstor(Config(), "add-backend --admin-password-file " + AdminFile() + " --group 1 " + Addr(6));
  EXPECT_EQ(arc2, 0) << aout2;
  EXPECT_EQ(Line(aout2, "already"), Addr(6) + " is already in group 1 of " + Config());
  EXPECT_TRUE(zdb_test::ReadRaw(Config()) == after);
  auto [jrc, jout] = Zstor(Config(), "--json add-backend --admin-password-file " + AdminFile() + " --group 1 " + Addr(6));
  EXPECT_EQ(jrc, 0);
  EXPECT_EQ(jout, "{\"ok\": true, \"config\": \"" + Config() + "\", \"added\": false, \"backend\": {\"role\": \"data\", "
                  "\"backend\": \"" + Addr(6) + "\", \"group\": 1, \"namespace\": \"zstor-t6-data\", \"ok\": true, \"done\": "
                  "\"checked\", \"error\": null}, \"error\": null, \"restart\": false}\n");
  auto [grc, gout] = Zstor(Config(), "add-backend --admin-password-file " + AdminFile() + " --group 0 " + Addr(6));
  EXPECT_EQ(grc, 2);
  EXPECT_EQ(gout, "zstor: add-backend: " + Addr(6) + " is already in group 1 of " + Config() + "\n");
  EXPECT_TRUE(zdb_test::ReadRaw(Config()) == after);
  StartZdb(7);
  auto [arc3, aout3] = Zstor(Config(), "add-backend --admin-password-file " + AdminFile() + " --group 0 " + Addr(7));
  EXPECT_EQ(arc3, 0) << aout3;
  cfg = zstor::LoadConfig(Config());
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_EQ(cfg->backends.size(), 8u);
  EXPECT_EQ(cfg->backends[3].address.ToString(), Addr(7));
  EXPECT_EQ(cfg->backends[3].group, 0);
  EXPECT_TRUE(cfg->backends[3].labels.empty());

  // A meta backend is refused, and says why.
  auto [mrc, mout] = Zstor(Config(), "add-backend --admin-password-file " + AdminFile() + " --meta " + Addr(7));
  EXPECT_EQ(mrc, 2);
  EXPECT_EQ(mout,
            "zstor: add-backend: meta backends cannot be added: shard i of every metadata record is on the i-th meta "
            "backend, so another one would leave every record where readers no longer look. add-backend adds data "
            "backends (--group N ADDR)\n");
}

TEST_F(InitTest, TwoPrefixesOnTheSameBackendsNeverMeet) {
  // TCP this time: the addresses an operator types.
  int ports[6];
  for (int i = 0; i < 6; ++i) {
    zdbs_[i].Kill();
    ports[i] = qs_test::FreePort();
    std::string d = dir_.path() + "/tcp" + std::to_string(i);
    ASSERT_TRUE(zdbs_[i].Start(std::string(QS_BIN_DIR) + "/zdb",
                               {"--data", d + "/data", "--index", d + "/index", "--listen", "127.0.0.1", "--port",
                                std::to_string(ports[i]), "--admin", kAdmin, "--datasize", "4M"},
                               d + ".log"));
    qs::ZdbAddress a;
    a.host = "127.0.0.1";
    a.port = ports[i];
    qs::ZdbClient c(a);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!c.Ping().ok() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(c.Ping().ok()) << "zdb " << i;
  }
  auto tcp = [&](int i) { return "127.0.0.1:" + std::to_string(ports[i]); };
  std::string args = "init --admin-password-file " + AdminFile() + " --meta " + tcp(0) + "," + tcp(1) + "," + tcp(2) + "," +
                     tcp(3) + " --group " + tcp(0) + "," + tcp(1) + "," + tcp(2) + " --group " + tcp(3) + "," + tcp(4) +
                     "," + tcp(5) + " --shards 4+2 --prefix ";
  std::string a_cfg = dir_.path() + "/a.toml", b_cfg = dir_.path() + "/b.toml";
  auto [arc, aout] = Zstor(a_cfg, args + "alpha");
  ASSERT_EQ(arc, 0) << aout;
  auto [brc, bout] = Zstor(b_cfg, args + "beta");
  ASSERT_EQ(brc, 0) << bout;
  EXPECT_EQ(Count(bout, "zstor-beta-data          created"), 6) << bout;
  std::string a_local = LocalCopy(a_cfg, "a"), b_local = LocalCopy(b_cfg, "b");
  std::string a_data = qs_test::RandomData(700000, 1), b_data = qs_test::RandomData(900000, 2);
  zdb_test::WriteRaw(dir_.path() + "/a_in", a_data);
  zdb_test::WriteRaw(dir_.path() + "/b_in", b_data);
  ASSERT_EQ(Zstor(a_local, "store -f " + dir_.path() + "/a_in -k /same").first, 0);
  ASSERT_EQ(Zstor(b_local, "store -f " + dir_.path() + "/b_in -k /same").first, 0);
  ASSERT_EQ(Zstor(a_local, "store -f " + dir_.path() + "/a_in -k /only-alpha").first, 0);
  ASSERT_EQ(Zstor(a_local, "retrieve -f x -k /same -o " + dir_.path() + "/a_out").first, 0);
  ASSERT_EQ(Zstor(b_local, "retrieve -f x -k /same -o " + dir_.path() + "/b_out").first, 0);
  EXPECT_TRUE(zdb_test::ReadRaw(dir_.path() + "/a_out") == a_data);
  EXPECT_TRUE(zdb_test::ReadRaw(dir_.path() + "/b_out") == b_data);
  auto [lrc, a_list] = Zstor(a_local, "--json list");
  EXPECT_EQ(lrc, 0);
  EXPECT_NE(a_list.find("\"key\": \"/only-alpha\""), std::string::npos) << a_list;
  EXPECT_EQ(Count(a_list, "\"key\""), 2) << a_list;
  auto [lrc2, b_list] = Zstor(b_local, "--json list");
  EXPECT_EQ(lrc2, 0);
  EXPECT_EQ(b_list.rfind("[{\"key\": \"/same\", \"size\": 900000, ", 0), 0u) << b_list;
  EXPECT_EQ(Count(b_list, "\"key\""), 1) << b_list;
}

TEST(InitUnitTest, DefaultPrefixIsTheShortHostName) {
  std::string p = zstor::DefaultPrefix();
  EXPECT_TRUE(std::regex_match(p, std::regex("[a-z0-9][a-z0-9-]*"))) << p;
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string h(host);
  h = h.substr(0, h.find('.'));
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (std::regex_match(h, std::regex("[a-z0-9][a-z0-9-]*[a-z0-9]|[a-z0-9]"))) {
    EXPECT_EQ(p, h);
  }
}

TEST(InitUnitTest, InsertKeepsEveryOtherByte) {
  const std::string text =
      "x = 1\n\n# Group 0.\n[[groups]]\n\n[[groups.backends]]\naddress = \"a:1\"\nlabels = { s = \"1\" }\n"
      "\n# Group 1.\n[[groups]]\n\n[[groups.backends]]\naddress = \"b:1\"\n\n# tail\n[monitor]\nhealth_interval = 5\n";
  const std::string entry = "\n[[groups.backends]]\naddress = \"c:1\"\n";
  auto g0 = zstor::InsertDataBackend(text, 0, entry);
  ASSERT_TRUE(g0.ok());
  EXPECT_EQ(*g0,
            "x = 1\n\n# Group 0.\n[[groups]]\n\n[[groups.backends]]\naddress = \"a:1\"\nlabels = { s = \"1\" }\n"
            "\n[[groups.backends]]\naddress = \"c:1\"\n"
            "\n# Group 1.\n[[groups]]\n\n[[groups.backends]]\naddress = \"b:1\"\n\n# tail\n[monitor]\nhealth_interval = 5\n");
  auto g1 = zstor::InsertDataBackend(text, 1, entry);
  ASSERT_TRUE(g1.ok());
  EXPECT_NE(g1->find("address = \"b:1\"\n\n[[groups.backends]]\naddress = \"c:1\"\n\n# tail\n[monitor]"), std::string::npos) << *g1;
  auto g2 = zstor::InsertDataBackend(text, 2, entry);
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(*g2, text + "\n# Group 2.\n[[groups]]\n" + entry);
  auto g3 = zstor::InsertDataBackend(text, 3, entry);
  EXPECT_FALSE(g3.ok());
}

}  // namespace
