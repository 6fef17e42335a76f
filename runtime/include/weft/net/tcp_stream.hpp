#pragma once
// weft::net::TcpStream: a connected TCP socket (tokio's TcpStream), and its two halves.
//
//   TcpStream s = co_await TcpStream::connect(SocketAddr::parse("127.0.0.1:8080"));
//   co_await s.write_all("ping");
//   std::array<std::byte, 4> buf;
//   co_await s.read_exact(buf);
//   std::size_t n = co_await s.read(buf);     // 0: the peer closed its side
//
// Every operation is a leaf future (weft/net/socket_io.hpp) referring to the stream, which
// must outlive it. One task per direction at a time: a reader and a writer may run at once
// (through one TcpStream& or the halves of split()), two readers may not (the driver keeps
// one waker per direction: the later poll's).
//
// The socket is created non-blocking and close-on-exec; writes use MSG_NOSIGNAL (a closed
// peer is std::system_error EPIPE or ECONNRESET, never SIGPIPE). A TcpStream registers with
// the runtime of the task that connects or accepts it, and stays with it.
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "weft/io/async_fd.hpp"
#include "weft/net/socket_addr.hpp"
#include "weft/net/socket_io.hpp"
#include "weft/poll.hpp"

namespace weft::net {

class TcpStream;
class TcpReadHalf;
class TcpWriteHalf;

namespace detail {
inline std::span<const std::byte> text_bytes(std::string_view s) noexcept { return std::as_bytes(std::span(s)); }
}  // namespace detail

/// The future of TcpStream::connect: a non-blocking connect(2), then the wait until the socket
/// is writable and SO_ERROR. Cancel safe (dropping it closes the half-open socket). Throws
/// std::system_error with the errno (ECONNREFUSED, ENETUNREACH, ...).
class [[nodiscard]] ConnectFuture {
 public:
  explicit ConnectFuture(SocketAddr addr) noexcept : addr_(addr) {}
  Poll<TcpStream> poll(Context& cx);

 private:
  SocketAddr addr_;
  io::AsyncFd fd_;  // empty until the first poll starts the connect
};

class TcpStream {
 public:
  /// Not connected (as a moved-from stream): operations throw std::logic_error.
  TcpStream() noexcept = default;
  /// Connects to `addr` (a future: `co_await TcpStream::connect(addr)`).
  static ConnectFuture connect(const SocketAddr& addr) noexcept { return ConnectFuture(addr); }
  /// Takes ownership of a connected TCP socket, makes it non-blocking and registers it with
  /// the current runtime (std::logic_error outside one; the descriptor is closed on failure).
  static TcpStream from_fd(int fd);

  /// One read: the bytes read, 0 at the end of the stream (the peer shut down its side).
  RecvFuture read(std::span<std::byte> buf) noexcept { return RecvFuture(fd_, buf, "weft::net::TcpStream::read", true); }
  /// One write: the bytes written (at least 1 for a non-empty buffer).
  SendFuture write(std::span<const std::byte> buf) noexcept {
    return SendFuture(fd_, buf, "weft::net::TcpStream::write", true);
  }
  /// Fills `buf` (UnexpectedEof if the stream ends first).
  ReadExactFuture read_exact(std::span<std::byte> buf) noexcept {
    return ReadExactFuture(fd_, buf, "weft::net::TcpStream::read_exact");
  }
  WriteAllFuture write_all(std::span<const std::byte> buf) noexcept {
    return WriteAllFuture(fd_, buf, "weft::net::TcpStream::write_all");
  }
  /// Writes the characters of `s` (which must outlive the future).
  WriteAllFuture write_all(std::string_view s) noexcept { return write_all(detail::text_bytes(s)); }

  /// Half-close: the peer reads the end of the stream; this side can still read.
  void shutdown_write();
  void set_nodelay(bool on);
  [[nodiscard]] bool nodelay() const;
  [[nodiscard]] SocketAddr local_addr() const;
  [[nodiscard]] SocketAddr peer_addr() const;
  [[nodiscard]] int fd() const noexcept { return fd_.fd(); }

  /// Splits the stream into a read half and a write half that share the socket and may be
  /// used by two tasks at once; the socket is closed when both are gone (tokio's into_split).
  std::pair<TcpReadHalf, TcpWriteHalf> split() &&;

 private:
  friend class ConnectFuture;
  friend class TcpListener;
  explicit TcpStream(io::AsyncFd fd) noexcept : fd_(std::move(fd)) {}
  io::AsyncFd fd_;
};

/// The read half of a split TcpStream: polls only the read direction.
class TcpReadHalf {
 public:
  RecvFuture read(std::span<std::byte> buf) { return RecvFuture(checked(), buf, "weft::net::TcpReadHalf::read", true); }
  ReadExactFuture read_exact(std::span<std::byte> buf) {
    return ReadExactFuture(checked(), buf, "weft::net::TcpReadHalf::read_exact");
  }
  [[nodiscard]] SocketAddr local_addr() const;
  [[nodiscard]] SocketAddr peer_addr() const;

 private:
  friend class TcpStream;
  explicit TcpReadHalf(std::shared_ptr<io::AsyncFd> fd) noexcept : fd_(std::move(fd)) {}
  /// The socket; std::logic_error if this half was moved from.
  [[nodiscard]] io::AsyncFd& checked() const;
  std::shared_ptr<io::AsyncFd> fd_;
};

/// The write half of a split TcpStream: polls only the write direction. Dropping it shuts
/// down the write side (the peer reads the end of the stream), as tokio's OwnedWriteHalf.
class TcpWriteHalf {
 public:
  TcpWriteHalf(TcpWriteHalf&&) noexcept = default;
  TcpWriteHalf& operator=(TcpWriteHalf&& o) noexcept {
    if (this != &o) {
      shutdown_on_drop();
      fd_ = std::move(o.fd_);
    }
    return *this;
  }
  ~TcpWriteHalf() { shutdown_on_drop(); }

  SendFuture write(std::span<const std::byte> buf) {
    return SendFuture(checked(), buf, "weft::net::TcpWriteHalf::write", true);
  }
  WriteAllFuture write_all(std::span<const std::byte> buf) {
    return WriteAllFuture(checked(), buf, "weft::net::TcpWriteHalf::write_all");
  }
  WriteAllFuture write_all(std::string_view s) { return write_all(detail::text_bytes(s)); }
  /// Half-close now (the destructor then does nothing more).
  void shutdown_write();
  [[nodiscard]] SocketAddr local_addr() const;
  [[nodiscard]] SocketAddr peer_addr() const;

 private:
  friend class TcpStream;
  explicit TcpWriteHalf(std::shared_ptr<io::AsyncFd> fd) noexcept : fd_(std::move(fd)) {}
  [[nodiscard]] io::AsyncFd& checked() const;
  void shutdown_on_drop() noexcept;
  std::shared_ptr<io::AsyncFd> fd_;
};

}  // namespace weft::net
