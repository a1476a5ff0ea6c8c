// Helpers shared by the zdb engine tests: a fresh temporary directory per
// test and raw file access for corrupting files on purpose.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace zdb_test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/zdb_engine_test_XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadRaw(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void WriteRaw(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline void FlipByte(const std::string& path, size_t offset) {
  std::string d = ReadRaw(path);
  ASSERT_LT(offset, d.size());
  d[offset] ^= 0x5A;
  WriteRaw(path, d);
}

inline uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

}  // namespace zdb_test
