#pragma once
// weft::time: sleeps, timeouts and intervals on the runtime's timer wheel (tokio's time module
// in C++). Needs a runtime with enable_time (the default).
//
//   co_await weft::time::sleep(10ms);
//   auto r = co_await weft::time::timeout(100ms, rx.recv());   // Result<T, Elapsed>
//   if (!r) ... // timed out (the receive was dropped, nothing lost: see timeout below)
//   auto iv = weft::time::interval(1s);
//   for (;;) { co_await iv.tick(); ... }
//
// Resolution: 100 us (tokio's is 1 ms; runtime/src/driver/time_driver.hpp says why). A timer
// fires at the first 100 us tick at or after its deadline (never early), when the driver next
// turns: at once if a worker is parked in it, else at a busy worker's next maintenance (every
// event_interval scheduler ticks). A Sleep whose deadline has passed at its first poll is
// Ready at once; a registered one completes when the driver fires it (its polls read no
// clock, as in tokio).
//
// Instants are std::chrono::steady_clock time points read from the runtime's clock: now()
// is steady_clock::now() unless the clock is paused (pause / advance / start_paused), which
// only the current_thread flavour supports, as in tokio.
//
// A timer is registered with the runtime whose task first polls it (a Sleep created outside
// a runtime binds on its first Pending poll) and stays with it. Dropping a Sleep cancels
// its timer (O(1)). After the runtime shuts down, polling a pending Sleep throws
// std::runtime_error.
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/result.hpp"
#include "weft/stream/stream.hpp"
#include "weft/task.hpp"
#include "weft/waker.hpp"

namespace weft::time {

using Instant = std::chrono::steady_clock::time_point;
using Duration = std::chrono::nanoseconds;

}  // namespace weft::time

namespace weft::detail {
struct TimerHandle;
/// A timer on the current thread's runtime; throws std::logic_error outside a runtime or if
/// the runtime has enable_time off.
TimerHandle* timer_new();
/// True once `deadline` has passed; else registers the timer at it with cx's waker. Throws
/// std::runtime_error if the runtime shut down.
bool timer_poll(TimerHandle* t, time::Instant deadline, Context& cx);
/// Takes the timer out of the wheel (a reset); it registers again on its next poll.
void timer_cancel(TimerHandle* t) noexcept;
void timer_delete(TimerHandle* t) noexcept;
time::Instant time_now() noexcept;
void time_pause();
void time_resume();
void time_advance(time::Duration d);
}  // namespace weft::detail

namespace weft::time {

/// The current runtime's clock (paused or not); steady_clock::now() outside a runtime.
inline Instant now() noexcept { return detail::time_now(); }

/// `t + d`, saturated at the clock's range (a sleep of Duration::max() never overflows; it
/// waits until far in the future).
inline Instant deadline_after(Instant t, Duration d) noexcept {
  static_assert(std::is_same_v<Instant::duration, Duration>);
  // On the raw counts: neither side of a comparison can overflow (t - min() would).
  const auto now = t.time_since_epoch().count();
  if (d.count() > 0 && now > Instant::max().time_since_epoch().count() - d.count()) return Instant::max();
  if (d.count() < 0 && now < Instant::min().time_since_epoch().count() - d.count()) return Instant::min();
  return t + d;
}

/// A future that completes at `deadline` (weft::Future<void>). Movable (its timer is on the
/// heap, allocated on its first Pending poll); polling after completion is Ready again.
class [[nodiscard]] Sleep {
 public:
  explicit Sleep(Instant deadline) noexcept : deadline_(deadline) {}
  Sleep(Sleep&& o) noexcept : deadline_(o.deadline_), timer_(std::exchange(o.timer_, nullptr)) {}
  Sleep& operator=(Sleep&& o) noexcept {
    if (this != &o) {
      release();
      deadline_ = o.deadline_;
      timer_ = std::exchange(o.timer_, nullptr);
    }
    return *this;
  }
  Sleep(const Sleep&) = delete;
  Sleep& operator=(const Sleep&) = delete;
  ~Sleep() { release(); }

  Poll<void> poll(Context& cx) {
    if (timer_ == nullptr) {
      // The first poll: a deadline already passed needs no timer. Later polls read no
      // clock: the timer is Ready once the driver fired it.
      if (now() >= deadline_) return ready();
      timer_ = detail::timer_new();
    }
    if (detail::timer_poll(timer_, deadline_, cx)) return ready();
    return pending;
  }
  [[nodiscard]] Instant deadline() const noexcept { return deadline_; }
  [[nodiscard]] bool is_elapsed() const noexcept { return now() >= deadline_; }
  /// Moves the deadline (earlier or later); the next poll waits for the new one.
  void reset(Instant deadline) noexcept {
    deadline_ = deadline;
    if (timer_ != nullptr) detail::timer_cancel(timer_);
  }

 private:
  void release() noexcept {
    if (timer_ != nullptr) detail::timer_delete(std::exchange(timer_, nullptr));
  }
  Instant deadline_;
  detail::TimerHandle* timer_ = nullptr;
};
static_assert(Future<Sleep>);

/// Completes `d` after now() (a negative or zero duration: at once, without a timer).
inline Sleep sleep(Duration d) noexcept { return Sleep(deadline_after(now(), d)); }
inline Sleep sleep_until(Instant deadline) noexcept { return Sleep(deadline); }

/// The error of a timeout that expired.
struct Elapsed {
  friend bool operator==(Elapsed, Elapsed) noexcept { return true; }
};

/// Races a future with a deadline: Result<T, Elapsed> (weft::Future). The inner future is
/// polled first, so one that is ready at the deadline still wins. On Elapsed, the inner
/// future is not polled again; it is destroyed with the Timeout (a channel receive that did
/// not complete loses nothing).
template <Future F>
class [[nodiscard]] Timeout {
  using T = future_output_t<F>;

 public:
  Timeout(F fut, Instant deadline) : fut_(std::move(fut)), sleep_(deadline) {}
  Poll<Result<T, Elapsed>> poll(Context& cx) {
    auto p = fut_.poll(cx);
    if (p.is_ready()) {
      if constexpr (std::is_void_v<T>) return Result<T, Elapsed>();
      else return Result<T, Elapsed>(std::move(p).take());
    }
    if (sleep_.poll(cx).is_ready()) return Result<T, Elapsed>(Err<Elapsed>(Elapsed{}));
    return pending;
  }
  F& get_mut() noexcept { return fut_; }
  [[nodiscard]] Instant deadline() const noexcept { return sleep_.deadline(); }

 private:
  F fut_;
  Sleep sleep_;
};

namespace detail_time {
template <class A>
auto as_future(A&& a) {
  if constexpr (Future<std::remove_cvref_t<A>>) return std::forward<A>(a);
  else return into_future(std::forward<A>(a));  // a Task<T>: driven inside the timeout's poll
}
}  // namespace detail_time

/// `timeout(d, f)`: f is a leaf future or a Task<T> (which then runs inside the awaiting
/// task, with its waker: a timed-out Task is destroyed, its locals' destructors run).
template <class A>
auto timeout(Duration d, A&& awaitable) {
  auto f = detail_time::as_future(std::forward<A>(awaitable));
  return Timeout<decltype(f)>(std::move(f), deadline_after(now(), d));
}
template <class A>
auto timeout_at(Instant deadline, A&& awaitable) {
  auto f = detail_time::as_future(std::forward<A>(awaitable));
  return Timeout<decltype(f)>(std::move(f), deadline);
}

/// What an Interval does when ticks were missed (the task was late by more than 5 ms):
/// Burst fires the missed ticks back to back (the schedule is kept); Delay starts the
/// schedule again from now; Skip fires at the next tick of the original schedule.
enum class MissedTickBehavior : std::uint8_t { Burst, Delay, Skip };

/// Ticks every `period`, the first tick at `start` (tokio's Interval). tick() is a future of
/// the tick's scheduled Instant; Interval is also a Stream of them (it never ends).
class Interval {
 public:
  /// Throws std::invalid_argument if period is not positive.
  Interval(Instant start, Duration period, MissedTickBehavior b = MissedTickBehavior::Burst)
      : sleep_(start), period_(period), behavior_(b) {
    if (period.count() <= 0) throw std::invalid_argument("weft::time::interval: the period must be positive");
  }

  Poll<Instant> poll_tick(Context& cx) {
    if (sleep_.poll(cx).is_pending()) return pending;
    const Instant scheduled = sleep_.deadline();
    const Instant t = now();
    Instant next = scheduled + period_;
    if (t > scheduled + std::chrono::milliseconds(5)) {
      switch (behavior_) {
        case MissedTickBehavior::Burst: break;
        case MissedTickBehavior::Delay: next = t + period_; break;
        case MissedTickBehavior::Skip: next = t + period_ - (t - scheduled) % period_; break;
      }
    }
    sleep_.reset(next);
    return scheduled;
  }
  Poll<std::optional<Instant>> poll_next(Context& cx) {
    auto p = poll_tick(cx);
    if (p.is_pending()) return pending;
    return std::optional<Instant>(std::move(p).take());
  }

  /// The next tick (awaitable: `co_await iv.tick()`); the Interval must outlive it.
  [[nodiscard]] auto tick() noexcept {
    struct Tick {
      Interval* iv;
      Poll<Instant> poll(Context& cx) { return iv->poll_tick(cx); }
    };
    return Tick{this};
  }
  /// The next tick is one period from now.
  void reset() noexcept { sleep_.reset(deadline_after(now(), period_)); }
  [[nodiscard]] Duration period() const noexcept { return period_; }
  [[nodiscard]] MissedTickBehavior missed_tick_behavior() const noexcept { return behavior_; }
  void set_missed_tick_behavior(MissedTickBehavior b) noexcept { behavior_ = b; }

 private:
  Sleep sleep_;
  Duration period_;
  MissedTickBehavior behavior_;
};
static_assert(Stream<Interval>);

/// An interval whose first tick is now.
inline Interval interval(Duration period) { return Interval(now(), period); }
inline Interval interval_at(Instant start, Duration period) { return Interval(start, period); }

/// Freezes the current runtime's clock (current_thread runtimes with enable_time). Throws
/// std::logic_error outside such a runtime or if the clock is already paused.
inline void pause() { detail::time_pause(); }
/// Lets the paused clock run again from where it stands. Throws std::logic_error if it is
/// not paused.
inline void resume() { detail::time_resume(); }

/// Moves the paused clock forward by `d`, fires the timers that are now due (their tasks are
/// scheduled), then yields once so they run before the caller continues. Throws
/// std::logic_error if the clock is not paused. `co_await weft::time::advance(1h);`
inline auto advance(Duration d) {
  struct Advance {
    Duration d;
    bool done = false;
    Poll<void> poll(Context& cx) {
      if (done) return ready();
      detail::time_advance(d);
      done = true;
      cx.waker().wake_by_ref();
      return pending;
    }
  };
  return Advance{d};
}

}  // namespace weft::time
