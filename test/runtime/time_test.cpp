// weft::time: sleep, timeout, interval, the paused clock, and the driver's timer wakes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "weft/sync.hpp"
#include "weft/stream/sources.hpp"
#include "weft/stream/time.hpp"
#include "weft/time.hpp"
#include "weft/join_set.hpp"
#include "weft/weft.hpp"

namespace {
using namespace weft_test::runtime_names;
using namespace std::chrono_literals;
using weft::time::Instant;
namespace wt = weft::time;

RuntimeOptions paused() {
  RuntimeOptions o = weft_test::ct();
  o.start_paused = true;
  return o;
}

// A future that never completes.
struct Never {
  weft::Poll<int> poll(weft::Context&) { return weft::pending; }
};

class TimeBothFlavors : public ::testing::TestWithParam<Flavor> {
 protected:
  RuntimeOptions opts() const { return GetParam() == Flavor::current_thread ? weft_test::ct() : weft_test::mt(); }
};

TEST_P(TimeBothFlavors, sleep_never_completes_early) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    for (auto d : {1ms, 5ms, 20ms}) {
      const Instant t0 = wt::now();
      co_await wt::sleep(d);
      EXPECT_GE(wt::now() - t0, d);
    }
  }());
}

TEST_P(TimeBothFlavors, a_zero_or_past_sleep_is_ready_at_once) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    co_await wt::sleep(0ms);
    co_await wt::sleep(-5ms);
    co_await wt::sleep_until(wt::now() - 1h);
  }());
}

TEST_P(TimeBothFlavors, timeout_around_a_never_ready_future_elapses) {
  Runtime rt(opts());
  auto r = rt.block_on([]() -> Task<weft::Result<int, wt::Elapsed>> { co_return co_await wt::timeout(10ms, Never{}); }());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), wt::Elapsed{});
}

TEST_P(TimeBothFlavors, timeout_returns_the_value_of_a_future_that_wins) {
  Runtime rt(opts());
  int v = rt.block_on([]() -> Task<int> {
    auto [tx, rx] = weft::oneshot::channel<int>();
    auto sender = weft::spawn([](weft::oneshot::Sender<int> tx) -> Task<void> {
      co_await wt::sleep(2ms);
      (void)tx.send(7);
    }(std::move(tx)));
    auto r = co_await wt::timeout(10s, std::move(rx));
    co_await sender;
    co_return r ? r.value() : -1;
  }());
  EXPECT_EQ(v, 7);
}

TEST_P(TimeBothFlavors, timeout_drives_a_task_and_destroys_it_on_elapse) {
  Runtime rt(opts());
  std::atomic<int> dropped{0};
  rt.block_on([](std::atomic<int>* dropped) -> Task<void> {
    auto quick = co_await wt::timeout(10s, []() -> Task<int> {
      co_await wt::sleep(1ms);
      co_return 3;
    }());
    EXPECT_TRUE(quick);
    EXPECT_EQ(quick ? *quick : -1, 3);
    auto slow = co_await wt::timeout(5ms, [](std::atomic<int>* d) -> Task<int> {
      weft_test::Guard g{d};
      co_await wt::sleep(1h);
      co_return 4;
    }(dropped));
    EXPECT_FALSE(slow);
  }(&dropped));
  EXPECT_EQ(dropped.load(), 1) << "the timed-out task's frame was destroyed";
}

// The driver parks until the one timer (10 s); a new, earlier timer must interrupt it.
TEST_P(TimeBothFlavors, an_earlier_timer_interrupts_a_driver_parked_for_a_later_one) {
  Runtime rt(opts());
  auto far = rt.spawn([]() -> Task<void> { co_await wt::sleep(10s); }());
  std::this_thread::sleep_for(20ms);  // the runtime is idle, parked in the driver until 10 s
  const auto t0 = std::chrono::steady_clock::now();
  rt.block_on([]() -> Task<void> { co_await wt::sleep(5ms); }());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  far.abort();
}

TEST_P(TimeBothFlavors, many_timers_all_fire_and_none_early) {
  Runtime rt(opts());
  constexpr int n = 2'000;
  std::atomic<int> fired{0}, early{0};
  rt.block_on([](std::atomic<int>* fired, std::atomic<int>* early) -> Task<void> {
    weft::JoinSet<void> set;
    std::mt19937 rng(42);
    for (int i = 0; i < n; ++i) {
      const auto d = std::chrono::microseconds(rng() % 30'000);
      set.spawn([](std::chrono::microseconds d, std::atomic<int>* fired, std::atomic<int>* early) -> Task<void> {
        const Instant t0 = wt::now();
        co_await wt::sleep(d);
        if (wt::now() - t0 < d) early->fetch_add(1);
        fired->fetch_add(1);
      }(d, fired, early));
    }
    while (auto r = co_await set.join_next()) EXPECT_TRUE(*r);
  }(&fired, &early));
  EXPECT_EQ(fired.load(), n);
  EXPECT_EQ(early.load(), 0);
}

TEST_P(TimeBothFlavors, aborting_a_sleeping_task_cancels_its_timer) {
  Runtime rt(opts());
  std::atomic<int> dropped{0};
  rt.block_on([](std::atomic<int>* dropped) -> Task<void> {
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < 100; ++i)
      hs.push_back(weft::spawn([](std::atomic<int>* d) -> Task<void> {
        weft_test::Guard g{d};
        co_await wt::sleep(1h);
      }(dropped)));
    co_await wt::sleep(2ms);
    for (auto& h : hs) h.abort();
    for (auto& h : hs) {
      auto r = co_await h.result();
      EXPECT_TRUE(r.is_cancelled());
    }
  }(&dropped));
  EXPECT_EQ(dropped.load(), 100);
}

TEST_P(TimeBothFlavors, runtime_shutdown_with_sleeping_tasks_frees_them) {
  std::atomic<int> dropped{0};
  {
    Runtime rt(opts());
    for (int i = 0; i < 50; ++i)
      (void)rt.spawn([](std::atomic<int>* d) -> Task<void> {
        weft_test::Guard g{d};
        co_await wt::sleep(1h);
      }(&dropped));
    rt.block_on([]() -> Task<void> { co_await wt::sleep(2ms); }());
  }
  EXPECT_EQ(dropped.load(), 50);
}

INSTANTIATE_TEST_SUITE_P(Time, TimeBothFlavors, ::testing::Values(Flavor::current_thread, Flavor::multi_thread),
                         [](const auto& i) { return i.param == Flavor::current_thread ? "current_thread" : "multi_thread"; });

// ---- the paused clock ----

TEST(PausedClock, sleeping_an_hour_takes_no_real_time) {
  Runtime rt(paused());
  const auto real0 = std::chrono::steady_clock::now();
  const auto virtual_elapsed = rt.block_on([]() -> Task<wt::Duration> {
    const Instant t0 = wt::now();
    co_await wt::sleep(1h);
    co_return wt::now() - t0;
  }());
  EXPECT_GE(virtual_elapsed, 1h);
  EXPECT_LT(virtual_elapsed, 1h + 2ms);  // auto-advance stops at the timer's tick
  EXPECT_LT(std::chrono::steady_clock::now() - real0, 30s) << "auto-advance, not a real hour";
}

TEST(PausedClock, timers_fire_in_deadline_order_and_ties_in_registration_order) {
  Runtime rt(paused());
  std::vector<int> order = rt.block_on([]() -> Task<std::vector<int>> {
    std::vector<int> order;
    weft::JoinSet<void> set;
    const int delays_ms[] = {50, 10, 30, 10, 2000, 0, 30, 7};
    for (int i = 0; i < 8; ++i)
      set.spawn([](int i, int ms, std::vector<int>* out) -> Task<void> {
        co_await wt::sleep(std::chrono::milliseconds(ms));
        out->push_back(i);
      }(i, delays_ms[i], &order));
    while (auto r = co_await set.join_next()) EXPECT_TRUE(*r);
    co_return order;
  }());
  EXPECT_EQ(order, (std::vector<int>{5, 7, 1, 3, 2, 6, 0, 4}));
}

TEST(PausedClock, now_stands_still_until_advanced) {
  Runtime rt(paused());
  rt.block_on([]() -> Task<void> {
    const Instant t0 = wt::now();
    std::this_thread::sleep_for(5ms);
    EXPECT_EQ(wt::now(), t0);
    co_await wt::advance(90s);
    EXPECT_EQ(wt::now(), t0 + 90s);
  }());
}

TEST(PausedClock, advance_fires_due_timers_before_the_caller_continues) {
  Runtime rt(paused());
  rt.block_on([]() -> Task<void> {
    std::atomic<int> fired{0};
    auto h = weft::spawn([](std::atomic<int>* f) -> Task<void> {
      co_await wt::sleep(10s);
      f->fetch_add(1);
    }(&fired));
    co_await weft::yield_now();  // let it register its timer
    co_await wt::advance(9s);
    EXPECT_EQ(fired.load(), 0);
    co_await wt::advance(1s);
    EXPECT_EQ(fired.load(), 1);
    co_await h;
  }());
}

TEST(PausedClock, resume_lets_the_clock_run_from_where_it_stood) {
  Runtime rt(paused());
  rt.block_on([]() -> Task<void> {
    co_await wt::advance(1h);
    const Instant frozen = wt::now();
    wt::resume();
    std::this_thread::sleep_for(2ms);
    const Instant later = wt::now();
    EXPECT_GE(later - frozen, 2ms);
    EXPECT_LT(later - frozen, 1h);
    co_await wt::sleep(1ms);  // real timers work again
    wt::pause();
    EXPECT_THROW(wt::pause(), std::logic_error);
  }());
}

TEST(PausedClock, misuse_is_a_clear_error) {
  RuntimeOptions o = weft_test::mt();
  o.start_paused = true;
  EXPECT_THROW(Runtime{o}, std::invalid_argument);
  RuntimeOptions no_time = weft_test::ct();
  no_time.enable_time = false;
  no_time.start_paused = true;
  EXPECT_THROW(Runtime{no_time}, std::invalid_argument);

  Runtime mt_rt(weft_test::mt());
  mt_rt.block_on([]() -> Task<void> {
    EXPECT_THROW(wt::pause(), std::logic_error);
    co_return;
  }());
  Runtime ct_rt(weft_test::ct());
  ct_rt.block_on([]() -> Task<void> {
    EXPECT_THROW(wt::resume(), std::logic_error);  // not paused
    bool threw = false;
    try {
      co_await wt::advance(1s);  // not paused
    } catch (const std::logic_error&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
  }());
}

// ---- Interval ----

TEST(Interval, ticks_at_start_then_every_period) {
  Runtime rt(paused());
  rt.block_on([]() -> Task<void> {
    const Instant t0 = wt::now();
    auto iv = wt::interval(10ms);
    for (int i = 0; i < 5; ++i) {
      const Instant at = co_await iv.tick();
      EXPECT_EQ(at, t0 + i * 10ms);
      EXPECT_GE(wt::now(), at);
    }
  }());
}

Task<std::vector<wt::Duration>> ticks_after_a_stall(wt::MissedTickBehavior b) {
  const Instant t0 = wt::now();
  wt::Interval iv(t0, 10ms, b);
  std::vector<wt::Duration> at;
  (void)co_await iv.tick();    // t0
  co_await wt::advance(35ms);  // misses the ticks at 10, 20, 30
  for (int i = 0; i < 4; ++i) {
    (void)co_await iv.tick();
    at.push_back(wt::now() - t0);
  }
  co_return at;
}

TEST(Interval, missed_tick_behaviours) {
  Runtime rt(paused());
  using V = std::vector<wt::Duration>;
  // Burst: 10, 20, 30 fire at once (at 35), then 40 on schedule.
  EXPECT_EQ(rt.block_on(ticks_after_a_stall(wt::MissedTickBehavior::Burst)), (V{35ms, 35ms, 35ms, 40ms}));
  // Delay: one late tick at 35, then every 10 ms from there.
  EXPECT_EQ(rt.block_on(ticks_after_a_stall(wt::MissedTickBehavior::Delay)), (V{35ms, 45ms, 55ms, 65ms}));
  // Skip: one late tick at 35, then back on the original schedule (40, 50, 60).
  EXPECT_EQ(rt.block_on(ticks_after_a_stall(wt::MissedTickBehavior::Skip)), (V{35ms, 40ms, 50ms, 60ms}));
}

TEST(Interval, a_non_positive_period_is_rejected) {
  EXPECT_THROW(wt::Interval(std::chrono::steady_clock::now(), 0ms), std::invalid_argument);
}

// ---- errors and lifetimes ----

TEST(Sleep, polled_outside_a_runtime_throws) {
  weft::Waker noop;
  weft::Context cx(noop);
  wt::Sleep s = wt::sleep(1h);
  EXPECT_THROW((void)s.poll(cx), std::logic_error);
  wt::Sleep done = wt::sleep(-1ms);
  EXPECT_TRUE(done.poll(cx).is_ready()) << "an elapsed sleep needs no runtime";
}

TEST(Sleep, on_a_runtime_without_time_throws) {
  RuntimeOptions o = weft_test::ct();
  o.enable_time = false;
  Runtime rt(o);
  EXPECT_THROW(rt.block_on([]() -> Task<void> { co_await wt::sleep(1s); }()), std::logic_error);
}

TEST(Sleep, outliving_its_runtime_throws_on_poll_and_is_freed) {
  std::optional<wt::Sleep> kept;
  {
    Runtime rt(weft_test::ct());
    rt.block_on([](std::optional<wt::Sleep>* kept) -> Task<void> {
      kept->emplace(wt::sleep(1h));
      auto r = co_await wt::timeout(1ms, [](wt::Sleep* s) -> Task<void> { co_await *s; }(&**kept));
      EXPECT_FALSE(r);
    }(&kept));
  }
  weft::Waker noop;
  weft::Context cx(noop);
  EXPECT_THROW((void)kept->poll(cx), std::runtime_error);
  kept.reset();
}

TEST(Sleep, reset_moves_the_deadline_both_ways) {
  Runtime rt(paused());
  rt.block_on([]() -> Task<void> {
    const Instant t0 = wt::now();
    wt::Sleep s = wt::sleep(1h);
    auto r = co_await wt::timeout(1ms, [](wt::Sleep* s) -> Task<void> { co_await *s; }(&s));
    EXPECT_FALSE(r);
    s.reset(t0 + 5ms);
    co_await s;
    EXPECT_EQ(wt::now(), t0 + 5ms);
    s.reset(t0 + 2h);
    co_await s;
    EXPECT_EQ(wt::now(), t0 + 2h);
  }());
}

// Wakes from other threads reach a runtime whose workers are parked in the driver.
TEST(Driver, remote_wakes_reach_workers_parked_in_the_driver) {
  for (Flavor f : {Flavor::current_thread, Flavor::multi_thread}) {
    Runtime rt(f == Flavor::current_thread ? weft_test::ct() : weft_test::mt());
    constexpr int rounds = 200;
    int got = rt.block_on([]() -> Task<int> {
      auto [tx, rx] = weft::mpsc::channel<int>(4);
      std::thread t([tx = std::move(tx)]() mutable {
        for (int i = 0; i < rounds; ++i) {
          if (i % 16 == 0) std::this_thread::sleep_for(1ms);  // let the runtime park
          while (!tx.try_send(i)) std::this_thread::yield();
        }
      });
      int n = 0;
      while (auto v = co_await rx.recv()) {
        EXPECT_EQ(*v, n);
        ++n;
      }
      t.join();
      co_return n;
    }());
    EXPECT_EQ(got, rounds);
  }
}

}  // namespace

// ---- stream adaptors and extremes ----
namespace {
weft::stream::Generator<int> spaced(std::vector<int> gaps_ms) {
  int i = 0;
  for (int g : gaps_ms) {
    co_await wt::sleep(std::chrono::milliseconds(g));
    co_yield i++;
  }
}

template <class S>
auto next(S& s) {
  struct Next {
    S* s;
    auto poll(weft::Context& cx) { return s->poll_next(cx); }
  };
  return Next{&s};
}
}  // namespace

TEST(StreamTime, timeout_reports_each_gap_once_and_keeps_the_items) {
  Runtime rt(paused());
  std::vector<std::string> seen = rt.block_on([]() -> Task<std::vector<std::string>> {
    const Instant t0 = wt::now();
    auto s = weft::stream::timeout(spaced({5, 30, 5}), 10ms);
    std::vector<std::string> out;
    while (auto v = co_await next(s)) {
      const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(wt::now() - t0).count();
      out.push_back((*v ? std::to_string(**v) : std::string("elapsed")) + "@" + std::to_string(at));
    }
    co_return out;
  }());
  EXPECT_EQ(seen, (std::vector<std::string>{"0@5", "elapsed@15", "1@35", "2@40"}));
}

TEST(StreamTime, throttle_spaces_items_without_dropping_any) {
  Runtime rt(paused());
  std::vector<long> at = rt.block_on([]() -> Task<std::vector<long>> {
    const Instant t0 = wt::now();
    auto th = weft::stream::throttle(weft::stream::iter(std::vector<int>{1, 2, 3, 4}), 10ms);
    std::vector<long> out;
    while (auto v = co_await next(th))
      out.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(wt::now() - t0).count() * 10 + *v);
    co_return out;
  }());
  EXPECT_EQ(at, (std::vector<long>{1, 102, 203, 304}));  // ms * 10 + item
}

TEST(Sleep, the_longest_durations_saturate_instead_of_overflowing) {
  Runtime rt(weft_test::ct());
  rt.block_on([]() -> Task<void> {
    auto r = co_await wt::timeout(1ms, wt::sleep(wt::Duration::max()));
    EXPECT_FALSE(r);
    auto r2 = co_await wt::timeout(wt::Duration::max(), wt::sleep(1ms));
    EXPECT_TRUE(r2);
    co_await wt::sleep(wt::Duration::min());  // in the past: ready at once
  }());
}
