#pragma once
// The blocking pool: threads for weft::spawn_blocking, after tokio's runtime/blocking/pool.rs.
//
// A blocking task is an ordinary task cell (bound to the owned list, so shutdown cancels it if
// it has not started) whose notified reference goes to this pool's queue instead of a worker.
// A pool thread polls it once; its body runs the closure to completion in that poll.
//
// Threads are started on demand: a task queued while no thread is idle starts one, up to
// max_threads (then tasks wait in the queue). An idle thread exits after keep_alive without
// work. Every pool thread holds a scheduler reference, so the pool (a member of the
// scheduler) outlives its threads; a thread's last act is to drop it (the scheduler, and
// this pool, may be destroyed on that thread then, which is why ~BlockingPool detaches the
// current thread instead of joining it).
//
// Shutdown (after the scheduler cancelled every task that had not started): no more tasks;
// idle threads exit; shutdown waits until every thread has left its loop or the timeout
// passes. Threads still running a closure then are detached: each exits when its closure
// returns (it cannot be interrupted), holding its scheduler reference until then.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "weft/detail/task_cell.hpp"

namespace weft::detail {

class BlockingPool {
 public:
  BlockingPool(Scheduler* s, std::size_t max_threads, std::chrono::nanoseconds keep_alive) noexcept
      : sched_(s), max_threads_(max_threads), keep_alive_(keep_alive) {}
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  /// Queues a blocking task's notified reference; false after shutdown (the caller keeps it).
  /// Throws std::system_error if a needed thread cannot be started and no thread runs.
  bool push(Header* notified);
  /// Waits until every thread left its loop, at most `timeout` (nullopt: no limit); true
  /// if they all did.
  bool shutdown(std::optional<std::chrono::nanoseconds> timeout);
  [[nodiscard]] std::size_t thread_count() const;

 private:
  void run(std::thread::id self_hint);
  void join_exited_locked();

  Scheduler* const sched_;
  const std::size_t max_threads_;
  const std::chrono::nanoseconds keep_alive_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;      // a task queued, or shutdown
  std::condition_variable shutdown_cv_;  // a thread left its loop
  std::deque<Header*> queue_;            // notified references (mu_)
  std::size_t threads_ = 0;              // threads in their loop (mu_)
  std::size_t idle_ = 0;                 // of which waiting for work (mu_)
  std::size_t wakeups_ = 0;              // notifications not yet taken by an idle thread (mu_)
  bool shutdown_ = false;                // (mu_)
  std::vector<std::thread> handles_;     // every started thread not yet joined (mu_)
  std::vector<std::thread::id> exited_;  // threads that left their loop (mu_)
};

}  // namespace weft::detail
