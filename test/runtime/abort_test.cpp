// JoinHandle::abort: before start, while pending, while running, after completion.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../support.hpp"
#include "weft/weft.hpp"

namespace {
using weft::Flavor;
using weft::Runtime;
using weft::RuntimeOptions;
using weft::Task;
using weft_test::Event;

using weft_test::ct;
using weft_test::mt;

using weft_test::Guard;
Task<int> wait_then(Event ev, std::atomic<int>& started, std::atomic<int>& dropped, int v) {
  Guard g{&dropped};
  started.fetch_add(1);
  co_await ev.wait();
  co_return v;
}

TEST(Abort, before_start_never_runs_the_task) {
  Runtime rt(ct());  // nothing runs until block_on drives the runtime
  std::atomic<int> started{0}, dropped{0};
  Event ev;
  auto h = rt.spawn(wait_then(ev, started, dropped, 1));
  h.abort();
  auto r = rt.block_on([&]() -> Task<weft::JoinResult<int>> { co_return co_await h.result(); }());
  EXPECT_TRUE(r.is_cancelled());
  EXPECT_EQ(started.load(), 0);
  EXPECT_EQ(dropped.load(), 0) << "the body never ran, so its locals never existed";
  EXPECT_EQ(ev.polls(), 0);
}

TEST(Abort, while_pending_destroys_the_frame) {
  for (auto opts : {mt(), ct()}) {
    Runtime rt(opts);
    std::atomic<int> started{0}, dropped{0};
    Event ev;
    rt.block_on([&]() -> Task<void> {
      auto h = weft::spawn(wait_then(ev, started, dropped, 1));
      while (started.load() == 0) co_await weft::yield_now();
      EXPECT_FALSE(h.is_finished());
      h.abort();
      auto r = co_await h.result();
      EXPECT_TRUE(r.is_cancelled());
      EXPECT_EQ(dropped.load(), 1);
      EXPECT_TRUE(h.is_finished());
    }());
  }
}

TEST(Abort, after_completion_keeps_the_value) {
  Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    auto h = weft::spawn([]() -> Task<int> { co_return 7; }());
    while (!h.is_finished()) co_await weft::yield_now();
    h.abort();
    h.abort();
    EXPECT_EQ(co_await h, 7);
  }());
}

TEST(Abort, running_task_is_cancelled_at_its_next_suspension) {
  Runtime rt(mt());
  std::atomic<bool> running{false}, release{false};
  std::atomic<int> after_suspend{0}, dropped{0};
  auto h = rt.spawn([](std::atomic<bool>& running, std::atomic<bool>& release, std::atomic<int>& after,
                       std::atomic<int>& dropped) -> Task<void> {
    Guard g{&dropped};
    running = true;
    while (!release.load()) std::this_thread::yield();  // busy, not suspended
    co_await weft::yield_now();                         // the next suspension point
    after.fetch_add(1);
  }(running, release, after_suspend, dropped));
  while (!running.load()) std::this_thread::yield();
  h.abort();  // from a non-worker thread, while the task runs
  release = true;
  auto r = rt.block_on([&]() -> Task<weft::JoinResult<void>> { co_return co_await h.result(); }());
  EXPECT_TRUE(r.is_cancelled());
  EXPECT_EQ(after_suspend.load(), 0);
  EXPECT_EQ(dropped.load(), 1);
}

TEST(Abort, join_error_is_cancelled_and_does_not_terminate) {
  Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    auto h = weft::spawn([]() -> Task<int> {
      co_await weft_test::Never{};
      co_return 1;
    }());
    h.abort();
    bool caught = false;
    try {
      (void)co_await h;
    } catch (const weft::JoinError& e) {
      caught = e.is_cancelled() && !e.is_panic();
    }
    EXPECT_TRUE(caught);
  }());
}

TEST(Abort, from_many_threads_at_once) {
  Runtime rt(mt());
  for (int round = 0; round < 200; ++round) {
    std::atomic<int> started{0}, dropped{0};
    Event ev;
    auto h = rt.spawn(wait_then(ev, started, dropped, 1));
    std::thread a([&] { h.abort(); });
    std::thread b([&] { h.abort(); });
    std::thread c([&] { ev.set(); });
    a.join();
    b.join();
    c.join();
    auto r = rt.block_on([&]() -> Task<weft::JoinResult<int>> { co_return co_await h.result(); }());
    // Either outcome is legal (the event may win); exactly one is reported.
    if (r.has_value()) EXPECT_EQ(r.value(), 1);
    else EXPECT_TRUE(r.is_cancelled());
    EXPECT_EQ(dropped.load(), started.load());
  }
}
}  // namespace
