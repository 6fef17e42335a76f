// watch channels: versions, borrow, close in both directions, budget, stress.
#include "weft/sync/watch.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;
namespace watch = weft::watch;

// Waits for a spawned task's value.
template <class T>
T join(weft::Runtime& rt, weft::JoinHandle<T> h) {
  return rt.block_on([](weft::JoinHandle<T> h) -> weft::Task<T> { co_return co_await h; }(std::move(h)));
}

TEST(Watch, smoke_borrow_send_changed) {
  auto [tx, rx] = watch::channel<int>(1);
  {
    auto r = rx.borrow();
    EXPECT_EQ(*r, 1);
    EXPECT_FALSE(r.has_changed()) << "the initial value counts as seen";
  }
  EXPECT_FALSE(rx.has_changed().value());
  ASSERT_TRUE(tx.send(2).is_ok());
  EXPECT_TRUE(rx.has_changed().value());
  MockTask t(rx.changed());
  EXPECT_TRUE(t.poll().is_ready());
  EXPECT_EQ(*rx.borrow(), 2);
  EXPECT_FALSE(rx.has_changed().value()) << "changed() marked it seen";
  MockTask again(rx.changed());
  EXPECT_TRUE(again.poll().is_pending()) << "no change is reported twice";
}

TEST(Watch, pending_changed_is_woken_by_send) {
  auto [tx, rx] = watch::channel<std::string>("a");
  MockTask t(rx.changed());
  EXPECT_TRUE(t.poll().is_pending());
  EXPECT_TRUE(t.poll().is_pending()) << "re-polling keeps waiting";
  ASSERT_TRUE(tx.send("b"));
  EXPECT_TRUE(t.is_woken());
  auto r = t.poll();
  ASSERT_TRUE(r.is_ready());
  EXPECT_TRUE(r->is_ok());
  EXPECT_EQ(*rx.borrow(), "b");
}

TEST(Watch, borrow_and_update_marks_the_value_seen) {
  auto [tx, rx] = watch::channel<int>(0);
  ASSERT_TRUE(tx.send(5));
  EXPECT_TRUE(rx.borrow().has_changed());
  EXPECT_TRUE(rx.has_changed().value()) << "borrow() does not mark it seen";
  {
    auto r = rx.borrow_and_update();
    EXPECT_EQ(*r, 5);
    EXPECT_TRUE(r.has_changed());
  }
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_FALSE(rx.borrow_and_update().has_changed());
  MockTask t(rx.changed());
  EXPECT_TRUE(t.poll().is_pending());
}

TEST(Watch, send_without_receivers_fails_but_send_replace_works) {
  auto [tx, rx] = watch::channel<std::string>("init");
  { auto d = std::move(rx); }
  EXPECT_TRUE(tx.is_closed());
  EXPECT_EQ(tx.receiver_count(), 0u);
  auto r = tx.send("lost");
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(r.error().value, "lost");
  EXPECT_EQ(*tx.borrow(), "init") << "a failed send leaves the value";
  EXPECT_EQ(tx.send_replace("kept"), "init");
  EXPECT_EQ(*tx.borrow(), "kept");
  auto rx2 = tx.subscribe();
  EXPECT_FALSE(tx.is_closed());
  EXPECT_EQ(*rx2.borrow(), "kept");
  EXPECT_FALSE(rx2.has_changed().value()) << "a new subscriber has seen the current value";
  EXPECT_TRUE(tx.send("now"));
  EXPECT_TRUE(rx2.has_changed().value());
}

TEST(Watch, send_if_modified_notifies_only_when_modified) {
  auto [tx, rx] = watch::channel<int>(1);
  MockTask t(rx.changed());
  EXPECT_TRUE(t.poll().is_pending());
  EXPECT_FALSE(tx.send_if_modified([](int& v) { return v == 2; }));
  EXPECT_FALSE(t.is_woken());
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_TRUE(tx.send_if_modified([](int& v) {
    v = 2;
    return true;
  }));
  EXPECT_TRUE(t.is_woken());
  EXPECT_TRUE(t.poll().is_ready());
  tx.send_modify([](int& v) { v *= 10; });
  EXPECT_EQ(*rx.borrow_and_update(), 20);
}

TEST(Watch, send_modify_that_throws_notifies_nobody) {
  auto [tx, rx] = watch::channel<int>(1);
  MockTask t(rx.changed());
  EXPECT_TRUE(t.poll().is_pending());
  EXPECT_THROW(tx.send_modify([](int&) { throw std::runtime_error("boom"); }), std::runtime_error);
  EXPECT_FALSE(t.is_woken());
  EXPECT_FALSE(rx.has_changed().value());
  ASSERT_TRUE(tx.send(3)) << "the lock was released";
  EXPECT_TRUE(t.is_woken());
}

TEST(Watch, has_changed_after_sender_drop_is_an_error) {
  auto [tx, rx] = watch::channel<int>(1);
  ASSERT_TRUE(tx.send(2));
  { auto d = std::move(tx); }
  EXPECT_TRUE(rx.has_changed().is_err()) << "even with an unseen value (as tokio)";
  EXPECT_EQ(*rx.borrow(), 2) << "the last value stays readable";
}

TEST(Watch, changed_after_sender_dropped_reports_the_last_value_then_closed) {
  auto [tx, rx] = watch::channel<int>(1);
  ASSERT_TRUE(tx.send(2));
  { auto d = std::move(tx); }
  MockTask first(rx.changed());
  auto a = first.poll();
  ASSERT_TRUE(a.is_ready());
  EXPECT_TRUE(a->is_ok()) << "the unseen value comes first";
  EXPECT_EQ(*rx.borrow(), 2);
  MockTask second(rx.changed());
  auto b = second.poll();
  ASSERT_TRUE(b.is_ready());
  EXPECT_TRUE(b->is_err());
  EXPECT_EQ(b->error(), watch::RecvError{});
}

TEST(Watch, pending_changed_is_woken_by_sender_drop) {
  auto [tx, rx] = watch::channel<int>(1);
  MockTask t(rx.changed());
  EXPECT_TRUE(t.poll().is_pending());
  { auto d = std::move(tx); }
  EXPECT_TRUE(t.is_woken());
  auto r = t.poll();
  ASSERT_TRUE(r.is_ready());
  EXPECT_TRUE(r->is_err());
}

TEST(Watch, closed_future_ready_when_the_last_receiver_is_dropped) {
  auto [tx, rx] = watch::channel<int>(0);
  auto rx2 = rx;
  EXPECT_EQ(tx.receiver_count(), 2u);
  MockTask t(tx.closed());
  EXPECT_TRUE(t.poll().is_pending());
  { auto d = std::move(rx); }
  EXPECT_FALSE(t.is_woken()) << "one receiver is still alive";
  EXPECT_TRUE(t.poll().is_pending());
  { auto d = std::move(rx2); }
  EXPECT_TRUE(t.is_woken());
  EXPECT_TRUE(t.poll().is_ready());
  MockTask now(tx.closed());
  EXPECT_TRUE(now.poll().is_ready()) << "no receiver: ready at once";
}

TEST(Watch, receiver_copies_keep_their_own_version) {
  auto [tx, rx] = watch::channel<int>(0);
  ASSERT_TRUE(tx.send(1));
  auto copy = rx;
  EXPECT_TRUE(copy.has_changed().value()) << "a copy has seen what its original had seen";
  (void)rx.borrow_and_update();
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_TRUE(copy.has_changed().value());
  watch::Receiver<int> assigned = tx.subscribe();
  assigned = copy;
  EXPECT_TRUE(assigned.has_changed().value());
  EXPECT_EQ(tx.receiver_count(), 3u);
}

TEST(Watch, dropped_changed_future_loses_nothing) {
  auto [tx, rx] = watch::channel<int>(0);
  {
    MockTask t(rx.changed());
    EXPECT_TRUE(t.poll().is_pending());
  }
  ASSERT_TRUE(tx.send(1));
  MockTask t(rx.changed());
  EXPECT_TRUE(t.poll().is_ready());
  EXPECT_EQ(*rx.borrow(), 1);
}

TEST(Watch, changed_spends_the_budget_and_yields_when_spent) {
  auto [tx, rx] = watch::channel<int>(0);
  weft::coop::BudgetScope budget(1);
  ASSERT_TRUE(tx.send(1));
  MockTask a(rx.changed());
  EXPECT_TRUE(a.poll().is_ready());
  EXPECT_EQ(weft::coop::remaining(), 0);
  ASSERT_TRUE(tx.send(2));
  MockTask b(rx.changed());
  EXPECT_TRUE(b.poll().is_pending()) << "budget spent: pending although changed";
  EXPECT_TRUE(b.is_woken());
  weft::coop::BudgetScope refill(1);
  EXPECT_TRUE(b.poll().is_ready());
}

TEST(Watch, moved_from_handles_throw) {
  auto [tx, rx] = watch::channel<int>(0);
  auto tx2 = std::move(tx);
  auto rx2 = std::move(rx);
  EXPECT_THROW((void)tx.send(1), std::logic_error);
  EXPECT_THROW((void)rx.has_changed(), std::logic_error);
  EXPECT_TRUE(tx2.send(1));
  EXPECT_TRUE(rx2.has_changed().value());
}

// A sender thread publishes 1..N as fast as it can; receiver tasks see strictly increasing
// values (no change reported twice), end on the last one (none missed), then see closed.
TEST(Watch, stress_no_change_missed_or_reported_twice) {
  constexpr int n = 20'000;
  constexpr int receivers = 3;
  weft::Runtime rt(weft_test::mt(2));
  auto [tx, rx] = watch::channel<int>(0);
  std::vector<weft::JoinHandle<int>> hs;
  for (int r = 0; r < receivers; ++r) {
    hs.push_back(rt.spawn([](watch::Receiver<int> rx) -> weft::Task<int> {
      int last = 0;
      while ((co_await rx.changed()).is_ok()) {
        int v = *rx.borrow_and_update();
        if (v <= last) co_return -1;  // reported twice (or went back)
        last = v;
      }
      co_return last;
    }(rx)));
  }
  { auto d = std::move(rx); }
  std::thread sender([tx = std::move(tx)]() mutable {
    for (int i = 1; i <= n; ++i) EXPECT_TRUE(tx.send(i));
  });
  sender.join();
  for (auto& h : hs) EXPECT_EQ(join(rt, std::move(h)), n);
}

// Ping-pong over two watch channels: the sender waits for each value to be acknowledged,
// so the receiver must see every value exactly once (a lost wake-up hangs the test).
TEST(Watch, stress_ping_pong_every_value_seen_once) {
  constexpr int n = 5'000;
  weft::Runtime rt(weft_test::mt(2));
  auto [ping, ping_rx] = watch::channel<int>(0);
  auto [ack, ack_rx] = watch::channel<int>(0);
  auto echo = rt.spawn([](watch::Receiver<int> rx, watch::Sender<int> ack) -> weft::Task<int> {
    int seen = 0;
    while ((co_await rx.changed()).is_ok()) {
      int v = *rx.borrow_and_update();
      if (v != seen + 1) co_return -1;
      seen = v;
      ack.send_replace(v);
    }
    co_return seen;
  }(std::move(ping_rx), std::move(ack)));
  int acked = rt.block_on([](watch::Sender<int> ping, watch::Receiver<int> ack_rx) -> weft::Task<int> {
    int sent = 0;
    for (int i = 1; i <= n; ++i) {
      if (!ping.send(i)) co_return -1;
      while (*ack_rx.borrow_and_update() != i) {
        const auto changed = co_await ack_rx.changed();  // not in the if: README, "Compilers"
        if (changed.is_err()) co_return -2;
      }
      ++sent;
    }
    co_return sent;
  }(std::move(ping), std::move(ack_rx)));
  EXPECT_EQ(acked, n);
  EXPECT_EQ(join(rt, std::move(echo)), n);
}

// A task waits in closed() while receivers are dropped on other threads.
TEST(Watch, closed_future_in_a_runtime_with_receivers_dropped_on_threads) {
  weft::Runtime rt(weft_test::mt(2));
  for (int round = 0; round < 200; ++round) {
    auto [tx, rx] = watch::channel<int>(0);
    std::vector<watch::Receiver<int>> rxs(3, rx);
    { auto d = std::move(rx); }
    std::vector<std::thread> ths;
    for (auto& r : rxs) ths.emplace_back([r = std::move(r)]() mutable { auto d = std::move(r); });
    rt.block_on([](watch::Sender<int>& tx) -> weft::Task<void> { co_await tx.closed(); }(tx));
    EXPECT_EQ(tx.receiver_count(), 0u);
    for (auto& t : ths) t.join();
  }
}

TEST(Watch, changed_after_a_wait_costs_one_unit) {
  auto [tx, rx] = weft::watch::channel<int>(0);
  MockTask t(rx.changed());
  EXPECT_TRUE(t.poll().is_pending());
  EXPECT_TRUE(tx.send(1).is_ok());
  weft::coop::BudgetScope budget(5);
  EXPECT_TRUE(t.poll().is_ready());
  EXPECT_EQ(weft::coop::remaining(), 4) << "one unit, not one for the inner Notify as well";
}
}  // namespace
