#pragma once
// UniqueCoroutine<Promise>: the one owner of a coroutine frame, as std::unique_ptr is of a
// heap object. Move-only; the frame is destroyed when its owner goes (destroyed, assigned
// over, reset) unless it was given up with release(). weft::Task<T> (and the awaiter that
// runs it), TaskFuture<T> and stream::Generator<T> hold their frames in one.
//
// A promise type may say how its frame is destroyed with a static `destroy_frame(handle)`
// (weft::Task's promise does: detail::destroy_suspended, which copes with a local whose
// destructor throws); otherwise the owner calls handle.destroy().
#include <coroutine>
#include <utility>

namespace weft::detail {

template <class Promise>
class UniqueCoroutine {
 public:
  using handle_type = std::coroutine_handle<Promise>;

  UniqueCoroutine() noexcept = default;
  /// Adopts the frame of `h`.
  explicit UniqueCoroutine(handle_type h) noexcept : h_(h) {}
  UniqueCoroutine(UniqueCoroutine&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  UniqueCoroutine& operator=(UniqueCoroutine&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  UniqueCoroutine(const UniqueCoroutine&) = delete;
  UniqueCoroutine& operator=(const UniqueCoroutine&) = delete;
  ~UniqueCoroutine() { reset(); }

  explicit operator bool() const noexcept { return static_cast<bool>(h_); }
  [[nodiscard]] handle_type get() const noexcept { return h_; }
  /// Precondition: not empty.
  [[nodiscard]] Promise& promise() const noexcept { return h_.promise(); }

  /// Gives up ownership of the frame: the caller destroys it.
  [[nodiscard]] handle_type release() noexcept { return std::exchange(h_, {}); }
  /// Destroys the frame, if there is one; the owner is empty afterwards.
  void reset() noexcept {
    if (handle_type h = std::exchange(h_, {})) {
      if constexpr (requires { Promise::destroy_frame(h); }) Promise::destroy_frame(h);
      else h.destroy();
    }
  }

 private:
  handle_type h_;
};

}  // namespace weft::detail
