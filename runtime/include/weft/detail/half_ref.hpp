#pragma once
// HalfRef<S, Leave>: the reference a move-only channel half (oneshot's Sender and Receiver,
// watch's Sender) holds to the state S it shares with the other half. When the half goes
// (destroyed, or assigned over) it leaves the channel once, by calling (state.*Leave)():
// what the other half must hear (the value will never come, the receiver is gone, ...).
// A moved-from reference, or one let go with take(), leaves nothing. So each half's moves
// and destructor are the defaults, and "leave the old channel, then take the other's" is
// written here once.
#include <memory>
#include <utility>

namespace weft::detail {

template <class S, void (S::*Leave)() noexcept>
class HalfRef {
 public:
  HalfRef() noexcept = default;
  explicit HalfRef(std::shared_ptr<S> s) noexcept : s_(std::move(s)) {}
  HalfRef(HalfRef&&) noexcept = default;
  HalfRef& operator=(HalfRef&& o) noexcept {
    if (this != &o) {
      leave();
      s_ = std::move(o.s_);
    }
    return *this;
  }
  ~HalfRef() { leave(); }

  explicit operator bool() const noexcept { return s_ != nullptr; }
  S* operator->() const noexcept { return s_.get(); }
  /// The shared state, for a new half or a future that keeps the channel alive.
  [[nodiscard]] const std::shared_ptr<S>& shared() const noexcept { return s_; }

  /// Leaves the channel now (if not done yet); empty afterwards.
  void leave() noexcept {
    if (s_) {
      ((*s_).*Leave)();
      s_.reset();
    }
  }
  /// Lets go of the channel without leaving it: the caller finishes with the state itself.
  [[nodiscard]] std::shared_ptr<S> take() noexcept { return std::move(s_); }

 private:
  std::shared_ptr<S> s_;
};

}  // namespace weft::detail
