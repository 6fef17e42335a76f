// Parker (runtime/src/parker.hpp): the states EMPTY -> PARKED -> NOTIFIED -> EMPTY and
// EMPTY -> NOTIFIED -> EMPTY, one token at most (an unpark is never lost, two unparks
// before a park are one), park_for's timeout racing an unpark, and a ping-pong stress whose
// plain (non-atomic) payload checks that unpark's release pairs with park's acquire.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../support.hpp"
#include "parker.hpp"

namespace {
using weft::detail::Parker;
using namespace std::chrono_literals;

// Long enough never to expire in a test that passes: a park_for that must be woken.
constexpr auto forever = std::chrono::hours(1);

TEST(Parker, unpark_before_park_returns_at_once) {
  Parker p;
  p.unpark();
  p.park();  // EMPTY -> NOTIFIED -> (consumed) EMPTY: returns without blocking
  p.unpark();
  EXPECT_TRUE(p.park_for(forever)) << "a stored token makes park_for return true at once";
}

TEST(Parker, park_for_times_out_with_false) {
  Parker p;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.park_for(2ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2ms) << "false means the timeout elapsed";
  EXPECT_FALSE(p.park_for(0ns));
  EXPECT_FALSE(p.park_for(-1ms));
  // A timeout leaves the parker EMPTY and usable: the next unpark is kept.
  p.unpark();
  EXPECT_TRUE(p.park_for(forever));
}

TEST(Parker, a_token_is_consumed_once) {
  Parker p;
  p.unpark();
  p.unpark();  // NOTIFIED stays NOTIFIED: tokens do not add up
  EXPECT_TRUE(p.park_for(0ns));
  EXPECT_FALSE(p.park_for(1ms)) << "the second unpark must not leave a second token";
  p.unpark();
  p.park();
  EXPECT_FALSE(p.park_for(1ms)) << "park() consumed the token";
}

TEST(Parker, unpark_from_another_thread_wakes_park) {
  Parker p;
  std::atomic<bool> parking{false};
  std::thread sleeper([&] {
    parking.store(true);
    p.park();
  });
  while (!parking.load()) std::this_thread::yield();
  std::this_thread::sleep_for(1ms);  // most likely parked in the futex by now (either way works)
  p.unpark();
  sleeper.join();
}

TEST(Parker, unpark_from_another_thread_makes_park_for_return_true) {
  Parker p;
  bool result = false;
  std::thread sleeper([&] { result = p.park_for(forever); });
  std::this_thread::sleep_for(1ms);
  p.unpark();
  sleeper.join();
  EXPECT_TRUE(result);
}

// park_for(std::chrono::nanoseconds::max()), the natural "no timeout", saturates its
// deadline (it used to compute now() + timeout, a signed overflow that UBSan in the asan
// preset reports).
TEST(Parker, park_for_the_largest_timeout_waits_for_unpark) {
  Parker p;
  bool result = false;
  std::thread sleeper([&] { result = p.park_for(std::chrono::nanoseconds::max()); });
  std::this_thread::sleep_for(1ms);
  p.unpark();
  sleeper.join();
  EXPECT_TRUE(result);
}

// Strict alternation: each side writes the plain `ball`, unparks the other and parks. A
// park that returned without its token, or a token counted twice, breaks the alternation
// (wrong values, or a data race that ThreadSanitizer reports); a lost token hangs.
TEST(Parker, stress_ping_pong_exact_counts) {
  constexpr int rounds = 10000;
  Parker ping, pong;
  int ball = 0;  // plain on purpose: ordered only by unpark (release) / park (acquire)
  int pong_hits = 0;
  std::thread other([&] {
    for (int i = 0; i < rounds; ++i) {
      pong.park();
      EXPECT_EQ(ball, 2 * i + 1);
      ++ball;
      ++pong_hits;
      ping.unpark();
    }
  });
  int ping_hits = 0;
  for (int i = 0; i < rounds; ++i) {
    EXPECT_EQ(ball, 2 * i);
    ++ball;
    ++ping_hits;
    pong.unpark();
    ping.park();
  }
  other.join();
  EXPECT_EQ(ball, 2 * rounds);
  EXPECT_EQ(ping_hits, rounds);
  EXPECT_EQ(pong_hits, rounds);
  EXPECT_FALSE(ping.park_for(0ns)) << "no token left over";
  EXPECT_FALSE(pong.park_for(0ns)) << "no token left over";
}

// Unparks racing park_for's timeout: each unpark is sent only after the previous token was
// consumed (acknowledged through a second Parker), so tokens never merge and every one must
// come back as exactly one `true`, whether it arrives before the park, during the futex
// wait, or while the timeout is being withdrawn (PARKED -> EMPTY loses to NOTIFIED).
TEST(Parker, stress_unpark_races_park_for_timeout) {
  constexpr int tokens = 2000;
  constexpr std::chrono::microseconds timeouts[] = {0us, 1us, 5us, 20us};
  Parker p, ack;
  std::thread unparker([&] {
    for (int i = 0; i < tokens; ++i) {
      p.unpark();
      ack.park();
    }
  });
  int trues = 0;
  while (trues < tokens) {
    // Timeouts of 0 to 20us: the unpark lands on every side of the deadline.
    if (p.park_for(timeouts[trues % 4])) {
      ++trues;
      ack.unpark();
    }
  }
  unparker.join();
  EXPECT_EQ(trues, tokens);
  EXPECT_FALSE(p.park_for(0ns)) << "no token counted twice";
  EXPECT_FALSE(ack.park_for(0ns));
}

// Many unparkers, one parker: the parker consumes published work until all of it is done.
// A lost token would leave it parked with work published (a hang).
TEST(Parker, stress_many_unparkers_no_lost_token) {
  constexpr int producers = 3, per_producer = 20000;
  Parker p;
  std::atomic<int> published{0};
  auto threads = weft_test::start_publishers(producers, per_producer, published, [&p] { p.unpark(); });
  int seen = 0, parks = 0;
  while (seen < producers * per_producer) {
    int now = published.load();
    if (now == seen) {
      p.park();  // every publish is followed by an unpark, so this returns
      ++parks;
    }
    seen = now;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen, producers * per_producer);
  EXPECT_LE(parks, producers * per_producer) << "at most one park return per unpark";
}

}  // namespace
