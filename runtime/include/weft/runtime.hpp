#pragma once
// Runtime, Handle and the free functions spawn / yield_now.
//
// A Runtime owns a work-stealing scheduler: `worker_threads` threads (multi_thread flavour),
// or none, with every task running on the thread that calls block_on (current_thread
// flavour, for deterministic tests). Destroying the Runtime cancels every task still alive
// (their frames are destroyed, running their locals' destructors), joins its threads and
// frees every frame; JoinHandles of those tasks then yield a cancelled JoinError.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "weft/detail/function_ref.hpp"
#include "weft/detail/task_cell.hpp"
#include "weft/join_handle.hpp"
#include "weft/task.hpp"

namespace weft {

enum class Flavor { multi_thread, current_thread };

struct RuntimeOptions {
  Flavor flavor = Flavor::multi_thread;
  /// Worker threads of the multi_thread flavour; 0 means one per hardware thread.
  std::size_t worker_threads = 0;
  /// Worker threads are named "<prefix>-<index>" (truncated to 15 characters by Linux).
  std::string thread_name = "weft-worker";
  std::function<void()> on_thread_start;
  std::function<void()> on_thread_stop;
  /// Every this many scheduler ticks a worker takes work from the global queue first. Unset
  /// (the default): self-tuning, as tokio >= 1.29: about every 200 us of task polling,
  /// estimated from a moving average of poll times, between every 2 and every 127 ticks.
  /// A task that yields (yield_now, or a wake of itself while running) also makes its worker
  /// look at the global queue before its next local task.
  std::optional<std::uint32_t> global_queue_interval;
  /// Every this many ticks a worker runs its maintenance (shutdown check, global queue
  /// interval tuning; the I/O driver once there is one).
  std::uint32_t event_interval = 61;
  /// Run the task most recently spawned or woken by a task right after it, on the same
  /// worker (message-passing latency, cache locality): it goes to the worker's LIFO slot
  /// and no idle worker is woken for it. At most 3 LIFO tasks run in a row; then new ones
  /// go to the run queue, where idle workers can steal them. A task in the slot whose worker
  /// is stuck in a long poll is taken by an idle worker after 10-20 ms, so a task that never
  /// suspends cannot starve the task it spawned or woke; that idle worker is one parked with
  /// a timeout, which a worker is whenever another is awake when it parks. Not covered (as in
  /// tokio, which has no rescue at all): every other worker asleep for good, and the one
  /// task the driver woke (I/O, a timer) on this worker blocks; wakes from tasks and other
  /// threads notify a worker and are covered.
  bool lifo_slot = true;
  /// Seeds every random choice of the runtime (a searching worker's first steal victim) and
  /// of the containers polled on its workers (VecStreamMap's start index), so a run is
  /// reproducible. Unset: seeded per worker from its index (still not from the clock).
  std::optional<std::uint64_t> rng_seed;
  /// Test mode, current_thread flavour only, requires rng_seed: each tick runs a runnable
  /// task chosen at random (from the seed) instead of in queue order, and there is no LIFO
  /// chain. Running a scenario under many seeds explores its interleavings of tasks; a
  /// failing seed replays the same interleaving (as long as nothing outside the runtime
  /// wakes its tasks).
  bool randomize_schedule = false;
  /// The driver (runtime/src/driver): workers with nothing to run park in it, one at a time,
  /// in epoll_wait, and every event_interval ticks a busy worker polls it. enable_io:
  /// sockets and weft::io::AsyncFd can register with it; enable_time: weft::time (sleep,
  /// timeout, interval) works on this runtime. With both off, idle workers park on a futex
  /// and no driver exists.
  bool enable_io = true;
  bool enable_time = true;
  /// Test mode, current_thread flavour with enable_time: the runtime's clock starts paused
  /// (see weft::time::pause): time moves only by weft::time::advance, or, when the runtime
  /// has nothing to run, straight to the next timer, so timer tests run instantly and
  /// deterministically.
  bool start_paused = false;
  /// Busy polling, as Linux's SO_BUSY_POLL: a worker about to sleep in the driver first
  /// polls it without blocking (epoll_wait with a zero timeout, in a loop) for up to this
  /// long, while something is registered with it (an I/O resource or a timer). An event or
  /// a wake-up that comes within that time is handled without the worker falling asleep and
  /// being woken: lower latency, and a peer on another core that sends to an idle runtime
  /// does not pay for waking its thread. Costs CPU: up to this much spinning each time a
  /// worker runs out of work while the driver has something to wait for. Zero (the
  /// default): off. Not with start_paused (its clock moves only when the runtime is idle).
  std::chrono::nanoseconds busy_poll{0};
  /// The blocking pool (weft::spawn_blocking): at most this many threads, started on
  /// demand; a thread idle for thread_keep_alive exits. Tasks beyond the limit wait in a
  /// queue.
  std::size_t max_blocking_threads = 512;
  std::chrono::nanoseconds thread_keep_alive = std::chrono::seconds(10);
};

class Runtime;

/// A cheap, copyable reference to a runtime, usable from any thread. Spawning through a
/// handle whose runtime has shut down yields a JoinHandle that reports a cancelled
/// JoinError ("runtime is shut down").
class Handle {
 public:
  Handle(const Handle& o) noexcept : s_(o.s_) { detail::scheduler_ref_inc(s_); }
  Handle(Handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Handle& operator=(Handle o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Handle() {
    if (s_) detail::scheduler_ref_dec(s_);
  }

  /// The runtime whose task is running on this thread; throws std::logic_error if none.
  static Handle current();
  static std::optional<Handle> try_current() noexcept;

  template <class T>
  JoinHandle<T> spawn(Task<T> task) const {
    return spawn_on(s_, std::move(task));
  }

  /// Runs `f()` on the runtime's blocking pool (see weft::spawn_blocking).
  template <class F>
  auto spawn_blocking(F f) const {
    return spawn_blocking_on(s_, std::move(f));
  }

  friend bool operator==(const Handle& a, const Handle& b) noexcept { return a.s_ == b.s_; }

 private:
  friend class Runtime;
  template <class T>
  friend JoinHandle<T> spawn(Task<T> task);

  template <class F>
  friend auto spawn_blocking(F f);
  template <class F>
  static auto spawn_blocking_on(detail::Scheduler* s, F f) {
    using R = std::invoke_result_t<F&>;
    // The closure runs inside this coroutine's one poll, on a pool thread.
    Task<R> body = [](F fn) -> Task<R> {
      if constexpr (std::is_void_v<R>) {
        fn();
        co_return;
      } else {
        co_return fn();
      }
    }(std::move(f));
    auto* cell = detail::Cell<R>::create(s, body.release());
    JoinHandle<R> jh(cell);
    detail::scheduler_spawn_blocking(s, cell);
    return jh;
  }
  template <class T>
  static JoinHandle<T> spawn_on(detail::Scheduler* s, Task<T> task) {
    if (!task) throw std::logic_error("weft::spawn: the task is empty (moved-from or already awaited)");
    auto* cell = detail::Cell<T>::create(s, task.release());
    JoinHandle<T> jh(cell);
    detail::scheduler_spawn(s, cell);
    return jh;
  }
  explicit Handle(detail::Scheduler* s) noexcept : s_(s) { detail::scheduler_ref_inc(s_); }
  detail::Scheduler* s_;
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  Runtime(Runtime&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Runtime& operator=(Runtime&&) = delete;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  /// Cancels every live task, joins the workers, frees every frame. Must not be called
  /// from one of this runtime's own tasks (that would wait for itself; it aborts with a
  /// message instead).
  ~Runtime();

  [[nodiscard]] Handle handle() const { return Handle(checked()); }
  [[nodiscard]] std::size_t worker_count() const noexcept;
  /// Threads the blocking pool has now (running a closure or idle within thread_keep_alive).
  [[nodiscard]] std::size_t blocking_thread_count() const;

  template <class T>
  JoinHandle<T> spawn(Task<T> task) const {
    return Handle::spawn_on(checked(), std::move(task));
  }
  /// Runs `f()` on the blocking pool (see weft::spawn_blocking).
  template <class F>
  auto spawn_blocking(F f) const {
    return Handle::spawn_blocking_on(checked(), std::move(f));
  }

  /// Shuts the runtime down as the destructor does, but waits for running blocking tasks
  /// at most `timeout`; those still running then are left to finish on their own threads
  /// (detached; each exits when its closure returns). Returns true if none was left. The
  /// Runtime is empty afterwards (as if moved from).
  bool shutdown_timeout(std::chrono::nanoseconds timeout);
  /// shutdown_timeout(0): does not wait for blocking tasks at all.
  bool shutdown_background() { return shutdown_timeout(std::chrono::nanoseconds(0)); }

  /// Runs `task` to completion and returns its value (or rethrows its exception; throws
  /// JoinError if it was cancelled by a shutdown, including a Runtime destroyed by another
  /// thread meanwhile). On a current_thread runtime several threads may call block_on at
  /// once: one drives the runtime, the others wait for their own task (or for the driver to
  /// leave, then one of them drives). Call from a thread that is not running
  /// a weft task: calling it from inside a task (of any runtime) throws std::logic_error,
  /// since blocking a worker could deadlock the runtime.
  template <class T>
  T block_on(Task<T> task) {
    detail::Scheduler* s = checked();
    check_block_on_allowed();
    JoinHandle<T> jh = Handle::spawn_on(s, std::move(task));  // its cell keeps `s` alive
    std::optional<JoinResult<T>> out;
    auto take = [&](Context& cx) {
      auto p = jh.poll(cx);
      if (p.is_pending()) return false;
      out.emplace(std::move(p).take());
      return true;
    };
    if (!wait_until(s, take)) {
      // The runtime shut down (destroyed by another thread) while this call drove it: the
      // task finished just before, or it never will.
      Waker none;
      Context cx(none);
      if (!take(cx)) throw JoinError::cancelled(jh.id(), "runtime is shut down");
    }
    if (!out->has_value() && out->error().is_panic()) out->error().resume_panic();
    return std::move(*out).value();
  }

  /// Polls a leaf future (a JoinHandle, a channel receive, any type with
  /// `Poll<T> poll(Context&)`) on the calling thread until it is ready, and returns its
  /// output; no task is spawned for it. The runtime is entered meanwhile (weft::spawn and
  /// Handle::current work inside the poll); a current_thread runtime runs its tasks on this
  /// thread while it waits. Same restriction as above: not from inside a runtime.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  future_output_t<std::remove_cvref_t<F>> block_on(F&& future) {
    using Out = future_output_t<std::remove_cvref_t<F>>;
    const Handle keep = handle();  // the scheduler stays alive even if the Runtime goes
    check_block_on_allowed();
    auto& f = future;  // polled in place: a future may not be movable once polled
    std::optional<std::conditional_t<std::is_void_v<Out>, bool, Out>> out;
    auto take = [&](Context& cx) {
      auto p = f.poll(cx);
      if (p.is_pending()) return false;
      if constexpr (std::is_void_v<Out>) out.emplace(true);
      else out.emplace(std::move(p).take());
      return true;
    };
    if (!wait_until(keep.s_, take)) {
      // The runtime shut down meanwhile: the future may have become ready just before.
      Waker none;
      Context cx(none);
      if (!take(cx)) throw JoinError::cancelled(TaskId{0}, "runtime is shut down before the future completed");
    }
    if constexpr (!std::is_void_v<Out>) return std::move(*out);
  }

 private:
  detail::Scheduler* checked() const {
    if (!s_) throw std::logic_error("weft::Runtime: used after being moved from");
    return s_;
  }
  static void check_block_on_allowed();
  // Drives (current_thread) or waits for (multi_thread) the runtime until ready(cx) is true;
  // false if the runtime shut down first.
  static bool wait_until(detail::Scheduler* s, detail::FunctionRef<bool(Context&)> ready);

  detail::Scheduler* s_;
};

/// Spawns onto the runtime running the current task. Throws std::logic_error when called
/// outside a runtime (use Runtime::spawn or Handle::spawn there).
template <class T>
JoinHandle<T> spawn(Task<T> task) {
  detail::Scheduler* s = detail::current_scheduler();
  if (!s) throw std::logic_error("weft::spawn called outside a runtime; use Runtime::spawn or Handle::spawn");
  return Handle::spawn_on(s, std::move(task));
}

/// Runs `f()` (any callable; its result is the task's output, its exception the task's panic)
/// on the current runtime's blocking pool, a set of threads apart from the workers, for
/// blocking calls (file I/O, a synchronous library, heavy computation). Returns a JoinHandle
/// like spawn. Aborting it before it starts cancels it; once running, it runs to the end
/// (a closure cannot be interrupted). The runtime's shutdown waits for running closures
/// (see Runtime::shutdown_timeout) and cancels queued ones. Throws std::logic_error outside
/// a runtime, std::system_error if no pool thread exists and none can be started.
template <class F>
auto spawn_blocking(F f) {
  detail::Scheduler* s = detail::current_scheduler();
  if (!s) throw std::logic_error("weft::spawn_blocking called outside a runtime; use Runtime::spawn_blocking");
  return Handle::spawn_blocking_on(s, std::move(f));
}

namespace detail {
void block_in_place_enter();
}

/// Runs `f()` (blocking) on the current thread and returns its result, after handing this
/// worker's run queue to a new worker thread, so the tasks queued behind the current one
/// keep running (tokio's block_in_place). The current task waits for f, as with any
/// blocking call; the rest of its poll runs on this thread, which then leaves the runtime.
/// Outside a worker (a plain thread, a blocking-pool thread) f just runs. Throws
/// std::logic_error on a current_thread runtime's thread (nothing could take over; use
/// spawn_blocking). Costs a thread start: for short calls, spawn_blocking is cheaper.
template <class F>
decltype(auto) block_in_place(F&& f) {
  detail::block_in_place_enter();
  return std::invoke(std::forward<F>(f));
}

/// A future that is Pending once (after waking its task) and then Ready: the task goes to
/// the back of its worker's run queue so the others get a turn.
class YieldNow {
 public:
  Poll<void> poll(Context& cx) noexcept {
    if (yielded_) return ready();
    yielded_ = true;
    cx.waker().wake_by_ref();
    return pending;
  }

 private:
  bool yielded_ = false;
};
[[nodiscard]] inline YieldNow yield_now() noexcept { return {}; }
static_assert(Future<YieldNow>);

}  // namespace weft
