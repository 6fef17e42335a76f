#pragma once
// ReadyShared / ReadyEntry: per-entry wakers that push their entry onto a shared lock-free
// queue (a LinkQueue: Vyukov's intrusive MPSC queue) on the false->true edge of a "queued"
// flag, and wake the owner's AtomicWaker. Shared by JoinSet / JoinMap (the entry's waker is
// a task's join waker) and the ready-set StreamMap (the entry's waker is given to the
// stream when it is polled).
//
// Entry references (`refs`): the owner's (while the container holds the entry), one per
// waker clone, and the queue's (while queued: in the shared queue, or in an owner-side run
// list that holds entries known to be ready, see ReadyStreamMap). Fields of derived entries
// other than these are touched only by the owner.
//
// ReadyShared (the queue and the owner's waker) is reference counted by the owner and by
// every live entry, so a wake after the entry or the whole container is gone is safe and
// does nothing visible. When the owner goes it sets `closed`: a waker that pushes after
// that drains the queue itself (taking the consumer role), so no entry stays referenced by
// a queue nobody consumes (a reference cycle). The closing owner and such wakers form a
// store-buffering pair on closed / the queue (each side: write, seq_cst fence, read the
// other): either the closer's drain sees the push, or the pusher sees closed.
//
// The owner's side is one loop, consume_ready (below): take the entries known ready, skip
// removed ones, and when none is left register the owner's waker and look once more.
#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "weft/detail/alloc.hpp"
#include "weft/detail/fence.hpp"
#include "weft/detail/link_queue.hpp"
#include "weft/sync/atomic_waker.hpp"
#include "weft/waker.hpp"

namespace weft::detail {

struct ReadyShared {
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
struct ReadyEntry : QueueLink {
  explicit ReadyEntry(ReadyShared* s) noexcept : shared(s) { s->ref_inc(); }
  virtual ~ReadyEntry() { shared->ref_dec(); }
  // Entries are weft's own nodes: from the allocator chosen by WEFT_ALLOCATOR (the sized
  // delete gets the derived entry's size through the virtual destructor).
  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
  std::atomic<std::size_t> refs{1};  // the owner's
  std::atomic<bool> queued{false};
  ReadyShared* shared;
  // Owner only: no longer in the container. Its result or items are never reported; the
  // owner's loop skips it when it comes out of a queue.
  bool removed = false;

  void ref_inc() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }  // from a live ref
  void ref_dec(std::size_t n = 1) noexcept {
    // AcqRel: the last holder sees all uses of the entry before deleting it.
    if (refs.fetch_sub(n, std::memory_order_acq_rel) == n) delete this;
  }

  // The false -> true edge of `queued` pushes the entry (with a queue reference) and wakes
  // the owner.
  void wake() noexcept {
    if (enqueue()) shared->waker.wake();
  }
  // Owner only, for a brand-new entry that starts in the owner's own run list: marks it
  // queued and gives the run list a reference (no other thread can see it yet).
  void start_queued_owned() noexcept {
    // Relaxed: the entry is not shared yet; whatever publishes it orders these.
    queued.store(true, std::memory_order_relaxed);
    refs.fetch_add(1, std::memory_order_relaxed);
  }
  // Owner only, after dequeued() and a poll that yielded an item: marks the entry queued
  // again so that it can go back to the owner's run list with the reference it already
  // holds. False if a wake queued it meanwhile (it is in the shared queue, with a reference
  // of its own): the caller then drops its reference instead.
  bool try_requeue_owned() noexcept {
    // AcqRel: as enqueue() (acquire pairs with dequeued()'s release store).
    return !queued.exchange(true, std::memory_order_acq_rel);
  }
  // Owner only, after popping it: a later wake pushes it again.
  void dequeued() noexcept {
    // Release: pairs with the acquire exchange in enqueue().
    queued.store(false, std::memory_order_release);
  }

  static void close(ReadyShared* s) noexcept {
    // The closer's half of the store-buffering pair (see above): store, fence, then read
    // the queue.
    s->closed.store(true, std::memory_order_seq_cst);
    seq_cst_fence();
    drain_closed(s);
    s->ref_dec();
  }

  bool enqueue() noexcept {
    // AcqRel: acquire pairs with the owner's release in dequeued() (the entry was popped
    // and processed); release orders the push after the claim.
    if (queued.exchange(true, std::memory_order_acq_rel)) return false;
    ref_inc();
    ReadyShared* s = shared;
    s->ready.push(this);
    // The pusher's half of the store-buffering pair with close() (see above): push, fence,
    // then read `closed`.
    seq_cst_fence();
    if (s->closed.load(std::memory_order_seq_cst)) drain_closed(s);
    return true;
  }

  static void drain_closed(ReadyShared* s) noexcept {
    while (!s->ready.is_empty()) {
      while (QueueLink* l = s->ready.pop()) static_cast<ReadyEntry*>(l)->ref_dec();
    }
  }

  static void* clone(void* d) noexcept {
    static_cast<ReadyEntry*>(d)->ref_inc();
    return d;
  }
  static void wake_by_ref(void* d) noexcept { static_cast<ReadyEntry*>(d)->wake(); }
  static void drop(void* d) noexcept { static_cast<ReadyEntry*>(d)->ref_dec(); }
  static void wake_fn(void* d) noexcept {
    wake_by_ref(d);
    drop(d);
  }
  static constexpr WakerVTable vtable{&clone, &wake_fn, &wake_by_ref, &drop};
};

/// The owner's pop from the shared queue (it is the queue's only consumer until it closes
/// it): the next entry pushed by a wake, with the queue's reference, or null.
template <class Entry>
Entry* pop_ready_entry(ReadyShared& s) noexcept {
  QueueLink* l = s.ready.pop_exclusive();
  return l == nullptr ? nullptr : static_cast<Entry*>(static_cast<ReadyEntry*>(l));
}

/// The owner's loop over its ready entries: one for JoinCore::pop_ready and
/// ReadyStreamMap::poll_next.
///   next(look_at_queue)  the next entry known ready (holding a queue reference: the shared
///                        queue's, or that of a list the owner keeps), or null. look_at_queue
///                        is true on the first look and on the look after registering: the
///                        two moments the protocol needs what the shared queue holds.
///   waiting_context()    asked when nothing is ready: the context whose waker to register
///                        before looking once more, or null to stop now (no context, or
///                        nothing left to wait for).
///   visit(e)             handles a live entry and the reference it came with: returns the
///                        result to end the loop with, or nothing to go on.
/// A removed entry is skipped and its reference dropped. The loop ends with nothing when no
/// entry is ready: right away if waiting_context() gives no context, else after registering
/// its waker and looking once more (a wake after the registration wakes the owner; one
/// before it left its entry in the queue). So it looks at the shared queue at most twice.
template <class Entry, class Next, class WaitingContext, class Visit>
auto consume_ready(ReadyShared& s, Next&& next, WaitingContext&& waiting_context, Visit&& visit)
    -> std::invoke_result_t<Visit&, Entry*> {
  bool registered = false;
  bool look_at_queue = true;
  for (;;) {
    Entry* e = next(std::exchange(look_at_queue, false));
    if (e == nullptr) {
      const Context* cx = registered ? nullptr : waiting_context();
      if (cx == nullptr) return {};
      s.waker.register_waker(cx->waker());
      registered = true;
      look_at_queue = true;
      continue;
    }
    if (e->removed) {
      e->ref_dec();  // the reference it came with
      continue;
    }
    if (auto r = visit(e)) return r;
  }
}

}  // namespace weft::detail
