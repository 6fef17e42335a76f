// Notify: notify_one / notify_waiters, permits, FIFO order, enable, cancellation, reentrant wakers.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <utility>

#include "weft/sync/notify.hpp"
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
}  // namespace
