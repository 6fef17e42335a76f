// The current_thread flavour's driver: the thread in block_on drives the one worker until
// its future is ready. Several threads may call block_on at once: one holds the core and
// drives; the others wait for their own future or for the core, whichever comes first (as
// tokio's block_on does).
#include <atomic>
#include <memory>

#include "scheduler.hpp"

namespace weft::detail {

bool Scheduler::block_on_current_thread(FunctionRef<bool(Context&)> ready, Parker& own, Context& own_cx) {
  // No lost release: a waiter lists itself in core_waiters_, then tries the lock again; a
  // driver unlocks, then unparks every listed waiter. Either the retry sees the lock free,
  // or the driver's unpark (after its unlock) finds the waiter listed.
  for (;;) {
    std::unique_lock core(core_mu_, std::try_to_lock);
    if (!core.owns_lock()) {
      {
        std::lock_guard l(core_waiters_mu_);
        core_waiters_.push_back(&own);
      }
      struct Unlist {
        Scheduler* s;
        Parker* p;
        ~Unlist() {
          std::lock_guard l(s->core_waiters_mu_);
          std::erase(s->core_waiters_, p);
        }
      } unlist{this, &own};
      {
        EnterScope entered(this);
        if (ready(own_cx)) return true;
      }
      if (!core.try_lock()) {
        own.park();
        continue;
      }
    }
    // However drive() returns (a throwing future included), a waiter can take the core.
    CoreRelease release{this, core};
    return drive(ready);
  }
}

void Scheduler::unpark_core_waiters() {
  std::lock_guard l(core_waiters_mu_);
  for (Parker* p : core_waiters_) p->unpark();
}

namespace {
// The waker of block_on's future while a thread drives: sets `woken` and unparks the
// driver. It holds a scheduler reference, so a clone that outlives the runtime stays valid.
struct DriverWake {
  explicit DriverWake(Scheduler* sched, Parker* p) noexcept : s(sched), parker(p) { scheduler_ref_inc(s); }
  ~DriverWake() { scheduler_ref_dec(s); }
  DriverWake(const DriverWake&) = delete;
  DriverWake& operator=(const DriverWake&) = delete;
  // Written by any waking thread, exchanged by the driver (see drive()).
  std::atomic<bool> woken{true};
  Scheduler* s;
  Parker* parker;  // the worker's, valid while the scheduler is
};
}  // namespace

// The loop, after tokio's CoreGuard::block_on: poll the future when its waker fired, then
// run up to event_interval tasks (stopping early once the future is woken), then park when
// there is nothing to run. No lost wake-up: every wake of this worker (the future's waker,
// a remote schedule, shutdown) is an unpark of its Parker after the event is published,
// and a Parker keeps a token: a park after the event returns at once.
bool Scheduler::drive(FunctionRef<bool(Context&)> ready) {
  Worker& w = *workers_[0];
  TlsWorkerScope scope(&w);
  auto wake = std::make_shared<DriverWake>(this, &w.parker);
  Waker waker = Waker::from_fn([wake] {
    // Release: pairs with the driver's acquire exchange; what the waker's thread did
    // before waking is visible to the poll it causes.
    wake->woken.store(true, std::memory_order_release);
    wake->parker->unpark();
  });
  Context cx(waker);
  w.tuner.start_batch();
  for (;;) {
    // Acquire: pairs with the waker's release store.
    if (wake->woken.exchange(false, std::memory_order_acquire)) {
      // The future is polled as block_on's own, not as a task of this worker: what it
      // spawns or wakes goes through the injection queue (a LIFO push from here would land
      // in the slot of a worker that is not running a task).
      TlsWorkerScope outside(nullptr);
      EnterScope entered(this);
      if (ready(cx)) return true;
    }
    // After the poll: a future that became ready just before shutdown is still taken.
    if (shutting_down()) return false;
    bool ran = false;
    for (std::uint32_t i = 0; i < opts_.event_interval; ++i) {
      begin_tick(w);
      Notified t = next_task(w);
      if (!t) break;
      ran = true;
      run_task(w, std::move(t));
      // Relaxed: a hint to poll the future sooner; the exchange above synchronizes.
      if (wake->woken.load(std::memory_order_relaxed) || shutting_down()) break;
    }
    // Relaxed: as above.
    if (ran || wake->woken.load(std::memory_order_relaxed)) continue;
    // Closes the tuner's batch before the idle time (the park below turns the driver).
    maintenance(w, MaintenancePoll::skip_driver);
    (void)park_thread(w, std::nullopt, false);  // in the driver (I/O, timers), or until unparked
    w.tuner.start_batch();
  }
}

}  // namespace weft::detail
