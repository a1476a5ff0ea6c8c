// zstor's command table: --help names every command, the daemon's
// dispatcher refuses unknown names and wrong arities with exact texts, and
// the CLI (the real binary) decodes a daemon's replies by type and its
// errors by code: a malformed reply is a clear error, never a wrong answer.
#include "zstor/command_table.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "common/resp_parser.h"
#include "tests/common/run_command.h"
#include "tests/zdb/test_util.h"

namespace zstor {
namespace {

const std::string kZstor = std::string(QS_BIN_DIR) + "/zstor";

// Runs the zstor binary; its exit status and stdout + stderr.
std::pair<int, std::string> Zstor(const std::string& args) {
  return qs_test::RunCommand("ASAN_OPTIONS=detect_leaks=0 timeout 60 " + kZstor + " " + args);
}

TEST(CommandTableTest, EveryCommandIsInHelpOnce) {
  const std::string usage = Usage();
  auto [rc, help] = Zstor("--help");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(help, usage);
  std::set<std::string_view> cli, resp;
  for (const auto& c : Commands()) {
    if (!c.resp.empty()) {
      EXPECT_TRUE(resp.insert(c.resp).second) << "twice: " << c.resp;
    }
    if (c.runs == Runs::kNowhere) {
      EXPECT_TRUE(c.cli.empty() && c.usage.empty() && c.run == nullptr) << c.resp;
      continue;
    }
    EXPECT_TRUE(cli.insert(c.cli).second) << "twice: " << c.cli;
    EXPECT_NE(c.run, nullptr) << c.cli;
    EXPECT_EQ(c.serve != nullptr, !c.resp.empty()) << c.cli;
    // Its usage starts with its synopsis, which starts with its name.
    EXPECT_EQ(c.synopsis.substr(0, c.cli.size() + 1), std::string(c.cli) + (c.synopsis.size() > c.cli.size() ? " " : ""));
    EXPECT_EQ(c.usage.substr(0, c.synopsis.size() + 2), "  " + std::string(c.synopsis)) << c.cli;
    EXPECT_EQ(c.usage.back(), '\n') << c.cli;
    EXPECT_NE(usage.find("\n  " + std::string(c.synopsis)), std::string::npos) << c.cli;
    EXPECT_EQ(FindCliCommand(c.cli), &c);
  }
  for (const char* name : {"store", "retrieve", "check", "rebuild", "delete", "list", "status", "monitor", "repair",
                           "scrub", "sweep", "init", "add-backend", "hook"})
    EXPECT_TRUE(cli.count(name)) << name;
  EXPECT_EQ(FindCliCommand(""), nullptr);
  EXPECT_EQ(FindCliCommand("STORE"), nullptr);  // CLI names are exact
}

TEST(CommandTableTest, DaemonRequestsAreCheckedByTheTable) {
  std::string error;
  EXPECT_EQ(FindDaemonCommand({"FROB"}, &error), nullptr);
  EXPECT_EQ(error, "unknown command 'FROB'");
  EXPECT_EQ(FindDaemonCommand({"store", "only-one"}, &error), nullptr);
  EXPECT_EQ(error, "wrong number of arguments for STORE");
  EXPECT_EQ(FindDaemonCommand({"HOOK", "jump-data"}, &error), nullptr);
  EXPECT_EQ(error, "wrong number of arguments for HOOK");
  EXPECT_EQ(FindDaemonCommand({"LIST", "x"}, &error), nullptr);
  EXPECT_EQ(error, "wrong number of arguments for LIST");
  EXPECT_EQ(FindDaemonCommand({""}, &error), nullptr);
  EXPECT_EQ(error, "unknown command ''");
  // monitor, init and add-backend are the CLI's alone.
  EXPECT_EQ(FindDaemonCommand({"MONITOR"}, &error), nullptr);
  EXPECT_EQ(error, "unknown command 'MONITOR'");
  const CommandSpec* c = FindDaemonCommand({"Retrieve", "/k", "/out"}, &error);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cli, "retrieve");
  c = FindDaemonCommand({"hook", "jump-data", "unix:///x", "a", "b"}, &error);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->resp, "HOOK");
  EXPECT_NE(FindDaemonCommand({"ping"}, &error), nullptr);
  EXPECT_NE(FindDaemonCommand({"SCRUB", "FULL"}, &error), nullptr);
}

TEST(CommandTableTest, CliRefusalsAreExact) {
  auto [rc, out] = Zstor("-c x frob");
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(out, "zstor: unknown command 'frob'\n" + Usage());
  std::tie(rc, out) = Zstor("-c x store");
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(out, "zstor: store needs -f FILE\n");
  std::tie(rc, out) = Zstor("-c x hook ready");
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(out, "zstor: hook needs EVENT INSTANCE [ARGS...]\n");
  std::tie(rc, out) = Zstor("-c x list extra");
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(out, "zstor: unexpected argument 'extra'\n");
  std::tie(rc, out) = Zstor("-c x store -f");
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(out, "zstor: option '-f' needs a value\n");
  std::tie(rc, out) = Zstor("-c x --bogus");
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(out, "zstor: unknown option '--bogus'\n" + Usage());
  std::tie(rc, out) = Zstor("-c x init --help");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, Usage());
}

// A daemon on a Unix socket that answers each request by its name with
// canned bytes (absent: -ERR unknown command), and records the requests.
class ScriptedDaemon {
 public:
  ScriptedDaemon(std::string path, std::map<std::string, std::string> replies)
      : path_(std::move(path)), replies_(std::move(replies)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path_.c_str());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(fd_, 8) != 0) abort();
    thread_ = std::thread([this] { Loop(); });
  }
  ~ScriptedDaemon() {
    stop_ = true;
    thread_.join();
    close(fd_);
    unlink(path_.c_str());
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c >= 0) Serve(c);  // one client at a time: the CLI opens one
    }
  }
  void Serve(int c) {
    qs::RespParser parser;
    std::string in;
    std::vector<std::string_view> argv;
    char buf[4096];
    while (!stop_) {
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      size_t consumed = 0;
      while (parser.Parse(in.data(), in.size(), &consumed, &argv) == qs::RespParser::Result::kCommand) {
        std::string name = argv.empty() ? "" : std::string(argv[0]);
        auto it = replies_.find(name);
        std::string out = it != replies_.end() ? it->second : "-ERR unknown command '" + name + "'\r\n";
        in.erase(0, consumed);
        parser.Reset();
        if (write(c, out.data(), out.size()) != static_cast<ssize_t>(out.size())) break;
      }
    }
    close(c);
  }

  std::string path_;
  std::map<std::string, std::string> replies_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class CliDecodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The example config, with a daemon socket; private as a config must be.
    std::ifstream example(std::string(QS_SOURCE_DIR) + "/config/zstor-local.toml");
    std::string text((std::istreambuf_iterator<char>(example)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(text.empty());
    size_t at = text.find("\nsocket = \"\"\n");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 13, "\nsocket = \"" + socket() + "\"\n");
    cfg_ = dir_.path() + "/zstor.toml";
    std::ofstream(cfg_) << text;
    std::filesystem::permissions(cfg_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  std::string socket() const { return dir_.path() + "/zstor.sock"; }
  std::pair<int, std::string> Run(const std::string& args) { return Zstor("-c " + cfg_ + " " + args); }

  zdb_test::TempDir dir_;
  std::string cfg_;
};

TEST_F(CliDecodeTest, WellFormedRepliesPrintAsBefore) {
  ScriptedDaemon d(socket(), {{"CHECK", "*7\r\n:1000\r\n:1\r\n:20\r\n:19\r\n:19\r\n:16\r\n:4\r\n"},
                              {"LIST", "*1\r\n*4\r\n$3\r\n/ok\r\n:2048\r\n:1\r\n:0\r\n"},
                              {"REBUILD", ":3\r\n"},
                              {"SCRUB", ":2\r\n"},
                              {"STATUS", "*2\r\n*7\r\n$4\r\ndata\r\n$6\r\nd:9901\r\n:0\r\n:1\r\n:3\r\n:2048\r\n:-1\r\n"
                                         "*7\r\n$4\r\nmeta\r\n$6\r\nm:9921\r\n:-1\r\n:0\r\n:-1\r\n:-1\r\n:-1\r\n"},
                              {"STAGING", "*6\r\n:1\r\n:2\r\n:1\r\n$1\r\nx\r\n:1024\r\n:0\r\n"}});
  auto [rc, out] = Run("check -k /ok -f x");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "/ok: degraded, 19/20 fragments healthy, weakest chunk 19/16+4 (needs 16)\n");
  std::tie(rc, out) = Run("--json list");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "[{\"key\": \"/ok\", \"size\": 2048, \"chunks\": 1, \"created\": 0}]\n");
  std::tie(rc, out) = Run("rebuild -k /ok -f x");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "/ok: 3 fragments rebuilt\n");
  std::tie(rc, out) = Run("scrub --full");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "scrub: 2 objects found damaged and rebuilt\n");
  std::tie(rc, out) = Run("status");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out.find("staging: 2 jobs queued, 1 failing (last error: x); data dir 1.0 KiB (limit none)\n"), 0u) << out;
  EXPECT_NE(out.find("\ndata  d:9901                               0 up            3    2.0 KiB          -\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nmeta  m:9921                              -1 DOWN          -          -          -\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\n1 of 2 backends down\n"), std::string::npos) << out;
  std::tie(rc, out) = Run("--json status");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("{\"role\": \"meta\", \"backend\": \"m:9921\", \"group\": -1, \"up\": false, \"fragments\": -1, "
                     "\"used_bytes\": -1, \"free_bytes\": -1}], \"down\": 1, \"staging\": {\"jobs\": 2, \"failing\": 1, "
                     "\"last_error\": \"x\", \"data_dir_bytes\": 1024, \"max_data_dir_bytes\": 0}}\n"),
            std::string::npos)
      << out;
}

TEST_F(CliDecodeTest, MalformedRepliesAreErrorsNotAnswers) {
  ScriptedDaemon d(socket(), {
                                 // seven strings where integers belong
                                 {"CHECK", "*7\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n1\r\n"},
                                 // a row one field short
                                 {"LIST", "*2\r\n*4\r\n$3\r\n/ok\r\n:1\r\n:1\r\n:0\r\n*3\r\n$4\r\n/bad\r\n:1\r\n:1\r\n"},
                                 {"REBUILD", ":-5\r\n"},
                                 {"SWEEP", "*2\r\n:1\r\n:2\r\n"},
                             });
  auto [rc, out] = Run("check -k /k -f x");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "zstor: malformed CHECK reply: size: expected an integer, got a string\n");
  std::tie(rc, out) = Run("list");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "zstor: malformed LIST reply: expected 4 elements, got 3\n");
  std::tie(rc, out) = Run("rebuild -k /k -f x");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "zstor: malformed count reply: count: -5 is out of range\n");
  std::tie(rc, out) = Run("--json sweep");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "{\"ok\": false, \"error\": \"malformed SWEEP reply: expected 11 elements, got 2\"}\n");
}

TEST_F(CliDecodeTest, ErrorRepliesPrintTheirMessageByCode) {
  ScriptedDaemon d(socket(), {{"RETRIEVE", "-NOTFOUND no object stored at /nope\r\n"},
                              {"DELETE", "-CORRUPTION record /k: bad tag\r\n"},
                              {"STORE", "-ERR wrong number of arguments for STORE\r\n"},
                              {"HOOK", "-INVALID staging is off (config key 'zdb_data_dir_path')\r\n"}});
  auto [rc, out] = Run("retrieve -k /nope -f x");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "zstor: no object stored at /nope\n");
  std::tie(rc, out) = Run("--json delete -k /k -f x");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "{\"ok\": false, \"error\": \"record /k: bad tag\"}\n");
  std::tie(rc, out) = Run("store -k /k -f x");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "zstor: wrong number of arguments for STORE\n");
  // zstor-hook prints the daemon's refusal the same way.
  std::tie(rc, out) = qs_test::RunCommand("ASAN_OPTIONS=detect_leaks=0 ZSTOR_CONFIG=" + cfg_ + " timeout 60 " + kZstor + "-hook ready zdb");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "zstor-hook ready: staging is off (config key 'zdb_data_dir_path')\n");
}

}  // namespace
}  // namespace zstor
