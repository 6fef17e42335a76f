// mpsc channels: unbounded and bounded; close/drop/full/empty edges; multi-producer stress.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include "weft/stream.hpp"
#include "weft/sync/mpsc.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;
namespace mpsc = weft::mpsc;

TEST(Mpsc, unbounded_send_recv_in_order) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(tx.send(i).is_ok());
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
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_TRUE(t.is_woken());
  EXPECT_EQ(*t.poll(), std::optional<int>(1));
  EXPECT_TRUE(t.poll().is_pending());
  { auto d = std::move(tx); }
  EXPECT_FALSE(t.is_woken()) << "one sender is still alive";
  EXPECT_TRUE(tx2.send(2).is_ok());
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
  EXPECT_TRUE(tx.send(1).is_ok());
  rx.close();
  EXPECT_TRUE(tx.is_closed());
  {
    auto r = tx.send(2);
    ASSERT_TRUE(r.is_err());
    EXPECT_EQ(r.error().value, 2) << "the value comes back";
  }
  MockTask t(rx.recv());
  EXPECT_EQ(*t.poll(), std::optional<int>(1));
  EXPECT_EQ(*t.poll(), std::optional<int>());
}

TEST(Mpsc, dropped_receiver_fails_sends) {
  auto [tx, rx] = mpsc::unbounded_channel<std::string>();
  { auto d = std::move(rx); }
  auto r = tx.send("v");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().value, "v");
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
  EXPECT_TRUE(tx.try_send(1).is_ok());
  EXPECT_TRUE(tx.try_send(2).is_ok());
  auto full = tx.try_send(3);
  ASSERT_TRUE(full.is_err());
  EXPECT_TRUE(full.error().is_full());
  EXPECT_EQ(full.error().value, 3);
  EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
  EXPECT_TRUE(tx.try_send(3).is_ok());
  rx.close();
  auto closed = tx.try_send(4);
  ASSERT_TRUE(closed.is_err());
  EXPECT_TRUE(closed.error().is_closed());
}

TEST(Mpsc, bounded_send_waits_for_room_and_is_woken) {
  auto [tx, rx] = mpsc::channel<int>(1);
  EXPECT_TRUE(tx.try_send(1).is_ok());
  MockTask s(tx.send(2));
  EXPECT_TRUE(s.poll().is_pending());
  EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
  EXPECT_TRUE(s.is_woken());
  auto r = s.poll();
  ASSERT_TRUE(r.is_ready());
  EXPECT_TRUE(r->is_ok());
  EXPECT_EQ(rx.try_recv(), std::optional<int>(2));
}

TEST(Mpsc, bounded_waiting_send_fails_when_receiver_closes) {
  auto [tx, rx] = mpsc::channel<int>(1);
  EXPECT_TRUE(tx.try_send(1).is_ok());
  MockTask s(tx.send(2));
  EXPECT_TRUE(s.poll().is_pending());
  rx.close();
  EXPECT_TRUE(s.is_woken());
  auto r = s.poll();
  ASSERT_TRUE(r.is_ready());
  ASSERT_TRUE(r->is_err());
  EXPECT_EQ(r->error().value, 2);
}

TEST(Mpsc, dropped_waiting_send_returns_its_permit) {
  auto [tx, rx] = mpsc::channel<int>(1);
  EXPECT_TRUE(tx.try_send(1).is_ok());
  {
    MockTask s(tx.send(2));
    EXPECT_TRUE(s.poll().is_pending());
    EXPECT_EQ(rx.try_recv(), std::optional<int>(1));  // assigns the freed permit to s
    EXPECT_TRUE(s.is_woken());
  }  // dropped before it observed the permit
  EXPECT_TRUE(tx.try_send(3).is_ok()) << "the permit came back";
  auto full = tx.try_send(4);
  ASSERT_TRUE(full.is_err());
  EXPECT_TRUE(full.error().is_full());
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
          if (tx.send(i).is_ok()) accepted.fetch_add(1);
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

// A value type that counts live instances.
struct Counted {
  static inline std::atomic<int> live{0};
  int v;
  explicit Counted(int x) : v(x) { live.fetch_add(1); }
  Counted(const Counted& o) : v(o.v) { live.fetch_add(1); }
  Counted(Counted&& o) noexcept : v(o.v) { live.fetch_add(1); }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) = default;
  ~Counted() { live.fetch_sub(1); }
};

TEST(Mpsc, dropped_receiver_destroys_queued_values_at_once) {
  Counted::live = 0;
  {
    auto [tx, rx] = mpsc::channel<Counted>(8);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(tx.try_send(Counted(i)).is_ok());
    EXPECT_EQ(Counted::live.load(), 5);
    { auto d = std::move(rx); }
    EXPECT_EQ(Counted::live.load(), 0) << "queued values die with the receiver, not with the last sender";
    auto r = tx.try_send(Counted(9));
    ASSERT_TRUE(r.is_err());
    EXPECT_TRUE(r.error().is_closed());
    EXPECT_EQ(r.error().value.v, 9);
  }
  EXPECT_EQ(Counted::live.load(), 0);
  auto [utx, urx] = mpsc::unbounded_channel<Counted>();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(utx.send(Counted(i)).is_ok());
  { auto d = std::move(urx); }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(Mpsc, send_results_carry_the_value_back_and_are_typed) {
  static_assert(std::is_same_v<decltype(std::declval<mpsc::UnboundedSender<int>&>().send(1)), mpsc::SendResult<int>>);
  static_assert(std::is_same_v<decltype(std::declval<mpsc::Sender<int>&>().try_send(1)), mpsc::TrySendResult<int>>);
  auto [tx, rx] = mpsc::unbounded_channel<std::unique_ptr<int>>();
  auto ok = tx.send(std::make_unique<int>(1));
  EXPECT_TRUE(ok);
  EXPECT_THROW((void)ok.error(), std::logic_error) << "a success has no error";
  rx.close();
  auto failed = tx.send(std::make_unique<int>(2));
  ASSERT_FALSE(failed);
  std::unique_ptr<int> back = std::move(failed.error().value);
  EXPECT_EQ(*back, 2);
}

TEST(Mpsc, capacity_and_max_capacity) {
  auto [tx, rx] = mpsc::channel<int>(3);
  EXPECT_EQ(tx.max_capacity(), 3u);
  EXPECT_EQ(tx.capacity(), 3u);
  EXPECT_TRUE(tx.try_send(1).is_ok());
  EXPECT_EQ(tx.capacity(), 2u);
  auto permit = tx.try_reserve();
  ASSERT_TRUE(permit);
  EXPECT_EQ(tx.capacity(), 1u) << "a reserved slot is not free";
  EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
  EXPECT_EQ(tx.capacity(), 2u);
  EXPECT_EQ(tx.max_capacity(), 3u);
}

TEST(Mpsc, permit_sends_into_its_slot_and_a_dropped_permit_frees_it) {
  auto [tx, rx] = mpsc::channel<int>(1);
  {
    auto p = tx.try_reserve();
    ASSERT_TRUE(p);
    auto full = tx.try_reserve();
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error(), mpsc::ReserveError::full);
    EXPECT_TRUE(tx.try_send(5).is_err()) << "the reserved slot is taken";
  }  // dropped unused
  EXPECT_EQ(tx.capacity(), 1u);
  auto p = tx.try_reserve();
  ASSERT_TRUE(p);
  EXPECT_TRUE(std::move(p).value().send(7).is_ok());
  EXPECT_EQ(rx.try_recv(), std::optional<int>(7));
  EXPECT_EQ(tx.capacity(), 1u);
}

TEST(Mpsc, reserve_waits_for_room_and_fails_when_closed) {
  auto [tx, rx] = mpsc::channel<int>(1);
  EXPECT_TRUE(tx.try_send(1).is_ok());
  MockTask r(tx.reserve());
  EXPECT_TRUE(r.poll().is_pending());
  EXPECT_EQ(rx.try_recv(), std::optional<int>(1));
  EXPECT_TRUE(r.is_woken());
  auto got = r.poll();
  ASSERT_TRUE(got.is_ready());
  ASSERT_TRUE(*got);
  mpsc::Permit<int> permit = std::move(*got).value();
  rx.close();
  auto sent = std::move(permit).send(3);
  ASSERT_TRUE(sent.is_err()) << "the receiver closed after the reservation: the value comes back";
  EXPECT_EQ(sent.error().value, 3);
  MockTask r2(tx.reserve());
  auto closed = r2.poll();
  ASSERT_TRUE(closed.is_ready());
  ASSERT_FALSE(*closed);
  EXPECT_EQ(closed->error(), mpsc::ReserveError::closed);
  auto tr = tx.try_reserve();
  ASSERT_FALSE(tr);
  EXPECT_EQ(tr.error(), mpsc::ReserveError::closed);
}

TEST(Mpsc, dropped_pending_reserve_returns_an_assigned_slot) {
  auto [tx, rx] = mpsc::channel<int>(1);
  EXPECT_TRUE(tx.try_send(1).is_ok());
  {
    MockTask r(tx.reserve());
    EXPECT_TRUE(r.poll().is_pending());
    EXPECT_EQ(rx.try_recv(), std::optional<int>(1));  // the slot goes to the waiting reserve
  }
  EXPECT_EQ(tx.capacity(), 1u);
  EXPECT_TRUE(tx.try_send(2).is_ok());
}

// A pending send and an unused permit count as senders: the receiver must not report the
// end while they can still deliver (otherwise a send could report success after the
// receiver ended: a lost value).
TEST(Mpsc, pending_send_and_permit_outlive_the_sender_and_are_received) {
  auto [tx0, rx] = mpsc::channel<int>(1);
  std::optional<mpsc::Sender<int>> tx(std::move(tx0));
  EXPECT_TRUE(tx->try_send(1).is_ok());
  MockTask s(tx->send(2));
  EXPECT_TRUE(s.poll().is_pending());
  tx.reset();  // the last Sender is gone; the send still waits for room
  MockTask r(rx.recv());
  EXPECT_EQ(*r.poll(), std::optional<int>(1));
  EXPECT_TRUE(r.poll().is_pending()) << "the pending send is still a sender";
  EXPECT_TRUE(s.is_woken());
  auto sent = s.poll();
  ASSERT_TRUE(sent.is_ready());
  EXPECT_TRUE(sent->is_ok());
  EXPECT_TRUE(r.is_woken());
  EXPECT_EQ(*r.poll(), std::optional<int>(2));
  EXPECT_EQ(*r.poll(), std::optional<int>()) << "and then the end";

  auto [tx2, rx2] = mpsc::channel<int>(1);
  auto permit = tx2.try_reserve();
  { auto d = std::move(tx2); }
  MockTask r2(rx2.recv());
  EXPECT_TRUE(r2.poll().is_pending()) << "an unused permit is a sender";
  EXPECT_TRUE(std::move(permit).value().send(4).is_ok());
  EXPECT_EQ(*r2.poll(), std::optional<int>(4));
  EXPECT_EQ(*r2.poll(), std::optional<int>());
}

TEST(Mpsc, blocking_send_and_recv_between_plain_threads) {
  auto [tx0, rx0] = mpsc::channel<int>(2);
  auto tx = std::move(tx0);
  auto rx = std::move(rx0);
  constexpr int n = 5000;
  std::thread producer([tx = std::move(tx)]() mutable {
    for (int i = 0; i < n; ++i) EXPECT_TRUE(tx.blocking_send(i).is_ok());
  });
  long sum = 0;
  int count = 0;
  while (auto v = rx.blocking_recv()) {
    EXPECT_EQ(*v, count);
    sum += *v;
    ++count;
  }
  producer.join();
  EXPECT_EQ(count, n);
  EXPECT_EQ(sum, long(n) * (n - 1) / 2);
  auto [tx3, rx3] = mpsc::channel<int>(1);
  rx3.close();
  auto r = tx3.blocking_send(1);
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(r.error().value, 1);
}

TEST(Mpsc, blocking_calls_inside_a_runtime_throw) {
  weft::Runtime rt;
  auto [tx, rx] = mpsc::channel<int>(1);
  bool send_threw = false, recv_threw = false;
  rt.block_on([](mpsc::Sender<int>& tx, mpsc::Receiver<int>& rx, bool& s, bool& r) -> weft::Task<void> {
    try {
      (void)tx.blocking_send(1);
    } catch (const std::logic_error&) {
      s = true;
    }
    try {
      (void)rx.blocking_recv();
    } catch (const std::logic_error&) {
      r = true;
    }
    co_return;
  }(tx, rx, send_threw, recv_threw));
  EXPECT_TRUE(send_threw);
  EXPECT_TRUE(recv_threw);
}

TEST(Mpsc, recv_spends_the_cooperative_budget) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(tx.send(i).is_ok());
  weft::testing::WakeCounter wc;
  weft::Waker w = wc.waker();
  weft::Context cx(w);
  weft::coop::BudgetScope budget(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rx.poll_recv(cx).is_ready());
  EXPECT_TRUE(rx.poll_recv(cx).is_pending()) << "the budget is spent although a value is ready";
  EXPECT_EQ(wc.wakes(), 1) << "and the task was woken to run again";
}

// A task that drains an always-ready channel with collect (one poll of one future) still
// yields: another task on the same single thread runs before the drain finishes.
TEST(Mpsc, draining_an_always_ready_channel_yields_to_other_tasks) {
  weft::RuntimeOptions o;
  o.flavor = weft::Flavor::current_thread;
  weft::Runtime rt(o);
  constexpr int n = 10000;
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  for (int i = 0; i < n; ++i) EXPECT_TRUE(tx.send(i).is_ok());
  { auto d = std::move(tx); }
  std::atomic<bool> other_ran{false};
  bool other_ran_before_the_end = false;
  std::size_t got = rt.block_on([](mpsc::Receiver<int> rx, std::atomic<bool>& other, bool& before) -> weft::Task<std::size_t> {
    auto h = weft::spawn([](std::atomic<bool>& o) -> weft::Task<void> {
      o = true;
      co_return;
    }(other));
    auto v = co_await weft::stream::collect<std::vector<int>>(std::move(rx));
    before = other.load();
    co_await h;
    co_return v.size();
  }(std::move(rx), other_ran, other_ran_before_the_end));
  EXPECT_EQ(got, std::size_t(n));
  EXPECT_TRUE(other_ran_before_the_end);
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
              EXPECT_TRUE(back.is_ok());
            }
          }(std::move(tx), p));
        } else {
          for (int i = 0; i < per; ++i) EXPECT_TRUE(tx.send(p * per + i).is_ok());
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
// A value whose move constructor throws when armed.
struct ThrowOnMove {
  static inline bool armed = false;
  int v;
  explicit ThrowOnMove(int x) : v(x) {}
  ThrowOnMove(ThrowOnMove&& o) : v(o.v) {
    if (armed) throw std::runtime_error("move");
  }
  ThrowOnMove& operator=(ThrowOnMove&&) = default;
};

TEST(Mpsc, a_send_that_throws_leaves_the_channel_usable_and_the_receiver_droppable) {
  auto [tx, rx0] = mpsc::unbounded_channel<ThrowOnMove>();
  std::optional<mpsc::Receiver<ThrowOnMove>> rx(std::move(rx0));
  ThrowOnMove::armed = true;
  EXPECT_THROW((void)tx.send(ThrowOnMove(1)), std::runtime_error);
  ThrowOnMove::armed = false;
  EXPECT_TRUE(tx.send(ThrowOnMove(2)).is_ok());
  auto v = rx->try_recv();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->v, 2);
  rx.reset();  // must not wait for the failed send (its in-flight count was released)
  EXPECT_TRUE(tx.is_closed());
}

TEST(Mpsc, block_on_a_receive_returns_the_first_value_and_keeps_the_next) {
  for (int round = 0; round < 50; ++round) {
    weft::RuntimeOptions o;
    o.flavor = weft::Flavor::current_thread;
    weft::Runtime rt(o);
    auto [tx0, rx] = mpsc::unbounded_channel<int>();
    auto tx = std::move(tx0);
    std::thread th([&tx] {
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // usually after the park
      EXPECT_TRUE(tx.send(1).is_ok());
      EXPECT_TRUE(tx.send(2).is_ok());
    });
    EXPECT_EQ(rt.block_on(rx.recv()), std::optional<int>(1)) << "round " << round;
    th.join();
    EXPECT_EQ(rx.try_recv(), std::optional<int>(2)) << "the second value was not consumed by a re-poll";
  }
}
}  // namespace
