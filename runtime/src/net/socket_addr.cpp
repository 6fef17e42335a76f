// weft::net::SocketAddr: parsing and formatting.
#include "weft/net/socket_addr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace weft::net {

SocketAddr::SocketAddr() noexcept : u_{} { u_.v4.sin_family = AF_INET; }

SocketAddr SocketAddr::v4(std::array<std::uint8_t, 4> ip, std::uint16_t port) noexcept {
  SocketAddr a;
  std::memcpy(&a.u_.v4.sin_addr, ip.data(), ip.size());
  a.u_.v4.sin_port = htons(port);
  return a;
}

SocketAddr SocketAddr::v6(std::array<std::uint8_t, 16> ip, std::uint16_t port) noexcept {
  SocketAddr a;
  a.u_.v6 = sockaddr_in6{};
  a.u_.v6.sin6_family = AF_INET6;
  std::memcpy(&a.u_.v6.sin6_addr, ip.data(), ip.size());
  a.u_.v6.sin6_port = htons(port);
  return a;
}

std::optional<SocketAddr> SocketAddr::try_parse(std::string_view text) noexcept {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const char* const pend = port_text.data() + port_text.size();
  auto [p, ec] = std::from_chars(port_text.data(), pend, port);
  if (port_text.empty() || ec != std::errc{} || p != pend || port > 65535) return std::nullopt;

  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  // inet_pton needs a terminated string; the longest textual IPv6 address is 45 characters.
  char buf[INET6_ADDRSTRLEN + 1];
  if (host.empty() || host.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';

  SocketAddr a;
  if (bracketed) {
    a.u_.v6 = sockaddr_in6{};
    a.u_.v6.sin6_family = AF_INET6;
    if (::inet_pton(AF_INET6, buf, &a.u_.v6.sin6_addr) != 1) return std::nullopt;
  } else if (::inet_pton(AF_INET, buf, &a.u_.v4.sin_addr) != 1) {
    return std::nullopt;  // an unbracketed IPv6 address ("::1:80") is ambiguous: refused
  }
  a.set_port(static_cast<std::uint16_t>(port));
  return a;
}

SocketAddr SocketAddr::parse(std::string_view text) {
  if (auto a = try_parse(text)) return *a;
  throw std::invalid_argument("weft::net::SocketAddr::parse: not \"ipv4:port\" or \"[ipv6]:port\": \"" +
                              std::string(text) + "\"");
}

SocketAddr SocketAddr::from_sockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddr a;
  if (sa->sa_family == AF_INET && len >= socklen_t{sizeof(sockaddr_in)}) {
    std::memcpy(&a.u_.v4, sa, sizeof(sockaddr_in));
  } else if (sa->sa_family == AF_INET6 && len >= socklen_t{sizeof(sockaddr_in6)}) {
    std::memcpy(&a.u_.v6, sa, sizeof(sockaddr_in6));
  } else {
    throw std::invalid_argument("weft::net::SocketAddr: not an IPv4 or IPv6 socket address (family " +
                                std::to_string(sa->sa_family) + ")");
  }
  return a;
}

std::uint16_t SocketAddr::port() const noexcept { return ntohs(is_ipv4() ? u_.v4.sin_port : u_.v6.sin6_port); }

void SocketAddr::set_port(std::uint16_t port) noexcept {
  if (is_ipv4()) u_.v4.sin_port = htons(port);
  else u_.v6.sin6_port = htons(port);
}

std::string SocketAddr::ip_string() const {
  char buf[INET6_ADDRSTRLEN];
  const void* src = is_ipv4() ? static_cast<const void*>(&u_.v4.sin_addr) : static_cast<const void*>(&u_.v6.sin6_addr);
  if (::inet_ntop(family(), src, buf, sizeof buf) == nullptr) return "?";  // cannot happen: buf fits both
  return buf;
}

std::string SocketAddr::to_string() const {
  const std::string port_text = std::to_string(port());
  return is_ipv4() ? ip_string() + ":" + port_text : "[" + ip_string() + "]:" + port_text;
}

const sockaddr* SocketAddr::as_sockaddr() const noexcept {
  // SAFETY: sockaddr_in and sockaddr_in6 begin with the family as sockaddr does; the socket
  // API reads them through a sockaddr pointer by design.
  return reinterpret_cast<const sockaddr*>(&u_);
}

bool operator==(const SocketAddr& a, const SocketAddr& b) noexcept {
  if (a.family() != b.family() || a.port() != b.port()) return false;
  if (a.is_ipv4()) return a.u_.v4.sin_addr.s_addr == b.u_.v4.sin_addr.s_addr;
  return std::memcmp(&a.u_.v6.sin6_addr, &b.u_.v6.sin6_addr, sizeof(in6_addr)) == 0 &&
         a.u_.v6.sin6_scope_id == b.u_.v6.sin6_scope_id;
}

}  // namespace weft::net
