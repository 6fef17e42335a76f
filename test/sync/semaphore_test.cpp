// Semaphore: permits, FIFO waiters, close, cancellation, waker replacement.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "weft/sync/semaphore.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;
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
}  // namespace
