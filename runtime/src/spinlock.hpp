#pragma once
// A test-and-test-and-set spinlock for critical sections of a few instructions (linking a
// task into the owned-task list). Unlock is a single release store, where std::mutex pays
// a second atomic RMW.
#include <atomic>
#include <thread>

namespace weft::detail {

class Spinlock {
 public:
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      // Acquire: pairs with unlock's release; the previous holder's writes are visible.
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      // Relaxed: wait until it looks free before trying the RMW again.
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
  // Release: pairs with lock()'s acquire exchange; our writes are visible to the next holder.
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace weft::detail
