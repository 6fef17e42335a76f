#pragma once
// The completion machinery shared by JoinSet and JoinMap.
//
// Each spawned task gets an Entry, whose own waker is registered as the task's join waker.
// When the task completes (value, exception or cancellation, on any worker), that waker
// pushes the Entry onto the set's completion queue, a lock-free LinkQueue (Vyukov's
// intrusive MPSC queue: one exchange and one store), and wakes the set's AtomicWaker. The
// owner pops in O(1) in join_next. No mutex on this path.
//
// Entry references (`refs`): the owner's (while the set holds it), one per waker clone
// (the join waker stored in the task), and the queue's (while queued). `queued` makes the
// push happen at most once per wake (false -> true edge); the owner clears it when it pops.
// Entry fields other than refs/queued/links are touched only by the owner.
//
// Shared (the queue and the set's waker) is reference counted by the set and by every live
// Entry, so a late wake after the set is gone is safe. Then `closed` is set: a waker that
// pushes after the set closed drains the queue itself (taking the consumer role), so no
// Entry stays referenced by a queue that nobody consumes (that would be a reference cycle).
// The closing owner and such wakers form a store-buffering pair on closed / the queue
// (seq_cst): either the closer's drain sees the push or the pusher sees closed.
#include <atomic>
#include <cstddef>
#include <optional>
#include <vector>
#include <utility>

#include "weft/coop.hpp"
#include "weft/detail/link_queue.hpp"
#include "weft/join_handle.hpp"
#include "weft/sync/atomic_waker.hpp"
#include "weft/waker.hpp"

namespace weft::detail {

struct JoinShared {
  LinkQueue ready;
  AtomicWaker waker;
  std::atomic<bool> closed{false};
  std::atomic<std::size_t> refs{1};

  void ref_inc() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }  // from a live ref
  void ref_dec() noexcept {
    // AcqRel: the last holder sees all uses before deleting.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

/// An entry's type-independent part, so the waker vtable and the queue need no templates.
struct JoinEntryBase : QueueLink {
  explicit JoinEntryBase(JoinShared* s) noexcept : shared(s) { s->ref_inc(); }
  virtual ~JoinEntryBase() { shared->ref_dec(); }
  std::atomic<std::size_t> refs{1};  // the owner's
  std::atomic<bool> queued{false};
  JoinShared* shared;

  void ref_inc() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }  // from a live ref
  void ref_dec() noexcept {
    // AcqRel: the last holder sees all uses of the entry before deleting it.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // The false -> true edge of `queued` pushes the entry (with a queue reference).
  void wake() noexcept {
    // AcqRel: acquire pairs with the owner's release clear (the entry was popped and
    // processed); release publishes nothing new but orders the push after the claim.
    if (queued.exchange(true, std::memory_order_acq_rel)) return;
    ref_inc();
    JoinShared* s = shared;
    s->ready.push(this);
    s->waker.wake();
    // Seq_cst: the pusher's half of the store-buffering pair with close() (see above).
    if (s->closed.load(std::memory_order_seq_cst)) drain_closed(s);
  }

  static void drain_closed(JoinShared* s) noexcept {
    while (!s->ready.is_empty()) {
      while (QueueLink* l = s->ready.pop()) static_cast<JoinEntryBase*>(l)->ref_dec();
    }
  }

  static void* clone(void* d) noexcept {
    static_cast<JoinEntryBase*>(d)->ref_inc();
    return d;
  }
  static void wake_by_ref(void* d) noexcept { static_cast<JoinEntryBase*>(d)->wake(); }
  static void drop(void* d) noexcept { static_cast<JoinEntryBase*>(d)->ref_dec(); }
  static void wake_fn(void* d) noexcept {
    wake_by_ref(d);
    drop(d);
  }
  static constexpr WakerVTable vtable{&clone, &wake_fn, &wake_by_ref, &drop};
};

/// A set of entries with completion queue. Payload carries the per-entry data of the
/// container (the key for JoinMap). Owner-only except through the wakers.
template <class V, class Payload>
class JoinCore {
 public:
  struct Entry final : JoinEntryBase {
    Entry(JoinShared* s, JoinHandle<V> h, Payload p) : JoinEntryBase(s), handle(std::move(h)), payload(std::move(p)) {}
    JoinHandle<V> handle;  // owner only; reset before the owner drops its reference
    Payload payload;       // owner only
    std::size_t index = 0;  // position in the owner's vector
    bool removed = false;   // owner only: no longer in the set (its result must not be reported)
  };

  JoinCore() : shared_(new JoinShared) {}
  JoinCore(const JoinCore&) = delete;
  JoinCore& operator=(const JoinCore&) = delete;
  ~JoinCore() {
    for (Entry* e : entries_) {
      e->handle.abort();
      release(e);
    }
    entries_.clear();
    // Seq_cst: the closer's half of the store-buffering pair (join_core.hpp header).
    shared_->closed.store(true, std::memory_order_seq_cst);
    JoinEntryBase::drain_closed(shared_);
    shared_->ref_dec();
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return entries_.capacity(); }
  void reserve(std::size_t n) { entries_.reserve(n); }
  void shrink_to_fit() { entries_.shrink_to_fit(); }
  const std::vector<Entry*>& entries() const noexcept { return entries_; }

  /// Adds a spawned task; its join waker becomes the entry's waker.
  Entry* insert(JoinHandle<V> h, Payload p) {
    auto* e = new Entry(shared_, std::move(h), std::move(p));
    e->index = entries_.size();
    entries_.push_back(e);
    WakerRef w(&JoinEntryBase::vtable, e);
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
    if (cx) shared_->waker.register_waker(cx->waker());
    while (QueueLink* l = shared_->ready.pop()) {
      auto* e = static_cast<Entry*>(static_cast<JoinEntryBase*>(l));
      // Release: pairs with the waker's acquire exchange; a later wake pushes it again.
      e->queued.store(false, std::memory_order_release);
      if (e->removed) {
        e->ref_dec();  // the queue's reference
        continue;
      }
      WakerRef w(&JoinEntryBase::vtable, e);
      Context ecx(w.get());
      auto p = e->handle.poll(ecx);
      e->ref_dec();  // the queue's reference; the owner's keeps it alive
      if (p.is_pending()) continue;  // spurious wake: the waker is registered again
      Completed out{std::move(e->payload), e->handle.id(), std::move(p).take()};
      remove(e);
      return out;
    }
    return std::nullopt;
  }

 private:
  static bool poll_handle(Entry* e, Context& cx) { return e->handle.set_join_waker(cx); }
  void release(Entry* e) noexcept {
    e->removed = true;
    e->handle = JoinHandle<V>();  // detaches (or frees the output) and drops the join waker
    e->ref_dec();                 // the owner's reference
  }

  JoinShared* shared_;
  std::vector<Entry*> entries_;
};

}  // namespace weft::detail
