// The work-stealing scheduler. See scheduler.hpp for the structure and task_state.hpp for
// the task state machine whose transitions this file drives.
#include "scheduler.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "weft/coop.hpp"
#include "weft/detail/random.hpp"

namespace weft::detail {

namespace {
// The worker this thread is acting as (a worker thread, or a current_thread block_on).
thread_local Worker* tls_worker = nullptr;

std::size_t resolve_workers(const RuntimeOptions& o) {
  if (o.flavor == Flavor::current_thread) return 1;
  if (o.worker_threads != 0) return o.worker_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

struct TlsWorkerScope {
  Worker* saved;
  explicit TlsWorkerScope(Worker* w) noexcept : saved(tls_worker) { tls_worker = w; }
  ~TlsWorkerScope() { tls_worker = saved; }
};

// The runtime this thread has entered without being one of its workers: a thread waiting
// in a multi_thread block_on, or the thread destroying the runtime (so a task destructor
// run by shutdown can call weft::spawn or Handle::current, as in tokio; the spawned task is
// cancelled at once).
thread_local Scheduler* tls_entered = nullptr;
struct EnterScope {
  Scheduler* saved;
  explicit EnterScope(Scheduler* s) noexcept : saved(tls_entered) { tls_entered = s; }
  ~EnterScope() { tls_entered = saved; }
};
}  // namespace

// ---- entry points used by the public headers ----

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
void scheduler_ref_inc(Scheduler* s) noexcept { s->ref_inc(); }
void scheduler_ref_dec(Scheduler* s) noexcept { s->ref_dec(); }
void scheduler_task_ref_acquire(Scheduler* s) noexcept { s->task_ref_acquire(); }
void scheduler_task_ref_release(Scheduler* s) noexcept { s->task_ref_release(); }
void scheduler_spawn(Scheduler* s, Header* t) { s->spawn(t); }
void schedule_notified(Header* t) noexcept { t->sched->schedule(t); }
void drop_task_ref(Header* t) noexcept {
  if (t->state.ref_dec()) t->vtable->dealloc(t);
}
Scheduler* current_scheduler() noexcept { return tls_worker ? tls_worker->sched : tls_entered; }
std::uint32_t random_below(std::uint32_t n) noexcept {
  if (Worker* w = tls_worker) return w->next_random(n);
  thread_local XorShift64 g{0x2545F4914F6CDD1Dull ^ reinterpret_cast<std::uintptr_t>(&g)};
  return g.below(n);
}

namespace {
void* task_waker_clone(void* d) noexcept {
  static_cast<Header*>(d)->state.ref_inc();
  return d;
}
void task_waker_wake_by_ref(void* d) noexcept {
  auto* t = static_cast<Header*>(d);
  if (t->state.to_notified() == NotifyOutcome::Submit) t->sched->schedule(t);
}
void task_waker_drop(void* d) noexcept { drop_task_ref(static_cast<Header*>(d)); }
void task_waker_wake(void* d) noexcept {
  task_waker_wake_by_ref(d);
  task_waker_drop(d);
}
}  // namespace
const WakerVTable task_waker_vtable{&task_waker_clone, &task_waker_wake, &task_waker_wake_by_ref, &task_waker_drop};

// ---- Scheduler ----

Scheduler::Scheduler(RuntimeOptions opts) : opts_(std::move(opts)), idle_(resolve_workers(opts_)) {
  if (opts_.global_queue_interval && *opts_.global_queue_interval == 0)
    throw std::invalid_argument("weft::RuntimeOptions: global_queue_interval must be > 0 (or unset: self-tuning)");
  if (opts_.event_interval == 0) throw std::invalid_argument("weft::RuntimeOptions: event_interval must be > 0");
  if (opts_.randomize_schedule && (opts_.flavor != Flavor::current_thread || !opts_.rng_seed))
    throw std::invalid_argument(
        "weft::RuntimeOptions: randomize_schedule needs the current_thread flavour and an rng_seed");
  std::size_t n = resolve_workers(opts_);
  if (n > 4096) throw std::invalid_argument("weft::RuntimeOptions: worker_threads must be at most 4096");
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i, n));
    if (opts_.global_queue_interval) workers_.back()->global_queue_interval = *opts_.global_queue_interval;
    if (opts_.rng_seed) {
      // splitmix64 of (seed, index): distinct, non-zero xorshift states per worker.
      std::uint64_t z = *opts_.rng_seed + 0x9E3779B97F4A7C15ull * (i + 1);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      workers_.back()->rng.state = z != 0 ? z : 1;
    }
  }
}

Scheduler::~Scheduler() = default;

void Scheduler::ref_inc() noexcept {
  // Relaxed: made from an existing reference (as in std::shared_ptr).
  refs_->fetch_add(1, std::memory_order_relaxed);
}
void Scheduler::ref_dec() noexcept {
  // AcqRel: the last dropper sees every other holder's uses before deleting.
  if (refs_->fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

// The reference bank. Invariant: refs_ = Runtime + Handles + cells holding a reference +
// the sum of the workers' ref_bank. A bank is only touched by its worker's thread (or by
// shutdown after the workers stopped), so handing out and taking back needs no atomic; a
// bank never goes below zero, so refs_ cannot reach zero while a cell or the Runtime
// holds a reference. A cell's reference may come from one bank and go back to another, or
// to refs_ directly (a cell freed on a non-worker thread): references are interchangeable.
void Scheduler::task_ref_acquire() noexcept {
  Worker* w = tls_worker;
  if (w == nullptr || w->sched != this) return ref_inc();
  if (w->ref_bank == 0) {
    // Relaxed: made while a reference is held (the spawner's Handle or Runtime, or this
    // running worker's scheduler, kept alive by the Runtime), as in ref_inc.
    refs_->fetch_add(ref_bank_batch, std::memory_order_relaxed);
    w->ref_bank = ref_bank_batch;
  }
  --w->ref_bank;
}

void Scheduler::task_ref_release() noexcept {
  Worker* w = tls_worker;
  if (w == nullptr || w->sched != this) return ref_dec();
  if (++w->ref_bank > 2 * ref_bank_batch) {
    w->ref_bank -= ref_bank_batch;
    // Release: orders the cells' uses of the scheduler before a later final ref_dec's
    // acquire. It cannot reach zero: this bank still holds ref_bank_batch references.
    refs_->fetch_sub(ref_bank_batch, std::memory_order_release);
  }
}

void Scheduler::start() {
  if (is_current_thread()) return;
  for (auto& w : workers_) {
    Worker* wp = w.get();
    w->thread = std::thread([this, wp] { worker_main(*wp); });
  }
}

void Scheduler::worker_main(Worker& w) {
  std::string name = opts_.thread_name + "-" + std::to_string(w.index);
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
  TlsWorkerScope scope(&w);
  if (opts_.on_thread_start) opts_.on_thread_start();
  run_worker(w, nullptr);
  if (opts_.on_thread_stop) opts_.on_thread_stop();
}

bool Scheduler::should_stop(const std::function<bool()>* stop) const {
  // Acquire: pairs with shutdown()'s release store.
  if (shutdown_.load(std::memory_order_acquire)) return true;
  return stop != nullptr && (*stop)();
}

void Scheduler::run_worker(Worker& w, const std::function<bool()>* stop) {
  w.tuner.start_batch();
  for (;;) {
    const std::uint32_t tick = w.tick() + 1;
    // Relaxed: rescuers only compare two readings of this counter for change (rescue_stuck).
    w.ticks.store(tick, std::memory_order_relaxed);
    // Maintenance every event_interval ticks; a current_thread driver checks its stop
    // condition (its root task finished) after every task.
    if (tick % opts_.event_interval == 0) {
      maintenance(w);
      if (should_stop(stop)) return;
    } else if (stop != nullptr && should_stop(stop)) {
      return;
    }
    Header* t = next_task(w);
    if (t == nullptr) t = steal_work(w);
    if (t != nullptr) {
      run_task(w, t);
      continue;
    }
    if (should_stop(stop)) return;
    maintenance(w);  // closes the tuner's batch before the idle time
    t = park(w, stop);
    w.tuner.start_batch();
    if (t != nullptr) run_task(w, t);  // taken from a stuck worker's LIFO slot
  }
}

void Scheduler::maintenance(Worker& w) {
  if (!opts_.global_queue_interval) {
    w.global_queue_interval = w.tuner.end_batch();
    w.tuner.start_batch();
  }
}

Header* Scheduler::next_task(Worker& w) {
  if (opts_.randomize_schedule) return next_random_task(w);
  if (w.inject_first || w.tick() % w.global_queue_interval == 0) {
    w.inject_first = false;
    if (Header* t = inject_.pop()) return t;
  }
  if (Header* t = w.local.pop()) return t;
  // Local queue empty: take a batch from the global queue.
  Header* batch[inject_batch];
  std::size_t n = inject_.pop_batch(batch, inject_batch);
  for (std::size_t i = 1; i < n; ++i) w.local.push_back(batch[i], *this);  // room: local was empty
  return n > 0 ? batch[0] : nullptr;
}

// randomize_schedule (current_thread, one worker): every runnable task goes into the pool,
// and one is picked with the worker's seeded generator.
Header* Scheduler::next_random_task(Worker& w) {
  // Relaxed: current_thread has no rescuers; only this thread touches the slot.
  if (Header* t = w.lifo.exchange(nullptr, std::memory_order_relaxed)) w.random_pool.push_back(t);
  while (Header* t = w.local.pop()) w.random_pool.push_back(t);
  while (Header* t = inject_.pop()) w.random_pool.push_back(t);
  if (w.random_pool.empty()) return nullptr;
  const std::uint32_t i = w.next_random(static_cast<std::uint32_t>(w.random_pool.size()));
  Header* t = w.random_pool[i];
  w.random_pool[i] = w.random_pool.back();
  w.random_pool.pop_back();
  return t;
}

Header* Scheduler::steal_work(Worker& w) {
  if (!w.searching) {
    w.searching = idle_.transition_worker_to_searching();
    if (!w.searching) return nullptr;
  }
  const auto n = static_cast<std::uint32_t>(workers_.size());
  std::uint32_t start = n > 1 ? w.next_random(n) : 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t j = (start + i) % n;
    if (j == w.index) continue;
    if (Header* t = workers_[j]->local.steal_into(w.local)) return t;
  }
  return inject_.pop();
}

void Scheduler::run_task(Worker& w, Header* t) {
  if (w.searching) {
    w.searching = false;
    // The last searcher to find work wakes another, so the work spreads.
    if (idle_.transition_worker_from_searching()) notify_parked();
  }
  coop::BudgetScope budget;
  poll_task(w, t);
  // The LIFO chain: what the polled task spawned or woke last runs next, here, sharing the
  // budget, at most max_lifo_polls_per_tick times (then the slot is disabled and what is
  // scheduled goes to the run queue, where idle workers can take it).
  for (int lifo_polls = 0;;) {
    // Relaxed: only this thread puts tasks into its slot; a rescuer only empties it, and
    // the exchange below settles a race with one.
    if (w.lifo.load(std::memory_order_relaxed) == nullptr) break;
    // Acquire: pairs with the release store that put the task there (this thread's own;
    // kept for symmetry with rescue_stuck).
    Header* next = w.lifo.exchange(nullptr, std::memory_order_acquire);
    if (next == nullptr) break;  // a rescuer took it
    if (coop::remaining() == 0) {
      push_local(w, next);  // the budget is spent: the LIFO task waits its turn
      break;
    }
    if (++lifo_polls >= max_lifo_polls_per_tick) w.lifo_enabled = false;
    poll_task(w, next);
  }
  w.lifo_enabled = true;
}

void Scheduler::poll_task(Worker& w, Header* t) {
  w.tuner.polled();
  switch (t->state.to_running()) {  // T1
    case RunOutcome::Failed:
      drop_task_ref(t);  // shutdown took it; this was the queue's reference
      return;
    case RunOutcome::Cancelled:
      cancel_and_complete(t, "task was aborted");
      return;
    case RunOutcome::Success:
      break;
  }
  WakerRef waker(&task_waker_vtable, t);
  Context cx(waker.get());
  // R1: we hold RUNNING, so the frame is ours.
  if (drive(t->root, t->leaf, cx)) {
    t->vtable->store_output(t);
    complete(t);
    return;
  }
  switch (t->state.to_idle()) {  // T2
    case IdleOutcome::Ok:
      drop_task_ref(t);
      return;
    case IdleOutcome::OkNotified:
      // Woken while running: a yield (yield_now, a budget yield, a self-wake). Back of the
      // local queue, once; and the worker looks at Inject before its next local task, so
      // tasks woken from outside are not kept waiting by tasks that keep yielding.
      w.inject_first = true;
      // What it spawned or woke before yielding (in the LIFO slot) runs before its next turn,
      // as in tokio, where the displaced LIFO task reaches the run queue first.
      // Acquire: as in run_task's exchange (the task is this thread's own; a rescuer may
      // have taken it, then the slot is empty).
      if (Header* l = w.lifo.exchange(nullptr, std::memory_order_acquire)) push_local(w, l);
      push_local(w, t);
      return;
    case IdleOutcome::Cancelled:
      cancel_and_complete(t, "task was aborted");
      return;
  }
}

void Scheduler::cancel_and_complete(Header* t, const char* why) noexcept {
  t->vtable->cancel(t, why);
  complete(t);
}

void Scheduler::complete(Header* t) noexcept {
  Snapshot s = t->state.to_complete();  // T3
  if (!s.join_interest()) {
    t->vtable->drop_output(t);  // R2: nobody will read it
  } else if (s.join_waker()) {
    t->join_waker.wake_by_ref();  // R3: the field is ours to read while JOIN_WAKER is set
  }
  // The running reference, plus the owned list's unless shutdown already unlinked it.
  bool linked = owned_.remove(t);
  if (t->state.ref_dec(linked ? 2 : 1)) t->vtable->dealloc(t);
}

void Scheduler::push_local(Worker& w, Header* t) {
  w.local.push_back(t, *this);
  // A lone runnable task is this worker's next one: no other worker is needed for it (see
  // "Waking idle workers" in scheduler.hpp; a stuck worker's lone task is rescued). The
  // LIFO slot counts: a task displaced from it leaves two.
  // Relaxed: only this thread fills the slot; a stale non-null reading only adds a notify.
  if (w.local.len() + (w.lifo.load(std::memory_order_relaxed) != nullptr ? 1 : 0) > 1) notify_parked();
}

void Scheduler::notify_parked() {
  if (auto idx = idle_.worker_to_notify()) workers_[*idx]->parker.unpark();
}

bool Scheduler::has_visible_work() const {
  if (!inject_.is_empty()) return true;
  return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return !w->local.is_empty(); });
}

Header* Scheduler::park(Worker& w, const std::function<bool()>* stop) {
  Idle::Parked parked = idle_.transition_worker_to_parked(w.index, w.searching);
  w.searching = false;
  // The last searcher re-checks every queue after announcing it parks (idle.hpp); if it sees
  // work it wakes a worker, possibly itself.
  if (parked.last_searcher) {
    Idle::fence();  // pairs with the pusher's fence in notify_should_wakeup (idle.hpp)
    if (has_visible_work()) notify_parked();
  }
  // While other workers are awake, park with a timeout and look for a stuck one's LIFO task
  // (see the overview in scheduler.hpp). A worker that parks while all others sleep parks
  // for good: whichever wakes first and finds work wakes another (run_task), which then
  // parks with a timeout.
  const bool can_rescue = workers_.size() > 1 && opts_.lifo_slot;
  bool timed = can_rescue && parked.others_unparked;
  w.rescue_backoff = 0;
  if (timed) take_ticks_snapshot(w);
  for (;;) {
    if (should_stop(stop)) {
      // Still listed as a sleeper: take ourselves off. Otherwise a notifier already did,
      // and counted us as searching.
      if (!idle_.unpark_worker_by_id(w.index)) w.searching = true;
      return nullptr;
    }
    bool unparked = true;
    if (timed) {
      unparked = w.parker.park_for(rescue_interval * (1u << w.rescue_backoff));
    } else {
      w.parker.park();
    }
    if (!idle_.is_parked(w.index)) {
      w.searching = true;  // worker_to_notify counted us as a searcher
      return nullptr;
    }
    if (unparked) continue;  // for a stop request, or a stale token
    // Timed out, still a sleeper.
    if (Header* t = rescue_stuck(w)) {
      // Off the sleepers, awake and not searching; unless a notifier took us off first,
      // counting us as a searcher.
      if (!idle_.unpark_worker_by_id(w.index)) w.searching = true;
      return t;
    }
    if (w.rescue_backoff < max_rescue_backoff) ++w.rescue_backoff;
    timed = idle_.any_unparked();
    if (timed) take_ticks_snapshot(w);
  }
}

void Scheduler::take_ticks_snapshot(Worker& w) {
  for (std::size_t i = 0; i < workers_.size(); ++i)
    // Relaxed: compared with a later reading only (rescue_stuck).
    if (i != w.index) w.seen_ticks[i] = workers_[i]->ticks.load(std::memory_order_relaxed);
}

Header* Scheduler::rescue_stuck(Worker& w) {
  // A worker whose tick count has not moved since our last look (at least one timeout ago)
  // is stuck in one poll; what it holds in its LIFO slot or queue would wait for that poll.
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (i == w.index) continue;
    Worker& v = *workers_[i];
    // Relaxed: see take_ticks_snapshot; a stale reading only delays or skips a rescue.
    if (v.ticks.load(std::memory_order_relaxed) != w.seen_ticks[i]) continue;
    // Acquire: pairs with the owner's release store of the task into its slot.
    Header* t = v.lifo.load(std::memory_order_acquire);
    // AcqRel on success: we now own the slot's notified reference; failure means the owner
    // took it (it is not stuck after all).
    if (t != nullptr && v.lifo.compare_exchange_strong(t, nullptr, std::memory_order_acq_rel, std::memory_order_relaxed))
      return t;
    if (Header* stolen = v.local.steal_into(w.local)) return stolen;
  }
  return nullptr;
}

void Scheduler::spawn(Header* t) {
  if (!owned_.bind(t)) {
    // Shut down: complete it now, never polled. We hold the initial notified reference;
    // the owned list's reference was never taken.
    (void)t->state.to_running();
    cancel_and_complete(t, "runtime is shut down");
    drop_task_ref(t);
    return;
  }
  schedule(t);
}

void Scheduler::schedule(Header* t) noexcept {
  Worker* w = tls_worker;
  if (w != nullptr && w->sched == this) {
    if (w->lifo_enabled && opts_.lifo_slot && !opts_.randomize_schedule) {
      // Relaxed: only this thread fills the slot (a rescuer only empties it).
      if (w->lifo.load(std::memory_order_relaxed) == nullptr) {
        // Release: pairs with a rescuer's acquire load / CAS. No notify: this worker runs it
        // next (or a rescuer does, if this worker gets stuck).
        w->lifo.store(t, std::memory_order_release);
        return;
      }
      // AcqRel: as above, and acquire for the displaced task, which we now own.
      Header* prev = w->lifo.exchange(t, std::memory_order_acq_rel);
      if (prev == nullptr) return;  // a rescuer took the previous one meanwhile
      t = prev;                     // the displaced task goes to the queue (and notifies)
    }
    push_local(*w, t);
    return;
  }
  schedule_remote(t);
}

void Scheduler::schedule_remote(Header* t) noexcept {
  // Seq_cst pair with shutdown(): either we see closed_, or shutdown sees our increment
  // and waits until we are done with the scheduler.
  remote_inflight_->fetch_add(1, std::memory_order_seq_cst);
  if (closed_.load(std::memory_order_seq_cst)) {
    remote_inflight_->fetch_sub(1, std::memory_order_release);
    // The task stays NOTIFIED in the owned list; shutdown cancels it (T6 takes notified
    // tasks that are in no queue). Drop the notified reference we were handed.
    drop_task_ref(t);
    return;
  }
  inject_.push(t);
  notify_parked();
  // Release: pairs with shutdown's acquire load; our pushes happen before its drain.
  remote_inflight_->fetch_sub(1, std::memory_order_release);
}

bool Scheduler::wait_until(const std::function<bool(Context&)>& ready) {
  // This thread's own waker, for waiting without driving the runtime.
  auto parker = std::make_shared<Parker>();
  Waker own = Waker::from_fn([parker] { parker->unpark(); });
  Context own_cx(own);
  if (!is_current_thread()) {
    EnterScope entered(this);
    while (!ready(own_cx)) parker->park();
    return true;
  }
  // current_thread: the thread holding core_mu_ drives the runtime (it becomes its only
  // worker); any other block_on waits for its own future (which the driver's tasks may
  // complete) or for the core to come free, whichever is first, as tokio's block_on does.
  // No lost release: a waiter lists itself in core_waiters_, then tries the lock again; a
  // driver unlocks, then unparks every listed waiter. Either the retry sees the lock free,
  // or the driver's unpark (after its unlock) finds the waiter listed.
  for (;;) {
    std::unique_lock core(core_mu_, std::try_to_lock);
    if (!core.owns_lock()) {
      {
        std::lock_guard l(core_waiters_mu_);
        core_waiters_.push_back(parker.get());
      }
      struct Unlist {
        Scheduler* s;
        Parker* p;
        ~Unlist() {
          std::lock_guard l(s->core_waiters_mu_);
          std::erase(s->core_waiters_, p);
        }
      } unlist{this, parker.get()};
      {
        EnterScope entered(this);
        if (ready(own_cx)) return true;
      }
      if (!core.try_lock()) {
        parker->park();
        continue;
      }
    }
    bool done = drive_until(ready);
    core.unlock();
    {
      std::lock_guard l(core_waiters_mu_);
      for (Parker* p : core_waiters_) p->unpark();
    }
    return done;
  }
}

bool Scheduler::drive_until(const std::function<bool(Context&)>& ready) {
  Worker& w = *workers_[0];
  TlsWorkerScope scope(&w);
  Waker waker = Waker::from_fn([p = &w.parker] { p->unpark(); });
  Context cx(waker);
  // `ready` polls the caller's future as block_on's own, not as a task of this worker: what
  // it spawns or wakes goes through the injection queue and unparks the worker (a LIFO push
  // from here would not, and the worker could park with the task in its slot).
  // Latched: once `ready` returned true the future is complete and must not be polled
  // again (the worker may ask once more before it returns, e.g. after park).
  bool done = false;
  std::function<bool()> stop = [&] {
    if (done) return true;
    TlsWorkerScope outside(nullptr);
    EnterScope entered(this);
    done = ready(cx);
    return done;
  };
  run_worker(w, &stop);  // returns when `stop` is true, or at shutdown
  return done;
}

void Scheduler::shutdown() {
  if (shut_down_done_) return;
  shut_down_done_ = true;
  owned_.close();
  // Seq_cst: the shutdown side of the Dekker pair with schedule_remote (see below).
  closed_.store(true, std::memory_order_seq_cst);
  // Release: pairs with the workers' acquire in should_stop.
  shutdown_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->parker.unpark();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  std::unique_lock core(core_mu_);  // current_thread: no block_on is driving the worker
  // Let waiting block_on calls see the core free once the tasks are cancelled below (one
  // of them then finds the runtime shut down); see wait_until.
  struct WakeCoreWaiters {
    Scheduler* s;
    std::unique_lock<std::mutex>& core;
    ~WakeCoreWaiters() {
      core.unlock();
      std::lock_guard l(s->core_waiters_mu_);
      for (Parker* p : s->core_waiters_) p->unpark();
    }
  } wake_waiters{this, core};
  // Seq_cst: the shutdown side of the Dekker pair with schedule_remote (closed_ store, then
  // this load); acquire alone would not take part in the total order. It also pairs with
  // schedule_remote's release decrement.
  while (remote_inflight_->load(std::memory_order_seq_cst) != 0) std::this_thread::yield();

  // Cancel every live task, then drop the queues' references. Cancelling runs destructors
  // that may wake or spawn; those see closed_ and drop their references, so a few rounds
  // reach a fixed point.
  TlsWorkerScope no_worker(nullptr);
  EnterScope entered(this);
  for (;;) {
    bool any = false;
    while (Header* t = owned_.pop_any()) {
      any = true;
      if (t->state.to_shutdown()) {  // T6: we hold RUNNING and the list's reference
        cancel_and_complete(t, "runtime is shut down");
      } else {
        drop_task_ref(t);
      }
    }
    auto drop = [&](Header* t) {
      any = true;
      drop_task_ref(t);  // every such task is COMPLETE now; T1 would fail
    };
    for (auto& w : workers_) {
      // Relaxed: the workers have stopped (joined, or current_thread's core_mu_ held).
      if (Header* t = w->lifo.exchange(nullptr, std::memory_order_relaxed)) drop(t);
      while (Header* t = w->local.pop()) drop(t);
      for (Header* t : std::exchange(w->random_pool, {})) drop(t);
    }
    while (Header* t = inject_.pop()) drop(t);
    if (!any) break;
  }
  // The workers have stopped: give back the references their banks hold. The Runtime still
  // holds its own, so this cannot reach zero.
  std::size_t banked = 0;
  for (auto& w : workers_) banked += std::exchange(w->ref_bank, 0);
  // Release: as in task_ref_release.
  if (banked != 0) refs_->fetch_sub(banked, std::memory_order_release);
}

}  // namespace weft::detail
