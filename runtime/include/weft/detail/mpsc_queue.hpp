#pragma once
// An unbounded multi-producer single-consumer queue of values: Dmitry Vyukov's non-intrusive
// MPSC node-based queue (1024cores.net). Push is wait-free (one exchange, one store); pop is
// done by the single consumer. The head node is a dummy whose value was already consumed.
//
// A producer between its exchange and its link store makes the queue look empty to the
// consumer although the tail moved: pop reports `inconsistent` then, and the producer's
// wake-up after its push makes the consumer look again.
#include <atomic>
#include <optional>
#include <utility>

#include "weft/detail/alloc.hpp"
#include "weft/detail/cache_padded.hpp"

namespace weft::detail {

template <class T>
class MpscQueue {
  struct Node {
    std::atomic<Node*> next{nullptr};
    std::optional<T> value;
    static void* operator new(std::size_t n) { return frame_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
  };

 public:
  enum class Pop { value, empty, inconsistent };

  MpscQueue() : head_(new Node) { tail_->store(head_, std::memory_order_relaxed); }
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;
  ~MpscQueue() {
    while (head_) {
      // Relaxed: destruction; no producer is left (they hold the channel alive).
      Node* next = head_->next.load(std::memory_order_relaxed);
      delete head_;
      head_ = next;
    }
  }

  /// Any thread.
  void push(T v) {
    Node* n = new Node;
    n->value.emplace(std::move(v));
    // AcqRel: release publishes the node's value to the consumer (via the link below) and
    // to the next producer; acquire sees the previous tail initialized.
    Node* prev = tail_->exchange(n, std::memory_order_acq_rel);
    // Release: pairs with the consumer's acquire load of next.
    prev->next.store(n, std::memory_order_release);
  }

  /// Consumer only.
  Pop pop(std::optional<T>& out) {
    Node* head = head_;
    // Acquire: pairs with push's release store of next.
    Node* next = head->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      out.emplace(std::move(*next->value));
      next->value.reset();
      head_ = next;
      delete head;
      return Pop::value;
    }
    // Acquire: pairs with producers' exchange.
    return tail_->load(std::memory_order_acquire) == head ? Pop::empty : Pop::inconsistent;
  }

 private:
  cache_padded<std::atomic<Node*>> tail_;  // producers
  Node* head_;                             // consumer only
};

}  // namespace weft::detail
