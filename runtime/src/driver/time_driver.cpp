#include "driver/time_driver.hpp"

#include <array>
#include <utility>

namespace weft::detail {

namespace {
using std::chrono::nanoseconds;
constexpr std::int64_t ns_per_tick = TimeDriver::tick_length.count();

std::int64_t ns_of(nanoseconds d) noexcept { return d.count(); }
}  // namespace

TimeDriver::TimeDriver(bool start_paused) : start_(std::chrono::steady_clock::now()) {
  // Paused from the start: frozen at start_ exactly, so deadlines a whole number of ticks
  // from now() fall on ticks and auto-advance lands on them exactly.
  if (start_paused) paused_.store(true, std::memory_order_relaxed);  // before any reader
}

Instant TimeDriver::now() const noexcept {
  // Acquire: pairs with pause()'s release store of paused_ (after frozen_ns_).
  if (paused_.load(std::memory_order_acquire))
    // Relaxed: written before the flag (or by advance under mu_, on the thread that reads it
    // next: paused time is driven by one thread).
    return start_ + nanoseconds(frozen_ns_.load(std::memory_order_relaxed));
  // Relaxed: offset_ns_ changes only in resume(), before its release store of paused_ = false
  // (a reader that saw the flag cleared by acquire sees it).
  return std::chrono::steady_clock::now() + nanoseconds(offset_ns_.load(std::memory_order_relaxed));
}

bool TimeDriver::pause() {
  std::lock_guard lock(mu_);
  if (paused_.load(std::memory_order_relaxed)) return false;  // mu_ orders writers
  frozen_ns_.store(ns_of(now() - start_), std::memory_order_relaxed);
  // Release: publishes frozen_ns_ to now()'s acquire load.
  paused_.store(true, std::memory_order_release);
  return true;
}

bool TimeDriver::resume() {
  std::lock_guard lock(mu_);
  if (!paused_.load(std::memory_order_relaxed)) return false;  // mu_ orders writers
  // Relaxed: written under mu_ (held); published by the release store of paused_ below.
  const Instant frozen = start_ + nanoseconds(frozen_ns_.load(std::memory_order_relaxed));
  offset_ns_.store(ns_of(frozen - std::chrono::steady_clock::now()), std::memory_order_relaxed);
  // Release: publishes offset_ns_ to now()'s acquire load of the flag.
  paused_.store(false, std::memory_order_release);
  return true;
}

bool TimeDriver::advance(nanoseconds d) {
  std::lock_guard lock(mu_);
  if (!paused_.load(std::memory_order_relaxed)) return false;  // mu_ orders writers
  if (d.count() > 0) frozen_ns_.fetch_add(d.count(), std::memory_order_relaxed);  // see now()
  return true;
}

std::uint64_t TimeDriver::tick_at_or_after(Instant t) const noexcept {
  const std::int64_t ns = ns_of(t - start_);
  if (ns <= 0) return 0;
  return static_cast<std::uint64_t>(ns / ns_per_tick + (ns % ns_per_tick != 0 ? 1 : 0));
}

std::uint64_t TimeDriver::tick_at_or_before(Instant t) const noexcept {
  const std::int64_t ns = ns_of(t - start_);
  return ns <= 0 ? 0 : static_cast<std::uint64_t>(ns / ns_per_tick);
}

Instant TimeDriver::instant_of(std::uint64_t tick) const noexcept {
  // Ticks beyond ~292 years saturate (the wheel clamps far deadlines well before).
  constexpr std::uint64_t max_tick = static_cast<std::uint64_t>(INT64_MAX / ns_per_tick);
  return start_ + nanoseconds(static_cast<std::int64_t>(std::min(tick, max_tick)) * ns_per_tick);
}

TimeDriver::Poll TimeDriver::poll(TimerNode& node, Instant deadline, const Waker& waker, bool& unpark_driver) {
  unpark_driver = false;
  // No clock read here (a vDSO clock_gettime was a third of a timer's insert+cancel): a
  // timer is due when the wheel says so, as in tokio. What the driver processed is
  // wheel_.elapsed(); a deadline at or before it is Ready, a later one waits for the turn
  // that processes its tick (never early: process() reads the clock).
  const std::uint64_t tick = tick_at_or_after(deadline);
  std::optional<Waker> old;  // dropped after unlocking (see the top of the header)
  std::lock_guard lock(mu_);
  if (node.shutdown) return Poll::Shutdown;
  switch (node.state()) {
    case TimerState::Fired:
      // Fired at its tick; or earlier, at the clamp of a far deadline: then file it again.
      if (node.deadline() >= tick) {
        old.emplace(std::move(node.waker));
        return Poll::Ready;
      }
      [[fallthrough]];
    case TimerState::Idle:
    case TimerState::Cancelled:
      // Not in the wheel: never registered, reset (cancelled), or fired at the clamp.
      if (tick <= wheel_.elapsed()) return Poll::Ready;
      if (shut_down_) return Poll::Shutdown;
      wheel_.insert(node, tick);
      note_size();
      if (parked_ && tick < parked_until_) {
        unpark_driver = true;
        // The parked thread now wakes by `tick`: a later timer needs no second unpark
        // (10,000 timers filed in one poll wrote the eventfd 10,000 times).
        parked_until_ = tick;
      }
      break;
    case TimerState::Registered:
    case TimerState::PendingFire:
      break;
  }
  if (!node.waker.will_wake(waker)) old.emplace(std::exchange(node.waker, waker));
  return Poll::Pending;
}

void TimeDriver::cancel(TimerNode& node) noexcept {
  // Acquire: pairs with the wheel's release stores of the state. Idle (never inserted) and
  // Cancelled (taken out by a cancel under mu_) nodes are not touched by process(); any
  // other may be between leaving the wheel and giving up its waker in process(), under mu_,
  // so the caller (about to free the node, or to re-register it) must wait for the lock.
  const TimerState s = node.state();
  if (s == TimerState::Idle || s == TimerState::Cancelled) return;
  Waker old;  // dropped after unlocking; a cancelled timer keeps nothing of its task alive
  std::lock_guard lock(mu_);
  (void)wheel_.cancel(node);
  note_size();
  old = std::move(node.waker);
}

std::size_t TimeDriver::process(bool was_parked) {
  // Relaxed hint: nothing registered and no parked state to clear, so no lock and no clock.
  // A timer registered meanwhile is fired by the next turn (whoever parks next computes its
  // timeout from the wheel under mu_).
  if (!was_parked && !has_timers()) return 0;
  std::size_t fired = 0;
  std::array<TimerEntry*, WakeList::capacity> batch;
  WakeList wakers;  // raw storage: a turn with nothing due constructs no Waker
  for (;;) {
    std::size_t n;
    {
      std::lock_guard lock(mu_);
      if (was_parked) {
        parked_ = false;  // see park_timeout
        was_parked = false;
      }
      // An empty wheel reads no clock; its elapsed() may lag then (poll() files a deadline
      // that passed meanwhile, and the next turn fires it).
      if (wheel_.size() == 0) return fired;
      n = wheel_.take_expired(tick_at_or_before(now()), batch);
      note_size();
      for (std::size_t i = 0; i < n; ++i) wakers.push(std::move(static_cast<TimerNode*>(batch[i])->waker));
    }
    wakers.wake_all();
    fired += n;
    if (n < batch.size()) return fired;
  }
}

std::optional<nanoseconds> TimeDriver::park_timeout() {
  std::lock_guard lock(mu_);
  const std::optional<std::uint64_t> next = wheel_.next_expiration();
  parked_ = true;
  parked_until_ = next.value_or(UINT64_MAX);
  if (!next) return std::nullopt;
  const nanoseconds left = instant_of(*next) - now();
  return left.count() > 0 ? left : nanoseconds(0);
}

bool TimeDriver::auto_advance_or_park() {
  std::lock_guard lock(mu_);
  const std::optional<std::uint64_t> next = wheel_.next_expiration();
  if (!next) {
    // As park_timeout with an empty wheel; in the same lock section as the look above, so a
    // registration either came before it (and is advanced to) or sees the driver parked.
    parked_ = true;
    parked_until_ = UINT64_MAX;
    return false;
  }
  const std::int64_t target = ns_of(instant_of(*next) - start_);
  // Relaxed: see now(); mu_ orders this with pause/resume/advance.
  if (target > frozen_ns_.load(std::memory_order_relaxed)) frozen_ns_.store(target, std::memory_order_relaxed);
  return true;
}

void TimeDriver::shutdown() {
  std::array<TimerEntry*, WakeList::capacity> batch;
  WakeList wakers;
  for (;;) {
    std::size_t n;
    {
      std::lock_guard lock(mu_);
      shut_down_ = true;
      n = wheel_.take_expired(UINT64_MAX, batch);
      note_size();
      for (std::size_t i = 0; i < n; ++i) {
        auto* node = static_cast<TimerNode*>(batch[i]);
        node->shutdown = true;
        wakers.push(std::move(node->waker));
      }
    }
    wakers.wake_all();
    if (n < batch.size()) return;
  }
}

}  // namespace weft::detail
