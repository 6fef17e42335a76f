// Driver (runtime/src/driver/driver.hpp): the unpark signal of a turn. An unpark before a
// turn makes it return at once; one unpark wakes one turn only (the next turn waits again,
// however many unparks came before the first); an unpark from another thread interrupts a
// turn in progress; and a ping-pong of turns and unparks loses none (exact round count).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../support.hpp"
#include "driver/driver.hpp"

namespace {
using weft::detail::Driver;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A turn that must be woken waits at most this long; reaching it fails the test (no hang).
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
  int late = 0;
  for (int i = 0; i < rounds; ++i) {
    if (l.turn(limit) >= limit) ++late;
    // Release: pairs with the waker's acquire load.
    turned.fetch_add(1, std::memory_order_release);
  }
  EXPECT_EQ(late, 0) << "turns that ran into their limit: an unpark was lost";
  EXPECT_EQ(turned.load(), rounds);
}

}  // namespace
