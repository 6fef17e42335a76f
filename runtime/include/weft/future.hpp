#pragma once
// The two-level execution model.
//
// Leaf futures are poll-based (the concept Future, in poll.hpp): `Poll<T> poll(Context&)`;
// a Pending result registers the context's waker. Tasks (weft::Task<T>) are C++20
// coroutines. Inside a task, `co_await f` on a leaf future polls it with the task's own
// context; if it is Pending the coroutine is suspended and recorded as the task's pending
// leaf, and the runtime re-polls the same leaf (not the coroutine) each time the task is
// woken, resuming the coroutine only when the leaf is ready. So a leaf may be polled many
// times; it must re-register the latest waker each time it returns Pending.
#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/coop.hpp"
#include "weft/poll.hpp"
#include "weft/waker.hpp"

namespace weft {

template <Future F>
using future_output_t = typename decltype(std::declval<F&>().poll(std::declval<Context&>()))::value_type;

namespace detail {

/// A suspended leaf await, recorded so the task can re-poll it when woken.
struct LeafBase {
  // Re-polls the leaf; true once it is ready (or failed), after which `waiting` may resume.
  bool (*repoll)(LeafBase*, Context&) noexcept = nullptr;
  std::coroutine_handle<> waiting;
};

/// The scope of one task poll on this thread: its context and the leaf it suspended on.
struct PollScope {
  Context* cx;
  LeafBase* pending = nullptr;
};
inline thread_local PollScope* current_scope = nullptr;

/// Resumes the task whose root coroutine is `root`: re-polls `leaf` if the task is parked on
/// one, else resumes `root`. Returns true when the root coroutine has finished. On false,
/// `leaf` is the leaf the task suspended on.
inline bool drive(std::coroutine_handle<> root, LeafBase*& leaf, Context& cx) {
  PollScope scope{&cx};
  PollScope* saved = current_scope;
  current_scope = &scope;
  struct Restore {
    PollScope* saved;
    ~Restore() { current_scope = saved; }
  } restore{saved};
  if (leaf != nullptr) {
    if (!leaf->repoll(leaf, cx)) return false;
    std::coroutine_handle<> h = leaf->waiting;
    leaf = nullptr;
    h.resume();
  } else {
    root.resume();
  }
  leaf = scope.pending;
  return root.done();
}

[[noreturn]] inline void throw_outside_task() {
  throw std::logic_error(
      "weft: a poll-based future was co_awaited outside a weft task (spawn the task or use "
      "Runtime::block_on)");
}

/// co_await on a leaf future. A is F& (awaited by reference) or F (owned temporary).
template <class A>
class PollAwaiter : public LeafBase {
  using F = std::remove_cvref_t<A>;
  using Out = future_output_t<F>;
  using Stored = std::conditional_t<std::is_void_v<Out>, bool, Out>;

 public:
  explicit PollAwaiter(A&& f, bool unconstrained = false)
      : fut_(std::forward<A>(f)), unconstrained_(unconstrained || requires { F::weft_coop_unconstrained; }) {}

  bool await_ready() {
    PollScope* scope = current_scope;
    if (scope == nullptr) throw_outside_task();
    return try_poll(*scope->cx);
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    waiting = h;
    repoll = &repoll_fn;
    current_scope->pending = this;
  }
  Out await_resume() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<Out>) return std::move(*out_);
  }

 private:
  bool try_poll(Context& cx) {
    if (unconstrained_) [[unlikely]]
      return try_poll_unconstrained(cx);
    return try_poll_budgeted(cx);
  }
  [[gnu::noinline]] bool try_poll_unconstrained(Context& cx) {
    coop::BudgetScope none(-1);
    return try_poll_budgeted(cx);
  }
  bool try_poll_budgeted(Context& cx) {
    if (!coop::poll_proceed(cx)) return false;
    const int before = coop::remaining();
    auto p = fut_.poll(cx);
    if (p.is_pending()) return false;
    // Every completed await costs at least one unit; a leaf that spent its own (a channel,
    // a JoinHandle) is not charged twice.
    if (coop::remaining() == before) coop::made_progress();
    if constexpr (std::is_void_v<Out>)
      out_.emplace(true);
    else
      out_.emplace(std::move(p).take());
    return true;
  }
  static bool repoll_fn(LeafBase* base, Context& cx) noexcept {
    auto* self = static_cast<PollAwaiter*>(base);
    try {
      return self->try_poll(cx);
    } catch (...) {
      self->error_ = std::current_exception();
      return true;
    }
  }

  A fut_;
  bool unconstrained_;  // awaited by a task marked coop::unconstrained
  std::optional<Stored> out_;
  std::exception_ptr error_;
};

template <class A>
concept has_member_co_await = requires(A&& a) { std::forward<A>(a).operator co_await(); };
template <class A>
concept is_awaiter = requires(A& a) {
  { a.await_ready() } -> std::convertible_to<bool>;
};

/// A leaf future whose co_await does more than yield its output (JoinHandle unwraps its
/// result): `typename F::unwrap_awaiter` is a PollAwaiter built from (F&, bool unconstrained).
template <class A>
concept has_unwrap_awaiter = requires { typename std::remove_cvref_t<A>::unwrap_awaiter; };

/// What `co_await expr` in a weft coroutine means: leaf futures get a PollAwaiter (charged
/// to the budget unless the awaiting task is unconstrained); anything already awaitable is
/// passed through.
template <class A>
decltype(auto) transform_await(A&& a, bool unconstrained = false) {
  if constexpr (has_unwrap_awaiter<A>) {
    return typename std::remove_cvref_t<A>::unwrap_awaiter(a, unconstrained);
  } else if constexpr (has_member_co_await<A> || is_awaiter<std::remove_reference_t<A>>) {
    return std::forward<A>(a);
  } else if constexpr (Future<std::remove_cvref_t<A>>) {
    return PollAwaiter<A>(std::forward<A>(a), unconstrained);
  } else {
    return std::forward<A>(a);
  }
}

}  // namespace detail

/// A leaf future from a poll function (tokio's std::future::poll_fn): `f(cx)` returns a
/// Poll<T>. How a task waits on several things at once (each polled with the task's waker).
template <class F>
class PollFn {
 public:
  explicit PollFn(F f) : f_(std::move(f)) {}
  auto poll(Context& cx) { return f_(cx); }

 private:
  F f_;
};
template <class F>
PollFn<F> poll_fn(F f) {
  return PollFn<F>(std::move(f));
}

/// Awaits a leaf future by polling it with the current task's context (the function form
/// of co_await on a future, for coroutine types other than weft::Task).
template <Future F>
auto poll_await(F&& f) {
  return detail::PollAwaiter<F>(std::forward<F>(f));
}

}  // namespace weft
