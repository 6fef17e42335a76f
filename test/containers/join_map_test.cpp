// JoinSet and JoinMap, after tokio-util's JoinMap tests and the reference text.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "weft/join_map.hpp"
#include "weft/join_set.hpp"
#include "weft/sync.hpp"
#include "weft/weft.hpp"

namespace {
using weft::JoinMap;
using weft::JoinSet;
using weft::Task;

using weft_test::ct;
using weft_test::mt;

Task<int> value(int v) { co_return v; }
Task<int> wait_on(weft::oneshot::Receiver<int> rx) { co_return co_await std::move(rx); }
Task<int> yield_then(int v, int yields) {
  for (int i = 0; i < yields; ++i) co_await weft::yield_now();
  co_return v;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

TEST(JoinMap, spawn_then_join_all_keys) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinMap<int, int> map;
    for (int i = 0; i < 10; ++i) map.spawn(i, yield_then(i * 10, i % 3));
    EXPECT_EQ(map.size(), 10u);
    std::vector<bool> seen(10, false);
    while (auto r = co_await map.join_next()) {
      auto& [key, res] = *r;
      EXPECT_FALSE(seen[key]);
      seen[key] = true;
      EXPECT_EQ(res.value(), key * 10);
    }
    for (bool s : seen) EXPECT_TRUE(s);
    EXPECT_TRUE(map.empty());
    EXPECT_FALSE(co_await map.join_next());
  }());
}

TEST(JoinMap, abort_by_key_and_by_predicate_exact_counts) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinMap<int, int> map;
    std::vector<weft::oneshot::Sender<int>> keep;
    for (int i = 0; i < 20; ++i) {
      auto [tx, rx] = weft::oneshot::channel<int>();
      keep.push_back(std::move(tx));
      map.spawn(i, wait_on(std::move(rx)));
    }
    EXPECT_TRUE(map.abort(3));
    EXPECT_FALSE(map.abort(99)) << "a missing key is reported, not an error";
    map.abort_matching([](int k) { return k >= 10; });  // 10..19
    for (int i = 0; i < 20; ++i)
      if (i != 3 && i < 10) (void)keep[i].send(i);
    int cancelled = 0, completed = 0;
    std::set<int> cancelled_keys;
    while (auto r = co_await map.join_next()) {
      if (r->second.is_cancelled()) {
        ++cancelled;
        cancelled_keys.insert(r->first);
      } else {
        ++completed;
        EXPECT_EQ(r->second.value(), r->first);
      }
    }
    EXPECT_EQ(cancelled, 11);
    EXPECT_EQ(completed, 9);
    EXPECT_TRUE(cancelled_keys.count(3));
    EXPECT_TRUE(cancelled_keys.count(15));
  }());
}

TEST(JoinMap, replace_aborts_old_and_never_reports_it) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinMap<std::string, int> map;
    auto [tx, rx] = weft::oneshot::channel<int>();
    map.spawn("k", wait_on(std::move(rx)));
    map.spawn("k", value(2));
    EXPECT_EQ(map.size(), 1u);
    auto r = co_await map.join_next();
    EXPECT_TRUE(r.has_value());
    if (!r) co_return;
    EXPECT_EQ(r->first, "k");
    EXPECT_EQ(r->second.value(), 2);
    EXPECT_FALSE(co_await map.join_next()) << "the replaced task's result never appears";
    // The old task was aborted: its receiver is gone.
    while (!tx.is_closed()) co_await weft::yield_now();
  }());
}

TEST(JoinMap, abort_all_with_pending_and_finished_tasks) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinMap<int, int> map;
    std::vector<weft::oneshot::Sender<int>> keep;
    for (int i = 0; i < 5; ++i) map.spawn(i, value(i));
    for (int i = 5; i < 10; ++i) {
      auto [tx, rx] = weft::oneshot::channel<int>();
      keep.push_back(std::move(tx));
      map.spawn(i, wait_on(std::move(rx)));
    }
    // Let the immediate ones finish.
    for (int k = 0; k < 10; ++k) co_await weft::yield_now();
    map.abort_all();
    int cancelled = 0, completed = 0;
    while (auto r = co_await map.join_next()) (r->second.is_cancelled() ? cancelled : completed)++;
    EXPECT_EQ(cancelled + completed, 10);
    EXPECT_GE(cancelled, 5) << "the five pending tasks were cancelled";
  }());
}

TEST(JoinMap, detach_all_keeps_tasks_running) {
  weft::Runtime rt(mt());
  std::atomic<int> ran{0};
  rt.block_on([](std::atomic<int>& ran) -> Task<void> {
    JoinMap<int, int> map;
    for (int i = 0; i < 8; ++i)
      map.spawn(i, [](std::atomic<int>& r) -> Task<int> {
        co_await weft::yield_now();
        r.fetch_add(1);
        co_return 0;
      }(ran));
    map.detach_all();
    EXPECT_TRUE(map.empty());
    EXPECT_FALSE(co_await map.join_next());
    while (ran.load() < 8) co_await weft::yield_now();
  }(ran));
  EXPECT_EQ(ran.load(), 8);
}

TEST(JoinMap, drop_aborts_every_task) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    std::vector<weft::oneshot::Receiver<int>> dropped;
    {
      JoinMap<int, int> map;
      for (int i = 0; i < 10; ++i) {
        auto [tx, rx] = weft::oneshot::channel<int>();
        dropped.push_back(std::move(rx));
        // The task holds the sender; when the task is aborted, the sender is dropped.
        map.spawn(i, [](weft::oneshot::Sender<int> tx) -> Task<int> {
          co_await weft::CancellationToken().cancelled();
          (void)tx.send(1);
          co_return 0;
        }(std::move(tx)));
      }
    }
    for (auto& rx : dropped) {
      bool recv_error = false;
      try {
        (void)co_await std::move(rx);
      } catch (const weft::oneshot::RecvError&) {
        recv_error = true;
      }
      EXPECT_TRUE(recv_error) << "the task was aborted and its sender dropped unsent";
    }
  }());
}

TEST(JoinMap, alternating_spawn_and_join) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinMap<int, int> map;
    for (int i = 0; i < 100; ++i) {
      map.spawn(i, value(i));
      auto r = co_await map.join_next();
      EXPECT_EQ(r->first, i);
      EXPECT_EQ(r->second.value(), i);
    }
    EXPECT_TRUE(map.empty());
  }());
}

TEST(JoinMap, keys_contains_and_heterogeneous_lookup) {
  weft::Runtime rt(ct());
  rt.block_on([]() -> Task<void> {
    JoinMap<std::string, int, StringHash, std::equal_to<>> map;
    map.spawn("alpha", value(1));
    map.spawn("beta", value(2));
    co_await weft::yield_now();  // both complete, neither joined
    EXPECT_TRUE(map.contains_key(std::string_view("alpha")));
    EXPECT_FALSE(map.contains_key(std::string_view("gamma")));
    auto keys = map.keys();
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), (std::set<std::string>{"alpha", "beta"}))
        << "completed-but-unjoined keys are still listed";
    auto r = co_await map.join_next();
    EXPECT_FALSE(map.contains_key(r->first));
    EXPECT_EQ(map.size(), 1u);
  }());
  JoinMap<int, int> m = JoinMap<int, int>::with_capacity(100);
  EXPECT_GE(m.capacity(), 100u);
  m.shrink_to(10);
  EXPECT_GE(m.capacity(), 10u) << "shrink_to keeps at least the requested capacity";
  EXPECT_LT(m.capacity(), 100u);
}

TEST(JoinMap, contains_task_by_id) {
  weft::Runtime rt(ct());
  rt.block_on([]() -> Task<void> {
    JoinMap<int, int> map;
    auto [tx, rx] = weft::oneshot::channel<int>();
    map.spawn(1, wait_on(std::move(rx)));
    EXPECT_TRUE(map.contains_key(1));
    EXPECT_FALSE(map.contains_task(weft::TaskId{0}));
    (void)tx.send(5);
    auto r = co_await map.join_next();
    EXPECT_EQ(r->second.value(), 5);
  }());
}

TEST(JoinMap, exceptions_surface_as_join_error) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinMap<int, int> map;
    map.spawn(1, []() -> Task<int> {
      throw std::runtime_error("task failed");
      co_return 0;
    }());
    auto r = co_await map.join_next();
    EXPECT_TRUE(r.has_value());
    if (!r) co_return;
    EXPECT_TRUE(r->second.is_panic());
    EXPECT_THROW(r->second.error().resume_panic(), std::runtime_error);
  }());
}

TEST(JoinMap, runtime_gone_yields_cancelled) {
  std::optional<weft::Runtime> rt(std::in_place, mt());
  weft::Runtime driver(ct());
  JoinMap<int, int> map;
  auto handle = rt->handle();
  auto [tx, rx] = weft::oneshot::channel<int>();
  map.spawn_on(1, wait_on(std::move(rx)), handle);
  rt.reset();
  auto r = driver.block_on([&]() -> Task<std::optional<std::pair<int, weft::JoinResult<int>>>> {
    co_return co_await map.join_next();
  }());
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->second.is_cancelled());
}

TEST(JoinMap, join_next_respects_the_coop_budget) {
  weft::Runtime rt(ct());
  rt.block_on([]() -> Task<void> {
    JoinMap<int, int> map;
    for (int i = 0; i < 1000; ++i) map.spawn(i, value(i));
    for (int k = 0; k < 3; ++k) co_await weft::yield_now();  // all complete
    std::atomic<bool> other_ran{false};
    auto other = weft::spawn([](std::atomic<bool>& f) -> Task<void> {
      f = true;
      co_return;
    }(other_ran));
    int joined_before_other = 0;
    while (auto r = co_await map.join_next()) {
      if (!other_ran.load()) ++joined_before_other;
    }
    EXPECT_LE(joined_before_other, weft::coop::initial_budget) << "a map with many ready results yields";
    co_await other;
  }());
}

TEST(JoinSet, spawn_join_try_join_and_shutdown) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinSet<int> set;
    EXPECT_FALSE(set.try_join_next().has_value());
    for (int i = 0; i < 50; ++i) set.spawn(yield_then(i, i % 4));
    long sum = 0;
    while (auto r = co_await set.join_next()) sum += r->value();
    EXPECT_EQ(sum, 49 * 50 / 2);
    std::vector<weft::oneshot::Sender<int>> keep;
    for (int i = 0; i < 10; ++i) {
      auto [tx, rx] = weft::oneshot::channel<int>();
      keep.push_back(std::move(tx));
      set.spawn(wait_on(std::move(rx)));
    }
    co_await set.shutdown();
    EXPECT_TRUE(set.empty());
    for (auto& tx : keep) EXPECT_TRUE(tx.is_closed());
  }());
}

TEST(JoinSet, void_tasks_and_detach) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinSet<void> set;
    for (int i = 0; i < 5; ++i) set.spawn([]() -> Task<void> { co_return; }());
    int n = 0;
    while (auto r = co_await set.join_next()) n += r->has_value();
    EXPECT_EQ(n, 5);
    set.spawn([]() -> Task<void> { co_await weft::yield_now(); }());
    set.detach_all();
    EXPECT_TRUE(set.empty());
  }());
}

TEST(JoinSet, spawn_returns_an_abort_handle) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinSet<int> set;
    auto [tx, rx] = weft::oneshot::channel<int>();
    weft::AbortHandle a = set.spawn(wait_on(std::move(rx)));
    weft::AbortHandle b = set.spawn(value(5));
    EXPECT_NE(a.id(), b.id());
    a.abort();
    int cancelled = 0, values = 0;
    while (auto r = co_await set.join_next()) {
      if (r->is_cancelled()) ++cancelled;
      else values += r->value();
    }
    EXPECT_EQ(cancelled, 1);
    EXPECT_EQ(values, 5);
    EXPECT_TRUE(tx.is_closed());
    EXPECT_TRUE(a.is_finished());
  }());
}

TEST(JoinSet, moves_take_the_tasks_along) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinSet<int> a;
    for (int i = 0; i < 10; ++i) a.spawn(value(i));
    JoinSet<int> b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_FALSE(a.try_join_next().has_value());
    EXPECT_EQ((co_await a.join_next()), std::nullopt) << "a moved-from set is empty, not broken";
    EXPECT_EQ(b.size(), 10u);
    a.spawn(value(100));  // the moved-from set is usable again
    std::vector<weft::oneshot::Sender<int>> keep;
    JoinSet<int> c;
    for (int i = 0; i < 3; ++i) {
      auto [tx, rx] = weft::oneshot::channel<int>();
      keep.push_back(std::move(tx));
      c.spawn(wait_on(std::move(rx)));
    }
    c = std::move(b);  // aborts c's three waiting tasks
    for (auto& tx : keep) {
      while (!tx.is_closed()) co_await weft::yield_now();
    }
    int sum = 0, n = 0;
    while (auto r = co_await c.join_next()) {
      sum += r->value();
      ++n;
    }
    EXPECT_EQ(n, 10);
    EXPECT_EQ(sum, 45);
    auto r = co_await a.join_next();
    EXPECT_EQ(r->value(), 100);
  }());
}

TEST(JoinMap, moves_take_the_tasks_along) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinMap<std::string, int> a;
    a.spawn("x", value(1));
    a.spawn("y", value(2));
    JoinMap<std::string, int> b = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(a.contains_key(std::string("x")));
    EXPECT_TRUE(b.contains_key(std::string("x")));
    JoinMap<std::string, int> c;
    auto [tx, rx] = weft::oneshot::channel<int>();
    c.spawn("z", wait_on(std::move(rx)));
    c = std::move(b);
    while (!tx.is_closed()) co_await weft::yield_now();
    EXPECT_FALSE(c.contains_key(std::string("z")));
    std::map<std::string, int> got;
    while (auto r = co_await c.join_next()) got[r->first] = r->second.value();
    EXPECT_EQ(got, (std::map<std::string, int>{{"x", 1}, {"y", 2}}));
  }());
}

// Randomized: tasks complete on both workers while the owner aborts, replaces and joins.
// Each live key's outcome is reported exactly once; replaced tasks never.
TEST(JoinMap, stress_randomized_each_outcome_exactly_once) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    std::mt19937 rng(42);
    JoinMap<int, int> map;
    std::map<int, int> generation;  // key -> generation of its live task
    std::map<int, int> reported;    // key -> times reported for the live generation
    long reports = 0, spawned = 0, replaced = 0;
    for (int step = 0; step < 20000; ++step) {
      int key = static_cast<int>(rng() % 64);
      switch (rng() % 4) {
        case 0:
        case 1: {
          if (map.contains_key(key)) ++replaced;
          int gen = ++generation[key];
          map.spawn(key, yield_then(key * 100000 + gen, static_cast<int>(rng() % 3)));
          reported[key] = 0;
          ++spawned;
          break;
        }
        case 2:
          (void)map.abort(key);
          break;
        case 3:
          if (auto r = map.try_join_next()) {
            ++reports;
            EXPECT_EQ(++reported[r->first], 1);
            if (r->second.has_value()) {
              EXPECT_EQ(r->second.value(), r->first * 100000 + generation[r->first]);
            }
          }
          break;
      }
      if (step % 64 == 0) co_await weft::yield_now();
    }
    while (auto r = co_await map.join_next()) {
      ++reports;
      EXPECT_EQ(++reported[r->first], 1);
      if (r->second.has_value()) {
        EXPECT_EQ(r->second.value(), r->first * 100000 + generation[r->first]);
      }
    }
    EXPECT_EQ(reports, spawned - replaced);
  }());
}
TEST(JoinSet, try_join_next_with_the_budget_spent_returns_a_ready_result) {
  weft::Runtime rt(mt());
  JoinSet<int> set;
  weft::AbortHandle a = set.spawn_on(value(4), rt.handle());
  while (!a.is_finished()) std::this_thread::yield();
  std::optional<weft::JoinResult<int>> r;
  // The completion reaches the set's queue just after the task is marked finished.
  for (int i = 0; i < 1000000 && !r; ++i) {
    weft::coop::BudgetScope none_left(0);
    r = set.try_join_next();  // used to spin forever: the handle refused and re-queued itself
  }
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value(), 4);
}

TEST(JoinSet, self_move_assignment_keeps_the_tasks) {
  weft::Runtime rt(mt());
  JoinSet<int> set;
  (void)set.spawn_on(value(1), rt.handle());
  JoinSet<int>& alias = set;
  set = std::move(alias);
  EXPECT_EQ(set.size(), 1u);
  int got = rt.block_on([](JoinSet<int>& s) -> Task<int> { co_return (co_await s.join_next())->value(); }(set));
  EXPECT_EQ(got, 1);
}
// A Hash that throws for one key.
struct PickyHash {
  std::size_t operator()(int k) const {
    if (k == 13) throw std::runtime_error("unlucky key");
    return std::hash<int>{}(k);
  }
};

TEST(JoinMap, a_throwing_hash_aborts_the_new_task_and_leaves_the_map_unchanged) {
  weft::Runtime rt(mt());
  rt.block_on([]() -> Task<void> {
    JoinMap<int, int, PickyHash> map;
    map.spawn(1, value(1));
    auto [tx, rx] = weft::oneshot::channel<int>();
    EXPECT_THROW(map.spawn(13, wait_on(std::move(rx))), std::runtime_error);
    EXPECT_EQ(map.size(), 1u);
    while (!tx.is_closed()) co_await weft::yield_now();  // the rejected task was aborted
    auto r = co_await map.join_next();
    EXPECT_TRUE(r.has_value());
    if (r) {
      EXPECT_EQ(r->first, 1);
      EXPECT_EQ(r->second.value(), 1);
    }
    EXPECT_FALSE((co_await map.join_next()).has_value());
  }());
}
}  // namespace
