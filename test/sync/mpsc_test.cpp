// mpsc channels: unbounded and bounded; close/drop/full/empty edges; multi-producer stress.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "weft/sync/mpsc.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;
namespace mpsc = weft::mpsc;

TEST(Mpsc, unbounded_send_recv_in_order) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(tx.send(i).has_value());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rx.try_recv(), std::optional<int>(i));
  mpsc::TryRecvError why{};
  EXPECT_FALSE(rx.try_recv(&why).has_value());
  EXPECT_EQ(why, mpsc::TryRecvError::empty);
}

TEST(Mpsc, recv_pending_woken_then_end_of_stream_after_last_sender) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  auto tx2 = tx;
  MockTask t(rx.recv());
  EXPECT_TRUE(t.poll().is_pending());
  EXPECT_FALSE(tx.send(1).has_value());
  EXPECT_TRUE(t.is_woken());
  EXPECT_EQ(*t.poll(), std::optional<int>(1));
  EXPECT_TRUE(t.poll().is_pending());
  { auto d = std::move(tx); }
  EXPECT_FALSE(t.is_woken()) << "one sender is still alive";
  EXPECT_FALSE(tx2.send(2).has_value());
  { auto d = std::move(tx2); }
  EXPECT_TRUE(t.is_woken());
  EXPECT_EQ(*t.poll(), std::optional<int>(2)) << "queued values come before end-of-stream";
  EXPECT_EQ(*t.poll(), std::optional<int>());
  mpsc::TryRecvError why{};
  EXPECT_FALSE(rx.try_recv(&why).has_value());
  EXPECT_EQ(why, mpsc::TryRecvError::disconnected);
}

TEST(Mpsc, close_fails_later_sends_but_keeps_queued_values) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  EXPECT_FALSE(tx.send(1).has_value());
  rx.close();
  EXPECT_TRUE(tx.is_closed());
  EXPECT_EQ(tx.send(2), std::optional<int>(2));
  MockTask t(rx.recv());
  EXPECT_EQ(*t.poll(), std::optional<int>(1));
  EXPECT_EQ(*t.poll(), std::optional<int>());
}

TEST(Mpsc, dropped_receiver_fails_sends) {
  auto [tx, rx] = mpsc::unbounded_channel<std::string>();
  { auto d = std::move(rx); }
  EXPECT_EQ(tx.send("v"), std::optional<std::string>("v"));
}

TEST(Mpsc, dropped_receiver_releases_its_waker) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  std::weak_ptr<int> alive;
  {
    auto token = std::make_shared<int>(0);
    alive = token;
    weft::Waker w = weft::Waker::from_fn([token] {});
    weft::Context cx(w);
    EXPECT_TRUE(rx.poll_recv(cx).is_pending());
  }
  EXPECT_FALSE(alive.expired()) << "the channel holds the registered waker";
  { auto d = std::move(rx); }
  EXPECT_TRUE(alive.expired()) << "dropping the receiver released it, though a sender lives";
  EXPECT_TRUE(tx.is_closed());
}

TEST(Mpsc, bounded_capacity_zero_is_rejected) {
  EXPECT_THROW((void)mpsc::channel<int>(0), std::invalid_argument);
}

TEST(Mpsc, bounded_try_send_full_then_room_after_recv) {
  auto [tx, rx] = mpsc::channel<int>(2);
  EXPECT_FALSE(tx.try_send(1).has_value());
  EXPECT_FALSE(tx.try_send(2).has_value());
  auto full = tx.try_send(3);
  ASSERT_TRUE(full.has_value());
  EXPECT_TRUE(full->is_full());
  EXPECT_EQ(full->value, 3);
  EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
  EXPECT_FALSE(tx.try_send(3).has_value());
  rx.close();
  auto closed = tx.try_send(4);
  ASSERT_TRUE(closed.has_value());
  EXPECT_TRUE(closed->is_closed());
}

TEST(Mpsc, bounded_send_waits_for_room_and_is_woken) {
  auto [tx, rx] = mpsc::channel<int>(1);
  EXPECT_FALSE(tx.try_send(1).has_value());
  MockTask s(tx.send(2));
  EXPECT_TRUE(s.poll().is_pending());
  EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
  EXPECT_TRUE(s.is_woken());
  auto r = s.poll();
  ASSERT_TRUE(r.is_ready());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(rx.try_recv(), std::optional<int>(2));
}

TEST(Mpsc, bounded_waiting_send_fails_when_receiver_closes) {
  auto [tx, rx] = mpsc::channel<int>(1);
  EXPECT_FALSE(tx.try_send(1).has_value());
  MockTask s(tx.send(2));
  EXPECT_TRUE(s.poll().is_pending());
  rx.close();
  EXPECT_TRUE(s.is_woken());
  auto r = s.poll();
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(*r, std::optional<int>(2));
}

TEST(Mpsc, dropped_waiting_send_returns_its_permit) {
  auto [tx, rx] = mpsc::channel<int>(1);
  EXPECT_FALSE(tx.try_send(1).has_value());
  {
    MockTask s(tx.send(2));
    EXPECT_TRUE(s.poll().is_pending());
    EXPECT_EQ(rx.try_recv(), std::optional<int>(1));  // assigns the freed permit to s
    EXPECT_TRUE(s.is_woken());
  }  // dropped before it observed the permit
  EXPECT_FALSE(tx.try_send(3).has_value()) << "the permit came back";
  auto full = tx.try_send(4);
  ASSERT_TRUE(full.has_value());
  EXPECT_TRUE(full->is_full());
}

// close() racing with sends on other threads: every send that reported success is
// received; every other send got its value back.
TEST(Mpsc, close_racing_with_sends_loses_no_accepted_value) {
  for (int round = 0; round < 200; ++round) {
    auto [tx0, rx] = mpsc::unbounded_channel<int>();
    auto tx = std::move(tx0);  // a plain variable (clang 14 cannot capture structured bindings)
    std::atomic<int> accepted{0};
    std::vector<std::thread> ths;
    for (int t = 0; t < 3; ++t)
      ths.emplace_back([tx, &accepted]() mutable {
        for (int i = 0; i < 200; ++i)
          if (!tx.send(i).has_value()) accepted.fetch_add(1);
      });
    { auto d = std::move(tx); }
    std::this_thread::yield();
    rx.close();
    int received = 0;
    MockTask t(rx.recv());
    for (;;) {
      auto p = t.poll();
      if (p.is_pending()) continue;  // a sender's wake-up; it will not stay pending
      if (!p->has_value()) break;
      ++received;
    }
    for (auto& th : ths) th.join();
    EXPECT_EQ(received, accepted.load()) << "round " << round;
  }
}

// Producers on several threads, one consumer task: every value exactly once, in order per
// producer.
constexpr int producers = 4, per = 20000;

template <bool Bounded>
void stress() {
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  auto run = [&](auto tx, auto rx) {
    std::vector<std::thread> ths;
    for (int p = 0; p < producers; ++p) {
      ths.emplace_back([&, tx, p]() mutable {
        if constexpr (Bounded) {
          rt.block_on([](decltype(tx) tx, int p) -> weft::Task<void> {
            for (int i = 0; i < per; ++i) {
              auto back = co_await tx.send(p * per + i);
              EXPECT_FALSE(back.has_value());
            }
          }(std::move(tx), p));
        } else {
          for (int i = 0; i < per; ++i) EXPECT_FALSE(tx.send(p * per + i).has_value());
        }
      });
    }
    { auto d = std::move(tx); }
    std::vector<int> last(producers, -1);
    long count = rt.block_on([](mpsc::Receiver<int> rx, std::vector<int>& last) -> weft::Task<long> {
      long n = 0;
      while (auto v = co_await rx.recv()) {
        int p = *v / per;
        EXPECT_GT(*v, last[p]);
        last[p] = *v;
        ++n;
      }
      co_return n;
    }(std::move(rx), last));
    for (auto& t : ths) t.join();
    EXPECT_EQ(count, long(producers) * per);
    for (int p = 0; p < producers; ++p) EXPECT_EQ(last[p], p * per + per - 1);
  };
  if constexpr (Bounded) {
    auto [tx, rx] = mpsc::channel<int>(16);
    run(std::move(tx), std::move(rx));
  } else {
    auto [tx, rx] = mpsc::unbounded_channel<int>();
    run(std::move(tx), std::move(rx));
  }
}

TEST(Mpsc, stress_unbounded_multi_producer_exact_counts) { stress<false>(); }
TEST(Mpsc, stress_bounded_multi_producer_exact_counts) { stress<true>(); }
}  // namespace
