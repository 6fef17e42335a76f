#pragma once
// Helpers of the socket implementations (runtime/src/net/*.cpp): the readiness loop every
// operation runs, socket creation, errors. Named, not file-local: the runtime is a unity
// build and these files share one translation unit.
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <system_error>
#include <utility>

#include "weft/io/async_fd.hpp"
#include "weft/net/socket_addr.hpp"
#include "weft/poll.hpp"

namespace weft::net::detail {

[[noreturn]] inline void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::system_category(), what);
}

/// Runs `op(fd)` (a system call: -1 with errno on failure) once direction `d` is ready.
/// EAGAIN: clears the readiness it was given and waits again (Pending if no newer edge);
/// EINTR: retries; any other error: std::system_error named `who`.
/// `stream_len`: for a stream socket's read or write of that many bytes; a transfer that
/// moved fewer (but some) bytes drained the receive buffer or filled the send buffer, so
/// the readiness is cleared then too (as mio and tokio do on epoll): the next operation
/// waits for an edge instead of spending a system call on EAGAIN.
template <class Op>
Poll<std::size_t> poll_syscall(io::AsyncFd& fd, io::Direction d, Context& cx, const char* who, Op&& op,
                               std::size_t stream_len = 0) {
  for (;;) {
    Poll<io::AsyncFdReadyGuard> ready = fd.poll_ready(d, cx);
    if (ready.is_pending()) return pending;
    const std::optional<ssize_t> r = ready->try_io(op);
    if (!r) continue;  // would block: readiness cleared, poll again (stores the waker)
    if (*r > 0 && static_cast<std::size_t>(*r) < stream_len) ready->clear_ready();
    if (*r >= 0) return static_cast<std::size_t>(*r);
    if (errno == EINTR) continue;
    throw_errno(errno, who);
  }
}

/// A descriptor closed on scope exit unless released (a socket being set up before it is
/// registered with the driver).
class OwnedFd {
 public:
  explicit OwnedFd(int fd) noexcept : fd_(fd) {}
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

/// A new non-blocking, close-on-exec socket.
inline int new_socket(int family, int type, const std::string& who) {
  const int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(errno, who);
  return fd;
}

/// getsockname / getpeername of `fd`.
inline SocketAddr sock_name(int fd, bool peer, const char* who) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  // SAFETY: sockaddr_storage is made to be passed to the socket calls as a sockaddr.
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) throw_errno(errno, who);
  return SocketAddr::from_sockaddr(sa, len);
}

/// A socket option, or std::system_error.
inline void set_opt(int fd, int level, int name, int value, const char* who) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) throw_errno(errno, who);
}

}  // namespace weft::net::detail
