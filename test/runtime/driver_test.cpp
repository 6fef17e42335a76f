// Driver (runtime/src/driver/driver.hpp): the unpark signal of a turn. An unpark before a
// turn makes it return at once; one unpark wakes one turn only (the next turn waits again,
// however many unparks came before the first); an unpark from another thread interrupts a
// turn in progress; and a ping-pong of turns and unparks loses none (exact round count).
// TimeDriver's paused park: with no timer it records the driver as parked, so a timer
// registered next asks for an unpark; with a timer it moves the clock there instead.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "driver/driver.hpp"
#include "driver/time_driver.hpp"

namespace {
using weft::detail::Driver;
using weft::detail::TimeDriver;
using weft::detail::TimerNode;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A turn that must be woken waits at most this long; one that takes half of it fails the
// test (so a lost unpark costs 10 s, not a hang).
constexpr auto limit = std::chrono::seconds(20);

struct Locked {
  Driver d;
  explicit Locked(Driver::Options o) : d(o) { EXPECT_TRUE(d.try_lock()); }
  ~Locked() { d.unlock(); }
  /// One turn; how long it took.
  Clock::duration turn(std::chrono::nanoseconds max) {
    const auto t0 = Clock::now();
    (void)d.turn(max);
    return Clock::now() - t0;
  }
};

Driver::Options options(bool io, bool time) {
  Driver::Options o;
  o.enable_io = io;
  o.enable_time = time;
  return o;
}

TEST(Driver, unpark_before_a_turn_returns_it_at_once) {
  for (bool io : {false, true})
    for (bool time : {false, true}) {
      Locked l(options(io, time));
      l.d.unpark();
      EXPECT_LT(l.turn(limit), limit / 2) << "io " << io << " time " << time;
    }
}

TEST(Driver, one_unpark_wakes_one_turn_however_many_came_before) {
  Locked l(options(true, true));
  for (int i = 0; i < 5; ++i) l.d.unpark();
  EXPECT_LT(l.turn(limit), limit / 2);
  // Nothing new: this turn sleeps its whole limit (a stale readiness would return at once).
  EXPECT_GE(l.turn(50ms), 45ms);
  l.d.unpark();
  EXPECT_LT(l.turn(limit), limit / 2) << "a later unpark is an event of its own";
}

TEST(Driver, a_poll_consumes_the_unpark) {
  Locked l(options(true, true));
  l.d.unpark();
  (void)l.turn(0ns);  // a busy worker's maintenance poll
  EXPECT_GE(l.turn(50ms), 45ms);
}

TEST(Driver, unpark_from_another_thread_interrupts_a_turn_in_progress) {
  Locked l(options(true, true));
  std::jthread t([&] {
    std::this_thread::sleep_for(20ms);  // most likely inside epoll_wait by then
    l.d.unpark();
  });
  EXPECT_LT(l.turn(limit), limit / 2);
}

TEST(Driver, ping_pong_of_turns_and_unparks_loses_none) {
  constexpr int rounds = 2000;
  Locked l(options(true, true));
  std::atomic<int> turned{0};  // rounds the turner finished
  std::jthread waker([&] {
    for (int i = 0; i < rounds; ++i) {
      // Acquire: pairs with the turner's release increment (round i is over).
      while (turned.load(std::memory_order_acquire) < i) std::this_thread::yield();
      l.d.unpark();
    }
  });
  for (int i = 0; i < rounds; ++i) {
    const auto took = l.turn(limit);
    // Release: pairs with the waker's acquire load (also before a failure: the waker ends).
    turned.fetch_add(1, std::memory_order_release);
    if (took >= limit / 2) {
      turned.store(rounds, std::memory_order_release);  // lets the waker finish its rounds
      FAIL() << "round " << i << " ran into half its limit: an unpark was lost";
    }
  }
  EXPECT_EQ(turned.load(), rounds);
}

TEST(TimeDriver, a_paused_park_without_timers_is_seen_by_the_next_registration) {
  TimeDriver td(/*start_paused=*/true);
  ASSERT_FALSE(td.auto_advance_or_park()) << "no timer to advance to";
  TimerNode node;
  bool unpark = false;
  EXPECT_EQ(td.poll(node, td.now() + 1h, weft::Waker(), unpark), TimeDriver::Poll::Pending);
  EXPECT_TRUE(unpark) << "the driver parked with no deadline must be interrupted";
  (void)td.process(/*was_parked=*/true);
  td.cancel(node);
}

TEST(TimeDriver, a_paused_park_with_a_timer_advances_the_clock_to_it) {
  TimeDriver td(/*start_paused=*/true);
  const auto t0 = td.now();
  TimerNode node;
  bool unpark = false;
  // 5 ms: 50 ticks, in the wheel's first level, whose next expiration is the deadline itself
  // (a farther one is advanced to level by level).
  ASSERT_EQ(td.poll(node, t0 + 5ms, weft::Waker(), unpark), TimeDriver::Poll::Pending);
  EXPECT_FALSE(unpark) << "nobody is parked";
  ASSERT_TRUE(td.auto_advance_or_park());
  EXPECT_EQ(td.now() - t0, std::chrono::nanoseconds(5ms));
  EXPECT_EQ(td.process(), 1u) << "the timer is due at the new time";
  td.cancel(node);  // a no-op once fired; out of the wheel before it is destroyed otherwise
}

}  // namespace
