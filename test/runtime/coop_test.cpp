// The cooperative budget in every leaf (tokio's coop): channels, Notify, Semaphore,
// JoinHandle, stream::iter; consume_budget, unconstrained, and the misuse of BudgetScope.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "../support.hpp"
#include "weft/stream.hpp"
#include "weft/sync.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {

using weft::Runtime;
using weft::Task;
using weft::testing::MockTask;
using weft_test::ct;

// Polls `f` with a fresh budget of `budget` units until it is pending; returns the number
// of ready polls (each made a new leaf with make()).
template <class Make>
int ready_polls_within(int budget, Make make) {
  weft::testing::WakeCounter cw;
  weft::Waker w = cw.waker();
  weft::Context cx(w);
  weft::coop::BudgetScope scope(budget);
  int n = 0;
  for (int i = 0; i < 1000; ++i) {
    decltype(auto) f = make();
    if (f.poll(cx).is_pending()) {
      EXPECT_EQ(cw.wakes(), 1) << "a budget-pending leaf wakes its task";
      return n;
    }
    ++n;
  }
  return n;
}

TEST(Coop, every_ready_leaf_spends_one_unit) {
  // oneshot
  std::vector<weft::oneshot::Receiver<int>> rxs;
  for (int i = 0; i < 10; ++i) {
    auto [tx, rx] = weft::oneshot::channel<int>();
    (void)tx.send(i);
    rxs.push_back(std::move(rx));
  }
  std::size_t k = 0;
  EXPECT_EQ(ready_polls_within(4, [&]() -> weft::oneshot::Receiver<int>& { return rxs[k++]; }), 4);

  // Notify (stored permits, refreshed per poll)
  weft::Notify n;
  EXPECT_EQ(ready_polls_within(3, [&] {
              n.notify_one();
              return n.notified();
            }),
            3);

  // Semaphore
  weft::Semaphore sem(100);
  EXPECT_EQ(ready_polls_within(5, [&] { return sem.acquire(); }), 5);

  // consume_budget
  EXPECT_EQ(ready_polls_within(7, [] { return weft::coop::consume_budget(); }), 7);
}

TEST(Coop, join_handle_spends_budget_when_ready) {
  Runtime rt(ct());
  std::vector<weft::JoinHandle<int>> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(rt.spawn([](int v) -> Task<int> { co_return v; }(i)));
  rt.block_on([]() -> Task<void> { co_await weft::yield_now(); }());  // let them finish
  std::size_t k = 0;
  EXPECT_EQ(ready_polls_within(2, [&]() -> weft::JoinHandle<int>& { return hs[k++]; }), 2);
}

TEST(Coop, iter_yields_every_32_items) {
  MockTask t(weft::stream::iter(std::vector<int>(100, 1)));
  int items = 0, pendings = 0;
  for (;;) {
    auto p = t.poll_next();
    if (p.is_pending()) {
      ++pendings;
      EXPECT_TRUE(t.is_woken()) << "a yield wakes the task";
      continue;
    }
    if (!*p) break;
    ++items;
  }
  EXPECT_EQ(items, 100);
  EXPECT_EQ(pendings, 3) << "after items 32, 64 and 96";
}

// A co_await of a leaf that spends its own unit is not charged again.
TEST(Coop, an_await_of_a_self_charging_leaf_costs_one_unit) {
  Runtime rt(ct());
  int seen = rt.block_on([]() -> Task<int> {
    auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
    for (int i = 0; i < 10; ++i) (void)tx.send(i);
    co_await weft::yield_now();  // a fresh budget for this poll
    int before = weft::coop::remaining();
    for (int i = 0; i < 10; ++i) (void)co_await rx.recv();
    co_return before - weft::coop::remaining();
  }());
  EXPECT_EQ(seen, 10);
}

// On a current_thread runtime: spawns a task that sets a flag, then runs busy() (a Task) to
// its end; true if the other task ran before busy() ended (it can only if busy yielded).
template <class Busy>
bool other_task_ran_during(Busy busy) {
  Runtime rt(ct());
  std::atomic<bool> ran{false};
  return rt.block_on([](std::atomic<bool>& r, Busy busy) -> Task<bool> {
    auto h = weft::spawn([](std::atomic<bool>& r) -> Task<void> {
      r = true;
      co_return;
    }(r));
    co_await busy();
    bool seen = r.load();
    co_await h;
    co_return seen;
  }(ran, std::move(busy)));
}

Task<void> always_ready_notifies(int n) {
  weft::Notify notify;
  for (int i = 0; i < n; ++i) {
    notify.notify_one();
    co_await notify.notified();
  }
}

// A loop whose every await is always ready still lets another task on the same thread run.
TEST(Coop, always_ready_awaits_yield_to_other_tasks) {
  EXPECT_TRUE(other_task_ran_during([] { return always_ready_notifies(1000); }));
}

TEST(Coop, consume_budget_makes_a_busy_loop_yield) {
  EXPECT_TRUE(other_task_ran_during([]() -> Task<void> {
    for (int i = 0; i < 1000; ++i) co_await weft::coop::consume_budget();
  }));
}

// 2,000 always-ready awaits in a child task marked unconstrained: no budget yield, so the
// other task cannot run before it ends (one thread).
TEST(Coop, unconstrained_task_never_yields_for_budget) {
  EXPECT_FALSE(other_task_ran_during([]() -> Task<void> {
    co_await weft::coop::unconstrained([]() -> Task<void> {
      co_await always_ready_notifies(1000);
      for (int i = 0; i < 1000; ++i) co_await weft::coop::consume_budget();
    }());
  }));
}

TEST(Coop, awaiting_an_unconstrained_leaf_neither_yields_nor_charges) {
  EXPECT_FALSE(other_task_ran_during([]() -> Task<void> {
    int before = weft::coop::remaining();
    for (int i = 0; i < 1000; ++i) co_await weft::coop::unconstrained(weft::coop::consume_budget());
    EXPECT_EQ(weft::coop::remaining(), before);
  }));
}

TEST(Coop, unconstrained_leaf_and_stream_poll_without_budget) {
  weft::Semaphore sem(100);
  weft::testing::WakeCounter cw;
  weft::Waker w = cw.waker();
  weft::Context cx(w);
  weft::coop::BudgetScope scope(0);  // nothing left
  auto constrained = sem.acquire();
  EXPECT_TRUE(constrained.poll(cx).is_pending());
  auto free = weft::coop::unconstrained(sem.acquire());
  EXPECT_TRUE(free.poll(cx).is_ready());
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  (void)tx.send(1);
  auto s = weft::coop::unconstrained(std::move(rx));
  static_assert(weft::Stream<decltype(s)>);
  auto p = s.poll_next(cx);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(*p, std::optional<int>(1));
  EXPECT_EQ(weft::coop::remaining(), 0) << "the budget outside is untouched";
}

TEST(CoopDeathTest, budget_scope_held_across_a_suspension_stops_the_program) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Runtime rt(ct());
        rt.block_on([]() -> Task<void> {
          weft::coop::BudgetScope wrong(-1);
          co_await weft::yield_now();
        }());
      },
      "BudgetScope ended out of order");
}

TEST(Pending, never_completes_and_is_a_future) {
  MockTask t(weft::pending<int>());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(t.poll().is_pending());
  static_assert(weft::Future<weft::PendingFuture<void>>);
  static_assert(std::is_same_v<weft::future_output_t<weft::PendingFuture<int>>, int>);
  // `return pending;` still reads as a Poll value.
  auto f = []() -> weft::Poll<int> { return weft::pending; };
  EXPECT_TRUE(f().is_pending());
  Runtime rt(ct());
  // Aborting a task parked on pending() completes it as cancelled.
  auto h = rt.spawn([]() -> Task<int> { co_return co_await weft::pending<int>(); }());
  h.abort();
  auto r = rt.block_on(std::move(h));
  EXPECT_TRUE(r.is_cancelled());
}

}  // namespace
