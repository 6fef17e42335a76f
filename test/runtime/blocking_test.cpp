// The blocking pool: spawn_blocking, its limits and keep-alive, aborts, and shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "weft/join_set.hpp"
#include "weft/weft.hpp"

namespace {
using namespace weft_test::runtime_names;
using namespace std::chrono_literals;

class Blocking : public ::testing::TestWithParam<Flavor> {
 protected:
  RuntimeOptions opts() const { return GetParam() == Flavor::current_thread ? weft_test::ct() : weft_test::mt(); }
};

// Waits (bounded) until pred() holds; the bound only turns a bug into a failure, not a hang.
template <class P>
bool eventually(P pred) {
  for (int i = 0; i < 5000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

TEST_P(Blocking, returns_values_void_and_exceptions) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    EXPECT_EQ(co_await weft::spawn_blocking([] { return 6 * 7; }), 42);
    std::atomic<bool> ran{false};
    co_await weft::spawn_blocking([&ran] { ran = true; });
    EXPECT_TRUE(ran.load());
    auto h = weft::spawn_blocking([]() -> int { throw std::runtime_error("blocking boom"); });
    auto r = co_await h.result();
    EXPECT_TRUE(r.is_panic());
    if (r.is_panic()) {
      EXPECT_THROW(r.error().resume_panic(), std::runtime_error);
    }
  }());
}

TEST_P(Blocking, runs_off_the_runtime_threads_with_the_runtime_entered) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    const auto here = std::this_thread::get_id();
    auto [id, inner] = co_await weft::spawn_blocking([] {
      // Handle::current and spawn work inside the closure.
      auto h = weft::Handle::current().spawn([]() -> Task<int> { co_return 5; }());
      return std::pair(std::this_thread::get_id(), std::move(h));
    });
    EXPECT_NE(id, here);
    EXPECT_EQ(co_await inner, 5);
  }());
}

TEST_P(Blocking, at_most_max_blocking_threads_run_at_once_and_all_complete) {
  RuntimeOptions o = opts();
  o.max_blocking_threads = 3;
  Runtime rt(o);
  constexpr int n = 60;
  std::atomic<int> running{0}, peak{0}, done{0};
  rt.block_on([](std::atomic<int>* running, std::atomic<int>* peak, std::atomic<int>* done) -> Task<void> {
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < n; ++i)
      hs.push_back(weft::spawn_blocking([=] {
        const int now = running->fetch_add(1) + 1;
        int p = peak->load();
        while (now > p && !peak->compare_exchange_weak(p, now)) {
        }
        std::this_thread::sleep_for(200us);
        running->fetch_sub(1);
        done->fetch_add(1);
      }));
    for (auto& h : hs) co_await h;
  }(&running, &peak, &done));
  EXPECT_EQ(done.load(), n);
  EXPECT_LE(peak.load(), 3);
  EXPECT_GE(peak.load(), 1);
}

TEST_P(Blocking, idle_threads_exit_after_keep_alive) {
  RuntimeOptions o = opts();
  o.thread_keep_alive = 20ms;
  Runtime rt(o);
  EXPECT_EQ(rt.blocking_thread_count(), 0u) << "threads start on demand";
  std::atomic<int> inside{0};
  rt.block_on([](std::atomic<int>* inside) -> Task<void> {
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < 4; ++i)
      hs.push_back(weft::spawn_blocking([=] {
        inside->fetch_add(1);
        gate.wait();
      }));
    while (inside->load() < 4) co_await weft::yield_now();  // four closures at once: four threads
    release.set_value();
    for (auto& h : hs) co_await h;
  }(&inside));
  EXPECT_LE(rt.blocking_thread_count(), 4u);
  EXPECT_TRUE(eventually([&] { return rt.blocking_thread_count() == 0; })) << "idle threads exited after keep-alive";
  EXPECT_EQ(rt.block_on([]() -> Task<int> { co_return co_await weft::spawn_blocking([] { return 1; }); }()), 1)
      << "a new thread starts on demand";
  EXPECT_LE(rt.blocking_thread_count(), 1u);
}

TEST_P(Blocking, abort_before_it_starts_cancels_it) {
  RuntimeOptions o = opts();
  o.max_blocking_threads = 1;
  Runtime rt(o);
  std::atomic<bool> second_ran{false};
  rt.block_on([](std::atomic<bool>* second_ran) -> Task<void> {
    std::promise<void> release;
    auto gate = release.get_future().share();
    auto first = weft::spawn_blocking([gate] { gate.wait(); });
    auto second = weft::spawn_blocking([second_ran] { *second_ran = true; });
    second.abort();
    release.set_value();
    co_await first;
    auto r = co_await second.result();
    EXPECT_TRUE(r.is_cancelled());
  }(&second_ran));
  EXPECT_FALSE(second_ran.load());
}

TEST_P(Blocking, abort_while_running_lets_it_finish) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    std::promise<void> started, release;
    auto s = started.get_future();
    auto gate = release.get_future().share();
    auto h = weft::spawn_blocking([&started, gate] {
      started.set_value();
      gate.wait();
      return 9;
    });
    s.wait();
    h.abort();
    release.set_value();
    auto r = co_await h.result();
    EXPECT_TRUE(r.has_value()) << "a running closure cannot be interrupted; its result stands";
  }());
}

TEST_P(Blocking, runtime_destruction_waits_for_running_closures_and_cancels_queued_ones) {
  std::atomic<int> finished{0}, started{0};
  std::vector<weft::JoinHandle<void>> hs;
  {
    RuntimeOptions o = opts();
    o.max_blocking_threads = 1;
    Runtime rt(o);
    for (int i = 0; i < 6; ++i)
      hs.push_back(rt.spawn_blocking([&] {
        started.fetch_add(1);
        std::this_thread::sleep_for(30ms);
        finished.fetch_add(1);
      }));
    ASSERT_TRUE(eventually([&] { return started.load() == 1; }));
  }
  EXPECT_EQ(finished.load(), started.load()) << "every closure that started finished before ~Runtime returned";
  int cancelled = 0;
  for (auto& h : hs) {
    weft::Waker noop;
    weft::Context cx(noop);
    auto p = h.result().poll(cx);
    ASSERT_TRUE(p.is_ready());
    if (std::move(p).take().is_cancelled()) ++cancelled;
  }
  EXPECT_EQ(cancelled, 6 - started.load());
}

TEST_P(Blocking, shutdown_timeout_leaves_a_long_closure_behind_without_waiting_for_it) {
  std::atomic<bool> done{false};
  std::promise<void> release;
  auto gate = release.get_future().share();
  Runtime rt(opts());
  std::atomic<bool> started{false};
  auto h = rt.spawn_blocking([&, gate] {
    started = true;
    gate.wait();
    done = true;
  });
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  EXPECT_FALSE(rt.shutdown_timeout(10ms)) << "the closure was still running";
  EXPECT_FALSE(done.load());
  EXPECT_THROW((void)rt.handle(), std::logic_error) << "the Runtime is empty after shutdown_timeout";
  release.set_value();
  ASSERT_TRUE(eventually([&] { return done.load(); }));
  weft::Waker noop;
  weft::Context cx(noop);
  EXPECT_TRUE(eventually([&] { return h.result().poll(cx).is_ready(); }));
}

TEST_P(Blocking, spawn_blocking_after_shutdown_is_cancelled) {
  std::optional<weft::Handle> handle;
  {
    Runtime rt(opts());
    handle = rt.handle();
  }
  std::atomic<bool> ran{false};
  auto h = handle->spawn_blocking([&] { ran = true; });
  weft::Waker noop;
  weft::Context cx(noop);
  auto p = h.result().poll(cx);
  ASSERT_TRUE(p.is_ready());
  EXPECT_TRUE(std::move(p).take().is_cancelled());
  EXPECT_FALSE(ran.load());
}

INSTANTIATE_TEST_SUITE_P(Pool, Blocking, ::testing::Values(Flavor::current_thread, Flavor::multi_thread),
                         [](const auto& i) { return i.param == Flavor::current_thread ? "current_thread" : "multi_thread"; });

TEST(BlockingErrors, outside_a_runtime_and_bad_options) {
  EXPECT_THROW((void)weft::spawn_blocking([] {}), std::logic_error);
  RuntimeOptions o = weft_test::ct();
  o.max_blocking_threads = 0;
  EXPECT_THROW(Runtime{o}, std::invalid_argument);
}

}  // namespace

// ---- block_in_place ----
namespace {
TEST(BlockInPlace, hands_the_worker_off_so_queued_tasks_still_run) {
  Runtime rt(weft_test::mt(1));  // one worker: without a hand-off this would deadlock
  std::atomic<bool> flag{false};
  auto done = std::async(std::launch::async, [&] {
    return rt.block_on([](std::atomic<bool>* flag) -> Task<int> {
      auto b = weft::spawn([](std::atomic<bool>* f) -> Task<void> {
        f->store(true);
        co_return;
      }(flag));  // queued on this (only) worker, behind us
      int v = weft::block_in_place([&] {
        for (int i = 0; i < 10'000 && !flag->load(); ++i) std::this_thread::sleep_for(1ms);
        return flag->load() ? 7 : -1;
      });
      co_await b;  // the rest of the poll runs on this (former worker) thread
      auto c = weft::spawn([]() -> Task<int> { co_return 3; }());
      co_return v + co_await c;
    }(&flag));
  });
  ASSERT_EQ(done.wait_for(30s), std::future_status::ready) << "deadlock: the worker was not handed off";
  EXPECT_EQ(done.get(), 10);
}

TEST(BlockInPlace, many_calls_then_shutdown_join_every_thread) {
  std::atomic<int> ran{0};
  {
    Runtime rt(weft_test::mt(2));
    rt.block_on([](std::atomic<int>* ran) -> Task<void> {
      weft::JoinSet<int> set;
      for (int i = 0; i < 50; ++i)
        set.spawn([](std::atomic<int>* ran, int i) -> Task<int> {
          const int v = weft::block_in_place([&] {
            std::this_thread::sleep_for(1ms);
            ran->fetch_add(1);
            return i;
          });
          co_await weft::yield_now();
          co_return v;
        }(ran, i));
      long sum = 0;
      while (auto r = co_await set.join_next()) sum += r->value();
      EXPECT_EQ(sum, 49 * 50 / 2);
    }(&ran));
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(BlockInPlace, exceptions_propagate_into_the_task) {
  Runtime rt(weft_test::mt(2));
  EXPECT_THROW(rt.block_on([]() -> Task<void> {
    weft::block_in_place([]() -> int { throw std::runtime_error("in place"); });
    co_return;
  }()),
               std::runtime_error);
  EXPECT_EQ(rt.block_on([]() -> Task<int> { co_return 1; }()), 1) << "the runtime keeps working";
}

TEST(BlockInPlace, runtime_destroyed_while_a_handed_off_thread_blocks) {
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::atomic<bool> entered{false}, finished{false};
  std::thread releaser;
  {
    Runtime rt(weft_test::mt(2));
    auto h = rt.spawn([](std::shared_future<void> gate, std::atomic<bool>* entered, std::atomic<bool>* finished) -> Task<void> {
      weft::block_in_place([&] {
        entered->store(true);
        gate.wait();
      });
      finished->store(true);  // the rest of the poll, on the handed-off thread
      co_return;
    }(gate, &entered, &finished));
    while (!entered.load()) std::this_thread::sleep_for(1ms);
    releaser = std::thread([&] {
      std::this_thread::sleep_for(20ms);
      release.set_value();
    });
  }  // ~Runtime joins the handed-off thread, which finishes its poll first
  EXPECT_TRUE(finished.load()) << "the destructor returned before the handed-off thread finished its poll";
  releaser.join();
}

TEST(BlockInPlace, on_current_thread_throws_and_outside_a_runtime_runs_in_place) {
  Runtime rt(weft_test::ct());
  bool threw = false;
  rt.block_on([](bool* threw) -> Task<void> {
    try {
      weft::block_in_place([] {});
    } catch (const std::logic_error&) {
      *threw = true;
    }
    co_return;
  }(&threw));
  EXPECT_TRUE(threw);
  EXPECT_EQ(weft::block_in_place([] { return 5; }), 5);
}
}  // namespace
