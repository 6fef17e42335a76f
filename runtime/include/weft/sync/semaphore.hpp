#pragma once
// Semaphore: async counting semaphore (the bounded channel's capacity). Acquiring is
// lock-free while permits are available; waiting acquirers queue FIFO under a mutex.
//
// No lost permit (store-buffering pattern, all seq_cst): release() adds permits, then reads
// the waiter count; an acquirer about to wait increments the waiter count, then retries the
// permit counter. In the total order one of them sees the other: either the acquirer takes
// the permit, or release() sees a waiter and hands permits out under the lock.
// Cancel safety: dropping an Acquire future removes it from the queue; if a permit had
// already been assigned to it, the permit is released again.
// Wakers are dropped and woken outside the lock (a waker's drop may re-enter the semaphore).
#include <atomic>
#include <cstddef>
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

class Semaphore {
  struct Waiter : detail::WaitNode<Waiter> {
    bool assigned = false;  // a permit was handed to it by release()
  };

 public:
  enum class AcquireResult { acquired, closed };

  explicit Semaphore(std::size_t permits) : permits_(permits) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Acquire: a snapshot, ordered after the releases that produced it.
  [[nodiscard]] std::size_t available_permits() const noexcept { return permits_.load(std::memory_order_acquire); }
  // Acquire: pairs with close()'s release store.
  [[nodiscard]] bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  /// Takes one permit if available right now.
  bool try_acquire() noexcept {
    if (is_closed()) return false;
    return take_permit();
  }

  void release(std::size_t n = 1) {
    // Seq_cst, both: release()'s half of the store-buffering pair in the header comment.
    permits_.fetch_add(n, std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    std::vector<Waker> wake;
    {
      std::lock_guard l(mu_);
      while (!list_.empty() && take_permit()) {
        Waiter* w = pop_front();
        w->assigned = true;
        wake.push_back(std::move(w->waker));
      }
    }
    for (auto& w : wake) std::move(w).wake();
  }

  /// Fails every waiting and future acquire.
  void close() {
    std::vector<Waker> wake;
    {
      std::lock_guard l(mu_);
      closed_.store(true, std::memory_order_release);  // pairs with is_closed()'s acquire
      while (Waiter* w = pop_front()) wake.push_back(std::move(w->waker));
    }
    for (auto& w : wake) std::move(w).wake();
  }

  class Acquire {
   public:
    // Only before the first poll that queued it (the waiter node is linked into the list).
    Acquire(Acquire&& o) noexcept : s_(o.s_) {
      if (o.queued_) {
        std::fputs("weft::Semaphore::Acquire moved while waiting\n", stderr);
        std::abort();
      }
      o.s_ = nullptr;
    }
    Acquire(const Acquire&) = delete;
    Acquire& operator=(const Acquire&) = delete;
    ~Acquire() {
      if (!s_ || !queued_) return;
      bool give_back = false;
      {
        std::lock_guard l(s_->mu_);
        if (waiter_.linked) s_->unlink(&waiter_);
        else give_back = waiter_.assigned;
      }
      if (give_back) s_->release(1);
    }

    /// Ready(acquired or closed). Spends one unit of the cooperative budget when ready.
    Poll<AcquireResult> poll(Context& cx) {
      if (done_) throw std::logic_error("weft::Semaphore::Acquire polled after completion");
      if (!coop::poll_proceed(cx)) return pending;
      if (!queued_) {
        if (s_->is_closed()) return finish(AcquireResult::closed);
        if (s_->take_permit()) return finish(AcquireResult::acquired);
        std::lock_guard l(s_->mu_);
        if (s_->is_closed()) return finish(AcquireResult::closed);
        // Seq_cst: the acquirer's half of the store-buffering pair (count, then retry).
        s_->waiters_.fetch_add(1, std::memory_order_seq_cst);
        if (s_->take_permit()) {
          s_->waiters_.fetch_sub(1, std::memory_order_seq_cst);
          return finish(AcquireResult::acquired);
        }
        waiter_.waker = cx.waker();
        s_->list_.push_back(&waiter_);
        queued_ = true;
        return pending;
      }
      Waker replaced;  // dropped after the lock is released (its drop may re-enter)
      {
        std::lock_guard l(s_->mu_);
        if (waiter_.assigned) return finish(AcquireResult::acquired);
        if (!waiter_.linked) return finish(AcquireResult::closed);  // removed by close()
        if (!waiter_.waker.will_wake(cx.waker())) replaced = std::exchange(waiter_.waker, cx.waker());
      }
      return pending;
    }

   private:
    friend class Semaphore;
    explicit Acquire(Semaphore* s) : s_(s) {}
    Poll<AcquireResult> finish(AcquireResult r) {
      coop::made_progress();
      done_ = true;
      queued_ = false;  // nothing left to undo
      return r;
    }
    Semaphore* s_;
    bool queued_ = false;
    bool done_ = false;
    Waiter waiter_;
  };

  /// A future yielding acquired (one permit is now the caller's) or closed.
  Acquire acquire() { return Acquire(this); }

 private:
  bool take_permit() noexcept {
    // Seq_cst: the permit counter is one side of the store-buffering pair.
    std::size_t cur = permits_.load(std::memory_order_seq_cst);
    while (cur > 0)
      if (permits_.compare_exchange_weak(cur, cur - 1, std::memory_order_seq_cst)) return true;
    return false;
  }
  Waiter* pop_front() noexcept {
    Waiter* w = list_.pop_front();
    if (w) waiters_.fetch_sub(1, std::memory_order_seq_cst);  // under mu_; seq_cst like its increment
    return w;
  }
  void unlink(Waiter* w) noexcept {
    list_.unlink(w);
    waiters_.fetch_sub(1, std::memory_order_seq_cst);  // under mu_; seq_cst like its increment
  }

  std::atomic<std::size_t> permits_;
  std::atomic<std::size_t> waiters_{0};  // linked waiters; changed under mu_
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  detail::IntrusiveList<Waiter> list_;  // guarded by mu_
};
static_assert(Future<Semaphore::Acquire>);

}  // namespace weft
