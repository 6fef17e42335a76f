#pragma once
// The work-stealing scheduler (internal). The overview is below; the task state machine is in
// weft/detail/task_state.hpp and the parking protocol in idle.hpp.
//
// Each Worker owns a bounded LocalQueue (single producer, stealers take half), a LIFO slot
// (the most recently woken task; owner-only, not stealable) and a Parker. Tasks spawned or
// woken from outside a worker, and the overflow of full local queues, go to the global
// Inject queue. A worker's tick: every `global_queue_interval` ticks it takes from Inject
// first; otherwise local queue, then a batch from Inject, then (as a searcher) steals half
// of a random victim's queue, then parks (see idle.hpp for the no-lost-wake-up protocol).
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "idle.hpp"
#include "inject.hpp"
#include "owned_tasks.hpp"
#include "parker.hpp"
#include "weft/detail/cache_padded.hpp"
#include "weft/detail/header.hpp"
#include "weft/detail/local_queue.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

inline constexpr std::uint32_t local_queue_capacity = 256;
inline constexpr int max_lifo_polls_per_tick = 3;
inline constexpr std::size_t inject_batch = 32;

class Scheduler;

struct Worker {
  Worker(Scheduler* s, std::size_t i) : sched(s), index(i), rng(0x9E3779B97F4A7C15ull * (i + 1)) {}
  Scheduler* const sched;
  const std::size_t index;
  LocalQueue<Header*, local_queue_capacity> local;
  // Owner-only fields below: read and written by the thread acting as this worker.
  Header* lifo = nullptr;
  bool searching = false;
  std::uint32_t tick = 0;
  std::uint64_t rng;
  Parker parker;
  std::thread thread;

  std::uint32_t next_random(std::uint32_t n) noexcept {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return static_cast<std::uint32_t>(rng % n);
  }
};

class Scheduler {
 public:
  explicit Scheduler(RuntimeOptions opts);
  ~Scheduler();

  void ref_inc() noexcept;
  void ref_dec() noexcept;

  void start();
  void spawn(Header* t);
  /// Schedules a notified task. `lifo_ok`: a wake (may use the LIFO slot) rather than a
  /// spawn (back of the queue, stealable).
  void schedule(Header* t, bool lifo_ok) noexcept;
  void shutdown();
  void wait_until(const std::function<bool(Context&)>& ready);
  [[nodiscard]] bool is_current_thread() const noexcept { return opts_.flavor == Flavor::current_thread; }
  [[nodiscard]] std::size_t worker_count() const noexcept { return workers_.size(); }

  // Overflow sink for LocalQueue::push_back.
  void push_batch(Header** ts, std::size_t n) { inject_.push_batch(ts, n); }

 private:
  void worker_main(Worker& w);
  void run_worker(Worker& w, const std::function<bool()>* stop);
  Header* next_task(Worker& w);
  Header* steal_work(Worker& w);
  void run_task(Worker& w, Header* t);
  void poll_task(Worker& w, Header* t);
  void park(Worker& w, const std::function<bool()>* stop);
  void push_local(Worker& w, Header* t);
  void schedule_remote(Header* t) noexcept;
  void complete(Header* t) noexcept;
  void cancel_and_complete(Header* t, const char* why) noexcept;
  void notify_parked();
  bool has_visible_work() const;
  bool should_stop(const std::function<bool()>* stop) const;

  RuntimeOptions opts_;
  // refs: Runtime + Handles + task cells; the last ref_dec deletes the scheduler.
  cache_padded<std::atomic<std::size_t>> refs_{1};
  // remote_inflight: remote schedules between their `closed_` check and their last use of
  // the scheduler; shutdown waits for it to drain (seq_cst Dekker pair with closed_).
  cache_padded<std::atomic<std::size_t>> remote_inflight_{0};
  std::atomic<bool> closed_{false};    // no new spawns or remote schedules (seq_cst)
  std::atomic<bool> shutdown_{false};  // workers exit (release/acquire with their loop)
  std::vector<std::unique_ptr<Worker>> workers_;
  Inject inject_;
  Idle idle_;
  OwnedTasks owned_;
  std::mutex core_mu_;  // current_thread flavour: one block_on drives the worker at a time
  bool shut_down_done_ = false;
};

}  // namespace weft::detail
