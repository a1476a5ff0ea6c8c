// ChunkCodec: one chunk through zstd -> AES-256-GCM -> RS 16+4 -> a keyed
// checksum per fragment, and back. Properties the whole of zstor relies on.
#include "zstor/chunk_codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <random>

#include "zstor/metadata.h"
#include "tests/common/random_data.h"

namespace {

using zstor::ChunkCodec;
using zstor::ChunkMeta;

using qs_test::RandomData;

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

// A chunk's hash-list entry is its GCM tag: the last 16 sealed bytes, read
// across the data fragments that hold them (here split over two); a chunk
// of an older writer (flag clear) hashes its plaintext instead.
TEST_F(ChunkCodecTest, ListEntryIsTheTagAcrossDataFragments) {
  ChunkCodec codec = Codec(1);
  for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{15 * 1024 - 8}, size_t{1 << 20}}) {
    std::string plain = RandomData(n, static_cast<uint32_t>(n) + 7);
    ChunkMeta meta;
    std::string buf;
    ASSERT_TRUE(codec.EncodeInto(id_, 2, plain, &meta, &buf).ok()) << n;
    ASSERT_TRUE(meta.flags & zstor::kChunkTagDigest) << n;
    std::string data;  // the sealed payload and its padding, data fragments in order
    for (size_t j = 0; j < 16; ++j) data.append(ChunkCodec::Shard(buf, meta, j));
    const std::string tag = data.substr(meta.sealed_size - zstor::kTagSize, zstor::kTagSize);
    auto shard = [&](size_t j) { return ChunkCodec::Shard(buf, meta, j); };
    EXPECT_EQ(ChunkCodec::ListEntry(meta, shard, plain), tag) << n;
    if (n == 15 * 1024 - 8) {  // 1 KiB fragments: the tag straddles fragments 14 and 15
      EXPECT_NE((meta.sealed_size - zstor::kTagSize) / meta.shard_size, (meta.sealed_size - 1) / meta.shard_size);
    }
    ChunkMeta old = meta;
    old.flags &= static_cast<uint8_t>(~zstor::kChunkTagDigest);
    zstor::Digest d = zstor::Sha256(plain);
    EXPECT_EQ(ChunkCodec::ListEntry(old, shard, plain), std::string(reinterpret_cast<const char*>(d.data()), d.size()));
  }
}

// With the tag in the hash list, zstd's content checksum is what checks a
// compressed chunk's plaintext, so a chunk flagged so must carry it: a
// sealed frame without one is refused; an older writer's chunk is not.
TEST_F(ChunkCodecTest, TagDigestChunksMustCarryZstdsContentChecksum) {
  std::string text;
  while (text.size() < 100000) text += "an old chunk compressed without a content checksum ";
  std::string frame(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress(frame.data(), frame.size(), text.data(), text.size(), 1);
  ASSERT_FALSE(ZSTD_isError(n));
  frame.resize(n);
  ChunkMeta meta;
  meta.plain_size = static_cast<uint32_t>(text.size());
  meta.nonce = zstor::RandomBytes(zstor::kNonceSize);
  std::string sealed;
  ASSERT_TRUE(zstor::Seal(key_, meta.nonce, zstor::ChunkAad(id_, 5), frame, &sealed).ok());
  meta.sealed_size = static_cast<uint32_t>(sealed.size());
  std::vector<std::string> shards;
  coder_->Encode(sealed, &shards);
  meta.shard_size = static_cast<uint32_t>(shards[0].size());
  meta.fragments.resize(shards.size());
  ChunkCodec codec = Codec(1);
  std::string out;
  meta.flags = zstor::kChunkCompressed | zstor::kChunkKeyedChecksums | zstor::kChunkTagDigest;
  qs::Status s = codec.Decode(id_, 5, meta, shards, std::vector<bool>(20, true), &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("no content checksum"), std::string::npos) << s.ToString();
  EXPECT_TRUE(out.empty());
  meta.flags = zstor::kChunkCompressed | zstor::kChunkKeyedChecksums;
  s = codec.Decode(id_, 5, meta, shards, std::vector<bool>(20, true), &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, text);
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

namespace {

// Every fragment's checksum is what zdb's PROVE answers for the nonce
// chunk nonce || index: the scrub proves each fragment without a download.
TEST_F(ChunkCodecTest, FragmentChecksumsAreProofsKeyedByChunkNonceAndIndex) {
  ChunkCodec codec = Codec(1);
  ChunkMeta meta;
  std::vector<std::string> shards;
  ASSERT_TRUE(codec.Encode(id_, 0, RandomData(100000, 5), &meta, &shards).ok());
  ASSERT_TRUE(meta.flags & zstor::kChunkKeyedChecksums);
  for (size_t j = 0; j < shards.size(); ++j) {
    std::string nonce = ChunkCodec::FragmentNonce(meta, j);
    ASSERT_EQ(nonce.size(), meta.nonce.size() + 1);
    EXPECT_EQ(nonce.substr(0, meta.nonce.size()), meta.nonce);
    EXPECT_EQ(static_cast<uint8_t>(nonce.back()), j);
    EXPECT_EQ(ChunkCodec::Proof(nonce, shards[j]), meta.fragments[j].checksum) << j;
    EXPECT_NE(zstor::Sha256(shards[j]), meta.fragments[j].checksum);
  }
  // A fragment moved to another index fails there.
  EXPECT_FALSE(ChunkCodec::FragmentValid(meta, 1, shards[0]));
  // Records of older writers (bit clear): plain SHA-256 checksums still verify.
  ChunkMeta old = meta;
  old.flags &= static_cast<uint8_t>(~zstor::kChunkKeyedChecksums);
  old.fragments[0].checksum = zstor::Sha256(shards[0]);
  EXPECT_TRUE(ChunkCodec::FragmentNonce(old, 0).empty());
  EXPECT_TRUE(ChunkCodec::FragmentValid(old, 0, shards[0]));
}

TEST(ObjectMetaTest, RoundTripsAndRefusesUnknownChunkFlags) {
  zstor::ObjectMeta m;
  m.object_id = "0123456789abcdef";
  m.path = "/a/b";
  m.size = 5;
  m.k = 2;
  m.m = 1;
  m.backends.push_back(zstor::BackendRef{"127.0.0.1:9901", "default"});
  zstor::ChunkMeta c;
  c.plain_size = 5;
  c.sealed_size = 21;
  c.flags = zstor::kChunkCompressed | zstor::kChunkKeyedChecksums | zstor::kChunkTagDigest;
  c.nonce = std::string(12, 'n');
  c.shard_size = 11;
  c.fragments.assign(3, zstor::FragmentMeta{0, std::string(8, 'k'), zstor::Digest{}});
  m.chunks.push_back(c);
  zstor::ObjectMeta back;
  ASSERT_TRUE(zstor::DecodeObjectMeta(zstor::EncodeObjectMeta(m), &back).ok());
  EXPECT_EQ(back.chunks[0].flags, c.flags);
  m.chunks[0].flags |= 8;
  qs::Status s = zstor::DecodeObjectMeta(zstor::EncodeObjectMeta(m), &back);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("unknown chunk flags"), std::string::npos) << s.ToString();
}

// DecodeInto writes the chunk into the caller's buffer and rebuilds
// missing data fragments in place; fragments it was handed unverified that
// are not what was stored make it fail (Corruption), never return wrong
// bytes, whether a data or a parity fragment went bad.
TEST_F(ChunkCodecTest, DecodeIntoRebuildsInPlaceAndRefusesBadFragments) {
  for (int level : {0, 1}) {
    ChunkCodec codec = Codec(level);
    std::string plain = RandomData(300001, 12);
    if (level == 1) plain = std::string(150000, 'a') + plain.substr(0, 150001);
    ChunkMeta meta;
    std::vector<std::string> shards;
    ASSERT_TRUE(codec.Encode(id_, 2, plain, &meta, &shards).ok());
    std::string out(meta.plain_size, '\0');
    std::vector<std::string> copy = shards;
    ASSERT_TRUE(codec.DecodeInto(id_, 2, meta, &copy, std::vector<bool>(20, true), out.data()).ok());
    EXPECT_EQ(out, plain) << level;
    std::vector<bool> present(20, true);
    for (int j : {0, 7, 15}) present[static_cast<size_t>(j)] = false;
    copy = shards;
    copy[7].clear();  // a missing fragment has no bytes at all
    out.assign(out.size(), '\0');
    ASSERT_TRUE(codec.DecodeInto(id_, 2, meta, &copy, present, out.data()).ok()) << level;
    EXPECT_EQ(out, plain) << level;
    EXPECT_EQ(copy[7], shards[7]);  // rebuilt in place
    // A data fragment, then the parity fragment that stands in for a lost
    // data one (the first k present are used).
    for (size_t bad : {size_t{3}, size_t{16}}) {
      copy = shards;
      out.assign(out.size(), '\0');
      copy[bad][100] ^= 0x04;
      std::vector<bool> use(20, true);
      if (bad >= 16) use[1] = false;
      auto s = codec.DecodeInto(id_, 2, meta, &copy, use, out.data());
      EXPECT_TRUE(s.IsCorruption()) << level << " " << bad << " " << s.ToString();
      EXPECT_NE(out, plain);
    }
  }
}

}  // namespace
