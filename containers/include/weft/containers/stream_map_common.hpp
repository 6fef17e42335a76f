#pragma once
// What both StreamMaps (VecStreamMap, ReadyStreamMap) offer on top of their own insert,
// remove, values and poll_next, written once: extend, size_hint, and the batch API of
// tokio-stream 0.1.15 (poll_next_many / next_many: drain up to `limit` ready items into a
// vector in one poll).
#include <cstddef>
#include <optional>
#include <ranges>
#include <utility>
#include <vector>

#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/stream/stream.hpp"

namespace weft::detail {

template <class Map>
struct NextMany;

/// What one step of poll_next_many did: appended an item, found nothing ready (or the budget
/// spent), or found the map empty.
enum class Appended : unsigned char { one, pending, ended };

/// The base of a StreamMap `Map` (CRTP) whose items are `Item` (a (key, item) pair). Map
/// provides insert(K, S), values(), empty() and poll_next(Context&).
template <class Map, class Item>
class StreamMapCommon {
 public:
  /// Inserts every (key, stream) pair of `pairs`; a stream already under a key is replaced
  /// (and dropped).
  template <std::ranges::input_range R>
  void extend(R&& pairs) {
    for (auto&& [k, s] : pairs) self().insert(std::move(k), std::move(s));
  }

  /// The sum of the entries' size hints.
  [[nodiscard]] SizeHint size_hint() const { return sum_size_hints(self().values()); }

  /// Appends up to `limit` ready (key, item) pairs to `out` in one poll. Ready(n > 0): n
  /// items were appended. Ready(0): the map is empty (every stream finished), or limit is 0.
  /// Pending: nothing is ready (the waker is registered). Built on the map's poll_next, so
  /// it polls what poll_next polls and spends the budget as poll_next does; a Pending from
  /// poll_next after some items (nothing more ready, or the budget spent) ends the batch
  /// early.
  Poll<std::size_t> poll_next_many(Context& cx, std::vector<Item>& out, std::size_t limit) {
    if (limit == 0) return std::size_t{0};
    std::size_t added = 0;
    while (added < limit && self().poll_next_append(cx, out) == Appended::one) ++added;
    if (added > 0) return added;
    if (self().empty()) return std::size_t{0};
    return pending;
  }

  /// One step of poll_next_many: poll_next, its item appended to `out`. A map may define its
  /// own (ReadyStreamMap builds the item in place); this one hides it then.
  Appended poll_next_append(Context& cx, std::vector<Item>& out) {
    auto p = self().poll_next(cx);
    if (p.is_pending()) return Appended::pending;
    auto v = std::move(p).take();
    if (!v) return Appended::ended;
    out.push_back(std::move(*v));
    return Appended::one;
  }

  /// `co_await map.next_many(out, limit)`: waits until at least one item is ready, then
  /// appends up to `limit`; yields the count (0 once the map is empty). Cancel safe (items
  /// are only taken from the streams when they are appended to `out`).
  NextMany<Map> next_many(std::vector<Item>& out, std::size_t limit) { return {&self(), &out, limit}; }

 protected:
  StreamMapCommon() = default;

 private:
  Map& self() noexcept { return static_cast<Map&>(*this); }
  const Map& self() const noexcept { return static_cast<const Map&>(*this); }
};

/// The future of StreamMapCommon::next_many.
template <class Map>
struct NextMany {
  Map* map;
  std::vector<typename Map::Item>* out;
  std::size_t limit;
  Poll<std::size_t> poll(Context& cx) { return map->poll_next_many(cx, *out, limit); }
};

}  // namespace weft::detail
