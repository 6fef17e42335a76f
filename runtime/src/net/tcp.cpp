// weft::net::TcpStream, its halves, and TcpListener.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <utility>

#include "net/net_io.hpp"
#include "weft/net/tcp_listener.hpp"
#include "weft/net/tcp_stream.hpp"

namespace weft::net {

// ---- connect ----

Poll<TcpStream> ConnectFuture::poll(Context& cx) {
  if (!fd_.is_open()) {
    const std::string who = "weft::net::TcpStream::connect to " + addr_.to_string();
    const int fd = detail::new_socket(addr_.family(), SOCK_STREAM, who);
    int rc;
    do {
      rc = ::connect(fd, addr_.as_sockaddr(), addr_.len());
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno != EINPROGRESS) {
      const int e = errno;
      ::close(fd);
      detail::throw_errno(e, who);
    }
    fd_ = io::AsyncFd(fd, io::AsyncFd::nonblocking_t{});  // closes fd if registration fails
    if (rc == 0) return TcpStream(std::move(fd_));         // connected at once
  }
  for (;;) {
    Poll<io::AsyncFdReadyGuard> ready = fd_.poll_write_ready(cx);
    if (ready.is_pending()) return pending;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_.fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) {
      // Writable without an error: connected, unless the wake-up was spurious (tokio checks
      // the same way), which getpeername tells.
      sockaddr_storage ss{};
      socklen_t sl = sizeof ss;
      // SAFETY: sockaddr_storage is made to be passed as a sockaddr.
      if (::getpeername(fd_.fd(), reinterpret_cast<sockaddr*>(&ss), &sl) == 0) return TcpStream(std::move(fd_));
      err = errno;
      // A hang-up or an error bit never clears, so waiting again would spin: report it.
      if (err == ENOTCONN && !ready->is_closed() && !ready->is_error()) {
        ready->clear_ready();
        continue;
      }
    }
    fd_ = io::AsyncFd();  // deregister and close the failed socket
    detail::throw_errno(err, "weft::net::TcpStream::connect to " + addr_.to_string());
  }
}

// ---- TcpStream ----

TcpStream TcpStream::from_fd(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    const int e = errno;
    if (e != EBADF) ::close(fd);
    detail::throw_errno(e, "weft::net::TcpStream::from_fd: fcntl");
  }
  return TcpStream(io::AsyncFd(fd, io::AsyncFd::nonblocking_t{}));
}

namespace detail {
inline void tcp_shutdown_write(int fd, const char* who) {
  if (::shutdown(fd, SHUT_WR) != 0) throw_errno(errno, who);
}
inline int checked_fd(const io::AsyncFd& fd, const char* who) {
  if (!fd.is_open()) throw std::logic_error(std::string(who) + ": the stream is not connected (moved-from or default)");
  return fd.fd();
}
}  // namespace detail

void TcpStream::shutdown_write() {
  constexpr const char* who = "weft::net::TcpStream::shutdown_write";
  detail::tcp_shutdown_write(detail::checked_fd(fd_, who), who);
}

void TcpStream::set_nodelay(bool on) {
  constexpr const char* who = "weft::net::TcpStream::set_nodelay";
  detail::set_opt(detail::checked_fd(fd_, who), IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0, who);
}

bool TcpStream::nodelay() const {
  constexpr const char* who = "weft::net::TcpStream::nodelay";
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(detail::checked_fd(fd_, who), IPPROTO_TCP, TCP_NODELAY, &v, &len) != 0) detail::throw_errno(errno, who);
  return v != 0;
}

SocketAddr TcpStream::local_addr() const {
  constexpr const char* who = "weft::net::TcpStream::local_addr";
  return detail::sock_name(detail::checked_fd(fd_, who), false, who);
}

SocketAddr TcpStream::peer_addr() const {
  constexpr const char* who = "weft::net::TcpStream::peer_addr";
  return detail::sock_name(detail::checked_fd(fd_, who), true, who);
}

std::pair<TcpReadHalf, TcpWriteHalf> TcpStream::split() && {
  (void)detail::checked_fd(fd_, "weft::net::TcpStream::split");
  auto shared = std::make_shared<io::AsyncFd>(std::move(fd_));
  return {TcpReadHalf(shared), TcpWriteHalf(shared)};
}

// ---- the halves ----

io::AsyncFd& TcpReadHalf::checked() const {
  if (fd_ == nullptr) throw std::logic_error("weft::net::TcpReadHalf: moved-from");
  return *fd_;
}
io::AsyncFd& TcpWriteHalf::checked() const {
  if (fd_ == nullptr) throw std::logic_error("weft::net::TcpWriteHalf: moved-from");
  return *fd_;
}

SocketAddr TcpReadHalf::local_addr() const {
  return detail::sock_name(checked().fd(), false, "weft::net::TcpReadHalf::local_addr");
}
SocketAddr TcpReadHalf::peer_addr() const {
  return detail::sock_name(checked().fd(), true, "weft::net::TcpReadHalf::peer_addr");
}
SocketAddr TcpWriteHalf::local_addr() const {
  return detail::sock_name(checked().fd(), false, "weft::net::TcpWriteHalf::local_addr");
}
SocketAddr TcpWriteHalf::peer_addr() const {
  return detail::sock_name(checked().fd(), true, "weft::net::TcpWriteHalf::peer_addr");
}

void TcpWriteHalf::shutdown_write() {
  detail::tcp_shutdown_write(checked().fd(), "weft::net::TcpWriteHalf::shutdown_write");
}

void TcpWriteHalf::shutdown_on_drop() noexcept {
  // A moved-from half has no socket. A shutdown of a socket the peer already reset fails
  // with ENOTCONN, harmlessly.
  if (fd_ != nullptr) (void)::shutdown(fd_->fd(), SHUT_WR);
}

// ---- TcpListener ----

TcpListener TcpListener::bind(const SocketAddr& addr) {
  const std::string who = "weft::net::TcpListener::bind to " + addr.to_string();
  // Registered with the driver only once listening: before listen() a TCP socket polls as
  // hung up (EPOLLHUP), which a driver turn in between would record.
  detail::OwnedFd fd(detail::new_socket(addr.family(), SOCK_STREAM, who));
  detail::set_opt(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, who.c_str());
  if (::bind(fd.get(), addr.as_sockaddr(), addr.len()) != 0) detail::throw_errno(errno, who);
  if (::listen(fd.get(), 1024) != 0) detail::throw_errno(errno, who);
  return TcpListener(io::AsyncFd(fd.release(), io::AsyncFd::nonblocking_t{}));  // closes it if that throws
}

namespace detail {
/// accept4 errors that concern only the connection being accepted, not the listener: try
/// the next one (accept(2): "treat them like EAGAIN by retrying"; ECONNABORTED: the peer
/// reset it while queued).
inline bool accept_error_is_per_connection(int e) noexcept {
  switch (e) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}
}  // namespace detail

Poll<std::pair<TcpStream, SocketAddr>> TcpListener::poll_accept(Context& cx) {
  for (;;) {
    Poll<io::AsyncFdReadyGuard> ready = fd_.poll_read_ready(cx);
    if (ready.is_pending()) return pending;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    // SAFETY: sockaddr_storage is made to be passed as a sockaddr.
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    const std::optional<int> r =
        ready->try_io([&](int fd) { return ::accept4(fd, sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC); });
    if (!r) continue;  // would block: readiness cleared, poll again (stores the waker)
    if (*r < 0) {
      const int e = errno;
      if (detail::accept_error_is_per_connection(e)) continue;
      // EMFILE, ENFILE, ENOBUFS, ENOMEM, ...: the readiness is kept, so the next accept tries
      // again without waiting for a new connection (under edge triggering none may come).
      detail::throw_errno(e, "weft::net::TcpListener::accept");
    }
    io::AsyncFd conn(*r, io::AsyncFd::nonblocking_t{});  // closes the descriptor if it throws
    return std::pair<TcpStream, SocketAddr>(TcpStream(std::move(conn)), SocketAddr::from_sockaddr(sa, len));
  }
}

Poll<std::optional<TcpStream>> Incoming::poll_next(Context& cx) {
  Poll<std::pair<TcpStream, SocketAddr>> p = l_->poll_accept(cx);
  if (p.is_pending()) return pending;
  return std::optional<TcpStream>(std::move(p->first));
}

SocketAddr TcpListener::local_addr() const {
  constexpr const char* who = "weft::net::TcpListener::local_addr";
  if (!fd_.is_open()) throw std::logic_error("weft::net::TcpListener::local_addr: not bound (moved-from or default)");
  return detail::sock_name(fd_.fd(), false, who);
}

}  // namespace weft::net
