#pragma once
// weft::Task<T>: a lazy coroutine producing one T (or an exception). T may be void or a
// reference (Task<T&> yields the reference the coroutine returned). Nothing runs until it
// is awaited by another task or spawned; `co_await task` runs it to completion on the
// awaiting task by symmetric transfer (no scheduler round trip) and yields its value or
// rethrows its exception. Frames come from the allocator chosen by WEFT_ALLOCATOR
// (detail/alloc.hpp).
//
// Cancel safety: destroying a suspended Task destroys its frame, running the destructors of
// its locals and of the tasks and futures it was awaiting.
//
// Exceptions from destructors of a task's locals (a `noexcept(false)` destructor):
// - when the task completes, the exception escapes its body: the task's outcome is that
//   exception (a JoinError panic when spawned; rethrown by co_await), not its value;
// - when the task is destroyed while suspended (abort, shutdown, a dropped Task), the task's
//   outcome is "cancelled" and the exception is discarded.
// A result type whose move constructor throws while a spawned task's value is stored makes
// the outcome a JoinError panic holding that exception.
//
// Memory: a Task<T> frame is allocated with room in front of it for the cell that spawning
// it needs (detail::Cell<T>: state word, join waker, output), so a spawn costs no allocation
// of its own, as a tokio task cell holds its future. A task that is only ever co_awaited
// carries the unused room (about 150 bytes plus the size of T).
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/detail/alloc.hpp"
#include "weft/detail/unique_coroutine.hpp"
#include "weft/future.hpp"

namespace weft {

template <class T = void>
class Task;

namespace coop {
/// Runs `t` without a cooperative budget: none of its awaits (nor those of the tasks it
/// awaits) yield because the budget is spent. Spawn or await the task it returns.
template <class T>
Task<T> unconstrained(Task<T> t) noexcept;
}  // namespace coop

namespace detail {

template <class T>
struct Cell;  // weft/detail/task_cell.hpp

/// The block of a Task<T> frame: [ room for a Cell<T> | FrameTrailer | coroutine frame ].
/// The trailer sits right before the frame. The block is freed with the frame, unless a
/// cell was built in it (spawn): then the frame's destruction leaves the block to the cell,
/// which frees it when its last reference goes (Cell::dealloc).
struct FrameTrailer {
  std::size_t block_size;
  std::uint32_t magic;
  bool has_cell;  // written by spawn before the task is published; read when the frame dies
};
inline constexpr std::uint32_t frame_magic = 0x77656674;  // "weft"
inline constexpr std::size_t frame_align = alignof(std::max_align_t);
inline constexpr std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }
inline constexpr std::size_t trailer_space = round_up(sizeof(FrameTrailer), frame_align);
/// Bytes in front of a Task<T> frame.
template <class T>
constexpr std::size_t frame_prefix() noexcept {
  return round_up(sizeof(Cell<T>), frame_align) + trailer_space;
}
inline FrameTrailer* trailer_of(void* frame) noexcept {
  // SAFETY: `frame` was returned by FrameAlloc<T>::operator new, which built the trailer
  // trailer_space bytes before it.
  return std::launder(reinterpret_cast<FrameTrailer*>(static_cast<char*>(frame) - trailer_space));
}

/// The frame allocation of a TaskPromise<T> (see FrameTrailer).
template <class T>
struct FrameAlloc {
  static void* operator new(std::size_t n) {
    constexpr std::size_t prefix = frame_prefix<T>();
    char* base = static_cast<char*>(frame_alloc(prefix + n));
    // SAFETY: fresh storage; the trailer's slot is aligned (prefix and trailer_space are
    // multiples of frame_align, and so is the allocation).
    ::new (base + prefix - trailer_space) FrameTrailer{prefix + n, frame_magic, false};
    return base + prefix;
  }
  static void operator delete(void* p, std::size_t) noexcept {
    FrameTrailer* t = trailer_of(p);
    if (t->has_cell) return;  // the cell owns the block now
    frame_free(static_cast<char*>(p) - frame_prefix<T>(), t->block_size);
  }
};

/// Marks the frame of `h` as holding a cell and returns the cell's storage. Checks that the
/// compiler's coroutine_handle::address() is the pointer operator new returned (true of
/// GCC and Clang); if it ever is not, stops with a message rather than corrupt memory.
template <class T>
void* claim_cell_storage(std::coroutine_handle<> h) noexcept {
  FrameTrailer* t = trailer_of(h.address());
  if (t->magic != frame_magic || t->has_cell) {
    std::fputs("weft: a coroutine frame does not start where its operator new placed it\n", stderr);
    std::abort();
  }
  t->has_cell = true;
  return static_cast<char*>(h.address()) - frame_prefix<T>();
}

/// Destroys the frame of a task suspended somewhere other than its final point (an abort, a
/// dropped Task). If a local's destructor throws during that, GCC and Clang hand the
/// exception to unhandled_exception and run final_suspend instead of freeing the frame; the
/// frame then rests at its final point, resuming nothing, and is destroyed once more here.
template <class P>
void destroy_suspended(std::coroutine_handle<P> h) noexcept {
  bool reached_final = false;
  h.promise().reached_final_while_destroyed = &reached_final;
  h.promise().continuation = nullptr;
  h.destroy();
  // SAFETY: reached_final is only set when the frame stopped at final_suspend rather than
  // being freed, so h is still valid then.
  if (reached_final) h.destroy();
}

struct TaskPromiseBase {
  std::coroutine_handle<> continuation;
  // coop::unconstrained: this task's awaits spend no budget. Set before the task starts;
  // inherited by the tasks it awaits.
  bool unconstrained = false;
  // Set by destroy_suspended while it destroys the frame (see there).
  bool* reached_final_while_destroyed = nullptr;

  /// How UniqueCoroutine destroys a task's frame (see destroy_suspended).
  template <class P>
  static void destroy_frame(std::coroutine_handle<P> h) noexcept {
    destroy_suspended(h);
  }

  std::suspend_always initial_suspend() const noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      if (bool* f = h.promise().reached_final_while_destroyed) {
        *f = true;  // a destructor threw during destroy(): see destroy_suspended
        return std::noop_coroutine();
      }
      auto c = h.promise().continuation;
      return c ? c : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() const noexcept { return {}; }

  template <class A>
  decltype(auto) await_transform(A&& a) {
    return transform_await(std::forward<A>(a), unconstrained);
  }
};

/// How a promise or a result holds a T: a reference as a reference_wrapper (Task<T&>).
template <class T>
using stored_t = std::conditional_t<std::is_reference_v<T>, std::reference_wrapper<std::remove_reference_t<T>>, T>;

template <class T>
struct TaskPromise : TaskPromiseBase, FrameAlloc<T> {
  std::variant<std::monostate, stored_t<T>, std::exception_ptr> result;
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
struct TaskPromise<void> : TaskPromiseBase, FrameAlloc<void> {
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
  explicit Task(handle_type h) noexcept : frame_(h) {}
  // Moves, and the destruction of a task never started or dropped while suspended, are
  // those of its frame's owner (detail::UniqueCoroutine).

  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(frame_); }
  explicit operator bool() const noexcept { return valid(); }

  /// Gives up ownership of the frame (used by spawn).
  handle_type release() noexcept { return frame_.release(); }

  /// Runs the task on the awaiting coroutine and yields its value (or rethrows). The frame
  /// moves into the awaiter, so awaiting the same Task twice throws std::logic_error.
  auto operator co_await() && {
    if (!frame_) throw std::logic_error("weft::Task: co_await on an empty (moved-from or already awaited) task");
    return Awaiter{std::move(frame_)};
  }

 private:
  struct Awaiter {
    // Destroyed before the child finished (the parent is being destroyed: an abort), the
    // owner destroys the child, which must not resume the dying parent, even if a
    // destructor in it throws (detail::destroy_suspended).
    detail::UniqueCoroutine<promise_type> child;
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
      child.promise().continuation = parent;
      if constexpr (std::is_base_of_v<detail::TaskPromiseBase, P>)
        if (parent.promise().unconstrained) child.promise().unconstrained = true;
      return child.get();
    }
    T await_resume() { return child.promise().take(); }
  };
  template <class U>
  friend Task<U> coop::unconstrained(Task<U> t) noexcept;
  detail::UniqueCoroutine<promise_type> frame_;
};

template <class T>
Task<T> coop::unconstrained(Task<T> t) noexcept {
  if (t.frame_) t.frame_.promise().unconstrained = true;
  return t;
}

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

// Cell<T>, whose size the frame allocation needs (task_cell.hpp includes this file first).
#include "weft/detail/task_cell.hpp"
