#pragma once
// weft::Result<V, E>: a value or an error, for operations whose failure is an expected
// outcome the caller must look at (a send to a closed channel hands its value back). It is
// [[nodiscard]]: ignoring a failed send would lose the value silently. V may be void.
//
//   if (auto r = tx.send(v); !r) log(r.error().value);   // the value came back
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft {

template <class E>
struct Err {
  E error;
};
template <class E>
Err(E) -> Err<E>;

template <class V, class E>
class [[nodiscard]] Result {
  using Stored = std::conditional_t<std::is_void_v<V>, std::monostate, V>;

 public:
  /// Success (for V = void, or a default-constructible V).
  Result()
    requires std::is_default_constructible_v<Stored>
  = default;
  template <class U = Stored>
    requires std::is_constructible_v<Stored, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Result>)
  Result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
  Result(Err<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

  [[nodiscard]] bool is_ok() const noexcept { return v_.index() == 0; }
  [[nodiscard]] bool is_err() const noexcept { return v_.index() == 1; }
  explicit operator bool() const noexcept { return is_ok(); }

  /// The value; throws std::logic_error on an error.
  decltype(auto) value() & {
    check_ok();
    if constexpr (!std::is_void_v<V>) return std::get<0>(v_);
  }
  decltype(auto) value() && {
    check_ok();
    if constexpr (!std::is_void_v<V>) return V(std::move(std::get<0>(v_)));
  }
  /// The error; throws std::logic_error on success.
  E& error() & {
    check_err();
    return std::get<1>(v_);
  }
  const E& error() const& {
    check_err();
    return std::get<1>(v_);
  }
  E error() && {
    check_err();
    return std::move(std::get<1>(v_));
  }

 private:
  void check_ok() const {
    if (!is_ok()) throw std::logic_error("weft::Result::value on an error");
  }
  void check_err() const {
    if (is_ok()) throw std::logic_error("weft::Result::error on a success");
  }
  std::variant<Stored, E> v_;
};

}  // namespace weft
