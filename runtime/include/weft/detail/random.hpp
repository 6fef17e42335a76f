#pragma once
// One source of random choices for the runtime and the containers: on a worker of a runtime
// it draws from that worker's generator (seeded by RuntimeOptions::rng_seed, so a seeded run
// is reproducible); elsewhere from a per-thread xorshift generator.
#include <cstdint>

namespace weft::detail {

/// Marsaglia's xorshift64 (13, 7, 17): the generator of the workers and of random_below
/// (and of the benchmarks, whose tokio twins use the same sequence).
struct XorShift64 {
  std::uint64_t state;  // never 0
  std::uint64_t next() noexcept {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  std::uint32_t below(std::uint32_t n) noexcept { return n == 0 ? 0 : static_cast<std::uint32_t>(next() % n); }
};

/// A number in [0, n) (0 when n is 0). Not for cryptography.
std::uint32_t random_below(std::uint32_t n) noexcept;

}  // namespace weft::detail
