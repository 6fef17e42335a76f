#pragma once
// weft::Result<T, E>: a value of type T (T may be void) or an error E, as Rust's Result, for
// operations whose failure is an expected outcome the caller must look at: a send to a
// closed channel hands its value back, a broadcast receive that lagged. It is [[nodiscard]]:
// ignoring a failed send would lose the value silently.
//
//   if (auto r = tx.send(v); !r) log(r.error().value);   // the value came back
//   auto r = rx.try_recv();
//   if (r) use(*r);                                       // has_value()
//   else if (r.error().is_lagged()) ...                   // the error, by reference
//
// Made from a value (implicitly), from Err{e}, or with Result::ok(...) / Result::err(e).
// value() on an error, or error() on a value, is a precondition violation and throws
// std::logic_error (never undefined behaviour).
#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft {

/// The error side of a Result, for `return Err(e);`.
template <class E>
struct Err {
  Err(E e) : error(std::move(e)) {}  // a constructor: clang 14 has no parenthesized aggregate init
  E error;
};

template <class T, class E>
class [[nodiscard]] Result {
  using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

 public:
  using value_type = T;
  using error_type = E;

  /// Success (for T = void, or a default-constructible T).
  Result()
    requires std::is_default_constructible_v<Stored>
  = default;
  template <class U = Stored>
    requires std::is_constructible_v<Stored, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Result>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, Err<E>>)
  Result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
  Result(Err<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

  template <class... A>
  static Result ok(A&&... a) {
    return Result(std::in_place_index<0>, std::forward<A>(a)...);
  }
  static Result err(E e) { return Result(std::in_place_index<1>, std::move(e)); }

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  [[nodiscard]] bool is_ok() const noexcept { return has_value(); }
  [[nodiscard]] bool is_err() const noexcept { return !has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value. Throws std::logic_error if this is an error.
  decltype(auto) value() & {
    check_value();
    if constexpr (!std::is_void_v<T>) return std::get<0>(v_);
  }
  decltype(auto) value() const& {
    check_value();
    if constexpr (!std::is_void_v<T>) return std::get<0>(v_);
  }
  decltype(auto) value() && {
    check_value();
    if constexpr (!std::is_void_v<T>) return T(std::move(std::get<0>(v_)));
  }
  decltype(auto) operator*() & { return value(); }
  decltype(auto) operator*() const& { return value(); }
  decltype(auto) operator*() && { return std::move(*this).value(); }
  auto* operator->()
    requires(!std::is_void_v<T>)
  {
    return &value();
  }
  const auto* operator->() const
    requires(!std::is_void_v<T>)
  {
    return &value();
  }

  /// The error. Throws std::logic_error if this holds a value.
  E& error() & {
    check_error();
    return std::get<1>(v_);
  }
  const E& error() const& {
    check_error();
    return std::get<1>(v_);
  }
  E error() && {
    check_error();
    return E(std::move(std::get<1>(v_)));
  }

 private:
  template <std::size_t I, class... A>
  explicit Result(std::in_place_index_t<I> tag, A&&... a) : v_(tag, std::forward<A>(a)...) {}
  void check_value() const {
    if (!has_value()) throw std::logic_error("weft::Result::value on an error result");
  }
  void check_error() const {
    if (has_value()) throw std::logic_error("weft::Result::error on a successful result");
  }
  std::variant<Stored, E> v_;
};

}  // namespace weft
