#pragma once
// ReadyStreamMap<K, S>: a StreamMap whose poll touches only the streams that are ready.
//
// Each entry gets its own waker (containers/ready_queue.hpp). Waking it sets the entry's
// `queued` flag and, only on the false->true edge, pushes the entry onto a lock-free ready
// queue (wakes come from any thread) and wakes the map's task. The map also keeps a local
// run list (owner only, no atomics) of entries it knows to be ready: new entries, and
// entries that just yielded an item (they may have more). poll_next moves what the shared
// queue holds to the back of the run list, then polls entries from its front, so an entry
// that yielded goes behind the others that were ready and a busy stream cannot starve
// them. A stream that says, with its item, that it has no more and registered the waker
// (poll_next_then_wait, weft/stream/stream.hpp; broadcast's BroadcastStream does) is not put
// back: its next item's wake queues it, and the poll that would only have returned Pending
// is saved (at one item per wake, as a subscriber on many channels gets, that poll was
// half of the polls and one of the two locks of the channel per item).
// Bounds: every stream poll spends one unit of the task's cooperative budget (coop.hpp);
// when it is spent the map yields (Pending, waking its task), so many ready streams cannot
// monopolize a worker. Outside a task the budget is unconstrained and one poll drains every
// ready entry; even then a poll polls each entry at most twice (it looks at the shared
// queue only when it starts and once more after registering its waker), so streams that
// keep waking themselves cannot keep it looping.
// An entry in the run list keeps `queued` set while it waits (a wake then does nothing: it
// will be polled anyway); the flag is cleared just before its stream is polled, so a wake
// during or after the poll queues it again.
//
// Layout: an entry is one heap node holding its queue link, flags and counts, the key and
// the stream (so the state a wake and the following poll touch is in one place: a map of
// 10,000 idle streams, each woken now and then, costs one cold node per item, not a node,
// a slot and whatever the stream allocates); slots_ is a vector of entry pointers with a
// free list, the index maps keys to slots.
// Complexity: insert, remove, contains_key O(1) expected (a flat hash index from key to
// slot, containers/flat_index.hpp, and a free list of slots); poll_next O(1) per ready entry,
// independent of the number of streams; iteration O(slots).
// Safety: an entry's waker may outlive the entry and the map (a channel sender holding it
// after remove, clear or the map's destruction); waking it then does nothing visible.
// Removing and re-inserting a key creates a new entry: wakes of the old one never cause an
// item to be delivered under the wrong key (items are only taken from the stream currently
// in the slot, and a removed entry is skipped when popped).
// API and results are those of VecStreamMap.
// Exceptions: a stream whose poll_next throws passes the exception to the caller of
// poll_next (or next_many); the entry stays in the map and is polled again by the next
// poll_next, as VecStreamMap does; nothing leaks. A throwing Hash or KeyEqual in insert or
// remove leaves the map unchanged (the index is updated last).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/coop.hpp"
#include "weft/containers/flat_index.hpp"
#include "weft/containers/projection_range.hpp"
#include "weft/containers/ready_queue.hpp"
#include "weft/containers/stream_map_common.hpp"
#include "weft/stream/stream.hpp"

namespace weft {

template <class K, Stream S, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class ReadyStreamMap
    : public detail::StreamMapCommon<ReadyStreamMap<K, S, Hash, KeyEqual>, std::pair<K, stream_item_t<S>>> {
  struct Entry final : detail::ReadyEntry {
    Entry(detail::ReadyShared* s, std::uint32_t i) : ReadyEntry(s), slot(i) {}
    std::uint32_t slot;         // owner only
    Entry* next_run = nullptr;  // owner only: the run list's link
    // Owner only: the key and stream, engaged while the entry is in the map (destroyed by
    // the owner when it leaves, never by a thread dropping the last waker).
    std::optional<std::pair<K, S>> kv;
  };
  using Slot = Entry*;  // null when free
  static constexpr auto occupied = [](const Slot& s) { return s != nullptr; };

 public:
  using Item = std::pair<K, stream_item_t<S>>;
  ReadyStreamMap() : shared_(new detail::ReadyShared) {}
  explicit ReadyStreamMap(std::size_t capacity) : ReadyStreamMap() {
    slots_.reserve(capacity);
    free_.reserve(capacity);
    index_.reserve(capacity);
  }
  template <std::ranges::input_range R>
  explicit ReadyStreamMap(R&& pairs) : ReadyStreamMap() {
    this->extend(std::forward<R>(pairs));
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
        index_(std::move(o.index_)),
        run_head_(std::exchange(o.run_head_, nullptr)),
        run_tail_(std::exchange(o.run_tail_, nullptr)) {}
  ReadyStreamMap& operator=(ReadyStreamMap&& o) noexcept {
    if (this != &o) {
      destroy();
      shared_ = std::exchange(o.shared_, nullptr);
      slots_ = std::move(o.slots_);
      free_ = std::move(o.free_);
      index_ = std::move(o.index_);
      run_head_ = std::exchange(o.run_head_, nullptr);
      run_tail_ = std::exchange(o.run_tail_, nullptr);
    }
    return *this;
  }
  ~ReadyStreamMap() { destroy(); }

  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
  [[nodiscard]] bool empty() const noexcept { return index_.empty(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_.capacity(); }

  /// Inserts; a stream already under `key` is replaced and returned. O(1) expected.
  std::optional<S> insert(K key, S stream) {
    const std::uint32_t h = hash_of(key);
    const std::uint32_t found = index_.find(h, is_key(key));
    if (found != detail::FlatIndex::none) {
      // A fresh entry (and waker) for the new stream; the old one is retired.
      Entry* fresh = new_entry(found, std::move(key), std::move(stream));  // may throw: nothing changed
      std::optional<S> old;
      try {
        old.emplace(std::move(slots_[found]->kv->second));
      } catch (...) {
        fresh->ref_dec();  // the only reference: deletes it
        throw;
      }
      Entry* old_e = std::exchange(slots_[found], fresh);
      // The key already in the map stays (as VecStreamMap and std::unordered_map keep it;
      // it matters when KeyEqual calls different-looking keys equal). A K whose swap may
      // throw keeps the key passed in instead (a throw here would lose the old stream).
      if constexpr (std::is_nothrow_swappable_v<K>) {
        using std::swap;
        swap(fresh->kv->first, old_e->kv->first);
      }
      retire(old_e);
      enter_run(fresh);
      return old;
    }
    index_.reserve(index_.size() + 1);  // may throw: before anything changes
    if (free_.empty()) {
      // Doubling by hand: reserve(size() + 1) would grow by one (libstdc++ allocates exactly).
      if (slots_.size() == slots_.capacity()) slots_.reserve(std::max<std::size_t>(16, 2 * slots_.capacity()));
      free_.reserve(slots_.capacity());  // so that freeing a slot never allocates (destroy is noexcept)
    }
    const auto i = free_.empty() ? static_cast<std::uint32_t>(slots_.size()) : free_.back();
    Entry* e = new_entry(i, std::move(key), std::move(stream));  // may throw: nothing changed
    // Nothing below throws.
    if (free_.empty()) slots_.push_back(e);
    else {
      free_.pop_back();
      slots_[i] = e;
    }
    enter_run(e);
    index_.insert(h, i);
    return std::nullopt;
  }
  /// Removes the stream under `key` (heterogeneous with transparent Hash and KeyEqual).
  template <class Q>
  std::optional<S> remove(const Q& key) {
    const std::uint32_t h = hash_of(key);
    const std::uint32_t i = index_.find(h, is_key(key));
    if (i == detail::FlatIndex::none) return std::nullopt;
    std::optional<S> out(std::move(slots_[i]->kv->second));  // may throw: nothing changed yet
    index_.erase(h, [i](std::uint32_t j) { return j == i; });
    free_slot(i);
    return out;
  }
  template <class Q>
  [[nodiscard]] bool contains_key(const Q& key) const {
    return index_.find(hash_of(key), is_key(key)) != detail::FlatIndex::none;
  }
  void clear() {
    index_.clear();
    for (std::uint32_t i = 0; i < slots_.size(); ++i)
      if (slots_[i]) free_slot(i);
  }

  auto iter() {
    return detail::project(slots_, [](Slot& s) { return std::pair<const K&, S&>(s->kv->first, s->kv->second); },
                           occupied);
  }
  auto keys() const {
    return detail::project(slots_, [](const Slot& s) -> const K& { return s->kv->first; }, occupied);
  }
  auto values() const {
    return detail::project(slots_, [](const Slot& s) -> const S& { return s->kv->second; }, occupied);
  }
  auto values_mut() {
    return detail::project(slots_, [](Slot& s) -> S& { return s->kv->second; }, occupied);
  }

  // extend, size_hint (the sum of the entries'), poll_next_many and next_many: from
  // detail::StreamMapCommon.

  Poll<std::optional<Item>> poll_next(Context& cx) {
    std::optional<Item> item;
    switch (poll_ready(cx, [&](const K& k, stream_item_t<S>&& v) { item.emplace(k, std::move(v)); })) {
      case Polled::item:
        return item;  // moved (implicit move on return)
      case Polled::pending:
        return pending;
      case Polled::ended:
        break;
    }
    return std::optional<Item>();
  }

  /// poll_next_many's step (detail::StreamMapCommon): as poll_next, but the item is built
  /// in place at the end of `out` (one copy of the key, one move of the stream's item; a
  /// poll_next result would be moved four more times on its way there).
  detail::Appended poll_next_append(Context& cx, std::vector<Item>& out) {
    switch (poll_ready(cx, [&](const K& k, stream_item_t<S>&& v) { out.emplace_back(k, std::move(v)); })) {
      case Polled::item:
        return detail::Appended::one;
      case Polled::pending:
        return detail::Appended::pending;
      case Polled::ended:
        break;
    }
    return detail::Appended::ended;
  }

 private:
  enum class Polled : std::uint8_t { item, pending, ended };

  // The ready entries' loop behind poll_next and poll_next_append: emit(key, item) for the
  // first entry that yields one; pending if none is ready (the waker is registered) or the
  // budget is spent; ended if the map is empty.
  template <class Emit>
  Polled poll_ready(Context& cx, Emit&& emit) {
    auto r = detail::consume_ready<Entry>(
        *shared_,
        [&](bool look_at_queue) {
          if (look_at_queue) take_shared();
          return pop_front_run();
        },
        [&]() -> const Context* { return empty() ? nullptr : &cx; },  // an empty map ends
        [&](Entry* e) { return poll_entry(e, cx, emit); });
    if (r) return *r;
    return empty() ? Polled::ended : Polled::pending;
  }

  // Polls the stream of `e`, which came off the run list with the list's reference: its
  // item (handed to emit with the key), pending if the budget is spent, or nothing (the
  // stream is pending or finished: the map goes on to the next entry).
  template <class Emit>
  std::optional<Polled> poll_entry(Entry* e, Context& cx, Emit& emit) {
    if (!coop::poll_proceed(cx)) {  // budget spent: it woke the task; resume here
      push_front_run(e);
      return Polled::pending;
    }
    e->dequeued();  // from here on a wake queues it again (through the shared queue)
    std::pair<K, S>& kv = *e->kv;
    WakerRef w(&detail::ReadyEntry::vtable, e);
    Context ecx(w.get());
    const int before = coop::remaining();
    std::optional<Poll<std::optional<stream_item_t<S>>>> polled;
    bool waits = false;  // the stream registered this entry's waker with the item it returns
    try {
      if constexpr (StreamThatWaits<S>) polled.emplace(kv.second.poll_next_then_wait(ecx, waits));
      else polled.emplace(kv.second.poll_next(ecx));
    } catch (...) {
      // The stream threw: the exception goes to the caller and the entry stays in the map,
      // ready, so the next poll_next polls it again (VecStreamMap, which scans every
      // entry, does the same). It keeps the run list's reference.
      if (e->try_requeue_owned()) push_back_run(e);
      else e->ref_dec();  // a wake during the poll already queued it
      throw;
    }
    auto& p = *polled;
    if (coop::remaining() == before) coop::made_progress();  // once per stream poll
    if (p.is_pending()) {
      e->ref_dec();  // the run list's reference; its waker re-queues it when it has more
      return std::nullopt;
    }
    auto& v = *p;
    if (v) {
      // It may have more: to the back of the run list, keeping its reference, unless a
      // wake during the poll already queued it (with a reference of its own), or the
      // stream says it has no more and registered the entry's waker (then its next poll
      // would be Pending: the run list's reference goes, as for Pending, and the next
      // item's wake queues the entry again).
      if (!waits && e->try_requeue_owned()) push_back_run(e);
      else e->ref_dec();
      // Last: if building the item throws, the entry is already back in its place (the
      // item is lost, as when poll_next_many's push_back throws).
      emit(kv.first, std::move(*v));
      return Polled::item;
    }
    // Finished: dropped without telling the user (as the baseline does).
    const std::uint32_t i = e->slot;
    index_.erase(hash_of(kv.first), [i](std::uint32_t j) { return j == i; });
    free_slot(i, /*the run list's reference too*/ 1);
    return std::nullopt;
  }
  void destroy() noexcept {
    if (!shared_) return;
    clear();
    while (Entry* e = run_head_) {
      run_head_ = e->next_run;
      e->ref_dec();  // the run list's reference
    }
    run_tail_ = nullptr;
    detail::ReadyEntry::close(shared_);
    shared_ = nullptr;
  }
  // A new entry for slot i holding key and stream, not yet in the slot or the run list; if
  // anything throws, nothing is left behind (and the arguments may be moved from).
  Entry* new_entry(std::uint32_t i, K&& key, S&& stream) {
    auto* e = new Entry(shared_, i);
    try {
      e->kv.emplace(std::move(key), std::move(stream));
    } catch (...) {
      e->ref_dec();  // the only reference: deletes it
      throw;
    }
    return e;
  }
  // A new entry starts ready: in the run list.
  void enter_run(Entry* e) noexcept {
    e->start_queued_owned();
    push_back_run(e);
  }
  // Moves the shared queue's entries (and their references) to the back of the run list.
  void take_shared() noexcept {
    while (Entry* e = detail::pop_ready_entry<Entry>(*shared_)) push_back_run(e);
  }
  // The run list's first entry (with the list's reference), or null.
  Entry* pop_front_run() noexcept {
    Entry* e = run_head_;
    if (e == nullptr) return nullptr;
    run_head_ = e->next_run;
    if (run_head_ == nullptr) run_tail_ = nullptr;
    return e;
  }
  void push_back_run(Entry* e) noexcept {
    e->next_run = nullptr;
    if (run_tail_) run_tail_->next_run = e;
    else run_head_ = e;
    run_tail_ = e;
  }
  void push_front_run(Entry* e) noexcept {
    e->next_run = run_head_;
    run_head_ = e;
    if (!run_tail_) run_tail_ = e;
  }
  // The entry leaves the map: its key and stream are destroyed here, by the owner (a stream's
  // destructor may drop wakers of this entry: the slot's reference keeps it alive meanwhile).
  void retire(Entry* e, std::size_t extra_refs = 0) noexcept {
    e->kv.reset();
    e->removed = true;
    // The slot's reference (and the caller's, if any); the queue and stale wakers may still
    // hold it.
    e->ref_dec(1 + extra_refs);
  }
  void free_slot(std::uint32_t i, std::size_t extra_refs = 0) {
    retire(std::exchange(slots_[i], nullptr), extra_refs);
    free_.push_back(i);
  }

  detail::ReadyShared* shared_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  template <class Q>
  static std::uint32_t hash_of(const Q& key) {
    return detail::FlatIndex::mix(Hash{}(key));
  }
  template <class Q>
  auto is_key(const Q& key) const {
    return [this, &key](std::uint32_t i) { return KeyEqual{}(slots_[i]->kv->first, key); };
  }

  detail::FlatIndex index_;
  Entry* run_head_ = nullptr;  // the run list: entries known ready, each with a reference
  Entry* run_tail_ = nullptr;
};
static_assert(Stream<ReadyStreamMap<int, detail::StreamArchetype<int>>>);
static_assert(Future<detail::NextMany<ReadyStreamMap<int, detail::StreamArchetype<int>>>>);

/// The StreamMap of weft: the ready-set variant.
template <class K, Stream S, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
using StreamMap = ReadyStreamMap<K, S, Hash, KeyEqual>;

}  // namespace weft
