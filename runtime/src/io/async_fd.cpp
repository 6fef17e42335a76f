// weft::io::AsyncFd: registration and closing (the header has the contract).
#include "weft/io/async_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace weft::io {

AsyncFd::AsyncFd(int fd) : fd_(fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) {
    const int e = errno;
    if (e != EBADF) ::close(fd);
    fd_ = -1;
    throw std::system_error(e, std::system_category(), "weft::io::AsyncFd: fcntl(F_GETFL)");
  }
  if ((flags & O_NONBLOCK) == 0) {
    ::close(std::exchange(fd_, -1));
    throw std::invalid_argument("weft::io::AsyncFd: the descriptor is blocking (set O_NONBLOCK first)");
  }
  try {
    reg_ = Registration(fd);
  } catch (...) {
    ::close(std::exchange(fd_, -1));
    throw;
  }
}

AsyncFd::AsyncFd(int fd, nonblocking_t) : fd_(fd) {
  try {
    reg_ = Registration(fd);
  } catch (...) {
    ::close(std::exchange(fd_, -1));
    throw;
  }
}

void AsyncFd::close_now() noexcept {
  // Deregister first: the driver's EPOLL_CTL_DEL needs the descriptor still open.
  reg_.reset();
  // close(2) releases the descriptor even when it reports an error (EINTR included on
  // Linux); there is nothing to retry.
  if (fd_ >= 0) (void)::close(std::exchange(fd_, -1));
}

}  // namespace weft::io
