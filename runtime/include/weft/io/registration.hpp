#pragma once
// weft::io::Registration: a file descriptor registered with the current runtime's I/O driver
// (edge-triggered epoll, read and write interest), and its readiness per direction. The
// building block of AsyncFd and the sockets; after tokio's Registration.
//
// The pattern of every non-blocking operation (the descriptor must be O_NONBLOCK):
//
//   for (;;) {
//     ReadyEvent ev = co_await reg.readiness(Direction::read);   // or poll_ready in a leaf
//     ssize_t n = ::read(fd, buf, len);
//     if (n >= 0) return n;
//     if (errno == EAGAIN) { reg.clear_readiness(ev); continue; }   // wait for the next edge
//     throw ...;
//   }
//
// clear_readiness clears only what `ev` reported, and only if the driver has not seen a new
// edge since: an edge that arrives between the operation and the clear is never lost.
//
// The Registration does not own the descriptor: destroy (or deregister) it before closing the
// descriptor. It keeps its runtime's driver alive; after the runtime shuts down, a poll throws
// std::runtime_error.
#include <utility>

#include "weft/detail/io_ready.hpp"
#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/waker.hpp"

namespace weft::detail {
struct IoHandle;
/// Registers `fd` with the current runtime's driver. Throws std::logic_error outside a
/// runtime or with enable_io off, std::system_error if epoll_ctl fails.
IoHandle* io_register(int fd);
/// True with `out` set if direction `d` is ready; else stores cx's waker. Throws
/// std::runtime_error if the runtime shut down.
bool io_poll_ready(IoHandle* h, Direction d, Context& cx, ReadyEvent& out);
void io_clear_readiness(IoHandle* h, const ReadyEvent& ev, bool closed_too) noexcept;
/// Deregisters and frees the handle.
void io_deregister(IoHandle* h) noexcept;
}  // namespace weft::detail

namespace weft::io {

using detail::Direction;
using detail::ReadyEvent;

class Registration {
 public:
  Registration() noexcept = default;
  /// Registers `fd` (see io_register).
  explicit Registration(int fd) : h_(detail::io_register(fd)) {}
  Registration(Registration&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Registration& operator=(Registration&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { reset(); }

  [[nodiscard]] bool is_registered() const noexcept { return h_ != nullptr; }
  /// Deregisters (before the descriptor is closed); a no-op if not registered.
  void reset() noexcept {
    if (h_ != nullptr) detail::io_deregister(std::exchange(h_, nullptr));
  }

  /// Ready (with the event) when direction `d` is ready, closed or in error, or the event
  /// with shutdown set if the driver shut down; else Pending with cx's waker stored.
  Poll<ReadyEvent> poll_ready(Direction d, Context& cx) {
    ReadyEvent ev;
    if (detail::io_poll_ready(checked(), d, cx, ev)) return ev;
    return pending;
  }
  /// A future of the next readiness of `d` (`co_await reg.readiness(Direction::read)`).
  [[nodiscard]] auto readiness(Direction d) noexcept {
    return poll_fn([this, d](Context& cx) { return poll_ready(d, cx); });
  }
  /// After an operation returned EAGAIN: forget the readiness `ev` reported (see above),
  /// closed bits included: EAGAIN shows the direction is not closed (a closed one returns
  /// end of stream or an error), so a stale hang-up, such as the one a TCP socket reports
  /// before it listens or connects, never makes the operation loop.
  void clear_readiness(const ReadyEvent& ev) noexcept {
    if (h_ != nullptr) detail::io_clear_readiness(h_, ev, true);
  }
  /// After a short transfer (the buffer drained or filled): forget `ev`'s readiness but
  /// keep its closed bits (data may have come with the peer's close; the end of stream is
  /// still to be read).
  void clear_ready_keep_closed(const ReadyEvent& ev) noexcept {
    if (h_ != nullptr) detail::io_clear_readiness(h_, ev, false);
  }

 private:
  detail::IoHandle* checked() const;
  detail::IoHandle* h_ = nullptr;
};

}  // namespace weft::io
