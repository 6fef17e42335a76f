#pragma once
// What weft's fuzz targets share: the entry point's declaration, the reader that turns the
// input bytes into operations, and how a violated property stops the run.
//
// A target is built twice: against libFuzzer (fuzz/CMakeLists.txt, the `fuzz` preset), and as
// a plain program with replay_main.cpp for the test suite (test/CMakeLists.txt). Either way a
// violation prints what failed, at which operation, and aborts; libFuzzer then saves the input.
// WEFT_FUZZ_TRACE=1 in the environment prints every operation as it runs (to read a crash).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace weft_fuzz {

/// Set by the replay driver: tells which input was running when a check failed.
inline void (*on_failure)() = nullptr;
/// The index of the operation being run (-1: the final drain), printed on a failure.
inline int current_op = 0;
inline const bool tracing = std::getenv("WEFT_FUZZ_TRACE") != nullptr;

[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "weft fuzz: property violated at operation %d: %s (%s:%d)\n", current_op, what, file, line);
  if (on_failure) on_failure();
  std::abort();
}

/// Reads operations from the input: one byte at a time, zero once it is exhausted.
class OpReader {
 public:
  OpReader(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}
  [[nodiscard]] bool more() const noexcept { return pos_ < size_; }
  std::uint8_t byte() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
  /// A number in [0, n).
  int below(int n) noexcept { return byte() % n; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// An order-independent digest of a multiset of ints (a sum of splitmix64 images), with a
/// count: equal tallies mean, but for a 2^-64 chance, equal multisets.
struct Tally {
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  void add(int v) noexcept {
    ++count;
    std::uint64_t z = static_cast<std::uint64_t>(static_cast<std::uint32_t>(v)) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    sum += z ^ (z >> 31);
  }
  friend Tally operator+(Tally a, Tally b) noexcept { return {a.count + b.count, a.sum + b.sum}; }
  friend bool operator==(Tally, Tally) = default;
};

}  // namespace weft_fuzz

/// Checks a property of the code under test; on failure prints it and aborts.
#define WEFT_FUZZ_CHECK(cond, what) ((cond) ? void() : ::weft_fuzz::fail(what " [" #cond "]", __FILE__, __LINE__))
/// Prints an operation when WEFT_FUZZ_TRACE is set.
#define WEFT_FUZZ_TRACE(...)                                  \
  do {                                                        \
    if (::weft_fuzz::tracing) {                               \
      std::fprintf(stderr, "  op %d: ", ::weft_fuzz::current_op); \
      std::fprintf(stderr, __VA_ARGS__);                      \
      std::fputc('\n', stderr);                               \
    }                                                         \
  } while (false)
