#pragma once
// OwnedTasks: every live (not yet complete) task of a runtime, so shutdown can cancel the
// ones nobody will ever wake. Sharded intrusive lists, each under its own spinlock (the
// critical sections are a link or an unlink); a task's shard is chosen by its id, so
// consecutive spawns spread over shards. The list holds one reference to each task (see
// task_state.hpp).
//
// `closed` is set under every shard's lock, so a bind() that returns true happened before
// close() and the task will be found by shutdown; one that returns false never enters.
#include <array>
#include <cassert>
#include <mutex>

#include "spinlock.hpp"
#include "weft/detail/cache_padded.hpp"
#include "weft/detail/task_cell.hpp"

namespace weft::detail {

class OwnedTasks {
  static constexpr std::size_t shards = 64;

 public:
  /// Adds `t`; false if closed (the caller completes the task as cancelled).
  bool bind(Header* t) noexcept {
    Shard& s = shard_of(t);
    std::lock_guard lock(s.mu);
    if (s.closed) return false;
    assert(!t->owned.linked && "bound twice");
    t->owned.prev = nullptr;
    t->owned.next = s.head;
    if (s.head) s.head->owned.prev = t;
    s.head = t;
    t->owned.linked = true;
    return true;
  }

  /// Unlinks `t`; false if it was not linked (shutdown already took it).
  bool remove(Header* t) {
    Shard& s = shard_of(t);
    std::lock_guard lock(s.mu);
    if (!t->owned.linked) return false;
    if (t->owned.prev) t->owned.prev->owned.next = t->owned.next;
    else s.head = t->owned.next;
    if (t->owned.next) t->owned.next->owned.prev = t->owned.prev;
    t->owned.linked = false;
    return true;
  }

  /// Unlinks and returns some task (with the list's reference), or nullptr.
  Header* pop_any() {
    for (auto& ps : shards_) {
      Shard& s = *ps;
      std::lock_guard lock(s.mu);
      if (Header* t = s.head) {
        s.head = t->owned.next;
        if (s.head) s.head->owned.prev = nullptr;
        t->owned.linked = false;
        return t;
      }
    }
    return nullptr;
  }

  void close() {
    for (auto& ps : shards_) {
      std::lock_guard lock(ps->mu);
      ps->closed = true;
    }
  }

 private:
  struct Shard {
    Spinlock mu;
    Header* head = nullptr;
    bool closed = false;
  };
  Shard& shard_of(Header* t) noexcept { return *shards_[t->owned.id.value % shards]; }
  std::array<cache_padded<Shard>, shards> shards_;
};

}  // namespace weft::detail
