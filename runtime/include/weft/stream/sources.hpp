#pragma once
// Stream sources: iter, once, repeat, empty, pending, and Generator<T> coroutines.
#include <coroutine>
#include <exception>
#include <iterator>
#include <optional>
#include <ranges>
#include <utility>
#include <vector>

#include "weft/detail/alloc.hpp"
#include "weft/detail/unique_coroutine.hpp"
#include "weft/stream/stream.hpp"

namespace weft::stream {

/// The elements of a range, in order (the range is moved into the stream).
template <std::ranges::input_range R>
class Iter {
 public:
  using Item = std::ranges::range_value_t<R>;
  explicit Iter(R r) : r_(std::move(r)), it_(std::ranges::begin(r_)) {}
  // Moves keep the position (re-seated by offset; an input-only range restarts).
  Iter(Iter&& o) : r_(std::move_if_noexcept(o.r_)), it_(std::ranges::begin(r_)) {}
  Iter(Iter&& o) requires std::ranges::forward_range<R>
      : Iter(std::move(o), o.offset()) {}
  Iter& operator=(Iter&& o) {
    if (this != &o) {
      auto off = o.offset();
      r_ = std::move(o.r_);
      it_ = std::ranges::next(std::ranges::begin(r_), off);
    }
    return *this;
  }
  /// Yields (Pending after waking the task) after every 32 items, as tokio-stream's iter,
  /// so a loop draining it (collect, for_each, a StreamMap) lets other tasks run.
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (since_yield_ == yield_every) {
      since_yield_ = 0;
      cx.waker().wake_by_ref();
      return weft::pending;
    }
    ++since_yield_;
    if (it_ == std::ranges::end(r_)) return std::optional<Item>();
    Item v = std::move(*it_);
    ++it_;
    return std::optional<Item>(std::move(v));
  }
  static constexpr unsigned yield_every = 32;
  [[nodiscard]] SizeHint size_hint() const {
    if constexpr (std::ranges::sized_range<R>) {
      auto left = static_cast<std::size_t>(std::ranges::distance(it_, std::ranges::end(r_)));
      return {left, left};
    } else {
      return {0, std::nullopt};
    }
  }

 private:
  Iter(Iter&& o, std::ranges::range_difference_t<R> off)
      : r_(std::move(o.r_)), it_(std::ranges::next(std::ranges::begin(r_), off)) {}
  std::ranges::range_difference_t<R> offset() const {
    if constexpr (std::ranges::forward_range<R>) return std::ranges::distance(std::ranges::begin(r_), it_);
    else return 0;
  }
  R r_;
  std::ranges::iterator_t<R> it_;
  unsigned since_yield_ = 0;
};
static_assert(Stream<Iter<std::vector<int>>>);
template <std::ranges::input_range R>
Iter<std::remove_cvref_t<R>> iter(R&& r) {
  return Iter<std::remove_cvref_t<R>>(std::forward<R>(r));
}

/// One item, then the end.
template <class T>
class Once {
 public:
  using Item = T;
  explicit Once(T v) : v_(std::move(v)) {}
  Poll<std::optional<T>> poll_next(Context&) {
    std::optional<T> out = std::move(v_);
    v_.reset();
    return out;
  }
  [[nodiscard]] SizeHint size_hint() const { return {v_ ? 1 : 0, v_ ? 1 : 0}; }

 private:
  std::optional<T> v_;
};
static_assert(Stream<Once<int>>);
template <class T>
Once<T> once(T v) {
  return Once<T>(std::move(v));
}

/// The same value forever (copies).
template <class T>
class Repeat {
 public:
  using Item = T;
  explicit Repeat(T v) : v_(std::move(v)) {}
  Poll<std::optional<T>> poll_next(Context&) { return std::optional<T>(v_); }
  [[nodiscard]] SizeHint size_hint() const { return {SIZE_MAX, std::nullopt}; }

 private:
  T v_;
};
static_assert(Stream<Repeat<int>>);
template <class T>
Repeat<T> repeat(T v) {
  return Repeat<T>(std::move(v));
}

/// Ends at once.
template <class T>
struct Empty {
  using Item = T;
  Poll<std::optional<T>> poll_next(Context&) { return std::optional<T>(); }
  [[nodiscard]] SizeHint size_hint() const { return {0, std::size_t{0}}; }
};
static_assert(Stream<Empty<int>>);
template <class T>
Empty<T> empty() {
  return {};
}

/// Never yields and never ends.
template <class T>
struct Pending {
  using Item = T;
  Poll<std::optional<T>> poll_next(Context&) { return weft::pending; }
  [[nodiscard]] SizeHint size_hint() const { return {0, std::nullopt}; }
};
static_assert(Stream<Pending<int>>);
template <class T>
Pending<T> pending() {
  return {};
}

/// An async generator: a coroutine that can both `co_await` (futures, tasks) and
/// `co_yield` items. It is a Stream; it runs only while polled, inside the polling task.
///
///   weft::stream::Generator<int> numbers(mpsc::Receiver<int> rx) {
///     while (auto v = co_await rx.recv()) co_yield *v * 2;
///   }
/// An exception thrown by the body is rethrown by the poll that reaches it.
template <class T>
class Generator {
 public:
  struct promise_type {
    std::optional<T> item;
    std::exception_ptr error;

    static void* operator new(std::size_t n) { return detail::frame_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { detail::frame_free(p, n); }

    Generator get_return_object() noexcept {
      return Generator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_always final_suspend() const noexcept { return {}; }
    template <class U = T>
    std::suspend_always yield_value(U&& v) {
      item.emplace(std::forward<U>(v));
      return {};
    }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
    template <class A>
    decltype(auto) await_transform(A&& a) {
      return detail::transform_await(std::forward<A>(a));
    }
  };
  using Item = T;
  using handle_type = std::coroutine_handle<promise_type>;

  Generator(Generator&& o) noexcept : frame_(std::move(o.frame_)), leaf_(std::exchange(o.leaf_, nullptr)) {}
  Generator& operator=(Generator&& o) noexcept {
    frame_ = std::move(o.frame_);
    leaf_ = std::exchange(o.leaf_, nullptr);
    return *this;
  }

  Poll<std::optional<T>> poll_next(Context& cx) {
    if (!frame_ || frame_.get().done()) return std::optional<T>();
    bool done = detail::drive(frame_.get(), leaf_, cx);
    if (done) {
      if (auto e = frame_.promise().error) {
        frame_.promise().error = nullptr;
        std::rethrow_exception(e);
      }
      return std::optional<T>();
    }
    if (leaf_ != nullptr) return weft::pending;  // suspended on a future
    std::optional<T> out = std::move(frame_.promise().item);
    frame_.promise().item.reset();
    return out;  // suspended at co_yield
  }

 private:
  explicit Generator(handle_type h) noexcept : frame_(h) {}
  detail::UniqueCoroutine<promise_type> frame_;
  detail::LeafBase* leaf_ = nullptr;
};
static_assert(Stream<Generator<int>>);

}  // namespace weft::stream
