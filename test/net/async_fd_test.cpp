// weft::io::AsyncFd on pipes: readiness guards, try_io and would-block, ownership.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <system_error>

#include "../support.hpp"
#include "net_support.hpp"
#include "weft/io/async_fd.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {
using namespace weft_test::runtime_names;
using namespace std::chrono_literals;
using weft::io::AsyncFd;

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::system_error(errno, std::system_category(), "pipe2");
    r = fds[0];
    w = fds[1];
  }
};

class AsyncFdBothFlavors : public ::testing::TestWithParam<Flavor> {
 protected:
  RuntimeOptions opts() const { return GetParam() == Flavor::current_thread ? weft_test::ct() : weft_test::mt(); }
};

TEST_P(AsyncFdBothFlavors, try_io_reads_then_reports_would_block_and_the_next_wait_needs_an_edge) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    Pipe p;
    AsyncFd rd(p.r);
    AsyncFd wr(p.w);
    EXPECT_EQ(::write(wr.fd(), "abcde", 5), 5);
    auto guard = co_await rd.readable();
    EXPECT_EQ(guard.direction(), weft::io::Direction::read);
    std::array<char, 16> buf{};
    auto n = guard.try_io([&](int fd) { return ::read(fd, buf.data(), buf.size()); });
    EXPECT_EQ(n, std::optional<ssize_t>(5));
    auto again = guard.try_io([&](int fd) { return ::read(fd, buf.data(), buf.size()); });
    EXPECT_FALSE(again.has_value()) << "EAGAIN is would-block";
    // The readiness was cleared: readable() now waits for the next write.
    auto waited = co_await weft::time::timeout(20ms, rd.readable());
    EXPECT_FALSE(waited.has_value()) << "readable() right after EAGAIN must wait";
    auto writer = weft::spawn([](int w) -> Task<void> {
      co_await weft::time::sleep(5ms);
      EXPECT_EQ(::write(w, "x", 1), 1);
    }(wr.fd()));
    auto g2 = co_await rd.readable();
    auto m = g2.try_io([&](int fd) { return ::read(fd, buf.data(), buf.size()); });
    EXPECT_EQ(m, std::optional<ssize_t>(1));
    co_await writer;
  }());
}

TEST_P(AsyncFdBothFlavors, a_retained_readiness_stays_and_a_cleared_one_goes) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    Pipe p;
    AsyncFd rd(p.r);
    AsyncFd wr(p.w);
    EXPECT_EQ(::write(wr.fd(), "a", 1), 1);
    {
      auto g = co_await rd.readable();
      g.retain_ready();
    }
    auto g = co_await weft::time::timeout(1s, rd.readable());
    EXPECT_TRUE(g.has_value()) << "retained: ready at once";
    if (g) g->clear_ready();  // the byte is still unread, but the edge is consumed
    EXPECT_FALSE((co_await weft::time::timeout(20ms, rd.readable())).has_value());
  }());
}

TEST_P(AsyncFdBothFlavors, other_errors_are_returned_with_errno) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    Pipe p;
    AsyncFd rd(p.r);
    AsyncFd wr(p.w);
    auto g = co_await wr.writable();
    // Writing to the read end of a pipe: EBADF, not would-block.
    auto r = g.try_io([&](int) { return ::write(rd.fd(), "x", 1); });
    EXPECT_EQ(r, std::optional<ssize_t>(-1));
    EXPECT_EQ(errno, EBADF);
  }());
}

TEST_P(AsyncFdBothFlavors, the_peer_closing_makes_the_read_side_ready_and_closed) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    Pipe p;
    AsyncFd rd(p.r);
    {
      AsyncFd wr(p.w);
    }  // closed
    auto g = co_await rd.readable();
    EXPECT_TRUE(g.is_closed());
    std::array<char, 4> buf{};
    EXPECT_EQ(g.try_io([&](int fd) { return ::read(fd, buf.data(), buf.size()); }), std::optional<ssize_t>(0));
  }());
}

TEST_P(AsyncFdBothFlavors, the_destructor_closes_and_release_does_not) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    Pipe p;
    {
      AsyncFd rd(p.r);
      EXPECT_EQ(rd.fd(), p.r);
    }
    EXPECT_FALSE(weft_net_test::fd_is_open(p.r));
    AsyncFd wr(p.w);
    const int fd = wr.release();
    EXPECT_EQ(fd, p.w);
    EXPECT_FALSE(wr.is_open());
    EXPECT_TRUE(weft_net_test::fd_is_open(fd));
    AsyncFd again(fd);  // can be registered anew
    AsyncFd moved(std::move(again));
    EXPECT_EQ(moved.fd(), fd);
    EXPECT_EQ(again.fd(), -1);
    co_return;
  }());
}

TEST_P(AsyncFdBothFlavors, a_blocking_or_bad_descriptor_is_refused_and_closed) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    EXPECT_THROW(AsyncFd{fds[0]}, std::invalid_argument);
    EXPECT_FALSE(weft_net_test::fd_is_open(fds[0]));
    ::close(fds[1]);
    try {
      AsyncFd bad(fds[1]);
      ADD_FAILURE() << "registered a closed descriptor";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EBADF);
    }
    co_return;
  }());
}

TEST_P(AsyncFdBothFlavors, an_empty_async_fd_throws_logic_error_on_poll) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    AsyncFd none;
    EXPECT_THROW((void)co_await none.readable(), std::logic_error);
  }());
}

// A TCP socket that is not yet listening (or connecting) polls as hung up; the driver records
// that. The would-block of a later accept shows the hang-up is stale and clears it: the next
// readable() waits for a connection instead of reporting the old hang-up again and again
// (an accept loop spun on it).
TEST_P(AsyncFdBothFlavors, would_block_clears_a_stale_hang_up) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    const int raw = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    EXPECT_GE(raw, 0);
    AsyncFd l(raw, AsyncFd::nonblocking_t{});
    auto hup = co_await weft::time::timeout(1s, l.readable());
    EXPECT_TRUE(hup.has_value() && hup->is_closed()) << "an unconnected TCP socket polls as hung up";
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    // SAFETY: sockaddr_in is passed to the socket calls as a sockaddr.
    auto* sa = reinterpret_cast<sockaddr*>(&a);
    EXPECT_EQ(::bind(l.fd(), sa, len), 0);
    EXPECT_EQ(::listen(l.fd(), 16), 0);
    EXPECT_EQ(::getsockname(l.fd(), sa, &len), 0);
    auto accept = [](int fd) { return ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); };
    if (hup) {
      EXPECT_FALSE(hup->try_io(accept).has_value()) << "no connection waits: would block";
    }
    EXPECT_FALSE((co_await weft::time::timeout(20ms, l.readable())).has_value())
        << "after would-block, readable() waits for a connection";
    auto client = co_await weft::net::TcpStream::connect(weft::net::SocketAddr::from_sockaddr(sa, len));
    auto g = co_await weft::time::timeout(5s, l.readable());
    EXPECT_TRUE(g.has_value());
    if (g) {
      auto c = g->try_io(accept);
      EXPECT_TRUE(c.has_value() && *c >= 0);
      if (c && *c >= 0) ::close(*c);
    }
  }());
}

INSTANTIATE_TEST_SUITE_P(Flavors, AsyncFdBothFlavors, ::testing::Values(Flavor::current_thread, Flavor::multi_thread),
                         [](const auto& info) {
                           return info.param == Flavor::current_thread ? std::string("current_thread")
                                                                       : std::string("multi_thread");
                         });

TEST(AsyncFdOutsideRuntime, throws_logic_error_and_closes_the_descriptor) {
  Pipe p;
  EXPECT_THROW(AsyncFd{p.r}, std::logic_error);
  EXPECT_FALSE(weft_net_test::fd_is_open(p.r));
  ::close(p.w);
}

}  // namespace
