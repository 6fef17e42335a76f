#pragma once
// The cooperative budget. A worker gives each task poll a budget of 128 operations; every
// leaf future awaited with co_await (and every runtime resource polled directly) spends one
// unit when it completes. When the budget is spent, the next leaf returns Pending after
// waking its task, so a task whose awaits are always ready still yields to the others.
// Outside a worker the budget is unconstrained.
#include "weft/waker.hpp"

namespace weft::coop {

inline constexpr int initial_budget = 128;

namespace detail {
// -1: unconstrained. Only touched by the thread polling.
inline thread_local int budget = -1;
}  // namespace detail

/// True if the current task may proceed. If not, its waker is woken (it will be polled
/// again after the others had their turn) and the caller must return Pending.
[[nodiscard]] inline bool poll_proceed(const Context& cx) noexcept {
  if (detail::budget == 0) {
    cx.waker().wake_by_ref();
    return false;
  }
  return true;
}
/// Spends one unit after an operation completed.
inline void made_progress() noexcept {
  if (detail::budget > 0) --detail::budget;
}
/// Remaining budget (-1 when unconstrained).
[[nodiscard]] inline int remaining() noexcept { return detail::budget; }

/// Runs the scope with a fresh budget and restores the previous one afterwards.
class BudgetScope {
 public:
  explicit BudgetScope(int b = initial_budget) noexcept : saved_(detail::budget) { detail::budget = b; }
  ~BudgetScope() { detail::budget = saved_; }
  BudgetScope(const BudgetScope&) = delete;
  BudgetScope& operator=(const BudgetScope&) = delete;

 private:
  int saved_;
};

}  // namespace weft::coop
