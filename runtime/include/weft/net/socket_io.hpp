#pragma once
// The leaf futures of socket reads and writes, shared by TcpStream, its halves and UdpSocket.
// Each poll loops as weft/io/registration.hpp describes: wait for the direction's readiness,
// try the system call, and on EAGAIN clear that readiness and wait again.
//
// Each refers to the socket (its io::AsyncFd) and the buffer it was made from; both must
// outlive it. Errors are std::system_error with the errno (std::system_category) and a what()
// naming the operation ("weft::net::TcpStream::read: Connection reset by peer"); a poll after
// the runtime shut down throws std::runtime_error.
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

#include "weft/io/async_fd.hpp"
#include "weft/poll.hpp"
#include "weft/waker.hpp"

namespace weft::net {

/// read_exact reached the end of the stream before filling its buffer.
class UnexpectedEof : public std::runtime_error {
 public:
  UnexpectedEof(const char* who, std::size_t got, std::size_t wanted)
      : std::runtime_error(std::string(who) + ": end of stream after " + std::to_string(got) + " of " +
                           std::to_string(wanted) + " bytes"),
        got_(got) {}
  /// The bytes read (and stored at the start of the buffer) before the end.
  [[nodiscard]] std::size_t bytes_read() const noexcept { return got_; }

 private:
  std::size_t got_;
};

/// One recv(2): the number of bytes read, 0 at the end of a stream (or for an empty
/// datagram). Cancel safe: nothing is read unless the poll returns Ready.
class [[nodiscard]] RecvFuture {
 public:
  /// `stream`: a stream socket, where an empty buffer reads nothing (0 at once, no call).
  RecvFuture(io::AsyncFd& fd, std::span<std::byte> buf, const char* who, bool stream) noexcept
      : fd_(&fd), buf_(buf), who_(who), stream_(stream) {}
  Poll<std::size_t> poll(Context& cx);

 private:
  io::AsyncFd* fd_;
  std::span<std::byte> buf_;
  const char* who_;
  bool stream_;
};

/// One send(2) (MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE): the number of bytes
/// written, possibly fewer than given. Cancel safe.
class [[nodiscard]] SendFuture {
 public:
  SendFuture(io::AsyncFd& fd, std::span<const std::byte> buf, const char* who, bool stream) noexcept
      : fd_(&fd), buf_(buf), who_(who), stream_(stream) {}
  Poll<std::size_t> poll(Context& cx);

 private:
  io::AsyncFd* fd_;
  std::span<const std::byte> buf_;
  const char* who_;
  bool stream_;
};

/// Reads until the buffer is full; throws UnexpectedEof if the stream ends first. Not cancel
/// safe: bytes read before the future is dropped are in the buffer, but how many is lost.
class [[nodiscard]] ReadExactFuture {
 public:
  ReadExactFuture(io::AsyncFd& fd, std::span<std::byte> buf, const char* who) noexcept
      : fd_(&fd), buf_(buf), who_(who) {}
  Poll<void> poll(Context& cx);

 private:
  io::AsyncFd* fd_;
  std::span<std::byte> buf_;
  const char* who_;
  std::size_t done_ = 0;
};

/// Writes the whole buffer. Not cancel safe: how much was written before the future is
/// dropped is lost.
class [[nodiscard]] WriteAllFuture {
 public:
  WriteAllFuture(io::AsyncFd& fd, std::span<const std::byte> buf, const char* who) noexcept
      : fd_(&fd), buf_(buf), who_(who) {}
  Poll<void> poll(Context& cx);

 private:
  io::AsyncFd* fd_;
  std::span<const std::byte> buf_;
  const char* who_;
  std::size_t done_ = 0;
};

static_assert(Future<RecvFuture> && Future<SendFuture> && Future<ReadExactFuture> && Future<WriteAllFuture>);

}  // namespace weft::net
