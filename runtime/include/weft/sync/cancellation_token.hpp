#pragma once
// CancellationToken: a cloneable handle to a cancellation flag shared by a tree of tokens
// (tokio_util::sync::CancellationToken). cancel() cancels this token and every child made
// with child_token(), recursively; cancelling a child does not cancel its parent.
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
  struct Node {
    std::atomic<bool> cancelled{false};
    Notify notify;
    std::mutex mu;  // guards children
    std::vector<std::weak_ptr<Node>> children;
  };

 public:
  CancellationToken() : node_(std::make_shared<Node>()) {}

  /// A token cancelled when this one is (or when cancelled itself).
  [[nodiscard]] CancellationToken child_token() const {
    CancellationToken child;
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
  static void cancel_node(const std::shared_ptr<Node>& n) {
    std::vector<std::shared_ptr<Node>> children;
    {
      std::lock_guard l(n->mu);
      // Release: pairs with is_cancelled's acquire.
      if (n->cancelled.exchange(true, std::memory_order_acq_rel)) return;
      for (auto& w : n->children)
        if (auto c = w.lock()) children.push_back(std::move(c));
      n->children.clear();
    }
    // Notified futures created before this call complete (generation), later ones see the flag.
    n->notify.notify_waiters();
    for (auto& c : children) cancel_node(c);
  }

  std::shared_ptr<Node> node_;
};

}  // namespace weft
