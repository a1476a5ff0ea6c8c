// A mapped read of bytes that vanished (the file was truncated behind the
// reader) answers IOError and the process lives on. Built from
// common/file_env.cc at -O3 without sanitizers (tests/CMakeLists.txt): the
// release build is where the compiler may drop the guard's bookkeeping.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/file_env.h"

namespace {

TEST(MappedReadFile, ReadOfTruncatedBytesIsAnErrorNotACrash) {
  char tmpl[] = "/tmp/qs_mapped_read_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/segment";
  std::string content(100000, 'a');
  {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    close(fd);
  }
  qs::Env* env = qs::Env::Default();
  auto file = env->OpenReadMapped(path, 1 << 20);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  std::string scratch(content.size(), '\0');
  std::string_view got;
  ASSERT_TRUE((*file)->Read(0, content.size(), scratch.data(), &got).ok());
  EXPECT_EQ(got, content);

  ASSERT_EQ(truncate(path.c_str(), 64), 0);
  qs::Status s = (*file)->Read(32, 90000, scratch.data(), &got);
  EXPECT_EQ(s.code(), qs::Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.ToString().find("file truncated or unreadable"), std::string::npos) << s.ToString();
  // Still guarded after a fault (a page wholly past the end), and bytes that
  // remain still read.
  EXPECT_EQ((*file)->Read(8192, 1000, scratch.data(), &got).code(), qs::Status::Code::kIOError);
  ASSERT_TRUE((*file)->Read(0, 64, scratch.data(), &got).ok());
  EXPECT_EQ(got, content.substr(0, 64));
  std::filesystem::remove_all(tmpl);
}

}  // namespace
