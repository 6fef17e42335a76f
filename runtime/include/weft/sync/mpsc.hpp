#pragma once
// mpsc channels: many senders, one receiver. unbounded_channel<T>() never waits to send;
// channel<T>(capacity) gives back-pressure: `co_await tx.send(v)` waits for room.
//
// The queue is lock-free (detail/mpsc_queue.hpp: a send is one allocation, one exchange and
// one store, then the receiver's AtomicWaker is woken). The bounded channel's capacity is a
// Semaphore: a send takes a permit, a receive returns one.
//
// Lifecycle: senders are copyable; when the last one is gone the receiver drains what is
// queued and then sees end-of-stream (recv yields nullopt). Receiver::close() (or dropping
// the receiver) fails later sends, which hand their value back; values already queued can
// still be received (after close) or are destroyed (after drop).
//
// Cancel safety: dropping a pending recv loses nothing. Dropping a pending bounded send
// drops its value and returns any permit it was assigned.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "weft/detail/mpsc_queue.hpp"
#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/sync/atomic_waker.hpp"
#include "weft/sync/semaphore.hpp"

namespace weft::mpsc {

enum class TryRecvError { empty, disconnected };

/// try_send failed: the value comes back.
template <class T>
struct TrySendError {
  enum class Kind { full, closed };
  Kind kind;
  T value;
  [[nodiscard]] bool is_full() const noexcept { return kind == Kind::full; }
  [[nodiscard]] bool is_closed() const noexcept { return kind == Kind::closed; }
};

namespace detail {
template <class T>
struct Chan {
  explicit Chan(std::size_t capacity) {
    if (capacity > 0) sem.emplace(capacity);
  }
  weft::detail::MpscQueue<T> queue;
  AtomicWaker rx_waker;
  std::atomic<std::size_t> tx_count{1};  // live senders
  // Bit 0: the receiver closed (or was dropped). The rest: sends in flight, times 2.
  // A send enters with fetch_add(2) and gives up if the bit was set; close() sets the bit
  // with fetch_or. Both are RMWs on one word, so their order is total: a send either
  // entered before the close (and the receiver, having closed, waits for the in-flight
  // count to drop to 0 before it reports the end) or sees the bit and hands its value back.
  // So a send that reports success is always received (unless the receiver is dropped).
  std::atomic<std::uint64_t> state{0};
  std::optional<Semaphore> sem;  // bounded channels only

  static constexpr std::uint64_t CLOSED = 1;
  static constexpr std::uint64_t ONE_SEND = 2;

  [[nodiscard]] bool closed() const noexcept {
    // Acquire: pairs with close()'s acq_rel fetch_or.
    return state.load(std::memory_order_acquire) & CLOSED;
  }
  void close() noexcept {
    // AcqRel: orders the close against the sends' entry RMWs (same word).
    state.fetch_or(CLOSED, std::memory_order_acq_rel);
  }
  [[nodiscard]] bool sends_in_flight() const noexcept {
    // Acquire: pairs with the release exit of a send (its push is then visible).
    return (state.load(std::memory_order_acquire) >> 1) != 0;
  }

  // Pushes unless closed; returns the value back if closed.
  std::optional<T> push(T v) {
    // Acquire sees a close that came first; the exit below releases the push.
    if (state.fetch_add(ONE_SEND, std::memory_order_acquire) & CLOSED) {
      state.fetch_sub(ONE_SEND, std::memory_order_release);
      return std::optional<T>(std::move(v));
    }
    queue.push(std::move(v));
    // Release: pairs with sends_in_flight()'s acquire in the receiver's final drain.
    state.fetch_sub(ONE_SEND, std::memory_order_release);
    rx_waker.wake();
    return std::nullopt;
  }
};
}  // namespace detail

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

/// A sender. Copyable; the receiver ends when the last copy is gone.
template <class T, bool Bounded>
class BasicSender {
 public:
  BasicSender(const BasicSender& o) noexcept : c_(o.c_) {
    // Relaxed: a new sender is made from a live one; no data is published.
    if (c_) c_->tx_count.fetch_add(1, std::memory_order_relaxed);
  }
  BasicSender(BasicSender&& o) noexcept = default;
  BasicSender& operator=(BasicSender o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~BasicSender() {
    // AcqRel: the last sender's release orders every send before the receiver's acquire
    // load of the count (end-of-stream only after all values).
    if (c_ && c_->tx_count.fetch_sub(1, std::memory_order_acq_rel) == 1) c_->rx_waker.wake();
  }

  /// Unbounded: sends now; nullopt on success, or the value back if the receiver is closed.
  std::optional<T> send(T v)
    requires(!Bounded)
  {
    check();
    return c_->push(std::move(v));
  }

  /// Bounded: a future that waits for room, then sends; it yields nullopt on success or
  /// the value back if the receiver is closed. Nothing is sent unless it is awaited.
  [[nodiscard]] auto send(T v)
    requires Bounded
  {
    check();
    return SendFuture{c_, std::move(v)};
  }

  /// Sends without waiting: nullopt on success, else the value back with full / closed.
  std::optional<TrySendError<T>> try_send(T v) {
    check();
    using K = typename TrySendError<T>::Kind;
    if (c_->closed()) return TrySendError<T>{K::closed, std::move(v)};
    if (c_->sem && !c_->sem->try_acquire()) {
      K k = c_->sem->is_closed() ? K::closed : K::full;
      return TrySendError<T>{k, std::move(v)};
    }
    if (auto back = c_->push(std::move(v))) {
      if (c_->sem) c_->sem->release(1);
      return TrySendError<T>{K::closed, std::move(*back)};
    }
    return std::nullopt;
  }

  [[nodiscard]] bool is_closed() const noexcept { return !c_ || c_->closed(); }
  [[nodiscard]] bool same_channel(const BasicSender& o) const noexcept { return c_ == o.c_; }

 private:
  template <class U>
  friend std::pair<UnboundedSender<U>, Receiver<U>> unbounded_channel();
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel(std::size_t);
  explicit BasicSender(std::shared_ptr<detail::Chan<T>> c) noexcept : c_(std::move(c)) {}
  void check() const {
    if (!c_) throw std::logic_error("weft::mpsc::Sender: used after being moved from");
  }

  class [[nodiscard]] SendFuture {
   public:
    SendFuture(std::shared_ptr<detail::Chan<T>> c, T v)
        : c_(std::move(c)), v_(std::move(v)) {
      acquire_.emplace(c_->sem->acquire());
    }
    SendFuture(SendFuture&&) = default;  // only before the first poll
    Poll<std::optional<T>> poll(Context& cx) {
      if (!v_) throw std::logic_error("weft::mpsc::Sender::send polled after completion");
      auto p = acquire_->poll(cx);
      if (p.is_pending()) return pending;
      acquire_.reset();
      if (*p == Semaphore::AcquireResult::closed) return take_back();
      // Holding a permit: push (or give it back if the receiver closed meanwhile).
      auto back = c_->push(std::move(*v_));
      v_.reset();
      if (back) c_->sem->release(1);
      return std::optional<T>(std::move(back));
    }

   private:
    Poll<std::optional<T>> take_back() {
      std::optional<T> back = std::move(v_);
      v_.reset();
      return back;
    }
    std::shared_ptr<detail::Chan<T>> c_;
    std::optional<T> v_;
    std::optional<Semaphore::Acquire> acquire_;
  };

  std::shared_ptr<detail::Chan<T>> c_;
};

/// The receiving half; also a Stream of T (poll_next).
template <class T>
class Receiver {
 public:
  using Item = T;
  Receiver(Receiver&&) noexcept = default;
  Receiver& operator=(Receiver&& o) noexcept {
    if (this != &o) {
      drop();
      c_ = std::move(o.c_);
    }
    return *this;
  }
  ~Receiver() { drop(); }

  /// Ready(value), or Ready(nullopt) at end-of-stream (every sender gone and the queue
  /// drained, or closed and drained).
  Poll<std::optional<T>> poll_recv(Context& cx) {
    check();
    if (auto v = try_pop()) return v;
    if (finished()) return final_check();
    c_->rx_waker.register_waker(cx.waker());
    // Re-check after registering: a send or the last sender's drop that happened before
    // the registration did not see our waker.
    if (auto v = try_pop()) return v;
    if (finished()) return final_check();
    return pending;
  }
  Poll<std::optional<T>> poll_next(Context& cx) { return poll_recv(cx); }

  /// `co_await rx.recv()`: the next value, or nullopt at end-of-stream. Cancel safe.
  auto recv() {
    struct Recv {
      Receiver* r;
      Poll<std::optional<T>> poll(Context& cx) { return r->poll_recv(cx); }
    };
    return Recv{this};
  }

  /// Never waits.
  std::optional<T> try_recv(TryRecvError* why = nullptr) {
    check();
    for (;;) {
      std::optional<T> out;
      switch (c_->queue.pop(out)) {
        case weft::detail::MpscQueue<T>::Pop::value:
          if (c_->sem) c_->sem->release(1);
          return out;
        case weft::detail::MpscQueue<T>::Pop::inconsistent:
          std::this_thread::yield();  // a sender is mid-push; its value is about to appear
          continue;
        case weft::detail::MpscQueue<T>::Pop::empty:
          if (why)
            *why = finished() && !c_->sends_in_flight() ? TryRecvError::disconnected : TryRecvError::empty;
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
    return !c_ || c_->closed() ||
           c_->tx_count.load(std::memory_order_acquire) == 0;  // pairs with the last sender's acq_rel drop
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
  explicit Receiver(std::shared_ptr<detail::Chan<T>> c) noexcept : c_(std::move(c)) {}
  void check() const {
    if (!c_) throw std::logic_error("weft::mpsc::Receiver: used after being moved from");
  }
  // Every sender gone, or closed: after draining, the stream ends.
  bool finished() const noexcept {
    // Acquire: pairs with the last sender's acq_rel decrement (all its sends are visible).
    return c_->tx_count.load(std::memory_order_acquire) == 0 || c_->closed();
  }
  std::optional<T> try_pop() {
    std::optional<T> out;
    if (c_->queue.pop(out) == weft::detail::MpscQueue<T>::Pop::value) {
      if (c_->sem) c_->sem->release(1);
    }
    return out;
  }
  Poll<std::optional<T>> final_check() {
    // Finished: drain what is left; a mid-push sender (inconsistent) completes soon.
    for (;;) {
      std::optional<T> out;
      auto r = c_->queue.pop(out);
      if (r == weft::detail::MpscQueue<T>::Pop::value) {
        if (c_->sem) c_->sem->release(1);
        return out;
      }
      // Empty: the end, unless a send that entered before the close is still pushing.
      if (r == weft::detail::MpscQueue<T>::Pop::empty && !c_->sends_in_flight()) return std::optional<T>();
      std::this_thread::yield();
    }
  }
  void drop() noexcept {
    if (!c_) return;
    c_->close();
    if (c_->sem) c_->sem->close();
    // Drop the registered waker now: a sender must not keep the receiving task alive.
    (void)c_->rx_waker.take();
    // Queued values are destroyed with the channel (when the last sender goes).
    c_.reset();
  }
  std::shared_ptr<detail::Chan<T>> c_;
};

template <class T>
using UnboundedReceiver = Receiver<T>;

template <class T>
std::pair<UnboundedSender<T>, Receiver<T>> unbounded_channel() {
  auto c = std::make_shared<detail::Chan<T>>(0);
  return {UnboundedSender<T>(c), Receiver<T>(c)};
}

/// A bounded channel holding at most `capacity` queued values. capacity 0 is rejected.
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(std::size_t capacity) {
  if (capacity == 0) throw std::invalid_argument("weft::mpsc::channel: capacity must be at least 1");
  auto c = std::make_shared<detail::Chan<T>>(capacity);
  return {Sender<T>(c), Receiver<T>(c)};
}

}  // namespace weft::mpsc
