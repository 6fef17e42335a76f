#pragma once
// Poll<T>: the result of polling a leaf future or stream once: Ready(value) or Pending;
// and the concepts of the two things that return it, Future and Stream.
// A Pending result promises that the Context's waker was registered and will be woken
// when polling again may make progress.
//
// `weft::pending` has two uses, as in Rust's `Poll::Pending` and `std::future::pending()`:
//   return pending;                    // in a poll function: Poll<T> is Pending
//   co_await weft::pending<int>();     // a future that never completes
// Both are the one function template below: a Poll<T> converts from the address of
// pending<void> (the bare name `pending`, deduced by the conversion), so `return pending;`
// reads as a value while `pending<T>()` is an ordinary call.
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

class Context;

template <class T>
class PendingFuture;
/// A future that never completes (tokio's std::future::pending()); see the note above for
/// `return pending;`.
template <class T = void>
constexpr PendingFuture<T> pending() noexcept;

namespace detail {
using PendingFn = PendingFuture<void> (*)() noexcept;
}  // namespace detail

template <class T>
class [[nodiscard]] Poll {
 public:
  using value_type = T;
  /// Pending: `return pending;`.
  constexpr Poll(detail::PendingFn) noexcept {}
  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Poll>)
  constexpr Poll(U&& value) : value_(std::in_place, std::forward<U>(value)) {}

  [[nodiscard]] constexpr bool is_ready() const noexcept { return value_.has_value(); }
  [[nodiscard]] constexpr bool is_pending() const noexcept { return !value_.has_value(); }
  constexpr T& operator*() & { return *value_; }
  constexpr T&& operator*() && { return std::move(*value_); }
  constexpr T* operator->() { return &*value_; }
  /// Moves the ready value out. Precondition: is_ready().
  constexpr T take() { return std::move(*value_); }

 private:
  std::optional<T> value_;
};

template <>
class [[nodiscard]] Poll<void> {
 public:
  using value_type = void;
  constexpr Poll(detail::PendingFn) noexcept : ready_(false) {}
  constexpr Poll() noexcept : ready_(true) {}
  [[nodiscard]] constexpr bool is_ready() const noexcept { return ready_; }
  [[nodiscard]] constexpr bool is_pending() const noexcept { return !ready_; }
  constexpr void take() const noexcept {}

 private:
  bool ready_;
};

/// Ready(): a ready Poll<void>.
constexpr Poll<void> ready() noexcept { return Poll<void>{}; }

/// The future of `pending<T>()`: Pending forever. It registers no waker, since nothing will
/// ever make it ready; use it where a branch of a select or a test needs a future that never
/// completes.
template <class T>
class PendingFuture {
 public:
  constexpr Poll<T> poll(Context&) const noexcept { return pending; }
};

template <class T>
constexpr PendingFuture<T> pending() noexcept {
  return PendingFuture<T>{};
}

namespace detail {
template <class P>
struct is_poll : std::false_type {};
template <class T>
struct is_poll<Poll<T>> : std::true_type {};
template <class P>
struct is_poll_of_optional : std::false_type {};
template <class T>
struct is_poll_of_optional<Poll<std::optional<T>>> : std::true_type {};
}  // namespace detail

// The two extension points of weft: what a type must provide to be awaited by a task
// (Future) or drained by a consumer, a combinator or a StreamMap (Stream). The leaf futures
// and streams of coop, the streams, the channels and sync primitives and the containers are
// checked against their concept with a static_assert next to their definition (templates
// with a representative instantiation, over the archetypes below).

/// A poll-based leaf future (the model: weft/future.hpp): `Poll<T> poll(Context&)`, Pending
/// only with the context's waker registered, and polled again (with the latest waker) after
/// a wake-up.
template <class F>
concept Future = requires(F& f, Context& cx) {
  { f.poll(cx) };
  requires detail::is_poll<decltype(f.poll(cx))>::value;
};

/// A poll-based stream (the model: weft/stream/stream.hpp): `Poll<std::optional<Item>>
/// poll_next(Context&)`, Ready(item), Ready(nullopt) at the end, or Pending with the waker
/// registered; optionally `SizeHint size_hint() const`.
template <class S>
concept Stream = requires(S& s, Context& cx) {
  { s.poll_next(cx) };
  requires detail::is_poll_of_optional<decltype(s.poll_next(cx))>::value;
};

namespace detail {
/// The least a Future of T and a Stream of T can be: the representative inputs with which
/// the static_asserts check the library's adaptors (declarations only, never run).
template <class T>
struct FutureArchetype {
  Poll<T> poll(Context&);
};
template <class T>
struct StreamArchetype {
  Poll<std::optional<T>> poll_next(Context&);
};
}  // namespace detail

static_assert(Future<detail::FutureArchetype<int>> && Stream<detail::StreamArchetype<int>>);
static_assert(Future<PendingFuture<int>>);

}  // namespace weft
