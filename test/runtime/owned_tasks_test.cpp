// OwnedTasks (runtime/src/owned_tasks.hpp): bind / remove / pop_any / close on task
// Headers, the unlink of any position in one shard's list, bind after close, and
// concurrent binds and removes racing a shutdown (close, then pop_any until empty) with
// every task accounted for exactly once.
//
// The list touches only a Header's owned_* links and its id, so the tests use Headers
// without a frame or an output (never polled, never scheduled): a whole Cell needs a
// coroutine frame laid out by Task's allocator. Each Header holds a reference to a real
// scheduler, as a cell does, and gives it back when the test's Headers go.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../support.hpp"
#include "owned_tasks.hpp"
#include "weft/weft.hpp"

namespace {
using weft::detail::Header;
using weft::detail::OwnedTasks;
using weft::detail::Scheduler;
using weft::detail::TaskVTable;

// OwnedTasks never calls into a task: any call is a test failure.
constexpr TaskVTable never_called{
    [](Header*) noexcept { ADD_FAILURE() << "OwnedTasks called store_output"; },
    [](Header*, const char*) noexcept { ADD_FAILURE() << "OwnedTasks called cancel"; },
    [](Header*) noexcept { ADD_FAILURE() << "OwnedTasks called drop_output"; },
    [](Header*) noexcept { ADD_FAILURE() << "OwnedTasks called dealloc"; },
};

/// `n` task Headers, each with a distinct id (consecutive, as spawns get them).
class Headers {
 public:
  explicit Headers(std::size_t n) {
    sched_ = rt_.block_on([]() -> weft::Task<Scheduler*> { co_return weft::detail::current_scheduler(); }());
    // Each Header takes a scheduler reference (scheduler_task_ref_acquire), as a cell does.
    for (std::size_t i = 0; i < n; ++i) {
      hs_.emplace_back(&never_called, sched_, std::coroutine_handle<>{});
      index_.emplace(&hs_.back(), i);
    }
  }
  Headers(const Headers&) = delete;
  Headers& operator=(const Headers&) = delete;
  ~Headers() {
    // The reference each Header took; a cell's dealloc gives it back the same way.
    for (std::size_t i = 0; i < hs_.size(); ++i) weft::detail::scheduler_task_ref_release(sched_);
  }

  Header* operator[](std::size_t i) { return &hs_[i]; }
  [[nodiscard]] std::size_t size() const { return hs_.size(); }
  [[nodiscard]] std::size_t index(const Header* h) const {
    auto it = index_.find(h);
    if (it != index_.end()) return it->second;
    ADD_FAILURE() << "not one of these headers";
    return hs_.size();
  }
  /// Gives headers [first, last) one id, so they land in one shard (whatever the sharding).
  void share_one_id(std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) hs_[i].owned.id = hs_[first].owned.id;
  }

 private:
  weft::Runtime rt_{weft_test::ct()};  // destroyed last: after the Headers' references
  Scheduler* sched_ = nullptr;
  std::deque<Header> hs_;  // a deque: Headers do not move
  std::unordered_map<const Header*, std::size_t> index_;
};

/// Pops until empty; the indexes popped, in order.
std::vector<std::size_t> drain(OwnedTasks& owned, Headers& hs) {
  std::vector<std::size_t> out;
  while (Header* h = owned.pop_any()) {
    EXPECT_FALSE(h->owned.linked) << "pop_any unlinks";
    out.push_back(hs.index(h));
  }
  return out;
}

std::vector<std::size_t> sorted(std::vector<std::size_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(OwnedTasks, empty_pop_any_returns_null) {
  OwnedTasks owned;
  EXPECT_EQ(owned.pop_any(), nullptr);
  owned.close();
  owned.close();  // idempotent
  EXPECT_EQ(owned.pop_any(), nullptr);
}

TEST(OwnedTasks, smoke_bind_then_pop_any_returns_each_once) {
  constexpr std::size_t n = 200;  // more than the shards: several share one
  OwnedTasks owned;
  Headers hs(n);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(owned.bind(hs[i]));
    EXPECT_TRUE(hs[i]->owned.linked);
  }
  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  EXPECT_EQ(sorted(drain(owned, hs)), all);
  EXPECT_EQ(owned.pop_any(), nullptr);
}

TEST(OwnedTasks, remove_unlinks_once) {
  OwnedTasks owned;
  Headers hs(2);
  ASSERT_TRUE(owned.bind(hs[0]));
  ASSERT_TRUE(owned.bind(hs[1]));
  EXPECT_TRUE(owned.remove(hs[0]));
  EXPECT_FALSE(hs[0]->owned.linked);
  EXPECT_FALSE(owned.remove(hs[0])) << "already unlinked";
  EXPECT_EQ(drain(owned, hs), std::vector<std::size_t>{1});
}

TEST(OwnedTasks, remove_at_head_middle_and_tail_of_one_shard) {
  OwnedTasks owned;
  Headers hs(6);
  hs.share_one_id(0, 6);
  for (std::size_t i = 0; i < 6; ++i) ASSERT_TRUE(owned.bind(hs[i]));
  // Within a shard a bind goes to the front, so 5 is at the head and 0 at the tail.
  EXPECT_TRUE(owned.remove(hs[5]));  // head
  EXPECT_TRUE(owned.remove(hs[2]));  // middle
  EXPECT_TRUE(owned.remove(hs[0]));  // tail
  EXPECT_TRUE(owned.remove(hs[3]));  // middle again, next to a removed one
  EXPECT_EQ(sorted(drain(owned, hs)), (std::vector<std::size_t>{1, 4}));
  // The links of the removed ones were left consistent: they bind again.
  for (std::size_t i : {0u, 2u, 3u, 5u}) ASSERT_TRUE(owned.bind(hs[i]));
  EXPECT_EQ(sorted(drain(owned, hs)), (std::vector<std::size_t>{0, 2, 3, 5}));
}

TEST(OwnedTasks, remove_after_pop_any_fails) {
  OwnedTasks owned;
  Headers hs(1);
  ASSERT_TRUE(owned.bind(hs[0]));
  EXPECT_EQ(owned.pop_any(), hs[0]);
  EXPECT_FALSE(owned.remove(hs[0])) << "shutdown took it (and the list's reference)";
}

TEST(OwnedTasks, rebind_after_remove) {
  OwnedTasks owned;
  Headers hs(1);
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(owned.bind(hs[0]));
    EXPECT_TRUE(owned.remove(hs[0]));
  }
  ASSERT_TRUE(owned.bind(hs[0]));
  EXPECT_EQ(drain(owned, hs), std::vector<std::size_t>{0});
}

TEST(OwnedTasks, bind_after_close_fails_and_leaves_the_task_out) {
  OwnedTasks owned;
  Headers hs(4);
  ASSERT_TRUE(owned.bind(hs[0]));
  ASSERT_TRUE(owned.bind(hs[1]));
  owned.close();
  EXPECT_FALSE(owned.bind(hs[2]));
  EXPECT_FALSE(hs[2]->owned.linked);
  EXPECT_FALSE(owned.remove(hs[2])) << "never entered";
  // Tasks bound before close stay, for shutdown to find; a completing one still removes.
  EXPECT_TRUE(owned.remove(hs[1]));
  EXPECT_EQ(drain(owned, hs), std::vector<std::size_t>{0});
  EXPECT_FALSE(owned.bind(hs[3])) << "closed for good";
  EXPECT_EQ(owned.pop_any(), nullptr);
}

// Threads bind and remove their own Headers over and over, half of them in one shared
// shard; at the end each keeps the even ones bound. Exactly those remain.
TEST(OwnedTasks, stress_concurrent_bind_remove_exact_counts) {
  constexpr std::size_t threads = 4, per_thread = 500, rounds = 20;
  OwnedTasks owned;
  Headers hs(threads * per_thread);
  hs.share_one_id(0, threads * per_thread / 2);
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (std::size_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      // Thread t owns the Headers i with i % threads == t: from both halves.
      auto mine = [&](std::size_t k) { return hs[k * threads + t]; };
      for (std::size_t r = 0; r < rounds; ++r) {
        for (std::size_t k = 0; k < per_thread; ++k) failures += !owned.bind(mine(k));
        // Remove in orders that differ from the bind order: every other one upwards, then
        // the rest downwards (unlinks at the head, the tail and in the middle).
        for (std::size_t k = r % 2; k < per_thread; k += 2) failures += !owned.remove(mine(k));
        for (std::size_t k = per_thread; k-- > 0;)
          if (k % 2 != r % 2) failures += !owned.remove(mine(k));
      }
      for (std::size_t k = 0; k < per_thread; ++k) failures += !owned.bind(mine(k));
      for (std::size_t k = 1; k < per_thread; k += 2) failures += !owned.remove(mine(k));
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::size_t> expected;
  for (std::size_t i = 0; i < hs.size(); ++i)
    if ((i / threads) % 2 == 0) expected.push_back(i);
  EXPECT_EQ(sorted(drain(owned, hs)), expected);
}

// Shutdown (close, then pop_any until empty) racing binds and removes: a bind that returned
// true is found exactly once, by the remove of its task or by shutdown; a bind that
// returned false never enters; a bind begun after close() returned fails. (Shutdown starts
// after a third of the binds; each thread's last `after` binds wait for close() to return,
// so that some binds surely come after it.)
TEST(OwnedTasks, stress_shutdown_races_binds_and_removes) {
  constexpr std::size_t threads = 3, per_thread = 3000, after = 100;
  OwnedTasks owned;
  Headers hs(threads * per_thread);
  hs.share_one_id(0, per_thread);  // one hot shard besides the spread ones
  enum : std::uint8_t { untouched, bound, refused, removed };
  std::vector<std::uint8_t> fate(hs.size(), untouched);  // each entry written by one thread
  std::atomic<bool> closed{false};
  std::atomic<std::size_t> binds{0};
  std::atomic<int> late_binds{0};
  std::vector<std::thread> ts;
  for (std::size_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (std::size_t k = 0; k < per_thread; ++k) {
        const std::size_t i = k * threads + t;
        if (k == per_thread - after)
          while (!closed.load()) std::this_thread::yield();
        const bool after_close = closed.load();
        if (!owned.bind(hs[i])) {
          fate[i] = refused;
          continue;
        }
        late_binds += after_close;
        fate[i] = bound;
        binds.fetch_add(1);
        // Tasks complete (remove) at once (k % 3 == 0), a little later (k % 3 == 2, removed
        // at k + 2), or never (k % 3 == 1: left for shutdown).
        if (k % 3 == 0 && owned.remove(hs[i])) fate[i] = removed;
        if (k % 3 == 1 && k >= 2) {
          const std::size_t j = (k - 2) * threads + t;
          if (fate[j] == bound && owned.remove(hs[j])) fate[j] = removed;
        }
      }
    });
  std::vector<Header*> popped;
  std::thread shutdown([&] {
    while (binds.load() < threads * per_thread / 3) std::this_thread::yield();
    owned.close();
    closed.store(true);
    while (Header* h = owned.pop_any()) popped.push_back(h);
  });
  for (auto& th : ts) th.join();
  shutdown.join();
  EXPECT_EQ(late_binds.load(), 0) << "a bind after close() returned succeeded";
  EXPECT_EQ(owned.pop_any(), nullptr) << "shutdown left a task behind";
  std::vector<int> times_popped(hs.size(), 0);
  for (Header* h : popped) ++times_popped[hs.index(h)];
  std::size_t n_bound = 0, n_refused = 0, n_removed = 0;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    ASSERT_NE(fate[i], untouched);
    EXPECT_FALSE(hs[i]->owned.linked);
    if (fate[i] == bound) {
      ++n_bound;
      EXPECT_EQ(times_popped[i], 1) << "a bound task shutdown did not find exactly once: " << i;
    } else if (fate[i] == removed) {
      ++n_removed;
      EXPECT_EQ(times_popped[i], 0) << "removed and popped: " << i;
    } else {
      ++n_refused;
      EXPECT_EQ(times_popped[i], 0) << "refused, yet popped: " << i;
    }
  }
  EXPECT_EQ(n_bound + n_removed, binds.load());
  EXPECT_EQ(n_bound, popped.size());
  EXPECT_GE(n_refused, threads * after);
}

}  // namespace
