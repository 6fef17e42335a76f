#pragma once
// JoinError and JoinResult<T>: how a spawned task's outcome is reported.
// A task that threw yields a JoinError carrying the exception (is_panic); an aborted task,
// or one whose runtime shut down before it finished, yields a JoinError with is_cancelled.
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft {

/// Identifies a spawned task; unique for the life of the process.
struct TaskId {
  std::uint64_t value = 0;
  friend constexpr bool operator==(TaskId, TaskId) = default;
  friend constexpr auto operator<=>(TaskId, TaskId) = default;
};

class JoinError : public std::exception {
 public:
  enum class Kind : std::uint8_t { cancelled, panic };

  static JoinError cancelled(TaskId id, const char* why = "task was cancelled") {
    return JoinError(Kind::cancelled, id, nullptr, why);
  }
  static JoinError panic(TaskId id, std::exception_ptr e) {
    return JoinError(Kind::panic, id, std::move(e), "task threw an exception");
  }

  [[nodiscard]] bool is_cancelled() const noexcept { return kind_ == Kind::cancelled; }
  [[nodiscard]] bool is_panic() const noexcept { return kind_ == Kind::panic; }
  [[nodiscard]] TaskId id() const noexcept { return id_; }
  /// The exception the task threw (null unless is_panic()).
  [[nodiscard]] const std::exception_ptr& panic_payload() const noexcept { return payload_; }
  /// Rethrows the task's own exception. Precondition: is_panic().
  [[noreturn]] void resume_panic() const {
    if (!payload_) throw std::logic_error("weft::JoinError::resume_panic on a cancelled task");
    std::rethrow_exception(payload_);
  }
  [[nodiscard]] const char* what() const noexcept override { return message_.c_str(); }

 private:
  JoinError(Kind kind, TaskId id, std::exception_ptr payload, const char* why)
      : kind_(kind), id_(id), payload_(std::move(payload)) {
    message_ = "weft::JoinError: task " + std::to_string(id.value) + ": " + why;
    if (payload_) {
      try {
        std::rethrow_exception(payload_);
      } catch (const std::exception& e) {
        message_ += ": ";
        message_ += e.what();
      } catch (...) {
      }
    }
  }
  Kind kind_;
  TaskId id_;
  std::exception_ptr payload_;
  std::string message_;
};

/// The outcome of a task: its value, or a JoinError. T may be void.
template <class T>
class [[nodiscard]] JoinResult {
  using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

 public:
  template <class... A>
  static JoinResult ok(A&&... a) {
    return JoinResult(std::in_place_index<0>, std::forward<A>(a)...);
  }
  static JoinResult err(JoinError e) { return JoinResult(std::in_place_index<1>, std::move(e)); }

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  [[nodiscard]] bool is_cancelled() const noexcept { return !has_value() && error().is_cancelled(); }
  [[nodiscard]] bool is_panic() const noexcept { return !has_value() && error().is_panic(); }

  /// The value; throws the JoinError if there is none.
  decltype(auto) value() & {
    check();
    if constexpr (!std::is_void_v<T>) return std::get<0>(v_);
  }
  decltype(auto) value() && {
    check();
    if constexpr (!std::is_void_v<T>) return T(std::move(std::get<0>(v_)));
  }
  decltype(auto) operator*() & { return value(); }
  [[nodiscard]] const JoinError& error() const {
    if (has_value()) throw std::logic_error("weft::JoinResult::error on a successful result");
    return std::get<1>(v_);
  }

 private:
  template <std::size_t I, class... A>
  explicit JoinResult(std::in_place_index_t<I> tag, A&&... a) : v_(tag, std::forward<A>(a)...) {}
  void check() const {
    if (!has_value()) throw std::get<1>(v_);
  }
  std::variant<Stored, JoinError> v_;
};

}  // namespace weft
