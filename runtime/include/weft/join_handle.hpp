#pragma once
// JoinHandle<T>: the owned permission to await a spawned task's outcome.
//
// `co_await handle` yields the task's value, or throws JoinError (the task threw: is_panic,
// with its exception inside; it was aborted or its runtime shut down: is_cancelled).
// `co_await handle.result()` yields a JoinResult<T> and never throws JoinError.
// Awaiting a handle that already yielded its result throws std::logic_error.
// Dropping a handle detaches the task: it keeps running and its output is discarded.
//
// Cancel safety: dropping a pending await of a handle loses nothing; the output stays in
// the task until a later await or the handle's destruction.
#include <stdexcept>
#include <utility>

#include "weft/coop.hpp"
#include "weft/detail/task_cell.hpp"
#include "weft/future.hpp"

namespace weft {

class Handle;
namespace detail {
template <class V, class Payload>
class JoinCore;
}

/// The right to abort a spawned task, without the right to await it (tokio's AbortHandle).
/// Copyable; holds a reference to the task's cell, so it stays valid after the task
/// finished and after its JoinHandle is gone (abort is then a no-op).
class AbortHandle {
 public:
  AbortHandle() noexcept = default;
  AbortHandle(const AbortHandle& o) noexcept : t_(o.t_ ? detail::TaskRef::clone(o.t_.get()) : detail::TaskRef()) {}
  AbortHandle(AbortHandle&& o) noexcept = default;
  AbortHandle& operator=(AbortHandle o) noexcept {
    t_.swap(o.t_);
    return *this;
  }

  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(t_); }
  /// Requests cancellation, as JoinHandle::abort. No effect once the task finished.
  void abort() const noexcept {
    if (t_ && t_->state.remote_abort() == detail::NotifyOutcome::Submit) detail::schedule_notified(t_.get());
  }
  /// True once the task has completed (with a value, an exception or cancellation).
  [[nodiscard]] bool is_finished() const {
    check_valid();
    return t_->state.load().complete();
  }
  [[nodiscard]] TaskId id() const {
    check_valid();
    return t_->owned.id;
  }

 private:
  template <class>
  friend class JoinHandle;
  explicit AbortHandle(detail::TaskRef t) noexcept : t_(std::move(t)) {}
  void check_valid() const {
    if (!t_) throw std::logic_error("weft::AbortHandle: empty (default-constructed or moved from)");
  }
  detail::TaskRef t_;
};

template <class T>
class [[nodiscard]] JoinHandle {
 public:
  using output_type = JoinResult<T>;

  JoinHandle() noexcept = default;
  JoinHandle(JoinHandle&& o) noexcept : cell_(std::exchange(o.cell_, nullptr)), taken_(o.taken_) {}
  JoinHandle& operator=(JoinHandle&& o) noexcept {
    if (this != &o) {
      release();
      cell_ = std::exchange(o.cell_, nullptr);
      taken_ = o.taken_;
    }
    return *this;
  }
  JoinHandle(const JoinHandle&) = delete;
  JoinHandle& operator=(const JoinHandle&) = delete;
  ~JoinHandle() { release(); }

  [[nodiscard]] bool valid() const noexcept { return cell_ != nullptr; }
  [[nodiscard]] TaskId id() const {
    check_valid();
    return cell_->owned.id;
  }
  /// True once the task has completed (with a value, an exception or cancellation).
  [[nodiscard]] bool is_finished() const {
    check_valid();
    return cell_->state.load().complete();
  }
  /// Requests cancellation. A task that is not running is completed as cancelled without
  /// being resumed; a running one at its next suspension point. No effect once finished.
  void abort() const noexcept {
    if (cell_ && cell_->state.remote_abort() == detail::NotifyOutcome::Submit) detail::schedule_notified(cell_);
  }
  /// A handle that can abort the task but not await it; it may outlive this JoinHandle.
  [[nodiscard]] AbortHandle abort_handle() const {
    check_valid();
    return AbortHandle(detail::TaskRef::clone(cell_));
  }

  /// The leaf-future interface: Ready(result) once the task completed. Spends one unit of
  /// the cooperative budget when ready.
  Poll<JoinResult<T>> poll(Context& cx) {
    check_valid();
    if (taken_) throw std::logic_error("weft::JoinHandle: awaited again after it already yielded its result");
    if (!coop::poll_proceed(cx)) return pending;
    detail::Snapshot s = cell_->state.load();
    if (!s.complete() && register_waker(s, cx)) return pending;
    // Complete: the acquire in load()/the failed CAS pairs with to_complete's release (R2).
    taken_ = true;
    coop::made_progress();
    return std::move(*cell_->output);
  }

  /// A future yielding JoinResult<T> (never throws JoinError).
  auto result() & { return ResultFuture{this}; }

  /// `co_await handle`: the value, or throws the JoinError. (In a weft::Task, the await
  /// goes through detail::transform_await, which builds the same awaiter.)
  struct unwrap_awaiter : detail::PollAwaiter<JoinHandle&> {
    explicit unwrap_awaiter(JoinHandle& h, bool unconstrained = false)
        : detail::PollAwaiter<JoinHandle&>(h, unconstrained) {}
    T await_resume() { return detail::PollAwaiter<JoinHandle&>::await_resume().value(); }
  };
  auto operator co_await() & { return unwrap_awaiter{*this}; }
  auto operator co_await() && { return unwrap_awaiter{*this}; }

 private:
  friend class Handle;
  template <class V, class Payload>
  friend class detail::JoinCore;

  /// Takes over the JoinHandle's reference of a new cell (Handle::spawn).
  explicit JoinHandle(detail::Cell<T>* cell) noexcept : cell_(cell) {}

  /// Registers cx's waker to be woken when the task completes, without taking the result
  /// (JoinSet / JoinMap). Returns true if the task is already complete (then nothing is
  /// registered).
  bool set_join_waker(Context& cx) {
    check_valid();
    detail::Snapshot s = cell_->state.load();
    return s.complete() || !register_waker(s, cx);
  }

  struct ResultFuture {
    JoinHandle* h;
    Poll<JoinResult<T>> poll(Context& cx) { return h->poll(cx); }
  };

  // Returns true if a waker is registered and the task is still not complete (R3).
  bool register_waker(detail::Snapshot s, Context& cx) {
    using detail::JoinOutcome;
    if (s.join_waker()) {
      if (cell_->join_waker.will_wake(cx.waker())) return true;
      if (cell_->state.unset_join_waker() == JoinOutcome::Complete) return false;
    }
    cell_->join_waker = cx.waker();
    return cell_->state.set_join_waker() == JoinOutcome::Success;
  }
  void check_valid() const {
    if (!cell_) throw std::logic_error("weft::JoinHandle: used after being moved from");
  }
  void release() noexcept {
    if (!cell_) return;
    if (cell_->state.drop_join_handle_fast()) {  // not complete, no waker: one step
      cell_ = nullptr;
      return;
    }
    if (cell_->state.drop_join_interest() == detail::JoinOutcome::Complete) {
      cell_->output.reset();  // R2: the output is ours; free it now.
    } else {
      cell_->join_waker = Waker();  // R3: JOIN_WAKER is clear, the field is ours.
    }
    detail::drop_task_ref(cell_);
    cell_ = nullptr;
  }

  detail::Cell<T>* cell_ = nullptr;
  bool taken_ = false;
};

static_assert(Future<JoinHandle<int>> && Future<JoinHandle<void>>);
static_assert(Future<decltype(std::declval<JoinHandle<int>&>().result())>);

}  // namespace weft
