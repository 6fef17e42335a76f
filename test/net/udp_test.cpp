// weft::net::UdpSocket: datagram round trips over IPv4 and IPv6 loopback, connected sockets.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "../support.hpp"
#include "net_support.hpp"
#include "weft/net.hpp"
#include "weft/weft.hpp"

namespace {
using namespace weft_test::runtime_names;
using weft::net::SocketAddr;
using weft::net::UdpSocket;
using weft_net_test::pattern;

class UdpBothFlavors : public ::testing::TestWithParam<Flavor> {
 protected:
  RuntimeOptions opts() const { return GetParam() == Flavor::current_thread ? weft_test::ct() : weft_test::mt(); }
};

// `rounds` datagrams a -> b and back, on the addresses given; each is checked byte for byte.
Task<int> ping_pong(SocketAddr bind_addr, int rounds) {
  UdpSocket a = UdpSocket::bind(bind_addr);
  UdpSocket b = UdpSocket::bind(bind_addr);
  int ok = 0;
  std::vector<std::byte> buf(2048);
  for (int i = 0; i < rounds; ++i) {
    const std::vector<std::byte> msg = pattern(static_cast<std::size_t>(1 + i * 13 % 1400), static_cast<unsigned>(i));
    EXPECT_EQ(co_await a.send_to(msg, b.local_addr()), msg.size());
    auto got = co_await b.recv_from(buf);
    EXPECT_EQ(got.second, a.local_addr());
    EXPECT_EQ(co_await b.send_to(std::span(buf).first(got.first), got.second), got.first);
    auto back = co_await a.recv_from(buf);
    EXPECT_EQ(back.second, b.local_addr());
    if (got.first == msg.size() && back.first == msg.size() &&
        std::equal(msg.begin(), msg.end(), buf.begin()))
      ++ok;
  }
  co_return ok;
}

TEST_P(UdpBothFlavors, ipv4_round_trips) {
  Runtime rt(opts());
  EXPECT_EQ(rt.block_on(ping_pong(SocketAddr::parse("127.0.0.1:0"), 200)), 200);
}

TEST_P(UdpBothFlavors, ipv6_round_trips) {
  ASSERT_TRUE(weft_net_test::ipv6_loopback_available()) << "no IPv6 loopback: IPv6 support cannot be checked";
  Runtime rt(opts());
  EXPECT_EQ(rt.block_on(ping_pong(SocketAddr::parse("[::1]:0"), 200)), 200);
}

TEST_P(UdpBothFlavors, connected_send_and_recv) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    UdpSocket a = UdpSocket::bind(SocketAddr::parse("127.0.0.1:0"));
    UdpSocket b = UdpSocket::bind(SocketAddr::parse("127.0.0.1:0"));
    UdpSocket stranger = UdpSocket::bind(SocketAddr::parse("127.0.0.1:0"));
    a.connect(b.local_addr());
    b.connect(a.local_addr());
    EXPECT_EQ(a.peer_addr(), b.local_addr());
    // b is connected to a: the stranger's datagram is filtered out by the kernel.
    (void)co_await stranger.send_to(weft_net_test::bytes_of("noise"), b.local_addr());
    EXPECT_EQ(co_await a.send(weft_net_test::bytes_of("hello")), 5u);
    std::array<std::byte, 64> buf;
    const std::size_t n = co_await b.recv(buf);
    EXPECT_EQ(weft_net_test::to_string(std::vector<std::byte>(buf.begin(), buf.end()), n), "hello");
    EXPECT_EQ(co_await b.send({}), 0u) << "an empty datagram is a datagram";
    EXPECT_EQ(co_await a.recv(buf), 0u);
  }());
}

// A receiver waits in one task while the sender runs in another, and answers each datagram:
// each wait is ended by the readiness edge of one datagram (none can be dropped: one is in
// flight at a time).
constexpr int udp_pings = 300;

TEST_P(UdpBothFlavors, a_waiting_receiver_is_woken_by_each_datagram) {
  Runtime rt(opts());
  const int answered = rt.block_on([]() -> Task<int> {
    UdpSocket rx = UdpSocket::bind(SocketAddr::parse("127.0.0.1:0"));
    const SocketAddr to = rx.local_addr();
    auto receiver = weft::spawn([](UdpSocket* rx) -> Task<int> {
      std::array<std::byte, 16> buf;
      int count = 0;
      for (int i = 0; i < udp_pings; ++i) {
        auto got = co_await rx->recv_from(buf);
        if (got.first == 4) ++count;
        (void)co_await rx->send_to(std::span(buf).first(got.first), got.second);
      }
      co_return count;
    }(&rx));
    UdpSocket tx = UdpSocket::bind(SocketAddr::parse("127.0.0.1:0"));
    int answers = 0;
    std::array<std::byte, 16> buf;
    for (int i = 0; i < udp_pings; ++i) {
      (void)co_await tx.send_to(weft_net_test::bytes_of("ping"), to);
      auto back = co_await tx.recv_from(buf);
      if (back.first == 4 && back.second == to) ++answers;
    }
    EXPECT_EQ(co_await receiver, udp_pings);
    co_return answers;
  }());
  EXPECT_EQ(answered, udp_pings);
}

TEST_P(UdpBothFlavors, send_without_a_peer_is_an_error) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    UdpSocket a = UdpSocket::bind(SocketAddr::parse("127.0.0.1:0"));
    try {
      (void)co_await a.send(weft_net_test::bytes_of("x"));
      ADD_FAILURE() << "sent without a peer";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::destination_address_required) << e.what();
    }
    EXPECT_THROW((void)a.peer_addr(), std::system_error);
  }());
}

INSTANTIATE_TEST_SUITE_P(Flavors, UdpBothFlavors, ::testing::Values(Flavor::current_thread, Flavor::multi_thread),
                         [](const auto& info) {
                           return info.param == Flavor::current_thread ? std::string("current_thread")
                                                                       : std::string("multi_thread");
                         });

}  // namespace
