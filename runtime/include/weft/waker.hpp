#pragma once
// Waker and Context: the contract between leaf futures and whatever drives them.
//
// A Waker is a cheap, copyable, type-erased, reference-counted handle: copying it clones the
// reference, destroying it drops it. wake() consumes the waker; wake_by_ref() does not.
// A Context carries the waker of the task currently polling a future.
#include <atomic>
#include <memory>
#include <utility>

namespace weft {

/// The operations behind a Waker, in the spirit of Rust's RawWakerVTable.
struct WakerVTable {
  /// Returns a new reference to the same target.
  void* (*clone)(void* data);
  /// Wakes the target and releases this reference.
  void (*wake)(void* data);
  /// Wakes the target, keeping this reference.
  void (*wake_by_ref)(void* data);
  /// Releases this reference.
  void (*drop)(void* data);
};

namespace detail {
/// The no-op waker's operations (runtime/src/waker.cpp).
extern const WakerVTable noop_waker_vtable;
}  // namespace detail

class Waker {
 public:
  /// A waker that does nothing (never null to call).
  Waker() noexcept : vtable_(&detail::noop_waker_vtable), data_(nullptr) {}
  /// Adopts one reference to `data`.
  Waker(const WakerVTable* vtable, void* data) noexcept : vtable_(vtable), data_(data) {}

  Waker(const Waker& other) noexcept : vtable_(other.vtable_), data_(other.vtable_->clone(other.data_)) {}
  Waker(Waker&& other) noexcept : vtable_(other.vtable_), data_(other.data_) { other.reset_to_noop(); }
  Waker& operator=(const Waker& other) noexcept {
    if (this != &other) {
      Waker tmp(other);
      swap(tmp);
    }
    return *this;
  }
  Waker& operator=(Waker&& other) noexcept {
    if (this != &other) {
      Waker tmp(std::move(other));
      swap(tmp);
    }
    return *this;
  }
  ~Waker() { vtable_->drop(data_); }

  void swap(Waker& other) noexcept {
    std::swap(vtable_, other.vtable_);
    std::swap(data_, other.data_);
  }

  /// Wakes the target and leaves this waker a no-op waker.
  void wake() && noexcept {
    auto* vt = vtable_;
    auto* d = data_;
    reset_to_noop();
    vt->wake(d);
  }
  /// Wakes the target; this waker stays usable.
  void wake_by_ref() const noexcept { vtable_->wake_by_ref(data_); }
  /// True if waking either waker wakes the same target.
  [[nodiscard]] bool will_wake(const Waker& other) const noexcept {
    return vtable_ == other.vtable_ && data_ == other.data_;
  }

  [[nodiscard]] const WakerVTable* vtable() const noexcept { return vtable_; }
  [[nodiscard]] void* data() const noexcept { return data_; }

  /// A waker that calls `fn()` on every wake; fn is shared by all clones.
  template <class F>
  static Waker from_fn(F fn);

 private:
  void reset_to_noop() noexcept {
    vtable_ = &detail::noop_waker_vtable;
    data_ = nullptr;
  }
  const WakerVTable* vtable_;
  void* data_;
};

/// A Waker borrowed for the duration of a poll: it does not own a reference, so it is
/// never destroyed. Copying `get()` produces an owning clone.
class WakerRef {
 public:
  WakerRef(const WakerVTable* vtable, void* data) noexcept {
    // SAFETY: the borrowed waker is never destroyed, so it never drops the reference
    // it does not own. Clones made from it take their own reference.
    ::new (static_cast<void*>(storage_)) Waker(vtable, data);
  }
  WakerRef(const WakerRef&) = delete;
  WakerRef& operator=(const WakerRef&) = delete;
  [[nodiscard]] const Waker& get() const noexcept {
    return *std::launder(reinterpret_cast<const Waker*>(storage_));
  }

 private:
  alignas(Waker) unsigned char storage_[sizeof(Waker)];
};

/// The context of one poll: the waker to register if the result is Pending.
class Context {
 public:
  explicit Context(const Waker& waker) noexcept : waker_(&waker) {}
  /// A Context refers to its waker: one made from a temporary would dangle after the
  /// statement (`Context cx{Waker()};`), so that does not compile.
  Context(const Waker&&) = delete;
  [[nodiscard]] const Waker& waker() const noexcept { return *waker_; }

 private:
  const Waker* waker_;
};

namespace detail {
template <class F>
struct FnWakerState {
  std::atomic<std::size_t> refs{1};
  F fn;
  explicit FnWakerState(F f) : fn(std::move(f)) {}
  static void* clone(void* d) noexcept {
    // Relaxed: a new reference is made from an existing one; nothing is published.
    static_cast<FnWakerState*>(d)->refs.fetch_add(1, std::memory_order_relaxed);
    return d;
  }
  static void wake_by_ref(void* d) noexcept { static_cast<FnWakerState*>(d)->fn(); }
  static void drop(void* d) noexcept {
    auto* s = static_cast<FnWakerState*>(d);
    // AcqRel: the last drop must see every other holder's use before deleting.
    if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
  }
  static void wake(void* d) noexcept {
    wake_by_ref(d);
    drop(d);
  }
  static constexpr WakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};
};
}  // namespace detail

template <class F>
Waker Waker::from_fn(F fn) {
  auto* s = new detail::FnWakerState<F>(std::move(fn));
  return Waker(&detail::FnWakerState<F>::vtable, s);
}

}  // namespace weft
