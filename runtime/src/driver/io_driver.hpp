#pragma once
// I/O readiness: file descriptors registered with the driver's epoll instance, edge-triggered,
// and what each registration has seen. After tokio's runtime/io (ScheduledIo, Registration).
//
// ScheduledIo: one per registered descriptor.
//   readiness_ (atomic 64-bit word): bits 0-4 the readiness seen (READABLE, WRITABLE,
//   READ_CLOSED, WRITE_CLOSED, ERROR), bits 16-31 the driver tick of the turn that last
//   set it, bit 32 SHUTDOWN (the driver is gone). Only the turning thread sets readiness
//   (dispatch); a user clears it (clear_readiness) after an operation returned EAGAIN, but
//   only if the tick is still the one it was handed: a readiness set by a newer turn is
//   never consumed as the old one (the edge it reports would otherwise be lost).
//   Wakers (reader_, writer_): one per direction, under mu_.
// No lost wake-up: dispatch sets the readiness bits (release), then takes mu_ and the
// wakers of the directions that became ready. poll_ready reads the bits; if not ready it
// takes mu_, reads them again and stores the waker. Either dispatch's lock comes first, and
// poll_ready's second read (after taking mu_, which dispatch released after setting the
// bits) sees them; or poll_ready's comes first, and dispatch finds the waker.
//
// Lifetime: the driver keeps every registration in `registered_` (mu_) and hands the user a
// reference. deregister() removes the descriptor from epoll and moves the driver's reference
// to `pending_release_`, which the turning thread clears at the start of its next turn: an
// event already returned by epoll_wait (whose data points at the ScheduledIo) is dispatched
// in the turn that got it, before that release. After EPOLL_CTL_DEL no later epoll_wait
// reports the descriptor. Neither epoll_ctl runs under mu_: add lists the registration
// first, deregister removes it from epoll first.
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "weft/detail/io_ready.hpp"
#include "weft/waker.hpp"

namespace weft::detail {

class ScheduledIo {
 public:
  explicit ScheduledIo(int fd) noexcept : fd_(fd) {}
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// Before the descriptor is added to epoll: makes the construction visible to the thread
  /// that dispatches its first event (release; dispatch's first load acquires).
  void publish() noexcept { readiness_.store(0, std::memory_order_release); }

  /// True with `out` set if `d` is ready (or the driver shut down); else false after storing
  /// a clone of `waker` for `d`.
  bool poll_ready(Direction d, const Waker& waker, ReadyEvent& out);
  /// Clears `ev.ready` if no turn set readiness since. The closed bits stay unless
  /// `closed_too` (after EAGAIN, which shows the direction is not closed; see
  /// Registration::clear_readiness).
  void clear_readiness(const ReadyEvent& ev, bool closed_too) noexcept;
  /// The turning thread: records an epoll event seen at `tick`; wakes the waiting tasks.
  void dispatch(std::uint32_t epoll_events, std::uint16_t tick);
  /// The driver shut down: every poll_ready returns at once with shutdown set.
  void shutdown();
  /// After deregistration: drops the stored wakers. A waker left in a released registration
  /// would keep its task, and through it the scheduler, alive: a cycle through the driver's
  /// pending_release_ when no turn follows (the runtime shuts down next).
  void drop_wakers() noexcept;

 private:
  static constexpr int tick_shift = 16;
  static constexpr std::uint64_t tick_mask = 0xffffull << tick_shift;
  static constexpr std::uint64_t shutdown_bit = 1ull << 32;
  void wake(std::uint32_t ready);

  const int fd_;
  std::atomic<std::uint64_t> readiness_{0};
  std::mutex mu_;
  Waker reader_;  // mu_
  Waker writer_;  // mu_
};

class IoDriver {
 public:
  explicit IoDriver(int epfd) noexcept : epfd_(epfd) {}
  /// Registers `fd` (edge-triggered, read and write). Throws std::system_error on failure
  /// (errno of epoll_ctl), or std::logic_error after shutdown.
  std::shared_ptr<ScheduledIo> add(int fd);
  /// Removes the registration (its descriptor must still be open). Any thread.
  void deregister(const std::shared_ptr<ScheduledIo>& io) noexcept;
  /// The turning thread, at the start of a turn (see the top of this file).
  void release_pending() noexcept;
  /// The turning thread: a new turn's tick.
  std::uint16_t next_tick() noexcept { return ++tick_; }
  [[nodiscard]] bool has_registrations() const noexcept {
    // Relaxed: a hint (see Driver::has_sources).
    return count_.load(std::memory_order_relaxed) != 0;
  }
  void shutdown();

 private:
  const int epfd_;
  std::uint16_t tick_ = 0;  // the turning thread's
  std::mutex mu_;
  std::unordered_map<ScheduledIo*, std::shared_ptr<ScheduledIo>> registered_;  // mu_
  std::vector<std::shared_ptr<ScheduledIo>> pending_release_;                 // mu_
  bool shut_down_ = false;                                                     // mu_
  std::atomic<std::size_t> count_{0};  // registered_ + pending_release_, written under mu_
  // After every change of either, under mu_. Relaxed: has_registrations reads a hint.
  void note_count() noexcept {
    count_.store(registered_.size() + pending_release_.size(), std::memory_order_relaxed);
  }
};

}  // namespace weft::detail
