// zdb's TOML config (--config FILE): every boolean key read both ways, and
// errors located as file:line:col, as zstor's and qsfs's are.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/zdb/test_util.h"
#include "zdb/options.h"

namespace zdb {
namespace {

class ZdbConfigTest : public ::testing::Test {
 protected:
  // Writes `text` to a config file and parses "--config FILE" plus `flags`.
  qs::Status Parse(const std::string& text, Options* out, std::vector<std::string> flags = {}) {
    zdb_test::WriteRaw(path(), text);
    std::vector<std::string> args = {"zdb", "--config", path()};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    bool help = false;
    return ParseOptions(static_cast<int>(argv.size()), argv.data(), out, &help);
  }
  std::string ErrorOf(const std::string& text) {
    Options o;
    qs::Status s = Parse(text, &o);
    EXPECT_FALSE(s.ok()) << text;
    return s.message();
  }
  std::string path() const { return dir_.path() + "/zdb.toml"; }

  zdb_test::TempDir dir_;
};

struct BoolKey {
  const char* key;
  bool Options::*field;
  const char* needs;  // other settings that the key needs when true
};

const BoolKey kBoolKeys[] = {
    {"dualnet", &Options::dualnet, "socket = \"/tmp/z.sock\"\n"},
    {"protect", &Options::protect, "admin = \"secret\"\n"},
    {"sync", &Options::sync, ""},
    {"evict-synced", &Options::evict_synced, ""},
    {"background", &Options::background, ""},
    {"verbose", &Options::verbose, ""},
};

TEST_F(ZdbConfigTest, EveryBooleanKeyReadsTrueAndFalse) {
  for (const BoolKey& b : kBoolKeys) {
    for (bool value : {true, false}) {
      SCOPED_TRACE(std::string(b.key) + " = " + (value ? "true" : "false"));
      Options o;
      // The opposite of the default first, so that a key left unread fails.
      o.*b.field = !value;
      qs::Status s = Parse(std::string(b.needs) + b.key + " = " + (value ? "true" : "false") + "\n", &o);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(o.*b.field, value);
    }
  }
}

// protect = false needs no admin password: it is the default.
TEST_F(ZdbConfigTest, ProtectFalseStartsWithoutAdmin) {
  Options o;
  qs::Status s = Parse("protect = false\n", &o);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(o.protect);
  // sync = false keeps the default fsync policy.
  Options p;
  ASSERT_TRUE(Parse("sync = false\n", &p).ok());
  EXPECT_EQ(p.fsync, FsyncPolicy::kEverySec);
}

// The shipped example says verbose = false: debug logging stays off.
TEST_F(ZdbConfigTest, ShippedExampleLoadsAsWritten) {
  Options o;
  std::vector<std::string> args = {"zdb", "--config", std::string(QS_SOURCE_DIR) + "/config/zdb.toml"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  bool help = false;
  qs::Status s = ParseOptions(static_cast<int>(argv.size()), argv.data(), &o, &help);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(o.verbose);
  EXPECT_TRUE(o.evict_synced);
  EXPECT_FALSE(o.protect);
  EXPECT_EQ(o.port, 9900);
}

// A flag on the command line wins over the file, for booleans too.
TEST_F(ZdbConfigTest, FlagWinsOverFileBoolean) {
  Options o;
  qs::Status s = Parse("verbose = false\n", &o, {"--verbose"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(o.verbose);
}

TEST_F(ZdbConfigTest, BooleanKeyWithAnotherTypeIsRefusedWithItsPlace) {
  EXPECT_EQ(ErrorOf("port = 9900\nprotect = \"no\"\n"),
            "config key 'protect': expected true or false, got a string (at " + path() + ":2:11)");
  EXPECT_EQ(ErrorOf("verbose = 0\n"),
            "config key 'verbose': expected true or false, got an integer (at " + path() + ":1:11)");
}

TEST_F(ZdbConfigTest, ValueErrorsNameFileLineAndColumn) {
  EXPECT_EQ(ErrorOf("data = \"/d\"\n\nport = 70000\n"),
            "config key 'port': 70000 out of range [0, 65535] (at " + path() + ":3:8)");
  EXPECT_EQ(ErrorOf("fsync = \"sometimes\"\n"),
            "config key 'fsync': one of always|everysec|never expected, got 'sometimes' (at " + path() + ":1:9)");
  EXPECT_EQ(ErrorOf("datasize = \"12X\"\n"),
            "config key 'datasize': bad size suffix in '12X' (use K, M or G) (at " + path() + ":1:12)");
  EXPECT_EQ(ErrorOf("port = true\n"),
            "config key 'port': a boolean is not valid here (at " + path() + ":1:8)");
  EXPECT_EQ(ErrorOf("listen = [1, 2]\n"),
            "config key 'listen': expected a string, number or boolean, got an array (at " + path() + ":1:10)");
}

TEST_F(ZdbConfigTest, UnknownKeyNamesItsPlace) {
  EXPECT_EQ(ErrorOf("port = 9900\n  protekt = true\n"), "unknown config key 'protekt' (at " + path() + ":2:3)");
}

// Every flag of --help is a key of the file too.
TEST_F(ZdbConfigTest, EveryFlagIsAConfigKey) {
  std::string usage = Usage();
  size_t checked = 0;
  for (size_t at = usage.find("\n  --"); at != std::string::npos; at = usage.find("\n  --", at + 1)) {
    size_t begin = at + 5;
    size_t end = usage.find_first_of(" \n", begin);
    std::string key = usage.substr(begin, end - begin);
    if (key == "config" || key == "help" || key == "version") continue;
    // zdb --write-config's flags: a set-up step, not settings.
    if (key == "write-config" || key == "admin-password-file" || key == "force") continue;
    Options o;
    qs::Status s = Parse(key + " = \"x\"\n", &o);
    EXPECT_EQ(s.message().find("unknown config key"), std::string::npos) << key << ": " << s.ToString();
    ++checked;
  }
  EXPECT_EQ(checked, 27u);
}

TEST_F(ZdbConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  std::string err = ErrorOf("port = 9900\nprotect = fals\n");
  EXPECT_EQ(err.rfind(path() + ":2:", 0), 0u) << err;
}

}  // namespace
}  // namespace zdb
