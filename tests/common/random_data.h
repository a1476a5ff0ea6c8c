// Incompressible test bytes: n bytes from mt19937 seeded with seed, the same
// for the same (n, seed) in every test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace qs_test {

inline std::string RandomData(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace qs_test
