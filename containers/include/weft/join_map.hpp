#pragma once
// JoinMap<K, V, Hash, KeyEqual>: spawned tasks associated with keys (tokio_util's JoinMap).
// join_next yields (key, result) in completion order; tasks can be aborted by key or by a
// predicate on keys; spawning under a key that is in use aborts and replaces the old task,
// whose result is then never reported.
//
// Complexity: spawn, abort(key), contains_key, contains_task O(1) expected; join_next O(1)
// per result (completions arrive through a lock-free queue, containers/join_core.hpp);
// abort_matching, abort_all, detach_all, keys O(n).
// Keys of completed-but-unjoined tasks stay listed (keys(), contains_key) until joined.
// contains_key accepts any type comparable with K when Hash and KeyEqual are transparent
// (e.g. a std::string key looked up by std::string_view).
// Destroying the map aborts every task it still holds. Movable (the tasks move along).
// Exceptions: a task's exception is its result (a JoinError panic from join_next), never
// thrown by the map. A Hash or KeyEqual that throws in spawn: the exception reaches the
// caller, the new task is aborted and never reported, the map is unchanged.
// Cancel safety: join_next is cancel safe.
#include <cstddef>
#include <functional>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "weft/coop.hpp"
#include "weft/containers/join_core.hpp"
#include "weft/runtime.hpp"

namespace weft {

template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class JoinMap {
  using Core = detail::JoinCore<V, K>;
  using Entry = typename Core::Entry;

 public:
  JoinMap() = default;
  explicit JoinMap(std::size_t capacity) { reserve(capacity); }
  JoinMap(std::size_t capacity, const Hash& hash, const KeyEqual& eq = KeyEqual())
      : by_key_(capacity, hash, eq) {
    core_.reserve(capacity);
  }
  JoinMap(const JoinMap&) = delete;
  JoinMap& operator=(const JoinMap&) = delete;
  /// Moves take the tasks along; the moved-from map is empty. Assigning aborts the tasks
  /// the target held (as destroying it would).
  JoinMap(JoinMap&& o) noexcept(std::is_nothrow_move_constructible_v<std::unordered_map<K, Entry*, Hash, KeyEqual>>)
      : by_key_(std::move(o.by_key_)), by_id_(std::move(o.by_id_)), core_(std::move(o.core_)) {
    o.by_key_.clear();
    o.by_id_.clear();
  }
  JoinMap& operator=(JoinMap&& o) noexcept(std::is_nothrow_move_assignable_v<std::unordered_map<K, Entry*, Hash, KeyEqual>>) {
    if (this != &o) {
      core_ = std::move(o.core_);
      by_key_ = std::move(o.by_key_);
      by_id_ = std::move(o.by_id_);
      o.by_key_.clear();
      o.by_id_.clear();
    }
    return *this;
  }

  static JoinMap with_capacity(std::size_t capacity) { return JoinMap(capacity); }
  static JoinMap with_hasher(const Hash& hash) { return JoinMap(0, hash); }
  static JoinMap with_capacity_and_hasher(std::size_t capacity, const Hash& hash) { return JoinMap(capacity, hash); }

  [[nodiscard]] std::size_t size() const noexcept { return core_.size(); }
  [[nodiscard]] bool empty() const noexcept { return core_.size() == 0; }
  /// Tasks the map can hold without reallocating (a lower bound).
  [[nodiscard]] std::size_t capacity() const noexcept {
    auto buckets = static_cast<std::size_t>(static_cast<float>(by_key_.bucket_count()) * by_key_.max_load_factor());
    return std::min(buckets, core_.capacity());
  }
  void reserve(std::size_t n) {
    by_key_.reserve(size() + n);
    by_id_.reserve(size() + n);
    core_.reserve(size() + n);
  }
  void shrink_to_fit() { shrink_to(0); }
  /// Shrinks the capacity to at least max(min_capacity, size()).
  void shrink_to(std::size_t min_capacity) {
    std::size_t n = std::max(min_capacity, size());
    by_key_.rehash(0);
    by_key_.reserve(n);
    by_id_.rehash(0);
    by_id_.reserve(n);
    core_.shrink_to_fit();
    core_.reserve(n);
  }

  /// Spawns `task` on the current runtime under `key`, aborting and replacing any task
  /// already under that key (the replaced task's result is never reported).
  void spawn(K key, Task<V> task) { add(std::move(key), weft::spawn(std::move(task))); }
  void spawn_on(K key, Task<V> task, const Handle& handle) { add(std::move(key), handle.spawn(std::move(task))); }

  Poll<std::optional<std::pair<K, JoinResult<V>>>> poll_join_next(Context& cx) {
    if (!coop::poll_proceed(cx)) return pending;
    if (auto r = take(&cx)) {
      coop::made_progress();
      return r;
    }
    if (empty()) return std::optional<std::pair<K, JoinResult<V>>>();
    return pending;
  }
  /// `co_await map.join_next()`: (key, result) of the next task to complete, or nullopt if
  /// the map is empty.
  auto join_next() { return detail::JoinNext<JoinMap>{this}; }
  /// A completed task's (key, result) if one is ready now; never waits.
  std::optional<std::pair<K, JoinResult<V>>> try_join_next() { return take(nullptr); }

  /// `co_await map.shutdown()`: aborts every task and waits for all to complete.
  auto shutdown() { return detail::Shutdown<JoinMap>{this}; }

  /// Aborts the task under `key`; false if there is none. The task stays in the map and is
  /// reported by join_next (cancelled, unless it had already finished).
  template <class Q>
  bool abort(const Q& key) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return false;
    it->second->handle.abort();
    return true;
  }
  /// Aborts every task whose key satisfies pred(const K&).
  template <class P>
  void abort_matching(P pred) {
    for (Entry* e : core_.entries())
      if (std::invoke(pred, std::as_const(e->payload))) e->handle.abort();
  }
  void abort_all() noexcept {
    for (Entry* e : core_.entries()) e->handle.abort();
  }
  /// Removes every task without aborting it; their results are discarded.
  void detach_all() {
    by_key_.clear();
    by_id_.clear();
    while (!core_.entries().empty()) core_.remove(core_.entries().back());
  }

  /// The keys of every task in the map (completed but not yet joined ones included).
  [[nodiscard]] std::vector<K> keys() const {
    std::vector<K> out;
    out.reserve(size());
    for (const Entry* e : core_.entries()) out.push_back(e->payload);
    return out;
  }
  template <class Q>
  [[nodiscard]] bool contains_key(const Q& key) const {
    return by_key_.find(key) != by_key_.end();
  }
  [[nodiscard]] bool contains_task(TaskId id) const { return by_id_.find(id.value) != by_id_.end(); }

 private:
  // Exception safety: if a step throws (the key's Hash or KeyEqual, an allocation), the new
  // task is aborted (never reported) and the map is as it was, minus a replaced task.
  void add(K key, JoinHandle<V> h) {
    const TaskId id = h.id();
    typename decltype(by_key_)::iterator it;
    try {
      it = by_key_.find(key);
    } catch (...) {
      h.abort();
      throw;
    }
    if (it != by_key_.end()) {
      Entry* old = it->second;
      old->handle.abort();
      by_id_.erase(old->handle.id().value);
      core_.remove(old);  // never reported
      by_key_.erase(it);
    }
    Entry* e = core_.insert(std::move(h), key);  // aborts the task itself if it throws
    try {
      auto pos = by_key_.emplace(std::move(key), e).first;
      try {
        by_id_.emplace(id.value, e);
      } catch (...) {
        by_key_.erase(pos);
        throw;
      }
    } catch (...) {
      e->handle.abort();
      core_.remove(e);
      throw;
    }
  }
  std::optional<std::pair<K, JoinResult<V>>> take(Context* cx) {
    auto c = core_.pop_ready(cx);
    if (!c) return std::nullopt;
    by_key_.erase(c->payload);
    by_id_.erase(c->id.value);
    return std::pair<K, JoinResult<V>>(std::move(c->payload), std::move(c->result));
  }

  std::unordered_map<K, Entry*, Hash, KeyEqual> by_key_;
  std::unordered_map<std::uint64_t, Entry*> by_id_;
  Core core_;
};
static_assert(Future<detail::JoinNext<JoinMap<int, int>>> && Future<detail::Shutdown<JoinMap<int, int>>>);

}  // namespace weft
