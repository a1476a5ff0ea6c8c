#include "zstor/erasure_coder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace zstor {

// Reads the private decode-cache counters (declared a friend in the header).
class ErasureCoderTestPeer {
 public:
  static uint64_t Hits(const ErasureCoder& ec) {
    qs::MutexLock lock(&ec.mu_);
    return ec.decode_cache_hits_;
  }
  static uint64_t Misses(const ErasureCoder& ec) {
    qs::MutexLock lock(&ec.mu_);
    return ec.decode_cache_misses_;
  }
  static size_t CacheSize(const ErasureCoder& ec) {
    qs::MutexLock lock(&ec.mu_);
    return ec.decode_cache_.size();
  }
};

namespace {

using qs::Status;

std::unique_ptr<ErasureCoder> MakeCoder(int k, int m) {
  auto r = ErasureCoder::Create(k, m);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// Calls fn(lost) for every subset of {0..n-1} of size exactly `size`.
template <typename Fn>
void ForEachSubset(int n, int size, Fn fn) {
  std::vector<int> idx(size);
  for (int i = 0; i < size; ++i) idx[i] = i;
  while (true) {
    fn(idx);
    int i = size - 1;
    while (i >= 0 && idx[i] == n - size + i) --i;
    if (i < 0) return;
    ++idx[i];
    for (int j = i + 1; j < size; ++j) idx[j] = idx[j - 1] + 1;
  }
}

// Shards with `lost` removed: absent entries are replaced by junk of another
// size to prove they are ignored.
std::pair<std::vector<std::string>, std::vector<bool>> Lose(const std::vector<std::string>& shards,
                                                            const std::vector<int>& lost) {
  std::vector<std::string> s = shards;
  std::vector<bool> present(shards.size(), true);
  for (int i : lost) {
    present[i] = false;
    s[i] = "junk";
  }
  return {std::move(s), std::move(present)};
}

std::string Describe(const std::vector<int>& lost) {
  std::string out = "lost={";
  for (size_t i = 0; i < lost.size(); ++i) out += (i ? "," : "") + std::to_string(lost[i]);
  return out + "}";
}

// Independent GF(2^8) arithmetic (polynomial 0x11d, as isa-l) for checking parity.
uint8_t RefMul(uint8_t a, uint8_t b) {
  uint8_t p = 0;
  while (b) {
    if (b & 1) p ^= a;
    b >>= 1;
    a = static_cast<uint8_t>((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
  }
  return p;
}
uint8_t RefInv(uint8_t a) {
  for (int x = 1; x < 256; ++x)
    if (RefMul(a, static_cast<uint8_t>(x)) == 1) return static_cast<uint8_t>(x);
  return 0;
}

TEST(ErasureCoderTest, CreateValidatesParameters) {
  EXPECT_EQ(ErasureCoder::Create(0, 4).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ErasureCoder::Create(-1, 4).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ErasureCoder::Create(4, -1).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ErasureCoder::Create(200, 56).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ErasureCoder::Create(1, 255).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ErasureCoder::Create(256, 0).status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(ErasureCoder::Create(1, 0).ok());
  EXPECT_TRUE(ErasureCoder::Create(255, 0).ok());
  auto r = ErasureCoder::Create(16, 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->k(), 16);
  EXPECT_EQ((*r)->m(), 4);
}

TEST(ErasureCoderTest, MaximalCodeDecodes) {
  // k + m = 255 is the largest Cauchy code isa-l supports.
  auto ec = MakeCoder(250, 5);
  ASSERT_TRUE(ec);
  const std::string payload = RandomBytes(100000, 7);
  std::vector<std::string> shards;
  ec->Encode(payload, &shards);
  ASSERT_EQ(shards.size(), 255u);
  for (const std::vector<int>& lost : {std::vector<int>{0, 1, 2, 3, 4}, std::vector<int>{0, 100, 249, 250, 254}}) {
    auto [s, present] = Lose(shards, lost);
    std::string out;
    ASSERT_TRUE(ec->Decode(s, present, payload.size(), &out).ok()) << Describe(lost);
    EXPECT_TRUE(out == payload) << Describe(lost);
    ASSERT_TRUE(ec->Reconstruct(&s, present).ok());
    EXPECT_TRUE(s == shards) << Describe(lost);
  }
}

TEST(ErasureCoderTest, ShardSize) {
  auto ec = MakeCoder(16, 4);
  ASSERT_TRUE(ec);
  EXPECT_EQ(ec->ShardSize(0), 64u);
  EXPECT_EQ(ec->ShardSize(1), 64u);
  EXPECT_EQ(ec->ShardSize(16 * 64), 64u);
  EXPECT_EQ(ec->ShardSize(16 * 64 + 1), 128u);
  EXPECT_EQ(ec->ShardSize(16 * 65), 128u);
  EXPECT_EQ(ec->ShardSize(1 << 20), 65536u);
  auto one = MakeCoder(1, 0);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->ShardSize(65), 128u);
}

TEST(ErasureCoderTest, ParityMatchesIndependentCauchyMath) {
  // Parity row i (0-based) for data column j is 1 / ((k + i) ^ j) over GF(2^8).
  const int k = 5, m = 3;
  auto ec = MakeCoder(k, m);
  ASSERT_TRUE(ec);
  const std::string payload = RandomBytes(1000, 3);
  std::vector<std::string> shards;
  ec->Encode(payload, &shards);
  const size_t size = ec->ShardSize(payload.size());
  for (int i = 0; i < m; ++i) {
    for (size_t b = 0; b < size; ++b) {
      uint8_t expect = 0;
      for (int j = 0; j < k; ++j) {
        expect ^= RefMul(RefInv(static_cast<uint8_t>((k + i) ^ j)), static_cast<uint8_t>(shards[j][b]));
      }
      ASSERT_EQ(static_cast<uint8_t>(shards[k + i][b]), expect) << "parity " << i << " byte " << b;
    }
  }
}

struct Params {
  int k, m;
};

class RoundTripTest : public ::testing::TestWithParam<Params> {};

TEST_P(RoundTripTest, AllSizes) {
  const auto [k, m] = GetParam();
  auto ec = MakeCoder(k, m);
  ASSERT_TRUE(ec);
  const size_t ks = static_cast<size_t>(k);
  const std::vector<size_t> sizes = {0, 1, ks - 1, ks, ks + 1, 4096, (1u << 20) + 3};
  uint32_t seed = 1;
  for (size_t n : sizes) {
    SCOPED_TRACE("payload " + std::to_string(n));
    const std::string payload = RandomBytes(n, seed++);
    std::vector<std::string> shards;
    ec->Encode(payload, &shards);
    const size_t size = ec->ShardSize(n);
    ASSERT_EQ(shards.size(), ks + m);
    for (const auto& s : shards) ASSERT_EQ(s.size(), size);
    ASSERT_EQ(size % 64, 0u);
    ASSERT_GE(size * ks, n);

    // Systematic: the data shards are the zero-padded payload.
    std::string joined;
    for (int i = 0; i < k; ++i) joined += shards[i];
    ASSERT_TRUE(joined.substr(0, n) == payload);
    ASSERT_EQ(joined.find_first_not_of('\0', n), std::string::npos);

    // Nothing lost.
    std::string out = "stale";
    std::vector<bool> all(ks + m, true);
    ASSERT_TRUE(ec->Decode(shards, all, n, &out).ok());
    ASSERT_TRUE(out == payload);

    // Worst case: the first min(m, k) data shards lost; and the last m shards lost.
    std::vector<std::vector<int>> patterns;
    std::vector<int> front, back;
    for (int i = 0; i < std::min(m, k); ++i) front.push_back(i);
    for (int i = 0; i < m; ++i) back.push_back(k + m - 1 - i);
    patterns.push_back(front);
    patterns.push_back(back);
    if (m >= 2 && k >= 2) patterns.push_back({0, k + m - 1});
    for (const auto& lost : patterns) {
      auto [s, present] = Lose(shards, lost);
      out = "stale";
      Status st = ec->Decode(s, present, n, &out);
      ASSERT_TRUE(st.ok()) << st.ToString() << " " << Describe(lost);
      ASSERT_TRUE(out == payload) << Describe(lost);
      st = ec->Reconstruct(&s, present);
      ASSERT_TRUE(st.ok()) << st.ToString() << " " << Describe(lost);
      ASSERT_TRUE(s == shards) << Describe(lost);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Codes, RoundTripTest,
                         ::testing::Values(Params{16, 4}, Params{2, 2}, Params{1, 0}, Params{4, 0}, Params{1, 3},
                                           Params{10, 5}),
                         [](const ::testing::TestParamInfo<Params>& info) {
                           return "k" + std::to_string(info.param.k) + "m" + std::to_string(info.param.m);
                         });

// Every loss pattern of up to m shards decodes and reconstructs exactly; every
// pattern of m + 1 losses is Unavailable.
void ExhaustiveLosses(int k, int m, size_t payload_len) {
  auto ec = MakeCoder(k, m);
  ASSERT_TRUE(ec);
  const std::string payload = RandomBytes(payload_len, 42);
  std::vector<std::string> shards;
  ec->Encode(payload, &shards);
  int patterns = 0;
  for (int losses = 0; losses <= m; ++losses) {
    ForEachSubset(k + m, losses, [&](const std::vector<int>& lost) {
      ++patterns;
      auto [s, present] = Lose(shards, lost);
      std::string out;
      Status st = ec->Decode(s, present, payload.size(), &out);
      ASSERT_TRUE(st.ok()) << st.ToString() << " " << Describe(lost);
      ASSERT_TRUE(out == payload) << Describe(lost);
      st = ec->Reconstruct(&s, present);
      ASSERT_TRUE(st.ok()) << st.ToString() << " " << Describe(lost);
      for (int i : lost) ASSERT_TRUE(s[i] == shards[i]) << "shard " << i << " " << Describe(lost);
      ASSERT_TRUE(s == shards) << Describe(lost);
    });
  }
  const std::string want_msg = "need " + std::to_string(k) + " shards, have " + std::to_string(k - 1);
  ForEachSubset(k + m, m + 1, [&](const std::vector<int>& lost) {
    auto [s, present] = Lose(shards, lost);
    std::string out;
    Status st = ec->Decode(s, present, payload.size(), &out);
    ASSERT_EQ(st.code(), Status::Code::kUnavailable) << Describe(lost);
    EXPECT_EQ(st.message(), want_msg);
    st = ec->Reconstruct(&s, present);
    ASSERT_EQ(st.code(), Status::Code::kUnavailable) << Describe(lost);
  });
  // The decode cache stays bounded however many patterns were seen.
  EXPECT_LE(ErasureCoderTestPeer::CacheSize(*ec), 256u);
  EXPECT_GT(patterns, 0);
}

TEST(ErasureCoderTest, EveryLossPattern16Plus4) { ExhaustiveLosses(16, 4, 3000); }
TEST(ErasureCoderTest, EveryLossPattern4Plus3) { ExhaustiveLosses(4, 3, 1000); }
TEST(ErasureCoderTest, EveryLossPattern4Plus3TinyPayload) { ExhaustiveLosses(4, 3, 0); }

TEST(ErasureCoderTest, TooFewShardsIsUnavailable) {
  auto ec = MakeCoder(16, 4);
  ASSERT_TRUE(ec);
  const std::string payload = RandomBytes(5000, 9);
  std::vector<std::string> shards;
  ec->Encode(payload, &shards);
  auto [s, present] = Lose(shards, {0, 3, 7, 17, 19});
  std::string out;
  Status st = ec->Decode(s, present, payload.size(), &out);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(st.message(), "need 16 shards, have 15");
  EXPECT_EQ(ec->Reconstruct(&s, present).code(), Status::Code::kUnavailable);
  std::vector<bool> none(20, false);
  st = ec->Decode(shards, none, payload.size(), &out);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(st.message(), "need 16 shards, have 0");
}

TEST(ErasureCoderTest, BadArgumentsAreInvalidArgument) {
  auto ec = MakeCoder(4, 2);
  ASSERT_TRUE(ec);
  const std::string payload = RandomBytes(1000, 5);
  std::vector<std::string> shards;
  ec->Encode(payload, &shards);
  std::vector<bool> all(6, true);
  std::string out;
  auto code = [](const Status& s) { return s.code(); };
  const auto kInvalid = Status::Code::kInvalidArgument;

  // Wrong vector sizes.
  std::vector<std::string> fewer(shards.begin(), shards.end() - 1);
  EXPECT_EQ(code(ec->Decode(fewer, std::vector<bool>(5, true), 1000, &out)), kInvalid);
  EXPECT_EQ(code(ec->Decode(shards, std::vector<bool>(5, true), 1000, &out)), kInvalid);
  EXPECT_EQ(code(ec->Decode(shards, std::vector<bool>(7, true), 1000, &out)), kInvalid);
  EXPECT_EQ(code(ec->Reconstruct(&fewer, std::vector<bool>(5, true))), kInvalid);
  std::vector<std::string> copy = shards;
  EXPECT_EQ(code(ec->Reconstruct(&copy, std::vector<bool>(7, true))), kInvalid);

  // Mismatched shard sizes among present shards.
  copy = shards;
  copy[5].push_back('x');
  EXPECT_EQ(code(ec->Decode(copy, all, 1000, &out)), kInvalid);
  EXPECT_EQ(code(ec->Reconstruct(&copy, all)), kInvalid);
  std::vector<bool> lose1 = all;
  lose1[1] = false;
  EXPECT_EQ(code(ec->Decode(copy, lose1, 1000, &out)), kInvalid);
  // ...but a mismatched absent shard is ignored.
  lose1 = all;
  lose1[5] = false;
  EXPECT_TRUE(ec->Decode(copy, lose1, 1000, &out).ok());
  EXPECT_TRUE(out == payload);

  // Empty present shards, and a payload longer than the shards can hold.
  std::vector<std::string> empty(6);
  EXPECT_EQ(code(ec->Decode(empty, all, 0, &out)), kInvalid);
  EXPECT_EQ(code(ec->Decode(shards, all, 4 * shards[0].size() + 1, &out)), kInvalid);
}

TEST(ErasureCoderTest, ZeroLengthPayload) {
  auto ec = MakeCoder(16, 4);
  ASSERT_TRUE(ec);
  std::vector<std::string> shards;
  ec->Encode("", &shards);
  ASSERT_EQ(shards.size(), 20u);
  for (const auto& s : shards) EXPECT_EQ(s, std::string(64, '\0'));
  auto [s, present] = Lose(shards, {0, 1, 2, 3});
  std::string out = "stale";
  ASSERT_TRUE(ec->Decode(s, present, 0, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(ErasureCoderTest, ConcurrentDecodes) {
  auto ec = MakeCoder(16, 4);
  ASSERT_TRUE(ec);
  const std::string payload = RandomBytes(50000, 11);
  std::vector<std::string> shards;
  ec->Encode(payload, &shards);
  const std::vector<std::vector<int>> patterns = {{0, 1, 2, 3}, {4, 9, 16, 19}, {15}, {}};
  std::vector<int> failures(patterns.size(), 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < patterns.size(); ++t) {
    threads.emplace_back([&, t] {
      auto [s, present] = Lose(shards, patterns[t]);
      for (int iter = 0; iter < 100; ++iter) {
        std::string out;
        if (!ec->Decode(s, present, payload.size(), &out).ok() || out != payload) ++failures[t];
        // Mix in another pattern to make threads contend on cache entries.
        auto [s2, p2] = Lose(shards, patterns[(t + iter) % patterns.size()]);
        if (!ec->Decode(s2, p2, payload.size(), &out).ok() || out != payload) ++failures[t];
        std::vector<std::string> enc;
        ec->Encode(payload, &enc);
        if (enc != shards) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < patterns.size(); ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(ErasureCoderTest, DecodeCacheIsHit) {
  auto ec = MakeCoder(16, 4);
  ASSERT_TRUE(ec);
  const std::string payload = RandomBytes(10000, 13);
  std::vector<std::string> shards;
  ec->Encode(payload, &shards);
  std::string out;

  // All data present: plain concatenation, no tables.
  ASSERT_TRUE(ec->Decode(shards, std::vector<bool>(20, true), payload.size(), &out).ok());
  EXPECT_EQ(ErasureCoderTestPeer::Hits(*ec) + ErasureCoderTestPeer::Misses(*ec), 0u);
  EXPECT_EQ(ErasureCoderTestPeer::CacheSize(*ec), 0u);
  // Lost parity only: still no math.
  auto [sp, pp] = Lose(shards, {16, 17, 18, 19});
  ASSERT_TRUE(ec->Decode(sp, pp, payload.size(), &out).ok());
  EXPECT_EQ(ErasureCoderTestPeer::Misses(*ec), 0u);

  auto [s, present] = Lose(shards, {2, 5});
  ASSERT_TRUE(ec->Decode(s, present, payload.size(), &out).ok());
  EXPECT_EQ(ErasureCoderTestPeer::Misses(*ec), 1u);
  EXPECT_EQ(ErasureCoderTestPeer::Hits(*ec), 0u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ec->Decode(s, present, payload.size(), &out).ok());
    EXPECT_TRUE(out == payload);
  }
  EXPECT_EQ(ErasureCoderTestPeer::Misses(*ec), 1u);
  EXPECT_EQ(ErasureCoderTestPeer::Hits(*ec), 3u);
  EXPECT_EQ(ErasureCoderTestPeer::CacheSize(*ec), 1u);

  // A different pattern is a different entry.
  auto [s2, p2] = Lose(shards, {2, 6});
  ASSERT_TRUE(ec->Decode(s2, p2, payload.size(), &out).ok());
  EXPECT_TRUE(out == payload);
  EXPECT_EQ(ErasureCoderTestPeer::Misses(*ec), 2u);
  EXPECT_EQ(ErasureCoderTestPeer::CacheSize(*ec), 2u);

  // Many patterns: the cache stays at its bound and decoding stays correct.
  int n = 0;
  ForEachSubset(20, 3, [&](const std::vector<int>& lost) {
    if (n++ >= 400) return;
    auto [sl, pl] = Lose(shards, lost);
    ASSERT_TRUE(ec->Decode(sl, pl, payload.size(), &out).ok());
    ASSERT_TRUE(out == payload) << Describe(lost);
  });
  EXPECT_LE(ErasureCoderTestPeer::CacheSize(*ec), 256u);
  EXPECT_GE(ErasureCoderTestPeer::CacheSize(*ec), 200u);
}

}  // namespace
}  // namespace zstor
