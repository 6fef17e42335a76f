#pragma once
// A doubly linked FIFO of waiter nodes, for the wait queues of Notify and Semaphore. Not
// thread-safe: its owner guards it with a mutex. N has prev, next and linked members: a
// WaitNode<N> gives them, with the waker to wake.
#include "weft/waker.hpp"

namespace weft::detail {

/// What every waiter node holds, guarded by its list's owner: the links, whether it is
/// linked, and the waker of the task waiting. A primitive's node derives from it and adds
/// what that primitive records (Notify: how it was notified; Semaphore: a permit
/// assigned).
template <class N>
struct WaitNode {
  N* prev = nullptr;
  N* next = nullptr;
  bool linked = false;
  Waker waker;
};

template <class N>
class IntrusiveList {
 public:
  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  /// The first node, or null; it stays linked.
  [[nodiscard]] N* front() const noexcept { return head_; }
  void push_back(N* n) noexcept {
    n->prev = tail_;
    n->next = nullptr;
    if (tail_) tail_->next = n;
    else head_ = n;
    tail_ = n;
    n->linked = true;
  }
  N* pop_front() noexcept {
    N* n = head_;
    if (n) unlink(n);
    return n;
  }
  void unlink(N* n) noexcept {
    if (n->prev) n->prev->next = n->next;
    else head_ = n->next;
    if (n->next) n->next->prev = n->prev;
    else tail_ = n->prev;
    n->prev = n->next = nullptr;
    n->linked = false;
  }

 private:
  N* head_ = nullptr;
  N* tail_ = nullptr;
};

}  // namespace weft::detail
