#pragma once
// The Stream model: a poll-based sequence of items (the concept, Stream, is in poll.hpp).
//
//   Poll<std::optional<Item>> poll_next(Context&)   Ready(item), Ready(nullopt) at the end,
//                                                    or Pending (waker registered).
//   std::pair<size_t, std::optional<size_t>> size_hint() const   optional: bounds on the
//                                                    number of items still to come.
//   Poll<std::optional<Item>> poll_next_then_wait(Context&, bool& waits)   optional: as
//                                                    poll_next, and `waits` set when the item
//                                                    was the last one available and the waker
//                                                    is registered for the next, so that a
//                                                    poll before the next wake would only
//                                                    return Pending (a container may skip it).
// From a task: `while (auto item = co_await weft::next(s)) ...`.
//
// Also here: BoxStream<T> (type-erased, for heterogeneous sets), StreamNotifyClose<S>
// (tokio-stream's wrapper: items as optional<Item>, then one final nullopt item when the
// inner stream ends), and into_future(Task) (drive a task inside another task's poll).
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/task.hpp"

namespace weft {

/// The item type of a stream.
template <Stream S>
using stream_item_t = typename decltype(std::declval<S&>().poll_next(std::declval<Context&>()))::value_type::value_type;

using SizeHint = std::pair<std::size_t, std::optional<std::size_t>>;

/// A stream's size hint, or (0, unknown) when it gives none.
template <Stream S>
SizeHint size_hint(const S& s) {
  if constexpr (requires { s.size_hint(); }) return s.size_hint();
  else return {0, std::nullopt};
}

/// A stream that can say, with an item, that it registered the waker for the next one
/// (poll_next_then_wait, above).
template <class S>
concept StreamThatWaits = Stream<S> && requires(S& s, Context& cx, bool& waits) {
  { s.poll_next_then_wait(cx, waits) } -> std::same_as<decltype(s.poll_next(cx))>;
};

namespace detail {
// Size-hint arithmetic, as Rust's Iterator::size_hint sums: lower bounds saturate at
// SIZE_MAX; an upper bound that would overflow becomes "no upper bound".
inline constexpr std::size_t add_lower(std::size_t a, std::size_t b) noexcept {
  return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}
inline constexpr std::optional<std::size_t> add_upper(std::optional<std::size_t> a, std::optional<std::size_t> b) noexcept {
  if (!a || !b || *a > SIZE_MAX - *b) return std::nullopt;
  return *a + *b;
}
/// The sum of the size hints of a range of streams.
template <class R>
SizeHint sum_size_hints(const R& streams) {
  SizeHint h{0, std::size_t{0}};
  for (const auto& s : streams) {
    auto [lo, hi] = weft::size_hint(s);
    h.first = add_lower(h.first, lo);
    h.second = add_upper(h.second, hi);
  }
  return h;
}
}  // namespace detail

/// A future yielding the stream's next item (nullopt at the end). Cancel safe.
template <Stream S>
class Next {
 public:
  explicit Next(S& s) noexcept : s_(&s) {}
  Poll<std::optional<stream_item_t<S>>> poll(Context& cx) { return s_->poll_next(cx); }

 private:
  S* s_;
};
static_assert(Future<Next<detail::StreamArchetype<int>>>);
template <Stream S>
Next<S> next(S& s) noexcept {
  return Next<S>(s);
}

/// A type-erased, heap-allocated stream of T.
template <class T>
class BoxStream {
  struct Base {
    virtual ~Base() = default;
    virtual Poll<std::optional<T>> poll_next(Context& cx) = 0;
    virtual SizeHint size_hint() const = 0;
  };
  template <class S>
  struct Impl final : Base {
    S s;
    explicit Impl(S&& x) : s(std::move(x)) {}
    Poll<std::optional<T>> poll_next(Context& cx) override {
      auto p = s.poll_next(cx);
      if (p.is_pending()) return pending;
      auto v = std::move(p).take();
      if (!v) return std::optional<T>();
      return std::optional<T>(std::move(*v));
    }
    SizeHint size_hint() const override { return weft::size_hint(s); }
  };

 public:
  using Item = T;
  template <Stream S>
    requires(!std::is_same_v<std::remove_cvref_t<S>, BoxStream>)
  BoxStream(S s) : p_(std::make_unique<Impl<S>>(std::move(s))) {}
  BoxStream(BoxStream&&) noexcept = default;
  BoxStream& operator=(BoxStream&&) noexcept = default;
  Poll<std::optional<T>> poll_next(Context& cx) { return p_->poll_next(cx); }
  [[nodiscard]] SizeHint size_hint() const { return p_->size_hint(); }

 private:
  std::unique_ptr<Base> p_;
};
static_assert(Stream<BoxStream<int>>);

/// Yields each inner item as std::optional<Item>, then one std::nullopt item when the inner
/// stream ends, then ends (tokio-stream's StreamNotifyClose). In a StreamMap this reports a
/// stream's end to the user before the map drops it.
template <Stream S>
class StreamNotifyClose {
 public:
  using Item = std::optional<stream_item_t<S>>;
  explicit StreamNotifyClose(S s) : s_(std::move(s)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (!s_) return std::optional<Item>();
    auto p = s_->poll_next(cx);
    if (p.is_pending()) return pending;
    auto v = std::move(p).take();
    if (!v) {
      s_.reset();
      return std::optional<Item>(Item());
    }
    return std::optional<Item>(Item(std::move(*v)));
  }
  [[nodiscard]] SizeHint size_hint() const {
    if (!s_) return {0, std::size_t{0}};
    auto [lo, hi] = weft::size_hint(*s_);
    return {detail::add_lower(lo, 1), detail::add_upper(hi, 1)};
  }
  /// The inner stream, while it has not ended.
  S* get_mut() noexcept { return s_ ? &*s_ : nullptr; }

 private:
  std::optional<S> s_;
};
static_assert(Stream<StreamNotifyClose<detail::StreamArchetype<int>>>);

/// A Task driven as a leaf future inside another task's poll (the task runs on the polling
/// task, with its waker). Used by the concurrent stream consumers and select-style code.
template <class T>
class TaskFuture {
 public:
  explicit TaskFuture(Task<T> t) : frame_(t.release()) {}
  TaskFuture(TaskFuture&& o) noexcept : frame_(std::move(o.frame_)), leaf_(std::exchange(o.leaf_, nullptr)) {}
  TaskFuture& operator=(TaskFuture&& o) noexcept {
    frame_ = std::move(o.frame_);
    leaf_ = std::exchange(o.leaf_, nullptr);
    return *this;
  }
  Poll<T> poll(Context& cx) {
    if (!frame_) throw std::logic_error("weft::TaskFuture polled after completion");
    if (!detail::drive(frame_.get(), leaf_, cx)) return pending;
    auto done = std::move(frame_);  // destroys the finished frame once its result is taken
    if constexpr (std::is_void_v<T>) {
      done.promise().take();
      return ready();
    } else {
      return done.promise().take();
    }
  }

 private:
  detail::UniqueCoroutine<typename Task<T>::promise_type> frame_;
  detail::LeafBase* leaf_ = nullptr;
};
static_assert(Future<TaskFuture<int>>);
template <class T>
TaskFuture<T> into_future(Task<T> t) {
  return TaskFuture<T>(std::move(t));
}

}  // namespace weft
