// Idle (runtime/src/idle.hpp): the searching / parked transitions, who worker_to_notify
// wakes and when, the last-searcher rule, unpark_worker_by_id, and a stress of workers that
// follow the scheduler's protocol around a shared work counter, with exact counts and a
// check that no work is ever left behind with every worker asleep (a lost wake-up).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "idle.hpp"
#include "parker.hpp"

namespace {
using weft::detail::Idle;
using weft::detail::Parker;

TEST(Idle, starts_with_every_worker_awake_and_none_searching) {
  Idle idle(4);
  EXPECT_TRUE(idle.any_unparked());
  for (std::size_t w = 0; w < 4; ++w) EXPECT_FALSE(idle.is_parked(w));
  EXPECT_EQ(idle.worker_to_notify(), std::nullopt) << "nobody sleeps: nobody to wake";
}

TEST(Idle, parked_worker_is_woken_as_a_searcher) {
  Idle idle(2);
  Idle::Parked p = idle.transition_worker_to_parked(1, /*is_searching=*/false);
  EXPECT_FALSE(p.last_searcher);
  EXPECT_TRUE(p.others_unparked);
  EXPECT_TRUE(idle.is_parked(1));
  EXPECT_EQ(idle.worker_to_notify(), std::optional<std::size_t>(1));
  EXPECT_FALSE(idle.is_parked(1));
  // The woken worker counts as searching: a further push wakes nobody, even with a sleeper.
  (void)idle.transition_worker_to_parked(0, false);
  EXPECT_EQ(idle.worker_to_notify(), std::nullopt);
  EXPECT_TRUE(idle.is_parked(0));
  // When that searcher finds work it is the last one, and a push may wake again.
  EXPECT_TRUE(idle.transition_worker_from_searching());
  EXPECT_EQ(idle.worker_to_notify(), std::optional<std::size_t>(0));
}

TEST(Idle, no_wake_while_a_worker_searches) {
  Idle idle(3);
  (void)idle.transition_worker_to_parked(2, false);
  ASSERT_TRUE(idle.transition_worker_to_searching());
  EXPECT_EQ(idle.worker_to_notify(), std::nullopt) << "the searcher will find the work";
  EXPECT_TRUE(idle.is_parked(2));
  EXPECT_TRUE(idle.transition_worker_from_searching());
  EXPECT_EQ(idle.worker_to_notify(), std::optional<std::size_t>(2));
}

TEST(Idle, each_sleeper_is_handed_out_once) {
  Idle idle(4);
  for (std::size_t w = 0; w < 4; ++w) (void)idle.transition_worker_to_parked(w, false);
  EXPECT_FALSE(idle.any_unparked());
  std::vector<std::size_t> woken;
  for (int i = 0; i < 4; ++i) {
    auto w = idle.worker_to_notify();
    ASSERT_TRUE(w.has_value());
    woken.push_back(*w);
    EXPECT_FALSE(idle.is_parked(*w));
    EXPECT_TRUE(idle.transition_worker_from_searching()) << "each woken worker is the only searcher";
  }
  std::sort(woken.begin(), woken.end());
  EXPECT_EQ(woken, (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_EQ(idle.worker_to_notify(), std::nullopt) << "all awake again";
}

TEST(Idle, at_most_half_of_the_workers_search) {
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 8u}) {
    Idle idle(n);
    std::size_t searching = 0;
    while (idle.transition_worker_to_searching()) ++searching;
    EXPECT_EQ(searching, (n + 1) / 2) << "workers: " << n;
    // Leaving: only the last one reports it.
    for (std::size_t i = searching; i > 0; --i) EXPECT_EQ(idle.transition_worker_from_searching(), i == 1);
    EXPECT_TRUE(idle.transition_worker_to_searching()) << "the count came back to zero";
  }
}

TEST(Idle, only_the_last_searcher_to_park_must_recheck) {
  Idle idle(4);
  ASSERT_TRUE(idle.transition_worker_to_searching());
  ASSERT_TRUE(idle.transition_worker_to_searching());
  Idle::Parked first = idle.transition_worker_to_parked(0, /*is_searching=*/true);
  EXPECT_FALSE(first.last_searcher) << "another worker still searches";
  Idle::Parked idle_one = idle.transition_worker_to_parked(1, /*is_searching=*/false);
  EXPECT_FALSE(idle_one.last_searcher) << "a worker that was not searching never rechecks";
  Idle::Parked last = idle.transition_worker_to_parked(2, /*is_searching=*/true);
  EXPECT_TRUE(last.last_searcher);
  EXPECT_TRUE(last.others_unparked) << "worker 3 is still awake";
  // The searchers' count is back to zero and three sleep: a push wakes one.
  auto w = idle.worker_to_notify();
  ASSERT_TRUE(w.has_value());
  EXPECT_TRUE(*w == 0 || *w == 1 || *w == 2);
}

TEST(Idle, others_unparked_counts_the_other_workers) {
  Idle idle(2);
  EXPECT_TRUE(idle.transition_worker_to_parked(0, false).others_unparked);
  EXPECT_FALSE(idle.transition_worker_to_parked(1, false).others_unparked) << "the last to park";
  EXPECT_FALSE(idle.any_unparked());
}

TEST(Idle, unpark_worker_by_id) {
  Idle idle(3);
  EXPECT_FALSE(idle.unpark_worker_by_id(1)) << "not a sleeper";
  (void)idle.transition_worker_to_parked(0, false);
  (void)idle.transition_worker_to_parked(1, false);
  (void)idle.transition_worker_to_parked(2, false);
  EXPECT_FALSE(idle.any_unparked());
  EXPECT_TRUE(idle.unpark_worker_by_id(1));
  EXPECT_FALSE(idle.is_parked(1));
  EXPECT_TRUE(idle.is_parked(0));
  EXPECT_TRUE(idle.is_parked(2));
  EXPECT_TRUE(idle.any_unparked());
  EXPECT_FALSE(idle.unpark_worker_by_id(1)) << "already taken off";
  // Unparked by id, the worker is awake but not searching: a push still wakes a sleeper.
  auto w = idle.worker_to_notify();
  ASSERT_TRUE(w.has_value());
  EXPECT_NE(*w, 1u);
  // A worker a notifier took off the sleepers is not there for unpark_worker_by_id: the
  // scheduler's cue that it was counted as a searcher.
  EXPECT_FALSE(idle.unpark_worker_by_id(*w));
  EXPECT_TRUE(idle.transition_worker_from_searching());
}

// ---- the protocol under threads ----

// Workers, a shared work counter standing for the queues, and the scheduler's protocol
// (Scheduler::run_worker, steal_work, run_task, park): take work; else become a searcher
// (if allowed) and look again; else park, and the last searcher to park re-checks the work
// after Idle::fence(). Pushers push, then worker_to_notify(). Running an item may push
// another (a spawn), until the spawn budget is spent.
class Pool {
 public:
  Pool(std::size_t workers, int spawn_budget)
      : n_(workers), idle_(workers), parkers_(std::make_unique<Parker[]>(workers)), spawn_budget_(spawn_budget) {}

  /// A push from outside the workers.
  void push() {
    // Seq_cst RMW: the push, ordered before the fence in worker_to_notify (idle.hpp).
    queued_.fetch_add(1);
    notify();
  }

  void run() {
    for (std::size_t i = 0; i < n_; ++i) threads_.emplace_back([this, i] { worker(i); });
  }

  /// Waits until `total` items ran, or until the pool is stuck: every worker parked for
  /// good with work queued (a lost wake-up). Call after the outside pushes. Returns false
  /// if stuck. Then stops and joins the workers.
  bool wait_and_stop(int total) {
    bool stuck = false;
    while (done_.load() < total) {
      if (is_stuck()) {
        stuck = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    stop_.store(true);
    for (std::size_t i = 0; i < n_; ++i) parkers_[i].unpark();
    for (auto& t : threads_) t.join();
    return !stuck;
  }

  [[nodiscard]] int done() const { return done_.load(); }
  [[nodiscard]] int queued() const { return queued_.load(); }
  Idle& idle() { return idle_; }

 private:
  void notify() {
    if (auto w = idle_.worker_to_notify()) parkers_[*w].unpark();
  }

  bool try_take() {
    int q = queued_.load();
    while (q > 0)
      if (queued_.compare_exchange_weak(q, q - 1)) return true;
    return false;
  }

  void worker(std::size_t i) {
    bool searching = false;
    while (!stop_.load()) {
      bool got = try_take();
      if (!got) {
        if (!searching) searching = idle_.transition_worker_to_searching();
        if (searching) got = try_take();
      }
      if (got) {
        if (searching) {
          searching = false;
          if (idle_.transition_worker_from_searching()) notify();
        }
        if (spawn_budget_.fetch_sub(1) > 0) push();
        done_.fetch_add(1);
        continue;
      }
      searching = park(i, searching);
    }
    // Leave the counters as they started (checked by the test).
    if (searching) (void)idle_.transition_worker_from_searching();
  }

  // Returns whether the worker comes back as a searcher.
  bool park(std::size_t i, bool searching) {
    Idle::Parked parked = idle_.transition_worker_to_parked(i, searching);
    if (parked.last_searcher) {
      Idle::fence();
      if (queued_.load() > 0) notify();
    }
    for (;;) {
      if (stop_.load()) return !idle_.unpark_worker_by_id(i);
      in_park_.fetch_add(1);
      parkers_[i].park();
      left_park_.fetch_add(1);
      in_park_.fetch_sub(1);
      if (!idle_.is_parked(i)) return true;  // a notifier woke us as a searcher
    }
  }

  // Every worker is inside park() and stays there while this looks (no worker left park()
  // meanwhile), none is being woken (all are still listed as sleepers), yet work is queued.
  // Only a notifier could wake one, and the notifiers are the workers (the outside pushes
  // are over): nobody ever will.
  bool is_stuck() {
    const long before = left_park_.load();
    bool all_in_park = in_park_.load() == static_cast<int>(n_);
    bool none_unparked = !idle_.any_unparked();
    bool work = queued_.load() > 0;
    return all_in_park && none_unparked && work && left_park_.load() == before;
  }

  const std::size_t n_;
  Idle idle_;
  std::unique_ptr<Parker[]> parkers_;
  std::vector<std::thread> threads_;
  std::atomic<int> queued_{0};
  std::atomic<int> spawn_budget_;
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> in_park_{0};
  std::atomic<long> left_park_{0};
};

TEST(Idle, stress_no_lost_wake_up_exact_counts) {
  for (std::size_t workers : {1u, 2u, 3u, 4u}) {
    constexpr int outside = 8000, spawned = 8000;
    Pool pool(workers, spawned);
    pool.run();
    for (int i = 0; i < outside; ++i) {
      pool.push();
      // Pauses let the workers run dry and park, so that parking races the pushes.
      if (i % 16 == 15) std::this_thread::sleep_for(std::chrono::microseconds(10));
    }
    ASSERT_TRUE(pool.wait_and_stop(outside + spawned))
        << "lost wake-up: " << workers << " workers all parked with " << pool.queued() << " items queued";
    EXPECT_EQ(pool.done(), outside + spawned) << "workers: " << workers;
    EXPECT_EQ(pool.queued(), 0);
    // The counters are back where they started: all awake, none searching.
    Idle& idle = pool.idle();
    for (std::size_t w = 0; w < workers; ++w) EXPECT_FALSE(idle.is_parked(w));
    EXPECT_EQ(idle.worker_to_notify(), std::nullopt);
    std::size_t searching = 0;
    while (idle.transition_worker_to_searching()) ++searching;
    EXPECT_EQ(searching, (workers + 1) / 2) << "workers: " << workers;
  }
}

}  // namespace
