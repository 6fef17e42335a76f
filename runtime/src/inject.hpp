#pragma once
// The global injection queue: spawns and wakes from outside the workers, and the overflow
// of full local queues. Any thread pushes, any worker pops. Lock-free: moodycamel's
// ConcurrentQueue (an MPMC queue of per-producer sub-queues). It is not globally FIFO
// across producers, which the scheduler does not need; every item is popped exactly once.
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstddef>

#include "weft/detail/header.hpp"

namespace weft::detail {

class Inject {
 public:
  void push(Header* t) { q_.enqueue(t); }
  void push_batch(Header** ts, std::size_t n) { q_.enqueue_bulk(ts, n); }
  Header* pop() {
    Header* t = nullptr;
    return q_.try_dequeue(t) ? t : nullptr;
  }
  std::size_t pop_batch(Header** out, std::size_t max) { return q_.try_dequeue_bulk(out, max); }
  /// Approximate (exact when no push or pop is in flight).
  [[nodiscard]] bool is_empty() const { return q_.size_approx() == 0; }

 private:
  moodycamel::ConcurrentQueue<Header*> q_;
};

}  // namespace weft::detail
