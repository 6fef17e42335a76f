#pragma once
// CancellationToken: a cloneable handle to a cancellation flag shared by a tree of tokens
// (tokio_util::sync::CancellationToken). cancel() cancels this token and every child made
// with child_token(), and their children, even when the tokens in between were dropped;
// cancelling a child does not cancel its parent.
// cancelled() is a future that completes once the token is cancelled (cancel safe; it may
// be moved at any time).
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "weft/sync/notify.hpp"

namespace weft {

class CancellationToken {
  // The tree: a parent lists its children weakly; a child keeps its parent alive (so a
  // token whose intermediate ancestors were dropped is still cancelled with the root).
  // Cancelling walks the subtree and dropping a chain releases its ancestors with explicit
  // loops, not recursion: a chain of a million child tokens neither overflows the stack.
  struct Node {
    std::atomic<bool> cancelled{false};
    Notify notify;
    std::mutex mu;  // guards children
    std::vector<std::weak_ptr<Node>> children;
    std::shared_ptr<Node> parent;  // set at creation, read only by ~Node

    Node() = default;
    ~Node() {
      // Release the ancestors this node alone keeps alive one by one: letting `parent` go
      // out of scope would destroy them recursively.
      std::shared_ptr<Node> p = std::move(parent);
      while (p && p.use_count() == 1) {
        // We were its only owner. A cancel may lock a weak_ptr to it meanwhile (and then
        // destroy it itself), but nothing besides ~Node reads `parent`, so taking it is safe.
        std::shared_ptr<Node> next = std::move(p->parent);
        p.reset();  // destroys p, whose own parent is already moved out
        p = std::move(next);
      }
    }
  };

 public:
  CancellationToken() : node_(std::make_shared<Node>()) {}

  /// A token cancelled when this one is (or when cancelled itself).
  [[nodiscard]] CancellationToken child_token() const {
    CancellationToken child;
    child.node_->parent = node_;
    std::lock_guard l(node_->mu);
    if (node_->cancelled.load(std::memory_order_acquire)) {
      child.cancel();
    } else {
      auto& cs = node_->children;
      cs.erase(std::remove_if(cs.begin(), cs.end(), [](auto& w) { return w.expired(); }), cs.end());
      cs.push_back(child.node_);
    }
    return child;
  }

  void cancel() const { cancel_node(node_); }

  [[nodiscard]] bool is_cancelled() const noexcept {
    // Acquire: pairs with cancel's release; work done before cancel() is visible.
    return node_->cancelled.load(std::memory_order_acquire);
  }

  class Cancelled {
   public:
    Poll<void> poll(Context& cx) {
      // Acquire: pairs with cancel_node's acq_rel exchange.
      if (node_->cancelled.load(std::memory_order_acquire)) return ready();
      if (notified_->poll(cx).is_ready()) return ready();  // only cancel() notifies
      return pending;
    }

   private:
    friend class CancellationToken;
    explicit Cancelled(std::shared_ptr<Node> n)
        : node_(std::move(n)), notified_(std::make_unique<Notify::Notified>(node_->notify.notified())) {}
    std::shared_ptr<Node> node_;
    // On the heap so that Cancelled may be moved even after it was polled (it is often
    // stored inside a stream, e.g. take_until).
    std::unique_ptr<Notify::Notified> notified_;
  };

  /// Completes once the token is cancelled. Created before or after cancel(), it completes.
  [[nodiscard]] Cancelled cancelled() const { return Cancelled(node_); }

 private:
  static void cancel_node(const std::shared_ptr<Node>& root) {
    // Depth-first over the subtree with an explicit stack (no recursion per level).
    std::vector<std::shared_ptr<Node>> todo{root};
    while (!todo.empty()) {
      std::shared_ptr<Node> n = std::move(todo.back());
      todo.pop_back();
      {
        std::lock_guard l(n->mu);
        // AcqRel: release pairs with is_cancelled's acquire; a node is cancelled once.
        if (n->cancelled.exchange(true, std::memory_order_acq_rel)) continue;
        for (auto& w : n->children)
          if (auto c = w.lock()) todo.push_back(std::move(c));
        n->children.clear();
      }
      // Notified futures created before this call complete (generation), later ones see
      // the flag.
      n->notify.notify_waiters();
    }
  }

  std::shared_ptr<Node> node_;
};
static_assert(Future<CancellationToken::Cancelled>);

}  // namespace weft
