#pragma once
// The completion machinery shared by JoinSet and JoinMap.
//
// Each spawned task gets an Entry, whose own waker is registered as the task's join waker.
// When the task completes (value, exception or cancellation, on any worker), that waker
// pushes the Entry onto the set's completion queue, a lock-free LinkQueue (Vyukov's
// intrusive MPSC queue: one exchange and one store), and wakes the set's AtomicWaker. The
// owner pops in O(1) in join_next. No mutex on this path.
//
// The entry and queue mechanism (and its reference counting and close protocol) is
// containers/ready_queue.hpp.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <optional>
#include <vector>
#include <utility>

#include "weft/coop.hpp"
#include "weft/containers/ready_queue.hpp"
#include "weft/join_handle.hpp"
#include "weft/sync/atomic_waker.hpp"
#include "weft/waker.hpp"

namespace weft::detail {

// JoinCore polls each task's JoinHandle as a leaf future (its Future check is in join_handle.hpp).

/// A set of entries with completion queue. Payload carries the per-entry data of the
/// container (the key for JoinMap). Owner-only except through the wakers.
template <class V, class Payload>
class JoinCore {
 public:
  struct Entry final : ReadyEntry {
    Entry(ReadyShared* s, JoinHandle<V> h, Payload p) : ReadyEntry(s), handle(std::move(h)), payload(std::move(p)) {}
    JoinHandle<V> handle;  // owner only; reset before the owner drops its reference
    Payload payload;       // owner only
    std::size_t index = 0;  // position in the owner's vector
  };

  // The completion queue is made by the first insert, so an empty set (and a moved-from
  // one) allocates nothing. Entries point at the queue, not at the JoinCore, so a move
  // hands both over as they are.
  JoinCore() noexcept = default;
  JoinCore(const JoinCore&) = delete;
  JoinCore& operator=(const JoinCore&) = delete;
  JoinCore(JoinCore&& o) noexcept
      : shared_(std::exchange(o.shared_, nullptr)), entries_(std::exchange(o.entries_, {})) {}
  /// Aborts the tasks this set held, then takes over `o`'s.
  JoinCore& operator=(JoinCore&& o) noexcept {
    if (this == &o) return *this;
    JoinCore old(std::move(*this));
    shared_ = std::exchange(o.shared_, nullptr);
    entries_ = std::exchange(o.entries_, {});
    return *this;
  }
  ~JoinCore() {
    for (Entry* e : entries_) {
      e->handle.abort();
      release(e);
    }
    entries_.clear();
    if (shared_) ReadyEntry::close(shared_);
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return entries_.capacity(); }
  void reserve(std::size_t n) { entries_.reserve(n); }
  void shrink_to_fit() { entries_.shrink_to_fit(); }
  const std::vector<Entry*>& entries() const noexcept { return entries_; }

  /// Adds a spawned task; its join waker becomes the entry's waker.
  /// If it throws (allocation), the task is aborted and the set is unchanged.
  Entry* insert(JoinHandle<V> h, Payload p) {
    Entry* e;
    try {
      if (!shared_) shared_ = new ReadyShared;
      if (entries_.size() == entries_.capacity()) entries_.reserve(std::max<std::size_t>(8, 2 * entries_.capacity()));
      e = new Entry(shared_, std::move(h), std::move(p));
    } catch (...) {
      h.abort();  // still ours unless the Entry was constructed (then nothing threw)
      throw;
    }
    e->index = entries_.size();
    entries_.push_back(e);  // room reserved above
    WakerRef w(&ReadyEntry::vtable, e);
    Context ecx(w.get());
    // Registers the entry's waker as the join waker; if the task already finished, the
    // result stays in the task until join_next polls it again.
    if (poll_handle(e, ecx)) e->wake();
    return e;
  }

  /// Takes the entry out of the set without reporting its result (abort it first to
  /// cancel it). Safe while the entry is queued: the queue skips removed entries.
  void remove(Entry* e) noexcept {
    std::size_t i = e->index;
    entries_[i] = entries_.back();
    entries_[i]->index = i;
    entries_.pop_back();
    release(e);
  }

  struct Completed {
    Payload payload;
    TaskId id;
    JoinResult<V> result;
  };

  /// The next completed entry's payload, id and result, or nothing if none is ready now.
  /// With a context: registers it to be woken when one completes.
  std::optional<Completed> pop_ready(Context* cx) {
    if (!shared_) return std::nullopt;  // nothing was ever inserted: nothing to wake us
    return consume_ready<Entry>(
        *shared_, [&](bool) { return pop_ready_entry<Entry>(*shared_); }, [cx] { return cx; },
        [&](Entry* e) -> std::optional<Completed> {
          e->dequeued();  // from here on the task's completion wakes it into the queue again
          WakerRef w(&ReadyEntry::vtable, e);
          Context ecx(w.get());
          // No budget here: the set charges one unit per result itself (poll_join_next), and
          // a handle refusing for budget would wake its entry back into the queue we drain.
          auto p = [&] {
            coop::BudgetScope none(-1);
            return e->handle.poll(ecx);
          }();
          e->ref_dec();  // the queue's reference; the owner's keeps it alive
          if (p.is_pending()) return std::nullopt;  // spurious wake: the waker is registered again
          Completed out{std::move(e->payload), e->handle.id(), std::move(p).take()};
          remove(e);
          return out;
        });
  }

 private:
  static bool poll_handle(Entry* e, Context& cx) { return e->handle.set_join_waker(cx); }
  void release(Entry* e) noexcept {
    e->removed = true;
    e->handle = JoinHandle<V>();  // detaches (or frees the output) and drops the join waker
    e->ref_dec();                 // the owner's reference
  }

  ReadyShared* shared_ = nullptr;  // made by the first insert
  std::vector<Entry*> entries_;
};

/// `co_await set.join_next()` for JoinSet and JoinMap: polls poll_join_next.
template <class Set>
struct JoinNext {
  Set* set;
  auto poll(Context& cx) { return set->poll_join_next(cx); }
};

/// `co_await set.shutdown()` for JoinSet and JoinMap: aborts every task, then drains.
template <class Set>
struct Shutdown {
  Set* set;
  bool aborted = false;
  Poll<void> poll(Context& cx) {
    if (!aborted) {
      set->abort_all();
      aborted = true;
    }
    for (;;) {
      auto p = set->poll_join_next(cx);
      if (p.is_pending()) return pending;
      if (!*p) return ready();
    }
  }
};

}  // namespace weft::detail
