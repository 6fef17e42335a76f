#pragma once
// Idle: which workers sleep, and how many are searching for work. After tokio's
// multi_thread/idle.rs.
//
// `state_` packs num_searching (low 16 bits) and num_unparked (high bits). Protocol:
//   - A worker that finds no work parks: under `mu_` it decrements num_unparked (and
//     num_searching if it was searching) and adds itself to `sleepers_`. If it was the last
//     searcher, it re-checks every queue afterwards and notifies a worker if it sees work
//     (possibly itself).
//   - Whoever makes work available (push) then calls worker_to_notify(): it wakes one
//     sleeper only when no worker is searching and not all are awake. The woken worker
//     starts as a searcher.
//   - At most half of the workers search at once.
// No lost wake-up (the store-buffering pattern): the pusher does push; seq_cst fence; load
// state_. The parker does seq_cst RMW of state_; seq_cst fence; re-check the queues. In the
// single total order of seq_cst operations, if the parker's RMW comes before the pusher's
// fence, the pusher's load sees fewer unparked workers (and no searcher once the last
// searcher parks) and wakes one; otherwise the pusher's fence precedes the parker's fence,
// so the parker's re-check sees the push. Either the task is seen or a worker is woken.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "weft/detail/fence.hpp"

namespace weft::detail {

class Idle {
  static constexpr std::uint32_t UNPARK_SHIFT = 16;
  static constexpr std::uint32_t SEARCH_MASK = (1u << UNPARK_SHIFT) - 1;
  static constexpr std::uint32_t UNPARK_ONE = 1u << UNPARK_SHIFT;

 public:
  explicit Idle(std::size_t num_workers)
      : num_workers_(static_cast<std::uint32_t>(num_workers)),
        state_(static_cast<std::uint32_t>(num_workers) << UNPARK_SHIFT) {
    sleepers_.reserve(num_workers);
  }

  /// A worker to unpark for newly available work, or none.
  std::optional<std::size_t> worker_to_notify() {
    if (!notify_should_wakeup()) return std::nullopt;
    std::lock_guard lock(mu_);
    if (!notify_should_wakeup()) return std::nullopt;
    // Seq_cst: part of the total order argued above. The woken worker starts searching.
    state_.fetch_add(1 | UNPARK_ONE, std::memory_order_seq_cst);
    std::size_t w = sleepers_.back();
    sleepers_.pop_back();
    return w;
  }

  struct Parked {
    bool last_searcher;    // it must re-check the queues (see above)
    bool others_unparked;  // some other worker is awake (may be running a task)
  };
  Parked transition_worker_to_parked(std::size_t worker, bool is_searching) {
    std::lock_guard lock(mu_);
    std::uint32_t dec = UNPARK_ONE | (is_searching ? 1u : 0u);
    // Seq_cst: the parker's side of the no-lost-wake-up argument.
    std::uint32_t prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
    sleepers_.push_back(worker);
    return {is_searching && (prev & SEARCH_MASK) == 1, ((prev - dec) >> UNPARK_SHIFT) > 0};
  }

  /// Whether any worker is unparked (a hint: it may change at once).
  [[nodiscard]] bool any_unparked() const noexcept {
    // Relaxed: a hint for choosing a timed park (see Scheduler::park); no ordering needed.
    return (state_.load(std::memory_order_relaxed) >> UNPARK_SHIFT) > 0;
  }

  bool transition_worker_to_searching() {
    // Seq_cst load: a hint only (the limit may be overshot by a racing worker, harmless).
    std::uint32_t s = state_.load(std::memory_order_seq_cst);
    if (2 * (s & SEARCH_MASK) >= num_workers_) return false;
    state_.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }

  /// Returns true if this was the last searching worker.
  bool transition_worker_from_searching() {
    std::uint32_t prev = state_.fetch_sub(1, std::memory_order_seq_cst);
    return (prev & SEARCH_MASK) == 1;
  }

  /// Removes `worker` from the sleepers if it is still there (it woke for another reason).
  bool unpark_worker_by_id(std::size_t worker) {
    std::lock_guard lock(mu_);
    auto it = std::find(sleepers_.begin(), sleepers_.end(), worker);
    if (it == sleepers_.end()) return false;
    sleepers_.erase(it);
    // Seq_cst: part of the total order on state_ that the no-lost-wake-up argument uses.
    state_.fetch_add(UNPARK_ONE, std::memory_order_seq_cst);
    return true;
  }

  bool is_parked(std::size_t worker) {
    std::lock_guard lock(mu_);
    return std::find(sleepers_.begin(), sleepers_.end(), worker) != sleepers_.end();
  }

 public:
  /// The parker's fence between announcing it parks and re-checking the queues.
  static void fence() noexcept { seq_cst_fence(); }

 private:
  bool notify_should_wakeup() {
    // Seq_cst fence, then load: the pusher's half of the store-buffering pattern (its push,
    // then this check), against the parker's seq_cst RMW then fence then re-check. A fence
    // rather than tokio's fetch_add(0) keeps this hot line shared instead of bouncing it
    // between workers on every push (see weft/detail/fence.hpp on ThreadSanitizer).
    fence();
    std::uint32_t s = state_.load(std::memory_order_seq_cst);
    return (s & SEARCH_MASK) == 0 && (s >> UNPARK_SHIFT) < num_workers_;
  }

 private:
  const std::uint32_t num_workers_;
  std::atomic<std::uint32_t> state_;
  std::mutex mu_;  // guards sleepers_ (the cold path: parking and unparking only)
  std::vector<std::size_t> sleepers_;
};

}  // namespace weft::detail
