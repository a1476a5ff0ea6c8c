// Logging to a file that logrotate renames: ReopenLogging() sends new lines
// to a new file at the same path, and a reopen that fails keeps the old one.
#include "common/logging.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/logging_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    qs::ShutdownLogging();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(LoggingTest, ReopenAfterRenameWritesToANewFile) {
  const std::string log = dir_ + "/logs/d.log";
  ASSERT_TRUE(qs::InitLogging("d", log, false).ok());
  EXPECT_EQ(qs::LogFilePath(), log);
  spdlog::info("line one");
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  spdlog::info("line two");  // still the renamed file: not reopened yet
  qs::ReopenLoggingOnHangup();
  spdlog::info("line three");
  spdlog::default_logger_raw()->flush();
  const std::string old_text = Slurp(log + ".1"), new_text = Slurp(log);
  EXPECT_NE(old_text.find("line one"), std::string::npos) << old_text;
  EXPECT_NE(old_text.find("line two"), std::string::npos) << old_text;
  EXPECT_EQ(old_text.find("line three"), std::string::npos) << old_text;
  EXPECT_NE(new_text.find("[d] [info] SIGHUP: log file " + log +
                          " reopened; settings not reloaded (restart to apply them)"),
            std::string::npos)
      << new_text;
  EXPECT_NE(new_text.find("line three"), std::string::npos) << new_text;
}

// The directory of the log replaced by a regular file: the reopen fails,
// says why, and lines keep going to the file open before.
TEST_F(LoggingTest, FailedReopenKeepsTheOpenFile) {
  const std::string log = dir_ + "/logs/d.log";
  ASSERT_TRUE(qs::InitLogging("d", log, false).ok());
  ASSERT_EQ(rename((dir_ + "/logs").c_str(), (dir_ + "/old").c_str()), 0);
  std::ofstream(dir_ + "/logs") << "not a directory";
  qs::Status s = qs::ReopenLogging();
  EXPECT_EQ(s.message().rfind("cannot reopen the log file '" + log + "': ", 0), 0u) << s.ToString();
  qs::ReopenLoggingOnHangup();
  spdlog::info("after the failed reopen");
  spdlog::default_logger_raw()->flush();
  const std::string text = Slurp(dir_ + "/old/d.log");
  EXPECT_NE(text.find("[error] SIGHUP: cannot reopen the log file '" + log + "'"), std::string::npos) << text;
  EXPECT_NE(text.find("still logging to the file open before"), std::string::npos) << text;
  EXPECT_NE(text.find("after the failed reopen"), std::string::npos) << text;
}

TEST_F(LoggingTest, ReopenWithoutAFileDoesNothing) {
  ASSERT_TRUE(qs::InitLogging("d", "", false).ok());
  EXPECT_EQ(qs::LogFilePath(), "");
  EXPECT_TRUE(qs::ReopenLogging().ok());
}

}  // namespace
