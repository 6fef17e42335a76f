// broadcast channels: fan-out, lag, close, waiter lifetimes, destructors, budget, stress.
#include "weft/sync/broadcast.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <stop_token>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "weft/ready_stream_map.hpp"
#include "weft/sync.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;
namespace broadcast = weft::broadcast;

// Waits for a spawned task's value.
template <class T>
T join(weft::Runtime& rt, weft::JoinHandle<T> h) {
  return rt.block_on([](weft::JoinHandle<T> h) -> weft::Task<T> { co_return co_await h; }(std::move(h)));
}

// The value of a ready recv result (fails the test if it is not one).
template <class R>
auto value_of(R r) {
  EXPECT_TRUE(r.has_value());
  return std::move(r).value();
}

TEST(Broadcast, capacity_zero_is_rejected) {
  try {
    (void)broadcast::channel<int>(0);
    FAIL() << "capacity 0 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("capacity"), std::string::npos) << e.what();
  }
}

TEST(Broadcast, smoke_every_receiver_sees_every_value_in_order) {
  auto [tx, rx1] = broadcast::channel<int>(8);
  auto rx2 = tx.subscribe();
  for (int i = 0; i < 3; ++i) {
    auto r = tx.send(i);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(*r, 2u) << "both receivers will see it";
  }
  EXPECT_EQ(rx1.len(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(value_of(rx1.try_recv()), i);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(value_of(rx2.try_recv()), i);
  auto e = rx1.try_recv();
  ASSERT_TRUE(e.is_err());
  EXPECT_TRUE(e.error().is_empty());
  EXPECT_TRUE(rx2.is_empty());
}

TEST(Broadcast, send_without_receivers_fails_and_returns_the_value) {
  auto [tx, rx] = broadcast::channel<std::string>(4);
  { auto d = std::move(rx); }
  EXPECT_EQ(tx.receiver_count(), 0u);
  auto r = tx.send(std::string(100, 'v'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().value, std::string(100, 'v'));
  EXPECT_THROW((void)r.value(), std::logic_error);
  auto rx2 = tx.subscribe();
  auto ok = tx.send("later");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 1u);
  EXPECT_EQ(value_of(rx2.try_recv()), "later");
}

TEST(Broadcast, subscribe_sees_only_values_sent_after_it) {
  auto [tx, rx] = broadcast::channel<int>(4);
  (void)tx.send(1);
  auto late = tx.subscribe();
  (void)tx.send(2);
  EXPECT_EQ(value_of(rx.try_recv()), 1);
  EXPECT_EQ(value_of(rx.try_recv()), 2);
  EXPECT_EQ(value_of(late.try_recv()), 2);
  EXPECT_TRUE(late.try_recv().error().is_empty());
}

TEST(Broadcast, resubscribe_starts_at_the_tail) {
  auto [tx, rx] = broadcast::channel<int>(4);
  (void)tx.send(1);
  auto fresh = rx.resubscribe();
  EXPECT_EQ(tx.receiver_count(), 2u);
  EXPECT_TRUE(fresh.try_recv().error().is_empty());
  (void)tx.send(2);
  EXPECT_EQ(value_of(fresh.try_recv()), 2);
  EXPECT_EQ(value_of(rx.try_recv()), 1) << "the original keeps its position";
}

TEST(Broadcast, receiver_count_tracks_subscribe_and_drop) {
  auto [tx, rx] = broadcast::channel<int>(2);
  EXPECT_EQ(tx.receiver_count(), 1u);
  {
    auto a = tx.subscribe();
    auto b = std::move(a);
    EXPECT_EQ(tx.receiver_count(), 2u) << "a move is not a new receiver";
  }
  EXPECT_EQ(tx.receiver_count(), 1u);
}

TEST(Broadcast, lagged_receiver_gets_exact_count_then_the_oldest_retained_value) {
  auto [tx, rx] = broadcast::channel<int>(4);
  for (int i = 0; i < 10; ++i) (void)tx.send(i);
  EXPECT_EQ(rx.len(), 10u);
  auto lag = rx.try_recv();
  ASSERT_TRUE(lag.is_err());
  EXPECT_TRUE(lag.error().is_lagged());
  EXPECT_EQ(lag.error().lagged_count(), 6u);
  for (int i = 6; i < 10; ++i) EXPECT_EQ(value_of(rx.try_recv()), i);
  EXPECT_TRUE(rx.try_recv().error().is_empty());
}

TEST(Broadcast, lagged_through_recv_future_then_values_then_closed) {
  auto [tx, rx] = broadcast::channel<int>(2);
  for (int i = 0; i < 5; ++i) (void)tx.send(i);
  { auto d = std::move(tx); }
  MockTask t(rx.recv());
  auto lag = t.poll();
  ASSERT_TRUE(lag.is_ready());
  EXPECT_EQ(lag->error(), broadcast::RecvError::lagged(3));
  EXPECT_EQ(value_of(t.poll().take()), 3);
  EXPECT_EQ(value_of(t.poll().take()), 4);
  auto end = t.poll();
  ASSERT_TRUE(end.is_ready());
  EXPECT_TRUE(end->error().is_closed());
}

TEST(Broadcast, capacity_is_rounded_up_to_a_power_of_two) {
  auto [tx, rx] = broadcast::channel<int>(3);  // holds 4
  for (int i = 0; i < 4; ++i) (void)tx.send(i);
  EXPECT_EQ(value_of(rx.try_recv()), 0) << "4 values fit";
  for (int i = 4; i < 9; ++i) (void)tx.send(i);
  auto lag = rx.try_recv();
  ASSERT_TRUE(lag.is_err());
  EXPECT_EQ(lag.error(), broadcast::TryRecvError::lagged(4));
  EXPECT_EQ(value_of(rx.try_recv()), 5);
}

TEST(Broadcast, closed_only_after_last_sender_dropped_and_values_drained) {
  auto [tx, rx] = broadcast::channel<int>(4);
  auto tx2 = tx;
  MockTask t(rx.recv());
  EXPECT_TRUE(t.poll().is_pending());
  (void)tx.send(1);
  EXPECT_TRUE(t.is_woken());
  EXPECT_EQ(value_of(t.poll().take()), 1);
  EXPECT_TRUE(t.poll().is_pending());
  { auto d = std::move(tx); }
  EXPECT_FALSE(t.is_woken()) << "one sender is still alive";
  (void)tx2.send(2);
  { auto d = std::move(tx2); }
  EXPECT_TRUE(t.is_woken());
  EXPECT_EQ(value_of(t.poll().take()), 2) << "values sent before the close come first";
  auto end = t.poll();
  ASSERT_TRUE(end.is_ready());
  EXPECT_TRUE(end->error().is_closed());
  auto again = t.poll();
  EXPECT_TRUE(again.is_ready() && again->error().is_closed()) << "closed stays closed";
  EXPECT_TRUE(rx.try_recv().error().is_closed());
}

TEST(Broadcast, pending_receiver_woken_by_close) {
  auto [tx, rx] = broadcast::channel<int>(4);
  MockTask t(rx.recv());
  EXPECT_TRUE(t.poll().is_pending());
  { auto d = std::move(tx); }
  EXPECT_TRUE(t.is_woken());
  auto end = t.poll();
  ASSERT_TRUE(end.is_ready());
  EXPECT_TRUE(end->error().is_closed());
}

TEST(Broadcast, one_send_wakes_every_waiter_past_the_prefetch_distance) {
  constexpr int n = 70;  // more than the 64 targets a send prefetches ahead of its wakes
  auto [tx, rx] = broadcast::channel<int>(4);
  std::vector<broadcast::Receiver<int>> rxs;
  for (int i = 0; i < n; ++i) rxs.push_back(tx.subscribe());
  std::vector<std::unique_ptr<MockTask<broadcast::Receiver<int>::Recv>>> ts;
  for (auto& r : rxs) {
    ts.push_back(std::make_unique<MockTask<broadcast::Receiver<int>::Recv>>(r.recv()));
    EXPECT_TRUE(ts.back()->poll().is_pending());
  }
  auto sent = tx.send(7);
  ASSERT_TRUE(sent);
  EXPECT_EQ(*sent, std::size_t{n + 1});
  for (auto& t : ts) {
    EXPECT_EQ(t->wake_count(), 1);
    EXPECT_EQ(value_of(t->poll().take()), 7);
  }
}

TEST(Broadcast, receiver_dropped_while_waiting_releases_its_waker_and_is_never_woken) {
  auto [tx, rx] = broadcast::channel<int>(4);
  auto other = tx.subscribe();
  std::weak_ptr<int> alive;
  auto wakes = std::make_shared<std::atomic<int>>(0);
  {
    auto token = std::make_shared<int>(0);
    alive = token;
    weft::Waker w = weft::Waker::from_fn([token, wakes] { wakes->fetch_add(1); });
    weft::Context cx(w);
    EXPECT_TRUE(rx.poll_recv(cx).is_pending());
  }
  EXPECT_FALSE(alive.expired()) << "the channel holds the registered waker";
  { auto d = std::move(rx); }
  EXPECT_TRUE(alive.expired()) << "dropping the receiver released it";
  auto r = tx.send(1);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1u);
  EXPECT_EQ(wakes->load(), 0);
  EXPECT_EQ(value_of(other.try_recv()), 1);
}

TEST(Broadcast, dropped_pending_recv_loses_nothing_and_unregisters) {
  auto [tx, rx] = broadcast::channel<int>(4);
  std::weak_ptr<int> alive;
  {
    auto token = std::make_shared<int>(0);
    alive = token;
    weft::Waker w = weft::Waker::from_fn([token] {});
    weft::Context cx(w);
    auto fut = rx.recv();
    EXPECT_TRUE(fut.poll(cx).is_pending());
  }
  EXPECT_TRUE(alive.expired()) << "dropping the recv future unregistered its waker";
  (void)tx.send(5);
  EXPECT_EQ(value_of(rx.try_recv()), 5);
}

TEST(Broadcast, rewaking_with_a_new_waker_replaces_the_old_one) {
  auto [tx, rx] = broadcast::channel<int>(4);
  weft::testing::WakeCounter a, b;
  weft::Waker wa = a.waker(), wb = b.waker();
  weft::Context ca(wa), cb(wb);
  EXPECT_TRUE(rx.poll_recv(ca).is_pending());
  EXPECT_TRUE(rx.poll_recv(cb).is_pending());
  (void)tx.send(1);
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);
}

// Counts live instances; a double destruction or a use after destruction fails the test.
struct Counted {
  static inline std::atomic<int> live{0};
  static constexpr std::uint32_t alive_mark = 0xA11CE;
  int v;
  std::uint32_t mark = alive_mark;
  explicit Counted(int x) : v(x) { live.fetch_add(1); }
  Counted(const Counted& o) : v(o.v) {
    EXPECT_EQ(o.mark, alive_mark);
    live.fetch_add(1);
  }
  Counted(Counted&& o) noexcept : v(o.v) {
    EXPECT_EQ(o.mark, alive_mark);
    live.fetch_add(1);
  }
  Counted& operator=(const Counted&) = default;
  ~Counted() {
    EXPECT_EQ(mark, alive_mark) << "destroyed twice";
    mark = 0;
    live.fetch_sub(1);
  }
};

TEST(Broadcast, destructors_value_dropped_after_its_last_reader) {
  Counted::live = 0;
  {
    auto [tx, rx1] = broadcast::channel<Counted>(4);
    auto rx2 = tx.subscribe();
    (void)tx.send(Counted(1));
    EXPECT_EQ(Counted::live.load(), 1) << "held in the ring";
    { auto c = value_of(rx1.try_recv()); }
    EXPECT_EQ(Counted::live.load(), 1) << "rx2 has not read it";
    {
      auto c = value_of(rx2.try_recv());
      EXPECT_EQ(c.v, 1);
    }
    EXPECT_EQ(Counted::live.load(), 0) << "the last reader released the slot";
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(Broadcast, destructors_overwritten_unread_and_leftover_values_each_once) {
  Counted::live = 0;
  {
    auto [tx, rx1] = broadcast::channel<Counted>(2);
    auto rx2 = tx.subscribe();
    for (int i = 0; i < 5; ++i) (void)tx.send(Counted(i));
    EXPECT_EQ(Counted::live.load(), 2) << "overwritten values were destroyed";
    { auto d = std::move(rx1); }
    EXPECT_EQ(Counted::live.load(), 2) << "rx2 still has to read them";
    EXPECT_TRUE(rx2.try_recv().error().is_lagged());
    { auto c = value_of(rx2.try_recv()); }
    EXPECT_EQ(Counted::live.load(), 1);
    { auto d = std::move(rx2); }
    EXPECT_EQ(Counted::live.load(), 0) << "the dropped receiver gave up its unread value";
    auto rx3 = tx.subscribe();
    (void)tx.send(Counted(9));
    (void)tx.send(Counted(10));
    EXPECT_EQ(Counted::live.load(), 2);
  }  // the channel goes with values in it
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(Broadcast, destructors_receiver_dropped_after_lagging) {
  Counted::live = 0;
  {
    auto [tx, rx1] = broadcast::channel<Counted>(2);
    auto rx2 = tx.subscribe();
    for (int i = 0; i < 7; ++i) (void)tx.send(Counted(i));
    EXPECT_EQ(rx2.try_recv().error(), broadcast::TryRecvError::lagged(5));
    EXPECT_EQ(value_of(rx2.try_recv()).v, 5);
    { auto d = std::move(rx1); }  // never read, lagged by 5
    EXPECT_EQ(Counted::live.load(), 1) << "only the value rx2 has not read is left";
    auto failed = tx.send(Counted(100));
    EXPECT_TRUE(failed) << "rx2 is alive";
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(Broadcast, failed_send_destroys_nothing_it_returns) {
  Counted::live = 0;
  {
    auto [tx, rx] = broadcast::channel<Counted>(2);
    { auto d = std::move(rx); }
    auto r = tx.send(Counted(3));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().value.v, 3);
    EXPECT_EQ(Counted::live.load(), 1);
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(Broadcast, stream_yields_lagged_then_values_then_ends) {
  auto [tx, rx] = broadcast::channel<int>(2);
  for (int i = 0; i < 4; ++i) (void)tx.send(i);
  MockTask t(std::move(rx).into_stream());
  auto first = t.poll_next();
  ASSERT_TRUE(first.is_ready() && first->has_value());
  EXPECT_EQ((*first)->error(), broadcast::Lagged{2});
  for (int i = 2; i < 4; ++i) {
    auto p = t.poll_next();
    ASSERT_TRUE(p.is_ready() && p->has_value());
    EXPECT_EQ(***p, i);
  }
  EXPECT_TRUE(t.poll_next().is_pending());
  { auto d = std::move(tx); }
  EXPECT_TRUE(t.is_woken());
  auto end = t.poll_next();
  ASSERT_TRUE(end.is_ready());
  EXPECT_FALSE(end->has_value()) << "closed ends the stream";
}

TEST(Broadcast, streams_multiplexed_in_a_stream_map) {
  auto [news, news_rx] = broadcast::channel<std::string>(8);
  auto [sport, sport_rx] = broadcast::channel<std::string>(8);
  weft::StreamMap<std::string, broadcast::BroadcastStream<std::string>> map;
  map.insert("news", broadcast::stream(std::move(news_rx)));
  map.insert("sport", std::move(sport_rx).into_stream());
  MockTask t(std::move(map));
  EXPECT_TRUE(t.poll_next().is_pending());
  (void)news.send("n1");
  (void)sport.send("s1");
  EXPECT_TRUE(t.is_woken());
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto p = t.poll_next();
    ASSERT_TRUE(p.is_ready() && p->has_value());
    got.push_back((*p)->first + ":" + *(*p)->second);
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"news:n1", "sport:s1"}));
  EXPECT_TRUE(t.poll_next().is_pending());
}

TEST(Broadcast, poll_recv_then_wait_registers_with_the_last_value_only) {
  auto [tx, rx] = broadcast::channel<int>(8);
  weft::testing::WakeCounter wc;
  weft::Waker w = wc.waker();
  weft::Context cx(w);
  (void)tx.send(1);
  (void)tx.send(2);
  bool waits = true;
  EXPECT_EQ(value_of(rx.poll_recv_then_wait(cx, waits).take()), 1);
  EXPECT_FALSE(waits) << "a value is left";
  EXPECT_EQ(value_of(rx.poll_recv_then_wait(cx, waits).take()), 2);
  EXPECT_TRUE(waits) << "the last value: the waker is registered for the next";
  (void)tx.send(3);
  EXPECT_EQ(wc.wakes(), 1) << "the registration made with the value is woken by the next send";
  (void)tx.send(4);
  EXPECT_EQ(wc.wakes(), 1) << "woken once";
  EXPECT_EQ(value_of(rx.poll_recv_then_wait(cx, waits).take()), 3);
  EXPECT_FALSE(waits);
  EXPECT_EQ(value_of(rx.poll_recv_then_wait(cx, waits).take()), 4);
  EXPECT_TRUE(waits);
  // The last value of a closed channel registers nothing: the next poll reports closed.
  (void)tx.send(5);
  EXPECT_EQ(wc.wakes(), 2);
  { auto d = std::move(tx); }
  EXPECT_EQ(value_of(rx.poll_recv_then_wait(cx, waits).take()), 5);
  EXPECT_FALSE(waits);
  auto end = rx.poll_recv_then_wait(cx, waits);
  ASSERT_TRUE(end.is_ready());
  EXPECT_TRUE(end->error().is_closed());
  EXPECT_FALSE(waits);
}

TEST(Broadcast, poll_recv_then_wait_lagged_registers_nothing) {
  auto [tx, rx] = broadcast::channel<int>(2);
  weft::testing::WakeCounter wc;
  weft::Waker w = wc.waker();
  weft::Context cx(w);
  for (int i = 0; i < 5; ++i) (void)tx.send(i);
  bool waits = true;
  auto lag = rx.poll_recv_then_wait(cx, waits);
  ASSERT_TRUE(lag.is_ready());
  EXPECT_TRUE(lag->error().is_lagged());
  EXPECT_FALSE(waits);
  EXPECT_EQ(value_of(rx.poll_recv_then_wait(cx, waits).take()), 3);
  EXPECT_FALSE(waits);
  EXPECT_EQ(value_of(rx.poll_recv_then_wait(cx, waits).take()), 4);
  EXPECT_TRUE(waits);
}

TEST(Broadcast, a_receiver_dropped_after_waiting_with_its_value_releases_the_waker) {
  auto [tx, rx] = broadcast::channel<int>(4);
  auto other = tx.subscribe();
  std::weak_ptr<int> alive;
  {
    auto token = std::make_shared<int>(0);
    alive = token;
    weft::Waker w = weft::Waker::from_fn([token] {});
    weft::Context cx(w);
    (void)tx.send(1);
    bool waits = false;
    EXPECT_EQ(value_of(rx.poll_recv_then_wait(cx, waits).take()), 1);
    EXPECT_TRUE(waits);
  }
  EXPECT_FALSE(alive.expired()) << "the channel holds the waker registered with the value";
  { auto d = std::move(rx); }
  EXPECT_TRUE(alive.expired()) << "dropping the receiver released it";
  auto r = tx.send(2);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1u);  // only `other`: the dropped receiver no longer counts
}

// A ready-set map of broadcast streams (whose polls register with the last value) consumed
// by a task on two workers while a thread sends to random channels: every value arrives,
// once, in each channel's order.
TEST(Broadcast, stress_ready_stream_map_of_streams_that_wait_gets_every_value_in_order) {
  constexpr int channels = 64;
  constexpr int n = 20'000;
  weft::Runtime rt(weft_test::mt(2));
  std::vector<broadcast::Sender<int>> txs;
  weft::ReadyStreamMap<int, broadcast::BroadcastStream<int>> map;
  for (int c = 0; c < channels; ++c) {
    // No lag: a channel gets ~n / channels values in all, fewer than its capacity.
    auto [tx, rx] = broadcast::channel<int>(1024);
    txs.push_back(std::move(tx));
    map.insert(c, std::move(rx).into_stream());
  }
  auto consumer = rt.spawn([](weft::ReadyStreamMap<int, broadcast::BroadcastStream<int>> m) -> weft::Task<long> {
    std::vector<int> next(channels, 0);  // the next value expected per channel
    long got = 0;
    while (auto item = co_await weft::next(m)) {
      auto& [c, v] = *item;
      if (!v) co_return -1;  // lagged: must not happen
      if (*v != next[static_cast<std::size_t>(c)]) co_return -2;
      ++next[static_cast<std::size_t>(c)];
      ++got;
    }
    co_return got;  // every sender gone and every stream drained
  }(std::move(map)));
  std::thread sender([txs = std::move(txs)]() mutable {
    std::vector<int> sent(channels, 0);
    std::uint32_t x = 12345;
    for (int i = 0; i < n; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      const std::size_t c = x % channels;
      EXPECT_TRUE(txs[c].send(sent[c]++));
      if (i % 64 == 0) std::this_thread::yield();  // let the consumer catch up and wait
    }
    txs.clear();  // closes every channel
  });
  sender.join();
  EXPECT_EQ(join(rt, std::move(consumer)), n);
}

TEST(Broadcast, poll_recv_spends_the_budget_and_yields_when_spent) {
  auto [tx, rx] = broadcast::channel<int>(16);
  for (int i = 0; i < 10; ++i) (void)tx.send(i);
  MockTask t(rx.recv());
  weft::coop::BudgetScope budget(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(value_of(t.poll().take()), i);
  EXPECT_EQ(weft::coop::remaining(), 0);
  EXPECT_TRUE(t.poll().is_pending()) << "budget spent: pending although a value is ready";
  EXPECT_TRUE(t.is_woken()) << "and the task was woken to come back";
  weft::coop::BudgetScope refill(3);
  EXPECT_EQ(value_of(t.poll().take()), 3) << "nothing was lost";
  EXPECT_EQ(value_of(rx.try_recv()), 4) << "try_recv spends no budget";
  EXPECT_EQ(weft::coop::remaining(), 2);
}

TEST(Broadcast, no_starvation_task_draining_ready_values_lets_others_run) {
  constexpr int n = 10'000;
  weft::Runtime rt(weft_test::ct());
  auto [tx, rx] = broadcast::channel<int>(16'384);
  for (int i = 0; i < n; ++i) (void)tx.send(i);
  auto others_ran = std::make_shared<std::atomic<int>>(0);
  auto done = std::make_shared<std::atomic<bool>>(false);
  int seen_while_draining = rt.block_on([](broadcast::Receiver<int> rx, std::shared_ptr<std::atomic<int>> others,
                                            std::shared_ptr<std::atomic<bool>> done) -> weft::Task<int> {
    auto other = weft::spawn([](std::shared_ptr<std::atomic<int>> others,
                                std::shared_ptr<std::atomic<bool>> done) -> weft::Task<void> {
      while (!done->load()) {
        others->fetch_add(1);
        co_await weft::yield_now();
      }
    }(others, done));
    int got = 0;
    for (int i = 0; i < n; ++i) {
      auto r = co_await rx.recv();
      if (r && *r == i) ++got;
    }
    int seen = others->load();
    done->store(true);
    co_await other;
    co_return got == n ? seen : -1;
  }(std::move(rx), others_ran, done));
  ASSERT_NE(seen_while_draining, -1) << "every value in order";
  // Without the budget the drain never suspends and the other task runs 0 times before it
  // ends; with it, the drainer yields every budget's worth of values.
  EXPECT_GE(seen_while_draining, 10);
}

// 4 receiver tasks on a 2-worker runtime, a sender on its own thread, a capacity that
// holds every value: each receives exactly all N in order, then closed.
TEST(Broadcast, stress_receivers_get_every_value_in_order) {
  constexpr int n = 20'000;
  constexpr int receivers = 4;
  weft::Runtime rt(weft_test::mt(2));
  auto [tx, rx] = broadcast::channel<int>(32'768);
  std::vector<weft::JoinHandle<long>> hs;
  for (int r = 0; r < receivers; ++r) {
    hs.push_back(rt.spawn([](broadcast::Receiver<int> rx) -> weft::Task<long> {
      long got = 0;
      for (;;) {
        auto res = co_await rx.recv();
        if (!res) {
          if (res.error().is_closed()) break;
          co_return -1;  // lagged: must not happen
        }
        if (*res != got) co_return -2;
        ++got;
      }
      co_return got;
    }(r == 0 ? std::move(rx) : tx.subscribe())));
  }
  std::thread sender([tx = std::move(tx)]() mutable {
    for (int i = 0; i < n; ++i) {
      auto r = tx.send(i);
      EXPECT_EQ(*r, std::size_t{receivers});
    }
  });
  sender.join();
  for (auto& h : hs) EXPECT_EQ(join(rt, std::move(h)), n);
}

// A small ring: receivers lag; for each, received + skipped == N exactly and the values it
// gets are exactly the positions it did not skip.
TEST(Broadcast, stress_small_capacity_received_plus_lagged_is_exact) {
  constexpr std::uint64_t n = 20'000;
  constexpr int receivers = 4;
  weft::Runtime rt(weft_test::mt(2));
  auto [tx, rx] = broadcast::channel<std::uint64_t>(8);
  struct Tally {
    std::uint64_t received = 0, skipped = 0;
    bool in_order = true;
  };
  std::vector<weft::JoinHandle<Tally>> hs;
  for (int r = 0; r < receivers; ++r) {
    hs.push_back(rt.spawn([](broadcast::Receiver<std::uint64_t> rx) -> weft::Task<Tally> {
      Tally t;
      std::uint64_t expect = 0;
      for (;;) {
        auto res = co_await rx.recv();
        if (res) {
          if (*res != expect) t.in_order = false;
          ++t.received;
          expect = *res + 1;
        } else if (res.error().is_lagged()) {
          t.skipped += res.error().lagged_count();
          expect += res.error().lagged_count();
        } else {
          break;
        }
      }
      co_return t;
    }(r == 0 ? std::move(rx) : tx.subscribe())));
  }
  std::thread sender([tx = std::move(tx)]() mutable {
    for (std::uint64_t i = 0; i < n; ++i) (void)tx.send(i);
  });
  sender.join();
  for (auto& h : hs) {
    Tally t = join(rt, std::move(h));
    EXPECT_TRUE(t.in_order);
    EXPECT_EQ(t.received + t.skipped, n);
  }
}

// Two sender threads, receivers on plain threads using try_recv: every value arrives once,
// each sender's values in its order.
TEST(Broadcast, stress_two_senders_try_recv_threads_see_all_values) {
  constexpr int per = 10'000;
  constexpr int receivers = 3;
  auto [tx, rx] = broadcast::channel<int>(32'768);
  std::vector<broadcast::Receiver<int>> rxs;
  rxs.push_back(std::move(rx));
  for (int r = 1; r < receivers; ++r) rxs.push_back(tx.subscribe());
  std::vector<std::thread> readers;
  std::vector<int> counts(receivers, 0);
  std::vector<char> ordered(receivers, 1);  // not vector<bool>: each thread writes its own element
  for (int r = 0; r < receivers; ++r) {
    readers.emplace_back([&, r] {
      int last[2] = {-1, -1};
      for (;;) {
        auto res = rxs[r].try_recv();
        if (res) {
          int v = *res;
          int s = v / per;
          if (v <= last[s]) ordered[r] = false;
          last[s] = v;
          ++counts[r];
        } else if (res.error().is_closed()) {
          return;
        } else if (res.error().is_lagged()) {
          ordered[r] = false;
          return;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  {
    auto tx2 = tx;
    std::thread a([tx = std::move(tx)]() mutable {
      for (int i = 0; i < per; ++i) (void)tx.send(i);
    });
    std::thread b([tx = std::move(tx2)]() mutable {
      for (int i = 0; i < per; ++i) (void)tx.send(per + i);
    });
    a.join();
    b.join();
  }
  for (auto& t : readers) t.join();
  for (int r = 0; r < receivers; ++r) {
    EXPECT_EQ(counts[r], 2 * per);
    EXPECT_TRUE(ordered[r]);
  }
}

// Receivers subscribing and dropping while a sender sends: no leak (asan), no race (tsan),
// and every value ends up destroyed exactly once.
TEST(Broadcast, stampede_subscribe_and_drop_while_sending) {
  Counted::live = 0;
  {
    auto [tx, rx] = broadcast::channel<Counted>(4);
    std::atomic<bool> stop{false};
    std::vector<std::thread> churn;
    for (int t = 0; t < 2; ++t) {
      churn.emplace_back([&, tx = tx]() mutable {
        while (!stop.load()) {
          auto r = tx.subscribe();
          for (int i = 0; i < 3; ++i) (void)r.try_recv();
        }
      });
    }
    for (int i = 0; i < 20'000; ++i) (void)tx.send(Counted(i));
    stop.store(true);
    for (auto& t : churn) t.join();
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(Broadcast, receiver_moved_while_a_recv_is_pending) {
  auto [tx, rx] = broadcast::channel<int>(4);
  std::optional<broadcast::Receiver<int>> moved;
  {
    weft::testing::WakeCounter wc;
    weft::Waker w = wc.waker();
    weft::Context cx(w);
    auto fut = rx.recv();
    EXPECT_TRUE(fut.poll(cx).is_pending());
    moved.emplace(std::move(rx));
  }  // the pending recv is dropped after its receiver moved: no use of the moved-from one
  (void)tx.send(7);
  EXPECT_EQ(value_of(moved->try_recv()), 7);
}
// The waiter node lives in the Receiver: a move puts the new receiver's node in the old
// one's place in the wait list, with its waker.
TEST(Broadcast, a_receiver_moved_while_waiting_is_woken_in_its_new_place) {
  auto [tx, rx] = broadcast::channel<int>(4);
  weft::testing::WakeCounter a, b, other;
  weft::Waker wa = a.waker(), wb = b.waker(), wo = other.waker();
  weft::Context ca(wa), cb(wb), co(wo);
  EXPECT_TRUE(rx.poll_recv(ca).is_pending());
  broadcast::Receiver<int> moved(std::move(rx));  // move construction while waiting
  (void)tx.send(1);
  EXPECT_EQ(a.wakes(), 1);
  EXPECT_EQ(value_of(moved.try_recv()), 1);

  // Move assignment while waiting, onto a receiver of another channel that waits too: that
  // one leaves its channel (its waker released, never woken), this one is woken.
  auto [tx2, rx2] = broadcast::channel<int>(4);
  EXPECT_TRUE(rx2.poll_recv(co).is_pending());
  EXPECT_TRUE(moved.poll_recv(cb).is_pending());
  rx2 = std::move(moved);
  EXPECT_EQ(tx2.receiver_count(), 0u);
  EXPECT_TRUE(tx2.send(9).is_err());
  (void)tx.send(2);
  EXPECT_EQ(b.wakes(), 1);
  EXPECT_EQ(other.wakes(), 0);
  EXPECT_EQ(value_of(rx2.try_recv()), 2);
  // Moving one that was woken (a send took its entry) and polling it again.
  EXPECT_TRUE(rx2.poll_recv(cb).is_pending());
  (void)tx.send(3);
  EXPECT_EQ(b.wakes(), 2);
  broadcast::Receiver<int> again(std::move(rx2));
  (void)tx.send(4);
  EXPECT_EQ(b.wakes(), 2) << "woken once; not registered any more";
  EXPECT_EQ(value_of(again.try_recv()), 3);
  EXPECT_EQ(value_of(again.try_recv()), 4);
}

// A receiver moved back and forth between polls while another thread sends (and so takes
// its entry and wakes it): no wake-up is lost, every value arrives once and in order, tsan
// sees no race.
TEST(Broadcast, stress_receiver_moved_while_a_sender_wakes_it) {
  constexpr int n = 20'000;
  auto [tx, rx] = broadcast::channel<int>(n);  // room for all: nothing lags
  std::atomic<int> wakes{0};
  weft::Waker w = weft::Waker::from_fn([&wakes] { wakes.fetch_add(1, std::memory_order_release); });
  std::jthread sender([tx = std::move(tx)]() mutable {
    for (int i = 0; i < n; ++i) {
      (void)tx.send(i);
      if (i % 64 == 0) std::this_thread::yield();
    }
  });  // the sender's drop closes the channel
  broadcast::Receiver<int> a(std::move(rx));
  std::optional<broadcast::Receiver<int>> b;
  int next = 0;
  int pendings = 0;
  bool closed = false;
  while (!closed) {
    weft::Context cx(w);
    const int seen = wakes.load(std::memory_order_acquire);
    auto p = a.poll_recv(cx);
    if (p.is_ready()) {
      auto r = std::move(p).take();
      if (!r) {
        ASSERT_TRUE(r.error().is_closed());
        closed = true;
        continue;
      }
      ASSERT_EQ(r.value(), next);
      ++next;
      continue;
    }
    ++pendings;
    b.emplace(std::move(a));  // construction, then assignment back, while the sender may wake it
    a = std::move(*b);
    b.reset();
    // The wake must come (a value or the close): a lost one would hang here.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (wakes.load(std::memory_order_acquire) == seen) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "wake-up lost after a move";
      std::this_thread::yield();
    }
  }
  sender.join();
  EXPECT_EQ(next, n);
  EXPECT_EQ(wakes.load(), pendings) << "one wake per registration";
}
// Waiting receivers are a vector: one leaving moves the last one into its place (through
// the moved entry's owner, which must name the receiver where it lives now), and a moved
// receiver's entry follows it. Each registration is woken exactly once, by the next send.
TEST(Broadcast, waiters_leave_and_move_in_any_order_and_the_rest_are_woken_once) {
  auto [tx, r0] = broadcast::channel<int>(4);
  auto r1 = tx.subscribe(), r2 = tx.subscribe();
  weft::testing::WakeCounter c0, c1, c2, fresh;
  weft::Waker w0 = c0.waker(), w1 = c1.waker(), w2 = c2.waker(), wf = fresh.waker();
  weft::Context x0(w0), x1(w1), x2(w2), xf(wf);
  EXPECT_TRUE(r0.poll_recv(x0).is_pending());
  EXPECT_TRUE(r1.poll_recv(x1).is_pending());
  EXPECT_TRUE(r2.poll_recv(x2).is_pending());  // the last entry
  auto m2 = std::make_unique<broadcast::Receiver<int>>(std::move(r2));  // moves to the heap
  { auto gone = std::move(r2); }  // the moved-from one goes: it must not be in the vector
  { auto gone = std::move(r0); }  // the first leaves: m2's entry moves into its place
  // m2 re-registers with another waker: it must find its own entry (else it would add a
  // second one and both wakers would be woken, or write past the vector's end).
  EXPECT_TRUE(m2->poll_recv(xf).is_pending());
  { auto gone = std::move(r1); }  // the entry now last leaves: m2's entry stays
  (void)tx.send(1);
  EXPECT_EQ(c0.wakes(), 0);
  EXPECT_EQ(c1.wakes(), 0);
  EXPECT_EQ(c2.wakes(), 0) << "the replaced waker was released, not woken";
  EXPECT_EQ(fresh.wakes(), 1);
  (void)tx.send(2);
  EXPECT_EQ(fresh.wakes(), 1) << "a registration is woken once";
  EXPECT_EQ(value_of(m2->try_recv()), 1);
  EXPECT_EQ(tx.receiver_count(), 1u);
}

// A waiting receiver moved after a send took its entry keeps a record of the old
// generation; assigned a receiver of another channel (whose generation may be equal), it
// must register there afresh.
TEST(Broadcast, a_woken_receiver_assigned_another_channel_registers_afresh) {
  auto [ta, ra] = broadcast::channel<int>(4);
  auto [tb, rb] = broadcast::channel<int>(4);
  weft::testing::WakeCounter a, b;
  weft::Waker wa = a.waker(), wb = b.waker();
  weft::Context ca(wa), cb(wb);
  EXPECT_TRUE(ra.poll_recv(ca).is_pending());
  (void)ta.send(1);  // takes ra's entry: a new generation on A
  EXPECT_EQ(a.wakes(), 1);
  auto kept = std::move(ra);  // ra may still be waiting as far as it knows: the move checks
  ra = std::move(rb);         // ra (moved from) now reads channel B, generation 1 like A's old one
  EXPECT_TRUE(ra.poll_recv(cb).is_pending());
  EXPECT_TRUE(ra.poll_recv(cb).is_pending());
  (void)tb.send(2);
  EXPECT_EQ(b.wakes(), 1);
  EXPECT_EQ(value_of(ra.try_recv()), 2);
  EXPECT_EQ(value_of(kept.try_recv()), 1);
}

// Receivers on two threads wait, move to new addresses and leave while a third thread
// sends: every entry's owner is kept right (tsan and asan check the accesses), no wake-up
// is lost, and each thread's receivers get every value in order.
TEST(Broadcast, stress_waiters_move_and_leave_on_two_threads_while_sending) {
  constexpr int n = 5'000;
  auto ch = broadcast::channel<int>(n);  // room for all: nothing lags
  broadcast::Sender<int> tx = std::move(ch.first);
  std::optional<broadcast::Receiver<int>> leaver(std::move(ch.second));  // leaves mid-run
  std::vector<broadcast::Receiver<int>> mine[2];
  for (auto& v : mine)
    for (int i = 0; i < 4; ++i) v.push_back(tx.subscribe());
  std::atomic<int> failures{0};
  auto consume = [&failures](std::vector<broadcast::Receiver<int>>& rxs) {
    std::atomic<int> wakes{0};
    weft::Waker w = weft::Waker::from_fn([&wakes] { wakes.fetch_add(1, std::memory_order_release); });
    std::vector<int> next(rxs.size(), 0);
    std::size_t done = 0;
    std::vector<bool> closed(rxs.size(), false);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (done < rxs.size()) {
      const int seen = wakes.load(std::memory_order_acquire);
      bool any_pending = false;
      for (std::size_t i = 0; i < rxs.size(); ++i) {
        if (closed[i]) continue;
        weft::Context cx(w);
        for (;;) {
          auto p = rxs[i].poll_recv(cx);
          if (p.is_pending()) {
            any_pending = true;
            break;
          }
          auto r = std::move(p).take();
          if (!r) {
            if (!r.error().is_closed() || next[i] != n) failures.fetch_add(1);
            closed[i] = true;
            ++done;
            break;
          }
          if (r.value() != next[i]) failures.fetch_add(1);
          ++next[i];
        }
      }
      if (!any_pending) continue;
      // Move every receiver to a new address (the vector reallocates), waiting or not.
      std::vector<broadcast::Receiver<int>> moved;
      moved.reserve(rxs.size() + 1);
      for (auto& r : rxs) moved.push_back(std::move(r));
      rxs = std::move(moved);
      while (wakes.load(std::memory_order_acquire) == seen) {
        if (std::chrono::steady_clock::now() > deadline) {
          failures.fetch_add(1000);  // a lost wake-up
          return;
        }
        std::this_thread::yield();
      }
    }
  };
  {
    std::jthread t0([&] { consume(mine[0]); });
    std::jthread t1([&] { consume(mine[1]); });
    std::jthread sender([tx = std::move(tx), &leaver]() mutable {
      for (int i = 0; i < n; ++i) {
        (void)tx.send(i);
        if (i == n / 2) leaver.reset();
        if (i % 32 == 0) std::this_thread::yield();
      }
    });
  }
  EXPECT_EQ(failures.load(), 0);
}
}  // namespace
