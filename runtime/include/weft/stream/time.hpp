#pragma once
// Time-based stream adaptors (tokio-stream's StreamExt::timeout and throttle), on the
// runtime's timers (weft/time.hpp; the runtime needs enable_time). Function or pipeline form,
// as the other combinators: `stream::timeout(s, 100ms)` or `std::move(s) | stream::throttle(10ms)`.
#include <optional>
#include <utility>

#include "weft/stream/combinators.hpp"
#include "weft/time.hpp"

namespace weft::stream {

/// Each item as Result<Item, time::Elapsed>: Elapsed when no item arrived within `d` of
/// the previous one (or of the first poll). After an Elapsed the stream goes on: the next
/// item still comes, and only then does a new deadline start (one Elapsed per gap). Ends
/// when the input does.
template <Stream S>
class Timeout {
 public:
  using Inner = stream_item_t<S>;
  using Item = Result<Inner, time::Elapsed>;
  Timeout(S s, time::Duration d) : s_(std::move(s)), d_(d), sleep_(time::deadline_after(time::now(), d)) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    auto p = s_.poll_next(cx);
    if (p.is_ready()) {
      auto v = std::move(p).take();
      if (!v) return std::optional<Item>();
      sleep_.reset(time::deadline_after(time::now(), d_));
      armed_ = true;
      return std::optional<Item>(Item(std::move(*v)));
    }
    if (armed_ && sleep_.poll(cx).is_ready()) {
      armed_ = false;
      return std::optional<Item>(Item(Err<time::Elapsed>(time::Elapsed{})));
    }
    return weft::pending;
  }
  [[nodiscard]] SizeHint size_hint() const {
    auto [lo, hi] = weft::size_hint(s_);
    (void)hi;
    return {lo, std::nullopt};  // each gap may add an Elapsed
  }

 private:
  S s_;
  time::Duration d_;
  time::Sleep sleep_;
  bool armed_ = true;
};
static_assert(Stream<Timeout<detail::StreamArchetype<int>>>);
inline constexpr auto timeout =
    detail::combinator<2>([]<Stream S>(S s, time::Duration d) { return Timeout<S>(std::move(s), d); });

/// At most one item per `period`: after an item, the input is not polled again until
/// `period` has passed (items are delayed, never dropped). A zero period passes items
/// through.
template <Stream S>
class Throttle {
 public:
  using Item = stream_item_t<S>;
  Throttle(S s, time::Duration period) : s_(std::move(s)), period_(period), sleep_(time::now()) {}
  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (period_.count() > 0 && !delayed_) {
      if (sleep_.poll(cx).is_pending()) return weft::pending;
      delayed_ = true;
    }
    auto p = s_.poll_next(cx);
    if (p.is_pending()) return weft::pending;
    auto v = std::move(p).take();
    if (v && period_.count() > 0) {
      sleep_.reset(time::deadline_after(time::now(), period_));
      delayed_ = false;
    }
    return v;
  }
  [[nodiscard]] SizeHint size_hint() const { return weft::size_hint(s_); }

 private:
  S s_;
  time::Duration period_;
  time::Sleep sleep_;
  bool delayed_ = false;
};
static_assert(Stream<Throttle<detail::StreamArchetype<int>>>);
inline constexpr auto throttle =
    detail::combinator<2>([]<Stream S>(S s, time::Duration d) { return Throttle<S>(std::move(s), d); });

}  // namespace weft::stream
