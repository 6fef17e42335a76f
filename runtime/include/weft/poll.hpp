#pragma once
// Poll<T>: the result of polling a leaf future or stream once: Ready(value) or Pending.
// A Pending result promises that the Context's waker was registered and will be woken
// when polling again may make progress.
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

struct PendingTag {
  explicit constexpr PendingTag() = default;
};
inline constexpr PendingTag pending{};

template <class T>
class [[nodiscard]] Poll {
 public:
  using value_type = T;
  constexpr Poll(PendingTag) noexcept {}
  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Poll>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, PendingTag>)
  constexpr Poll(U&& value) : value_(std::in_place, std::forward<U>(value)) {}

  [[nodiscard]] constexpr bool is_ready() const noexcept { return value_.has_value(); }
  [[nodiscard]] constexpr bool is_pending() const noexcept { return !value_.has_value(); }
  constexpr T& operator*() & { return *value_; }
  constexpr T&& operator*() && { return std::move(*value_); }
  constexpr T* operator->() { return &*value_; }
  /// Moves the ready value out. Precondition: is_ready().
  constexpr T take() { return std::move(*value_); }

 private:
  std::optional<T> value_;
};

template <>
class [[nodiscard]] Poll<void> {
 public:
  using value_type = void;
  constexpr Poll(PendingTag) noexcept : ready_(false) {}
  constexpr Poll() noexcept : ready_(true) {}
  [[nodiscard]] constexpr bool is_ready() const noexcept { return ready_; }
  [[nodiscard]] constexpr bool is_pending() const noexcept { return !ready_; }
  constexpr void take() const noexcept {}

 private:
  bool ready_;
};

/// Ready(): a ready Poll<void>.
constexpr Poll<void> ready() noexcept { return Poll<void>{}; }

}  // namespace weft
