#pragma once
// VecStreamMap<K, S>: the documented baseline StreamMap, faithful to tokio-stream's design:
// entries are kept in a vector of (key, stream).
//
// Implementation (its cost is the point of the comparison with ReadyStreamMap): all entries
// are scanned on insert, remove, and polling. insert scans for the key (replacing returns the
// old stream); remove finds by scan and swap-removes; every poll_next starts at a random
// index (detail::random_below: reproducible under RuntimeOptions::rng_seed) and polls
// entries in turn until one is ready, removing finished streams as it goes
// without telling the user (wrap a stream in StreamNotifyClose to hear about its end).
// poll_next yields (key, item), and the end exactly when the map is empty.
// Exceptions: a stream whose poll_next throws passes the exception to the caller; it stays
// in the map and is polled again by later polls. A key comparison that throws in insert or
// remove leaves the map unchanged.
#include <cstdint>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/containers/projection_range.hpp"
#include "weft/containers/stream_map_common.hpp"
#include "weft/detail/random.hpp"
#include "weft/stream/stream.hpp"

namespace weft {


template <class K, Stream S>
class VecStreamMap : public detail::StreamMapCommon<VecStreamMap<K, S>, std::pair<K, stream_item_t<S>>> {
 public:
  using Item = std::pair<K, stream_item_t<S>>;

  VecStreamMap() = default;
  explicit VecStreamMap(std::size_t capacity) { entries_.reserve(capacity); }
  template <std::ranges::input_range R>
  explicit VecStreamMap(R&& pairs) {
    this->extend(std::forward<R>(pairs));
  }
  static VecStreamMap with_capacity(std::size_t capacity) { return VecStreamMap(capacity); }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return entries_.capacity(); }

  /// Inserts; a stream already under `key` is replaced and returned. O(n).
  std::optional<S> insert(K key, S stream) {
    for (auto& e : entries_) {
      if (e.first == key) {
        std::optional<S> old(std::move(e.second));
        e.second = std::move(stream);
        return old;
      }
    }
    entries_.emplace_back(std::move(key), std::move(stream));
    return std::nullopt;
  }
  /// Removes the stream under `key` (any type comparable with K). O(n).
  template <class Q>
  std::optional<S> remove(const Q& key) {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].first == key) {
        std::optional<S> out(std::move(entries_[i].second));
        swap_remove(i);
        return out;
      }
    }
    return std::nullopt;
  }
  template <class Q>
  [[nodiscard]] bool contains_key(const Q& key) const {
    for (const auto& e : entries_)
      if (e.first == key) return true;
    return false;
  }
  void clear() noexcept { entries_.clear(); }

  /// (key, stream) pairs as std::pair<const K&, S&>, in arbitrary order.
  auto iter() {
    return detail::project(entries_, [](auto& e) { return std::pair<const K&, S&>(e.first, e.second); });
  }
  auto keys() const {
    return detail::project(entries_, [](const auto& e) -> const K& { return e.first; });
  }
  auto values() const {
    return detail::project(entries_, [](const auto& e) -> const S& { return e.second; });
  }
  auto values_mut() {
    return detail::project(entries_, [](auto& e) -> S& { return e.second; });
  }
  // extend, size_hint (the sum of the entries'), poll_next_many and next_many: from
  // detail::StreamMapCommon.

  Poll<std::optional<Item>> poll_next(Context& cx) {
    // tokio-stream's poll_next_entry, step for step.
    const std::size_t start = detail::random_below(static_cast<std::uint32_t>(entries_.size()));
    std::size_t idx = start;
    for (std::size_t n = entries_.size(), k = 0; k < n; ++k) {
      auto p = entries_[idx].second.poll_next(cx);
      if (p.is_ready()) {
        auto v = std::move(p).take();
        if (v) return std::optional<Item>(Item(entries_[idx].first, std::move(*v)));
        swap_remove(idx);  // finished: dropped without telling the user
        if (idx == entries_.size()) {
          idx = 0;
        } else if (idx < start && start <= entries_.size()) {
          // The entry swapped into idx was already polled in this pass: skip it.
          idx = (idx + 1) % entries_.size();
        }
      } else {
        idx = (idx + 1) % entries_.size();
      }
    }
    if (entries_.empty()) return std::optional<Item>();
    return pending;
  }

 private:
  void swap_remove(std::size_t i) {
    if (i + 1 != entries_.size()) entries_[i] = std::move(entries_.back());
    entries_.pop_back();
  }
  std::vector<std::pair<K, S>> entries_;
};
static_assert(Stream<VecStreamMap<int, detail::StreamArchetype<int>>>);
static_assert(Future<detail::NextMany<VecStreamMap<int, detail::StreamArchetype<int>>>>);

}  // namespace weft
