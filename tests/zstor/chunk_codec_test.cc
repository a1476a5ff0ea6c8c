// ChunkCodec: one chunk through zstd -> AES-256-GCM -> RS 16+4 -> SHA-256
// per fragment, and back. Properties the whole of zstor relies on.
#include "zstor/chunk_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace {

using zstor::ChunkCodec;
using zstor::ChunkMeta;

std::string RandomData(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class ChunkCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = zstor::ErasureCoder::Create(16, 4);
    ASSERT_TRUE(c.ok());
    coder_ = std::move(c.value());
  }
  ChunkCodec Codec(int level) { return ChunkCodec(coder_.get(), &key_, level); }

  std::unique_ptr<zstor::ErasureCoder> coder_;
  zstor::Key key_ = zstor::Key::Random();
  const std::string id_ = "0123456789abcdef";
};

TEST_F(ChunkCodecTest, RoundTripsAtEverySize) {
  ChunkCodec codec = Codec(1);
  for (size_t n : {0, 1, 15, 16, 17, 4095, 4096, 4097, 1 << 20}) {
    std::string plain = RandomData(n, static_cast<uint32_t>(n));
    ChunkMeta meta;
    std::vector<std::string> shards;
    ASSERT_TRUE(codec.Encode(id_, 3, plain, &meta, &shards).ok()) << n;
    ASSERT_EQ(shards.size(), 20u);
    for (size_t j = 0; j < shards.size(); ++j) EXPECT_TRUE(ChunkCodec::FragmentValid(meta, j, shards[j]));
    std::string out;
    ASSERT_TRUE(codec.Decode(id_, 3, meta, shards, std::vector<bool>(20, true), &out).ok()) << n;
    EXPECT_EQ(out, plain) << n;
  }
}

TEST_F(ChunkCodecTest, LevelZeroStoresRawAndCompressibleDataShrinksOtherwise) {
  std::string text;
  while (text.size() < 200000) text += "the quick brown fox jumps over the lazy dog ";
  for (int level : {0, 3}) {
    ChunkCodec codec = Codec(level);
    ChunkMeta meta;
    std::vector<std::string> shards;
    ASSERT_TRUE(codec.Encode(id_, 0, text, &meta, &shards).ok());
    EXPECT_EQ((meta.flags & zstor::kChunkCompressed) != 0, level > 0) << level;
    if (level == 0) EXPECT_GE(meta.sealed_size, text.size());
    else EXPECT_LT(meta.sealed_size, text.size() / 10);
    std::string out;
    ASSERT_TRUE(codec.Decode(id_, 0, meta, shards, std::vector<bool>(20, true), &out).ok());
    EXPECT_EQ(out, text);
  }
}

// A flipped byte in any one fragment is caught by its checksum; leaving that
// fragment out, the others rebuild the exact chunk.
TEST_F(ChunkCodecTest, FlippedByteInAnyFragmentIsDetectedAndCorrected) {
  ChunkCodec codec = Codec(1);
  std::string plain = RandomData(100000, 9);
  ChunkMeta meta;
  std::vector<std::string> shards;
  ASSERT_TRUE(codec.Encode(id_, 1, plain, &meta, &shards).ok());
  for (size_t j = 0; j < shards.size(); ++j) {
    std::vector<std::string> bad = shards;
    bad[j][(j * 131) % bad[j].size()] ^= 0x01;
    std::vector<bool> present(20);
    for (size_t i = 0; i < 20; ++i) present[i] = ChunkCodec::FragmentValid(meta, i, bad[i]);
    EXPECT_FALSE(present[j]) << j;
    std::string out;
    ASSERT_TRUE(codec.Decode(id_, 1, meta, bad, present, &out).ok()) << j;
    EXPECT_EQ(out, plain) << j;
  }
}

// Corruption that gets past the fragment checksums (a forged fragment with a
// matching checksum, or metadata and fragments of another chunk) is refused
// by authentication, never returned as wrong bytes.
TEST_F(ChunkCodecTest, TamperedOrSwappedChunksAreRefused) {
  ChunkCodec codec = Codec(1);
  std::string plain = RandomData(50000, 10);
  ChunkMeta meta;
  std::vector<std::string> shards;
  ASSERT_TRUE(codec.Encode(id_, 5, plain, &meta, &shards).ok());
  std::vector<bool> all(20, true);
  std::string out;
  std::vector<std::string> forged = shards;
  forged[0][10] ^= 0x80;
  auto s = codec.Decode(id_, 5, meta, forged, all, &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  s = codec.Decode(id_, 6, meta, shards, all, &out);  // replayed as another index
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  s = codec.Decode("fedcba9876543210", 5, meta, shards, all, &out);  // another object
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST_F(ChunkCodecTest, MoreThanMLossesIsUnavailable) {
  ChunkCodec codec = Codec(1);
  ChunkMeta meta;
  std::vector<std::string> shards;
  ASSERT_TRUE(codec.Encode(id_, 0, RandomData(30000, 11), &meta, &shards).ok());
  std::vector<bool> present(20, true);
  for (int j : {0, 5, 9, 17, 19}) present[static_cast<size_t>(j)] = false;
  std::string out;
  auto s = codec.Decode(id_, 0, meta, shards, present, &out);
  EXPECT_EQ(s.code(), qs::Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(s.message(), "need 16 shards, have 15");
}

TEST_F(ChunkCodecTest, ChallengesMatchTheProofOfTheirFragment) {
  ChunkCodec codec = Codec(1);
  ChunkMeta meta;
  std::vector<std::string> shards;
  ASSERT_TRUE(codec.Encode(id_, 0, RandomData(30000, 12), &meta, &shards).ok());
  ASSERT_EQ(meta.challenges.size(), 2u);
  for (const auto& ch : meta.challenges) {
    EXPECT_EQ(ChunkCodec::Proof(ch.nonce, shards[ch.fragment]), ch.expected);
    std::string other = shards[ch.fragment];
    other[0] ^= 1;
    EXPECT_NE(ChunkCodec::Proof(ch.nonce, other), ch.expected);
  }
}

}  // namespace
