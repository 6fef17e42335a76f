#pragma once
// The driver: what a parked worker waits on. An epoll instance with an eventfd (the unpark
// signal) and, with enable_io, the registered file descriptors (io_driver.hpp), plus the time
// driver (time_driver.hpp). After tokio's runtime/driver.rs and park.rs.
//
// One thread at a time turns the driver: it holds `locked_` (try_lock; a worker that fails to
// take it parks on its futex instead). A turn: release the I/O registrations dropped since the
// last turn, compute the timeout (the caller's limit, the next timer), epoll_wait, dispatch
// I/O readiness, fire expired timers. Wakes run on the turning thread; on a worker they go to
// its local queue (Scheduler::turn_driver turns the LIFO slot off meanwhile).
//
// Unpark: any thread writes the eventfd (edge-triggered: a write queues the event unless it
// is queued already; the next epoll_wait reports and consumes it); a driver in epoll_wait
// returns, one about to call it returns at once (the event waits in epoll's ready list).
// Who unparks: a worker's Parker whose owner parks in the driver (parker.hpp,
// PARKED_DRIVER), and a timer registered before the parked driver's wake-up
// (time_driver.hpp). The turning thread's own unparks write it too: a turn wakes things
// before its wait as well (freeing dropped registrations drops wakers, and with them tasks
// whose destructors may wake others), so only a write is sure to end the wait.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "driver/io_driver.hpp"
#include "driver/time_driver.hpp"

namespace weft::detail {

class Driver {
 public:
  struct Options {
    bool enable_io = true;
    bool enable_time = true;
    bool start_paused = false;
  };
  /// Throws std::system_error if epoll or the eventfd cannot be created.
  explicit Driver(Options o);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  /// One thread turns the driver at a time.
  bool try_lock() noexcept {
    // Acquire: pairs with unlock's release; the previous turner's state (event buffer,
    // pending releases) is visible.
    return !locked_.exchange(true, std::memory_order_acquire);
  }
  // Release: pairs with try_lock's acquire exchange (the next turner sees this turn's state).
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

  /// A turn (lock held): waits up to `limit` (nullopt: no limit; zero: a poll) for I/O, a
  /// timer or an unpark, then dispatches what happened. Returns the number of wakes.
  std::size_t turn(std::optional<std::chrono::nanoseconds> limit);
  /// Interrupts the turn in progress, or the next one. Any thread.
  void unpark() noexcept;
  /// How many unparks so far (each one an eventfd write): for tests and diagnostics.
  [[nodiscard]] std::uint64_t unparks() const noexcept {
    return unparks_.load(std::memory_order_relaxed);  // a statistic: orders nothing
  }
  /// Whether a non-blocking turn could find anything (registrations or timers): a hint that
  /// lets busy workers skip the epoll_wait of their maintenance turn.
  [[nodiscard]] bool has_sources() const noexcept {
    return (time_ && time_->has_timers()) || (io_ && io_->has_registrations());
  }

  [[nodiscard]] TimeDriver* time() noexcept { return time_.get(); }
  [[nodiscard]] IoDriver* io() noexcept { return io_.get(); }

  /// Runtime shutdown (after the tasks were cancelled): fires the remaining timers and I/O
  /// registrations as shut down.
  void shutdown();

 private:
  // One wait for events (epoll_pwait2; nullopt: no timeout) and their dispatch; returns the
  // number of I/O events (the eventfd's is not counted).
  std::size_t dispatch(std::optional<std::chrono::nanoseconds> timeout);

  int epfd_ = -1;
  int eventfd_ = -1;
  std::atomic<bool> locked_{false};
  std::atomic<bool> woken_{false};  // unpark() since the last turn (for auto-advance)
  std::atomic<std::uint64_t> unparks_{0};
  std::unique_ptr<TimeDriver> time_;
  std::unique_ptr<IoDriver> io_;
};

}  // namespace weft::detail
