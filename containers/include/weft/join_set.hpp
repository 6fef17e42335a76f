#pragma once
// JoinSet<V>: a set of spawned tasks whose results are collected in completion order
// (tokio::task::JoinSet).
//
// Complexity: spawn O(1) amortized; join_next O(1) per result (completed tasks are pushed
// onto a lock-free queue by the worker that completes them; see containers/join_core.hpp);
// abort_all / detach_all O(n).
// Destroying the set aborts every task it still holds. Movable (the tasks move along).
// Cancel safety: join_next is cancel safe (a result is removed only when it is returned).
#include <cstddef>
#include <optional>
#include <utility>
#include <variant>

#include "weft/coop.hpp"
#include "weft/containers/join_core.hpp"
#include "weft/runtime.hpp"

namespace weft {

template <class V>
class JoinSet {
  using Core = detail::JoinCore<V, std::monostate>;

 public:
  JoinSet() noexcept = default;
  JoinSet(const JoinSet&) = delete;
  JoinSet& operator=(const JoinSet&) = delete;
  /// Moves take the tasks along; the moved-from set is empty. Assigning aborts the tasks
  /// the target held (as destroying it would).
  JoinSet(JoinSet&&) noexcept = default;
  JoinSet& operator=(JoinSet&&) noexcept = default;

  [[nodiscard]] std::size_t size() const noexcept { return core_.size(); }
  [[nodiscard]] bool empty() const noexcept { return core_.size() == 0; }

  /// Spawns on the current runtime (throws std::logic_error outside one). The returned
  /// handle aborts this task (its id() is the task's id); dropping it changes nothing.
  AbortHandle spawn(Task<V> task) { return add(weft::spawn(std::move(task))); }
  /// Spawns on the runtime behind `handle` (any thread).
  AbortHandle spawn_on(Task<V> task, const Handle& handle) { return add(handle.spawn(std::move(task))); }

  /// Ready(result) of the next task to complete, Ready(nullopt) when the set is empty, or
  /// Pending (woken when a task completes). Spends the cooperative budget.
  Poll<std::optional<JoinResult<V>>> poll_join_next(Context& cx) {
    if (!coop::poll_proceed(cx)) return pending;
    if (auto c = core_.pop_ready(&cx)) {
      coop::made_progress();
      return std::optional<JoinResult<V>>(std::move(c->result));
    }
    if (empty()) return std::optional<JoinResult<V>>();
    return pending;
  }
  /// `co_await set.join_next()`: the next result in completion order, or nullopt if empty.
  auto join_next() { return detail::JoinNext<JoinSet>{this}; }
  /// A result if one is ready now; never waits.
  std::optional<JoinResult<V>> try_join_next() {
    if (auto c = core_.pop_ready(nullptr)) return std::move(c->result);
    return std::nullopt;
  }

  /// Aborts every task; each is still reported by join_next (cancelled unless it finished).
  void abort_all() noexcept {
    for (auto* e : core_.entries()) e->handle.abort();
  }
  /// Removes every task from the set without aborting it; their results are discarded.
  void detach_all() noexcept {
    while (!core_.entries().empty()) core_.remove(core_.entries().back());
  }
  /// `co_await set.shutdown()`: aborts every task and waits until all have completed.
  auto shutdown() { return detail::Shutdown<JoinSet>{this}; }

 private:
  AbortHandle add(JoinHandle<V> h) {
    AbortHandle a = h.abort_handle();
    core_.insert(std::move(h), std::monostate{});
    return a;
  }
  Core core_;
};
static_assert(Future<detail::JoinNext<JoinSet<int>>> && Future<detail::Shutdown<JoinSet<int>>>);

}  // namespace weft
