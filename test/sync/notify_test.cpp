// Notify, CancellationToken and Semaphore.
#include <gtest/gtest.h>

#include <thread>

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
}  // namespace
