// OutputFile: what a retrieve writes lands byte for byte, whichever way it
// is written (direct I/O with padded tails, or buffered where the file
// system has no direct I/O), and the file ends at exactly the given size.
#include "zstor/output_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/zdb/test_util.h"
#include "tests/common/random_data.h"

namespace {

using zstor::OutputFile;

using qs_test::RandomData;

// Writes data in chunks of `stride` from two threads (chunk i by thread
// i % 2, last chunk first, as a retrieve's pool may), alternating the two
// ways in (WriteAt and Scratch + WriteScratch).
void WriteInChunks(OutputFile* out, const std::string& data, size_t stride) {
  const size_t chunks = (data.size() + stride - 1) / stride;
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = chunks; i-- > 0;) {
        if (i % 2 != t) continue;
        std::string_view piece = std::string_view(data).substr(i * stride, stride);
        if (i % 4 < 2) {
          ASSERT_TRUE(out->WriteAt(piece, i * stride).ok()) << i;
        } else {
          char* buf = OutputFile::Scratch(piece.size());
          ASSERT_NE(buf, nullptr);
          std::memcpy(buf, piece.data(), piece.size());
          ASSERT_TRUE(out->WriteScratch(piece.size(), i * stride).ok()) << i;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
}

TEST(OutputFileTest, ChunksAtTheirOffsetsRoundTripAtEveryTailSize) {
  zdb_test::TempDir dir;
  const size_t stride = 64 << 10;
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, stride - 1, stride, stride + 1,
                      5 * stride + 12345}) {
    std::string data = RandomData(size, static_cast<uint32_t>(size));
    std::string path = dir.path() + "/out" + std::to_string(size);
    OutputFile out;
    ASSERT_TRUE(out.Open(path, stride).ok());
    WriteInChunks(&out, data, stride);
    ASSERT_TRUE(out.Finish(size).ok());
    EXPECT_EQ(zdb_test::ReadRaw(path), data) << size;
  }
}

// /dev/shm is tmpfs, which has O_DIRECT only on recent kernels; the file
// comes out right either way.
TEST(OutputFileTest, TmpfsRoundTrips) {
  std::string path = "/dev/shm/qs-output-file-test-" + std::to_string(getpid());
  std::string data = RandomData(3 * 8192 + 7, 3);
  OutputFile out;
  ASSERT_TRUE(out.Open(path, 8192).ok());
  WriteInChunks(&out, data, 8192);
  ASSERT_TRUE(out.Finish(data.size()).ok());
  EXPECT_EQ(zdb_test::ReadRaw(path), data);
  unlink(path.c_str());
}

// A stride that is not a block multiple cannot be written direct; the file
// still comes out right.
TEST(OutputFileTest, UnalignedStrideIsWrittenBuffered) {
  zdb_test::TempDir dir;
  std::string path = dir.path() + "/odd";
  std::string data = RandomData(10 * 1000 + 3, 4);
  OutputFile out;
  ASSERT_TRUE(out.Open(path, 1000).ok());
  EXPECT_FALSE(out.direct());
  WriteInChunks(&out, data, 1000);
  ASSERT_TRUE(out.Finish(data.size()).ok());
  EXPECT_EQ(zdb_test::ReadRaw(path), data);
}

TEST(OutputFileTest, ErrorsAreReported) {
  zdb_test::TempDir dir;
  OutputFile out;
  auto s = out.Open(dir.path() + "/missing-dir/f", 4096);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_FALSE(out.WriteAt("x", 0).ok());
  EXPECT_FALSE(out.Finish(1).ok());
  ASSERT_TRUE(out.Open(dir.path() + "/f", 4096).ok());
  OutputFile::Scratch(4096);
  s = out.WriteScratch(size_t{1} << 30, 0);  // more than this thread's scratch
  EXPECT_EQ(s.code(), qs::Status::Code::kInvalidArgument) << s.ToString();
  ASSERT_TRUE(out.Finish(0).ok());
  struct stat st;
  ASSERT_EQ(stat((dir.path() + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
}

}  // namespace
