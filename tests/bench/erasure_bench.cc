// Throughput of zstor::ErasureCoder for a 16+4 code: encode, and decode with
// 4 data shards lost, over 64 MiB of payload in 1 MiB chunks. Prints figures
// only (GB/s = payload bytes / 1e9 / seconds, best of a few passes).
//
//   g++ -std=c++20 -O2 -I. common/status.cc zstor/erasure_coder.cc
//       tests/bench/erasure_bench.cc -lisal -pthread -o /tmp/erasure_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "zstor/erasure_coder.h"

namespace {

constexpr int kK = 16, kM = 4;
constexpr size_t kChunk = size_t{1} << 20;
constexpr int kChunks = 64;
constexpr int kPasses = 3;

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main() {
  auto created = zstor::ErasureCoder::Create(kK, kM);
  if (!created.ok()) {
    std::fprintf(stderr, "create: %s\n", created.status().ToString().c_str());
    return 1;
  }
  const zstor::ErasureCoder& ec = **created;

  std::mt19937_64 rng(1);
  std::vector<std::string> chunks(kChunks, std::string(kChunk, '\0'));
  for (auto& c : chunks) {
    for (size_t i = 0; i < c.size(); i += 8) {
      uint64_t v = rng();
      c.replace(i, 8, reinterpret_cast<const char*>(&v), 8);
    }
  }
  const double total = static_cast<double>(kChunk) * kChunks;

  std::vector<std::vector<std::string>> encoded(kChunks);
  double best_enc = 1e30;
  for (int pass = 0; pass < kPasses; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kChunks; ++i) ec.Encode(chunks[i], &encoded[i]);
    best_enc = std::min(best_enc, Seconds(std::chrono::steady_clock::now() - t0));
  }

  std::vector<bool> present(kK + kM, true);
  for (int i = 0; i < kM; ++i) present[i] = false;  // lose 4 data shards
  std::string out;
  double best_dec = 1e30;
  for (int pass = 0; pass < kPasses; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kChunks; ++i) {
      qs::Status st = ec.Decode(encoded[i], present, kChunk, &out);
      if (!st.ok() || out != chunks[i]) {
        std::fprintf(stderr, "decode failed: %s\n", st.ToString().c_str());
        return 1;
      }
    }
    // The verification compare is inside the timed loop; it is cheap next to
    // the GF math but makes the decode figure slightly conservative.
    best_dec = std::min(best_dec, Seconds(std::chrono::steady_clock::now() - t0));
  }

  std::printf("erasure 16+4, 64 MiB in 1 MiB chunks\n");
  std::printf("encode: %.2f GB/s\n", total / 1e9 / best_enc);
  std::printf("decode (4 data shards lost): %.2f GB/s\n", total / 1e9 / best_dec);
  return 0;
}
