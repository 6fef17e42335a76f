#pragma once
// MockTask: drive a future or stream by hand, with a waker that records whether it was
// woken (tokio_test's task::spawn + poll + is_woken). For unit tests of leaf futures,
// streams and anything built on Context/Waker, without a runtime.
//
//   weft::testing::MockTask t(rx.recv());
//   EXPECT_TRUE(t.poll().is_pending());
//   tx.send(1);
//   EXPECT_TRUE(t.is_woken());
//   EXPECT_EQ(*t.poll(), 1);
#include <atomic>
#include <memory>
#include <utility>

#include "weft/future.hpp"
#include "weft/waker.hpp"

namespace weft::testing {

/// A waker that counts wakes; copies share the count.
class WakeCounter {
 public:
  WakeCounter() : state_(std::make_shared<State>()) {}
  [[nodiscard]] Waker waker() const {
    // AcqRel / acquire: a test that sees the wake also sees what the waker did before it.
    return Waker::from_fn([s = state_] { s->wakes.fetch_add(1, std::memory_order_acq_rel); });
  }
  [[nodiscard]] int wakes() const noexcept { return state_->wakes.load(std::memory_order_acquire); }
  /// True if woken since the last call (resets the flag).
  bool take_woken() noexcept { return state_->wakes.exchange(0, std::memory_order_acq_rel) > 0; }

 private:
  struct State {
    std::atomic<int> wakes{0};
  };
  std::shared_ptr<State> state_;
};

template <class F>
class MockTask {
 public:
  explicit MockTask(F f) : f_(std::move(f)), waker_(counter_.waker()) {}

  /// Polls the future once (clears the woken flag).
  auto poll() {
    counter_.take_woken();
    Context cx(waker_);
    return f_.poll(cx);
  }
  /// Polls the stream once (clears the woken flag).
  auto poll_next() {
    counter_.take_woken();
    Context cx(waker_);
    return f_.poll_next(cx);
  }
  /// True if the waker was woken since the last poll.
  [[nodiscard]] bool is_woken() const noexcept { return counter_.wakes() > 0; }
  [[nodiscard]] int wake_count() const noexcept { return counter_.wakes(); }
  /// Runs fn(Context&, F&) with the task's context.
  template <class Fn>
  decltype(auto) enter(Fn&& fn) {
    Context cx(waker_);
    return std::forward<Fn>(fn)(cx, f_);
  }
  F& get() noexcept { return f_; }

 private:
  F f_;
  WakeCounter counter_;
  Waker waker_;
};

}  // namespace weft::testing
