#pragma once
// mpsc channels: many senders, one receiver (tokio::sync::mpsc). unbounded_channel<T>()
// never waits to send; channel<T>(capacity) gives back-pressure: `co_await tx.send(v)` waits
// for room, and `co_await tx.reserve()` reserves room before the value exists.
//
// The queue is lock-free (detail/mpsc_queue.hpp: a send is one allocation, one exchange and
// one store, then the receiver's AtomicWaker is woken). The bounded channel's capacity is a
// Semaphore: a send takes a permit, a receive returns one.
//
// Lifecycle:
// - Senders are copyable. A pending bounded send and an unused Permit count as senders too:
//   the receiver reports end-of-stream (recv yields nullopt) only after every sender, send
//   in progress and permit is gone and the queue is drained, so a send that reports success
//   is always received or dropped with the receiver, never lost in between.
// - Receiver::close() fails later sends (they hand their value back) and wakes waiting
//   bounded senders; values already queued can still be received.
// - Dropping the receiver closes the channel and destroys the queued values at once (not
//   when the last sender goes), so a channel of connections or buffers releases them.
//
// Results: send and try_send return a [[nodiscard]] weft::Result whose error carries the
// value back (SendError, TrySendError). blocking_send / blocking_recv are for threads outside
// every runtime (called on a worker they throw std::logic_error).
//
// Budget: poll_recv (recv, the Stream) and a bounded send's wait spend the cooperative
// budget (coop.hpp), so a task draining an always-ready channel still yields.
//
// Cancel safety: dropping a pending recv loses nothing. Dropping a pending bounded send
// drops its value and returns any permit it was assigned. Dropping a pending reserve returns
// its permit; dropping an unused Permit returns its slot.
#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "weft/coop.hpp"
#include "weft/detail/block_thread.hpp"
#include "weft/detail/cache_padded.hpp"
#include "weft/detail/mpsc_queue.hpp"
#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/result.hpp"
#include "weft/sync/atomic_waker.hpp"
#include "weft/sync/semaphore.hpp"

namespace weft::mpsc {

enum class TryRecvError { empty, disconnected };

/// The receiver is closed or gone: the value comes back.
template <class T>
struct SendError {
  T value;
};
/// try_send failed: the value comes back, with why.
template <class T>
struct TrySendError {
  enum class Kind { full, closed };
  Kind kind;
  T value;
  [[nodiscard]] bool is_full() const noexcept { return kind == Kind::full; }
  [[nodiscard]] bool is_closed() const noexcept { return kind == Kind::closed; }
};
/// Why reserve / try_reserve gave no permit.
enum class ReserveError { full, closed };

template <class T>
using SendResult = Result<void, SendError<T>>;
template <class T>
using TrySendResult = Result<void, TrySendError<T>>;

}  // namespace weft::mpsc

namespace weft::detail {
/// The shared channel. Its lifetime: `refs` counts the receiver and one reference held by
/// all sender-likes together (senders, pending sends, permits: counted in `tx_count`), so
/// making a sender costs one atomic increment.
template <class T>
struct MpscChan {
  explicit MpscChan(std::size_t cap) : capacity(cap) {
    if (cap > 0) sem.emplace(cap);
  }
  MpscQueue<T> queue;
  // rx_waker and state share a line: every send touches both, and so does the receiver.
  AtomicWaker rx_waker;
  std::atomic<std::size_t> refs{2};  // the receiver + the sender-likes (while tx_count > 0)
  // Bit 0 (CLOSED): the receiver closed (or was dropped). Bit 1 (TX_GONE): every sender-like
  // is gone (set once, by the last one). The rest: sends in flight, times 4.
  // A send enters with fetch_add(ONE_SEND) and gives up if CLOSED was set; close() sets the bit
  // with fetch_or. Both are RMWs on one word, so their order is total: a send either
  // entered before the close (and the receiver, having closed, waits for the in-flight
  // count to drop to 0 before it reports the end) or sees the bit and hands its value back.
  // So a send that reports success is always received (or destroyed by the receiver's drop).
  std::atomic<std::uint64_t> state{0};
  std::optional<Semaphore> sem;  // bounded channels only
  const std::size_t capacity;    // 0: unbounded
  // Live sender-likes; 0 is final. Every bounded send changes it (its future is a sender),
  // so it has a line of its own: the receiver never reads it (it reads TX_GONE in `state`).
  cache_padded<std::atomic<std::size_t>> tx_count{{1}};

  static constexpr std::uint64_t CLOSED = 1;
  static constexpr std::uint64_t TX_GONE = 2;
  static constexpr std::uint64_t ONE_SEND = 4;

  void ref_dec() noexcept {
    // AcqRel: the last one sees every other holder's uses before deleting.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  void tx_inc() noexcept {
    // Relaxed: made from a live sender-like (tx_count >= 1); no data is published.
    tx_count->fetch_add(1, std::memory_order_relaxed);
  }
  void tx_dec() noexcept {
    // AcqRel: the last one acquires every other sender-like's release (their sends came
    // first), then publishes TX_GONE (release), which the receiver's acquire of `state`
    // pairs with: end-of-stream is seen only after every value sent.
    if (tx_count->fetch_sub(1, std::memory_order_acq_rel) == 1) {
      state.fetch_or(TX_GONE, std::memory_order_acq_rel);
      rx_waker.wake();
      ref_dec();
    }
  }

  [[nodiscard]] bool closed() const noexcept {
    // Acquire: pairs with close()'s acq_rel fetch_or.
    return state.load(std::memory_order_acquire) & CLOSED;
  }
  /// Every sender-like gone, or the receiver closed: after draining, the stream ends.
  [[nodiscard]] bool finished() const noexcept {
    // Acquire: pairs with the fetch_or of TX_GONE (tx_dec) or CLOSED (close).
    return state.load(std::memory_order_acquire) & (CLOSED | TX_GONE);
  }
  void close() noexcept {
    // AcqRel: orders the close against the sends' entry RMWs (same word).
    state.fetch_or(CLOSED, std::memory_order_acq_rel);
  }
  [[nodiscard]] bool sends_in_flight() const noexcept {
    // Acquire: pairs with the release exit of a send (its push is then visible).
    return state.load(std::memory_order_acquire) >= ONE_SEND;
  }

  // Pushes unless closed; returns the value back if closed.
  std::optional<T> push(T v) {
    // Acquire sees a close that came first; the exit below releases the push.
    if (state.fetch_add(ONE_SEND, std::memory_order_acquire) & CLOSED) {
      state.fetch_sub(ONE_SEND, std::memory_order_release);
      return std::optional<T>(std::move(v));
    }
    struct Exit {  // also when the push throws (allocation, T's move): never a stuck count
      std::atomic<std::uint64_t>& st;
      // Release: pairs with sends_in_flight()'s acquire in the receiver's final drain.
      ~Exit() { st.fetch_sub(ONE_SEND, std::memory_order_release); }
    };
    {
      Exit exit{state};
      queue.push(std::move(v));
    }
    rx_waker.wake();
    return std::nullopt;
  }
};

/// One counted sender-like reference to a channel (see MpscChan).
template <class T>
class MpscTxRef {
 public:
  MpscTxRef() noexcept = default;
  explicit MpscTxRef(MpscChan<T>* c) noexcept : c_(c) {}  // adopts tx_count's initial 1
  MpscTxRef(const MpscTxRef& o) noexcept : c_(o.c_) {
    if (c_) c_->tx_inc();
  }
  MpscTxRef(MpscTxRef&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  MpscTxRef& operator=(MpscTxRef o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~MpscTxRef() {
    if (c_) c_->tx_dec();
  }
  MpscChan<T>* get() const noexcept { return c_; }
  MpscChan<T>* operator->() const noexcept { return c_; }
  explicit operator bool() const noexcept { return c_ != nullptr; }

 private:
  MpscChan<T>* c_ = nullptr;
};
}  // namespace weft::detail

namespace weft::mpsc {

template <class T>
class Receiver;
template <class T, bool Bounded>
class BasicSender;
/// The sender of a bounded channel: `co_await tx.send(v)` waits for room.
template <class T>
using Sender = BasicSender<T, true>;
/// The sender of an unbounded channel: `tx.send(v)` never waits.
template <class T>
using UnboundedSender = BasicSender<T, false>;

/// Reserved room in a bounded channel (from Sender::reserve / try_reserve): send() cannot
/// wait or find the channel full. It counts as a sender. Dropping it unused frees the slot.
template <class T>
class [[nodiscard]] Permit {
 public:
  Permit(Permit&& o) noexcept = default;
  Permit& operator=(Permit&& o) noexcept {
    if (this != &o) {
      release();
      tx_ = std::move(o.tx_);
    }
    return *this;
  }
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  ~Permit() { release(); }

  /// Sends into the reserved slot; fails (the value comes back) only if the receiver
  /// closed or was dropped since the reservation. Consumes the permit.
  SendResult<T> send(T v) && {
    if (!tx_) throw std::logic_error("weft::mpsc::Permit: send on a used or moved-from permit");
    detail::MpscTxRef<T> tx = std::move(tx_);
    if (auto back = tx->push(std::move(v))) {
      tx->sem->release(1);
      return Err(SendError<T>{std::move(*back)});
    }
    return {};
  }

 private:
  template <class, bool>
  friend class BasicSender;
  explicit Permit(detail::MpscTxRef<T> tx) noexcept : tx_(std::move(tx)) {}
  void release() noexcept {
    if (tx_) {
      tx_->sem->release(1);
      tx_ = detail::MpscTxRef<T>();
    }
  }
  detail::MpscTxRef<T> tx_;
};

/// A sender. Copyable; the receiver ends when the last copy (and every pending send and
/// permit) is gone.
template <class T, bool Bounded>
class BasicSender {
 public:
  BasicSender(const BasicSender&) noexcept = default;
  BasicSender(BasicSender&&) noexcept = default;
  BasicSender& operator=(const BasicSender&) noexcept = default;
  BasicSender& operator=(BasicSender&&) noexcept = default;

  /// Unbounded: sends now. Fails, handing the value back, if the receiver is closed.
  SendResult<T> send(T v)
    requires(!Bounded)
  {
    check();
    if (auto back = tx_->push(std::move(v))) return Err(SendError<T>{std::move(*back)});
    return {};
  }

  /// Bounded: a future that waits for room, then sends; it yields a SendResult (failed,
  /// with the value back, if the receiver is closed). Nothing is sent unless it is polled.
  /// Spends the cooperative budget while it waits for room.
  [[nodiscard]] auto send(T v)
    requires Bounded
  {
    check();
    return SendFuture{tx_, std::move(v)};
  }

  /// Sends without waiting; fails with full or closed, handing the value back.
  TrySendResult<T> try_send(T v) {
    check();
    using K = typename TrySendError<T>::Kind;
    if (tx_->closed()) return Err(TrySendError<T>{K::closed, std::move(v)});
    if (tx_->sem && !tx_->sem->try_acquire()) {
      K k = tx_->sem->is_closed() ? K::closed : K::full;
      return Err(TrySendError<T>{k, std::move(v)});
    }
    if (auto back = tx_->push(std::move(v))) {
      if (tx_->sem) tx_->sem->release(1);
      return Err(TrySendError<T>{K::closed, std::move(*back)});
    }
    return {};
  }

  /// Sends from a thread outside every runtime, blocking it while the channel is full.
  /// Throws std::logic_error on a runtime's thread (blocking a worker can deadlock).
  SendResult<T> blocking_send(T v)
    requires Bounded
  {
    detail::check_blocking_allowed("weft::mpsc::Sender::blocking_send");
    auto f = send(std::move(v));
    return detail::block_thread_on(f).take();
  }

  /// `co_await tx.reserve()`: waits for room and yields a Permit for it, or
  /// ReserveError::closed if the receiver is closed. Cancel safe (a permit assigned to a
  /// dropped reserve goes back to the channel).
  [[nodiscard]] auto reserve()
    requires Bounded
  {
    check();
    return ReserveFuture{tx_};
  }
  /// A Permit if there is room now; else full or closed.
  Result<Permit<T>, ReserveError> try_reserve()
    requires Bounded
  {
    check();
    if (tx_->closed()) return Err(ReserveError::closed);
    if (!tx_->sem->try_acquire()) return Err(tx_->sem->is_closed() ? ReserveError::closed : ReserveError::full);
    return Permit<T>(tx_);
  }

  /// Free slots now (max_capacity() minus queued values, reserved slots and sends that hold
  /// a slot). A snapshot: other senders and the receiver change it concurrently.
  [[nodiscard]] std::size_t capacity() const
    requires Bounded
  {
    check();
    return tx_->sem->available_permits();
  }
  /// The capacity the channel was created with.
  [[nodiscard]] std::size_t max_capacity() const
    requires Bounded
  {
    check();
    return tx_->capacity;
  }

  [[nodiscard]] bool is_closed() const noexcept { return !tx_ || tx_->closed(); }
  [[nodiscard]] bool same_channel(const BasicSender& o) const noexcept { return tx_.get() == o.tx_.get(); }

 private:
  template <class U>
  friend std::pair<UnboundedSender<U>, Receiver<U>> unbounded_channel();
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel(std::size_t);
  explicit BasicSender(detail::MpscTxRef<T> tx) noexcept : tx_(std::move(tx)) {}
  void check() const {
    if (!tx_) throw std::logic_error("weft::mpsc::Sender: used after being moved from");
  }

  // A pending send holds its own sender reference (see the lifecycle note at the top).
  class [[nodiscard]] SendFuture {
   public:
    SendFuture(const detail::MpscTxRef<T>& tx, T v) : tx_(tx), v_(std::move(v)) { acquire_.emplace(tx_->sem->acquire()); }
    SendFuture(SendFuture&&) = default;  // only before the first poll
    Poll<SendResult<T>> poll(Context& cx) {
      if (!v_) throw std::logic_error("weft::mpsc::Sender::send polled after completion");
      auto p = acquire_->poll(cx);
      if (p.is_pending()) return pending;
      acquire_.reset();
      if (*p == Semaphore::AcquireResult::closed) return finish(std::move(v_));
      // Holding a permit: push (or give it back if the receiver closed meanwhile).
      auto back = tx_->push(std::move(*v_));
      v_.reset();
      if (back) tx_->sem->release(1);
      return finish(std::move(back));
    }

   private:
    Poll<SendResult<T>> finish(std::optional<T> back) {
      v_.reset();
      tx_ = detail::MpscTxRef<T>();  // no longer a sender
      if (back) return SendResult<T>(Err(SendError<T>{std::move(*back)}));
      return SendResult<T>();
    }
    detail::MpscTxRef<T> tx_;
    std::optional<T> v_;
    std::optional<Semaphore::Acquire> acquire_;
  };

  class [[nodiscard]] ReserveFuture {
   public:
    explicit ReserveFuture(const detail::MpscTxRef<T>& tx) : tx_(tx), acquire_(tx_->sem->acquire()) {}
    ReserveFuture(ReserveFuture&&) = default;  // only before the first poll
    Poll<Result<Permit<T>, ReserveError>> poll(Context& cx) {
      if (!tx_) throw std::logic_error("weft::mpsc::Sender::reserve polled after completion");
      auto p = acquire_.poll(cx);
      if (p.is_pending()) return pending;
      detail::MpscTxRef<T> tx = std::move(tx_);
      if (*p == Semaphore::AcquireResult::closed) return Result<Permit<T>, ReserveError>(Err(ReserveError::closed));
      if (tx->closed()) {
        tx->sem->release(1);
        return Result<Permit<T>, ReserveError>(Err(ReserveError::closed));
      }
      return Result<Permit<T>, ReserveError>(Permit<T>(std::move(tx)));
    }

   private:
    detail::MpscTxRef<T> tx_;
    Semaphore::Acquire acquire_;
  };
  static_assert(Future<SendFuture> && Future<ReserveFuture>);

  detail::MpscTxRef<T> tx_;
};

/// The receiving half; also a Stream of T (poll_next).
template <class T>
class Receiver {
 public:
  using Item = T;
  Receiver(Receiver&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  Receiver& operator=(Receiver&& o) noexcept {
    if (this != &o) {
      drop();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() { drop(); }

  /// Ready(value), or Ready(nullopt) at end-of-stream (every sender gone and the queue
  /// drained, or closed and drained). Spends one unit of the cooperative budget when ready.
  Poll<std::optional<T>> poll_recv(Context& cx) {
    check();
    if (!coop::poll_proceed(cx)) return pending;
    // Two looks: before registering, and after it (a send or the last sender's drop that came
    // before the registration did not see our waker). Each ready path returns its result in
    // place (routing them through a helper cost store-forwarding stalls).
    for (bool registered = false;; registered = true) {
      if (auto v = try_pop()) {
        coop::made_progress();
        return v;
      }
      if (finished()) {
        coop::made_progress();
        return final_check();
      }
      if (registered) return pending;
      c_->rx_waker.register_waker(cx.waker());
    }
  }
  Poll<std::optional<T>> poll_next(Context& cx) { return poll_recv(cx); }

  /// The future of recv().
  struct Recv {
    Receiver* r;
    Poll<std::optional<T>> poll(Context& cx) { return r->poll_recv(cx); }
  };
  /// `co_await rx.recv()`: the next value, or nullopt at end-of-stream. Cancel safe.
  Recv recv() { return Recv{this}; }

  /// Receives on a thread outside every runtime, blocking it until a value or the end.
  /// Throws std::logic_error on a runtime's thread.
  std::optional<T> blocking_recv() {
    detail::check_blocking_allowed("weft::mpsc::Receiver::blocking_recv");
    auto f = recv();
    return detail::block_thread_on(f).take();
  }

  /// Never waits.
  std::optional<T> try_recv(TryRecvError* why = nullptr) {
    check();
    for (;;) {
      const bool in_flight = c_->sends_in_flight();  // before the pop: see final_check
      std::optional<T> out;
      switch (c_->queue.pop(out)) {
        case detail::MpscQueue<T>::Pop::value:
          if (c_->sem) c_->sem->release(1);
          return out;
        case detail::MpscQueue<T>::Pop::inconsistent:
          std::this_thread::yield();  // a sender is mid-push; its value is about to appear
          continue;
        case detail::MpscQueue<T>::Pop::empty:
          if (why)
            *why = finished() && !in_flight ? TryRecvError::disconnected : TryRecvError::empty;
          return std::nullopt;
      }
    }
  }

  /// Fails later sends (they get their value back) and wakes waiting bounded senders.
  /// Queued values can still be received.
  void close() {
    check();
    c_->close();
    if (c_->sem) c_->sem->close();
  }

  [[nodiscard]] bool is_closed() const noexcept {
    return !c_ || c_->finished();
  }
  /// (lower bound, upper bound): nothing is known ahead (0, unbounded) until the stream ends.
  std::pair<std::size_t, std::optional<std::size_t>> size_hint() const noexcept {
    if (!c_) return {0, std::size_t{0}};
    return {0, std::nullopt};
  }

 private:
  template <class U>
  friend std::pair<UnboundedSender<U>, Receiver<U>> unbounded_channel();
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel(std::size_t);
  explicit Receiver(detail::MpscChan<T>* c) noexcept : c_(c) {}
  void check() const {
    if (!c_) throw std::logic_error("weft::mpsc::Receiver: used after being moved from");
  }
  bool finished() const noexcept { return c_->finished(); }
  std::optional<T> try_pop() {
    std::optional<T> out;
    if (c_->queue.pop(out) == detail::MpscQueue<T>::Pop::value) {
      if (c_->sem) c_->sem->release(1);
    }
    return out;
  }
  std::optional<T> final_check() {
    // Finished: drain what is left; a mid-push sender (inconsistent) completes soon.
    for (;;) {
      // Read the in-flight count before the pop: if it was 0 then, every send that entered
      // before the close had pushed (its release exit pairs with this acquire), so an empty
      // pop is the end. Read after the pop, a send could push and exit in between, and its
      // value would be left behind as if never sent.
      const bool in_flight = c_->sends_in_flight();
      std::optional<T> out;
      auto r = c_->queue.pop(out);
      if (r == detail::MpscQueue<T>::Pop::value) {
        if (c_->sem) c_->sem->release(1);
        return out;
      }
      if (r == detail::MpscQueue<T>::Pop::empty && !in_flight) return std::nullopt;
      std::this_thread::yield();
    }
  }
  void drop() noexcept {
    if (!c_) return;
    c_->close();
    if (c_->sem) c_->sem->close();
    // Drop the registered waker now: a sender must not keep the receiving task alive.
    (void)c_->rx_waker.take();
    // Destroy what is queued now, including the values of sends that entered before the
    // close (final_check waits for them); later sends fail and keep their values.
    while (final_check()) {
    }
    std::exchange(c_, nullptr)->ref_dec();
  }
  detail::MpscChan<T>* c_;
};
static_assert(Stream<Receiver<int>> && Future<Receiver<int>::Recv>);

template <class T>
using UnboundedReceiver = Receiver<T>;

template <class T>
std::pair<UnboundedSender<T>, Receiver<T>> unbounded_channel() {
  auto* c = new detail::MpscChan<T>(0);
  return {UnboundedSender<T>(detail::MpscTxRef<T>(c)), Receiver<T>(c)};
}

/// A bounded channel holding at most `capacity` queued values. capacity 0 is rejected.
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(std::size_t capacity) {
  if (capacity == 0) throw std::invalid_argument("weft::mpsc::channel: capacity must be at least 1");
  auto* c = new detail::MpscChan<T>(capacity);
  return {Sender<T>(detail::MpscTxRef<T>(c)), Receiver<T>(c)};
}

}  // namespace weft::mpsc
