// weft::net::SocketAddr: parsing, formatting, comparison.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <stdexcept>
#include <string>

#include "weft/net/socket_addr.hpp"

namespace {
using weft::net::SocketAddr;

TEST(SocketAddr, parses_and_formats_ipv4) {
  const SocketAddr a = SocketAddr::parse("127.0.0.1:8080");
  EXPECT_TRUE(a.is_ipv4());
  EXPECT_FALSE(a.is_ipv6());
  EXPECT_EQ(a.port(), 8080);
  EXPECT_EQ(a.ip_string(), "127.0.0.1");
  EXPECT_EQ(a.to_string(), "127.0.0.1:8080");
  EXPECT_EQ(a, SocketAddr::v4({127, 0, 0, 1}, 8080));
  EXPECT_EQ(SocketAddr::parse("0.0.0.0:0").to_string(), "0.0.0.0:0");
  EXPECT_EQ(SocketAddr::parse("255.255.255.255:65535").port(), 65535);
  EXPECT_EQ(SocketAddr(), SocketAddr::parse("0.0.0.0:0"));
}

TEST(SocketAddr, parses_and_formats_ipv6) {
  const SocketAddr a = SocketAddr::parse("[::1]:8080");
  EXPECT_TRUE(a.is_ipv6());
  EXPECT_EQ(a.port(), 8080);
  EXPECT_EQ(a.ip_string(), "::1");
  EXPECT_EQ(a.to_string(), "[::1]:8080");
  EXPECT_EQ(a.len(), sizeof(sockaddr_in6));
  EXPECT_EQ(SocketAddr::parse("[2001:DB8:0:0:0:0:0:1]:1").to_string(), "[2001:db8::1]:1");
  EXPECT_EQ(SocketAddr::parse("[::ffff:10.0.0.1]:7").to_string(), "[::ffff:10.0.0.1]:7");
  std::array<std::uint8_t, 16> one{};
  one[15] = 1;
  EXPECT_EQ(a, SocketAddr::v6(one, 8080));
}

TEST(SocketAddr, refuses_what_is_not_an_address) {
  for (const char* bad : {"", ":", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+1",
                          "127.0.0.1:80x", "127.0.0.256:80", "localhost:80", "::1:80", "[::1]", "[::1:80",
                          "::1]:80", "[127.0.0.1]:80", "[]:80", " 127.0.0.1:80", "[::1%lo]:80"}) {
    EXPECT_FALSE(SocketAddr::try_parse(bad).has_value()) << bad;
    EXPECT_THROW((void)SocketAddr::parse(bad), std::invalid_argument) << bad;
  }
  try {
    (void)SocketAddr::parse("nope");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"nope\""), std::string::npos) << e.what();
  }
}

TEST(SocketAddr, compares_family_address_and_port) {
  EXPECT_NE(SocketAddr::parse("127.0.0.1:1"), SocketAddr::parse("127.0.0.1:2"));
  EXPECT_NE(SocketAddr::parse("127.0.0.1:1"), SocketAddr::parse("127.0.0.2:1"));
  EXPECT_NE(SocketAddr::parse("0.0.0.0:1"), SocketAddr::parse("[::]:1"));
  SocketAddr a = SocketAddr::parse("[::1]:1");
  a.set_port(9);
  EXPECT_EQ(a, SocketAddr::parse("[::1]:9"));
}

TEST(SocketAddr, round_trips_through_a_kernel_sockaddr) {
  for (const char* text : {"10.1.2.3:4", "[fe80::1]:443"}) {
    const SocketAddr a = SocketAddr::parse(text);
    EXPECT_EQ(SocketAddr::from_sockaddr(a.as_sockaddr(), a.len()), a);
  }
  sockaddr_storage unix_like{};
  unix_like.ss_family = AF_UNIX;
  EXPECT_THROW((void)SocketAddr::from_sockaddr(reinterpret_cast<const sockaddr*>(&unix_like), sizeof unix_like),
               std::invalid_argument);
}

}  // namespace
