#pragma once
// The time driver: the runtime's clock (real, or paused for tests) and its timer wheel.
//
// One wheel per runtime (runtime/src/time/wheel.hpp: 6 levels x 64 slots of 100 us), guarded by
// `mu_`. A timer is a TimerNode (a wheel entry plus the waker of the future that waits on it),
// owned by its future (weft::time::Sleep) and allocated on its first poll. Whoever turns the
// driver (the worker parked in it, or a worker's maintenance) calls process(): it takes the
// expired entries under `mu_`, moves their wakers out, and wakes them after unlocking, 32 at a
// time. A node is freed by its future only after cancel() (which waits for `mu_` unless the
// node is Idle or Cancelled), so process() never touches a freed node; after unlocking it uses
// only the wakers it moved. No waker is dropped under `mu_` either (its destructor may free a
// Sleep, which takes `mu_`): replaced and cancelled wakers are dropped after unlocking.
//
// Resolution: 100 us ticks (tokio: 1 ms). A deadline is rounded up to the next tick (a timer
// never fires early; it fires up to one tick late plus the wake-up latency), and the driver
// waits with epoll_pwait2, whose timeout is a timespec (Linux 5.11; epoll_wait's whole
// milliseconds if the kernel lacks it). Why finer than tokio: with 1 ms ticks a task that
// sleeps 1 ms again and again is late by about 1 ms every time (it wakes just after a tick,
// so its next deadline rounds up almost a whole tick), which is what bench/timers.cpp's
// sleep_lateness showed for both runtimes (p50 1.0 ms). Why not finer still: the kernel's
// default timer slack is 50 us, and whole milliseconds stay whole ticks (a paused clock lands
// on them exactly). Range: 63 x 64^5 ticks = 78 days; a farther deadline fires at the clamp
// and its Sleep files itself again (poll).
//
// The clock. now() is steady_clock::now() + offset_, or, while paused, frozen_. pause() freezes
// the clock, advance(d) moves the frozen clock, resume() lets it run again from where it was
// frozen (offset_ takes the difference). Paused time is for the current_thread flavour (one
// thread turns the driver); when the driver would sleep until a timer while paused, it moves
// the clock to that timer's tick instead (auto-advance), so sleeping an hour takes no time.
// A runtime that starts paused is frozen at start_, so a deadline a whole number of ticks
// (100 us) away is reached exactly; after a pause() mid-run, auto-advance lands on the tick,
// up to one tick past the deadline.
//
// The parked deadline. A driver parked in epoll_wait sleeps until `parked_until_` (a tick; max
// if no timer), and `parked_` says one is parked. A timer registered with an earlier deadline
// must interrupt it: poll() reads both under `mu_`, where the parker wrote them before
// sleeping (park_timeout), and asks the caller to unpark the driver. No lost wake: either the
// registration's lock comes first and the parker computes its timeout with the new entry, or
// the parker's comes first and the registration sees it parked and unparks (the eventfd's
// event waits until the parker's epoll_wait reports it: only the parker turns the driver
// meanwhile). With the clock paused, the look for a timer to advance to and the record of
// parking are that one lock section (auto_advance_or_park). The unpark lowers
// `parked_until_` to the new tick (the parker now wakes by then and recomputes from the
// wheel), so only a still earlier timer unparks again. When nobody is parked (a busy
// runtime), registering a timer costs no unpark: whoever parks next computes its timeout
// from the wheel.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "time/wheel.hpp"
#include "weft/detail/wake_list.hpp"
#include "weft/waker.hpp"

namespace weft::detail {

using Instant = std::chrono::steady_clock::time_point;

/// A timer: its wheel entry and the waker to wake when it fires. Fields other than the
/// entry's state are guarded by TimeDriver::mu_.
struct TimerNode : TimerEntry {
  Waker waker;
  bool shutdown = false;  // fired by the driver's shutdown, not by its deadline
};

class TimeDriver {
 public:
  /// The length of a tick.
  static constexpr std::chrono::nanoseconds tick_length{100'000};

  explicit TimeDriver(bool start_paused);
  TimeDriver(const TimeDriver&) = delete;
  TimeDriver& operator=(const TimeDriver&) = delete;

  [[nodiscard]] Instant now() const noexcept;
  /// Freezes the clock; false if it was already paused.
  bool pause();
  /// Lets a paused clock run again; false if it was not paused.
  bool resume();
  /// Moves the paused clock forward by `d`; false if the clock is not paused.
  bool advance(std::chrono::nanoseconds d);
  [[nodiscard]] bool paused() const noexcept {
    // Acquire: pairs with pause()'s release store, so frozen_ is seen with the flag.
    return paused_.load(std::memory_order_acquire);
  }

  enum class Poll : std::uint8_t { Pending, Ready, Shutdown };
  /// A future's poll of its timer: Ready if the timer fired (or its deadline is not after
  /// the last tick the driver processed), Shutdown if the driver shut down, else registers
  /// `node` in the wheel at `deadline` (unless it is there), stores a clone of cx's waker
  /// and returns Pending. `unpark_driver` is set when the
  /// caller must interrupt the parked driver (the new deadline is before its wake-up).
  Poll poll(TimerNode& node, Instant deadline, const Waker& waker, bool& unpark_driver);
  /// Takes `node` out of the wheel (it registers again on its next poll); afterwards the
  /// driver no longer touches it, so it may be freed.
  void cancel(TimerNode& node) noexcept;

  /// Fires every timer whose deadline has passed; wakes their futures. Returns how many.
  /// `was_parked`: the turn had called park_timeout; clears the parked state first (under
  /// the same lock).
  std::size_t process(bool was_parked = false);
  /// How long a parked driver may sleep before the next timer is due (nullopt: no timer).
  /// Records that deadline as the parked one until process(true) (see the top of this file).
  std::optional<std::chrono::nanoseconds> park_timeout();
  /// Paused clock only, under one lock: if a timer is registered, moves the clock to its
  /// deadline (if later than now) and returns true; else records the driver as parked with
  /// no deadline (as park_timeout) and returns false, so that a timer registered from now on
  /// sees it parked and unparks it.
  bool auto_advance_or_park();
  /// Whether any timer is registered (a hint for skipping a driver turn).
  [[nodiscard]] bool has_timers() const noexcept {
    // Relaxed: a hint; a timer registered meanwhile unparks the driver or waits for the
    // next turn, as when the hint was read just before it.
    return registered_.load(std::memory_order_relaxed) != 0;
  }
  /// Fires every remaining timer as shut down (their futures throw); no more registrations.
  void shutdown();

 private:
  [[nodiscard]] std::uint64_t tick_at_or_after(Instant t) const noexcept;
  [[nodiscard]] std::uint64_t tick_at_or_before(Instant t) const noexcept;
  [[nodiscard]] Instant instant_of(std::uint64_t tick) const noexcept;

  const Instant start_;
  // The clock (see the top of this file). Written under mu_; read by now() without it.
  std::atomic<bool> paused_{false};
  std::atomic<std::int64_t> frozen_ns_{0};  // since start_, while paused
  std::atomic<std::int64_t> offset_ns_{0};  // added to the real clock while running
  mutable std::mutex mu_;
  TimerWheel wheel_;                          // mu_
  bool parked_ = false;                       // mu_: a thread sleeps in the driver
  std::uint64_t parked_until_ = UINT64_MAX;   // mu_: until this tick (max: no timer)
  bool shut_down_ = false;                    // mu_
  std::atomic<std::size_t> registered_{0};    // written under mu_ (mirrors wheel_.size())
  // After every change of the wheel, under mu_. Relaxed: has_timers reads a hint.
  void note_size() noexcept { registered_.store(wheel_.size(), std::memory_order_relaxed); }
};

}  // namespace weft::detail
