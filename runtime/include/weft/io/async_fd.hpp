#pragma once
// weft::io::AsyncFd: a non-blocking file descriptor of the user's, owned and registered with
// the current runtime's I/O driver, and awaited for readiness; after tokio's AsyncFd.
//
//   weft::io::AsyncFd afd(fd);                        // owns fd from here on
//   for (;;) {
//     auto guard = co_await afd.readable();
//     if (auto n = guard.try_io([&](int fd) { return ::read(fd, buf, len); })) {
//       if (*n < 0) throw ...;                        // a real error (errno is intact)
//       return *n;                                    // bytes read (0: end of file)
//     }
//     // nullopt: EAGAIN; try_io cleared the readiness, so the next readable() waits for
//     // the next edge.
//   }
//
// Readiness is edge-triggered and sticky: once the driver reports a direction ready it stays
// ready until a guard clears it (clear_ready, or try_io on EAGAIN), so a task must keep
// operating until the descriptor says EAGAIN (or it knows the readiness is used up). A
// clear is tick-checked (weft/io/registration.hpp): an edge that arrives between the
// operation and the clear is never lost.
//
// One task per direction at a time: the driver keeps one waker per direction, the latest
// poll's (as tokio's poll_read_ready); a reader and a writer may run in two tasks at once.
//
// Ownership: the destructor deregisters, then closes the descriptor; release() deregisters
// and hands it back unclosed. The descriptor must be O_NONBLOCK: the constructor checks it
// (an operation on a blocking one would block a worker thread).
//
// Cancel safety: readable() / writable() are cancel safe (dropping the future loses nothing;
// the readiness stays recorded in the driver).
#include <cerrno>
#include <concepts>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/io/registration.hpp"
#include "weft/poll.hpp"
#include "weft/waker.hpp"

namespace weft::io {

class AsyncFd;

/// The readiness of one direction of an AsyncFd, as a readable() / writable() future or a
/// poll_*_ready reported it. Refers to its AsyncFd, which must outlive it.
class AsyncFdReadyGuard {
 public:
  [[nodiscard]] Direction direction() const noexcept { return dir_; }
  /// The readiness bits seen (detail::io_bits) and the driver tick they were set at.
  [[nodiscard]] const ReadyEvent& event() const noexcept { return ev_; }
  /// The peer closed this direction (read: end of stream; write: hang-up), or an error is
  /// pending on the descriptor. Closed bits are never cleared.
  [[nodiscard]] bool is_closed() const noexcept {
    return (ev_.ready & (detail::io_bits::read_closed | detail::io_bits::write_closed)) != 0;
  }
  [[nodiscard]] bool is_error() const noexcept { return (ev_.ready & detail::io_bits::error) != 0; }

  /// Forgets this readiness: the next readable() / writable() waits for a new edge (unless
  /// the driver saw one since this guard's event, which then stays). Closed bits stay.
  void clear_ready() noexcept;
  /// Keeps the readiness (the default: a guard that is dropped clears nothing).
  void retain_ready() noexcept {}

  /// Runs `f(fd)`, a system call in the POSIX style (a signed integer result, -1 with errno
  /// set on failure: ::read, ::recv, ::accept4, ...). If it failed with EAGAIN/EWOULDBLOCK,
  /// clears the readiness (closed bits too: Registration::clear_readiness) and returns nullopt ("would block": await readiness again); else
  /// returns f's result (on -1, errno is still f's).
  template <class F>
    requires std::signed_integral<std::invoke_result_t<F&, int>>
  std::optional<std::invoke_result_t<F&, int>> try_io(F&& f);

  [[nodiscard]] AsyncFd& get_inner() const noexcept { return *fd_; }

 private:
  friend class AsyncFd;
  AsyncFdReadyGuard(AsyncFd* fd, Direction d, ReadyEvent ev) noexcept : fd_(fd), dir_(d), ev_(ev) {}
  AsyncFd* fd_;
  Direction dir_;
  ReadyEvent ev_;
};

class AsyncFd {
 public:
  /// Empty (no descriptor); every poll throws std::logic_error.
  AsyncFd() noexcept = default;
  /// Takes ownership of `fd` (which must be O_NONBLOCK) and registers it with the current
  /// runtime. On failure the descriptor is closed (ownership passed at the call, as tokio's
  /// AsyncFd::new drops its inner value) and this throws: std::invalid_argument if `fd` is
  /// blocking, std::system_error if fcntl or epoll_ctl fails (e.g. EBADF), std::logic_error
  /// outside a runtime or with enable_io off.
  explicit AsyncFd(int fd);
  /// For descriptors the library just created with O_NONBLOCK (no fcntl check).
  struct nonblocking_t {};
  AsyncFd(int fd, nonblocking_t);

  AsyncFd(AsyncFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)), reg_(std::move(o.reg_)) {}
  AsyncFd& operator=(AsyncFd&& o) noexcept {
    if (this != &o) {
      close_now();
      fd_ = std::exchange(o.fd_, -1);
      reg_ = std::move(o.reg_);
    }
    return *this;
  }
  AsyncFd(const AsyncFd&) = delete;
  AsyncFd& operator=(const AsyncFd&) = delete;
  /// Deregisters, then closes the descriptor.
  ~AsyncFd() { close_now(); }

  /// The descriptor (-1 if empty).
  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  /// Deregisters and returns the descriptor without closing it (-1 if empty); this AsyncFd
  /// is empty afterwards.
  [[nodiscard]] int release() noexcept {
    reg_.reset();
    return std::exchange(fd_, -1);
  }

  /// Ready with a guard when `d` is ready (or closed, or in error); else Pending with cx's
  /// waker stored. Throws std::runtime_error if the runtime shut down, std::logic_error if
  /// empty.
  Poll<AsyncFdReadyGuard> poll_ready(Direction d, Context& cx) {
    Poll<ReadyEvent> p = reg_.poll_ready(d, cx);
    if (p.is_pending()) return pending;
    return AsyncFdReadyGuard(this, d, *p);
  }
  Poll<AsyncFdReadyGuard> poll_read_ready(Context& cx) { return poll_ready(Direction::read, cx); }
  Poll<AsyncFdReadyGuard> poll_write_ready(Context& cx) { return poll_ready(Direction::write, cx); }

  /// A future of the readiness of `d` (`auto guard = co_await afd.ready(Direction::read)`).
  [[nodiscard]] auto ready(Direction d) noexcept {
    return poll_fn([this, d](Context& cx) { return poll_ready(d, cx); });
  }
  [[nodiscard]] auto readable() noexcept { return ready(Direction::read); }
  [[nodiscard]] auto writable() noexcept { return ready(Direction::write); }

 private:
  friend class AsyncFdReadyGuard;
  void close_now() noexcept;
  int fd_ = -1;
  Registration reg_;
};

inline void AsyncFdReadyGuard::clear_ready() noexcept { fd_->reg_.clear_ready_keep_closed(ev_); }

template <class F>
  requires std::signed_integral<std::invoke_result_t<F&, int>>
std::optional<std::invoke_result_t<F&, int>> AsyncFdReadyGuard::try_io(F&& f) {
  auto r = f(fd_->fd());
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    fd_->reg_.clear_readiness(ev_);  // closed bits too (see there); errno is left as f set it
    return std::nullopt;
  }
  return r;
}

}  // namespace weft::io
