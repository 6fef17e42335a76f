#pragma once
// The key-value store of weft_resp_server: string keys to string values, with optional
// expiry times.
//
// Sharded std::unordered_map under one std::mutex per shard. Why locks in a lock-free
// runtime: a command holds its shard's lock for one hash lookup and a pointer copy (values
// are immutable and shared, so a GET copies a std::shared_ptr, never the bytes, and encodes
// the reply after unlocking), never across a co_await, so a worker never waits long; with
// 64 shards two workers rarely meet on one. A concurrent hash map would avoid the lock but
// weft has none, and this is not what the server measures (its subscriptions are).
//
// Expiry is exact and bounded: a key's deadline is checked on every read (an expired key
// is absent from that instant, and is erased by the read that finds it), and each shard
// keeps its deadlines in an ordered set that a periodic sweep (Server's sweeper task, on
// weft's timers) pops from, so an expired key that is never read again is freed within a
// sweep period. Overwriting or deleting a key removes its old deadline from the set: the set
// never holds more than one entry per key.
#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "weft/time.hpp"

namespace weft_resp {

using Value = std::shared_ptr<const std::string>;

class Store {
 public:
  using Instant = weft::time::Instant;

  /// The value of `key`, or null if it is absent or expired at `now`.
  Value get(std::string_view key, Instant now);
  /// Sets `key` (replacing any value and deadline); `expires`: when it stops existing.
  void set(std::string_view key, Value value, std::optional<Instant> expires);
  /// Removes `key`; true if it existed (and had not expired at `now`).
  bool del(std::string_view key, Instant now);
  /// Erases up to `max` keys whose deadline is at or before `now`; returns how many it erased
  /// (fewer than `max`: none is left to erase).
  std::size_t sweep(Instant now, std::size_t max);
  /// Keys held (expired ones not yet erased included).
  [[nodiscard]] std::size_t size() const;
  /// Deadlines held (one per key with an expiry): for the tests that check nothing leaks.
  [[nodiscard]] std::size_t deadlines() const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Entry {
    Value value;
    std::optional<Instant> expires;
  };
  using Map = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;
  struct Shard {
    mutable std::mutex mu;
    Map map;
    // (deadline, the key inside `map`): keys are node-based, so their addresses are stable.
    std::set<std::pair<Instant, const std::string*>> deadlines;
    void erase(Map::iterator it);
  };
  static constexpr std::size_t shard_count = 64;
  template <class F>
  std::size_t sum_over_shards(F f) const;
  Shard& shard_of(std::string_view key) noexcept { return shards_[Hash{}(key) % shard_count]; }
  std::array<Shard, shard_count> shards_;
};

}  // namespace weft_resp
