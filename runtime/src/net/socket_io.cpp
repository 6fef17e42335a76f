// The socket read and write futures (weft/net/socket_io.hpp).
#include "weft/net/socket_io.hpp"

#include <sys/socket.h>

#include "net/net_io.hpp"

namespace weft::net {

Poll<std::size_t> RecvFuture::poll(Context& cx) {
  if (stream_ && buf_.empty()) return std::size_t{0};
  return detail::poll_syscall(
      *fd_, io::Direction::read, cx, who_, [this](int fd) { return ::recv(fd, buf_.data(), buf_.size(), 0); },
      stream_ ? buf_.size() : 0);
}

Poll<std::size_t> SendFuture::poll(Context& cx) {
  if (stream_ && buf_.empty()) return std::size_t{0};
  return detail::poll_syscall(
      *fd_, io::Direction::write, cx, who_,
      [this](int fd) { return ::send(fd, buf_.data(), buf_.size(), MSG_NOSIGNAL); }, stream_ ? buf_.size() : 0);
}

Poll<void> ReadExactFuture::poll(Context& cx) {
  while (done_ < buf_.size()) {
    Poll<std::size_t> n = RecvFuture(*fd_, buf_.subspan(done_), who_, true).poll(cx);
    if (n.is_pending()) return pending;
    if (*n == 0) throw UnexpectedEof(who_, done_, buf_.size());
    done_ += *n;
  }
  return ready();
}

Poll<void> WriteAllFuture::poll(Context& cx) {
  while (done_ < buf_.size()) {
    Poll<std::size_t> n = SendFuture(*fd_, buf_.subspan(done_), who_, true).poll(cx);
    if (n.is_pending()) return pending;
    done_ += *n;  // a stream send of a non-empty buffer writes at least 1 byte or fails
  }
  return ready();
}

}  // namespace weft::net
