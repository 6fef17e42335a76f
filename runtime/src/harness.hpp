#pragma once
// The task harness: drives a task cell (weft/detail/task_cell.hpp) through the transitions
// of its state word (weft/detail/task_state.hpp): poll, complete, cancel. The scheduler
// decides where tasks go; the harness decides what happens to a task it is handed.
// After tokio's runtime/task/harness.rs.
//
// References are typed here: a Notified is the reference a scheduled task holds (the
// "notified reference"); a TaskRef any other. Both give their reference back when
// destroyed, so a path that forgets one cannot leak it, and one cannot be dropped twice.
#include <utility>

#include "weft/detail/task_cell.hpp"
#include "weft/future.hpp"
#include "weft/waker.hpp"

namespace weft::detail {

class OwnedTasks;

/// The notified reference of a scheduled task (NOTIFIED in the state word): what a run
/// queue, the LIFO slot and the injection queue hold for a task. Running the task
/// (Harness::poll) consumes it. Move-only.
class Notified {
 public:
  Notified() noexcept = default;
  /// Takes over a notified reference the caller holds (a queue's slot, a wake's Submit).
  [[nodiscard]] static Notified adopt(Header* t) noexcept { return Notified(TaskRef::adopt(t)); }

  [[nodiscard]] Header* get() const noexcept { return ref_.get(); }
  Header* operator->() const noexcept { return ref_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  /// Gives the reference to a queue or slot, which stores a raw pointer.
  [[nodiscard]] Header* into_raw() && noexcept { return std::move(ref_).into_raw(); }
  /// The same reference, no longer as the notified one (the task is running or done).
  [[nodiscard]] TaskRef into_ref() && noexcept { return std::move(ref_); }

 private:
  explicit Notified(TaskRef r) noexcept : ref_(std::move(r)) {}
  TaskRef ref_;
};

class Harness {
 public:
  /// Runs a scheduled task: T1, then a poll of its frame (or its cancellation), then T3 or
  /// T2. Returns the task's new notified reference if it was woken while it ran (a yield:
  /// the caller queues it again), else an empty Notified (completed, cancelled, waiting for
  /// a wake, or not runnable because shutdown took it). noexcept: a poll cannot throw (a
  /// task's exception is its outcome); if one did between T1 and T2/T3, dropping the
  /// running reference with RUNNING set would corrupt the task, so it terminates instead.
  /// Consumes `scheduled` (an rvalue reference only to spare a temporary on the hot path).
  [[nodiscard]] static Notified poll(Notified&& scheduled, OwnedTasks& owned) noexcept;

  /// A task spawned after shutdown (never bound to the owned list, never polled): completes
  /// it as cancelled. Consumes its first notified reference.
  static void cancel_unbound(Notified task, OwnedTasks& owned) noexcept;

  /// Runtime shutdown found `t` in the owned list (with the list's reference): T6, and if it
  /// then owns the frame, cancels it.
  static void shutdown(TaskRef listed, OwnedTasks& owned) noexcept;

 private:
  // Stores the cancelled outcome and completes; `running` is the reference the RUNNING
  // holder uses (the consumed notified reference, or the owned list's at shutdown).
  static void cancel_and_complete(TaskRef running, const char* why, OwnedTasks& owned) noexcept;
  static void complete(TaskRef running, OwnedTasks& owned) noexcept;
};

// Inlined (forced: GCC would not) into the scheduler's poll_task, its one caller: it is the
// hot path of every task poll (measured: 55 more instructions per poll out of line).
[[gnu::always_inline]] inline Notified Harness::poll(Notified&& scheduled, OwnedTasks& owned) noexcept {
  // Taken over here, so every path below that does not hand it on drops it on return
  // (before the caller looks at its LIFO slot, where a deallocation may schedule a task).
  Notified task = std::move(scheduled);
  Header* t = task.get();
  switch (t->state.to_running()) {  // T1
    case RunOutcome::Failed:
      return {};  // shutdown took it; `task` drops the queue's reference
    case RunOutcome::Cancelled:
      cancel_and_complete(std::move(task).into_ref(), "task was aborted", owned);
      return {};
    case RunOutcome::Success:
      break;
  }
  WakerRef waker(&task_waker_vtable, t);
  Context cx(waker.get());
  // R1: we hold RUNNING, so the frame is ours.
  if (drive(t->root, t->leaf, cx)) {
    t->vtable->store_output(t);
    complete(std::move(task).into_ref(), owned);
    return {};
  }
  switch (t->state.to_idle()) {  // T2
    case IdleOutcome::Ok:
      return {};  // waiting for a wake; `task` drops the running reference
    case IdleOutcome::OkNotified:
      return task;  // woken while running: the running reference is the new notified one
    case IdleOutcome::Cancelled:
      cancel_and_complete(std::move(task).into_ref(), "task was aborted", owned);
      return {};
  }
  return {};
}

}  // namespace weft::detail
