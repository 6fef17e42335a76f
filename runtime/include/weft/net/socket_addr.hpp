#pragma once
// weft::net::SocketAddr: an IPv4 or IPv6 address with a port (Rust's std::net::SocketAddr).
//
//   auto a = SocketAddr::parse("127.0.0.1:8080");
//   auto b = SocketAddr::parse("[::1]:8080");     // IPv6 in brackets
//   a.port();        // 8080
//   b.to_string();   // "[::1]:8080"
//
// Numeric addresses only (no name resolution, no IPv6 zone ids).
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::net {

class SocketAddr {
 public:
  /// 0.0.0.0:0.
  SocketAddr() noexcept;
  /// Parses "a.b.c.d:port" or "[v6]:port"; throws std::invalid_argument with the text.
  static SocketAddr parse(std::string_view text);
  /// As parse; nullopt if `text` is not an address.
  static std::optional<SocketAddr> try_parse(std::string_view text) noexcept;
  static SocketAddr v4(std::array<std::uint8_t, 4> ip, std::uint16_t port) noexcept;
  static SocketAddr v6(std::array<std::uint8_t, 16> ip, std::uint16_t port) noexcept;
  /// From a kernel sockaddr (AF_INET or AF_INET6); throws std::invalid_argument otherwise.
  static SocketAddr from_sockaddr(const sockaddr* sa, socklen_t len);

  [[nodiscard]] bool is_ipv4() const noexcept { return u_.v4.sin_family == AF_INET; }
  [[nodiscard]] bool is_ipv6() const noexcept { return !is_ipv4(); }
  [[nodiscard]] int family() const noexcept { return is_ipv4() ? AF_INET : AF_INET6; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;
  /// The address without the port: "127.0.0.1", "::1".
  [[nodiscard]] std::string ip_string() const;
  /// "127.0.0.1:8080", "[::1]:8080".
  [[nodiscard]] std::string to_string() const;

  /// For the socket calls.
  [[nodiscard]] const sockaddr* as_sockaddr() const noexcept;
  [[nodiscard]] socklen_t len() const noexcept {
    return is_ipv4() ? socklen_t{sizeof(sockaddr_in)} : socklen_t{sizeof(sockaddr_in6)};
  }

  /// Same family, address, port (and, for IPv6, scope id).
  friend bool operator==(const SocketAddr& a, const SocketAddr& b) noexcept;

 private:
  // Either member is active; both begin with the family (a common initial sequence), which
  // is_ipv4 reads.
  union Storage {
    sockaddr_in v4;
    sockaddr_in6 v6;
  } u_;
};

}  // namespace weft::net
