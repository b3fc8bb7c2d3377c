#pragma once
// A per-thread xoshiro256** generator: fast and of good statistical quality, for load balancing,
// sampling and request ids (uniqueness, not secrecy).

#include <cstdint>

namespace mg {

uint64_t fast_random();

// Uniform in [0, bound) for bound > 0 (Lemire's multiply-shift; the bias is negligible for our bounds).
inline uint64_t fast_random_below(uint64_t bound) {
  __extension__ using uint128 = unsigned __int128;  // GCC/Clang builtin; -Wpedantic knows no 128-bit type
  return static_cast<uint64_t>((static_cast<uint128>(fast_random()) * bound) >> 64);
}

}  // namespace mg
