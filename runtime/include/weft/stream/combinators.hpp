#pragma once
// Lazy stream combinators. Each wraps its input by value and does nothing until polled.
// Use them as functions (`stream::map(s, f)`) or in a pipeline (`std::move(s) |
// stream::map(f) | stream::take(3)`): each is one detail::Combinator object, which builds
// the adaptor when given the stream and a pipeline stage when given only the arguments.
// merge, which takes any number of streams, is a function and has no pipeline form.
//
// Fused (they keep returning end once ended, without polling their input again): take,
// take_while, chain, zip, merge, take_until, fuse. Others end when their input does.
#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/stream/stream.hpp"

namespace weft::detail {

/// A pipeline stage: a combinator's arguments without its input stream. `s | stage` calls
/// make(s, args...).
template <class Make, class... Args>
struct PipeStage {
  Make make;
  std::tuple<Args...> args;
  template <Stream S>
  friend auto operator|(S&& s, PipeStage st) {
    return std::apply([&](Args&... a) { return st.make(std::forward<S>(s), std::move(a)...); }, st.args);
  }
};

/// A stream combinator, callable two ways: with its input stream and all its arguments
/// (`stream::take(s, 3)`: make(s, 3) builds the adaptor), or with the arguments alone
/// (`stream::take(3)`: a PipeStage that `s | stage` completes). Arity counts the stream.
template <std::size_t Arity, class Make>
struct Combinator {
  Make make;
  template <class... Args>
  constexpr auto operator()(Args&&... args) const {
    if constexpr (sizeof...(Args) == Arity) {
      return make(std::forward<Args>(args)...);
    } else {
      static_assert(sizeof...(Args) + 1 == Arity,
                    "a stream combinator takes its stream and its arguments, or its arguments alone");
      return PipeStage<Make, std::decay_t<Args>...>{make, {std::forward<Args>(args)...}};
    }
  }
};
template <std::size_t Arity, class Make>
constexpr Combinator<Arity, Make> combinator(Make make) noexcept {
  return {make};
}

}  // namespace weft::detail

namespace weft::stream {

template <Stream S, class F>
class Map {
 public:
  using Item = std::invoke_result_t<F&, stream_item_t<S>&&>;
  Map(S s, F f) : s_(std::move(s)), f_(std::move(f)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    auto p = s_.poll_next(cx);
    if (p.is_pending()) return pending;
    auto v = std::move(p).take();
    if (!v) return std::optional<Item>();
    return std::optional<Item>(std::invoke(f_, std::move(*v)));
  }
  [[nodiscard]] SizeHint size_hint() const { return weft::size_hint(s_); }

 private:
  S s_;
  F f_;
};
static_assert(Stream<Map<detail::StreamArchetype<int>, int (*)(int)>>);
inline constexpr auto map =
    detail::combinator<2>([]<Stream S, class F>(S s, F f) { return Map<S, F>(std::move(s), std::move(f)); });

/// Items for which f returns a value (std::optional<U>), unwrapped.
template <Stream S, class F>
class FilterMap {
 public:
  using Item = typename std::invoke_result_t<F&, stream_item_t<S>&&>::value_type;
  FilterMap(S s, F f) : s_(std::move(s)), f_(std::move(f)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    for (;;) {
      auto p = s_.poll_next(cx);
      if (p.is_pending()) return pending;
      auto v = std::move(p).take();
      if (!v) return std::optional<Item>();
      if (auto out = std::invoke(f_, std::move(*v))) return std::optional<Item>(std::move(*out));
    }
  }
  [[nodiscard]] SizeHint size_hint() const { return {0, weft::size_hint(s_).second}; }

 private:
  S s_;
  F f_;
};
static_assert(Stream<FilterMap<detail::StreamArchetype<int>, std::optional<int> (*)(int)>>);
inline constexpr auto filter_map = detail::combinator<2>(
    []<Stream S, class F>(S s, F f) { return FilterMap<S, F>(std::move(s), std::move(f)); });

/// Items for which pred(const Item&) is true.
inline constexpr auto filter = detail::combinator<2>([]<Stream S, class P>(S s, P pred) {
  using T = stream_item_t<S>;
  return filter_map(std::move(s), [pred = std::move(pred)](T&& v) mutable -> std::optional<T> {
    if (std::invoke(pred, std::as_const(v))) return std::optional<T>(std::move(v));
    return std::nullopt;
  });
});

/// At most n items.
template <Stream S>
class Take {
 public:
  using Item = stream_item_t<S>;
  Take(S s, std::size_t n) : s_(std::move(s)), left_(n) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (left_ == 0) return std::optional<Item>();
    auto p = s_.poll_next(cx);
    if (p.is_pending()) return pending;
    auto v = std::move(p).take();
    left_ = v ? left_ - 1 : 0;
    return v;
  }
  [[nodiscard]] SizeHint size_hint() const {
    if (left_ == 0) return {0, std::size_t{0}};
    auto [lo, hi] = weft::size_hint(s_);
    return {std::min(lo, left_), hi ? std::min(*hi, left_) : left_};
  }

 private:
  S s_;
  std::size_t left_;
};
static_assert(Stream<Take<detail::StreamArchetype<int>>>);
inline constexpr auto take =
    detail::combinator<2>([]<Stream S>(S s, std::size_t n) { return Take<S>(std::move(s), n); });

/// Items while pred(const Item&) holds; the first failing item ends the stream.
template <Stream S, class P>
class TakeWhile {
 public:
  using Item = stream_item_t<S>;
  TakeWhile(S s, P p) : s_(std::move(s)), p_(std::move(p)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (done_) return std::optional<Item>();
    auto p = s_.poll_next(cx);
    if (p.is_pending()) return pending;
    auto v = std::move(p).take();
    if (!v || !std::invoke(p_, std::as_const(*v))) {
      done_ = true;
      return std::optional<Item>();
    }
    return v;
  }
  [[nodiscard]] SizeHint size_hint() const {
    if (done_) return {0, std::size_t{0}};
    return {0, weft::size_hint(s_).second};
  }

 private:
  S s_;
  P p_;
  bool done_ = false;
};
static_assert(Stream<TakeWhile<detail::StreamArchetype<int>, bool (*)(const int&)>>);
inline constexpr auto take_while = detail::combinator<2>(
    []<Stream S, class P>(S s, P p) { return TakeWhile<S, P>(std::move(s), std::move(p)); });

/// Drops the first n items.
template <Stream S>
class Skip {
 public:
  using Item = stream_item_t<S>;
  Skip(S s, std::size_t n) : s_(std::move(s)), left_(n) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    for (;;) {
      auto p = s_.poll_next(cx);
      if (p.is_pending()) return pending;
      auto v = std::move(p).take();
      if (!v || left_ == 0) return v;
      --left_;
    }
  }
  [[nodiscard]] SizeHint size_hint() const {
    auto [lo, hi] = weft::size_hint(s_);
    auto sub = [&](std::size_t x) { return x > left_ ? x - left_ : 0; };
    return {sub(lo), hi ? std::optional<std::size_t>(sub(*hi)) : std::nullopt};
  }

 private:
  S s_;
  std::size_t left_;
};
static_assert(Stream<Skip<detail::StreamArchetype<int>>>);
inline constexpr auto skip =
    detail::combinator<2>([]<Stream S>(S s, std::size_t n) { return Skip<S>(std::move(s), n); });

/// After the first end, always the end (the input is not polled again).
template <Stream S>
class Fuse {
 public:
  using Item = stream_item_t<S>;
  explicit Fuse(S s) : s_(std::move(s)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (!s_) return std::optional<Item>();
    auto p = s_->poll_next(cx);
    if (p.is_pending()) return pending;
    auto v = std::move(p).take();
    if (!v) s_.reset();
    return v;
  }
  [[nodiscard]] bool is_terminated() const noexcept { return !s_; }
  [[nodiscard]] SizeHint size_hint() const { return s_ ? weft::size_hint(*s_) : SizeHint{0, std::size_t{0}}; }

 private:
  std::optional<S> s_;
};
static_assert(Stream<Fuse<detail::StreamArchetype<int>>>);
inline constexpr auto fuse = detail::combinator<1>([]<Stream S>(S s) { return Fuse<S>(std::move(s)); });

/// All of a, then all of b.
template <Stream A, Stream B>
class Chain {
 public:
  using Item = stream_item_t<A>;
  Chain(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (!a_.is_terminated()) {
      auto p = a_.poll_next(cx);
      if (p.is_pending()) return pending;
      auto v = std::move(p).take();
      if (v) return v;
    }
    return b_.poll_next(cx);
  }
  [[nodiscard]] SizeHint size_hint() const {
    auto [la, ha] = a_.size_hint();
    auto [lb, hb] = b_.size_hint();
    return {detail::add_lower(la, lb), detail::add_upper(ha, hb)};
  }

 private:
  Fuse<A> a_;
  Fuse<B> b_;
};
static_assert(Stream<Chain<detail::StreamArchetype<int>, detail::StreamArchetype<int>>>);
inline constexpr auto chain = detail::combinator<2>(
    []<Stream A, Stream B>(A a, B b) { return Chain<A, B>(std::move(a), std::move(b)); });

/// Pairs of items, one from each; ends when either ends.
template <Stream A, Stream B>
class Zip {
 public:
  using Item = std::pair<stream_item_t<A>, stream_item_t<B>>;
  Zip(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (done_) return std::optional<Item>();
    if (!ia_) {
      auto p = a_.poll_next(cx);
      if (p.is_ready()) {
        auto v = std::move(p).take();
        if (!v) return finish();
        ia_.emplace(std::move(*v));
      }
    }
    if (!ib_) {
      auto p = b_.poll_next(cx);
      if (p.is_ready()) {
        auto v = std::move(p).take();
        if (!v) return finish();
        ib_.emplace(std::move(*v));
      }
    }
    if (!ia_ || !ib_) return pending;
    Item out{std::move(*ia_), std::move(*ib_)};
    ia_.reset();
    ib_.reset();
    return std::optional<Item>(std::move(out));
  }
  [[nodiscard]] SizeHint size_hint() const {
    auto [la, ha] = weft::size_hint(a_);
    auto [lb, hb] = weft::size_hint(b_);
    std::size_t ba = ia_ ? 1 : 0, bb = ib_ ? 1 : 0;
    using detail::add_lower, detail::add_upper;
    std::optional<std::size_t> a = add_upper(ha, ba), b = add_upper(hb, bb), hi;
    if (a && b) hi = std::min(*a, *b);
    else hi = a ? a : b;
    return {std::min(add_lower(la, ba), add_lower(lb, bb)), hi};
  }

 private:
  Poll<std::optional<Item>> finish() {
    done_ = true;
    return std::optional<Item>();
  }
  A a_;
  B b_;
  // An item taken from one side while the other was pending.
  std::optional<stream_item_t<A>> ia_;
  std::optional<stream_item_t<B>> ib_;
  bool done_ = false;
};
static_assert(Stream<Zip<detail::StreamArchetype<int>, detail::StreamArchetype<int>>>);
inline constexpr auto zip =
    detail::combinator<2>([]<Stream A, Stream B>(A a, B b) { return Zip<A, B>(std::move(a), std::move(b)); });

/// Items of all inputs as they arrive; ends when all have ended. Fair: each poll starts at
/// the input after the one that started the previous poll, so a busy input cannot starve
/// the others.
/// Exceptions: an input whose poll_next throws passes the exception to the caller; the
/// merge stays valid and polls that input again on later polls (nothing is dropped).
template <Stream... Ss>
class Merge {
  static_assert(sizeof...(Ss) >= 2, "merge needs at least two streams");

 public:
  using Item = stream_item_t<std::tuple_element_t<0, std::tuple<Ss...>>>;
  explicit Merge(Ss... ss) : ss_(Fuse<Ss>(std::move(ss))...) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    constexpr std::size_t n = sizeof...(Ss);
    std::size_t start = next_start_;
    next_start_ = (next_start_ + 1) % n;
    bool all_done = true;
    std::optional<Item> out;
    for (std::size_t k = 0; k < n && !out; ++k) {
      std::size_t i = (start + k) % n;
      visit(i, [&](auto& s) {
        if (s.is_terminated()) return;
        auto p = s.poll_next(cx);
        if (p.is_pending()) {
          all_done = false;
          return;
        }
        auto v = std::move(p).take();
        if (v) {
          all_done = false;
          out.emplace(std::move(*v));
        }
      });
    }
    if (out) return std::optional<Item>(std::move(out));
    if (all_done) return std::optional<Item>();
    return pending;
  }
  [[nodiscard]] SizeHint size_hint() const {
    SizeHint h{0, std::size_t{0}};
    std::apply([&](const auto&... s) { ((h = {detail::add_lower(h.first, s.size_hint().first), detail::add_upper(h.second, s.size_hint().second)}), ...); }, ss_);
    return h;
  }

 private:
  template <class F>
  void visit(std::size_t i, F&& f) {
    std::size_t k = 0;
    std::apply([&](auto&... s) { ((k++ == i ? f(s) : void()), ...); }, ss_);
  }
  std::tuple<Fuse<Ss>...> ss_;
  std::size_t next_start_ = 0;
};
static_assert(Stream<Merge<detail::StreamArchetype<int>, detail::StreamArchetype<int>>>);
template <Stream... Ss>
Merge<Ss...> merge(Ss... ss) {
  return Merge<Ss...>(std::move(ss)...);
}

/// Items until `stop` (any future, e.g. CancellationToken::cancelled()) completes, then
/// the end. The stop future is polled first on each poll.
template <Stream S, Future F>
class TakeUntil {
 public:
  using Item = stream_item_t<S>;
  TakeUntil(S s, F f) : s_(std::move(s)), f_(std::move(f)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (done_) return std::optional<Item>();
    if (f_.poll(cx).is_ready()) {
      done_ = true;
      return std::optional<Item>();
    }
    auto p = s_.poll_next(cx);
    if (p.is_ready() && !*p) done_ = true;
    return p;
  }
  [[nodiscard]] bool is_stopped() const noexcept { return done_; }
  [[nodiscard]] SizeHint size_hint() const {
    if (done_) return {0, std::size_t{0}};
    return {0, weft::size_hint(s_).second};
  }

 private:
  S s_;
  F f_;
  bool done_ = false;
};
static_assert(Stream<TakeUntil<detail::StreamArchetype<int>, detail::FutureArchetype<int>>>);
inline constexpr auto take_until = detail::combinator<2>(
    []<Stream S, Future F>(S s, F f) { return TakeUntil<S, F>(std::move(s), std::move(f)); });

}  // namespace weft::stream
