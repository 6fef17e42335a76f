#pragma once
// The global injection queue: spawns and wakes from outside the workers, and the overflow
// of full local queues. Any thread pushes; workers pop. A LinkQueue
// (weft/detail/link_queue.hpp: Vyukov's intrusive MPSC queue, wait-free push, try-locked
// consumer) of task headers. (An earlier run measured moodycamel::ConcurrentQueue in its
// place: no difference on the runtime workloads, and it synchronizes with standalone fences
// that ThreadSanitizer does not model.)
#include <cstddef>

#include "weft/detail/link_queue.hpp"
#include "weft/detail/task_cell.hpp"

namespace weft::detail {

// Each queued task holds its notified reference, stored raw as in every run queue (the
// scheduler takes it with Notified::into_raw and gives it back with Notified::adopt).
class Inject {
 public:
  void push(Header* t) noexcept { q_.push(t); }
  /// Also the overflow sink of the workers' run queues.
  void push_batch(Header** ts, std::size_t n) noexcept {
    // SAFETY: Header derives from QueueLink; the array of Header* is re-read as QueueLink*
    // one element at a time.
    QueueLink* links[64];
    while (n > 0) {
      std::size_t k = n < 64 ? n : 64;
      for (std::size_t i = 0; i < k; ++i) links[i] = ts[i];
      q_.push_batch(links, k);
      ts += k;
      n -= k;
    }
  }
  Header* pop() { return static_cast<Header*>(q_.pop()); }
  std::size_t pop_batch(Header** out, std::size_t max) {
    QueueLink* links[64];
    std::size_t n = q_.pop_batch(links, max < 64 ? max : 64);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Header*>(links[i]);
    return n;
  }
  [[nodiscard]] bool is_empty() const noexcept { return q_.is_empty(); }

 private:
  LinkQueue q_;
};

}  // namespace weft::detail
