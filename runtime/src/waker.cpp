// The two wakers the runtime makes: the no-op waker (a default-constructed Waker) and a
// task's waker (task_waker_vtable: its data is the task's Header; each Waker holds one
// reference to the task, see task_state.hpp).
#include "weft/waker.hpp"

#include "harness.hpp"

namespace weft {
namespace {
void* noop_clone(void* d) noexcept { return d; }
void noop(void*) noexcept {}
}  // namespace
const WakerVTable detail::noop_waker_vtable{&noop_clone, &noop, &noop, &noop};

namespace detail {
namespace {
void* task_waker_clone(void* d) noexcept {
  static_cast<Header*>(d)->state.ref_inc();
  return d;
}
void task_waker_wake_by_ref(void* d) noexcept {
  auto* t = static_cast<Header*>(d);
  // T4: Submit hands us a new notified reference, for the run queue.
  if (t->state.to_notified() == NotifyOutcome::Submit) schedule_notified(t);
}
void task_waker_drop(void* d) noexcept { drop_task_ref(static_cast<Header*>(d)); }
void task_waker_wake(void* d) noexcept {
  // Consumes the waker's reference.
  TaskRef own = TaskRef::adopt(static_cast<Header*>(d));
  task_waker_wake_by_ref(d);
}
}  // namespace
const WakerVTable task_waker_vtable{&task_waker_clone, &task_waker_wake, &task_waker_wake_by_ref, &task_waker_drop};
}  // namespace detail

}  // namespace weft
