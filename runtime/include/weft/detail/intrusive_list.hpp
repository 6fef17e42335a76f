#pragma once
// A doubly linked FIFO of waiter nodes, for the wait queues of Notify and Semaphore.
// Not thread-safe: its owner guards it with a mutex. N has prev, next and linked members.
namespace weft::detail {

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
