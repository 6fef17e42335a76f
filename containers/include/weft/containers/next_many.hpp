#pragma once
// poll_next_many / next_many for both StreamMaps (tokio-stream 0.1.15's StreamMap batch API):
// drain up to `limit` ready items into a vector in one poll.
#include <cstddef>
#include <optional>
#include <vector>

#include "weft/future.hpp"
#include "weft/poll.hpp"

namespace weft::detail {

/// Appends up to `limit` ready (key, item) pairs to `out`. Ready(n > 0): n items were
/// appended. Ready(0): the map is empty (every stream finished), or limit is 0. Pending:
/// nothing is ready (the waker is registered). Built on the map's poll_next, so it polls
/// what poll_next polls and spends the budget as poll_next does; a Pending from poll_next
/// after some items (nothing more ready, or the budget spent) ends the batch early.
template <class Map>
Poll<std::size_t> poll_next_many(Map& map, Context& cx, std::vector<typename Map::Item>& out, std::size_t limit) {
  if (limit == 0) return std::size_t{0};
  std::size_t added = 0;
  while (added < limit) {
    auto p = map.poll_next(cx);
    if (p.is_pending()) break;
    auto v = std::move(p).take();
    if (!v) break;  // ended
    out.push_back(std::move(*v));
    ++added;
  }
  if (added > 0) return added;
  if (map.empty()) return std::size_t{0};
  return pending;
}

/// `co_await map.next_many(out, limit)`: the future form. Cancel safe (items are only taken
/// from the streams when they are appended to `out`).
template <class Map>
struct NextMany {
  Map* map;
  std::vector<typename Map::Item>* out;
  std::size_t limit;
  Poll<std::size_t> poll(Context& cx) { return poll_next_many(*map, cx, *out, limit); }
};

}  // namespace weft::detail
