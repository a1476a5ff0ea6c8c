#include "zstor/crypto.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace zstor {
namespace {

using qs::Status;

const char kAuthFailed[] = "authentication failed: wrong key or tampered data";

std::string Unhex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    ADD_FAILURE() << "bad hex in test vector: " << c;
    return 0;
  };
  EXPECT_EQ(hex.size() % 2, 0u);
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

std::string DigestHex(const Digest& d) {
  return ToHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Key KeyFromHexOrDie(std::string_view hex) {
  auto r = Key::FromHex(hex);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : Key{};
}

std::string PseudoRandom(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void ExpectAuthFailure(const Status& s) {
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_EQ(s.message(), kAuthFailed);
}

class CryptoTest : public ::testing::Test {
 protected:
  Key key_ = Key::Random();
  std::string nonce_ = RandomBytes(kNonceSize);
  std::string aad_ = "object=foo/bar chunk=7";
};

// ---- AES-256-GCM ---------------------------------------------------------

TEST_F(CryptoTest, RoundTripVariousSizes) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{1} << 20}) {
    SCOPED_TRACE(size);
    std::string plain = PseudoRandom(size, static_cast<uint32_t>(size));
    std::string sealed;
    ASSERT_TRUE(Seal(key_, nonce_, aad_, plain, &sealed).ok());
    ASSERT_EQ(sealed.size(), size + kTagSize);
    if (size >= 16) {
      EXPECT_NE(sealed.substr(0, size), plain);  // actually encrypted
    }
    std::string opened = "stale";
    Status s = Open(key_, nonce_, aad_, sealed, &opened);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(opened, plain);
  }
}

TEST_F(CryptoTest, EmptyAadRoundTrips) {
  std::string sealed, opened;
  ASSERT_TRUE(Seal(key_, nonce_, "", "hello", &sealed).ok());
  ASSERT_TRUE(Open(key_, nonce_, "", sealed, &opened).ok());
  EXPECT_EQ(opened, "hello");
}

TEST_F(CryptoTest, TamperingAnySingleByteFails) {
  std::string plain = PseudoRandom(40, 1);  // two full blocks and a partial one
  std::string sealed;
  ASSERT_TRUE(Seal(key_, nonce_, aad_, plain, &sealed).ok());
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      SCOPED_TRACE(testing::Message() << "byte " << i << " (" << (i < plain.size() ? "ciphertext" : "tag")
                                      << ") ^ " << int{flip});
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      std::string opened = "stale";
      ExpectAuthFailure(Open(key_, nonce_, aad_, bad, &opened));
      EXPECT_TRUE(opened.empty()) << "unauthenticated plaintext released";
    }
  }
}

TEST_F(CryptoTest, TruncatedOrExtendedSealedFails) {
  std::string sealed;
  ASSERT_TRUE(Seal(key_, nonce_, aad_, "some plaintext", &sealed).ok());
  std::string opened;
  ExpectAuthFailure(Open(key_, nonce_, aad_, sealed.substr(0, sealed.size() - 1), &opened));
  ExpectAuthFailure(Open(key_, nonce_, aad_, sealed.substr(1), &opened));
  ExpectAuthFailure(Open(key_, nonce_, aad_, sealed + '\0', &opened));
}

TEST_F(CryptoTest, WrongKeyNonceOrAadFails) {
  std::string plain = "the chunk's bytes";
  std::string sealed;
  ASSERT_TRUE(Seal(key_, nonce_, aad_, plain, &sealed).ok());
  std::string opened;

  Key other_key = key_;
  other_key.bytes[31] ^= 1;
  ExpectAuthFailure(Open(other_key, nonce_, aad_, sealed, &opened));
  ExpectAuthFailure(Open(Key::Random(), nonce_, aad_, sealed, &opened));

  std::string other_nonce = nonce_;
  other_nonce[0] = static_cast<char>(other_nonce[0] ^ 1);
  ExpectAuthFailure(Open(key_, other_nonce, aad_, sealed, &opened));

  ExpectAuthFailure(Open(key_, nonce_, "object=foo/bar chunk=8", sealed, &opened));
  ExpectAuthFailure(Open(key_, nonce_, "", sealed, &opened));
  ExpectAuthFailure(Open(key_, nonce_, aad_ + '\0', sealed, &opened));

  // The empty plaintext is authenticated too: only the tag is left to check.
  std::string empty_sealed;
  ASSERT_TRUE(Seal(key_, nonce_, aad_, "", &empty_sealed).ok());
  ExpectAuthFailure(Open(key_, nonce_, "different", empty_sealed, &opened));
  ExpectAuthFailure(Open(other_key, nonce_, aad_, empty_sealed, &opened));
}

TEST_F(CryptoTest, SealedShorterThanTagIsCorruption) {
  std::string opened = "stale";
  for (size_t n : {size_t{0}, size_t{1}, kTagSize - 1}) {
    Status s = Open(key_, nonce_, aad_, std::string(n, 'x'), &opened);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  }
}

TEST_F(CryptoTest, WrongNonceSizeIsInvalidArgument) {
  std::string sealed = "untouched";
  for (size_t n : {size_t{0}, size_t{8}, kNonceSize - 1, kNonceSize + 1, size_t{16}}) {
    SCOPED_TRACE(n);
    Status s = Seal(key_, std::string(n, 'n'), aad_, "plain", &sealed);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    EXPECT_EQ(sealed, "untouched");
    std::string opened;
    s = Open(key_, std::string(n, 'n'), aad_, std::string(32, 'x'), &opened);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  }
}

TEST_F(CryptoTest, SameInputsSealIdenticallyAndNonceMatters) {
  std::string a, b, c;
  ASSERT_TRUE(Seal(key_, nonce_, aad_, "payload", &a).ok());
  ASSERT_TRUE(Seal(key_, nonce_, aad_, "payload", &b).ok());
  EXPECT_EQ(a, b);
  ASSERT_TRUE(Seal(key_, RandomBytes(kNonceSize), aad_, "payload", &c).ok());
  EXPECT_NE(a, c);
}

TEST_F(CryptoTest, InputsMayAliasOutputs) {
  std::string plain = PseudoRandom(100, 3);
  std::string buf = plain;
  ASSERT_TRUE(Seal(key_, nonce_, aad_, buf, &buf).ok());
  ASSERT_EQ(buf.size(), plain.size() + kTagSize);
  ASSERT_TRUE(Open(key_, nonce_, aad_, buf, &buf).ok());
  EXPECT_EQ(buf, plain);
}

// GCM specification (McGrew & Viega), the AES-256 test cases 14 and 16, as
// also listed in NIST's GCM test vectors. Checked byte for byte against
// several independent published copies.
struct GcmVector {
  const char* name;
  const char* key;
  const char* iv;
  const char* plaintext;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};

const GcmVector kGcmVectors[] = {
    {"test case 14",
     "0000000000000000000000000000000000000000000000000000000000000000",  //
     "000000000000000000000000",                                          //
     "00000000000000000000000000000000",                                  //
     "",                                                                  //
     "cea7403d4d606b6e074ec5d3baf39d18",                                  //
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"test case 16",
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a"
     "86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525"
     "b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeef"
     "abaddad2",
     "522dc1f099567d07f47f37a32a84427d"
     "643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838"
     "c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(GcmKnownAnswerTest, SpecVectors) {
  for (const GcmVector& v : kGcmVectors) {
    SCOPED_TRACE(v.name);
    Key key = KeyFromHexOrDie(v.key);
    std::string nonce = Unhex(v.iv);
    std::string plain = Unhex(v.plaintext);
    std::string aad = Unhex(v.aad);
    std::string expected = Unhex(v.ciphertext) + Unhex(v.tag);

    std::string sealed;
    ASSERT_TRUE(Seal(key, nonce, aad, plain, &sealed).ok());
    EXPECT_EQ(ToHex(sealed), ToHex(expected));

    std::string opened;
    Status s = Open(key, nonce, aad, expected, &opened);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(opened, plain);
  }
}

// ---- SHA-256 -------------------------------------------------------------

TEST(Sha256Test, KnownValues) {
  EXPECT_EQ(DigestHex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(DigestHex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // FIPS 180-2's two-block message.
  EXPECT_EQ(DigestHex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, HasherWithNoInputIsEmptyDigest) {
  Sha256Hasher h;
  EXPECT_EQ(DigestHex(h.Finish()), DigestHex(Sha256("")));
}

TEST(Sha256Test, IncrementalEqualsOneShotAtRandomSplits) {
  std::string data = PseudoRandom(100000, 42);
  Digest want = Sha256(data);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    SCOPED_TRACE(trial);
    // Random, sorted split points, including empty pieces and the ends.
    int cuts = static_cast<int>(rng() % 20);
    std::vector<size_t> points = {0, data.size()};
    for (int i = 0; i < cuts; ++i) points.push_back(rng() % (data.size() + 1));
    std::sort(points.begin(), points.end());
    Sha256Hasher h;
    for (size_t i = 0; i + 1 < points.size(); ++i) {
      h.Update(std::string_view(data).substr(points[i], points[i + 1] - points[i]));
    }
    EXPECT_EQ(h.Finish(), want);
  }
}

TEST(Sha256Test, ByteAtATimeAndReuseAfterFinish) {
  Sha256Hasher h;
  for (char c : std::string("abc")) h.Update(std::string_view(&c, 1));
  EXPECT_EQ(DigestHex(h.Finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Finish starts over.
  h.Update("abc");
  EXPECT_EQ(DigestHex(h.Finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(DigestHex(h.Finish()), DigestHex(Sha256("")));
}

// ---- keys, hex, randomness -------------------------------------------------

TEST(KeyTest, HexRoundTrip) {
  const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  Key key = KeyFromHexOrDie(hex);
  for (size_t i = 0; i < kKeySize; ++i) EXPECT_EQ(key.bytes[i], i);
  EXPECT_EQ(key.ToHex(), hex);

  Key upper = KeyFromHexOrDie("FEFFE9928665731C6D6A8F9467308308FEFFE9928665731C6D6A8F9467308308");
  EXPECT_EQ(upper.ToHex(), "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");

  Key random = Key::Random();
  EXPECT_EQ(KeyFromHexOrDie(random.ToHex()).bytes, random.bytes);
}

TEST(KeyTest, WrongLengthMessage) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{32}, size_t{63}, size_t{65}, size_t{128}}) {
    auto r = Key::FromHex(std::string(n, 'a'));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(),
              "encryption key must be 64 hex digits (32 bytes), got " + std::to_string(n) + " characters");
  }
}

TEST(KeyTest, NonHexCharacterNamesPosition) {
  const std::string good(64, 'a');
  for (size_t pos : {size_t{0}, size_t{1}, size_t{10}, size_t{63}}) {
    for (char bad : {'g', 'G', ' ', 'x', '\0', '-', '\xff'}) {
      std::string hex = good;
      hex[pos] = bad;
      auto r = Key::FromHex(hex);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
      EXPECT_EQ(r.status().message(), "encryption key has a non-hex character at position " + std::to_string(pos));
    }
  }
}

TEST(HexTest, ToHex) {
  EXPECT_EQ(ToHex(""), "");
  EXPECT_EQ(ToHex(std::string("\x00\x01\x7f\x80\xff", 5)), "00017f80ff");
}

TEST(RandomTest, BytesDifferBetweenCalls) {
  EXPECT_TRUE(RandomBytes(0).empty());
  std::string a = RandomBytes(32), b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(b.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::string(32, '\0'));
  EXPECT_EQ(RandomBytes(1000).size(), 1000u);
  EXPECT_NE(Key::Random().bytes, Key::Random().bytes);
}

// OpenInto takes the sealed stream in pieces cut anywhere, the tag too,
// and decrypts into the caller's buffer; a tampered stream leaves that
// buffer wiped, never holding unauthenticated plaintext.
TEST_F(CryptoTest, OpenIntoTakesPiecesCutAnywhere) {
  std::string plain = PseudoRandom(1000, 5);
  std::string sealed;
  ASSERT_TRUE(Seal(key_, nonce_, aad_, plain, &sealed).ok());
  for (size_t a : {size_t{0}, size_t{1}, size_t{500}, size_t{999}, size_t{1000}, size_t{1007}, sealed.size()}) {
    for (size_t b : {a, a + 3, sealed.size()}) {
      if (b > sealed.size()) continue;
      std::string_view v(sealed);
      std::vector<std::string_view> pieces = {v.substr(0, a), v.substr(a, b - a), v.substr(b)};
      std::string out(plain.size(), 'x');
      ASSERT_TRUE(OpenInto(key_, nonce_, aad_, pieces, out.data()).ok()) << a << " " << b;
      EXPECT_EQ(out, plain) << a << " " << b;
    }
  }
  std::string bad = sealed;
  bad[sealed.size() - 3] ^= 0x10;  // in the tag
  std::string_view v(bad);
  std::string out(plain.size(), 'x');
  Status s = OpenInto(key_, nonce_, aad_, {v.substr(0, 1010), v.substr(1010)}, out.data());
  ExpectAuthFailure(s);
  EXPECT_EQ(out, std::string(plain.size(), '\0'));
  s = OpenInto(key_, nonce_, aad_, {v.substr(0, 5), v.substr(5, 5)}, out.data());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);  // shorter than a tag
}

}  // namespace
}  // namespace zstor
