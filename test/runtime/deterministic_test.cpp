// Seeded deterministic scheduling (RuntimeOptions::rng_seed + randomize_schedule): the same
// seed replays the same interleaving of tasks; many seeds explore interleavings; a bug that
// only some interleavings expose is found, and replayed from its seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "../support.hpp"
#include "weft/join_map.hpp"
#include "weft/ready_stream_map.hpp"
#include "weft/sync.hpp"
#include "weft/vec_stream_map.hpp"
#include "weft/weft.hpp"

namespace {
using weft::Runtime;
using weft::Task;

weft::RuntimeOptions seeded(std::uint64_t seed) {
  weft::RuntimeOptions o;
  o.flavor = weft::Flavor::current_thread;
  o.rng_seed = seed;
  o.randomize_schedule = true;
  return o;
}

// Five tasks, each recording its id at three yield points: the order of the records is the
// interleaving.
std::vector<int> interleaving(std::uint64_t seed) {
  Runtime rt(seeded(seed));
  return rt.block_on([]() -> Task<std::vector<int>> {
    std::vector<int> order;
    std::vector<weft::JoinHandle<void>> hs;
    for (int id = 0; id < 5; ++id)
      hs.push_back(weft::spawn([](int id, std::vector<int>& order) -> Task<void> {
        for (int k = 0; k < 3; ++k) {
          order.push_back(id);
          co_await weft::yield_now();
        }
      }(id, order)));
    for (auto& h : hs) co_await h;
    co_return order;
  }());
}

TEST(Deterministic, same_seed_same_interleaving_and_seeds_differ) {
  std::set<std::vector<int>> seen;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto a = interleaving(seed);
    EXPECT_EQ(a.size(), 15u);
    EXPECT_EQ(a, interleaving(seed)) << "a seed replays its interleaving";
    seen.insert(a);
  }
  EXPECT_GT(seen.size(), 10u) << "different seeds explore different interleavings";
}

TEST(Deterministic, options_are_checked) {
  weft::RuntimeOptions o;
  o.randomize_schedule = true;
  o.flavor = weft::Flavor::current_thread;
  EXPECT_THROW(Runtime{o}, std::invalid_argument) << "no seed";
  o.rng_seed = 1;
  o.flavor = weft::Flavor::multi_thread;
  EXPECT_THROW(Runtime{o}, std::invalid_argument) << "multi_thread";
}

// A deliberately injected bug: a read-modify-write split by a yield loses an update when
// another task runs in between. Only some interleavings expose it.
int racy_counter(std::uint64_t seed) {
  Runtime rt(seeded(seed));
  return rt.block_on([]() -> Task<int> {
    int counter = 0;
    auto bump = [](int& c) -> Task<void> {
      co_await weft::yield_now();
      int v = c;
      co_await weft::yield_now();  // the bug: another bump may run here
      c = v + 1;
    };
    auto a = weft::spawn(bump(counter));
    auto b = weft::spawn(bump(counter));
    co_await a;
    co_await b;
    co_return counter;
  }());
}

TEST(Deterministic, an_injected_bug_is_found_and_replayed_from_its_seed) {
  std::vector<std::uint64_t> failing, passing;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) (racy_counter(seed) == 2 ? passing : failing).push_back(seed);
  ASSERT_FALSE(failing.empty()) << "some interleaving loses an update";
  ASSERT_FALSE(passing.empty()) << "and some do not";
  for (std::uint64_t seed : failing) {
    SCOPED_TRACE("failing seed " + std::to_string(seed));
    EXPECT_EQ(racy_counter(seed), 1) << "replayed: the same lost update";
  }
  for (std::uint64_t seed : passing) EXPECT_EQ(racy_counter(seed), 2) << "seed " << seed;
}

// Thousands of seeds over channel, JoinMap and StreamMap scenarios, each with exact counts.
TEST(Deterministic, stress_many_seeds_exact_counts) {
  for (std::uint64_t seed = 1; seed <= 1500; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Runtime rt(seeded(seed));
    // mpsc: 3 producers x 20 values through capacity 2; every value once, in order per producer.
    auto [tx, rx] = weft::mpsc::channel<int>(2);
    auto mpsc_ok = rt.block_on([](weft::mpsc::Sender<int> tx, weft::mpsc::Receiver<int> rx) -> Task<bool> {
      std::vector<weft::JoinHandle<void>> ps;
      for (int p = 0; p < 3; ++p)
        ps.push_back(weft::spawn([](weft::mpsc::Sender<int> tx, int p) -> Task<void> {
          for (int i = 0; i < 20; ++i) (void)co_await tx.send(p * 100 + i);
        }(tx, p)));
      { auto d = std::move(tx); }
      int last[3] = {-1, -1, -1}, n = 0;
      bool ok = true;
      while (auto v = co_await rx.recv()) {
        int p = *v / 100;
        ok = ok && *v > last[p];
        last[p] = *v;
        ++n;
      }
      for (auto& h : ps) co_await h;
      co_return ok && n == 60;
    }(std::move(tx), std::move(rx)));
    EXPECT_TRUE(mpsc_ok);

    // JoinMap: 12 keyed tasks, 4 aborted, 2 replaced: each live key reported exactly once.
    auto jm = rt.block_on([]() -> Task<std::pair<int, int>> {
      weft::JoinMap<int, int> map;
      for (int k = 0; k < 12; ++k)
        map.spawn(k, [](int k) -> Task<int> {
          for (int i = 0; i < k % 3; ++i) co_await weft::yield_now();
          co_return k;
        }(k));
      for (int k = 0; k < 12; k += 3) map.abort(k);
      map.spawn(1, []() -> Task<int> { co_return 101; }());
      map.spawn(2, []() -> Task<int> { co_return 102; }());
      int values = 0, cancelled = 0;
      std::set<int> keys;
      while (auto r = co_await map.join_next()) {
        EXPECT_TRUE(keys.insert(r->first).second) << "key " << r->first << " reported twice";
        if (r->second.is_cancelled()) ++cancelled;
        else values += r->second.value();
      }
      EXPECT_EQ(keys.size(), 12u);
      co_return std::pair{values, cancelled};
    }());
    // Aborted keys 0,3,6,9 may have finished first (then they report their value).
    int aborted_values = 0;
    for (int k = 0; k < 12; k += 3) aborted_values += k;
    int expected_live = 0;
    for (int k = 0; k < 12; ++k)
      if (k % 3 != 0) expected_live += (k == 1 ? 101 : k == 2 ? 102 : k);
    EXPECT_GE(jm.first, expected_live);
    EXPECT_LE(jm.first, expected_live + aborted_values);
    EXPECT_LE(jm.second, 4);

    // Both StreamMaps over 6 channels fed by 6 tasks: 6 x 10 items each, per key in order.
    auto sm = rt.block_on([]() -> Task<bool> {
      weft::VecStreamMap<int, weft::mpsc::Receiver<int>> vm;
      weft::ReadyStreamMap<int, weft::mpsc::Receiver<int>> rm;
      std::vector<weft::JoinHandle<void>> feeders;
      for (int k = 0; k < 6; ++k) {
        auto [tv, rv] = weft::mpsc::unbounded_channel<int>();
        auto [tr, rr] = weft::mpsc::unbounded_channel<int>();
        (void)vm.insert(k, std::move(rv));
        (void)rm.insert(k, std::move(rr));
        feeders.push_back(weft::spawn([](weft::mpsc::UnboundedSender<int> a, weft::mpsc::UnboundedSender<int> b,
                                         int k) -> Task<void> {
          for (int i = 0; i < 10; ++i) {
            (void)a.send(k * 100 + i);
            (void)b.send(k * 100 + i);
            if (i % 3 == k % 3) co_await weft::yield_now();
          }
        }(std::move(tv), std::move(tr), k)));
      }
      auto drain = [](auto& m) -> Task<bool> {
        int last[6] = {-1, -1, -1, -1, -1, -1}, n = 0;
        bool ok = true;
        while (auto kv = co_await weft::next(m)) {
          ok = ok && kv->second > last[kv->first];
          last[kv->first] = kv->second;
          ++n;
        }
        co_return ok && n == 60;
      };
      bool a = co_await drain(vm);
      bool b = co_await drain(rm);
      for (auto& h : feeders) co_await h;
      co_return a && b;
    }());
    EXPECT_TRUE(sm);
    if (::testing::Test::HasFailure()) break;  // the trace names the seed
  }
}

}  // namespace
