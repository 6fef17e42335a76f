#pragma once
// JoinError and JoinResult<T>: how a spawned task's outcome is reported.
// A task that threw yields a JoinError carrying the exception (is_panic); an aborted task,
// or one whose runtime shut down before it finished, yields a JoinError with is_cancelled.
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
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

  /// `why` must be a string literal (or outlive every copy of the error).
  static JoinError cancelled(TaskId id, const char* why = "task was cancelled") noexcept {
    return JoinError(Kind::cancelled, id, nullptr, why);
  }
  static JoinError panic(TaskId id, std::exception_ptr e) noexcept {
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
  /// "weft::JoinError: task <id>: <why>[: <the exception's what()>]", formatted on the first
  /// call (cancelling or failing a task costs no formatting; thread-safe).
  [[nodiscard]] const char* what() const noexcept override {
    // Acquire: pairs with the release CAS below, so the string's contents are visible.
    if (const std::string* m = message_.load(std::memory_order_acquire)) return m->c_str();
    std::string* fresh = nullptr;
    try {
      fresh = new std::string(format());
    } catch (...) {
      return why_;  // out of memory: the reason without the id
    }
    const std::string* expected = nullptr;
    // AcqRel: release publishes our string; acquire (on failure) sees the winner's.
    if (message_.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel, std::memory_order_acquire))
      return fresh->c_str();
    delete fresh;
    return expected->c_str();
  }

  JoinError(const JoinError& o) noexcept : kind_(o.kind_), id_(o.id_), payload_(o.payload_), why_(o.why_) {}
  JoinError& operator=(const JoinError& o) noexcept {
    if (this != &o) {
      kind_ = o.kind_;
      id_ = o.id_;
      payload_ = o.payload_;
      why_ = o.why_;
      // Relaxed: assignment needs exclusive access to *this anyway.
      delete message_.exchange(nullptr, std::memory_order_relaxed);
    }
    return *this;
  }
  JoinError(JoinError&& o) noexcept
      : kind_(o.kind_), id_(o.id_), payload_(std::move(o.payload_)), why_(o.why_),
        // Relaxed: moving from `o` needs exclusive access to it anyway.
        message_(o.message_.exchange(nullptr, std::memory_order_relaxed)) {}
  JoinError& operator=(JoinError&& o) noexcept {
    if (this != &o) {
      kind_ = o.kind_;
      id_ = o.id_;
      payload_ = std::move(o.payload_);
      why_ = o.why_;
      // Relaxed: both objects are accessed exclusively here.
      delete message_.exchange(o.message_.exchange(nullptr, std::memory_order_relaxed), std::memory_order_relaxed);
    }
    return *this;
  }
  ~JoinError() override { delete message_.load(std::memory_order_relaxed); }

 private:
  JoinError(Kind kind, TaskId id, std::exception_ptr payload, const char* why) noexcept
      : kind_(kind), id_(id), payload_(std::move(payload)), why_(why) {}

  std::string format() const {
    std::string m = "weft::JoinError: task " + std::to_string(id_.value) + ": " + why_;
    if (payload_) {
      try {
        std::rethrow_exception(payload_);
      } catch (const std::exception& e) {
        m += ": ";
        m += e.what();
      } catch (...) {
      }
    }
    return m;
  }

  Kind kind_;
  TaskId id_;
  std::exception_ptr payload_;
  const char* why_;  // a string literal
  mutable std::atomic<const std::string*> message_{nullptr};  // what(), once formatted
};

/// The outcome of a task: its value, or a JoinError. T may be void.
template <class T>
class [[nodiscard]] JoinResult {
  using Stored = std::conditional_t<std::is_void_v<T>, std::monostate,
                                    std::conditional_t<std::is_reference_v<T>,
                                                       std::reference_wrapper<std::remove_reference_t<T>>, T>>;

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
    if constexpr (std::is_reference_v<T>) return static_cast<T>(std::get<0>(v_).get());
    else if constexpr (!std::is_void_v<T>) return std::get<0>(v_);
  }
  decltype(auto) value() && {
    check();
    if constexpr (std::is_reference_v<T>) return static_cast<T>(std::get<0>(v_).get());
    else if constexpr (!std::is_void_v<T>) return T(std::move(std::get<0>(v_)));
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
