// Notify, CancellationToken and Semaphore.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <utility>

#include "weft/sync/cancellation_token.hpp"
#include "weft/sync/notify.hpp"
#include "weft/sync/semaphore.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;

TEST(Notify, notify_one_before_wait_stores_one_permit) {
  weft::Notify n;
  n.notify_one();
  n.notify_one();  // permits do not accumulate
  MockTask a(n.notified());
  EXPECT_TRUE(a.poll().is_ready());
  MockTask b(n.notified());
  EXPECT_TRUE(b.poll().is_pending());
}

TEST(Notify, notify_one_wakes_waiters_in_fifo_order) {
  weft::Notify n;
  MockTask a(n.notified()), b(n.notified());
  EXPECT_TRUE(a.poll().is_pending());
  EXPECT_TRUE(b.poll().is_pending());
  n.notify_one();
  EXPECT_TRUE(a.is_woken());
  EXPECT_FALSE(b.is_woken());
  EXPECT_TRUE(a.poll().is_ready());
  EXPECT_TRUE(b.poll().is_pending());
}

TEST(Notify, notify_waiters_wakes_all_and_stores_no_permit) {
  weft::Notify n;
  MockTask a(n.notified()), b(n.notified());
  MockTask c(n.notified());  // created before notify_waiters, never polled
  EXPECT_TRUE(a.poll().is_pending());
  EXPECT_TRUE(b.poll().is_pending());
  n.notify_waiters();
  EXPECT_TRUE(a.poll().is_ready());
  EXPECT_TRUE(b.poll().is_ready());
  EXPECT_TRUE(c.poll().is_ready());
  MockTask d(n.notified());
  EXPECT_TRUE(d.poll().is_pending());
}

TEST(Notify, dropped_notified_passes_its_notification_on) {
  weft::Notify n;
  MockTask b(n.notified());
  {
    MockTask a(n.notified());
    EXPECT_TRUE(a.poll().is_pending());
    EXPECT_TRUE(b.poll().is_pending());
    n.notify_one();  // chooses a
  }  // a is dropped without observing it
  EXPECT_TRUE(b.is_woken());
  EXPECT_TRUE(b.poll().is_ready());
}

TEST(Notify, wake_from_another_thread_in_runtime) {
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  for (int i = 0; i < 500; ++i) {
    weft::Notify n;
    std::thread th([&] { n.notify_one(); });
    rt.block_on([&]() -> weft::Task<void> { co_await n.notified(); }());
    th.join();
  }
}

TEST(CancellationToken, cancel_wakes_waiters_and_children) {
  weft::CancellationToken root;
  auto child = root.child_token();
  auto grandchild = child.child_token();
  MockTask a(root.cancelled()), c(grandchild.cancelled());
  EXPECT_TRUE(a.poll().is_pending());
  EXPECT_TRUE(c.poll().is_pending());
  EXPECT_FALSE(grandchild.is_cancelled());
  root.cancel();
  EXPECT_TRUE(root.is_cancelled());
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_TRUE(grandchild.is_cancelled());
  EXPECT_TRUE(a.is_woken());
  EXPECT_TRUE(c.is_woken());
  EXPECT_TRUE(a.poll().is_ready());
  EXPECT_TRUE(c.poll().is_ready());
  MockTask late(root.cancelled());
  EXPECT_TRUE(late.poll().is_ready());
  EXPECT_TRUE(root.child_token().is_cancelled()) << "a child of a cancelled token is cancelled";
}

TEST(CancellationToken, cancelling_a_child_leaves_the_parent) {
  weft::CancellationToken root;
  auto child = root.child_token();
  child.cancel();
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_FALSE(root.is_cancelled());
}

TEST(CancellationToken, cancel_from_another_thread) {
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  for (int i = 0; i < 200; ++i) {
    weft::CancellationToken tok;
    std::thread th([&] { tok.cancel(); });
    rt.block_on([](weft::CancellationToken t) -> weft::Task<void> { co_await t.cancelled(); }(tok));
    th.join();
  }
}

TEST(Semaphore, fifo_handoff_and_close) {
  weft::Semaphore s(1);
  EXPECT_TRUE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire());
  MockTask a(s.acquire()), b(s.acquire());
  EXPECT_TRUE(a.poll().is_pending());
  EXPECT_TRUE(b.poll().is_pending());
  s.release();
  EXPECT_TRUE(a.is_woken());
  EXPECT_FALSE(b.is_woken());
  EXPECT_EQ(*a.poll(), weft::Semaphore::AcquireResult::acquired);
  s.close();
  EXPECT_TRUE(b.is_woken());
  EXPECT_EQ(*b.poll(), weft::Semaphore::AcquireResult::closed);
  EXPECT_FALSE(s.try_acquire());
}
TEST(Notify, enable_registers_without_polling) {
  weft::Notify n;
  auto a = n.notified();
  auto b = n.notified();
  EXPECT_FALSE(a.enable());
  EXPECT_FALSE(a.enable()) << "idempotent";
  n.notify_one();  // chooses `a`, registered by enable, though never polled
  MockTask tb(std::move(b));
  EXPECT_TRUE(tb.poll().is_pending()) << "the notification went to the enabled future, not to a permit";
  EXPECT_TRUE(a.enable()) << "already notified";
  {
    weft::Waker w;
    weft::Context cx(w);
    EXPECT_TRUE(a.poll(cx).is_ready());
  }
  // A permit stored before enable() is taken by enable().
  n.notify_one();  // goes to tb (waiting)
  EXPECT_TRUE(tb.poll().is_ready());
  n.notify_one();  // nobody waits: a permit
  auto c = n.notified();
  EXPECT_TRUE(c.enable());
}

// A waker whose drop touches the same Notify: the Notify must drop replaced wakers outside
// its lock (a self-deadlock otherwise).
TEST(Notify, replaced_waker_whose_drop_reenters_the_notify) {
  weft::Notify n;
  struct Reenter {
    weft::Notify* n;
    explicit Reenter(weft::Notify* p) : n(p) {}
    ~Reenter() { n->notify_waiters(); }
  };
  auto f = n.notified();
  {
    weft::Waker w1 = weft::Waker::from_fn([r = std::make_shared<Reenter>(&n)] {});
    weft::Context cx(w1);
    EXPECT_TRUE(f.poll(cx).is_pending());
  }  // the Notify holds the only reference to w1 now
  weft::Waker w2 = weft::Waker::from_fn([] {});
  weft::Context cx2(w2);
  // Replacing w1 drops it; its drop calls notify_waiters on the same Notify.
  auto p = f.poll(cx2);
  (void)p;
  weft::Waker w3;
  weft::Context cx3(w3);
  EXPECT_TRUE(f.poll(cx3).is_ready()) << "the reentrant notify_waiters reached the waiter";
}

TEST(Semaphore, replaced_waker_whose_drop_reenters_the_semaphore) {
  weft::Semaphore sem(0);
  auto a = sem.acquire();
  {
    struct Rel {
      weft::Semaphore* s;
      explicit Rel(weft::Semaphore* p) : s(p) {}
      ~Rel() { s->release(1); }
    };
    weft::Waker w1 = weft::Waker::from_fn([r = std::make_shared<Rel>(&sem)] {});
    weft::Context cx(w1);
    EXPECT_TRUE(a.poll(cx).is_pending());
  }
  weft::Waker w2;
  weft::Context cx2(w2);
  (void)a.poll(cx2);  // drops w1, which releases a permit (to `a`)
  EXPECT_TRUE(a.poll(cx2).is_ready());
}
TEST(SemaphoreDeathTest, acquire_moved_while_waiting_stops_the_program) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        weft::Semaphore sem(0);
        auto a = sem.acquire();
        weft::Waker w;
        weft::Context cx(w);
        (void)a.poll(cx);
        auto b = std::move(a);
        (void)b;
      },
      "moved while waiting");
}

// tokio: a token is cancelled with its root even when the tokens between them were dropped.
TEST(CancellationToken, dropped_intermediate_tokens_still_propagate) {
  weft::CancellationToken root;
  auto leaf = root.child_token().child_token().child_token();
  EXPECT_FALSE(leaf.is_cancelled());
  root.cancel();
  EXPECT_TRUE(leaf.is_cancelled());
}

// A chain of 200,000 child tokens: cancelling the root and dropping the chain use no
// recursion per level (both used to overflow the stack).
TEST(CancellationToken, deep_chain_cancels_and_drops_without_recursion) {
  weft::CancellationToken root;
  weft::CancellationToken t = root;
  for (int i = 0; i < 200000; ++i) t = t.child_token();
  MockTask w(t.cancelled());
  EXPECT_TRUE(w.poll().is_pending());
  root.cancel();
  EXPECT_TRUE(t.is_cancelled());
  EXPECT_TRUE(w.is_woken());
  weft::CancellationToken t2 = root;  // and a second chain, dropped uncancelled
  weft::CancellationToken r2;
  t2 = r2;
  for (int i = 0; i < 200000; ++i) t2 = t2.child_token();
}
}  // namespace
