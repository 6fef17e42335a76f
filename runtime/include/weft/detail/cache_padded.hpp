#pragma once
#include <cstddef>
#include <new>

namespace weft::detail {
inline constexpr std::size_t cache_line = 64;

/// Puts T on a cache line of its own, so hot indexes written by different threads do not
/// share a line.
template <class T>
struct alignas(cache_line) cache_padded {
  T value;
  T& operator*() noexcept { return value; }
  const T& operator*() const noexcept { return value; }
  T* operator->() noexcept { return &value; }
  const T* operator->() const noexcept { return &value; }
};
static_assert(sizeof(cache_padded<char>) == cache_line);
static_assert(alignof(cache_padded<char>) == cache_line);
}  // namespace weft::detail
