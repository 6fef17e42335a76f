#pragma once
// weft::Task<T>: a lazy coroutine producing one T (or an exception). Nothing runs until it
// is awaited by another task or spawned; `co_await task` runs it to completion on the
// awaiting task by symmetric transfer (no scheduler round trip) and yields its value or
// rethrows its exception. Frames come from the allocator chosen by WEFT_ALLOCATOR
// (detail/alloc.hpp).
//
// Cancel safety: destroying a suspended Task destroys its frame, running the destructors of
// its locals and of the tasks and futures it was awaiting.
#include <coroutine>
#include <exception>
#include <utility>
#include <variant>

#include "weft/detail/alloc.hpp"
#include "weft/future.hpp"

namespace weft {

template <class T = void>
class Task;

namespace detail {

struct TaskPromiseBase {
  std::coroutine_handle<> continuation;

  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }

  std::suspend_always initial_suspend() const noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      auto c = h.promise().continuation;
      return c ? c : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() const noexcept { return {}; }

  template <class A>
  decltype(auto) await_transform(A&& a) {
    return transform_await(std::forward<A>(a));
  }
};

template <class T>
struct TaskPromise : TaskPromiseBase {
  std::variant<std::monostate, T, std::exception_ptr> result;
  Task<T> get_return_object() noexcept;
  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    result.template emplace<1>(std::forward<U>(v));
  }
  void unhandled_exception() noexcept { result.template emplace<2>(std::current_exception()); }
  bool has_exception() const noexcept { return result.index() == 2; }
  std::exception_ptr exception() const noexcept { return std::get<2>(result); }
  T take() {
    if (result.index() == 2) std::rethrow_exception(std::get<2>(result));
    return std::move(std::get<1>(result));
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  std::exception_ptr error;
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void unhandled_exception() noexcept { error = std::current_exception(); }
  bool has_exception() const noexcept { return error != nullptr; }
  std::exception_ptr exception() const noexcept { return error; }
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  Task() noexcept = default;
  explicit Task(handle_type h) noexcept : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }
  explicit operator bool() const noexcept { return valid(); }

  /// Gives up ownership of the frame (used by spawn).
  handle_type release() noexcept { return std::exchange(h_, {}); }

  /// Runs the task on the awaiting coroutine and yields its value (or rethrows). The frame
  /// moves into the awaiter, so awaiting the same Task twice throws std::logic_error.
  auto operator co_await() && {
    struct Awaiter {
      handle_type h;
      explicit Awaiter(handle_type hh) noexcept : h(hh) {}
      Awaiter(Awaiter&& o) noexcept : h(std::exchange(o.h, {})) {}
      Awaiter(const Awaiter&) = delete;
      ~Awaiter() {
        if (h) h.destroy();
      }
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> parent) noexcept {
        h.promise().continuation = parent;
        return h;
      }
      T await_resume() { return h.promise().take(); }
    };
    if (!h_) throw std::logic_error("weft::Task: co_await on an empty (moved-from or already awaited) task");
    return Awaiter{std::exchange(h_, {})};
  }

 private:
  void reset() noexcept {
    if (h_) h_.destroy();
    h_ = {};
  }
  handle_type h_;
};

namespace detail {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace weft
