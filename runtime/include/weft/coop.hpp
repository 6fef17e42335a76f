#pragma once
// The cooperative budget, as tokio's coop module. A worker gives each task poll a budget of
// 128 units (a BudgetScope around the poll). What spends it, through poll_proceed (refuse
// when nothing is left) and made_progress (spend one unit):
// - these leaves, one unit when a poll of them completes: oneshot::Receiver,
//   mpsc::Receiver (recv, poll_next), broadcast::Receiver (recv, its stream), watch's
//   changed(), Notify::Notified (and so what waits through one: watch's Sender::closed(),
//   CancellationToken::cancelled() unless already cancelled), Semaphore::Acquire (and so a
//   bounded mpsc send or reserve that waits for room), JoinHandle, JoinSet's and JoinMap's
//   join_next, consume_budget();
// - ReadyStreamMap: one unit per stream it polls (unless the stream spent its own);
// - every co_await of a leaf future in a weft::Task or stream::Generator: one unit when it
//   completes, unless the leaf spent its own (future.hpp, PollAwaiter).
// Nothing else spends: VecStreamMap, the stream combinators, sources and consumers, the
// senders (but a bounded send that waits), oneshot's Sender::closed(), and every try_*
// operation (stream::iter yields every 32 items on its own). When the budget is spent, the
// next of these returns Pending after waking its task, so a task whose awaits are always
// ready, or a loop that drains an always-ready channel inside one poll (collect, for_each),
// still yields to the others.
// Outside a worker (a MockTask, a thread that polls by hand) the budget is unconstrained.
//
// Opting out: `coop::unconstrained(x)` runs a future, stream or Task without a budget (its
// awaits never yield for budget). Use it for short bursts whose fairness you control.
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>

#include "weft/poll.hpp"
#include "weft/waker.hpp"

namespace weft {

namespace coop {
inline constexpr int initial_budget = 128;
class BudgetScope;
}  // namespace coop

namespace detail {
// The budget of the task this thread is polling; -1: unconstrained. Only touched by the
// thread polling.
inline thread_local int coop_budget = -1;
// The innermost live BudgetScope of this thread (to detect one held across a suspension).
inline thread_local coop::BudgetScope* coop_innermost_scope = nullptr;
}  // namespace detail

namespace coop {

/// True if the current task may proceed. If not, its waker is woken (it will be polled
/// again after the others had their turn) and the caller must return Pending.
[[nodiscard]] inline bool poll_proceed(const Context& cx) noexcept {
  if (detail::coop_budget == 0) {
    cx.waker().wake_by_ref();
    return false;
  }
  return true;
}
/// Spends one unit after an operation completed.
inline void made_progress() noexcept {
  if (detail::coop_budget > 0) --detail::coop_budget;
}
/// Remaining budget (-1 when unconstrained).
[[nodiscard]] inline int remaining() noexcept { return detail::coop_budget; }

/// Sets the budget for a synchronous stretch of code and restores the previous one when it
/// ends: what a worker does around each task poll, and what a hand-written poll loop (a
/// test, a benchmark) uses to behave as a worker would. Never hold one across co_await: the
/// thread goes on to poll other tasks with it, and the task resumes elsewhere. A scope that
/// ends out of order (the sign of that mistake) stops the program with a message. In a
/// coroutine, use coop::unconstrained instead.
class BudgetScope {
 public:
  explicit BudgetScope(int b = initial_budget) noexcept
      : saved_(detail::coop_budget), outer_(detail::coop_innermost_scope) {
    detail::coop_budget = b;
    detail::coop_innermost_scope = this;
  }
  ~BudgetScope() {
    if (detail::coop_innermost_scope != this) {
      std::fputs("weft: a coop::BudgetScope ended out of order (was it held across a co_await? use "
                 "coop::unconstrained in coroutines)\n",
                 stderr);
      std::abort();
    }
    detail::coop_innermost_scope = outer_;
    detail::coop_budget = saved_;
  }
  BudgetScope(const BudgetScope&) = delete;
  BudgetScope& operator=(const BudgetScope&) = delete;

 private:
  int saved_;
  BudgetScope* outer_;
};

/// `co_await coop::consume_budget()`: spends one unit of budget, yielding first if none is
/// left. Put it in a loop whose body awaits nothing (or only things that are always ready)
/// so the loop still gives other tasks their turn.
class ConsumeBudget {
 public:
  Poll<void> poll(Context& cx) noexcept {
    if (!poll_proceed(cx)) return pending;
    made_progress();
    return ready();
  }
};
static_assert(Future<ConsumeBudget>);
[[nodiscard]] inline ConsumeBudget consume_budget() noexcept { return {}; }

}  // namespace coop

namespace detail {
/// A future or stream whose polls run without a budget (see coop::unconstrained).
template <class F>
class Unconstrained {
 public:
  explicit Unconstrained(F f) : f_(std::move(f)) {}
  auto poll(Context& cx)
    requires Future<F>
  {
    coop::BudgetScope scope(-1);
    return f_.poll(cx);
  }
  auto poll_next(Context& cx)
    requires Stream<F>
  {
    coop::BudgetScope scope(-1);
    return f_.poll_next(cx);
  }
  auto size_hint() const
    requires requires(const F& f) { f.size_hint(); }
  {
    return f_.size_hint();
  }
  F& get() noexcept { return f_; }

 private:
  F f_;
};
// A Stream's item type, when F is one (for Unconstrained<F>::Item).
template <class F, class = void>
struct item_of {};
template <class F>
struct item_of<F, std::void_t<typename F::Item>> {
  using Item = typename F::Item;
};
template <class F>
class UnconstrainedStream : public Unconstrained<F>, public item_of<F> {
 public:
  using Unconstrained<F>::Unconstrained;
  // Read by PollAwaiter: a co_await of it neither yields for budget nor charges.
  static constexpr bool weft_coop_unconstrained = true;
};
static_assert(Future<UnconstrainedStream<FutureArchetype<int>>>);
static_assert(Stream<UnconstrainedStream<StreamArchetype<int>>>);
}  // namespace detail

namespace coop {
/// Runs a leaf future or a stream without a cooperative budget. For a weft::Task, the
/// overload in task.hpp marks the task itself (and every task it awaits) unconstrained.
template <class F>
  requires Future<std::remove_cvref_t<F>> || Stream<std::remove_cvref_t<F>>
auto unconstrained(F&& f) {
  return detail::UnconstrainedStream<std::remove_cvref_t<F>>(std::forward<F>(f));
}
}  // namespace coop

}  // namespace weft
