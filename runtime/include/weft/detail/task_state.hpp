#pragma once
// The task state word: one atomic std::uint64_t holding flags and a reference count,
// after tokio's runtime/task/state.rs.
//
// Bits
//   RUNNING        a thread owns the task's frame and is polling (or cancelling) it.
//   COMPLETE       the output (value, exception or cancellation) is stored; terminal.
//   NOTIFIED       the task has been submitted to a run queue, or must be once it stops
//                  RUNNING. A queued task owns one reference (the "notified reference").
//   CANCELLED      abort was requested; the next owner of the frame cancels it instead of
//                  resuming it.
//   JOIN_INTEREST  a JoinHandle exists; it owns the output once COMPLETE is set.
//   JOIN_WAKER     the join waker field is written and belongs to the completing side.
//   refcount       the upper bits, in units of REF_ONE.
//
// References: a new task starts with three: the owned-task list's, the JoinHandle's, and
// the notified reference of its first scheduling. Every Waker clone holds one.
//
// Transitions (who -> what; CAS loops through `update`, or single RMWs where one suffices;
// acq_rel on success):
//   T1 to_running        worker popping a queued task: NOTIFIED & !RUNNING & !COMPLETE
//                        -> RUNNING, !NOTIFIED. Outcome Cancelled if CANCELLED is set
//                        (the popper then owns the frame and cancels it), Failed if
//                        RUNNING or COMPLETE (shutdown took it; drop the notified ref).
//   T2 to_idle           the runner after a Pending poll: CANCELLED -> stays RUNNING,
//                        outcome Cancelled. NOTIFIED -> !RUNNING, outcome OkNotified (the
//                        runner's reference becomes the new notified reference and the
//                        task is resubmitted exactly once). Else -> !RUNNING, outcome Ok
//                        (the runner drops its reference).
//   T3 to_complete       the runner: RUNNING -> COMPLETE, !RUNNING. Snapshot tells whether
//                        a JoinHandle is interested and whether its waker is set.
//   T4 to_notified       a wake: COMPLETE or NOTIFIED -> no-op. RUNNING -> +NOTIFIED
//                        (no submit; T2 resubmits). Idle -> +NOTIFIED, +REF_ONE, outcome
//                        Submit (the waker's thread schedules it).
//   T5 remote_abort      CANCELLED or COMPLETE -> no-op. RUNNING -> +CANCELLED +NOTIFIED.
//                        NOTIFIED -> +CANCELLED (the queue's owner cancels it). Idle ->
//                        +CANCELLED +NOTIFIED +REF_ONE, outcome Submit.
//   T6 to_shutdown       runtime shutdown, after its workers stopped: +CANCELLED; if
//                        !RUNNING & !COMPLETE also +RUNNING and outcome Success (the
//                        caller owns the frame; any queued reference fails T1 later).
//   T7 join handle       set_join_waker: !COMPLETE -> +JOIN_WAKER (after writing the
//                        field); unset_join_waker: !COMPLETE -> -JOIN_WAKER (to rewrite
//                        it); drop_join_interest: !COMPLETE -> -JOIN_INTEREST -JOIN_WAKER
//                        (the handle then clears the field itself). Each fails once
//                        COMPLETE is set, and the handle then owns the output.
//                        drop_join_handle_fast: !COMPLETE & !JOIN_WAKER -> -JOIN_INTEREST
//                        -REF_ONE in one step (the handle's whole drop); else no change.
//
// Memory orders: every successful transition is acq_rel, so what the runner wrote to the
// frame and the output before T2/T3 is visible to whoever observes the new state with
// acquire (the next runner after T1, the JoinHandle reading COMPLETE), and what a
// JoinHandle wrote to the waker field before T7 is visible to the completer after T3.
#include <atomic>
#include <cassert>
#include <cstdint>

namespace weft::detail {

inline constexpr std::uint64_t RUNNING = 1u << 0;
inline constexpr std::uint64_t COMPLETE = 1u << 1;
inline constexpr std::uint64_t NOTIFIED = 1u << 2;
inline constexpr std::uint64_t CANCELLED = 1u << 3;
inline constexpr std::uint64_t JOIN_INTEREST = 1u << 4;
inline constexpr std::uint64_t JOIN_WAKER = 1u << 5;
inline constexpr std::uint64_t REF_SHIFT = 6;
inline constexpr std::uint64_t REF_ONE = std::uint64_t{1} << REF_SHIFT;
inline constexpr std::uint64_t FLAGS_MASK = REF_ONE - 1;

/// A copy of the state word with named accessors.
struct Snapshot {
  std::uint64_t bits;
  [[nodiscard]] bool running() const noexcept { return bits & RUNNING; }
  [[nodiscard]] bool complete() const noexcept { return bits & COMPLETE; }
  [[nodiscard]] bool notified() const noexcept { return bits & NOTIFIED; }
  [[nodiscard]] bool cancelled() const noexcept { return bits & CANCELLED; }
  [[nodiscard]] bool join_interest() const noexcept { return bits & JOIN_INTEREST; }
  [[nodiscard]] bool join_waker() const noexcept { return bits & JOIN_WAKER; }
  [[nodiscard]] std::uint64_t refs() const noexcept { return bits >> REF_SHIFT; }
  [[nodiscard]] bool idle() const noexcept { return !(bits & (RUNNING | COMPLETE)); }
};

enum class [[nodiscard]] RunOutcome { Success, Cancelled, Failed };
enum class [[nodiscard]] IdleOutcome { Ok, OkNotified, Cancelled };
enum class [[nodiscard]] NotifyOutcome { Submit, DoNothing };
enum class [[nodiscard]] JoinOutcome { Success, Complete };

class TaskState {
 public:
  TaskState() noexcept : word_(3 * REF_ONE | NOTIFIED | JOIN_INTEREST) {}

  /// Acquire: pairs with the acq_rel transitions that published the frame / output.
  [[nodiscard]] Snapshot load() const noexcept { return {word_.load(std::memory_order_acquire)}; }

  // T1
  RunOutcome to_running() noexcept {
    RunOutcome out = RunOutcome::Success;
    update([&](Snapshot& s) {
      if (s.running() || s.complete()) {
        out = RunOutcome::Failed;
        return false;
      }
      assert(s.notified());
      s.bits = (s.bits | RUNNING) & ~NOTIFIED;
      out = s.cancelled() ? RunOutcome::Cancelled : RunOutcome::Success;
      return true;
    });
    return out;
  }

  // T2
  IdleOutcome to_idle() noexcept {
    IdleOutcome out = IdleOutcome::Ok;
    update([&](Snapshot& s) {
      assert(s.running());
      if (s.cancelled()) {
        out = IdleOutcome::Cancelled;
        return false;
      }
      s.bits &= ~RUNNING;
      out = s.notified() ? IdleOutcome::OkNotified : IdleOutcome::Ok;
      return true;
    });
    return out;
  }

  // T3: returns the state just after completion.
  Snapshot to_complete() noexcept {
    // AcqRel: release publishes the output to the JoinHandle (pairs with its acquire load);
    // acquire sees the handle's last JOIN_INTEREST / JOIN_WAKER change and waker write.
    std::uint64_t prev = word_.fetch_xor(RUNNING | COMPLETE, std::memory_order_acq_rel);
    assert((prev & RUNNING) && !(prev & COMPLETE));
    return {prev ^ (RUNNING | COMPLETE)};
  }

  // T4
  NotifyOutcome to_notified() noexcept {
    NotifyOutcome out = NotifyOutcome::DoNothing;
    update([&](Snapshot& s) {
      if (s.complete() || s.notified()) {
        out = NotifyOutcome::DoNothing;
        return false;
      }
      s.bits |= NOTIFIED;
      if (s.running()) {
        out = NotifyOutcome::DoNothing;
      } else {
        s.bits += REF_ONE;
        out = NotifyOutcome::Submit;
      }
      return true;
    });
    return out;
  }

  // T5
  NotifyOutcome remote_abort() noexcept {
    NotifyOutcome out = NotifyOutcome::DoNothing;
    update([&](Snapshot& s) {
      if (s.complete() || s.cancelled()) {
        out = NotifyOutcome::DoNothing;
        return false;
      }
      if (s.running()) {
        s.bits |= CANCELLED | NOTIFIED;
        out = NotifyOutcome::DoNothing;
      } else if (s.notified()) {
        s.bits |= CANCELLED;
        out = NotifyOutcome::DoNothing;
      } else {
        s.bits += REF_ONE;
        s.bits |= CANCELLED | NOTIFIED;
        out = NotifyOutcome::Submit;
      }
      return true;
    });
    return out;
  }

  // T6
  [[nodiscard]] bool to_shutdown() noexcept {
    bool owned = false;
    update([&](Snapshot& s) {
      owned = s.idle();
      if (owned) s.bits |= RUNNING;
      s.bits |= CANCELLED;
      return true;
    });
    return owned;
  }

  // T7
  JoinOutcome set_join_waker() noexcept {
    return join_update([](Snapshot& s) { s.bits |= JOIN_WAKER; });
  }
  JoinOutcome unset_join_waker() noexcept {
    return join_update([](Snapshot& s) { s.bits &= ~JOIN_WAKER; });
  }
  JoinOutcome drop_join_interest() noexcept {
    return join_update([](Snapshot& s) { s.bits &= ~(JOIN_INTEREST | JOIN_WAKER); });
  }
  /// T7 fast path (tokio's drop_join_handle_fast): a JoinHandle dropped while the task is
  /// not complete and no join waker is set drops its interest and its reference in one step.
  /// Not the last reference: an incomplete task's owned-list reference is still held. False
  /// (nothing changed) when the slow path (drop_join_interest, then ref_dec) is needed.
  [[nodiscard]] bool drop_join_handle_fast() noexcept {
    bool done = false;
    update([&](Snapshot& s) {
      assert(s.join_interest());
      if (s.complete() || s.join_waker()) return false;
      assert(s.refs() >= 2);
      s.bits = (s.bits & ~JOIN_INTEREST) - REF_ONE;
      done = true;
      return true;
    });
    return done;
  }

  void ref_inc() noexcept {
    // Relaxed: a reference is only made from an existing one, which keeps the task alive;
    // nothing is published by the increment itself (as in std::shared_ptr).
    word_.fetch_add(REF_ONE, std::memory_order_relaxed);
  }
  /// Drops n references; true if they were the last ones (the caller deallocates).
  [[nodiscard]] bool ref_dec(std::uint64_t n = 1) noexcept {
    // AcqRel: release orders this holder's uses before the free; the last dropper's acquire
    // sees all of them before it deallocates.
    std::uint64_t prev = word_.fetch_sub(n * REF_ONE, std::memory_order_acq_rel);
    assert((prev >> REF_SHIFT) >= n);
    return (prev >> REF_SHIFT) == n;
  }

 private:
  // The one read-modify-write helper: f edits a snapshot and returns whether to store it.
  template <class F>
  void update(F&& f) noexcept {
    // Acquire on the first load and on failure: pairs with the acq_rel success of other
    // transitions, so the decision is made on a state whose writes we can see.
    std::uint64_t cur = word_.load(std::memory_order_acquire);
    for (;;) {
      Snapshot s{cur};
      if (!f(s)) return;
      // AcqRel on success (see the memory-order note at the top); acquire on failure, as above.
      if (word_.compare_exchange_weak(cur, s.bits, std::memory_order_acq_rel, std::memory_order_acquire))
        return;
    }
  }
  template <class F>
  JoinOutcome join_update(F&& edit) noexcept {
    JoinOutcome out = JoinOutcome::Success;
    update([&](Snapshot& s) {
      assert(s.join_interest());
      if (s.complete()) {
        out = JoinOutcome::Complete;
        return false;
      }
      edit(s);
      out = JoinOutcome::Success;
      return true;
    });
    return out;
  }

  std::atomic<std::uint64_t> word_;
};

}  // namespace weft::detail
