#pragma once
// The global injection queue: spawns and wakes from outside the workers, and the overflow
// of full local queues. Any thread pushes; workers pop.
//
// InjectMpsc (default): a LinkQueue (weft/detail/link_queue.hpp: Vyukov's intrusive MPSC
// queue, wait-free push, try-locked consumer) of task headers.
// InjectMoodycamel (WEFT_INJECT_MOODYCAMEL): moodycamel::ConcurrentQueue, for the comparison
// in BENCHMARKS.md. It synchronizes with standalone fences, which ThreadSanitizer does not
// model, so it is not used by the sanitizer presets.
#include <cstddef>

#include "weft/detail/header.hpp"
#include "weft/detail/link_queue.hpp"

#if defined(WEFT_INJECT_MOODYCAMEL)
#include <concurrentqueue/concurrentqueue.h>
#endif

namespace weft::detail {

class InjectMpsc {
 public:
  void push(Header* t) noexcept { q_.push(t); }
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
using Inject = InjectMpsc;
#endif

}  // namespace weft::detail
