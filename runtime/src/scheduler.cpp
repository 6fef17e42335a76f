// What both scheduler flavours share: scheduling a notified task, a worker's next task, a
// tick's LIFO chain, spawn and shutdown. See scheduler.hpp for the structure; the flavours'
// driver loops are in multi_thread.cpp and current_thread.cpp.
#include "scheduler.hpp"

#include <algorithm>

#include "weft/coop.hpp"
#include "weft/detail/random.hpp"

namespace weft::detail {

thread_local Worker* tls_worker = nullptr;
thread_local Scheduler* tls_entered = nullptr;

namespace {
std::size_t resolve_workers(const RuntimeOptions& o) {
  if (o.flavor == Flavor::current_thread) return 1;
  if (o.worker_threads != 0) return o.worker_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace

// ---- entry points used by the public headers (the cell's are in harness.cpp) ----

void scheduler_ref_inc(Scheduler* s) noexcept { s->ref_inc(); }
void scheduler_ref_dec(Scheduler* s) noexcept { s->ref_dec(); }
void scheduler_task_ref_acquire(Scheduler* s) noexcept { s->task_ref_acquire(); }
void scheduler_task_ref_release(Scheduler* s) noexcept { s->task_ref_release(); }
void scheduler_spawn(Scheduler* s, Header* t) { s->spawn(t); }
void scheduler_spawn_blocking(Scheduler* s, Header* t) { s->spawn_blocking(t); }
Scheduler* current_scheduler() noexcept { return tls_worker ? tls_worker->sched : tls_entered; }
thread_local bool tls_handed_off = false;
std::uint32_t random_below(std::uint32_t n) noexcept {
  if (Worker* w = tls_worker) return w->next_random(n);
  thread_local XorShift64 g{0x2545F4914F6CDD1Dull ^ reinterpret_cast<std::uintptr_t>(&g)};
  return g.below(n);
}

// ---- Scheduler ----

Scheduler::Scheduler(RuntimeOptions opts)
    : opts_(std::move(opts)),
      idle_(resolve_workers(opts_)),
      blocking_(this, opts_.max_blocking_threads, opts_.thread_keep_alive) {
  if (opts_.max_blocking_threads == 0)
    throw std::invalid_argument("weft::RuntimeOptions: max_blocking_threads must be > 0");
  if (opts_.global_queue_interval && *opts_.global_queue_interval == 0)
    throw std::invalid_argument("weft::RuntimeOptions: global_queue_interval must be > 0 (or unset: self-tuning)");
  if (opts_.event_interval == 0) throw std::invalid_argument("weft::RuntimeOptions: event_interval must be > 0");
  if (opts_.busy_poll < std::chrono::nanoseconds(0))
    throw std::invalid_argument("weft::RuntimeOptions: busy_poll must be >= 0 (0: off)");
  if (opts_.randomize_schedule && (opts_.flavor != Flavor::current_thread || !opts_.rng_seed))
    throw std::invalid_argument(
        "weft::RuntimeOptions: randomize_schedule needs the current_thread flavour and an rng_seed");
  if (opts_.start_paused && (opts_.flavor != Flavor::current_thread || !opts_.enable_time))
    throw std::invalid_argument("weft::RuntimeOptions: start_paused needs the current_thread flavour and enable_time");
  std::size_t n = resolve_workers(opts_);
  if (n > 4096) throw std::invalid_argument("weft::RuntimeOptions: worker_threads must be at most 4096");
  if (opts_.enable_io || opts_.enable_time)
    driver_ = std::make_unique<Driver>(Driver::Options{opts_.enable_io, opts_.enable_time, opts_.start_paused});
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i, n, driver_.get()));
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
// the sum of the workers' ref_bank. A bank is only touched by the thread acting as its
// worker (a current_thread runtime's one worker is driven by one block_on thread at a time,
// under core_mu_), or by shutdown after the workers stopped, so handing out and taking back needs no atomic; a
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

bool Scheduler::shutting_down() const noexcept {
  // Acquire: pairs with shutdown()'s release store.
  return shutdown_.load(std::memory_order_acquire);
}

bool Scheduler::begin_tick(Worker& w) {
  const std::uint32_t tick = w.tick() + 1;
  // Relaxed: rescuers only compare two readings of this counter for change (rescue_stuck).
  w.ticks.store(tick, std::memory_order_relaxed);
  if (tick % opts_.event_interval != 0) return false;
  maintenance(w);
  return true;
}

void Scheduler::maintenance(Worker& w, MaintenancePoll poll) {
  if (!opts_.global_queue_interval) {
    // Before parking, only the batch ends: the worker starts the next when it wakes.
    w.global_queue_interval = poll == MaintenancePoll::poll_driver ? w.tuner.next_batch() : w.tuner.end_batch();
  }
  // A busy runtime still sees I/O and timers: a non-blocking turn, unless another thread is
  // turning the driver or there is nothing registered to look at.
  // Not through the parker: a poll must not consume an unpark token meant for the next park.
  if (poll == MaintenancePoll::poll_driver && driver_ && driver_->has_sources() && driver_->try_lock()) {
    {
      DriverTurn turn(w, *driver_, false);
      (void)driver_->turn(std::chrono::nanoseconds(0));
    }
    // The turn's wakes notified nobody (in_driver_turn): one notification for all of them.
    if (!is_current_thread() && w.runnable() > 1) notify_parked();
  }
}

Scheduler::Woke Scheduler::park_thread(Worker& w, std::optional<std::chrono::nanoseconds> timeout,
                                       bool lifo_wakes) {
  if (driver_ && driver_->try_lock()) {
    DriverTurn turn(w, *driver_, lifo_wakes);
    // The clock only for a timed park (an untimed one never times out).
    const auto t0 = timeout ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    if (busy_poll(w)) return Woke::driver_event;
    if (w.parker.park_in_driver(timeout)) return Woke::unparked;
    if (timeout && std::chrono::steady_clock::now() - t0 >= *timeout) return Woke::timed_out;
    return Woke::driver_event;
  }
  if (timeout) return w.parker.park_for(*timeout) ? Woke::unparked : Woke::timed_out;
  w.parker.park();
  return Woke::unparked;
}

bool Scheduler::busy_poll(Worker& w) {
  if (opts_.busy_poll.count() <= 0 || opts_.start_paused || !driver_->has_sources()) return false;
  // The worker is listed as a sleeper meanwhile (park), so a notifier picks it: its unpark
  // finds the parker EMPTY, not PARKED_DRIVER, and leaves a token instead of writing the
  // eventfd. The token ends the loop, and park_in_driver consumes it and returns at once.
  const auto end = std::chrono::steady_clock::now() + opts_.busy_poll;
  do {
    if (w.parker.has_token()) return false;
    if (driver_->turn(std::chrono::nanoseconds(0)) > 0) return true;
  } while (std::chrono::steady_clock::now() < end);
  return false;
}

bool Scheduler::has_local_work(const Worker& w) noexcept {
  // Relaxed: the owner's own slot (a rescuer only empties it).
  return !w.local.is_empty() || w.lifo.load(std::memory_order_relaxed) != nullptr;
}

Notified Scheduler::next_task(Worker& w) {
  if (opts_.randomize_schedule) return next_random_task(w);
  if (w.inject_first || w.tick() % w.global_queue_interval == 0) {
    w.inject_first = false;
    if (Header* t = inject_.pop()) return Notified::adopt(t);
  }
  if (Header* t = w.local.pop()) return Notified::adopt(t);
  // Local queue empty: take a batch from the global queue.
  Header* batch[inject_batch];
  std::size_t n = inject_.pop_batch(batch, inject_batch);
  for (std::size_t i = 1; i < n; ++i) w.local.push_back(batch[i], *this);  // room: local was empty
  return n > 0 ? Notified::adopt(batch[0]) : Notified();
}

// randomize_schedule (current_thread, one worker): every runnable task goes into the pool,
// and one is picked with the worker's seeded generator. noexcept: a pool that cannot grow
// (bad_alloc) stops the program rather than drop a queued task's reference.
Notified Scheduler::next_random_task(Worker& w) noexcept {
  // Relaxed: current_thread has no rescuers; only this thread touches the slot.
  if (Header* t = w.lifo.exchange(nullptr, std::memory_order_relaxed)) w.random_pool.push_back(Notified::adopt(t));
  while (Header* t = w.local.pop()) w.random_pool.push_back(Notified::adopt(t));
  while (Header* t = inject_.pop()) w.random_pool.push_back(Notified::adopt(t));
  if (w.random_pool.empty()) return {};
  const std::uint32_t i = w.next_random(static_cast<std::uint32_t>(w.random_pool.size()));
  Notified t = std::move(w.random_pool[i]);
  w.random_pool[i] = std::move(w.random_pool.back());
  w.random_pool.pop_back();
  return t;
}

void Scheduler::run_task(Worker& w, Notified&& t) noexcept {
  if (w.searching) {
    w.searching = false;
    // The last searcher to find work wakes another, so the work spreads.
    if (idle_.transition_worker_from_searching()) notify_parked();
  }
  coop::BudgetScope budget;
  poll_task(w, std::move(t));
  if (tls_handed_off) [[unlikely]] return;  // `w` is another thread's now (block_in_place)
  // The LIFO chain: what the polled task spawned or woke last runs next, here, sharing the
  // budget, at most max_lifo_polls_per_tick times (then the slot is disabled and what is
  // scheduled goes to the run queue, where idle workers can take it).
  for (int lifo_polls = 0;;) {
    // Relaxed: only this thread puts tasks into its slot; a rescuer only empties it, and
    // the exchange below settles a race with one.
    if (w.lifo.load(std::memory_order_relaxed) == nullptr) break;
    // Acquire: pairs with the release store that put the task there (this thread's own;
    // kept for symmetry with rescue_stuck).
    Notified next = Notified::adopt(w.lifo.exchange(nullptr, std::memory_order_acquire));
    if (!next) break;  // a rescuer took it
    if (coop::remaining() == 0) {
      push_local(w, std::move(next).into_raw());  // the budget is spent: the LIFO task waits its turn
      break;
    }
    if (++lifo_polls >= max_lifo_polls_per_tick) w.lifo_enabled = false;
    poll_task(w, std::move(next));
    if (tls_handed_off) [[unlikely]] return;  // as above
  }
  w.lifo_enabled = true;
}

// Inlined (forced) into run_task, with Harness::poll: then the compiler sees every move of
// the task's Notified and drops the null checks of the moved-from ones (callgrind of
// yield_many: 7% more instructions per yield out of line, none inlined).
[[gnu::always_inline]] inline void Scheduler::poll_task(Worker& w, Notified&& t) noexcept {
  w.tuner.polled();
  Notified again = Harness::poll(std::move(t), owned_);
  if (tls_handed_off) [[unlikely]] {
    // block_in_place gave `w` away during this poll: not this thread's queue any more.
    if (again) schedule_remote(std::move(again).into_raw());
    return;
  }
  if (!again) return;
  // Woken while running: a yield (yield_now, a budget yield, a self-wake). Back of the
  // local queue, once; and the worker looks at Inject before its next local task, so tasks
  // woken from outside are not kept waiting by tasks that keep yielding.
  w.inject_first = true;
  // What it spawned or woke before yielding (in the LIFO slot) runs before its next turn,
  // as in tokio, where the displaced LIFO task reaches the run queue first.
  // Acquire: as in run_task's exchange (the task is this thread's own; a rescuer may have
  // taken it, then the slot is empty).
  if (Header* l = w.lifo.exchange(nullptr, std::memory_order_acquire)) push_local(w, l);
  push_local(w, std::move(again).into_raw());
}

void Scheduler::push_local(Worker& w, Header* notified) noexcept {
  w.local.push_back(notified, *this);
  if (is_current_thread()) return;  // the one worker is this thread
  // A lone runnable task is this worker's next one: no other worker is needed for it (see
  // "Waking idle workers" in scheduler.hpp; a stuck worker's lone task is rescued). The
  // LIFO slot counts: a task displaced from it leaves two. During a driver turn the caller
  // notifies once the turn is over (maintenance, park): a notification from inside a parked
  // turn would pick this very worker, still listed as a sleeper, and write the eventfd to
  // end its own next wait.
  if (w.runnable() > 1 && !w.in_driver_turn) notify_parked();
}

void Scheduler::spawn(Header* notified) noexcept {
  if (!owned_.bind(notified)) {
    // shut down: completed now, never polled
    Harness::cancel_unbound(Notified::adopt(notified), owned_);
    return;
  }
  schedule(notified);
}

void Scheduler::schedule(Header* notified) noexcept {
  Worker* w = tls_worker;
  if (w == nullptr || w->sched != this) return schedule_remote(notified);
  if (w->lifo_enabled && opts_.lifo_slot && !opts_.randomize_schedule) {
    // Relaxed: only this thread fills the slot (a rescuer only empties it).
    if (w->lifo.load(std::memory_order_relaxed) == nullptr) {
      // Release: pairs with a rescuer's acquire load / CAS. No notify: this worker runs it
      // next (or a rescuer does, if this worker gets stuck).
      w->lifo.store(notified, std::memory_order_release);
      return;
    }
    // AcqRel: as above, and acquire for the displaced task, which we now own.
    notified = w->lifo.exchange(notified, std::memory_order_acq_rel);
    if (notified == nullptr) return;  // a rescuer took the previous one meanwhile
    // the displaced task goes to the queue (and notifies)
  }
  push_local(*w, notified);
}

void Scheduler::schedule_remote(Header* notified) noexcept {
  // Seq_cst pair with shutdown(): either we see closed_, or shutdown sees our increment
  // and waits until we are done with the scheduler.
  remote_inflight_->fetch_add(1, std::memory_order_seq_cst);
  if (closed_.load(std::memory_order_seq_cst)) {
    remote_inflight_->fetch_sub(1, std::memory_order_release);
    // The task stays NOTIFIED in the owned list; shutdown cancels it (T6 takes notified
    // tasks that are in no queue). Drop the notified reference we were handed.
    Notified dropped = Notified::adopt(notified);
    return;
  }
  inject_.push(notified);
  notify_remote_work();
  // Release: pairs with shutdown's acquire load; our pushes happen before its drain.
  remote_inflight_->fetch_sub(1, std::memory_order_release);
}

void Scheduler::notify_remote_work() noexcept {
  // current_thread: the one worker's thread sleeps on its parker (a token, so the wake is
  // not lost if it is not asleep yet; see current_thread.cpp).
  if (is_current_thread()) workers_[0]->parker.unpark();
  else notify_parked();
}

bool Scheduler::wait_until(FunctionRef<bool(Context&)> ready) {
  // This thread's own waker, for waiting without driving the runtime.
  auto parker = std::make_shared<Parker>();
  Waker own = Waker::from_fn([parker] { parker->unpark(); });
  Context own_cx(own);
  if (is_current_thread()) return block_on_current_thread(ready, *parker, own_cx);
  EnterScope entered(this);
  while (!ready(own_cx)) parker->park();
  return true;
}

void Scheduler::spawn_blocking(Header* notified) {
  if (!owned_.bind(notified)) {
    Harness::cancel_unbound(Notified::adopt(notified), owned_);  // shut down
    return;
  }
  bool queued;
  try {
    queued = blocking_.push(notified);
  } catch (...) {
    // No pool thread exists and none could be started: cancel it here (T5, then T1 sees
    // CANCELLED and the harness cancels the frame without running the closure), so its
    // JoinHandle does not wait forever; the caller gets the exception.
    (void)notified->state.remote_abort();
    (void)Harness::poll(Notified::adopt(notified), owned_);
    throw;
  }
  // Shut down between bind and push: shutdown's owned-list pass cancels it (T6 takes a
  // notified task in no queue); drop the notified reference.
  if (!queued) Notified dropped = Notified::adopt(notified);
}

void Scheduler::run_blocking(Header* notified) noexcept {
  Notified again = Harness::poll(Notified::adopt(notified), owned_);
  // Woken while it ran (an abort): once more, to complete its cancellation.
  if (again && !blocking_.push(again.get())) return;  // shut down: `again` drops its reference
  (void)std::move(again).into_raw();
}

bool Scheduler::shutdown(std::optional<std::chrono::nanoseconds> blocking_timeout) {
  if (shut_down_done_) return blocking_.shutdown(blocking_timeout);
  shut_down_done_ = true;
  owned_.close();
  // Seq_cst: the shutdown side of the Dekker pair with schedule_remote (see below).
  closed_.store(true, std::memory_order_seq_cst);
  // Release: pairs with the drivers' acquire in shutting_down.
  shutdown_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->parker.unpark();
  // Every worker thread, and every thread that handed its worker off (block_in_place; it
  // may still be in that poll): collected under threads_mu_, after which no hand-off starts
  // a thread (it sees shutdown_).
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(threads_mu_);
    for (auto& w : workers_) threads.push_back(std::move(w->thread));
    for (auto& t : retired_) threads.push_back(std::move(t));
    retired_.clear();
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
  std::unique_lock core(core_mu_);  // current_thread: no block_on is driving the worker
  // Let waiting block_on calls see the core free once the tasks are cancelled below (one
  // of them then finds the runtime shut down); see current_thread.cpp.
  CoreRelease release{this, core};
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
      Harness::shutdown(TaskRef::adopt(t), owned_);
    }
    // Every queued task is COMPLETE now (T1 would fail): drop the queues' references.
    auto drop = [&](Header* t) {
      any = true;
      (void)Notified::adopt(t);
    };
    for (auto& w : workers_) {
      // Relaxed: the workers have stopped (joined, or current_thread's core_mu_ held).
      if (Header* t = w->lifo.exchange(nullptr, std::memory_order_relaxed)) drop(t);
      while (Header* t = w->local.pop()) drop(t);
      if (!w->random_pool.empty()) {
        any = true;
        w->random_pool.clear();
      }
    }
    while (Header* t = inject_.pop()) drop(t);
    if (!any) break;
  }
  // The tasks are gone: timers and I/O registrations still held outside them (a Sleep
  // in user code) see the shutdown on their next poll.
  if (driver_) driver_->shutdown();
  // The workers have stopped: give back the references their banks hold. The Runtime still
  // holds its own, so this cannot reach zero.
  std::size_t banked = 0;
  for (auto& w : workers_) banked += std::exchange(w->ref_bank, 0);
  // Release: as in task_ref_release.
  if (banked != 0) refs_->fetch_sub(banked, std::memory_order_release);
  // Last, the blocking pool: its queued tasks were cancelled above; wait for the running ones.
  return blocking_.shutdown(blocking_timeout);
}

}  // namespace weft::detail
