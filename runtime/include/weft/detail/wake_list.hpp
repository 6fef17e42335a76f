#pragma once
// WakeList: wakers taken under a lock and woken after it is released, up to 32 at a time
// (tokio's WakeList). Raw storage: an empty list constructs and destroys no Waker.
#include <cstddef>
#include <new>
#include <utility>

#include "weft/waker.hpp"

namespace weft::detail {

/// Up to 32 wakers taken under the lock, woken after it is released (tokio's WakeList).
class WakeList {
 public:
  static constexpr std::size_t capacity = 32;
  WakeList() noexcept = default;
  WakeList(const WakeList&) = delete;
  WakeList& operator=(const WakeList&) = delete;
  ~WakeList() {
    // SAFETY: the first n_ entries were constructed by push and not yet destroyed.
    for (std::size_t i = 0; i < n_; ++i) at(i)->~Waker();
  }
  [[nodiscard]] bool full() const noexcept { return n_ == capacity; }
  void push(Waker&& w) noexcept {
    // SAFETY: n_ < capacity (callers check full()); the storage at n_ holds no object.
    ::new (static_cast<void*>(buf_ + n_ * sizeof(Waker))) Waker(std::move(w));
    ++n_;
  }
  /// Wakes and destroys every waker held; the list is empty afterwards.
  void wake_all() noexcept {
    for (std::size_t i = 0; i < n_; ++i) {
      Waker* w = at(i);
      std::move(*w).wake();
      w->~Waker();  // SAFETY: constructed by push; destroyed once (n_ is reset below)
    }
    n_ = 0;
  }

 private:
  Waker* at(std::size_t i) noexcept {
    // SAFETY: i < n_, so push constructed a Waker there.
    return std::launder(reinterpret_cast<Waker*>(buf_ + i * sizeof(Waker)));
  }
  alignas(Waker) unsigned char buf_[capacity * sizeof(Waker)];
  std::size_t n_ = 0;
};

}  // namespace weft::detail
