#pragma once
// weft::net::TcpListener: a listening TCP socket (tokio's TcpListener).
//
//   auto listener = TcpListener::bind(SocketAddr::parse("127.0.0.1:0"));
//   auto [stream, peer] = co_await listener.accept();
//
// Running out of descriptors (EMFILE, ENFILE) or memory while accepting surfaces as a
// std::system_error from that accept (errc::too_many_files_open for EMFILE); the listener
// keeps its readiness, so the next accept tries again at once and succeeds once descriptors
// are free. A loop that accepts should back off on such an error (sleep) rather than retry
// at once: the pending connection is still there and the error repeats until a descriptor
// is closed.
#include <optional>
#include <string_view>
#include <utility>

#include "weft/io/async_fd.hpp"
#include "weft/net/socket_addr.hpp"
#include "weft/net/tcp_stream.hpp"
#include "weft/poll.hpp"

namespace weft::net {

class TcpListener;

/// The future of TcpListener::accept: the connected stream and its peer's address. Cancel
/// safe (a connection is taken from the queue only by a poll that returns it).
class [[nodiscard]] AcceptFuture {
 public:
  explicit AcceptFuture(TcpListener& l) noexcept : l_(&l) {}
  Poll<std::pair<TcpStream, SocketAddr>> poll(Context& cx);

 private:
  TcpListener* l_;
};

/// The accepted connections as a Stream of TcpStream (tokio-stream's TcpListenerStream):
/// it never ends; an accept error is thrown from the poll that met it, and the stream stays
/// usable. Refers to the listener, which must outlive it.
class Incoming {
 public:
  explicit Incoming(TcpListener& l) noexcept : l_(&l) {}
  Poll<std::optional<TcpStream>> poll_next(Context& cx);

 private:
  TcpListener* l_;
};

class TcpListener {
 public:
  /// Not bound (as a moved-from listener): accept throws std::logic_error.
  TcpListener() noexcept = default;
  /// A socket bound to `addr` (port 0: any free port; see local_addr) with SO_REUSEADDR,
  /// listening with a backlog of 1024, registered with the current runtime. Throws
  /// std::system_error (EADDRINUSE, EACCES, ...), std::logic_error outside a runtime.
  static TcpListener bind(const SocketAddr& addr);

  AcceptFuture accept() noexcept { return AcceptFuture(*this); }
  Incoming incoming() noexcept { return Incoming(*this); }
  /// One accept attempt: Ready with the connection, or Pending with cx's waker stored.
  Poll<std::pair<TcpStream, SocketAddr>> poll_accept(Context& cx);

  [[nodiscard]] SocketAddr local_addr() const;
  [[nodiscard]] int fd() const noexcept { return fd_.fd(); }

 private:
  explicit TcpListener(io::AsyncFd fd) noexcept : fd_(std::move(fd)) {}
  io::AsyncFd fd_;
};

inline Poll<std::pair<TcpStream, SocketAddr>> AcceptFuture::poll(Context& cx) { return l_->poll_accept(cx); }

static_assert(Future<AcceptFuture> && Future<ConnectFuture>);
static_assert(Stream<Incoming>);

}  // namespace weft::net
