#pragma once
// Parker: one thread sleeps in park(), any thread wakes it with unpark(). A notification
// given before park() is kept (a token), so an unpark is never lost. Built on a futex.
//
// States: EMPTY -> (park) PARKED -> (unpark) NOTIFIED -> (park returns) EMPTY.
//         EMPTY -> (unpark) NOTIFIED -> (park consumes it at once) EMPTY.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
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
