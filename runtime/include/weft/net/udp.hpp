#pragma once
// weft::net::UdpSocket: a UDP socket (tokio's UdpSocket).
//
//   auto sock = UdpSocket::bind(SocketAddr::parse("127.0.0.1:0"));
//   co_await sock.send_to(bytes, peer);
//   auto [n, from] = co_await sock.recv_from(buf);   // a datagram longer than buf is truncated
//
//   sock.connect(peer);                              // then send / recv, with that peer only
//
// Every operation is a cancel-safe leaf future referring to the socket and the buffer, which
// must outlive it. One task per direction at a time (the driver keeps one waker per
// direction); a sender and a receiver may run in two tasks at once. Errors are
// std::system_error with the errno (a recv after an ICMP port unreachable on a connected
// socket: ECONNREFUSED).
#include <cstddef>
#include <span>
#include <utility>

#include "weft/io/async_fd.hpp"
#include "weft/net/socket_addr.hpp"
#include "weft/net/socket_io.hpp"
#include "weft/poll.hpp"

namespace weft::net {

/// The future of UdpSocket::send_to: the bytes sent (the whole datagram).
class [[nodiscard]] SendToFuture {
 public:
  SendToFuture(io::AsyncFd& fd, std::span<const std::byte> buf, const SocketAddr& to) noexcept
      : fd_(&fd), buf_(buf), to_(to) {}
  Poll<std::size_t> poll(Context& cx);

 private:
  io::AsyncFd* fd_;
  std::span<const std::byte> buf_;
  SocketAddr to_;
};

/// The future of UdpSocket::recv_from: the datagram's length (at most the buffer's) and
/// sender.
class [[nodiscard]] RecvFromFuture {
 public:
  RecvFromFuture(io::AsyncFd& fd, std::span<std::byte> buf) noexcept : fd_(&fd), buf_(buf) {}
  Poll<std::pair<std::size_t, SocketAddr>> poll(Context& cx);

 private:
  io::AsyncFd* fd_;
  std::span<std::byte> buf_;
};

class UdpSocket {
 public:
  /// Not bound (as a moved-from socket): operations throw std::logic_error.
  UdpSocket() noexcept = default;
  /// A socket bound to `addr` (port 0: any free port), registered with the current runtime.
  /// Throws std::system_error (EADDRINUSE, ...), std::logic_error outside a runtime.
  static UdpSocket bind(const SocketAddr& addr);

  /// Sets the default peer (send / recv) and filters received datagrams to it. Immediate.
  void connect(const SocketAddr& peer);

  SendToFuture send_to(std::span<const std::byte> buf, const SocketAddr& to) noexcept { return SendToFuture(fd_, buf, to); }
  RecvFromFuture recv_from(std::span<std::byte> buf) noexcept { return RecvFromFuture(fd_, buf); }
  /// To the connected peer (std::system_error EDESTADDRREQ if not connected).
  SendFuture send(std::span<const std::byte> buf) noexcept { return SendFuture(fd_, buf, "weft::net::UdpSocket::send", false); }
  /// From the connected peer.
  RecvFuture recv(std::span<std::byte> buf) noexcept { return RecvFuture(fd_, buf, "weft::net::UdpSocket::recv", false); }

  [[nodiscard]] SocketAddr local_addr() const;
  [[nodiscard]] SocketAddr peer_addr() const;
  [[nodiscard]] int fd() const noexcept { return fd_.fd(); }

 private:
  explicit UdpSocket(io::AsyncFd fd) noexcept : fd_(std::move(fd)) {}
  io::AsyncFd fd_;
};

static_assert(Future<SendToFuture> && Future<RecvFromFuture>);

}  // namespace weft::net
