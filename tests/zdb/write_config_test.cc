// `zdb --write-config FILE --port N [--listen ADDR] --admin-password-file
// FILE [--force]`: a storage node's config without editing TOML. The binary
// is run as an operator runs it; the file it writes is loaded back with
// --config.
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/zdb/test_util.h"
#include "zdb/config_writer.h"
#include "zdb/options.h"

namespace zdb {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class WriteConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    password_file_ = dir_.path() + "/admin.pass";
    zdb_test::WriteRaw(password_file_, "s3cr\"et\\pw\n");
  }

  // Runs the zdb binary with `args`; stdout and stderr kept apart.
  Outcome Zdb(const std::vector<std::string>& args) {
    std::string cmd = std::string(QS_BIN_DIR) + "/zdb";
    for (const std::string& a : args) cmd += " '" + a + "'";
    std::string err_file = dir_.path() + "/stderr";
    cmd += " 2>'" + err_file + "'";
    Outcome r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.err = zdb_test::ReadRaw(err_file);
    return r;
  }

  qs::Status Load(const std::string& file, Options* o) {
    std::vector<std::string> args = {"zdb", "--config", file};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    bool help = false;
    return ParseOptions(static_cast<int>(argv.size()), argv.data(), o, &help);
  }

  std::string config() const { return dir_.path() + "/etc/zdb/sdb.toml"; }

  zdb_test::TempDir dir_;
  std::string password_file_;
};

TEST_F(WriteConfigTest, WritesACommentedConfigThatLoadsBackWithThoseSettings) {
  Outcome r = Zdb({"--write-config", config(), "--port", "9911", "--listen", "10.0.0.5", "--admin-password-file",
               password_file_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.rfind("zdb: wrote " + config() + " (listen 10.0.0.5, port 9911, admin password from " +
                            password_file_ + ", mixed mode; mode 0",
                        0),
            0u)
      << r.out;
  std::string text = zdb_test::ReadRaw(config());
  EXPECT_NE(text.find("# "), std::string::npos) << text;
  Options o;
  qs::Status s = Load(config(), &o);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << text;
  EXPECT_EQ(o.listen, "10.0.0.5");
  EXPECT_EQ(o.port, 9911);
  // The file's last newline is not part of the password; quotes and
  // backslashes are.
  EXPECT_EQ(o.admin, "s3cr\"et\\pw");
  EXPECT_FALSE(o.mode.has_value());  // mixed: zstor sets each namespace's mode
  EXPECT_FALSE(o.protect);
  EXPECT_TRUE(o.socket.empty());
  EXPECT_TRUE(o.evict_synced);
  EXPECT_EQ(o.fsync, FsyncPolicy::kEverySec);
  Options defaults;
  EXPECT_EQ(o.data_dir, defaults.data_dir);  // the unit passes --data and --index
  EXPECT_EQ(o.index_dir, defaults.index_dir);
}

TEST_F(WriteConfigTest, ListenDefaultsToEveryAddress) {
  Outcome r = Zdb({"--write-config", config(), "--port", "9900", "--admin-password-file", password_file_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Options o;
  ASSERT_TRUE(Load(config(), &o).ok());
  EXPECT_EQ(o.listen, "::");
  EXPECT_EQ(o.port, 9900);
}

// 0640 root:zdb when the zdb group exists (the package's sysusers.d makes
// it), else 0600: the file holds the admin password.
TEST_F(WriteConfigTest, ModeBitsKeepThePasswordFromOthers) {
  Outcome r = Zdb({"--write-config", config(), "--port", "9911", "--admin-password-file", password_file_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(stat(config().c_str(), &st), 0);
  const group* g = getgrnam("zdb");
  if (g != nullptr) {
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_gid, g->gr_gid);
    EXPECT_NE(r.out.find("mode 0640, group zdb)"), std::string::npos) << r.out;
  } else {
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_NE(r.out.find("mode 0600: no group zdb)"), std::string::npos) << r.out;
  }
}

// The group branch, whatever groups this machine has: the caller's own
// group stands for zdb.
TEST_F(WriteConfigTest, AnExistingGroupGetsReadAccessOnly) {
  const group* g = getgrgid(getegid());
  ASSERT_NE(g, nullptr);
  NodeConfig c;
  c.port = 9911;
  c.admin = "pw";
  std::string note;
  qs::Result<WriteOutcome> r = WriteNodeConfig(config(), c, false, g->gr_name, &note);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, WriteOutcome::kWritten);
  EXPECT_EQ(note, std::string("mode 0640, group ") + g->gr_name);
  struct stat st {};
  ASSERT_EQ(stat(config().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_gid, g->gr_gid);
  r = WriteNodeConfig(config(), c, false, "no-such-group-for-zdb", &note);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WriteOutcome::kUnchanged);
  std::string other = dir_.path() + "/other.toml";
  r = WriteNodeConfig(other, c, false, "no-such-group-for-zdb", &note);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(note, "mode 0600: no group no-such-group-for-zdb");
  ASSERT_EQ(stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(WriteConfigTest, RerunWithTheSameArgumentsChangesNothing) {
  std::vector<std::string> args = {"--write-config", config(), "--port", "9911", "--admin-password-file",
                                   password_file_};
  ASSERT_EQ(Zdb(args).exit_code, 0);
  struct stat before {};
  ASSERT_EQ(stat(config().c_str(), &before), 0);
  std::string text = zdb_test::ReadRaw(config());
  Outcome r = Zdb(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "zdb: " + config() + " already has these settings: unchanged\n");
  struct stat after {};
  ASSERT_EQ(stat(config().c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);  // not rewritten
  EXPECT_EQ(zdb_test::ReadRaw(config()), text);
}

TEST_F(WriteConfigTest, OtherSettingsOnAnExistingFileAreRefusedUnlessForced) {
  ASSERT_EQ(Zdb({"--write-config", config(), "--port", "9911", "--admin-password-file", password_file_}).exit_code,
            0);
  std::string text = zdb_test::ReadRaw(config());
  Outcome r = Zdb({"--write-config", config(), "--port", "9912", "--admin-password-file", password_file_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "zdb: " + config() +
                       " exists with other settings (port 9911, not 9912); left unchanged (--force replaces it)\n");
  EXPECT_EQ(zdb_test::ReadRaw(config()), text);

  // Another password is another setting too; the message does not show it.
  std::string other = dir_.path() + "/other.pass";
  zdb_test::WriteRaw(other, "another\n");
  r = Zdb({"--write-config", config(), "--port", "9911", "--admin-password-file", other});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "zdb: " + config() +
                       " exists with other settings (another admin password); left unchanged (--force replaces it)\n");

  r = Zdb({"--write-config", config(), "--port", "9912", "--admin-password-file", other, "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Options o;
  ASSERT_TRUE(Load(config(), &o).ok());
  EXPECT_EQ(o.port, 9912);
  EXPECT_EQ(o.admin, "another");
}

// A file that is not a zdb config is never overwritten without --force.
TEST_F(WriteConfigTest, AFileThatDoesNotLoadIsRefused) {
  zdb_test::WriteRaw(dir_.path() + "/notes.toml", "port = = 1\n");
  Outcome r = Zdb({"--write-config", dir_.path() + "/notes.toml", "--port", "9911", "--admin-password-file",
               password_file_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("zdb: " + dir_.path() + "/notes.toml exists and is not a zdb config (", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("; left unchanged (--force replaces it)\n"), std::string::npos) << r.err;
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/notes.toml"), "port = = 1\n");
}

TEST_F(WriteConfigTest, BadUsageIsRefusedWithoutWriting) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  std::string empty = dir_.path() + "/empty.pass";
  zdb_test::WriteRaw(empty, "\n");
  std::string two_lines = dir_.path() + "/two.pass";
  zdb_test::WriteRaw(two_lines, "a\nb\n");
  const std::string missing = dir_.path() + "/missing.pass";
  const Case cases[] = {
      {{"--write-config", config(), "--admin-password-file", password_file_},
       "zdb: --write-config needs --port N\n"},
      {{"--write-config", config(), "--port", "9911"}, "zdb: --write-config needs --admin-password-file FILE\n"},
      {{"--write-config", config(), "--port", "99111", "--admin-password-file", password_file_},
       "zdb: --port: 99111 out of range [1, 65535]\n"},
      {{"--write-config", config(), "--port", "9911", "--admin-password-file", password_file_, "--datasize", "1G"},
       "zdb: --write-config takes only --port, --listen, --admin-password-file and --force (not --datasize)\n"},
      {{"--write-config", config(), "--port", "9911", "--admin-password-file", missing},
       "zdb: --admin-password-file " + missing + ": No such file or directory\n"},
      {{"--write-config", config(), "--port", "9911", "--admin-password-file", empty},
       "zdb: --admin-password-file " + empty + ": the file is empty\n"},
      {{"--write-config", config(), "--port", "9911", "--admin-password-file", two_lines},
       "zdb: --admin-password-file " + two_lines + ": the password must be one line\n"},
      {{"--port", "9911", "--admin-password-file", password_file_},
       "zdb: --admin-password-file and --force only go with --write-config\n"},
  };
  for (const Case& c : cases) {
    std::string line;
    for (auto& a : c.args) line += a + " ";
    SCOPED_TRACE(line);
    Outcome r = Zdb(c.args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.out, "");
    struct stat st {};
    EXPECT_NE(stat(config().c_str(), &st), 0) << "written anyway";
  }
}

}  // namespace
}  // namespace zdb
