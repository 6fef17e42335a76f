#pragma once
// broadcast::channel<T>(capacity): many senders, many receivers; every receiver sees every
// value sent after it subscribed, as tokio::sync::broadcast (tokio 1.24, sync/broadcast.rs).
//
//   auto [tx, rx] = weft::broadcast::channel<std::string>(16);
//   auto rx2 = tx.subscribe();
//   tx.send("hi");                         // SendResult: how many receivers will see it
//   auto r = co_await rx.recv();           // RecvResult: a copy of "hi", or closed / lagged(n)
//
// Design (tokio's): a ring of `capacity` slots. The value sent at position p (a 64-bit
// counter) goes to slot p % capacity with `rem` = the number of receivers alive then; each
// receiver holds the position it reads next, copies the value out and decrements `rem`; the
// value is destroyed when `rem` reaches 0 or when the slot is overwritten a lap later. A
// receiver that fell more than `capacity` behind finds its slot overwritten: it gets
// RecvError::lagged(n) with the exact number n of values it missed, and jumps to the oldest
// value still held. Senders never wait.
//
// Where it differs from tokio: one std::mutex guards the ring and the tail (tokio locks the
// tail with a Mutex and each slot with a RwLock); the channel is a coordination tool whose
// receivers copy each value, and one lock keeps the invariants below easy to check. Values
// and wakers are destroyed, and wakers woken, after the lock is released (a value's or
// waker's destructor may re-enter the channel); only a moved-from T is destroyed under it.
// Waiting receivers (where tokio keeps an intrusive list of Recv futures): the channel keeps
// one vector of (waker, waiter) for every receiver waiting for the next value, and each
// receiver's place in it (an index and the generation of the vector). Every waiting
// receiver waits for the value at tail (invariant 4), so a send takes the whole vector in
// O(1) under the lock and wakes it after, reading the wakers from contiguous memory: a
// fan-out to receivers spread over the heap (a subscriber's thousands of receivers in a
// StreamMap, one woken per message) prefetches all their wakers' targets at once instead of
// chasing a list through cold nodes, and never touches the receivers themselves. The
// waiter is a member of the Receiver, so poll_recv works without a future (the Stream
// adaptor) and a receiver costs no allocation of its own; moving a waiting Receiver
// re-points its vector entry under the lock.
//
// Invariants (all under `detail::BroadcastShared::mu`):
//   1. tail is the position of the next send. Slot i last held position `pos`, with
//      pos % capacity == i; before its first write pos == i - capacity (mod 2^64: "a lap
//      before 0"), so `slot.pos + capacity == p` means "position p not written yet".
//   2. A receiver's next position r satisfies r <= tail. The value at r is still held iff
//      slot(r).pos == r; otherwise (slot.pos > r) it was overwritten and the oldest value
//      held is at tail - capacity > r.
//   3. slot.rem counts the receivers that were alive at the send and have not read it (or
//      dropped); slot.val is engaged iff rem > 0 and the slot was not overwritten since.
//   4. A receiver's waiter is in `waiting` iff waiter.gen == wait_gen (then
//      waiting[waiter.index].owner is that waiter). It was put there when the receiver
//      found nothing at r == tail and the channel was not closed: tail has not moved since,
//      since every send (and the close) empties `waiting` and starts a new generation
//      (when `waiting` is already empty no waiter holds the current generation, so none is
//      started). Wake order is registration order, except that a receiver leaving moves
//      the last one into its place.
//
// Capacity: rounded up to a power of two (as tokio), so `channel<T>(3)` holds 4 values; 0
// throws std::invalid_argument.
//
// Complexity: send is O(1) under the lock plus O(k) for k woken receivers after it (and one
// more lock to hand the emptied vector back for reuse); recv is O(1) amortized plus one copy
// of T (made under the lock); dropping a receiver is O(u) lock acquisitions for its u unread
// values (each gives up its share of a slot). Memory: `capacity` slots of (std::optional<T>,
// two counters), and two vectors of 24 bytes per receiver that waited at once (kept).
//
// Cooperative budget: poll_recv spends one unit when it returns a result (value, lagged or
// closed) and returns Pending (after waking the task) when the task's budget is spent; so a
// task draining an always-ready receiver still yields. `co_await rx.recv()` costs that one
// unit (an await is not charged again for a leaf that spent its own; future.hpp).
//
// Cancel safety: recv() is cancel safe: dropping a pending recv loses nothing (the receiver's
// position only moves when a result is returned) and unregisters its waker.
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/coop.hpp"
#include "weft/detail/prefetch.hpp"
#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/stream/stream.hpp"
#include "weft/result.hpp"
#include "weft/waker.hpp"

namespace weft::broadcast {

/// send found no receiver: the value comes back.
template <class T>
struct SendError {
  T value;
};

/// Why recv yielded no value.
class RecvError {
 public:
  enum class Kind : std::uint8_t {
    closed,  // every sender is gone and this receiver has read everything
    lagged,  // the receiver fell behind; lagged_count() values were skipped
  };
  static constexpr RecvError closed() noexcept { return RecvError(Kind::closed, 0); }
  static constexpr RecvError lagged(std::uint64_t skipped) noexcept { return RecvError(Kind::lagged, skipped); }
  [[nodiscard]] constexpr Kind kind() const noexcept { return kind_; }
  [[nodiscard]] constexpr bool is_closed() const noexcept { return kind_ == Kind::closed; }
  [[nodiscard]] constexpr bool is_lagged() const noexcept { return kind_ == Kind::lagged; }
  /// The number of values skipped (0 unless is_lagged()).
  [[nodiscard]] constexpr std::uint64_t lagged_count() const noexcept { return skipped_; }
  friend constexpr bool operator==(const RecvError&, const RecvError&) = default;

 private:
  constexpr RecvError(Kind k, std::uint64_t n) noexcept : kind_(k), skipped_(n) {}
  Kind kind_;
  std::uint64_t skipped_;
};

/// Why try_recv yielded no value.
class TryRecvError {
 public:
  enum class Kind : std::uint8_t {
    empty,   // nothing new yet; a sender is alive
    closed,  // every sender is gone and this receiver has read everything
    lagged,  // the receiver fell behind; lagged_count() values were skipped
  };
  static constexpr TryRecvError empty() noexcept { return TryRecvError(Kind::empty, 0); }
  static constexpr TryRecvError closed() noexcept { return TryRecvError(Kind::closed, 0); }
  static constexpr TryRecvError lagged(std::uint64_t skipped) noexcept {
    return TryRecvError(Kind::lagged, skipped);
  }
  [[nodiscard]] constexpr Kind kind() const noexcept { return kind_; }
  [[nodiscard]] constexpr bool is_empty() const noexcept { return kind_ == Kind::empty; }
  [[nodiscard]] constexpr bool is_closed() const noexcept { return kind_ == Kind::closed; }
  [[nodiscard]] constexpr bool is_lagged() const noexcept { return kind_ == Kind::lagged; }
  /// The number of values skipped (0 unless is_lagged()).
  [[nodiscard]] constexpr std::uint64_t lagged_count() const noexcept { return skipped_; }
  friend constexpr bool operator==(const TryRecvError&, const TryRecvError&) = default;

 private:
  constexpr TryRecvError(Kind k, std::uint64_t n) noexcept : kind_(k), skipped_(n) {}
  Kind kind_;
  std::uint64_t skipped_;
};

/// The stream adaptor's error item: `count` values were skipped (tokio-stream's
/// BroadcastStreamRecvError::Lagged).
struct Lagged {
  std::uint64_t count;
  friend constexpr bool operator==(const Lagged&, const Lagged&) = default;
};

/// send: the number of receivers that will see the value, or SendError with the value back.
template <class T>
using SendResult = Result<std::size_t, SendError<T>>;
/// recv: a copy of the next value, or RecvError (closed, or lagged with a count).
template <class T>
using RecvResult = Result<T, RecvError>;
/// try_recv: a copy of the next value, or TryRecvError (empty, closed, or lagged).
template <class T>
using TryRecvResult = Result<T, TryRecvError>;
/// The item of BroadcastStream: a value, or Lagged.
template <class T>
using StreamItem = Result<T, Lagged>;

}  // namespace weft::broadcast

namespace weft::detail {

/// A receiver's place among the waiting ones (invariant 4). A member of its Receiver (a
/// move re-points the entry); guarded by BroadcastShared::mu.
struct BroadcastWaiter {
  std::uint64_t gen = 0;    // the generation of `waiting` it was put in; 0: never
  std::uint32_t index = 0;  // its entry, if gen is current
  // The identity (vtable, data) of the waker in that entry, compared, never called: a
  // receiver polled again with the same waker (a task re-polling everything it waits on,
  // as a scanning StreamMap does) sees it is still registered without reading the entry.
  const void* waker_vtable = nullptr;
  const void* waker_data = nullptr;
};
/// An entry of BroadcastShared::waiting.
struct BroadcastWait {
  Waker waker;
  BroadcastWaiter* owner;
};

template <class T>
struct BroadcastSlot {
  std::uint64_t pos = 0;  // the position last written here (invariant 1)
  std::size_t rem = 0;    // receivers still to read it (invariant 3)
  std::optional<T> val;
};

template <class T>
struct BroadcastShared {
  explicit BroadcastShared(std::size_t cap) : buffer(new BroadcastSlot<T>[cap]), mask(cap - 1) {
    // Invariant 1: "a lap before 0", never written (unsigned wrap-around is intended).
    for (std::size_t i = 0; i < cap; ++i) buffer[i].pos = std::uint64_t{i} - std::uint64_t{cap};
  }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return mask + 1; }
  BroadcastSlot<T>& slot(std::uint64_t pos) noexcept { return buffer[pos & mask]; }

  // Under mu, for a send or the close: every waiting receiver, which starts a new
  // generation (invariant 4); the spare vector (empty, with capacity) takes its place.
  std::vector<BroadcastWait> take_waiting_locked() noexcept {
    std::vector<BroadcastWait> taken;
    if (waiting.empty()) return taken;
    taken.swap(waiting);
    waiting.swap(spare);
    ++wait_gen;
    return taken;
  }
  // Without the lock: wakes what take_waiting_locked took, then hands the vector back, so a
  // steady stream of sends does not allocate. If nothing registered meanwhile, the woken
  // receivers re-register into the vector just read (in cache), not into the spare.
  void wake(std::vector<BroadcastWait>&& taken) noexcept {
    if (taken.empty()) return;
    // The targets are independent (receivers' tasks or map entries, often cold): loading
    // them a fixed distance ahead of the wakes overlaps their misses instead of taking them
    // one wake at a time.
    constexpr std::size_t ahead = 64;
    const std::size_t n = taken.size();
    for (std::size_t i = 0; i < n && i < ahead; ++i) prefetch_head_for_write(taken[i].waker.data());
    for (std::size_t i = 0; i < n; ++i) {
      if (i + ahead < n) prefetch_head_for_write(taken[i + ahead].waker.data());
      std::move(taken[i].waker).wake();
    }
    taken.clear();  // no-op wakers now
    std::lock_guard l(mu);
    if (waiting.empty() && waiting.capacity() <= taken.capacity()) waiting.swap(taken);
    if (spare.capacity() < taken.capacity()) spare.swap(taken);
  }

  std::mutex mu;
  std::unique_ptr<BroadcastSlot<T>[]> buffer;  // guarded by mu
  const std::uint64_t mask;           // capacity - 1 (capacity is a power of two)
  std::uint64_t tail = 0;             // guarded by mu: the position of the next send
  std::size_t rx_count = 1;           // guarded by mu: live receivers
  bool closed = false;                // guarded by mu: the last sender is gone
  std::vector<BroadcastWait> waiting;  // guarded by mu (invariant 4)
  std::vector<BroadcastWait> spare;    // guarded by mu: empty; a previous `waiting`'s storage
  std::uint64_t wait_gen = 1;          // guarded by mu: the generation of `waiting`
  // Live senders. Written by Sender copies and drops; read only by those RMWs, to elect
  // the last sender, which then sets `closed` under mu. Publishes nothing by itself.
  std::atomic<std::size_t> tx_count{1};
};

}  // namespace weft::detail

namespace weft::broadcast {

template <class T>
class Sender;
template <class T>
class Receiver;
template <class T>
class BroadcastStream;

/// The sending half. Copyable; send never waits. When the last copy is gone, receivers
/// drain what is left and then see RecvError::closed.
template <class T>
class Sender {
 public:
  Sender(const Sender& o) noexcept : c_(o.c_) {
    // Relaxed: a new sender is made from a live one, so the count cannot reach 0 meanwhile;
    // nothing is published.
    if (c_) c_->tx_count.fetch_add(1, std::memory_order_relaxed);
  }
  Sender(Sender&&) noexcept = default;
  Sender& operator=(Sender o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~Sender() {
    // AcqRel: the release orders this sender's sends before its decrement; the last
    // sender's acquire synchronizes with every other sender's release, so all their sends
    // happened before it sets `closed` (no value follows the close).
    if (c_ && c_->tx_count.fetch_sub(1, std::memory_order_acq_rel) == 1) close();
  }

  /// Sends a value to every current receiver, never waiting. Returns the number of
  /// receivers that will see it (a slow one may skip it: it will see lagged), or
  /// SendError with the value back when there is no receiver. If the ring is full, the
  /// oldest value is overwritten (and destroyed, outside the lock).
  SendResult<T> send(T value) {
    check();
    auto& s = *c_;
    std::optional<T> dead;  // the overwritten value, destroyed after the lock is released
    std::vector<detail::BroadcastWait> woken;
    std::size_t receivers;
    {
      std::lock_guard l(s.mu);
      if (s.rx_count == 0) return SendResult<T>::err(SendError<T>{std::move(value)});
      const std::uint64_t pos = s.tail;
      detail::BroadcastSlot<T>& slot = s.slot(pos);
      dead.swap(slot.val);  // engaged if some receiver never read it: it will see lagged
      slot.val.emplace(std::move(value));
      slot.pos = pos;
      slot.rem = s.rx_count;
      s.tail = pos + 1;
      receivers = s.rx_count;
      woken = s.take_waiting_locked();  // all of them: each waits for this value (invariant 4)
    }
    s.wake(std::move(woken));
    return SendResult<T>::ok(receivers);
  }

  /// A new receiver that sees every value sent from now on.
  [[nodiscard]] Receiver<T> subscribe() const {
    check();
    return Receiver<T>::subscribe_to(c_);
  }
  /// Live receivers (a snapshot).
  [[nodiscard]] std::size_t receiver_count() const {
    check();
    std::lock_guard l(c_->mu);
    return c_->rx_count;
  }
  [[nodiscard]] bool same_channel(const Sender& o) const noexcept { return c_ == o.c_; }

 private:
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel(std::size_t);
  explicit Sender(std::shared_ptr<detail::BroadcastShared<T>> c) noexcept : c_(std::move(c)) {}
  void check() const {
    if (!c_) throw std::logic_error("weft::broadcast::Sender: used after being moved from");
  }
  // The last sender is gone: wake every waiter; they will see closed once they have read
  // what is left. No receiver registers after `closed` is set (invariant 4).
  void close() noexcept {
    std::vector<detail::BroadcastWait> woken;
    {
      std::lock_guard l(c_->mu);
      c_->closed = true;
      woken = c_->take_waiting_locked();
    }
    c_->wake(std::move(woken));
  }
  std::shared_ptr<detail::BroadcastShared<T>> c_;
};

/// The receiving half. Move-only; each receiver reads every value sent after it was made
/// (by channel, subscribe or resubscribe), each as a copy.
template <class T>
class Receiver {
 public:
  Receiver(Receiver&& o) noexcept : s_(std::move(o.s_)), next_(o.next_) { take_waiter(o); }
  Receiver& operator=(Receiver&& o) noexcept {
    if (this != &o) {
      drop();
      s_ = std::move(o.s_);
      next_ = o.next_;
      take_waiter(o);
    }
    return *this;
  }
  ~Receiver() { drop(); }

  /// Ready(a copy of the next value), Ready(RecvError::lagged(n)) if n values were
  /// overwritten before this receiver read them (the next recv yields the oldest value
  /// still held), Ready(RecvError::closed) once every sender is gone and everything was
  /// read, or Pending (the waker is registered). Spends the cooperative budget.
  Poll<RecvResult<T>> poll_recv(Context& cx) {
    bool waits = false;
    return poll_recv_then_wait(cx, waits, false);
  }

  /// As poll_recv; and when it returns a value that was the last one sent so far (and the
  /// channel is open), it also registers cx's waker for the next, in the same lock section,
  /// and sets `waits`: a poll now would return Pending, so the caller need not make one
  /// before it is woken (ReadyStreamMap skips it: one lock and one poll less per wake).
  /// If registering fails (no memory for the waiting vector), `waits` stays false and the
  /// value is still returned.
  Poll<RecvResult<T>> poll_recv_then_wait(Context& cx, bool& waits) { return poll_recv_then_wait(cx, waits, true); }

 private:
  Poll<RecvResult<T>> poll_recv_then_wait(Context& cx, bool& waits, bool wait_when_drained) {
    check();
    waits = false;
    if (!coop::poll_proceed(cx)) return pending;
    // Destroyed after the lock is released (declared before it is taken).
    std::optional<T> dead;
    Waker dropped;
    std::optional<T> out;
    std::uint64_t skipped = 0;
    Step st;
    {
      std::lock_guard l(s_->mu);
      st = step_locked(out, dead, skipped);
      if (st == Step::empty) {
        register_locked(cx, dropped);
      } else {
        unregister_locked(dropped);  // a result: no longer waiting
        // Drained by this value (next_ == tail, invariant 1) and open: wait for the next
        // now, as the Pending poll that would follow does (invariant 4 holds: nothing at
        // next_ == tail, not closed).
        if (wait_when_drained && st == Step::value && next_ == s_->tail && !s_->closed) {
          // unregister_locked left the waiter unregistered, so this takes the push path and
          // does not touch `dropped`.
          try {
            register_locked(cx, dropped);
            waits = true;
          } catch (...) {
            // The vector could not grow (nothing changed): the caller polls again, as it
            // would without this.
          }
        }
      }
    }
    if (st == Step::empty) return pending;
    coop::made_progress();
    switch (st) {
      case Step::value:
        return RecvResult<T>::ok(std::move(*out));
      case Step::lagged:
        return RecvResult<T>::err(RecvError::lagged(skipped));
      default:
        return RecvResult<T>::err(RecvError::closed());
    }
  }

 public:
  class [[nodiscard]] Recv {
   public:
    explicit Recv(Receiver* r) noexcept : r_(r) {}
    Recv(Recv&& o) noexcept : r_(o.r_), waiting_(std::exchange(o.waiting_, false)) {}
    Recv& operator=(Recv&&) = delete;
    ~Recv() {
      if (waiting_) r_->cancel_wait();
    }
    Poll<RecvResult<T>> poll(Context& cx) {
      auto p = r_->poll_recv(cx);
      waiting_ = p.is_pending();
      return p;
    }

   private:
    Receiver* r_;
    bool waiting_ = false;
  };
  /// `co_await rx.recv()`: the next value, or RecvError (closed / lagged). Cancel safe:
  /// dropping it while pending loses nothing and unregisters its waker.
  Recv recv() {
    check();
    return Recv(this);
  }

  /// Never waits: a copy of the next value, or TryRecvError (empty, closed, lagged(n)).
  /// Spends no budget.
  TryRecvResult<T> try_recv() {
    check();
    std::optional<T> dead;  // destroyed after the lock is released
    std::optional<T> out;
    std::uint64_t skipped = 0;
    Step st;
    {
      std::lock_guard l(s_->mu);
      st = step_locked(out, dead, skipped);
    }
    switch (st) {
      case Step::value:
        return TryRecvResult<T>::ok(std::move(*out));
      case Step::lagged:
        return TryRecvResult<T>::err(TryRecvError::lagged(skipped));
      case Step::empty:
        return TryRecvResult<T>::err(TryRecvError::empty());
      default:
        return TryRecvResult<T>::err(TryRecvError::closed());
    }
  }

  /// A new receiver on the same channel, positioned at the tail (it sees only values sent
  /// from now on), as tokio's resubscribe.
  [[nodiscard]] Receiver resubscribe() const {
    check();
    return subscribe_to(s_);
  }

  /// Values sent since this receiver's position (tokio's Receiver::len). It can exceed the
  /// capacity when the receiver lagged; the excess will be reported as lagged.
  [[nodiscard]] std::size_t len() const {
    check();
    std::lock_guard l(s_->mu);
    return static_cast<std::size_t>(s_->tail - next_);
  }
  [[nodiscard]] bool is_empty() const { return len() == 0; }
  [[nodiscard]] bool same_channel(const Receiver& o) const noexcept { return s_ == o.s_; }

  /// The receiver as a Stream of StreamItem<T> (a value or Lagged), ending when closed.
  BroadcastStream<T> into_stream() && { return BroadcastStream<T>(std::move(*this)); }

 private:
  friend class Sender<T>;
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel(std::size_t);
  enum class Step { value, empty, closed, lagged };

  Receiver(std::shared_ptr<detail::BroadcastShared<T>> s, std::uint64_t next) noexcept
      : s_(std::move(s)), next_(next) {}
  static Receiver subscribe_to(const std::shared_ptr<detail::BroadcastShared<T>>& s) {
    std::lock_guard l(s->mu);
    ++s->rx_count;
    return Receiver(s, s->tail);
  }
  void check() const {
    if (!s_) throw std::logic_error("weft::broadcast::Receiver: used after being moved from");
  }

  // Under mu. Copies the value at next_ into `out` and advances (if this receiver was its
  // last reader the value is moved into `dead`, for the caller to destroy after unlocking);
  // or reports empty / closed; or, if the value was overwritten, moves next_ to the oldest
  // value held and reports how many were skipped. If copying throws, nothing has changed.
  Step step_locked(std::optional<T>& out, std::optional<T>& dead, std::uint64_t& skipped) {
    detail::BroadcastShared<T>& s = *s_;
    detail::BroadcastSlot<T>& slot = s.slot(next_);
    if (slot.pos != next_) {
      if (slot.pos + s.capacity() == next_) return s.closed ? Step::closed : Step::empty;  // next_ == tail
      // Overwritten (invariant 2): tail - capacity > next_, so skipped >= 1.
      std::uint64_t oldest = s.tail - s.capacity();
      skipped = oldest - next_;
      next_ = oldest;
      return Step::lagged;
    }
    out.emplace(*slot.val);  // invariant 3: this receiver is counted in rem, so val is engaged
    ++next_;
    if (--slot.rem == 0) dead.swap(slot.val);
    return Step::value;
  }
  // Under mu: waits for the value at next_ (== tail) with cx's waker; a replaced waker goes
  // to `dropped`. May throw (the vector grows): then nothing changed.
  void register_locked(Context& cx, Waker& dropped) {
    detail::BroadcastShared<T>& s = *s_;
    detail::BroadcastWaiter& w = waiter_;
    const Waker& by = cx.waker();
    if (w.gen == s.wait_gen) {
      // Still waiting (next_ only moves on a result, which unregisters).
      if (w.waker_vtable == by.vtable() && w.waker_data == by.data()) return;  // Waker::will_wake
      dropped = std::exchange(s.waiting[w.index].waker, by);
      w.waker_vtable = by.vtable();
      w.waker_data = by.data();
      return;
    }
    if (s.waiting.size() >= std::numeric_limits<std::uint32_t>::max())
      throw std::length_error("weft::broadcast: too many receivers waiting at once");
    // Grown before the waker is cloned, so that a throw destroys no waker under the lock.
    if (s.waiting.size() == s.waiting.capacity()) s.waiting.reserve(2 * s.waiting.size() + 1);
    s.waiting.push_back(detail::BroadcastWait{by, &w});  // no allocation: cannot throw
    w.gen = s.wait_gen;
    w.waker_vtable = by.vtable();
    w.waker_data = by.data();
    w.index = static_cast<std::uint32_t>(s.waiting.size() - 1);
    may_wait_ = true;
  }
  // Under mu: stops waiting; the waker goes to `dropped`. The last entry moves into the
  // hole (its owner's index follows it).
  void unregister_locked(Waker& dropped) noexcept {
    detail::BroadcastShared<T>& s = *s_;
    detail::BroadcastWaiter& w = waiter_;
    if (w.gen == s.wait_gen) {
      dropped = std::move(s.waiting[w.index].waker);
      if (w.index + 1 != s.waiting.size()) {
        s.waiting[w.index] = std::move(s.waiting.back());
        s.waiting[w.index].owner->index = w.index;
      }
      s.waiting.pop_back();
    }
    w.gen = 0;
    may_wait_ = false;
  }
  // Move construction and assignment, after s_ and next_ were taken from `o`: if o may be
  // waiting, its entry in `waiting` now names this receiver's waiter. Under the lock, since
  // a sender may be taking the vector right now.
  void take_waiter(Receiver& o) noexcept {
    waiter_ = detail::BroadcastWaiter{};  // a generation of another channel must not match
    if (!std::exchange(o.may_wait_, false)) return;  // not registered since it last unregistered
    std::lock_guard l(s_->mu);
    if (o.waiter_.gen != s_->wait_gen) {  // a send or the close took it meanwhile
      o.waiter_.gen = 0;
      return;
    }
    waiter_ = o.waiter_;
    s_->waiting[waiter_.index].owner = &waiter_;
    o.waiter_.gen = 0;
    may_wait_ = true;
  }
  void cancel_wait() noexcept {
    if (!s_) return;  // moved from while a recv was pending: the waiter moved along
    Waker dropped;  // dropped after the lock is released
    std::lock_guard l(s_->mu);
    unregister_locked(dropped);
  }

  // Leaves the channel: stops counting as a receiver, unregisters, and gives up its share
  // of each value it has not read (destroying those it was the last reader of), one lock
  // acquisition per value (as tokio), so no allocation is needed.
  void drop() noexcept {
    if (!s_) return;
    detail::BroadcastShared<T>& s = *s_;
    std::uint64_t until;
    {
      Waker dropped;  // dropped after the lock is released (declared before it)
      std::lock_guard l(s.mu);
      --s.rx_count;
      unregister_locked(dropped);
      until = s.tail;  // values sent from now on do not count this receiver
    }
    while (next_ < until) {
      std::optional<T> dead;  // destroyed after the lock is released
      std::lock_guard l(s.mu);
      detail::BroadcastSlot<T>& slot = s.slot(next_);
      if (slot.pos != next_) {
        // Overwritten meanwhile (invariant 2; next_ < tail, so it was written): the values
        // from tail - capacity on still count this receiver if sent before `until`.
        next_ = s.tail - s.capacity();
        continue;
      }
      ++next_;
      if (--slot.rem == 0) dead.swap(slot.val);
    }
    s_.reset();
  }

  std::shared_ptr<detail::BroadcastShared<T>> s_;
  std::uint64_t next_ = 0;  // the position this receiver reads next (invariant 2)
  detail::BroadcastWaiter waiter_;  // guarded by s_->mu (invariant 4)
  // Owner only: this receiver may be waiting. Set when it registers, cleared when it
  // unregisters; a send that takes the waiting vector does not touch it (hence "may"). A
  // move needs the lock only when it is set.
  bool may_wait_ = false;
};
static_assert(Future<Receiver<int>::Recv>);

/// A Receiver as a Stream (tokio-stream's BroadcastStream): items are StreamItem<T>, a
/// value or Lagged{n}; the stream ends (nullopt) when the channel is closed and drained.
/// Polling spends the cooperative budget as poll_recv does. Cancel safe.
template <class T>
class BroadcastStream {
 public:
  using Item = StreamItem<T>;
  explicit BroadcastStream(Receiver<T> rx) noexcept : rx_(std::move(rx)) {}
  BroadcastStream(BroadcastStream&&) noexcept = default;
  BroadcastStream& operator=(BroadcastStream&&) noexcept = default;

  Poll<std::optional<Item>> poll_next(Context& cx) {
    bool waits = false;
    return poll(cx, waits, false);
  }
  /// As poll_next; `waits` is set when the item returned was the last one sent so far and
  /// cx's waker is registered for the next (Receiver::poll_recv_then_wait): the stream need
  /// not be polled again before it is woken (the optional Stream member that ReadyStreamMap
  /// uses, stream.hpp).
  Poll<std::optional<Item>> poll_next_then_wait(Context& cx, bool& waits) { return poll(cx, waits, true); }
  /// The receiver inside.
  Receiver<T>& get_mut() noexcept { return rx_; }
  /// Back to the receiver.
  Receiver<T> into_inner() && noexcept { return std::move(rx_); }

 private:
  Poll<std::optional<Item>> poll(Context& cx, bool& waits, bool wait_when_drained) {
    auto p = wait_when_drained ? rx_.poll_recv_then_wait(cx, waits) : rx_.poll_recv(cx);
    if (p.is_pending()) return pending;
    RecvResult<T> r = std::move(p).take();
    if (r) return std::optional<Item>(Item::ok(std::move(r).value()));
    if (r.error().is_closed()) return std::optional<Item>();
    return std::optional<Item>(Item::err(Lagged{r.error().lagged_count()}));
  }
  Receiver<T> rx_;
};

static_assert(Stream<BroadcastStream<int>>);

/// The receiver as a Stream of StreamItem<T> (a value or Lagged), ending when closed.
template <class T>
BroadcastStream<T> stream(Receiver<T> rx) {
  return BroadcastStream<T>(std::move(rx));
}

/// A channel whose ring holds `capacity` values, rounded up to a power of two. Throws
/// std::invalid_argument if capacity is 0 or too large to round up.
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(std::size_t capacity) {
  static_assert(std::is_copy_constructible_v<T>, "weft::broadcast: each receiver gets a copy, so T must be copyable");
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "weft::broadcast: values are moved out of the ring to be destroyed after the lock is "
                "released, so T's move constructor must be noexcept (wrap T in a std::shared_ptr)");
  if (capacity == 0) throw std::invalid_argument("weft::broadcast::channel: capacity must be at least 1");
  if (capacity > (std::numeric_limits<std::size_t>::max() >> 1) + 1)
    throw std::invalid_argument("weft::broadcast::channel: capacity too large");
  auto s = std::make_shared<detail::BroadcastShared<T>>(std::bit_ceil(capacity));
  return {Sender<T>(s), Receiver<T>(s, 0)};
}

}  // namespace weft::broadcast
