// JoinHandle::abort: before start, while pending, while running, after completion.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "../support.hpp"
#include "weft/weft.hpp"

namespace {
using namespace weft_test::runtime_names;

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
// A local whose destructor throws.
struct ThrowsOnDestroy {
  std::atomic<int>* destroyed;
  ~ThrowsOnDestroy() noexcept(false) {
    destroyed->fetch_add(1);
    throw std::runtime_error("destructor failed");
  }
};

// Sets `reached` (if given) once its local exists, just before it suspends for good.
Task<int> child_with_throwing_local(std::atomic<int>& destroyed, std::atomic<bool>* reached = nullptr) {
  ThrowsOnDestroy t{&destroyed};
  if (reached != nullptr) reached->store(true);
  co_await weft_test::Never{};
  co_return 1;
}

// Waits until `h`'s task reached its suspension point (`reached`), aborts it, and returns its
// outcome. (A fixed number of yields was not enough on a loaded machine: the task, on
// another worker, had not started, so its local never existed.)
weft::JoinResult<int> abort_once_suspended(Runtime& rt, weft::JoinHandle<int> h, const std::atomic<bool>& reached) {
  rt.block_on([](const std::atomic<bool>& r) -> Task<void> {
    while (!r.load()) co_await weft::yield_now();
  }(reached));
  h.abort();
  return rt.block_on(std::move(h));
}

// Aborting a parent suspended in a child whose local's destructor throws: the child's
// frame is destroyed with the parent, the parent is never resumed, the outcome is
// "cancelled". (The child's final_suspend used to resume the dying parent: memory
// corruption, reported by ASan.)
TEST(Abort, child_with_a_throwing_destructor_does_not_resume_the_dying_parent) {
  for (Flavor f : {Flavor::current_thread, Flavor::multi_thread}) {
    Runtime rt(f == Flavor::current_thread ? ct() : mt());
    std::atomic<int> destroyed{0}, parent_resumed{0};
    std::atomic<bool> reached{false};
    auto h = rt.spawn([](std::atomic<int>& d, std::atomic<int>& resumed, std::atomic<bool>& at) -> Task<int> {
      int v = co_await child_with_throwing_local(d, &at);
      resumed.fetch_add(1);
      co_return v;
    }(destroyed, parent_resumed, reached));
    auto r = abort_once_suspended(rt, std::move(h), reached);
    EXPECT_TRUE(r.is_cancelled());
    EXPECT_EQ(destroyed.load(), 1);
    EXPECT_EQ(parent_resumed.load(), 0);
  }
}

// The same for a task's own local: cancelled, the frame freed once (ASan checks the leak
// the compiler's final_suspend detour used to cause).
TEST(Abort, throwing_local_destructor_on_abort_is_cancelled_and_frees_the_frame) {
  for (Flavor f : {Flavor::current_thread, Flavor::multi_thread}) {
    Runtime rt(f == Flavor::current_thread ? ct() : mt());
    std::atomic<int> destroyed{0};
    std::atomic<bool> reached{false};
    auto r = abort_once_suspended(rt, rt.spawn(child_with_throwing_local(destroyed, &reached)), reached);
    EXPECT_TRUE(r.is_cancelled());
    EXPECT_EQ(destroyed.load(), 1);
  }
  std::atomic<int> dropped{0};
  { auto t = child_with_throwing_local(dropped); }  // a Task dropped before it started
  EXPECT_EQ(dropped.load(), 0) << "its body never ran";
}

// Documented outcomes (task.hpp): completing with a throwing local gives that exception;
// an abort gives "cancelled"; a value whose move throws gives a panic, not std::terminate.
TEST(Abort, throwing_local_destructor_on_completion_becomes_the_outcome) {
  Runtime rt(ct());
  std::atomic<int> destroyed{0};
  auto r = rt.block_on(rt.spawn([](std::atomic<int>& d) -> Task<int> {
    ThrowsOnDestroy t{&d};
    co_return 5;
  }(destroyed)));
  ASSERT_TRUE(r.is_panic());
  EXPECT_NE(std::string(r.error().what()).find("destructor failed"), std::string::npos);
  EXPECT_EQ(destroyed.load(), 1);
}

struct ThrowingMove {
  int v = 0;
  ThrowingMove() = default;
  ThrowingMove(const ThrowingMove&) = default;
  ThrowingMove(ThrowingMove&&) { throw std::runtime_error("move failed"); }
};

TEST(Abort, result_whose_move_throws_is_a_panic_not_terminate) {
  Runtime rt(ct());
  auto r = rt.block_on(rt.spawn([]() -> Task<ThrowingMove> {
    static const ThrowingMove m;  // not a local: co_return copies it into the promise
    co_return m;                  // then storing it as the task's output moves it: throws
  }()));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.is_panic());
}
}  // namespace
