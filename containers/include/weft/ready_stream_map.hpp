#pragma once
// ReadyStreamMap<K, S>: a StreamMap whose poll touches only the streams that are ready.
//
// Each entry gets its own waker (detail/ready_queue.hpp). Waking it sets the entry's
// `queued` flag and, only on the false->true edge, pushes the entry onto a lock-free ready
// queue (wakes come from any thread) and wakes the map's task. poll_next pops ready entries
// and polls only those streams. An entry that yielded an item goes back to the tail of the
// ready queue (it may have more), so a busy stream cannot starve the others; a poll handles
// at most `poll_budget` ready entries, then the map yields (waking itself), so a stream that
// keeps waking itself cannot monopolize the task. A new entry starts ready.
//
// Complexity: insert, remove, contains_key O(1) expected (a hash index from key to slot, a
// free list of slots); poll_next O(1) per ready entry, independent of the number of
// streams; iteration O(slots).
// Safety: an entry's waker may outlive the entry and the map (a channel sender holding it
// after remove, clear or the map's destruction); waking it then does nothing visible.
// Removing and re-inserting a key creates a new entry: wakes of the old one never cause an
// item to be delivered under the wrong key (items are only taken from the stream currently
// in the slot, and a removed entry is skipped when popped).
// API and results are those of VecStreamMap.
#include <cstdint>
#include <functional>
#include <optional>
#include <ranges>
#include <unordered_map>
#include <utility>
#include <vector>

#include "weft/detail/projection_range.hpp"
#include "weft/detail/ready_queue.hpp"
#include "weft/stream/stream.hpp"

namespace weft {

template <class K, Stream S, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class ReadyStreamMap {
  struct Entry final : detail::ReadyEntry {
    Entry(detail::ReadyShared* s, std::uint32_t i) : ReadyEntry(s), slot(i) {}
    std::uint32_t slot;    // owner only
    bool removed = false;  // owner only
  };
  struct Slot {
    std::optional<std::pair<K, S>> kv;
    Entry* entry = nullptr;
  };
  static constexpr auto occupied = [](const Slot& s) { return s.kv.has_value(); };

 public:
  using Item = std::pair<K, stream_item_t<S>>;
  /// Ready entries handled per poll_next before the map yields.
  static constexpr int poll_budget = 64;

  ReadyStreamMap() : shared_(new detail::ReadyShared) {}
  explicit ReadyStreamMap(std::size_t capacity) : ReadyStreamMap() {
    slots_.reserve(capacity);
    index_.reserve(capacity);
  }
  template <std::ranges::input_range R>
  explicit ReadyStreamMap(R&& pairs) : ReadyStreamMap() {
    extend(std::forward<R>(pairs));
  }
  static ReadyStreamMap with_capacity(std::size_t capacity) { return ReadyStreamMap(capacity); }
  ReadyStreamMap(const ReadyStreamMap&) = delete;
  ReadyStreamMap& operator=(const ReadyStreamMap&) = delete;
  // Entries refer to the shared queue and to slot indexes, never to the map object, so the
  // map can move. A moved-from map may only be destroyed or assigned to.
  ReadyStreamMap(ReadyStreamMap&& o) noexcept
      : shared_(std::exchange(o.shared_, nullptr)),
        slots_(std::move(o.slots_)),
        free_(std::move(o.free_)),
        index_(std::move(o.index_)) {}
  ReadyStreamMap& operator=(ReadyStreamMap&& o) noexcept {
    if (this != &o) {
      destroy();
      shared_ = std::exchange(o.shared_, nullptr);
      slots_ = std::move(o.slots_);
      free_ = std::move(o.free_);
      index_ = std::move(o.index_);
    }
    return *this;
  }
  ~ReadyStreamMap() { destroy(); }

  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
  [[nodiscard]] bool empty() const noexcept { return index_.empty(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_.capacity(); }

  /// Inserts; a stream already under `key` is replaced and returned. O(1) expected.
  std::optional<S> insert(K key, S stream) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      Slot& sl = slots_[it->second];
      std::optional<S> old(std::move(sl.kv->second));
      sl.kv->second = std::move(stream);
      // A fresh entry (and waker) for the new stream; the old one is retired.
      retire(sl.entry);
      sl.entry = new_entry(it->second);
      return old;
    }
    std::uint32_t i = alloc_slot();
    slots_[i].kv.emplace(key, std::move(stream));
    slots_[i].entry = new_entry(i);
    index_.emplace(std::move(key), i);
    return std::nullopt;
  }
  template <std::ranges::input_range R>
  void extend(R&& pairs) {
    for (auto&& [k, s] : pairs) insert(std::move(k), std::move(s));
  }

  /// Removes the stream under `key` (heterogeneous with transparent Hash and KeyEqual).
  template <class Q>
  std::optional<S> remove(const Q& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    std::uint32_t i = it->second;
    index_.erase(it);
    std::optional<S> out(std::move(slots_[i].kv->second));
    free_slot(i);
    return out;
  }
  template <class Q>
  [[nodiscard]] bool contains_key(const Q& key) const {
    return index_.find(key) != index_.end();
  }
  void clear() {
    index_.clear();
    for (std::uint32_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].kv) free_slot(i);
  }

  auto iter() {
    return detail::project(slots_, [](Slot& s) { return std::pair<const K&, S&>(s.kv->first, s.kv->second); },
                           occupied);
  }
  auto keys() const {
    return detail::project(slots_, [](const Slot& s) -> const K& { return s.kv->first; }, occupied);
  }
  auto values() const {
    return detail::project(slots_, [](const Slot& s) -> const S& { return s.kv->second; }, occupied);
  }
  auto values_mut() {
    return detail::project(slots_, [](Slot& s) -> S& { return s.kv->second; }, occupied);
  }

  [[nodiscard]] SizeHint size_hint() const { return detail::sum_size_hints(values()); }

  Poll<std::optional<Item>> poll_next(Context& cx) {
    // Register first: a wake after this point re-polls the map.
    shared_->waker.register_waker(cx.waker());
    for (int n = 0; n < poll_budget; ++n) {
      detail::QueueLink* l = shared_->ready.pop();
      if (l == nullptr) break;
      auto* e = static_cast<Entry*>(static_cast<detail::ReadyEntry*>(l));
      e->dequeued();
      if (e->removed) {
        e->ref_dec();  // the queue's reference
        continue;
      }
      Slot& sl = slots_[e->slot];
      WakerRef w(&detail::ReadyEntry::vtable, e);
      Context ecx(w.get());
      auto p = sl.kv->second.poll_next(ecx);
      e->ref_dec();  // the queue's reference; the slot's keeps the entry alive
      if (p.is_pending()) continue;  // its waker re-queues it when it has more
      auto v = std::move(p).take();
      if (v) {
        e->requeue();  // it may have more: back of the queue, behind the others
        return std::optional<Item>(Item(sl.kv->first, std::move(*v)));
      }
      // Finished: dropped without telling the user (as the baseline does).
      index_.erase(sl.kv->first);
      free_slot(e->slot);
    }
    if (empty()) return std::optional<Item>();
    if (!shared_->ready.is_empty()) cx.waker().wake_by_ref();  // budget spent: yield
    return pending;
  }

 private:
  void destroy() noexcept {
    if (!shared_) return;
    clear();
    detail::ReadyEntry::close(shared_);
    shared_ = nullptr;
  }
  Entry* new_entry(std::uint32_t i) {
    auto* e = new Entry(shared_, i);
    e->requeue();  // a new entry starts ready
    return e;
  }
  void retire(Entry* e) noexcept {
    e->removed = true;
    e->ref_dec();  // the slot's reference; the queue and stale wakers may still hold it
  }
  std::uint32_t alloc_slot() {
    if (!free_.empty()) {
      std::uint32_t i = free_.back();
      free_.pop_back();
      return i;
    }
    slots_.emplace_back();
    return static_cast<std::uint32_t>(slots_.size() - 1);
  }
  void free_slot(std::uint32_t i) {
    Slot& sl = slots_[i];
    sl.kv.reset();  // destroys the stream (which may drop wakers of this entry)
    retire(sl.entry);
    sl.entry = nullptr;
    free_.push_back(i);
  }

  detail::ReadyShared* shared_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::unordered_map<K, std::uint32_t, Hash, KeyEqual> index_;
};

/// The StreamMap of weft: the ready-set variant.
template <class K, Stream S, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
using StreamMap = ReadyStreamMap<K, S, Hash, KeyEqual>;

}  // namespace weft
