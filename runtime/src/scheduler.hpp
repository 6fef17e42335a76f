#pragma once
// The work-stealing scheduler (internal). The overview is below; the task state machine is in
// weft/detail/task_state.hpp, what happens to a task that is run in harness.hpp, and the
// parking protocol in idle.hpp.
//
// Files: scheduler.cpp holds what both flavours share (scheduling, a worker's next task, a
// tick's LIFO chain, spawn, shutdown); each flavour has its own driver loop:
// multi_thread.cpp (worker threads: steal, park on Idle, rescue a stuck worker's task) and
// current_thread.cpp (block_on's thread drives the one worker until its future is ready).
//
// Each Worker owns a bounded LocalQueue (single producer, stealers take half), a LIFO slot
// and a Parker. Tasks spawned or woken from outside a worker, and the overflow of full local
// queues, go to the global Inject queue.
//
// A worker's tick: every `global_queue_interval` ticks (self-tuned from poll times unless
// set), or when the previous task yielded, it takes from Inject first; otherwise its local
// queue, then a batch from Inject, then (as a searcher) half of a random victim's queue,
// then it parks (see idle.hpp for the no-lost-wake-up protocol).
//
// Where a task scheduled from a worker goes:
//   - a spawn or a wake by another task: the LIFO slot, run right after the current task on
//     the same worker (a task it displaces goes to the local queue). At most
//     `max_lifo_polls_per_tick` LIFO tasks run in a row; after that the slot is disabled
//     until the worker's next task, and scheduled tasks go to the local queue;
//   - a yield (the task woke itself while running): the back of the local queue, and the
//     worker looks at Inject before its next local task, so a task woken from outside is
//     not kept waiting by tasks that keep yielding.
// Waking idle workers: a push to the local queue wakes one (if none is searching) only when
// the worker then has more than one runnable task waiting (queue and LIFO slot together),
// i.e. when there is work for another worker besides what this one runs next: a task
// displaced from the slot does; a task handed over at the LIFO cap, or a yield, when alone,
// does not. A task that goes to the LIFO slot wakes nobody: this worker runs it as soon as
// the current poll returns.
// No starvation: if that poll does not return (a task that never suspends), the task would
// wait, since the LIFO slot is never stolen by searchers and nobody was woken for a lone
// queued task. So a parked worker parks with a timeout while other workers are awake, and
// on the timeout takes the LIFO task, else steals from the queue, of a worker that has not
// started a new task since its last look ("stuck" in one poll for at least
// `rescue_interval`). (tokio's LIFO slot has no such escape; see its `disable_lifo_slot`.)
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "blocking.hpp"
#include "driver/driver.hpp"
#include "harness.hpp"
#include "idle.hpp"
#include "inject.hpp"
#include "owned_tasks.hpp"
#include "parker.hpp"
#include "local_queue.hpp"
#include "weft/detail/cache_padded.hpp"
#include "weft/detail/function_ref.hpp"
#include "weft/detail/task_cell.hpp"
#include "weft/detail/random.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

inline constexpr std::uint32_t local_queue_capacity = 256;
inline constexpr int max_lifo_polls_per_tick = 3;
inline constexpr std::size_t inject_batch = 32;
/// How long a worker may sit in one poll with a task waiting in its LIFO slot or (alone) in
/// its queue before a parked worker takes that task (the first check; a parked worker backs
/// off to 4x when it finds nothing, and starts over once it runs a task). A safety net for
/// polls that never return, not a load balancer: with 1 ms, a consumer waiting in the slot
/// of a producer that sends 100,000 messages in one poll was moved to the other core, and
/// the two then contended for the channel (seen on bench/ mpsc_unbounded, one producer).
inline constexpr std::chrono::milliseconds rescue_interval{10};
inline constexpr unsigned max_rescue_backoff = 2;  // 10 ms << 2 = 40 ms
/// Scheduler references a worker's bank takes from (or returns to) the shared count at once.
inline constexpr std::size_t ref_bank_batch = 64;

class Scheduler;

/// Self-tuning of the global queue interval, after tokio 1.29's Stats: an exponentially
/// weighted moving average of the time per task poll, measured over batches of ticks; the
/// interval is the number of polls that take about 200 us, clamped to [2, 127].
class IntervalTuner {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double target_ns = 200'000;
  static constexpr double alpha = 0.1;
  static constexpr std::uint32_t min_interval = 2, max_interval = 127, initial_interval = 61;

  void start_batch(Clock::time_point now = Clock::now()) noexcept {
    batch_start_ = now;
    polls_ = 0;
  }
  void polled() noexcept { ++polls_; }
  /// Ends the batch started at the last start_batch; returns the new interval. An empty
  /// batch reads no clock (a worker parks once per wake-up: its clock reads add up).
  std::uint32_t end_batch() noexcept { return polls_ > 0 ? end_batch(Clock::now()) : interval(); }
  std::uint32_t end_batch(Clock::time_point now) noexcept {
    if (polls_ > 0) {
      const double mean = std::chrono::duration<double, std::nano>(now - batch_start_).count() / polls_;
      // The weight of a batch of n polls is that of n single-poll updates: 1 - (1 - alpha)^n
      // (by squaring: std::pow showed in profiles of the park path, which ends a batch).
      double keep = 1.0, base = 1.0 - alpha;
      for (std::uint32_t n = polls_; n != 0; n >>= 1, base *= base)
        if ((n & 1) != 0) keep *= base;
      const double weight = 1.0 - keep;
      ewma_ns_ = weight * mean + (1.0 - weight) * ewma_ns_;
    }
    return interval();
  }
  /// Ends the batch and starts the next at the same instant (one clock read).
  std::uint32_t next_batch() noexcept {
    const Clock::time_point now = Clock::now();
    const std::uint32_t i = end_batch(now);
    start_batch(now);
    return i;
  }
  /// The interval the current average gives.
  [[nodiscard]] std::uint32_t interval() const noexcept {
    const double per = target_ns / ewma_ns_;
    if (!(per >= min_interval)) return min_interval;  // also catches NaN
    return per >= max_interval ? max_interval : static_cast<std::uint32_t>(per);
  }
  [[nodiscard]] double mean_poll_ns() const noexcept { return ewma_ns_; }

 private:
  Clock::time_point batch_start_{};
  std::uint32_t polls_ = 0;
  double ewma_ns_ = target_ns / initial_interval;
};

using RunQueue = LocalQueue<Header*, local_queue_capacity>;

struct Worker {
  Worker(Scheduler* s, std::size_t i, std::size_t n, Driver* driver)
      : sched(s), index(i), rng{0x9E3779B97F4A7C15ull * (i + 1)}, seen_ticks(n, 0), parker(driver) {}
  Scheduler* const sched;
  const std::size_t index;
  // The run queue (each slot holds a task's notified reference): its owner role, used by
  // the thread acting as this worker (and by shutdown once the workers stopped), and the
  // stealer role other workers use.
  RunQueue run_queue;
  RunQueue::Owner local = run_queue.owner();
  RunQueue::Stealer stealer = run_queue.stealer();
  // The LIFO slot. Written by the owner (store into an empty slot, exchange to take or
  // displace); taken by a rescuer with compare-exchange only when the owner is stuck (see
  // Scheduler::rescue_stuck). Holds the task's notified reference.
  std::atomic<Header*> lifo{nullptr};
  // Ticks started by this worker: written by the owner, read by rescuers, which only
  // compare two readings for change; relaxed on both sides (see tick()).
  std::atomic<std::uint32_t> ticks{0};
  // Owner-only fields below: read and written by the thread acting as this worker.
  bool lifo_enabled = true;    // false once max_lifo_polls_per_tick ran in this tick
  // True while this worker turns the driver (DriverTurn): its pushes wake nobody; the turn's
  // caller wakes a worker afterwards if the turn left more than one task (as tokio, whose
  // schedule_local does not notify while the core's parker is out for a driver turn).
  bool in_driver_turn = false;
  bool inject_first = false;   // a task yielded: look at Inject before the next local task
  bool searching = false;
  std::uint32_t global_queue_interval = IntervalTuner::initial_interval;
  IntervalTuner tuner;
  XorShift64 rng;
  std::vector<std::uint32_t> seen_ticks;  // other workers' ticks at our last rescue look
  unsigned rescue_backoff = 0;
  // Scheduler references this worker holds on behalf of task cells (Scheduler::
  // task_ref_acquire): counted in Scheduler::refs_, handed out and taken back without
  // atomics. Owner-only; returned by shutdown after the workers stopped.
  std::size_t ref_bank = 0;
  // RuntimeOptions::randomize_schedule: the runnable tasks, one picked at random per tick
  // (owner only; current_thread). Each holds its notified reference.
  std::vector<Notified> random_pool;
  Parker parker;
  std::thread thread;

  /// The current tick (owner only). Relaxed: only the owner writes `ticks`.
  [[nodiscard]] std::uint32_t tick() const noexcept { return ticks.load(std::memory_order_relaxed); }

  std::uint32_t next_random(std::uint32_t n) noexcept { return rng.below(n); }

  /// Tasks this worker will run next without help (owner only): its queue and LIFO slot.
  /// Relaxed: only the owner fills the slot; a stale non-null reading only adds a notify.
  [[nodiscard]] std::size_t runnable() const noexcept {
    return local.len() + (lifo.load(std::memory_order_relaxed) != nullptr ? 1 : 0);
  }
};

// Sets a thread-local for a scope and restores the previous value after it.
template <class T>
class ScopedThreadLocal {
 public:
  ScopedThreadLocal(T& var, T value) noexcept : var_(var), saved_(std::exchange(var, value)) {}
  ~ScopedThreadLocal() { var_ = saved_; }
  ScopedThreadLocal(const ScopedThreadLocal&) = delete;
  ScopedThreadLocal& operator=(const ScopedThreadLocal&) = delete;

 private:
  T& var_;
  T saved_;
};

// The worker this thread is acting as (a worker thread, or a current_thread block_on).
// Defined in scheduler.cpp (one definition: cheap TLS access, also in a shared library).
extern thread_local Worker* tls_worker;
struct TlsWorkerScope : ScopedThreadLocal<Worker*> {
  explicit TlsWorkerScope(Worker* w) noexcept : ScopedThreadLocal(tls_worker, w) {}
};

// The runtime this thread has entered without being one of its workers: a thread waiting
// in a multi_thread block_on, the thread polling a current_thread block_on's future, or the
// thread destroying the runtime (so a task destructor run by shutdown can call weft::spawn
// or Handle::current, as in tokio; the spawned task is cancelled at once).
extern thread_local Scheduler* tls_entered;
// This thread handed its worker off in block_in_place (multi_thread.cpp).
extern thread_local bool tls_handed_off;
struct EnterScope : ScopedThreadLocal<Scheduler*> {
  explicit EnterScope(Scheduler* s) noexcept : ScopedThreadLocal(tls_entered, s) {}
};

class Scheduler {
 public:
  explicit Scheduler(RuntimeOptions opts);
  ~Scheduler();

  void ref_inc() noexcept;
  void ref_dec() noexcept;
  /// A task cell's reference: from the current worker's bank if this thread is one of our
  /// workers (refilled ref_bank_batch at a time with one atomic add), else ref_inc.
  void task_ref_acquire() noexcept;
  /// Gives a task cell's reference back: to the current worker's bank if this thread is one
  /// of our workers (a bank above 2 x ref_bank_batch returns a batch atomically), else ref_dec.
  void task_ref_release() noexcept;

  /// Starts the worker threads (multi_thread; current_thread has none).
  void start();
  // The spawn/schedule chain passes a task's notified reference as a raw pointer
  // (`notified`), which the callee always consumes: it puts it in a queue or slot (which
  // hold raw pointers too) or adopts it as a Notified. Not a Notified&&: across an
  // out-of-line call the caller keeps the moved-from object and checks it for null after the
  // call (Itanium ABI), about 8 instructions per hop, 18 per spawn (callgrind, chained_spawn).

  /// Registers a new task (its first notified reference) and schedules it; if the runtime
  /// has shut down, completes it at once as cancelled.
  void spawn(Header* notified) noexcept;
  /// Schedules a notified task (a spawn or a wake; see the overview for where it goes).
  void schedule(Header* notified) noexcept;
  /// Registers a blocking task (spawn_blocking) and queues it on the blocking pool; after
  /// shutdown, completes it at once as cancelled.
  void spawn_blocking(Header* notified);
  /// A blocking pool thread runs a blocking task (its one poll).
  void run_blocking(Header* notified) noexcept;
  /// Cancels the tasks, stops the workers and the driver, then waits for the blocking pool's
  /// threads up to `blocking_timeout` (nullopt: until they finish); false if some were still
  /// running a closure when it expired (they are detached and exit when it returns).
  bool shutdown(std::optional<std::chrono::nanoseconds> blocking_timeout = std::nullopt);
  [[nodiscard]] std::size_t blocking_threads() const { return blocking_.thread_count(); }
  /// Blocks the calling (non-worker) thread until ready(cx) returns true: true then; false if
  /// the runtime shut down first. current_thread: the thread drives the runtime meanwhile
  /// (current_thread.cpp); multi_thread: it sleeps until woken through cx.
  bool wait_until(FunctionRef<bool(Context&)> ready);
  [[nodiscard]] bool is_current_thread() const noexcept { return opts_.flavor == Flavor::current_thread; }
  [[nodiscard]] std::size_t worker_count() const noexcept { return workers_.size(); }
  /// The I/O and time driver; nullptr if both enable_io and enable_time are off.
  [[nodiscard]] Driver* driver() noexcept { return driver_.get(); }

  /// The overflow sink of the workers' run queues.
  void push_batch(Header** ts, std::size_t n) noexcept { inject_.push_batch(ts, n); }

 private:
  // ---- shared by both flavours (scheduler.cpp) ----
  // A Notified&& parameter is consumed by the callee on every path (rvalue references
  // rather than values only to spare a temporary per call on the hot path).
  Notified next_task(Worker& w);
  Notified next_random_task(Worker& w) noexcept;
  /// One tick's work: polls `t`, then the LIFO chain it starts (budget-shared).
  void run_task(Worker& w, Notified&& t) noexcept;
  void poll_task(Worker& w, Notified&& t) noexcept;
  enum class MaintenancePoll : std::uint8_t { poll_driver, skip_driver };
  /// Every event_interval ticks and before parking: tuning, and (poll_driver) a
  /// non-blocking driver poll whose wakes go to w's run queue.
  void maintenance(Worker& w, MaintenancePoll poll = MaintenancePoll::poll_driver);
  void push_local(Worker& w, Header* notified) noexcept;
  /// Why park_thread returned.
  enum class Woke : std::uint8_t { unparked, timed_out, driver_event };
  /// Sleeps until unparked or `timeout`: in the driver if no other thread turns it, else on
  /// the worker's futex. A driver turn may also return for an I/O event or a timer (whose
  /// wakes may have queued tasks on this worker), or at the timeout.
  Woke park_thread(Worker& w, std::optional<std::chrono::nanoseconds> timeout, bool lifo_wakes);
  /// RuntimeOptions::busy_poll, in park_thread (the driver's lock held): non-blocking turns
  /// until one wakes something (true), an unpark leaves its token or the time is up (false).
  bool busy_poll(Worker& w);
  /// A driver turn on worker `w`, for a scope (the driver's lock is held, taken by the
  /// caller's try_lock; released at the end). `lifo`: whether the wakes it causes may use
  /// w's LIFO slot. A multi_thread worker parking lets them (as tokio's, whose core is back
  /// in its context while it parks): the first task woken waits in the slot, which other
  /// workers do not steal from, and park() hands it out first; a searching worker would
  /// otherwise steal it from the run queue and wake a third. A maintenance poll between
  /// ticks and the current_thread loop send them to the run queue (their next_task looks
  /// there).
  struct DriverTurn {
    DriverTurn(Worker& worker, Driver& driver, bool lifo) noexcept
        : w(worker), d(driver), saved(worker.lifo_enabled) {
      w.lifo_enabled = lifo && saved;
      w.in_driver_turn = true;
    }
    ~DriverTurn() {
      w.lifo_enabled = saved;
      w.in_driver_turn = false;
      d.unlock();
    }
    DriverTurn(const DriverTurn&) = delete;
    DriverTurn& operator=(const DriverTurn&) = delete;
    Worker& w;
    Driver& d;
    bool saved;
  };
  [[nodiscard]] static bool has_local_work(const Worker& w) noexcept;
  void schedule_remote(Header* notified) noexcept;
  /// Wakes the flavour's sleeper for work made available from outside a worker.
  void notify_remote_work() noexcept;
  [[nodiscard]] bool shutting_down() const noexcept;
  /// Starts a tick of `w` (the counter rescuers watch); runs maintenance every
  /// event_interval ticks and returns true when it did.
  bool begin_tick(Worker& w);

  // ---- multi_thread driver (multi_thread.cpp) ----
 public:
  /// block_in_place on worker `w` (the calling thread, inside a task's poll): a new thread
  /// takes over `w` and this thread stops being a worker (see multi_thread.cpp). No-op after
  /// shutdown began. Throws std::system_error if the thread cannot be started (then nothing
  /// changed).
  void hand_off(Worker& w);

 private:
  void worker_main(Worker& w);
  void run_worker(Worker& w);
  Notified steal_work(Worker& w);
  /// Parks until notified or shut down; returns a task taken from a stuck worker or the
  /// task a driver turn woke into this worker's LIFO slot, or none.
  Notified park(Worker& w);
  Notified rescue_stuck(Worker& w);
  void take_ticks_snapshot(Worker& w);
  void notify_parked() noexcept;
  bool has_visible_work() const;

  // ---- current_thread driver (current_thread.cpp) ----
  /// block_on on a current_thread runtime: takes the core (or waits for its own future
  /// while another thread holds it) and drives the worker on this thread.
  bool block_on_current_thread(FunctionRef<bool(Context&)> ready, Parker& own, Context& own_cx);
  /// Drives the worker on this thread (core_mu_ held) until ready(cx) or shutdown; true if
  /// ready.
  bool drive(FunctionRef<bool(Context&)> ready);
  void unpark_core_waiters();
  /// Releases a held core_mu_ and then unparks the block_on calls waiting for it (the
  /// order the no-lost-release argument in current_thread.cpp needs), on any exit path.
  struct CoreRelease {
    CoreRelease(Scheduler* sched, std::unique_lock<std::mutex>& held) noexcept : s(sched), core(held) {}
    Scheduler* s;
    std::unique_lock<std::mutex>& core;
    ~CoreRelease() {
      core.unlock();
      s->unpark_core_waiters();
    }
    CoreRelease(const CoreRelease&) = delete;
    CoreRelease& operator=(const CoreRelease&) = delete;
  };

  RuntimeOptions opts_;
  std::unique_ptr<Driver> driver_;  // before the workers, whose parkers point to it
  // refs: Runtime + Handles + task cells; the last ref_dec deletes the scheduler.
  cache_padded<std::atomic<std::size_t>> refs_{1};
  // remote_inflight: remote schedules between their `closed_` check and their last use of
  // the scheduler; shutdown waits for it to drain (seq_cst Dekker pair with closed_).
  cache_padded<std::atomic<std::size_t>> remote_inflight_{0};
  std::atomic<bool> closed_{false};    // no new spawns or remote schedules (seq_cst)
  std::atomic<bool> shutdown_{false};  // workers exit (release/acquire with their loop)
  std::vector<std::unique_ptr<Worker>> workers_;
  Inject inject_;
  Idle idle_;
  OwnedTasks owned_;
  std::mutex core_mu_;  // current_thread flavour: one block_on drives the worker at a time
  std::mutex core_waiters_mu_;
  std::vector<Parker*> core_waiters_;  // block_on calls waiting for core_mu_; core_waiters_mu_
  BlockingPool blocking_;
  // Threads that handed their worker off (block_in_place) and finish the poll they were in;
  // joined by shutdown. Also guards Worker::thread once the workers run.
  std::mutex threads_mu_;
  std::vector<std::thread> retired_;  // threads_mu_
  bool shut_down_done_ = false;
};

// The run queues' overflow sink (LocalQueue::push_back's extension point).
static_assert(OverflowSink<Scheduler, Header*>);
static_assert(OverflowSink<Inject, Header*>);

}  // namespace weft::detail
