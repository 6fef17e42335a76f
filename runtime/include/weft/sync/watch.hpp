#pragma once
// watch::channel<T>(initial): one sender publishes a value; any number of receivers read the
// latest one and wait for it to change, as tokio::sync::watch (tokio 1.24, sync/watch.rs).
// Intermediate values may be skipped: a receiver sees the latest value, never a stale one,
// and each change at most once.
//
//   auto [tx, rx] = weft::watch::channel<Config>(initial);
//   tx.send_modify([](Config& c) { c.limit = 10; });
//   while ((co_await rx.changed()).is_ok()) use(*rx.borrow_and_update());
//
// Design (tokio's): the value sits under a std::shared_mutex; the state word
// (`detail::WatchShared::state`) is
//   bit 0    CLOSED: the sender is gone (set once, never cleared);
//   bits 1.. the version, incremented (by VERSION_STEP) by every send, under the write lock.
// Each receiver remembers the version it last saw (copies of a receiver each have their
// own). changed() waits on the `notify_rx` Notify, which every send and the sender's drop
// notify_waiters(); the sender's closed() waits on `notify_tx`, notified by the last
// receiver's drop. No wake-up is lost because a waiter asks for its notification (Notify's
// notified(), which records Notify's generation under Notify's mutex) *before* it looks at
// the state it waits on; see Changed::poll.
//
// Borrowing: borrow() returns a Ref holding a shared (read) lock on the value. Do not hold a
// Ref across a co_await (the task may resume on another thread, and std::shared_mutex must
// be unlocked by the thread that locked it) nor while sending on the same thread (the send
// waits for the lock: deadlock). Copy what you need and drop the Ref.
//
// Complexity: a send is O(1) plus waking every waiting receiver (Notify::notify_waiters,
// which gathers their wakers into a vector); borrow is one shared lock; changed() is O(1).
//
// Cooperative budget: changed() spends one unit when it completes and returns Pending (after
// waking the task) when the task's budget is spent. `co_await rx.changed()` costs that one
// unit (an await is not charged again for a leaf that spent its own; future.hpp).
//
// Cancel safety: changed() and closed() are cancel safe: dropping them while pending loses
// nothing (the receiver's seen version only moves when changed() completes).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/coop.hpp"
#include "weft/detail/half_ref.hpp"
#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/result.hpp"
#include "weft/sync/notify.hpp"
#include "weft/waker.hpp"

namespace weft::watch {

/// The sender is gone (changed, has_changed).
struct RecvError {
  friend constexpr bool operator==(const RecvError&, const RecvError&) = default;
};

/// send found no receiver: the value comes back (and the channel's value is unchanged).
template <class T>
struct SendError {
  T value;
};

}  // namespace weft::watch

namespace weft::detail {

/// The shared state of a watch channel (see the top of watch.hpp).
template <class T>
struct WatchShared {
  static constexpr std::uint64_t CLOSED = 1;
  static constexpr std::uint64_t VERSION_STEP = 2;

  explicit WatchShared(T v) : value(std::move(v)) {}

  std::shared_mutex mu;
  T value;  // guarded by mu
  // CLOSED | version (see the top). Written by the sender only: increment_version (under
  // the write lock) and set_closed. Read by receivers without a lock (has_changed,
  // changed) or under the read lock (borrow, so the version matches the value).
  std::atomic<std::uint64_t> state{0};
  // Live receivers. Written by Receiver copies / subscribe (+1) and drops (-1); read by
  // the sender (send, receiver_count, closed()). Publishes no data.
  std::atomic<std::size_t> rx_count{1};
  Notify notify_rx;  // a new version, or the sender's drop
  Notify notify_tx;  // the last receiver's drop

  // Under the write lock.
  void increment_version() noexcept {
    // Release: pairs with the acquire loads in load(): a receiver that sees the new version
    // also sees the new value (borrowing it takes the read lock, which orders it as well).
    state.fetch_add(VERSION_STEP, std::memory_order_release);
  }
  void set_closed() noexcept {
    // Release: pairs with the acquire loads in load(), as increment_version.
    state.fetch_or(CLOSED, std::memory_order_release);
  }
  [[nodiscard]] std::uint64_t load() const noexcept {
    // Acquire: pairs with increment_version / set_closed (release).
    return state.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::size_t receivers() const noexcept {
    // Relaxed: a snapshot. closed() re-checks it after creating its Notified; Notify's
    // mutex orders that check after the last drop's notify_waiters (see Closed::poll).
    return rx_count.load(std::memory_order_relaxed);
  }
  // The sender goes: the channel closes, and waiting receivers wake to see it.
  void drop_sender() noexcept {
    set_closed();
    notify_rx.notify_waiters();
  }
};

}  // namespace weft::detail

namespace weft::watch {

/// Read access to the channel's value: holds a shared lock until destroyed. Must not be held
/// across a co_await or while the same thread sends (see the top of this file).
template <class T>
class Ref {
 public:
  Ref(Ref&&) noexcept = default;
  Ref& operator=(Ref&&) noexcept = default;
  const T& operator*() const noexcept { return *value_; }
  const T* operator->() const noexcept { return value_; }
  const T& get() const noexcept { return *value_; }
  /// True if the value was new to the receiver that borrowed it (not yet marked seen when
  /// borrowed). Always false for Sender::borrow().
  [[nodiscard]] bool has_changed() const noexcept { return changed_; }

 private:
  template <class U>
  friend class Sender;
  template <class U>
  friend class Receiver;
  Ref(std::shared_lock<std::shared_mutex> l, const T& v, bool changed) noexcept
      : lock_(std::move(l)), value_(&v), changed_(changed) {}
  std::shared_lock<std::shared_mutex> lock_;
  const T* value_;
  bool changed_;
};

template <class T>
class Receiver;
template <class T>
class Sender;
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(T initial);

/// The sending half. Move-only (as tokio 1.24). Dropping it closes the channel: waiting
/// receivers wake up and see RecvError once they have seen the last value.
template <class T>
class Sender {
  using Shared = detail::WatchShared<T>;

 public:
  // Moving and destroying: those of HalfRef (dropping the sender closes the channel).

  /// Replaces the value and notifies the receivers; fails (value back, channel unchanged)
  /// when there is no receiver. The old value is destroyed outside the lock.
  Result<void, SendError<T>> send(T value) {
    check();
    if (s_->receivers() == 0) return Result<void, SendError<T>>::err(SendError<T>{std::move(value)});
    (void)send_replace(std::move(value));  // the old value is destroyed here, outside the lock
    return Result<void, SendError<T>>::ok();
  }

  /// Replaces the value and notifies the receivers, even when there is none; returns the
  /// old value.
  T send_replace(T value) {
    check();
    send_modify([&](T& v) {
      using std::swap;
      swap(v, value);
    });
    return value;
  }

  /// Modifies the value in place (under the write lock) and notifies the receivers, even
  /// when there is none. If f throws, the exception propagates, nobody is notified and the
  /// version is unchanged (the value is as f left it).
  template <class F>
  void send_modify(F&& f) {
    send_if_modified([&](T& v) {
      std::forward<F>(f)(v);
      return true;
    });
  }

  /// Runs f(value) under the write lock; if it returns true, the value counts as changed:
  /// the version moves and the receivers are notified. Returns what f returned. If f
  /// throws, as send_modify.
  template <class F>
  bool send_if_modified(F&& f) {
    check();
    {
      std::unique_lock l(s_->mu);
      if (!std::forward<F>(f)(s_->value)) return false;
      s_->increment_version();
    }
    s_->notify_rx.notify_waiters();
    return true;
  }

  /// Read access to the current value (has_changed() is false). Holds a shared lock.
  [[nodiscard]] Ref<T> borrow() const {
    check();
    std::shared_lock l(s_->mu);
    return Ref<T>(std::move(l), s_->value, false);
  }

  /// A new receiver that has seen the current value.
  [[nodiscard]] Receiver<T> subscribe() const {
    check();
    // Relaxed: a count, publishing nothing (see WatchShared::rx_count).
    s_->rx_count.fetch_add(1, std::memory_order_relaxed);
    return Receiver<T>(s_.shared(), s_->load() & ~Shared::CLOSED);
  }
  [[nodiscard]] std::size_t receiver_count() const {
    check();
    return s_->receivers();
  }
  /// True when every receiver is gone (send would fail).
  [[nodiscard]] bool is_closed() const { return receiver_count() == 0; }

  class [[nodiscard]] Closed {
   public:
    explicit Closed(std::shared_ptr<Shared> s) noexcept : s_(std::move(s)) {}
    Closed(Closed&&) = default;  // only before the first poll (its Notified is then linked)
    Closed& operator=(Closed&&) = delete;

    // No lost wake-up: the Notified is created (Notify's generation read under Notify's
    // mutex) before the count is checked. If the last receiver's notify_waiters locked that
    // mutex after our notified(), it bumped the generation past ours and the Notified is
    // ready; if before, its unlock happened-before our lock, so its decrement
    // happened-before our check, which sees 0 (or a later count).
    Poll<void> poll(Context& cx) {
      for (;;) {
        if (!notified_) notified_.emplace(s_->notify_tx.notified());
        if (s_->receivers() == 0) {
          notified_.reset();
          return ready();
        }
        if (notified_->poll(cx).is_pending()) return pending;
        notified_.reset();  // notified: check again, with a fresh request made first
      }
    }

   private:
    std::shared_ptr<Shared> s_;
    std::optional<Notify::Notified> notified_;
  };
  /// Ready once every receiver is gone (immediately if none is alive). Cancel safe.
  Closed closed() const {
    check();
    return Closed(s_.shared());
  }

 private:
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel(U);
  explicit Sender(std::shared_ptr<Shared> s) noexcept : s_(std::move(s)) {}
  void check() const {
    if (!s_) throw std::logic_error("weft::watch::Sender: used after being moved from");
  }
  detail::HalfRef<Shared, &Shared::drop_sender> s_;
};
static_assert(Future<Sender<int>::Closed>);

/// The receiving half. Copyable: each copy has its own seen version (a copy has seen what
/// its original had seen).
template <class T>
class Receiver {
  using Shared = detail::WatchShared<T>;

 public:
  Receiver(const Receiver& o) noexcept : s_(o.s_), version_(o.version_) {
    // Relaxed: a new receiver made from a live one; publishes nothing.
    if (s_) s_->rx_count.fetch_add(1, std::memory_order_relaxed);
  }
  Receiver(Receiver&& o) noexcept : s_(std::move(o.s_)), version_(o.version_) {}
  Receiver& operator=(Receiver o) noexcept {
    std::swap(s_, o.s_);
    std::swap(version_, o.version_);
    return *this;
  }
  ~Receiver() {
    // Relaxed: the RMW only elects the last receiver; its notify_waiters is ordered for
    // closed() by Notify's mutex (see Sender::Closed::poll).
    if (s_ && s_->rx_count.fetch_sub(1, std::memory_order_relaxed) == 1) s_->notify_tx.notify_waiters();
  }

  /// Read access to the current value; does not mark it seen. Holds a shared lock.
  [[nodiscard]] Ref<T> borrow() const {
    check();
    std::shared_lock l(s_->mu);
    // Under the read lock the version matches the value (sends move it under the write lock).
    std::uint64_t v = s_->load() & ~Shared::CLOSED;
    return Ref<T>(std::move(l), s_->value, v != version_);
  }
  /// Read access to the current value, marking it seen (a pending change is consumed).
  [[nodiscard]] Ref<T> borrow_and_update() {
    check();
    std::shared_lock l(s_->mu);
    std::uint64_t v = s_->load() & ~Shared::CLOSED;
    bool changed = v != version_;
    version_ = v;
    return Ref<T>(std::move(l), s_->value, changed);
  }

  /// Whether a value this receiver has not seen was sent: ok(true / false), or
  /// err(RecvError) once the sender is gone (even if there is an unseen value; changed()
  /// still reports it first, as tokio).
  [[nodiscard]] Result<bool, RecvError> has_changed() const {
    check();
    std::uint64_t st = s_->load();
    if (st & Shared::CLOSED) return Result<bool, RecvError>::err(RecvError{});
    return Result<bool, RecvError>::ok((st & ~Shared::CLOSED) != version_);
  }

  class [[nodiscard]] Changed {
   public:
    explicit Changed(Receiver* r) noexcept : r_(r) {}
    Changed(Changed&&) = default;  // only before the first poll (its Notified is then linked)
    Changed& operator=(Changed&&) = delete;

    // No lost wake-up (tokio's changed_impl): the Notified is created (Notify's generation
    // read under Notify's mutex) before the version is checked. A send moves the version,
    // then calls notify_waiters, which takes that mutex and bumps the generation. If it took
    // the mutex after our notified(), our Notified is ready; if before, its unlock
    // happened-before our notified()'s lock, so the new version happened-before our check,
    // which sees it. The sender's drop (CLOSED, then notify_waiters) is the same.
    Poll<Result<void, RecvError>> poll(Context& cx) {
      if (!coop::poll_proceed(cx)) return pending;
      for (;;) {
        if (!notified_) notified_.emplace(r_->s_->notify_rx.notified());
        if (auto r = r_->maybe_changed()) {
          notified_.reset();
          coop::made_progress();
          return std::move(*r);
        }
        bool waiting;
        {
          coop::BudgetScope none(-1);  // this poll is charged once, above and below
          waiting = notified_->poll(cx).is_pending();
        }
        if (waiting) return pending;
        notified_.reset();  // notified: check again, with a fresh request made first
      }
    }

   private:
    Receiver* r_;
    std::optional<Notify::Notified> notified_;
  };
  /// `co_await rx.changed()`: ok() once a value newer than the last seen one was sent (it
  /// is then marked seen; borrow it), or err(RecvError) if the sender is gone and the
  /// latest value was seen. Cancel safe. Must not be moved after its first poll.
  Changed changed() {
    check();
    return Changed(this);
  }

  [[nodiscard]] bool same_channel(const Receiver& o) const noexcept { return s_ == o.s_; }

 private:
  friend class Sender<T>;
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> channel(U);
  Receiver(std::shared_ptr<Shared> s, std::uint64_t version) noexcept
      : s_(std::move(s)), version_(version) {}
  void check() const {
    if (!s_) throw std::logic_error("weft::watch::Receiver: used after being moved from");
  }
  // A newer version (marked seen), closed, or nothing to report yet.
  std::optional<Result<void, RecvError>> maybe_changed() noexcept {
    std::uint64_t st = s_->load();
    std::uint64_t v = st & ~Shared::CLOSED;
    if (v != version_) {
      version_ = v;
      return Result<void, RecvError>::ok();
    }
    if (st & Shared::CLOSED) return Result<void, RecvError>::err(RecvError{});
    return std::nullopt;
  }

  std::shared_ptr<Shared> s_;
  std::uint64_t version_;  // the version this receiver has seen (without the CLOSED bit)
};
static_assert(Future<Receiver<int>::Changed>);

/// A channel holding `initial`, seen by the first receiver.
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(T initial) {
  auto s = std::make_shared<detail::WatchShared<T>>(std::move(initial));
  return {Sender<T>(s), Receiver<T>(s, 0)};
}

}  // namespace weft::watch
