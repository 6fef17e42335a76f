// weft::time's entry points into the runtime's time driver (weft/time.hpp).
#include "weft/time.hpp"

#include <stdexcept>

#include "scheduler.hpp"
#include "weft/detail/alloc.hpp"

namespace weft::detail {

// A Sleep's timer: its node in the runtime's wheel, and a reference to the scheduler that owns
// the wheel (a Sleep may outlive its runtime; the wheel then lives until the Sleep is gone).
struct TimerHandle {
  // The banked task references (no shared-counter traffic on a worker).
  explicit TimerHandle(Scheduler* sched) noexcept : s(sched) { scheduler_task_ref_acquire(s); }
  ~TimerHandle() { scheduler_task_ref_release(s); }
  TimerHandle(const TimerHandle&) = delete;
  TimerHandle& operator=(const TimerHandle&) = delete;
  Scheduler* const s;
  TimerNode node;
  // From weft's allocator (WEFT_ALLOCATOR), as task cells and the channels' nodes.
  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
};

namespace {
Driver* current_driver() noexcept {
  Scheduler* s = current_scheduler();
  return s != nullptr ? s->driver() : nullptr;
}

TimeDriver& time_driver_of(Scheduler* s, const char* what) {
  if (s == nullptr) throw std::logic_error(std::string(what) + ": not inside a weft runtime");
  Driver* d = s->driver();
  if (d == nullptr || d->time() == nullptr)
    throw std::logic_error(std::string(what) + ": the runtime has enable_time off");
  return *d->time();
}

TimeDriver& paused_clock_driver(const char* what) {
  Scheduler* s = current_scheduler();
  TimeDriver& t = time_driver_of(s, what);
  if (!s->is_current_thread())
    throw std::logic_error(std::string(what) + ": the paused clock needs a current_thread runtime");
  return t;
}
}  // namespace

TimerHandle* timer_new() {
  Scheduler* s = current_scheduler();
  (void)time_driver_of(s, "weft::time::Sleep");
  return new TimerHandle(s);
}

bool timer_poll(TimerHandle* t, time::Instant deadline, Context& cx) {
  Driver& d = *t->s->driver();
  bool unpark = false;
  switch (d.time()->poll(t->node, deadline, cx.waker(), unpark)) {
    case TimeDriver::Poll::Ready:
      return true;
    case TimeDriver::Poll::Shutdown:
      throw std::runtime_error("weft::time::Sleep: the runtime shut down");
    case TimeDriver::Poll::Pending:
      break;
  }
  if (unpark) d.unpark();
  return false;
}

void timer_cancel(TimerHandle* t) noexcept { t->s->driver()->time()->cancel(t->node); }

void timer_delete(TimerHandle* t) noexcept {
  t->s->driver()->time()->cancel(t->node);
  delete t;
}

time::Instant time_now() noexcept {
  Driver* d = current_driver();
  if (d == nullptr || d->time() == nullptr) return std::chrono::steady_clock::now();
  return d->time()->now();
}

void time_pause() {
  if (!paused_clock_driver("weft::time::pause").pause())
    throw std::logic_error("weft::time::pause: the clock is already paused");
}

void time_resume() {
  if (!paused_clock_driver("weft::time::resume").resume())
    throw std::logic_error("weft::time::resume: the clock is not paused");
}

void time_advance(time::Duration d) {
  TimeDriver& t = paused_clock_driver("weft::time::advance");
  if (!t.advance(d)) throw std::logic_error("weft::time::advance: the clock is not paused");
  (void)t.process();
}

}  // namespace weft::detail
