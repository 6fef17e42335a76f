// oneshot channel: send/recv, drop and close edges, closed(), wake-ups across threads.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "weft/sync/oneshot.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;
namespace oneshot = weft::oneshot;

TEST(Oneshot, send_then_recv) {
  auto [tx, rx] = oneshot::channel<std::string>();
  EXPECT_TRUE(tx.send("hi").is_ok());
  MockTask t(std::move(rx));
  auto p = t.poll();
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(*p, "hi");
}

TEST(Oneshot, pending_then_woken_by_send) {
  auto [tx, rx] = oneshot::channel<int>();
  MockTask t(std::move(rx));
  EXPECT_TRUE(t.poll().is_pending());
  EXPECT_TRUE(t.poll().is_pending()) << "a second poll with the same waker stays pending";
  EXPECT_FALSE(t.is_woken());
  EXPECT_TRUE(tx.send(5).is_ok());
  EXPECT_TRUE(t.is_woken());
  EXPECT_EQ(*t.poll(), 5);
  EXPECT_THROW((void)t.poll(), std::logic_error) << "polled after completion";
}

TEST(Oneshot, sender_dropped_unsent_is_recv_error) {
  auto [tx, rx] = oneshot::channel<int>();
  MockTask t(std::move(rx));
  EXPECT_TRUE(t.poll().is_pending());
  { auto dropped = std::move(tx); }
  EXPECT_TRUE(t.is_woken());
  EXPECT_THROW((void)t.poll(), oneshot::RecvError);
}

TEST(Oneshot, send_to_dropped_receiver_returns_value) {
  auto [tx, rx] = oneshot::channel<std::string>();
  { auto dropped = std::move(rx); }
  EXPECT_TRUE(tx.is_closed());
  auto back = tx.send("keep");
  ASSERT_TRUE(back.is_err());
  EXPECT_EQ(back.error(), "keep");
}

TEST(Oneshot, close_fails_send_and_wakes_closed) {
  auto [tx, rx] = oneshot::channel<int>();
  MockTask closed(tx.closed());
  EXPECT_TRUE(closed.poll().is_pending());
  rx.close();
  EXPECT_TRUE(closed.is_woken());
  EXPECT_TRUE(closed.poll().is_ready());
  {
    auto r = tx.send(1);
    ASSERT_TRUE(r.is_err());
    EXPECT_EQ(r.error(), 1);
  }
  oneshot::TryRecvError why{};
  EXPECT_FALSE(rx.try_recv(&why).has_value());
  EXPECT_EQ(why, oneshot::TryRecvError::closed);
}

TEST(Oneshot, value_sent_before_close_is_still_received) {
  auto [tx, rx] = oneshot::channel<int>();
  EXPECT_TRUE(tx.send(3).is_ok());
  rx.close();
  EXPECT_EQ(rx.try_recv(), std::optional<int>(3));
}

TEST(Oneshot, try_recv_empty_then_value) {
  auto [tx, rx] = oneshot::channel<int>();
  oneshot::TryRecvError why{};
  EXPECT_FALSE(rx.try_recv(&why).has_value());
  EXPECT_EQ(why, oneshot::TryRecvError::empty);
  EXPECT_TRUE(tx.send(9).is_ok());
  EXPECT_EQ(rx.try_recv(), std::optional<int>(9));
}

TEST(Oneshot, waker_replaced_on_repoll_with_another_task) {
  auto [tx, rx] = oneshot::channel<int>();
  weft::testing::WakeCounter a, b;
  weft::Waker wa = a.waker(), wb = b.waker();
  weft::Context ca(wa), cb(wb);
  EXPECT_TRUE(rx.poll(ca).is_pending());
  EXPECT_TRUE(rx.poll(cb).is_pending());
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);
}

// A waker whose live clones are counted, to see that a dropped half gives its waker back.
struct LiveWaker {
  std::atomic<int> live{0};
  static void* clone(void* d) noexcept {
    static_cast<LiveWaker*>(d)->live.fetch_add(1);
    return d;
  }
  static void drop(void* d) noexcept { static_cast<LiveWaker*>(d)->live.fetch_sub(1); }
  static void wake_by_ref(void*) noexcept {}
  static void wake(void* d) noexcept { drop(d); }
  static constexpr weft::WakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};
  weft::Waker make() {
    live.fetch_add(1);
    return weft::Waker(&vtable, this);
  }
};

TEST(Oneshot, dropped_halves_release_their_wakers) {
  LiveWaker lw;
  {
    auto [tx, rx] = oneshot::channel<int>();
    weft::Waker w = lw.make();
    weft::Context cx(w);
    EXPECT_TRUE(rx.poll(cx).is_pending());
    EXPECT_TRUE(tx.poll_closed(cx).is_pending());
    EXPECT_EQ(lw.live.load(), 3) << "ours, plus one registered by each half";
    { auto d = std::move(rx); }
    EXPECT_EQ(lw.live.load(), 2) << "the dropped receiver took its waker back";
    { auto d = std::move(tx); }
    EXPECT_EQ(lw.live.load(), 1) << "the dropped sender took its waker back";
  }
  EXPECT_EQ(lw.live.load(), 0) << "no clone is left anywhere";
}

TEST(Oneshot, ping_pong_across_runtime_tasks_and_threads) {
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  for (int i = 0; i < 2000; ++i) {
    auto [tx, rx] = oneshot::channel<int>();
    std::thread th([tx = std::move(tx), i]() mutable { (void)tx.send(i); });
    int v = rt.block_on([](oneshot::Receiver<int> rx) -> weft::Task<int> { co_return co_await std::move(rx); }(
        std::move(rx)));
    EXPECT_EQ(v, i);
    th.join();
  }
}

TEST(Oneshot, aborted_receiver_task_leaves_nothing_behind) {
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  auto [tx0, rx] = oneshot::channel<std::string>();
  auto tx = std::move(tx0);  // a plain variable (clang 14 cannot capture structured bindings)
  auto h = rt.spawn([](oneshot::Receiver<std::string> rx) -> weft::Task<void> {
    (void)co_await std::move(rx);
  }(std::move(rx)));
  // Wait until the receiver is parked on the channel, then abort it.
  rt.block_on([&]() -> weft::Task<void> {
    while (!h.is_finished() && !tx.is_closed()) {
      h.abort();
      co_await weft::yield_now();
    }
    (void)co_await h.result();
  }());
  EXPECT_TRUE(tx.is_closed()) << "the aborted task's receiver was dropped";
  auto r = tx.send("x");
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(r.error(), "x");
}
// tokio: once try_recv reported a final outcome, the receiver is spent; polling it again is
// a usage error ("called after complete"), not a RecvError about the sender.
void expect_final_try_recv_then_poll_throws(oneshot::Receiver<int> rx) {
  oneshot::TryRecvError why{};
  EXPECT_FALSE(rx.try_recv(&why).has_value());
  EXPECT_EQ(why, oneshot::TryRecvError::closed);
  MockTask t(std::move(rx));
  EXPECT_THROW((void)t.poll(), std::logic_error);
}

TEST(Oneshot, poll_after_a_final_try_recv_is_a_usage_error) {
  {
    auto [tx, rx] = oneshot::channel<int>();
    { auto d = std::move(tx); }
    expect_final_try_recv_then_poll_throws(std::move(rx));
  }
  {
    auto [tx, rx] = oneshot::channel<int>();
    (void)tx.send(3);
    EXPECT_EQ(rx.try_recv(), std::optional<int>(3));
    expect_final_try_recv_then_poll_throws(std::move(rx));
  }
  {
    auto [tx, rx] = oneshot::channel<int>();
    rx.close();
    expect_final_try_recv_then_poll_throws(std::move(rx));
  }
  {  // an empty try_recv is not final
    auto [tx, rx] = oneshot::channel<int>();
    oneshot::TryRecvError why{};
    EXPECT_FALSE(rx.try_recv(&why).has_value());
    EXPECT_EQ(why, oneshot::TryRecvError::empty);
    (void)tx.send(5);
    MockTask t(std::move(rx));
    EXPECT_EQ(*t.poll(), 5);
  }
}

TEST(Oneshot, second_poll_after_recv_error_is_a_usage_error) {
  auto [tx, rx] = oneshot::channel<int>();
  { auto d = std::move(tx); }
  MockTask t(std::move(rx));
  EXPECT_THROW((void)t.poll(), oneshot::RecvError);
  EXPECT_THROW((void)t.poll(), std::logic_error);
}
}  // namespace
