#pragma once
// AtomicWaker: one waker slot that a single consumer registers into and any thread wakes,
// lock-free. After futures-rs' AtomicWaker.
//
// State machine (`state_`):
//   WAITING                no one is touching the slot.
//   REGISTERING            the consumer is writing the slot (it owns it).
//   WAKING                 a waker is taking the slot (it owns it).
//   REGISTERING | WAKING   a wake arrived while registering: the registrar wakes the waker
//                          it just stored when it finishes.
// register_waker: WAITING -> REGISTERING (acquire), write, REGISTERING -> WAITING (acq_rel);
//   if that CAS fails a wake raced in: take the waker, reset to WAITING, wake it.
//   If the state was WAKING, wake the new waker directly (a wake is in progress).
// wake: fetch_or(WAKING); if it was WAITING we own the slot: take, clear WAKING, wake.
// Guarantee: a wake() that happens after register_waker(w) returns wakes w (or a later
// waker); a wake() that races with register_waker wakes the waker being registered.
#include <atomic>
#include <optional>
#include <utility>

#include "weft/waker.hpp"

namespace weft {

class AtomicWaker {
  static constexpr unsigned WAITING = 0;
  static constexpr unsigned REGISTERING = 1;
  static constexpr unsigned WAKING = 2;

 public:
  AtomicWaker() = default;
  AtomicWaker(const AtomicWaker&) = delete;
  AtomicWaker& operator=(const AtomicWaker&) = delete;

  /// Called by the single consumer (concurrent register calls are not supported).
  void register_waker(const Waker& w) noexcept {
    unsigned expected = WAITING;
    // Acquire: pairs with the release that last left WAITING, so we see the slot as it was.
    if (state_.compare_exchange_strong(expected, REGISTERING, std::memory_order_acquire,
                                       std::memory_order_acquire)) {
      // The replaced waker is dropped after the slot is released (its drop may re-enter).
      // (An optional: the common case, the same waker again, costs no Waker construction.)
      std::optional<Waker> replaced;
      if (!waker_.will_wake(w)) replaced.emplace(std::exchange(waker_, w));
      expected = REGISTERING;
      // AcqRel: release publishes the slot to the next taker; acquire pairs with a racing
      // wake's fetch_or when this fails.
      if (!state_.compare_exchange_strong(expected, WAITING, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        // A wake came in while we registered (state is REGISTERING | WAKING): we still own
        // the slot; honour the wake.
        Waker taken = std::move(waker_);
        // AcqRel: hands the slot back to everyone.
        state_.exchange(WAITING, std::memory_order_acq_rel);
        std::move(taken).wake();
      }
      return;
    }
    if (expected == WAKING) {
      // A wake is taking the old waker right now; make sure this one is woken too.
      w.wake_by_ref();
    }
    // REGISTERING: a concurrent register (misuse); nothing sensible to do.
  }

  /// Wakes the registered waker, if any. Any thread.
  void wake() noexcept {
    Waker w = take();
    std::move(w).wake();
  }

  /// Takes the registered waker (a no-op waker if none or if a wake is in progress).
  Waker take() noexcept {
    // AcqRel: acquire pairs with the registrar's release; release orders our take.
    unsigned prev = state_.fetch_or(WAKING, std::memory_order_acq_rel);
    if (prev == WAITING) {
      Waker w = std::move(waker_);
      // Release: pairs with the next registrar's acquire.
      state_.fetch_and(~WAKING, std::memory_order_release);
      return w;
    }
    return Waker();
  }

 private:
  std::atomic<unsigned> state_{WAITING};
  Waker waker_;  // guarded by the state protocol above
};

}  // namespace weft
