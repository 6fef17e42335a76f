#pragma once
// oneshot::channel<T>(): send one value from one task to another. Lock-free; after tokio's
// sync/oneshot.rs.
//
// State word bits (`detail::OneshotInner::state`):
//   RX_TASK_SET  rx_waker holds the receiver's waker and belongs to the sender side.
//   VALUE_SENT   the sender finished: the value slot is written (or stays empty when the
//                sender was dropped unsent). Terminal for the sender.
//   CLOSED       the receiver closed or was dropped: send fails and returns the value.
//   TX_TASK_SET  tx_waker holds the sender's closed() waker and belongs to the receiver side.
// Ownership: the value slot is written by the sender before it sets VALUE_SENT (release) and
// read by the receiver only after it observed VALUE_SENT (acquire); if the receiver set
// CLOSED first, the sender takes the value back. A waker slot with its *_TASK_SET bit clear
// belongs to its owner (receiver: rx_waker; sender: tx_waker), which writes it and then
// sets the bit (release); the other side reads it only after seeing the bit (acquire) and
// the owner clears the bit (CAS) before rewriting it.
#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "weft/coop.hpp"
#include "weft/detail/half_ref.hpp"
#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/result.hpp"
#include "weft/waker.hpp"

namespace weft::oneshot {

/// The sender was dropped without sending.
struct RecvError : std::runtime_error {
  RecvError() : std::runtime_error("weft::oneshot: the sender was dropped without sending") {}
};

enum class TryRecvError { empty, closed };

}  // namespace weft::oneshot

namespace weft::detail {

/// The shared state of a oneshot channel (see the top of oneshot.hpp).
template <class T>
struct OneshotInner {
  static constexpr unsigned RX_TASK_SET = 1;
  static constexpr unsigned VALUE_SENT = 2;
  static constexpr unsigned CLOSED = 4;
  static constexpr unsigned TX_TASK_SET = 8;

  std::atomic<unsigned> state{0};
  std::optional<T> value;
  Waker rx_waker;
  Waker tx_waker;

  // Sender: VALUE_SENT unless CLOSED. Returns the previous state.
  unsigned set_complete() noexcept {
    // AcqRel: release publishes the value; acquire sees the receiver's waker.
    unsigned cur = state.load(std::memory_order_acquire);
    for (;;) {
      if (cur & CLOSED) return cur;
      if (state.compare_exchange_weak(cur, cur | VALUE_SENT, std::memory_order_acq_rel, std::memory_order_acquire))
        return cur;
    }
  }
  // Receiver: CLOSED. Returns the previous state.
  unsigned set_closed() noexcept {
    // AcqRel: acquire sees the sender's tx_waker / value; release tells the sender to stop.
    return state.fetch_or(CLOSED, std::memory_order_acq_rel);
  }
  // Sets `bit` after the owner wrote its waker; returns the previous state.
  unsigned set_bit(unsigned bit) noexcept { return state.fetch_or(bit, std::memory_order_acq_rel); }
  // Clears `bit` unless `stop` is set; true if cleared.
  bool unset_bit(unsigned bit, unsigned stop) noexcept {
    unsigned cur = state.load(std::memory_order_acquire);
    for (;;) {
      if (cur & stop) return false;
      if (!(cur & bit)) return true;  // already clear: nothing to publish
      // AcqRel: the owner takes its waker slot back (see the ownership note at the top).
      if (state.compare_exchange_weak(cur, cur & ~bit, std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
    }
  }

  // Sender: a closed() waker left in the channel would keep its task alive as long as the
  // receiver lives: take it back (the slot is the sender's again once TX_TASK_SET is
  // cleared).
  void take_back_tx_waker() noexcept {
    if (unset_bit(TX_TASK_SET, CLOSED)) tx_waker = Waker();
  }
  // The sender goes unsent: complete with an empty slot so the receiver sees RecvError.
  void drop_sender() noexcept {
    take_back_tx_waker();
    unsigned prev = set_complete();
    if (!(prev & CLOSED) && (prev & RX_TASK_SET)) rx_waker.wake_by_ref();
  }
  // The receiver closes: send fails from now on, and the sender's closed() is woken.
  void close_receiver() noexcept {
    unsigned prev = set_closed();
    if ((prev & TX_TASK_SET) && !(prev & VALUE_SENT)) tx_waker.wake_by_ref();
  }
  // The receiver goes. It takes its waker back first, so the sender does not keep it (and
  // the task it names) alive: the slot is the receiver's again once RX_TASK_SET is cleared
  // (not possible after VALUE_SENT, when the sender may be using it; the channel then goes
  // when the sender is done).
  void drop_receiver() noexcept {
    if (unset_bit(RX_TASK_SET, VALUE_SENT)) rx_waker = Waker();
    close_receiver();
  }
};

}  // namespace weft::detail

namespace weft::oneshot {

template <class T>
class Receiver;

template <class T>
class Sender {
  using Inner = detail::OneshotInner<T>;

 public:
  // Moving and destroying: those of HalfRef (a sender dropped unsent completes the channel
  // empty: the receiver gets RecvError).

  /// Sends the value. If the receiver is gone (dropped or closed), fails and hands the value
  /// back (`r.error()`), as tokio's `Result<(), T>`.
  Result<void, T> send(T value) {
    if (!inner_) throw std::logic_error("weft::oneshot::Sender: send on a moved-from or used sender");
    inner_->take_back_tx_waker();
    auto inner = inner_.take();
    inner->value.emplace(std::move(value));
    unsigned prev = inner->set_complete();
    if (prev & Inner::CLOSED) {
      T back = std::move(*inner->value);
      inner->value.reset();
      return Err<T>(std::move(back));
    }
    if (prev & Inner::RX_TASK_SET) inner->rx_waker.wake_by_ref();
    return {};
  }

  /// True once the receiver is dropped or closed.
  [[nodiscard]] bool is_closed() const noexcept {
    return !inner_ || (inner_->state.load(std::memory_order_acquire) & Inner::CLOSED);
  }

  /// Ready once the receiver is dropped or closed.
  Poll<void> poll_closed(Context& cx) {
    if (!inner_) return ready();
    unsigned s = inner_->state.load(std::memory_order_acquire);
    if (s & Inner::CLOSED) return ready();
    if (s & Inner::TX_TASK_SET) {
      if (inner_->tx_waker.will_wake(cx.waker())) return pending;
      if (!inner_->unset_bit(Inner::TX_TASK_SET, Inner::CLOSED)) return ready();
    }
    inner_->tx_waker = cx.waker();
    s = inner_->set_bit(Inner::TX_TASK_SET);
    if (s & Inner::CLOSED) return ready();
    return pending;
  }
  /// The future of closed().
  struct Closed {
    Sender* s;
    Poll<void> poll(Context& cx) { return s->poll_closed(cx); }
  };
  /// A future that is ready when the receiver is gone (cancel safe).
  Closed closed() { return Closed{this}; }

 private:
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel();
  explicit Sender(std::shared_ptr<Inner> i) noexcept : inner_(std::move(i)) {}
  detail::HalfRef<Inner, &Inner::drop_sender> inner_;
};
static_assert(Future<Sender<int>::Closed>);

/// The receiving half; a leaf future yielding T, or throwing RecvError when the sender was
/// dropped unsent. Cancel safe: dropping a pending receive loses nothing (the value stays in
/// the channel until the receiver itself is dropped).
template <class T>
class Receiver {
  using Inner = detail::OneshotInner<T>;

 public:
  // Moving and destroying: those of HalfRef (a dropped receiver closes the channel).

  /// Ready(value) or throws RecvError. Polling again once the receiver has given its
  /// outcome (a value, RecvError, or a try_recv that returned a value or `closed`) is a
  /// usage error: it throws std::logic_error. Spends one unit of the cooperative budget
  /// when ready.
  Poll<T> poll(Context& cx) {
    if (!inner_)
      throw std::logic_error("weft::oneshot::Receiver: polled after completion (its outcome was already taken)");
    if (!coop::poll_proceed(cx)) return pending;
    unsigned s = inner_->state.load(std::memory_order_acquire);
    if (!(s & (Inner::VALUE_SENT | Inner::CLOSED))) {
      if (s & Inner::RX_TASK_SET) {
        if (inner_->rx_waker.will_wake(cx.waker())) return pending;
        if (!inner_->unset_bit(Inner::RX_TASK_SET, Inner::VALUE_SENT))
          return finish(inner_->state.load(std::memory_order_acquire));  // pairs with set_complete
      }
      inner_->rx_waker = cx.waker();
      s = inner_->set_bit(Inner::RX_TASK_SET);
      if (!(s & (Inner::VALUE_SENT | Inner::CLOSED))) return pending;
    }
    return finish(s);
  }

  /// Never waits: the value, or why there is none (`empty`: not sent yet; `closed`: the
  /// sender was dropped unsent, the receiver closed with nothing sent, or the outcome was
  /// already taken). Any outcome but `empty` is final, as in tokio: a later poll throws
  /// std::logic_error.
  std::optional<T> try_recv(TryRecvError* why = nullptr) {
    if (!inner_) {
      if (why) *why = TryRecvError::closed;
      return std::nullopt;
    }
    // Acquire: pairs with the sender's set_complete (the value slot is written).
    unsigned s = inner_->state.load(std::memory_order_acquire);
    if (s & Inner::VALUE_SENT) {
      std::optional<T> v = std::move(inner_->value);
      inner_->value.reset();
      inner_.leave();
      if (!v && why) *why = TryRecvError::closed;
      return v;
    }
    if (s & Inner::CLOSED) {
      inner_.leave();
      if (why) *why = TryRecvError::closed;
      return std::nullopt;
    }
    if (why) *why = TryRecvError::empty;
    return std::nullopt;
  }

  /// Prevents the sender from sending; a value already sent can still be received.
  void close() noexcept {
    if (inner_) inner_->close_receiver();
  }

 private:
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel();
  explicit Receiver(std::shared_ptr<Inner> i) noexcept : inner_(std::move(i)) {}
  // `s` was observed with acquire and has VALUE_SENT or CLOSED.
  Poll<T> finish(unsigned s) {
    coop::made_progress();
    auto inner = inner_.take();  // the outcome is final: nothing left to close
    // VALUE_SENT: the slot is ours (empty if the sender was dropped unsent). CLOSED without
    // VALUE_SENT: the sender may be writing the slot right now only to take it back; do
    // not touch it, there will never be a value.
    if ((s & Inner::VALUE_SENT) && inner->value) {
      T v = std::move(*inner->value);
      inner->value.reset();
      return v;
    }
    throw RecvError();
  }
  detail::HalfRef<Inner, &Inner::drop_receiver> inner_;
};
static_assert(Future<Receiver<int>>);

template <class T>
std::pair<Sender<T>, Receiver<T>> channel() {
  auto inner = std::make_shared<detail::OneshotInner<T>>();
  return {Sender<T>(inner), Receiver<T>(inner)};
}

}  // namespace weft::oneshot
