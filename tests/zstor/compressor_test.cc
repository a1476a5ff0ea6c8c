#include "zstor/compressor.h"

#include <zstd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/random_data.h"

namespace zstor {
namespace {

using qs::Status;

// Log-like text: repetitive words and structure, varying numbers.
std::string TextLike(size_t n) {
  static const char* const kWords[] = {"object", "chunk",  "shard", "namespace", "backend", "stored",
                                       "the",    "of",     "and",   "metadata",  "zstor",   "write"};
  std::mt19937 rng(1);
  std::string s;
  while (s.size() < n) {
    s += "2024-05-01 12:00:" + std::to_string(rng() % 60) + " [zstor] ";
    for (int i = 0; i < 8; ++i) {
      s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
      s += ' ';
    }
    s += std::to_string(rng() % 100000) + "\n";
  }
  s.resize(n);
  return s;
}

using qs_test::RandomData;

// A valid zstd frame that does not declare its content size (as a streaming
// writer without a pledged size produces).
std::string FrameWithoutContentSize(std::string_view data) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  EXPECT_EQ(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)), 0u);
  std::string out(ZSTD_compressBound(data.size()) + 64, '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  size_t rc = ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_end);
  EXPECT_EQ(rc, 0u);  // 0: frame completely flushed
  ZSTD_freeCCtx(cctx);
  out.resize(o.pos);
  EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  return out;
}

void ExpectCorruption(std::string_view in, size_t expected_size) {
  std::string out = "stale";
  Status s = Decompress(in, expected_size, &out);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << "expected_size " << expected_size << ": " << s.ToString();
  EXPECT_TRUE(out.empty());
}

TEST(CompressorTest, TextLikeDataCompressesAndRoundTrips) {
  std::string text = TextLike(1 << 20);
  std::string compressed = "stale";
  ASSERT_TRUE(Compress(text, 3, &compressed));
  EXPECT_LT(compressed.size(), text.size() / 2);
  std::string out = "stale";
  Status s = Decompress(compressed, text.size(), &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, text);
}

TEST(CompressorTest, LevelsAcrossRangeAndClamped) {
  std::string text = TextLike(64 << 10);
  for (int level : {-5, 0, 1, 3, 9, 19, 22, 100}) {
    SCOPED_TRACE(level);
    std::string compressed, out;
    ASSERT_TRUE(Compress(text, level, &compressed));
    EXPECT_LT(compressed.size(), text.size());
    ASSERT_TRUE(Decompress(compressed, text.size(), &out).ok());
    EXPECT_EQ(out, text);
  }
}

TEST(CompressorTest, RandomDataReturnsFalseAndLeavesOutEmpty) {
  for (size_t n : {size_t{1}, size_t{10}, size_t{100}, size_t{4096}, size_t{1} << 20}) {
    SCOPED_TRACE(n);
    std::string out = "stale";
    EXPECT_FALSE(Compress(RandomData(n, static_cast<uint32_t>(n)), 3, &out));
    EXPECT_TRUE(out.empty());
  }
}

TEST(CompressorTest, TinyInputDoesNotShrink) {
  std::string out = "stale";
  EXPECT_FALSE(Compress("aaaa", 3, &out));  // frame header alone is bigger
  EXPECT_TRUE(out.empty());
}

TEST(CompressorTest, EmptyInput) {
  std::string out = "stale";
  EXPECT_FALSE(Compress("", 3, &out));
  EXPECT_TRUE(out.empty());

  // Empty input is not a frame.
  ExpectCorruption("", 0);

  // A real frame of nothing decompresses to nothing, and only to nothing.
  std::string frame(ZSTD_compressBound(0), '\0');
  size_t n = ZSTD_compress(frame.data(), frame.size(), "", 0, 3);
  ASSERT_FALSE(ZSTD_isError(n));
  frame.resize(n);
  out = "stale";
  Status s = Decompress(frame, 0, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(out.empty());
  ExpectCorruption(frame, 1);
}

TEST(CompressorTest, GarbageIsCorruption) {
  ExpectCorruption("this is not a zstd frame at all", 100);
  ExpectCorruption(RandomData(4096, 9), 4096);
  ExpectCorruption(std::string(1, '\x28'), 10);  // first byte of the magic only

  // Right magic number, garbage after it.
  std::string bogus = "\x28\xb5\x2f\xfd" + RandomData(200, 10);
  ExpectCorruption(bogus, 1000);
}

TEST(CompressorTest, DamagedFrameIsCorruption) {
  std::string text = TextLike(100000);
  std::string compressed;
  ASSERT_TRUE(Compress(text, 3, &compressed));
  ExpectCorruption(compressed.substr(0, compressed.size() / 2), text.size());
  ExpectCorruption(compressed.substr(0, compressed.size() - 1), text.size());
  ExpectCorruption(compressed + "trailing junk", text.size());
}

TEST(CompressorTest, WrongExpectedSizeIsCorruption) {
  std::string text = TextLike(100000);
  std::string compressed;
  ASSERT_TRUE(Compress(text, 3, &compressed));
  for (size_t expected : {size_t{0}, size_t{1}, text.size() - 1, text.size() + 1, text.size() * 2}) {
    ExpectCorruption(compressed, expected);
  }
}

TEST(CompressorTest, FrameWithoutDeclaredSizeIsBoundedByExpectedSize) {
  std::string text = TextLike(200000);
  std::string frame = FrameWithoutContentSize(text);
  std::string out;
  Status s = Decompress(frame, text.size(), &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, text);
  // Too small a buffer must fail rather than overrun (ASan would notice) or
  // truncate; too large must fail rather than return fewer bytes.
  for (size_t expected : {size_t{0}, size_t{1}, text.size() - 1, text.size() + 1, text.size() + 4096}) {
    ExpectCorruption(frame, expected);
  }
}

TEST(CompressorTest, InputMayAliasOutput) {
  std::string text = TextLike(50000);
  std::string buf = text;
  ASSERT_TRUE(Compress(buf, 3, &buf));
  ASSERT_TRUE(Decompress(buf, text.size(), &buf).ok());
  EXPECT_EQ(buf, text);
}

TEST(CompressorTest, ConcurrentThreadsUseTheirOwnContexts) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 20; ++i) {
        std::string text = TextLike(20000 + 1000 * t + i);
        std::string compressed, out;
        if (!Compress(text, 1 + (i % 5), &compressed) || !Decompress(compressed, text.size(), &out).ok() ||
            out != text) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(CompressorTest, HighlyCompressible64MiBRoundTrips) {
  const size_t kSize = size_t{64} << 20;
  std::string data(kSize, '\0');
  // Mostly zeros, with a repeating marker so it is not a single run.
  for (size_t i = 0; i < kSize; i += 4096) data.replace(i, 16, "zstor-block-mark");
  std::string compressed;
  ASSERT_TRUE(Compress(data, 3, &compressed));
  EXPECT_LT(compressed.size(), kSize / 100);
  std::string out;
  Status s = Decompress(compressed, kSize, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out.size(), kSize);
  EXPECT_TRUE(out == data);  // not EXPECT_EQ: no 64 MiB diff on failure
  ExpectCorruption(compressed, kSize - 1);
}

// Frames carry zstd's content checksum (frame header descriptor bit 2), so
// a frame that decodes to other bytes than were compressed is refused; a
// caller can insist on the checksum being there.
TEST(CompressorTest, FramesCarryAContentChecksumThatIsVerified) {
  std::string text = TextLike(100000);
  std::string compressed;
  ASSERT_TRUE(Compress(text, 3, &compressed));
  ASSERT_GT(compressed.size(), 8u);
  EXPECT_NE(static_cast<uint8_t>(compressed[4]) & 0x04, 0) << "no Content_Checksum_Flag";
  std::string out(text.size(), '\0');
  ASSERT_TRUE(DecompressInto(compressed, text.size(), out.data(), /*require_checksum=*/true).ok());
  EXPECT_EQ(out, text);
  // The last 4 bytes are the checksum (XXH64's low half): any change there
  // alone makes the frame decode to bytes that do not match it.
  for (size_t back = 1; back <= 4; ++back) {
    std::string bad = compressed;
    bad[bad.size() - back] ^= 0x01;
    ExpectCorruption(bad, text.size());
  }

  // A frame written without the checksum still decodes, unless required.
  std::string plain_frame(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress(plain_frame.data(), plain_frame.size(), text.data(), text.size(), 3);
  ASSERT_FALSE(ZSTD_isError(n));
  plain_frame.resize(n);
  ASSERT_EQ(static_cast<uint8_t>(plain_frame[4]) & 0x04, 0);
  EXPECT_TRUE(DecompressInto(plain_frame, text.size(), out.data()).ok());
  Status s = DecompressInto(plain_frame, text.size(), out.data(), /*require_checksum=*/true);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("no content checksum"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace zstor
