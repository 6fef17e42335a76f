#pragma once
// Futures that consume a stream: collect, try_collect, for_each, and the concurrent ones,
// for_each_concurrent and buffer_unordered (fan-out / fan-in within one task).
//
// The concurrent consumers drive their in-flight futures inside the polling task (no
// spawn): every poll polls each in-flight future once, O(limit) per wake-up; spawn the work
// instead (and collect JoinHandles) when it must run on several workers in parallel.
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "weft/result.hpp"
#include "weft/stream/combinators.hpp"
#include "weft/stream/stream.hpp"

namespace weft::detail {
template <class X>
struct is_task : std::false_type {};
template <class T>
struct is_task<Task<T>> : std::true_type {};

/// A Task becomes a TaskFuture; any other future stays as it is.
template <class X>
auto as_future(X x) {
  if constexpr (is_task<X>::value) return TaskFuture<typename X::value_type>(std::move(x));
  else return x;
}
template <class X>
using as_future_t = decltype(as_future(std::declval<X>()));

template <class C, class V>
void add_to(C& c, V&& v) {
  if constexpr (requires { c.push_back(std::forward<V>(v)); }) c.push_back(std::forward<V>(v));
  else c.insert(std::forward<V>(v));
}

/// The loop of the consumers that drain a stream within one poll (collect, try_collect,
/// for_each, for_each_concurrent): polls `s` and hands each item to on_item(item&&) until
/// the stream ends (Ready(true)), on_item returns false (Ready(false): stopped early), or
/// the stream is Pending (Pending: its waker is registered).
template <Stream S, class F>
Poll<bool> drain(S& s, Context& cx, F&& on_item) {
  for (;;) {
    auto p = s.poll_next(cx);
    if (p.is_pending()) return pending;
    auto v = std::move(p).take();
    if (!v) return true;
    if (!on_item(std::move(*v))) return false;
  }
}
}  // namespace weft::detail

namespace weft::stream {

/// A future yielding every item of the stream in a container C.
template <class C, Stream S>
class Collect {
 public:
  explicit Collect(S s) : s_(std::move(s)) {}
  Poll<C> poll(Context& cx) {
    auto p = detail::drain(s_, cx, [&](stream_item_t<S>&& v) {
      detail::add_to(out_, std::move(v));
      return true;
    });
    if (p.is_pending()) return pending;
    return std::move(out_);
  }

 private:
  S s_;
  C out_;
};
static_assert(Future<Collect<std::vector<int>, detail::StreamArchetype<int>>>);
template <class C, Stream S>
Collect<C, S> collect(S s) {
  return Collect<C, S>(std::move(s));
}

/// Short-circuiting collect of a stream of result-like items (has_value(), value(),
/// error(); e.g. JoinResult or std::optional): yields the container of values, or the first
/// error (stopping there).
template <class C, Stream S>
class TryCollect {
  using R = stream_item_t<S>;
  using E = std::remove_cvref_t<decltype(std::declval<R&>().error())>;

 public:
  explicit TryCollect(S s) : s_(std::move(s)) {}
  Poll<std::variant<C, E>> poll(Context& cx) {
    std::optional<E> error;
    auto p = detail::drain(s_, cx, [&](R&& r) {
      if (!r.has_value()) {
        error.emplace(r.error());
        return false;
      }
      detail::add_to(out_, std::move(r).value());
      return true;
    });
    if (p.is_pending()) return pending;
    if (error) return std::variant<C, E>(std::in_place_index<1>, std::move(*error));
    return std::variant<C, E>(std::in_place_index<0>, std::move(out_));
  }

 private:
  S s_;
  C out_;
};
static_assert(Future<TryCollect<std::vector<int>, detail::StreamArchetype<Result<int, int>>>>);
template <class C, Stream S>
TryCollect<C, S> try_collect(S s) {
  return TryCollect<C, S>(std::move(s));
}

/// A future calling f(item) for every item, completing at the end of the stream.
template <Stream S, class F>
class ForEach {
 public:
  ForEach(S s, F f) : s_(std::move(s)), f_(std::move(f)) {}
  Poll<void> poll(Context& cx) {
    auto p = detail::drain(s_, cx, [&](stream_item_t<S>&& v) {
      std::invoke(f_, std::move(v));
      return true;
    });
    if (p.is_pending()) return pending;
    return ready();
  }

 private:
  S s_;
  F f_;
};
static_assert(Future<ForEach<detail::StreamArchetype<int>, void (*)(int)>>);
template <Stream S, class F>
ForEach<S, F> for_each(S s, F f) {
  return {std::move(s), std::move(f)};
}

/// Yields the outputs of a stream of futures (or Tasks), running up to `limit` of them at
/// once, in completion order. limit 0 is rejected.
/// Exceptions: a future that throws is removed and its exception is the result of that
/// poll_next; the other futures keep running and the stream goes on (and ends normally). An
/// exception from the source stream's poll_next passes through and changes nothing.
template <Stream S>
class BufferUnordered {
  using Fut = detail::as_future_t<stream_item_t<S>>;
  using Out = future_output_t<Fut>;

 public:
  /// The futures' output (std::monostate for futures of void).
  using Item = std::conditional_t<std::is_void_v<Out>, std::monostate, Out>;
  BufferUnordered(S s, std::size_t limit) : s_(std::move(s)), limit_(limit) {
    if (limit == 0) throw std::invalid_argument("weft::stream::buffer_unordered: limit must be at least 1");
    in_flight_.reserve(limit);
  }
  Poll<std::optional<Item>> poll_next(Context& cx) {
    while (!s_ended_ && in_flight_.size() < limit_) {
      auto p = s_.poll_next(cx);
      if (p.is_pending()) break;
      auto v = std::move(p).take();
      if (!v) {
        s_ended_ = true;
        break;
      }
      in_flight_.push_back(detail::as_future(std::move(*v)));
    }
    const std::size_t n = in_flight_.size();
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t i = (start_ + k) % n;
      std::optional<Poll<Out>> polled;
      try {
        polled.emplace(in_flight_[i].poll(cx));
      } catch (...) {
        // A future that throws is finished: drop its slot, then hand the exception on.
        std::swap(in_flight_[i], in_flight_.back());
        in_flight_.pop_back();
        throw;
      }
      auto& p = *polled;
      if (p.is_ready()) {
        start_ = i;
        std::swap(in_flight_[i], in_flight_.back());
        in_flight_.pop_back();
        if constexpr (std::is_void_v<Out>) return std::optional<Item>(std::monostate{});
        else return std::optional<Item>(std::move(p).take());
      }
    }
    if (s_ended_ && in_flight_.empty()) return std::optional<Item>();
    return pending;
  }
  [[nodiscard]] SizeHint size_hint() const {
    auto [lo, hi] = s_ended_ ? SizeHint{0, std::size_t{0}} : weft::size_hint(s_);
    return {detail::add_lower(lo, in_flight_.size()), detail::add_upper(hi, in_flight_.size())};
  }

 private:
  S s_;
  std::size_t limit_;
  std::vector<Fut> in_flight_;
  std::size_t start_ = 0;
  bool s_ended_ = false;
};
static_assert(Stream<BufferUnordered<detail::StreamArchetype<detail::FutureArchetype<int>>>>);
static_assert(Stream<BufferUnordered<detail::StreamArchetype<Task<int>>>>);
template <Stream S>
BufferUnordered<S> buffer_unordered(S s, std::size_t limit) {
  return BufferUnordered<S>(std::move(s), limit);
}

/// A future running f(item) (a Task<void> or a future) for every item, at most `limit` at
/// once, completing when the stream ended and every run finished. Exceptions: the first
/// exception a run (or f, or the stream) throws is the future's outcome (rethrown by
/// co_await); the other runs are dropped with the future.
template <Stream S, class F>
class ForEachConcurrent {
  struct Apply {
    F* f;
    auto operator()(stream_item_t<S>&& v) { return std::invoke(*f, std::move(v)); }
  };

 public:
  ForEachConcurrent(S s, std::size_t limit, F f)
      : f_(std::make_unique<F>(std::move(f))), inner_(map(std::move(s), Apply{f_.get()}), limit) {}
  Poll<void> poll(Context& cx) {
    if (detail::drain(inner_, cx, [](auto&&) { return true; }).is_pending()) return pending;
    return ready();
  }

 private:
  std::unique_ptr<F> f_;
  BufferUnordered<Map<S, Apply>> inner_;
};
static_assert(Future<ForEachConcurrent<detail::StreamArchetype<int>, Task<void> (*)(int)>>);
template <Stream S, class F>
ForEachConcurrent<S, F> for_each_concurrent(S s, std::size_t limit, F f) {
  return ForEachConcurrent<S, F>(std::move(s), limit, std::move(f));
}

}  // namespace weft::stream
