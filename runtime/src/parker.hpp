#pragma once
// Parker: one thread sleeps in park(), any thread wakes it with unpark(). A notification
// given before park() is kept (a token), so an unpark is never lost. Built on a futex; a
// worker's parker can also sleep in the runtime's driver (park_in_driver), as tokio's.
//
// States: EMPTY -> (park) PARKED -> (unpark) NOTIFIED -> (park returns) EMPTY.
//         EMPTY -> (unpark) NOTIFIED -> (park consumes it at once) EMPTY.
//         PARKED -> (park_for times out) EMPTY, unless NOTIFIED won the race (then consumed).
//         EMPTY -> (park_in_driver) PARKED_DRIVER -> (the turn returns) EMPTY; an unpark that
//         sees PARKED_DRIVER interrupts the turn through the driver (its eventfd).
// No lost wake-up in the driver: unpark's exchange and park_in_driver's CAS are RMWs of one
// word. If the exchange comes first, the CAS fails on NOTIFIED and the park returns at once;
// otherwise the unparker sees PARKED_DRIVER and writes the eventfd after the CAS, which makes
// the turn's epoll_wait return (or return at once if it has not started: the write's event
// waits in epoll's ready list until a turn's epoll_wait reports it; driver.hpp).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <time.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <optional>

namespace weft::detail {

class Driver;
// driver.cpp: Driver::turn and Driver::unpark (this header does not include the driver's).
void driver_turn(Driver* d, std::optional<std::chrono::nanoseconds> timeout);
void driver_unpark(Driver* d) noexcept;

class Parker {
  static constexpr int EMPTY = 0;
  static constexpr int PARKED = 1;
  static constexpr int NOTIFIED = 2;
  static constexpr int PARKED_DRIVER = 3;

 public:
  Parker() noexcept = default;
  /// A worker's parker: it may park in `driver` (set before any thread uses the parker).
  explicit Parker(Driver* driver) noexcept : driver_(driver) {}

  /// Parks by turning the driver (the caller holds the driver's lock, and this parker was
  /// made with it) for up to `timeout` (nullopt: until unparked or an event). True if
  /// unparked; false if the turn returned for another reason (an event, a timer, timeout).
  bool park_in_driver(std::optional<std::chrono::nanoseconds> timeout) {
    int expected = NOTIFIED;
    // Acquire: pairs with unpark's release exchange.
    if (state_.compare_exchange_strong(expected, EMPTY, std::memory_order_acquire)) return true;
    expected = EMPTY;
    // Relaxed on success: as PARKED in park(); failure means NOTIFIED arrived meanwhile.
    if (!state_.compare_exchange_strong(expected, PARKED_DRIVER, std::memory_order_relaxed)) {
      state_.exchange(EMPTY, std::memory_order_acquire);  // pairs with unpark's release
      return true;
    }
    bool notified = false;
    {
      // Leaves PARKED_DRIVER however the turn returns (an exception from epoll setup or a
      // std::bad_alloc included), else later unparks would write the eventfd instead of
      // leaving a token.
      struct Leave {
        std::atomic<int>& state;
        bool& notified;
        // Acquire: pairs with unpark's release exchange.
        ~Leave() { notified = state.exchange(EMPTY, std::memory_order_acquire) == NOTIFIED; }
      } leave{state_, notified};
      driver_turn(driver_, timeout);
    }
    return notified;
  }

  void park() noexcept {
    // Acquire: pairs with unpark's release exchange; the unparker's writes are visible.
    int expected = NOTIFIED;
    if (state_.compare_exchange_strong(expected, EMPTY, std::memory_order_acquire)) return;
    expected = EMPTY;
    // Relaxed on success: announcing PARKED publishes nothing; the acquire happens when we
    // consume NOTIFIED below. Failure means NOTIFIED arrived meanwhile.
    if (!state_.compare_exchange_strong(expected, PARKED, std::memory_order_relaxed)) {
      state_.exchange(EMPTY, std::memory_order_acquire);  // pairs with unpark's release
      return;
    }
    for (;;) {
      syscall(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAIT_PRIVATE, PARKED, nullptr, nullptr, 0);
      expected = NOTIFIED;
      // Acquire: pairs with unpark's release exchange. A spurious futex return leaves PARKED.
      if (state_.compare_exchange_strong(expected, EMPTY, std::memory_order_acquire)) return;
    }
  }

  /// As park, but returns after `timeout` at the latest. True if unparked, false on timeout.
  bool park_for(std::chrono::nanoseconds timeout) noexcept {
    int expected = NOTIFIED;
    // Acquire: pairs with unpark's release exchange.
    if (state_.compare_exchange_strong(expected, EMPTY, std::memory_order_acquire)) return true;
    expected = EMPTY;
    // Relaxed on success, as in park().
    if (!state_.compare_exchange_strong(expected, PARKED, std::memory_order_relaxed)) {
      state_.exchange(EMPTY, std::memory_order_acquire);  // pairs with unpark's release
      return true;
    }
    // A timeout past what the clock can represent (nanoseconds::max() for "no limit")
    // saturates instead of overflowing.
    const auto now = std::chrono::steady_clock::now();
    const auto room = std::chrono::steady_clock::time_point::max() - now;
    const auto deadline = timeout >= room ? std::chrono::steady_clock::time_point::max() : now + timeout;
    for (;;) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left > std::chrono::nanoseconds::zero()) {
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
        timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((left - secs).count())};
        syscall(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAIT_PRIVATE, PARKED, &ts, nullptr, 0);
      }
      expected = NOTIFIED;
      // Acquire: pairs with unpark's release exchange.
      if (state_.compare_exchange_strong(expected, EMPTY, std::memory_order_acquire)) return true;
      if (std::chrono::steady_clock::now() >= deadline) {
        expected = PARKED;
        // Relaxed: withdrawing the PARKED announcement publishes nothing. Failure means an
        // unpark arrived meanwhile: consume it (acquire, pairs with its release).
        if (state_.compare_exchange_strong(expected, EMPTY, std::memory_order_relaxed)) return false;
        state_.exchange(EMPTY, std::memory_order_acquire);
        return true;
      }
    }
  }

  /// Whether an unpark's token waits (the next park returns at once). Relaxed: a hint for a
  /// busy-polling owner; the park that follows consumes the token with an acquire RMW, which
  /// pairs with the unpark's release exchange.
  [[nodiscard]] bool has_token() const noexcept { return state_.load(std::memory_order_relaxed) == NOTIFIED; }

  void unpark() noexcept {
    // Release: pairs with park's acquire, so what the caller did before unpark (pushing a
    // task, setting a flag) is visible to the woken thread.
    const int prev = state_.exchange(NOTIFIED, std::memory_order_release);
    if (prev == PARKED)
      syscall(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    else if (prev == PARKED_DRIVER)
      driver_unpark(driver_);
  }

 private:
  static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free);
  std::atomic<int> state_{EMPTY};
  Driver* const driver_ = nullptr;
};

}  // namespace weft::detail
