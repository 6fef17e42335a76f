#pragma once
// The spawned-task cell: a type-independent Header followed by the typed output. The Header
// is the injection queue's link, the cold OwnedLink (id and owned-list links: touched at
// spawn, completion and shutdown), the hot part (state word, vtable, scheduler, frame, leaf:
// every schedule and poll) and the JoinHandle's waker, in that order (see "Field order"
// below). The scheduler only sees Header*; the typed operations go through TaskVTable. The
// harness that drives a cell through its states is runtime/src/harness.cpp; the state word
// is task_state.hpp.
//
// Ownership rules (cited as R1..R4 in the code):
//   R1 The frame (root, leaf) is touched only by the thread that holds RUNNING.
//   R2 The output is written by the RUNNING thread before T3 (to_complete); after T3 it
//      belongs to the JoinHandle if JOIN_INTEREST was still set, else the completer drops it.
//   R3 join_waker belongs to the JoinHandle while JOIN_WAKER is clear and the task is not
//      complete; to the completer (read-only) while JOIN_WAKER is set. See task_state.hpp T7.
//   R4 `queue_next` is the injection queue's link (see runtime/src/inject.hpp); `owned`'s
//      links are guarded by the owned-task shard's lock (`id` is fixed at construction).
//
// References: the state word counts them (task_state.hpp). Code that holds one holds a
// TaskRef (below), which gives it back when destroyed; a reference leaves a TaskRef only
// into a queue or slot (into_raw) and comes back with adopt.
#include <atomic>
#include <coroutine>
#include <cstdint>
#include <new>
#include <optional>
#include <utility>

#include "weft/detail/alloc.hpp"
#include "weft/detail/link_queue.hpp"
#include "weft/detail/task_state.hpp"
#include "weft/future.hpp"
#include "weft/join_error.hpp"
#include "weft/task.hpp"
#include "weft/waker.hpp"

namespace weft::detail {

class Scheduler;
struct Header;

struct TaskVTable {
  /// The root coroutine finished: move its result into the output and free the frame.
  void (*store_output)(Header*) noexcept;
  /// Free the frame without resuming it and store a cancelled JoinError with `why`.
  void (*cancel)(Header*, const char* why) noexcept;
  /// Nobody will read the output: destroy it now.
  void (*drop_output)(Header*) noexcept;
  /// The last reference is gone.
  void (*dealloc)(Header*) noexcept;
};

/// A Header's cold part for the owned-task list (runtime/src/owned_tasks.hpp): not touched
/// by a poll that neither spawns nor completes.
struct OwnedLink {
  TaskId id;
  Header* prev = nullptr;  // R4
  Header* next = nullptr;  // R4
  bool linked = false;     // R4
};

// Field order. The hot part (state .. leaf, 40 bytes) is contiguous and sits behind the
// 40 bytes of queue link and OwnedLink; the join waker is last. The offsets were measured,
// not derived: a chain of 10,000 spawns (spawn, poll, complete, free per task; pinned to one
// CPU, five heap placements) took 504-518 us with the hot part first (frame pointer at
// offset 32, commits 6e43de0..c6e91eb) and 481-484 us with this order (frame pointer at 64
// as before 6e43de0: 474-476 us), with the same instructions and atomic operations per task
// (callgrind). Moving the fields by 8..48 bytes moved the time by up to 9%; this VM has no
// hardware counters to say why.
struct Header : QueueLink {
  Header(const TaskVTable* vt, Scheduler* s, std::coroutine_handle<> r) noexcept;

  // Cold: the owned-task list.
  OwnedLink owned;
  // Hot: every schedule and poll.
  TaskState state;
  const TaskVTable* vtable;
  Scheduler* sched;              // counted reference, released in dealloc
  std::coroutine_handle<> root;  // R1
  LeafBase* leaf = nullptr;      // R1
  // Cold: the JoinHandle's.
  Waker join_waker;  // R3
};
// The measured order (above): the hot part starts 40 bytes in, the frame pointer at 64.
static_assert(sizeof(QueueLink) + sizeof(OwnedLink) == 40 && sizeof(TaskState) + 2 * sizeof(void*) == 24);

// Implemented in runtime/src.
std::uint64_t next_task_id() noexcept;
void scheduler_ref_inc(Scheduler*) noexcept;
void scheduler_ref_dec(Scheduler*) noexcept;
/// The scheduler reference a task cell holds: taken from / given back to the current
/// worker's reference bank when on one of the scheduler's workers (no shared atomic), else
/// scheduler_ref_inc / _dec. See Scheduler::task_ref_acquire.
void scheduler_task_ref_acquire(Scheduler*) noexcept;
void scheduler_task_ref_release(Scheduler*) noexcept;
/// Registers a new task with its scheduler and schedules it; if the runtime has shut down,
/// completes it at once as cancelled.
void scheduler_spawn(Scheduler*, Header*);
void scheduler_spawn_blocking(Scheduler*, Header*);
/// Schedules a task whose to_notified / remote_abort returned Submit (consumes that ref).
void schedule_notified(Header*) noexcept;
/// Drops one reference; deallocates on the last. (Prefer a TaskRef, which calls it.)
void drop_task_ref(Header*) noexcept;
/// The scheduler of the runtime this thread is running tasks for, or null.
Scheduler* current_scheduler() noexcept;
extern const WakerVTable task_waker_vtable;

inline Header::Header(const TaskVTable* vt, Scheduler* s, std::coroutine_handle<> r) noexcept
    : owned{TaskId{next_task_id()}}, vtable(vt), sched(s), root(r) {
  scheduler_task_ref_acquire(s);
}

/// One counted reference to a task cell, move-only: destroying a non-empty TaskRef drops
/// the reference (deallocating the cell on the last). The references a task's parts hold
/// (task_state.hpp) are TaskRefs while code handles them; the queues and the LIFO slot,
/// which store raw pointers, take one with into_raw() and give it back with adopt().
class TaskRef {
 public:
  TaskRef() noexcept = default;
  /// Takes over a reference the caller holds.
  [[nodiscard]] static TaskRef adopt(Header* t) noexcept { return TaskRef(t); }
  /// A new reference to `t` (the caller holds one, so the count is not zero).
  [[nodiscard]] static TaskRef clone(Header* t) noexcept {
    t->state.ref_inc();
    return TaskRef(t);
  }
  TaskRef(TaskRef&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  TaskRef& operator=(TaskRef&& o) noexcept {
    TaskRef(std::move(o)).swap(*this);
    return *this;
  }
  TaskRef(const TaskRef&) = delete;
  TaskRef& operator=(const TaskRef&) = delete;
  ~TaskRef() {
    if (t_) drop_task_ref(t_);
  }

  [[nodiscard]] Header* get() const noexcept { return t_; }
  Header* operator->() const noexcept { return t_; }
  explicit operator bool() const noexcept { return t_ != nullptr; }
  /// Gives the reference up to a queue or slot, which stores it as a raw pointer.
  [[nodiscard]] Header* into_raw() && noexcept { return std::exchange(t_, nullptr); }
  void swap(TaskRef& o) noexcept { std::swap(t_, o.t_); }

 private:
  explicit TaskRef(Header* t) noexcept : t_(t) {}
  Header* t_ = nullptr;
};

template <class T>
struct Cell final : Header {
  using Promise = TaskPromise<T>;
  std::optional<JoinResult<T>> output;  // R2

  Cell(Scheduler* s, std::coroutine_handle<Promise> r) noexcept : Header(&vtable_of, s, r) {}

  /// Builds the cell in the room in front of the task's frame (FrameTrailer in task.hpp).
  static Cell* create(Scheduler* s, std::coroutine_handle<Promise> r) noexcept {
    static_assert(alignof(Cell) <= frame_align);
    // SAFETY: claim_cell_storage returns the unused, aligned room of frame_prefix<T>() -
    // trailer_space >= sizeof(Cell) bytes at the start of the frame's block.
    return ::new (claim_cell_storage<T>(r)) Cell(s, r);
  }

  static void store_output(Header* h) noexcept {
    auto* c = static_cast<Cell*>(h);
    auto r = std::coroutine_handle<Promise>::from_address(h->root.address());
    Promise& p = r.promise();
    if (p.has_exception()) {
      c->output.emplace(JoinResult<T>::err(JoinError::panic(h->owned.id, p.exception())));
    } else if constexpr (std::is_void_v<T>) {
      c->output.emplace(JoinResult<T>::ok());
    } else {
      try {
        c->output.emplace(JoinResult<T>::ok(std::move(std::get<1>(p.result))));
      } catch (...) {  // T's move constructor threw: the task's outcome is that exception
        c->output.emplace(JoinResult<T>::err(JoinError::panic(h->owned.id, std::current_exception())));
      }
    }
    r.destroy();
    h->root = {};
  }
  static void cancel(Header* h, const char* why) noexcept {
    auto* c = static_cast<Cell*>(h);
    // Runs the destructors of the task's locals (a throwing one cannot leak the frame).
    if (h->root) destroy_suspended(std::coroutine_handle<Promise>::from_address(h->root.address()));
    h->root = {};
    h->leaf = nullptr;
    c->output.emplace(JoinResult<T>::err(JoinError::cancelled(h->owned.id, why)));
  }
  static void drop_output(Header* h) noexcept { static_cast<Cell*>(h)->output.reset(); }
  static void dealloc(Header* h) noexcept {
    auto* c = static_cast<Cell*>(h);
    Scheduler* s = h->sched;
    // The frame's trailer stays valid until the block is freed below.
    FrameTrailer* trailer = trailer_of(reinterpret_cast<char*>(c) + frame_prefix<T>());
    // Leaves the block to us (has_cell).
    if (h->root) destroy_suspended(std::coroutine_handle<Promise>::from_address(h->root.address()));
    const std::size_t block = trailer->block_size;
    c->~Cell();
    frame_free(c, block);
    scheduler_task_ref_release(s);
  }
  static constexpr TaskVTable vtable_of{&store_output, &cancel, &drop_output, &dealloc};
};

}  // namespace weft::detail
