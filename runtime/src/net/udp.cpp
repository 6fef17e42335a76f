// weft::net::UdpSocket.
#include "weft/net/udp.hpp"

#include <sys/socket.h>

#include <stdexcept>
#include <string>

#include "net/net_io.hpp"

namespace weft::net {

UdpSocket UdpSocket::bind(const SocketAddr& addr) {
  const std::string who = "weft::net::UdpSocket::bind to " + addr.to_string();
  io::AsyncFd fd(detail::new_socket(addr.family(), SOCK_DGRAM, who), io::AsyncFd::nonblocking_t{});
  if (::bind(fd.fd(), addr.as_sockaddr(), addr.len()) != 0) detail::throw_errno(errno, who);
  return UdpSocket(std::move(fd));
}

namespace detail {
inline int udp_checked_fd(const io::AsyncFd& fd, const char* who) {
  if (!fd.is_open()) throw std::logic_error(std::string(who) + ": the socket is not bound (moved-from or default)");
  return fd.fd();
}
}  // namespace detail

void UdpSocket::connect(const SocketAddr& peer) {
  const std::string who = "weft::net::UdpSocket::connect to " + peer.to_string();
  if (::connect(detail::udp_checked_fd(fd_, "weft::net::UdpSocket::connect"), peer.as_sockaddr(), peer.len()) != 0)
    detail::throw_errno(errno, who);
}

SocketAddr UdpSocket::local_addr() const {
  constexpr const char* who = "weft::net::UdpSocket::local_addr";
  return detail::sock_name(detail::udp_checked_fd(fd_, who), false, who);
}

SocketAddr UdpSocket::peer_addr() const {
  constexpr const char* who = "weft::net::UdpSocket::peer_addr";
  return detail::sock_name(detail::udp_checked_fd(fd_, who), true, who);
}

Poll<std::size_t> SendToFuture::poll(Context& cx) {
  return detail::poll_syscall(*fd_, io::Direction::write, cx, "weft::net::UdpSocket::send_to", [this](int fd) {
    return ::sendto(fd, buf_.data(), buf_.size(), MSG_NOSIGNAL, to_.as_sockaddr(), to_.len());
  });
}

Poll<std::pair<std::size_t, SocketAddr>> RecvFromFuture::poll(Context& cx) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  // SAFETY: sockaddr_storage is made to be passed as a sockaddr.
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  Poll<std::size_t> n = detail::poll_syscall(*fd_, io::Direction::read, cx, "weft::net::UdpSocket::recv_from", [&](int fd) {
    len = sizeof ss;
    return ::recvfrom(fd, buf_.data(), buf_.size(), 0, sa, &len);
  });
  if (n.is_pending()) return pending;
  return std::pair<std::size_t, SocketAddr>(*n, SocketAddr::from_sockaddr(sa, len));
}

}  // namespace weft::net
