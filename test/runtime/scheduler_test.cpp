// Scheduling behaviour: wake-ups, yield fairness, the cooperative budget, stealing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "weft/weft.hpp"

namespace {
using namespace weft_test::runtime_names;

TEST(Scheduler, wake_from_another_thread) {
  for (auto opts : {mt(), ct()}) {
    Runtime rt(opts);
    Event ev;
    std::thread setter([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ev.set();
    });
    rt.block_on([&]() -> Task<void> { co_await ev.wait(); }());
    setter.join();
    EXPECT_GE(ev.polls(), 1);
  }
}

// A future that wakes itself from inside poll and is ready on its second poll.
struct SelfWake {
  int polls = 0;
  weft::Poll<int> poll(weft::Context& cx) {
    if (++polls == 2) return polls;
    cx.waker().wake_by_ref();
    return weft::pending;
  }
};

TEST(Scheduler, wake_from_inside_poll_repolls_once) {
  for (auto opts : {mt(), ct()}) {
    Runtime rt(opts);
    EXPECT_EQ(rt.block_on([]() -> Task<int> { co_return co_await SelfWake{}; }()), 2);
  }
}

TEST(Scheduler, no_lost_wakeups_under_racing_remote_wakes) {
  Runtime rt(mt());
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    Event ev;
    int delay = static_cast<int>(rng() % 50);
    auto h = rt.spawn([](Event ev) -> Task<int> {
      co_await ev.wait();
      co_return 1;
    }(ev));
    std::thread setter([&] {
      auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(delay);
      while (std::chrono::steady_clock::now() < until) {
      }
      ev.set();
    });
    EXPECT_EQ(rt.block_on([&]() -> Task<int> { co_return co_await h; }()), 1);
    setter.join();
  }
}

TEST(Scheduler, yield_now_alternates_two_tasks) {
  Runtime rt(ct());
  std::vector<int> order;
  rt.block_on([&]() -> Task<void> {
    auto a = weft::spawn([](std::vector<int>& o) -> Task<void> {
      for (int i = 0; i < 100; ++i) {
        o.push_back(0);
        co_await weft::yield_now();
      }
    }(order));
    auto b = weft::spawn([](std::vector<int>& o) -> Task<void> {
      for (int i = 0; i < 100; ++i) {
        o.push_back(1);
        co_await weft::yield_now();
      }
    }(order));
    co_await a;
    co_await b;
  }());
  ASSERT_EQ(order.size(), 200u);
  int longest = 1, run = 1;
  for (std::size_t i = 1; i < order.size(); ++i) {
    run = order[i] == order[i - 1] ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  EXPECT_EQ(longest, 1) << "each yield lets the other task run";
}

TEST(Scheduler, yield_now_fairness_on_workers) {
  Runtime rt(mt());
  std::atomic<long> a{0}, b{0};
  std::atomic<bool> stop{false};
  auto spin = [](std::atomic<long>& c, std::atomic<bool>& stop) -> Task<void> {
    while (!stop.load()) {
      c.fetch_add(1);
      co_await weft::yield_now();
    }
  };
  // Four yielding tasks on two workers: every one must make progress.
  std::atomic<long> c{0}, d{0};
  auto ha = rt.spawn(spin(a, stop));
  auto hb = rt.spawn(spin(b, stop));
  auto hc = rt.spawn(spin(c, stop));
  auto hd = rt.spawn(spin(d, stop));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((a < 1000 || b < 1000 || c < 1000 || d < 1000) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  EXPECT_GE(a.load(), 1000);
  EXPECT_GE(b.load(), 1000);
  EXPECT_GE(c.load(), 1000);
  EXPECT_GE(d.load(), 1000);
}

// Always ready: without the budget a loop awaiting it would never yield.
struct AlwaysReady {
  weft::Poll<int> poll(weft::Context&) { return 1; }
};

TEST(Scheduler, coop_budget_forces_a_ready_loop_to_yield) {
  // Without the LIFO slot the two spawns run in spawn order (with it, the setter, spawned
  // last, would run first).
  RuntimeOptions o = ct();
  o.lifo_slot = false;
  Runtime rt(o);
  int seen_at = -1;
  rt.block_on([&]() -> Task<void> {
    std::atomic<bool> flag{false};
    auto looper = weft::spawn([](std::atomic<bool>& flag, int& seen_at) -> Task<void> {
      for (int i = 0; i < 10000; ++i) {
        co_await AlwaysReady{};
        if (flag.load()) {
          seen_at = i;
          co_return;
        }
      }
    }(flag, seen_at));
    auto setter = weft::spawn([](std::atomic<bool>& flag) -> Task<void> {
      flag = true;
      co_return;
    }(flag));
    co_await looper;
    co_await setter;
  }());
  // The looper spends its 128 units, is forced to yield, the setter runs.
  EXPECT_EQ(seen_at, weft::coop::initial_budget);
}

TEST(Scheduler, a_task_spawned_on_a_busy_worker_is_stolen) {
  Runtime rt(mt(2));
  auto result = rt.block_on([]() -> Task<std::pair<std::thread::id, std::thread::id>> {
    auto me = std::this_thread::get_id();
    std::atomic<bool> ran{false};
    std::thread::id other;
    auto h = weft::spawn([](std::atomic<bool>& ran, std::thread::id& other) -> Task<void> {
      other = std::this_thread::get_id();
      ran = true;
      co_return;
    }(ran, other));
    // Busy without suspending: only another worker can run the spawned task.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!ran.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    co_await h;
    co_return std::pair{me, other};
  }());
  EXPECT_NE(result.first, result.second);
}

TEST(Scheduler, many_tasks_across_workers_exact_count) {
  for (bool lifo : {true, false}) {
    RuntimeOptions o = mt(2);
    o.lifo_slot = lifo;
    o.global_queue_interval = 7;
    Runtime rt(o);
    constexpr int n = 20000;
    long sum = rt.block_on([]() -> Task<long> {
      std::vector<weft::JoinHandle<int>> hs;
      hs.reserve(n);
      for (int i = 0; i < n; ++i)
        hs.push_back(weft::spawn([](int i) -> Task<int> {
          if (i % 3 == 0) co_await weft::yield_now();
          co_return i;
        }(i)));
      long s = 0;
      for (auto& h : hs) s += co_await h;
      co_return s;
    }());
    EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
  }
}

TEST(Scheduler, message_chain_between_tasks) {
  // Each task waits for its predecessor's event then sets its own: a LIFO-slot workload.
  for (bool lifo : {true, false}) {
    RuntimeOptions o = mt(2);
    o.lifo_slot = lifo;
    Runtime rt(o);
    constexpr int n = 2000;
    std::vector<Event> evs(n + 1);
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < n; ++i)
      hs.push_back(rt.spawn([](Event in, Event out) -> Task<void> {
        co_await in.wait();
        out.set();
      }(evs[i], evs[i + 1])));
    evs[0].set();
    rt.block_on([&]() -> Task<void> { co_await evs[n].wait(); }());
    for (auto& h : hs) rt.block_on([&]() -> Task<void> { co_await h; }());
  }
}

// ---- The wake path: LIFO slot, rescue of a stuck worker's tasks, deferred yields ----

namespace wake_path {

// A task that never suspends spawns two tasks: the last goes to its worker's LIFO slot and
// the first, displaced, alone into its queue; neither wakes an idle worker. The other
// worker, parked with a timeout while this one is awake, must take both (rescue_stuck).
TEST(Scheduler, spawner_that_never_suspends_does_not_starve_its_spawns) {
  for (bool lifo : {true, false}) {
    RuntimeOptions o = mt(2);
    o.lifo_slot = lifo;
    Runtime rt(o);
    for (int round = 0; round < 3; ++round) {
      int ran = rt.block_on([]() -> Task<int> {
        std::atomic<int> ran{0};
        auto body = [](std::atomic<int>& ran) -> Task<void> {
          ran.fetch_add(1);
          co_return;
        };
        auto a = weft::spawn(body(ran));
        auto b = weft::spawn(body(ran));
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (ran.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
        int seen = ran.load();  // before this task suspends (the awaits below would run them)
        co_await a;
        co_await b;
        co_return seen;
      }());
      EXPECT_EQ(ran, 2) << "lifo_slot=" << lifo;
    }
  }
}

// A task woken by a task that then never suspends goes to the waker's LIFO slot; it must be
// rescued too.
TEST(Scheduler, task_woken_by_a_task_that_never_suspends_runs) {
  Runtime rt(mt(2));
  for (int round = 0; round < 3; ++round) {
    Event ev;
    std::atomic<bool> resumed{false};
    auto waiter = rt.spawn([](Event ev, std::atomic<bool>& resumed) -> Task<void> {
      co_await ev.wait();
      resumed = true;
    }(ev, resumed));
    while (ev.polls() == 0) std::this_thread::yield();  // the waiter is registered
    bool seen = rt.block_on([](Event ev, std::atomic<bool>& resumed) -> Task<bool> {
      ev.set();  // from a worker: the waiter goes to this worker's LIFO slot
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!resumed.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      co_return resumed.load();
    }(ev, resumed));
    EXPECT_TRUE(seen);
    rt.block_on([](weft::JoinHandle<void> h) -> Task<void> { co_await h; }(std::move(waiter)));
  }
}

// Yielding tasks keep a worker's queue non-empty; a task woken from outside (the injection
// queue) must run right after the current yield, not after the global queue interval.
TEST(Scheduler, a_yielding_task_does_not_delay_an_external_wake) {
  for (auto base : {mt(1), ct()}) {
    RuntimeOptions o = base;
    o.global_queue_interval = 1000;  // so that only the yield path can explain a prompt run
    Runtime rt(o);
    auto [woken_at, seen_at] = rt.block_on([]() -> Task<std::pair<int, int>> {
      std::atomic<int> counter{0};
      std::atomic<bool> stop{false};
      int woken_at = -1, seen_at = -1;
      Event ev;
      auto waiter = weft::spawn([](Event ev, std::atomic<int>& counter, int& seen_at) -> Task<void> {
        co_await ev.wait();
        seen_at = counter.load();
      }(ev, counter, seen_at));
      auto yielder = [](std::atomic<int>& counter, std::atomic<bool>& stop, Event ev, int& woken_at,
                        bool waker) -> Task<void> {
        while (!stop.load()) {
          int c = counter.fetch_add(1) + 1;
          if (waker && c >= 100 && woken_at < 0) {
            woken_at = c;
            std::thread([ev] { ev.set(); }).join();  // a wake from outside the runtime
          }
          co_await weft::yield_now();
        }
      };
      std::vector<weft::JoinHandle<void>> ys;
      for (int i = 0; i < 3; ++i) ys.push_back(weft::spawn(yielder(counter, stop, ev, woken_at, i == 0)));
      co_await waiter;
      stop = true;
      for (auto& y : ys) co_await y;
      co_return std::pair{woken_at, seen_at};
    }());
    EXPECT_GE(woken_at, 100);
    EXPECT_EQ(seen_at, woken_at) << "the woken task ran after " << seen_at - woken_at << " more yields";
  }
}

// Many tasks spawned from a worker, each yielding and waking others, on 2 workers: exact
// count, with and without the LIFO slot (the LIFO cap and hand-over under load).
TEST(Scheduler, lifo_chains_and_yields_exact_count) {
  for (bool lifo : {true, false}) {
    RuntimeOptions o = mt(2);
    o.lifo_slot = lifo;
    Runtime rt(o);
    constexpr int chains = 64, length = 200;
    long total = rt.block_on([]() -> Task<long> {
      std::atomic<long> sum{0};
      struct Link {
        static Task<void> run(int left, std::atomic<long>& sum) {
          sum.fetch_add(1);
          if (left % 7 == 0) co_await weft::yield_now();
          if (left > 0) co_await weft::spawn(run(left - 1, sum));
        }
      };
      std::vector<weft::JoinHandle<void>> hs;
      for (int c = 0; c < chains; ++c) hs.push_back(weft::spawn(Link::run(length, sum)));
      for (auto& h : hs) co_await h;
      co_return sum.load();
    }());
    EXPECT_EQ(total, long(chains) * (length + 1)) << "lifo_slot=" << lifo;
  }
}

}  // namespace wake_path
}  // namespace
