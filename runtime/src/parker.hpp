#pragma once
// Parker: one thread sleeps in park(), any thread wakes it with unpark(). A notification
// given before park() is kept (a token), so an unpark is never lost. Built on a futex.
//
// States: EMPTY -> (park) PARKED -> (unpark) NOTIFIED -> (park returns) EMPTY.
//         EMPTY -> (unpark) NOTIFIED -> (park consumes it at once) EMPTY.
//         PARKED -> (park_for times out) EMPTY, unless NOTIFIED won the race (then consumed).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <time.h>

#include <atomic>
#include <chrono>
#include <climits>

namespace weft::detail {

class Parker {
  static constexpr int EMPTY = 0;
  static constexpr int PARKED = 1;
  static constexpr int NOTIFIED = 2;

 public:
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

  void unpark() noexcept {
    // Release: pairs with park's acquire, so what the caller did before unpark (pushing a
    // task, setting a flag) is visible to the woken thread.
    if (state_.exchange(NOTIFIED, std::memory_order_release) == PARKED)
      syscall(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

 private:
  static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free);
  std::atomic<int> state_{EMPTY};
};

}  // namespace weft::detail
