#pragma once
// LinkQueue: an intrusive multi-producer queue of QueueLink nodes, after Dmitry Vyukov's
// intrusive MPSC node-based queue (1024cores.net). Pushing is wait-free (link the batch
// privately, one exchange on `tail_`, one store to the old tail's link); the consumer role
// is taken with a try-lock, so several threads may consume (one at a time; a thread that
// loses the race sees nothing and looks elsewhere).
//
// Used by the scheduler's injection queue and by JoinSet / JoinMap's completion queue.
//
// Invariants: `tail_` is the last node pushed (or the stub); following `queue_next` from
// `head_` reaches every pushed node except those whose producer is between its exchange and
// its link store. If that gap is right after the head, pop reports nothing until the store
// lands (the tail is then not the stub, so the queue does not look empty, and the producer
// runs its wake-up check after the store); if it opens while the consumer re-inserts the
// stub, the consumer waits for the store instead (see pop_one).
// Emptiness without a counter: the queue is empty exactly when both its head and its tail
// are the stub. The consumer mirrors `head_` into `head_hint_` for that check. (A shared
// length counter would bounce a cache line between producers and consumers on every push;
// measured slower.) Tail alone is not enough: the stub may be re-inserted behind a node a
// racing producer linked, leaving that node between head and the stub.
#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>

#include "weft/detail/cache_padded.hpp"

namespace weft::detail {

/// The intrusive link (a base class of queued nodes).
struct QueueLink {
  std::atomic<QueueLink*> queue_next{nullptr};
};

class LinkQueue {
 public:
  LinkQueue() noexcept : head_(&stub_) {
    tail_->store(&stub_, std::memory_order_relaxed);
    head_hint_->store(&stub_, std::memory_order_relaxed);
  }
  LinkQueue(const LinkQueue&) = delete;
  LinkQueue& operator=(const LinkQueue&) = delete;

  void push(QueueLink* t) noexcept { push_batch(&t, 1); }

  void push_batch(QueueLink** ts, std::size_t n) noexcept {
    if (n == 0) return;
    // Relaxed: the batch is private until the release store below publishes it.
    for (std::size_t i = 0; i + 1 < n; ++i) ts[i]->queue_next.store(ts[i + 1], std::memory_order_relaxed);
    ts[n - 1]->queue_next.store(nullptr, std::memory_order_relaxed);
    link(ts[0], ts[n - 1]);
  }

  QueueLink* pop() {
    QueueLink* t = nullptr;
    return pop_batch(&t, 1) == 1 ? t : nullptr;
  }

  std::size_t pop_batch(QueueLink** out, std::size_t max) {
    if (is_empty()) return 0;
    std::unique_lock lock(pop_mu_, std::try_to_lock);
    if (!lock.owns_lock()) return 0;  // another worker is consuming
    return consume(out, max);
  }

  /// pop() for a queue whose consumer is a single thread by construction (the owner of a
  /// JoinSet or StreamMap): the same, without taking the consumer lock. The caller must
  /// guarantee that no other thread pops concurrently (pop, pop_batch or this).
  QueueLink* pop_exclusive() noexcept {
    QueueLink* t = nullptr;
    if (is_empty()) return nullptr;
    return consume(&t, 1) == 1 ? t : nullptr;
  }

  [[nodiscard]] bool is_empty() const noexcept {
    // Acquire: pairs with the producers' exchange in link() and the consumer's store of the
    // hint. A producer between its exchange and its link store makes this "not empty"
    // while pop finds nothing yet.
    return tail_->load(std::memory_order_acquire) == &stub_ &&
           head_hint_->load(std::memory_order_acquire) == &stub_;
  }

 private:
  void link(QueueLink* first, QueueLink* last) noexcept {
    // AcqRel exchange: release orders our private links before it for the next producer,
    // who stores into `last`; acquire sees the previous producer's node initialized.
    QueueLink* prev = tail_->exchange(last, std::memory_order_acq_rel);
    // Release: pairs with the consumer's acquire load of prev->queue_next; the batch (its
    // links and the tasks' state) is visible to whoever follows this link.
    prev->queue_next.store(first, std::memory_order_release);
  }

  // Consumer only (pop_mu_ held, or the caller of pop_exclusive): up to `max` nodes.
  std::size_t consume(QueueLink** out, std::size_t max) noexcept {
    std::size_t n = 0;
    while (n < max) {
      QueueLink* t = pop_one();
      if (t == nullptr) break;
      out[n++] = t;
    }
    // Release: pairs with is_empty's acquire (publishes where the consumer now stands).
    head_hint_->store(head_, std::memory_order_release);
    return n;
  }

  // Consumer only.
  QueueLink* pop_one() noexcept {
    QueueLink* head = head_;
    // Acquire: pairs with link()'s release store.
    QueueLink* next = head->queue_next.load(std::memory_order_acquire);
    if (head == &stub_) {
      if (next == nullptr) return nullptr;
      head_ = head = next;
      next = next->queue_next.load(std::memory_order_acquire);  // pairs with link()'s release store
    }
    if (next != nullptr) {
      head_ = next;
      return head;
    }
    // `head` is the last linked node. If it is not the tail, a producer has exchanged but
    // not linked yet: report nothing for now.
    // Acquire: pairs with the producers' exchange.
    if (head != tail_->load(std::memory_order_acquire)) return nullptr;
    // Re-insert the stub behind `head` so that `head` can be detached.
    stub_.queue_next.store(nullptr, std::memory_order_relaxed);
    link(&stub_, &stub_);
    // A producer may have exchanged the tail after `head` just before our stub went in; it
    // is one store away from linking. Wait for it rather than report nothing: returning
    // empty here, with the tail now the stub, would make the queue look empty to parking
    // workers while that producer's node is queued (its own wake-up check may already have
    // seen a searcher and skipped).
    for (int spins = 0; (next = head->queue_next.load(std::memory_order_acquire)) == nullptr; ++spins) {
      if (spins < 64) cpu_relax();
      else std::this_thread::yield();  // the producer may have been preempted
    }
    head_ = next;
    return head;
  }

  static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  cache_padded<std::atomic<QueueLink*>> tail_;   // written by producers (exchange)
  cache_padded<std::atomic<QueueLink*>> head_hint_;  // head_, as of the last pop_batch
  QueueLink* head_;                               // consumer only (pop_mu_, or pop_exclusive)
  QueueLink stub_;
  std::mutex pop_mu_;                             // taken with try_lock by consuming workers
};

}  // namespace weft::detail
