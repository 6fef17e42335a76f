// The task harness (see harness.hpp), and the cell entry points the public headers use
// (task_cell.hpp): task ids, reference drops, scheduling a notified task.
#include "harness.hpp"

#include <atomic>

#include "owned_tasks.hpp"
#include "scheduler.hpp"

namespace weft::detail {

std::uint64_t next_task_id() noexcept {
  // Ids come in per-thread blocks so spawning threads do not share a counter's cache line.
  static std::atomic<std::uint64_t> next_block{1};
  constexpr std::uint64_t block = 1024;
  thread_local std::uint64_t next = 0, limit = 0;
  if (next == limit) {
    // Relaxed: only uniqueness matters, which the RMW gives.
    next = next_block.fetch_add(block, std::memory_order_relaxed);
    limit = next + block;
  }
  return next++;
}

void drop_task_ref(Header* t) noexcept {
  if (t->state.ref_dec()) t->vtable->dealloc(t);
}

void schedule_notified(Header* t) noexcept { t->sched->schedule(t); }

void Harness::cancel_unbound(Notified task, OwnedTasks& owned) noexcept {
  // The owned list's share of the initial references (task_state.hpp) was never taken by
  // the list: drop it with the rest.
  TaskRef list_share = TaskRef::adopt(task.get());
  (void)task->state.to_running();  // T1 on a fresh task: succeeds
  cancel_and_complete(std::move(task).into_ref(), "runtime is shut down", owned);
}

void Harness::shutdown(TaskRef listed, OwnedTasks& owned) noexcept {
  // T6: success means we hold RUNNING, and the list's reference serves as the running one.
  if (listed->state.to_shutdown()) cancel_and_complete(std::move(listed), "runtime is shut down", owned);
}

void Harness::cancel_and_complete(TaskRef running, const char* why, OwnedTasks& owned) noexcept {
  running->vtable->cancel(running.get(), why);
  complete(std::move(running), owned);
}

void Harness::complete(TaskRef running, OwnedTasks& owned) noexcept {
  Header* t = running.get();
  Snapshot s = t->state.to_complete();  // T3
  if (!s.join_interest()) {
    t->vtable->drop_output(t);  // R2: nobody will read it
  } else if (s.join_waker()) {
    t->join_waker.wake_by_ref();  // R3: the field is ours to read while JOIN_WAKER is set
  }
  // The running reference, plus the owned list's unless shutdown already unlinked it: one
  // atomic step for both.
  const bool linked = owned.remove(t);
  t = std::move(running).into_raw();
  if (t->state.ref_dec(linked ? 2 : 1)) t->vtable->dealloc(t);
}

}  // namespace weft::detail
