// Spawning, awaiting values and errors, block_on.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "weft/sync.hpp"
#include "weft/weft.hpp"

namespace {
using namespace weft_test::runtime_names;
using weft::JoinError;

Task<int> answer() { co_return 42; }
Task<void> nothing() { co_return; }
Task<std::string> nested() {
  int a = co_await answer();
  co_return std::to_string(a) + "!";
}
Task<int> throws() {
  throw std::runtime_error("boom");
  co_return 0;
}

class BothFlavors : public ::testing::TestWithParam<Flavor> {
 protected:
  RuntimeOptions opts() const { return GetParam() == Flavor::current_thread ? ct() : mt(); }
};

TEST_P(BothFlavors, block_on_returns_value) {
  Runtime rt(opts());
  EXPECT_EQ(rt.block_on(answer()), 42);
  EXPECT_EQ(rt.block_on(nested()), "42!");
  rt.block_on(nothing());
}

TEST_P(BothFlavors, block_on_rethrows_the_task_exception) {
  Runtime rt(opts());
  EXPECT_THROW(rt.block_on(throws()), std::runtime_error);
  EXPECT_EQ(rt.block_on(answer()), 42) << "the runtime keeps working after a task threw";
}

TEST_P(BothFlavors, spawn_and_await_values_and_void) {
  Runtime rt(opts());
  int r = rt.block_on([]() -> Task<int> {
    auto a = weft::spawn(answer());
    auto b = weft::spawn(nothing());
    auto c = weft::spawn(nested());
    co_await b;
    std::string s = co_await c;
    co_return co_await a + static_cast<int>(s.size());
  }());
  EXPECT_EQ(r, 45);
}

TEST_P(BothFlavors, exception_becomes_join_error_with_payload) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    auto h = weft::spawn(throws());
    auto id = h.id();
    auto r = co_await h.result();
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(r.is_panic());
    EXPECT_FALSE(r.is_cancelled());
    EXPECT_EQ(r.error().id(), id);
    EXPECT_THROW(r.error().resume_panic(), std::runtime_error);
    EXPECT_NE(std::string(r.error().what()).find("boom"), std::string::npos);

    auto h2 = weft::spawn(throws());
    bool caught = false;
    try {
      (void)co_await h2;
    } catch (const JoinError& e) {
      caught = e.is_panic();
    }
    EXPECT_TRUE(caught);
    EXPECT_EQ(co_await weft::spawn(answer()), 42);
  }());
}

TEST_P(BothFlavors, awaiting_a_finished_handle_twice_is_an_error) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    auto h = weft::spawn(answer());
    EXPECT_EQ(co_await h, 42);
    EXPECT_TRUE(h.is_finished());
    EXPECT_THROW((void)co_await h, std::logic_error);
  }());
}

TEST_P(BothFlavors, awaiting_a_task_twice_is_an_error) {
  Runtime rt(opts());
  rt.block_on([]() -> Task<void> {
    auto t = answer();
    EXPECT_EQ(co_await std::move(t), 42);
    EXPECT_THROW((void)co_await std::move(t), std::logic_error);
  }());
}

TEST_P(BothFlavors, block_on_inside_a_task_is_rejected) {
  Runtime rt(opts());
  Runtime other(mt(1));
  rt.block_on([&]() -> Task<void> {
    EXPECT_THROW(rt.block_on(answer()), std::logic_error);
    EXPECT_THROW(other.block_on(answer()), std::logic_error);
    co_return;
  }());
}

TEST_P(BothFlavors, dropped_join_handle_detaches_the_task) {
  Runtime rt(opts());
  std::atomic<int> ran{0};
  rt.block_on([&]() -> Task<void> {
    for (int i = 0; i < 100; ++i) {
      (void)weft::spawn([](std::atomic<int>& r) -> Task<void> {
        co_await weft::yield_now();
        r.fetch_add(1);
      }(ran));
    }
    while (ran.load() < 100) co_await weft::yield_now();
  }());
  EXPECT_EQ(ran.load(), 100);
}

TEST_P(BothFlavors, spawn_from_another_thread_via_handle) {
  Runtime rt(opts());
  auto handle = rt.handle();
  std::optional<weft::JoinHandle<int>> jh;
  std::thread th([&] { jh.emplace(handle.spawn(answer())); });
  th.join();
  EXPECT_EQ(rt.block_on([&]() -> Task<int> { co_return co_await *jh; }()), 42);
}

TEST_P(BothFlavors, spawn_after_shutdown_yields_cancelled_error) {
  std::optional<Runtime> rt(std::in_place, opts());
  auto handle = rt->handle();
  rt.reset();
  auto jh = handle.spawn(answer());
  EXPECT_TRUE(jh.is_finished());
  Runtime rt2(mt(1));
  auto r = rt2.block_on([&]() -> Task<weft::JoinResult<int>> { co_return co_await jh.result(); }());
  EXPECT_TRUE(r.is_cancelled());
  EXPECT_NE(std::string(r.error().what()).find("shut down"), std::string::npos);
}

TEST_P(BothFlavors, empty_task_is_rejected) {
  Runtime rt(opts());
  Task<int> empty;
  EXPECT_THROW((void)rt.spawn(std::move(empty)), std::logic_error);
}

Task<int&> pick(int& a, int& b, bool first) { co_return first ? a : b; }

TEST_P(BothFlavors, task_of_a_reference) {
  Runtime rt(opts());
  int a = 1, b = 2;
  int* seen = rt.block_on([](int& a, int& b) -> Task<int*> {
    int& r = co_await pick(a, b, false);
    r = 20;
    auto h = weft::spawn(pick(a, b, true));
    int& s = co_await h;
    co_return &s;
  }(a, b));
  EXPECT_EQ(b, 20);
  EXPECT_EQ(seen, &a);
  int& direct = rt.block_on(pick(a, b, true));
  EXPECT_EQ(&direct, &a);
}

TEST_P(BothFlavors, block_on_a_join_handle_or_a_leaf_future) {
  Runtime rt(opts());
  auto h = rt.spawn(answer());
  weft::JoinResult<int> r = rt.block_on(std::move(h));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r.value(), 42);
  // A leaf completed by a task of the runtime (current_thread: driven by this block_on).
  auto [tx, rx] = weft::oneshot::channel<int>();
  (void)rt.spawn([](weft::oneshot::Sender<int> tx) -> Task<void> {
    co_await weft::yield_now();
    (void)tx.send(7);
  }(std::move(tx)));
  EXPECT_EQ(rt.block_on(std::move(rx)), 7);
  // Spawning from inside the polled future works: the runtime is entered.
  struct SpawnsOnce {
    std::optional<weft::JoinHandle<int>> h;
    weft::Poll<int> poll(weft::Context& cx) {
      if (!h) h.emplace(weft::spawn(answer()));
      auto p = h->poll(cx);
      if (p.is_pending()) return weft::pending;
      return std::move(p).take().value() + 1;
    }
  };
  EXPECT_EQ(rt.block_on(SpawnsOnce{}), 43);
  // block_on of a leaf inside a task is rejected like block_on of a task.
  bool threw = rt.block_on([](Runtime& rt) -> Task<bool> {
    try {
      (void)rt.block_on(weft::yield_now());
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  }(rt));
  EXPECT_TRUE(threw);
}

TEST_P(BothFlavors, abort_handle_outlives_the_join_handle) {
  Runtime rt(opts());
  weft::AbortHandle a;
  EXPECT_FALSE(a.valid());
  EXPECT_THROW((void)a.is_finished(), std::logic_error);
  weft::TaskId id;
  {
    auto h = rt.spawn([]() -> Task<void> { co_await weft_test::Never{}; }());
    a = h.abort_handle();
    id = h.id();
  }  // detached
  EXPECT_EQ(a.id(), id);
  EXPECT_FALSE(a.is_finished());
  weft::AbortHandle copy = a;
  copy.abort();
  rt.block_on([](weft::AbortHandle a) -> Task<void> {
    while (!a.is_finished()) co_await weft::yield_now();
  }(a));
  EXPECT_TRUE(a.is_finished());
  a.abort();  // no effect once finished
}

// Two threads in block_on on one current_thread runtime: one drives, the other waits for
// its own task without holding the core. Here thread B must get its result while thread A
// still drives (A waits for a message B sends only after its block_on returned). This used
// to deadlock: B waited for the core that A held.
TEST(Spawn, current_thread_block_on_from_two_threads) {
  for (int round = 0; round < 20; ++round) {
    Runtime rt(ct());
    auto [tx, rx] = weft::oneshot::channel<int>();
    std::atomic<bool> a_driving{false};
    int a_got = 0;
    std::thread a([&rt, &a_driving, &a_got, rx = std::move(rx)]() mutable {
      a_got = rt.block_on([](weft::oneshot::Receiver<int> rx, std::atomic<bool>& driving) -> Task<int> {
        driving = true;
        co_return co_await std::move(rx);
      }(std::move(rx), a_driving));
    });
    while (!a_driving.load()) std::this_thread::yield();
    int b = rt.block_on([]() -> Task<int> {
      co_await weft::yield_now();
      co_return 7;
    }());
    EXPECT_EQ(b, 7);
    EXPECT_TRUE(tx.send(b * 6).is_ok());
    a.join();
    EXPECT_EQ(a_got, 42);
  }
}

// A current_thread block_on whose future throws while another thread waits for the core:
// the core is handed over (the waiter is unparked), so the waiter drives its own task to
// the end instead of sleeping forever with the core free.
TEST(Spawn, current_thread_block_on_that_throws_hands_the_core_to_a_waiter) {
  struct Shared {
    std::mutex mu;
    weft::Waker a_waker;
    std::atomic<bool> b_task_ran{false};
  };
  // A's future: pending until B's task ran (which wakes it), then throws.
  struct ThrowsAfterB {
    Shared* sh;
    weft::Poll<int> poll(weft::Context& cx) {
      if (sh->b_task_ran.load()) throw std::runtime_error("A's future failed");
      std::lock_guard l(sh->mu);
      sh->a_waker = cx.waker();
      if (sh->b_task_ran.load()) cx.waker().wake_by_ref();
      return weft::pending;
    }
  };
  for (int round = 0; round < 20; ++round) {
    Runtime rt(ct());
    Shared sh;
    std::atomic<bool> a_driving{false};
    auto [tx, rx] = weft::oneshot::channel<int>();
    bool a_threw = false;
    std::thread a([&, &tx = tx] {  // clang 14 cannot capture a structured binding
      try {
        a_driving = true;
        (void)rt.block_on(ThrowsAfterB{&sh});
      } catch (const std::runtime_error&) {
        a_threw = true;
      }
      EXPECT_TRUE(tx.send(5).is_ok());  // from outside the runtime, after A left
    });
    while (!a_driving.load()) std::this_thread::yield();
    int b = rt.block_on([](Shared& s, weft::oneshot::Receiver<int> r) -> Task<int> {
      s.b_task_ran = true;
      {
        std::lock_guard l(s.mu);
        s.a_waker.wake_by_ref();
      }
      co_return co_await std::move(r);
    }(sh, std::move(rx)));
    a.join();
    EXPECT_TRUE(a_threw);
    EXPECT_EQ(b, 5);
  }
}

// Destroying a current_thread runtime while another thread is in block_on: that block_on
// throws a cancelled JoinError (it used to read an empty result).
TEST(Spawn, current_thread_runtime_destroyed_during_block_on) {
  for (int round = 0; round < 20; ++round) {
    std::optional<Runtime> rt(std::in_place, ct());
    std::atomic<bool> inside{false};
    bool cancelled = false;
    std::thread t([&] {
      try {
        rt->block_on([](std::atomic<bool>& in) -> Task<void> {
          in = true;
          co_await weft_test::Never{};
        }(inside));
      } catch (const JoinError& e) {
        cancelled = e.is_cancelled();
      }
    });
    while (!inside.load()) std::this_thread::yield();
    rt.reset();
    t.join();
    EXPECT_TRUE(cancelled);
  }
}

TEST(Spawn, outside_runtime_is_an_error) {
  EXPECT_THROW((void)weft::spawn(answer()), std::logic_error);
  EXPECT_THROW((void)weft::Handle::current(), std::logic_error);
}

TEST(Spawn, leaf_future_awaited_outside_a_task_is_an_error) {
  // A weft::Task driven by hand (not by a runtime) has no context for leaf futures.
  auto t = []() -> Task<void> { co_await weft::yield_now(); }();
  auto h = t.release();
  h.resume();
  ASSERT_TRUE(h.done());
  EXPECT_TRUE(h.promise().has_exception());
  EXPECT_THROW(std::rethrow_exception(h.promise().exception()), std::logic_error);
  h.destroy();
}

TEST(Spawn, thread_callbacks_and_names) {
  std::atomic<int> started{0}, stopped{0};
  {
    RuntimeOptions o = mt(2);
    o.on_thread_start = [&] { started++; };
    o.on_thread_stop = [&] { stopped++; };
    o.thread_name = "wtest";
    Runtime rt(o);
    std::string name = rt.block_on([]() -> Task<std::string> {
      char buf[16] = {};
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      co_return std::string(buf);
    }());
    EXPECT_EQ(name.rfind("wtest-", 0), 0u) << name;
    EXPECT_EQ(rt.worker_count(), 2u);
  }
  EXPECT_EQ(started.load(), 2);
  EXPECT_EQ(stopped.load(), 2);
}

TEST(Spawn, join_error_message_is_formatted_once_and_safely_from_many_threads) {
  Runtime rt(mt());
  auto r = rt.block_on([]() -> Task<weft::JoinResult<int>> {
    auto h = weft::spawn(throws());
    co_return co_await h.result();
  }());
  ASSERT_FALSE(r.has_value());
  const JoinError original = r.error();
  const std::string expected = "weft::JoinError: task " + std::to_string(original.id().value) +
                               ": task threw an exception: boom";
  for (int round = 0; round < 20; ++round) {
    JoinError e = original;  // a copy formats its own message
    std::vector<const char*> seen(4);
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i) ts.emplace_back([&, i] { seen[i] = e.what(); });
    for (auto& t : ts) t.join();
    for (const char* m : seen) {
      EXPECT_EQ(m, seen[0]) << "every caller gets the one formatted string";
      EXPECT_EQ(std::string(m), expected);
    }
    JoinError moved = std::move(e);
    EXPECT_EQ(std::string(moved.what()), expected);
  }
}

TEST(Spawn, invalid_options_are_rejected) {
  RuntimeOptions o = mt(1);
  o.global_queue_interval = 0;
  EXPECT_THROW(Runtime{o}, std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Flavors, BothFlavors, ::testing::Values(Flavor::multi_thread, Flavor::current_thread),
                         [](const auto& info) {
                           return info.param == Flavor::multi_thread ? std::string("multi_thread")
                                                                     : std::string("current_thread");
                         });

}  // namespace
