#pragma once
// Notify: wake one task (notify_one, which stores a permit when nobody waits) or every
// task currently waiting (notify_waiters), as tokio::sync::Notify.
//
// The waiter list is guarded by a mutex; Notify is a coordination primitive, not a data
// path. A Notified future registers on its first poll and must not be moved after that
// (a co_await keeps it in place).
//
// Cancel safety: dropping a Notified that was chosen by notify_one before it observed it
// passes the notification on (to the next waiter, or as the stored permit), so no
// notification is lost.
// Wakers are dropped and woken outside the lock (a waker's drop may re-enter the Notify).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "weft/coop.hpp"
#include "weft/detail/intrusive_list.hpp"
#include "weft/future.hpp"
#include "weft/poll.hpp"
#include "weft/waker.hpp"

namespace weft {

class Notify {
  struct Waiter : detail::WaitNode<Waiter> {
    bool notified = false;      // chosen by notify_one
    bool notified_all = false;  // woken by notify_waiters
  };

 public:
  Notify() = default;
  Notify(const Notify&) = delete;
  Notify& operator=(const Notify&) = delete;
  ~Notify() = default;

  /// Wakes the longest-waiting task, or stores one permit for the next notified() if none
  /// waits (permits do not accumulate).
  void notify_one() {
    Waker w;
    {
      std::lock_guard l(mu_);
      w = notify_one_locked();
    }
    std::move(w).wake();
  }

  /// Wakes every task waiting now, and every Notified created before this call. Stores no
  /// permit.
  void notify_waiters() {
    std::vector<Waker> ws;
    {
      std::lock_guard l(mu_);
      ++generation_;
      while (Waiter* w = waiters_.pop_front()) {
        w->notified_all = true;
        ws.push_back(std::move(w->waker));
      }
    }
    for (auto& w : ws) std::move(w).wake();
  }

  class Notified {
   public:
    Notified(Notified&& o) noexcept : n_(o.n_), gen_(o.gen_), state_(o.state_) {
      // Moving is only allowed before the first poll or enable() (the waiter node is not
      // linked yet): moving a linked node would leave the list pointing at the old one.
      if (o.state_ == State::waiting) {
        std::fputs("weft::Notify::Notified moved after it was polled or enabled\n", stderr);
        std::abort();
      }
      o.state_ = State::done;
    }
    Notified(const Notified&) = delete;
    Notified& operator=(const Notified&) = delete;
    ~Notified() {
      if (state_ != State::waiting) return;
      Waker fwd;
      {
        std::lock_guard l(n_->mu_);
        if (waiter_.linked) n_->waiters_.unlink(&waiter_);
        else if (waiter_.notified) fwd = n_->notify_one_locked();  // pass it on
      }
      std::move(fwd).wake();
    }

    /// Ready once notified. Spends one unit of the cooperative budget when ready.
    Poll<void> poll(Context& cx) {
      if (!coop::poll_proceed(cx)) return pending;
      Waker replaced;  // dropped after the lock is released (its drop may re-enter the Notify)
      {
        std::lock_guard l(n_->mu_);
        if (!try_complete_locked()) {
          if (!waiter_.waker.will_wake(cx.waker())) replaced = std::exchange(waiter_.waker, cx.waker());
          return pending;
        }
      }
      coop::made_progress();
      return ready();
    }

    /// Registers for notify_one without polling (tokio's Notified::enable): from now on this
    /// future can be chosen by notify_one (or take the stored permit), so a notification
    /// sent between enable() and the first poll is not lost. Returns true if it is already
    /// notified (the next poll is ready). Idempotent.
    bool enable() {
      std::lock_guard l(n_->mu_);
      return try_complete_locked();
    }

   private:
    friend class Notify;
    enum class State { init, waiting, done };
    // Under the lock: true if notified (state done); else the waiter is linked (waiting),
    // with whatever waker it had (none before the first poll).
    bool try_complete_locked() {
      switch (state_) {
        case State::init:
          if (n_->generation_ != gen_ || n_->permit_) {
            if (n_->generation_ == gen_) n_->permit_ = false;
            state_ = State::done;
            return true;
          }
          n_->waiters_.push_back(&waiter_);
          state_ = State::waiting;
          return false;
        case State::waiting:
          if (waiter_.notified || waiter_.notified_all) {
            state_ = State::done;
            return true;
          }
          return false;
        case State::done:
          return true;
      }
      return true;
    }
    Notified(Notify* n, std::uint64_t gen) : n_(n), gen_(gen) {}
    Notify* n_;
    std::uint64_t gen_;
    State state_ = State::init;
    Waiter waiter_;
  };

  /// A future that completes on notify_one (or a stored permit) or notify_waiters.
  Notified notified() {
    std::lock_guard l(mu_);
    return Notified(this, generation_);
  }

 private:
  Waker notify_one_locked() {
    if (Waiter* w = waiters_.pop_front()) {
      w->notified = true;
      return std::move(w->waker);
    }
    permit_ = true;
    return Waker();
  }
  std::mutex mu_;
  bool permit_ = false;         // guarded by mu_
  std::uint64_t generation_ = 0;  // notify_waiters calls; guarded by mu_
  detail::IntrusiveList<Waiter> waiters_;  // FIFO of waiting Notified futures; guarded by mu_
};
static_assert(Future<Notify::Notified>);

}  // namespace weft
