#pragma once
// The global injection queue: spawns and wakes from outside the workers, and the overflow
// of full local queues. Any thread pushes, any worker pops.
//
// Two implementations with one interface, chosen at build time:
//   InjectList       (default) an intrusive FIFO list of task headers under a mutex, with an
//                    atomic length so the hot "is it empty?" check takes no lock. A batch
//                    (overflow of a local queue) is linked in O(1) under one lock. This is
//                    tokio's design.
//   InjectMoodycamel (WEFT_INJECT_MOODYCAMEL) moodycamel::ConcurrentQueue, lock-free MPMC.
// BENCHMARKS.md records how they compare. The moodycamel queue uses standalone fences, which
// ThreadSanitizer does not model, so sanitizer builds always use InjectList.
#include <atomic>
#include <cstddef>
#include <mutex>

#include "weft/detail/header.hpp"

#if defined(WEFT_INJECT_MOODYCAMEL)
#include <concurrentqueue/concurrentqueue.h>
#endif

namespace weft::detail {

class InjectList {
 public:
  void push(Header* t) { push_batch(&t, 1); }
  void push_batch(Header** ts, std::size_t n) {
    if (n == 0) return;
    for (std::size_t i = 0; i + 1 < n; ++i) ts[i]->queue_next = ts[i + 1];  // R4: ours to link
    ts[n - 1]->queue_next = nullptr;
    std::lock_guard lock(mu_);
    if (tail_) tail_->queue_next = ts[0];
    else head_ = ts[0];
    tail_ = ts[n - 1];
    // Release: pairs with is_empty's acquire (a reader that sees the length sees the links;
    // the pop itself synchronizes through the mutex).
    len_.store(len_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }
  Header* pop() {
    Header* t = nullptr;
    pop_batch(&t, 1);
    return t;
  }
  std::size_t pop_batch(Header** out, std::size_t max) {
    if (is_empty()) return 0;
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    while (n < max && head_) {
      out[n++] = head_;
      head_ = head_->queue_next;
    }
    if (!head_) tail_ = nullptr;
    len_.store(len_.load(std::memory_order_relaxed) - n, std::memory_order_release);
    return n;
  }
  [[nodiscard]] bool is_empty() const {
    // Acquire: pairs with the release stores above. A stale "empty" is harmless for a pop
    // (the pusher notifies a worker afterwards); the parking re-check gets a fresh value
    // through the idle state's seq_cst RMWs (idle.hpp).
    return len_.load(std::memory_order_acquire) == 0;
  }

 private:
  std::mutex mu_;
  Header* head_ = nullptr;  // guarded by mu_
  Header* tail_ = nullptr;  // guarded by mu_
  std::atomic<std::size_t> len_{0};  // written under mu_, read without it
};

#if defined(WEFT_INJECT_MOODYCAMEL)
class InjectMoodycamel {
 public:
  void push(Header* t) { q_.enqueue(t); }
  void push_batch(Header** ts, std::size_t n) { q_.enqueue_bulk(ts, n); }
  Header* pop() {
    Header* t = nullptr;
    return q_.try_dequeue(t) ? t : nullptr;
  }
  std::size_t pop_batch(Header** out, std::size_t max) { return q_.try_dequeue_bulk(out, max); }
  [[nodiscard]] bool is_empty() const { return q_.size_approx() == 0; }

 private:
  moodycamel::ConcurrentQueue<Header*> q_;
};
using Inject = InjectMoodycamel;
#else
using Inject = InjectList;
#endif

}  // namespace weft::detail
