#pragma once
// Helpers of the weft::net tests: byte patterns, descriptor limits, IPv6 availability.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "weft/net.hpp"

/// ASSERT_TRUE for a coroutine returning Task<void> (gtest's ASSERT_* `return`, which a
/// coroutine cannot).
#define WEFT_CO_ASSERT(cond)                        \
  do {                                              \
    if (!(cond)) {                                  \
      ADD_FAILURE() << "assertion failed: " #cond; \
      co_return;                                    \
    }                                               \
  } while (false)

namespace weft_net_test {

/// n bytes of a pattern that differs per seed (a misrouted or reordered byte shows).
inline std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed * 7 + (i >> 8)) & 0xff);
  return v;
}

inline std::string to_string(const std::vector<std::byte>& v, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(v.data()), n);
}

inline std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

/// Sets RLIMIT_NOFILE's soft limit for its lifetime, restoring the old one after.
class NofileLimit {
 public:
  NofileLimit() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
  ~NofileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  NofileLimit(const NofileLimit&) = delete;
  NofileLimit& operator=(const NofileLimit&) = delete;
  [[nodiscard]] rlim_t hard() const { return saved_.rlim_max; }
  [[nodiscard]] rlim_t soft() const { return saved_.rlim_cur; }
  bool set_soft(rlim_t n) {
    rlimit r = saved_;
    r.rlim_cur = n;
    return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
  }
  /// Raises the soft limit to at least n if the hard limit allows; false if it does not.
  bool ensure(rlim_t n) {
    if (saved_.rlim_cur != RLIM_INFINITY && saved_.rlim_cur >= n) return true;
    if (saved_.rlim_cur == RLIM_INFINITY) return true;
    if (saved_.rlim_max != RLIM_INFINITY && saved_.rlim_max < n) return false;
    return set_soft(n);
  }

 private:
  rlimit saved_{};
};

/// True if a socket can bind [::1] (the machine has IPv6 loopback).
inline bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// True if `fd` is an open descriptor.
inline bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

}  // namespace weft_net_test
