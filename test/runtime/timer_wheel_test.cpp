// The timer wheel (runtime/src/time/wheel.hpp): an empty wheel; insert, fire and cancel
// at every level boundary, with the exact sequence of cascade points next_expiration walks
// through; deadlines in the past; the clamp at max_duration and the top level's
// wrap-around; time stopping at max_tick; the order within a tick (insertion order, across
// cascades and resets); re-inserting fired, cancelled and registered entries; batches;
// cancelling every k-th of many; a random differential run against a std::multimap model
// (exact fire sequence at every poll, next_expiration and every entry's state at every
// step) on wheels of 1, 2, 3 and 6 levels; the wheel's destructor; an entry destroyed while
// in a wheel; the Fired state published to another thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "time/wheel.hpp"

namespace {
using weft::detail::BasicTimerWheel;
using weft::detail::CancelOutcome;
using weft::detail::TimerEntry;
using weft::detail::TimerState;
using weft::detail::TimerWheel;

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

struct Timer : TimerEntry {
  int id = 0;
};

/// `n` timers with ids 0..n-1 (a vector never resized: entries do not move).
std::vector<Timer> make_timers(std::size_t n) {
  std::vector<Timer> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i].id = static_cast<int>(i);
  return v;
}

/// Polls at `now` until nothing is due; the ids handed out, in order (each must be Fired).
template <class W>
std::vector<int> drain(W& w, std::uint64_t now) {
  std::vector<int> ids;
  while (TimerEntry* e = w.poll(now)) {
    EXPECT_EQ(e->state(), TimerState::Fired);
    ids.push_back(static_cast<Timer*>(e)->id);
  }
  return ids;
}

constexpr std::uint64_t pow64(unsigned n) { return std::uint64_t{1} << (6 * n); }

/// The ticks at which a wheel whose elapsed() is `base` processes an entry for `d` (> base):
/// d with its lower digits cleared, from the highest digit where d and base differ down.
std::vector<std::uint64_t> cascade_points(std::uint64_t base, std::uint64_t d, unsigned levels) {
  unsigned top = 0;
  for (unsigned l = levels; l-- > 0;) {
    if ((d >> (6 * l)) != (base >> (6 * l))) {
      top = l;
      break;
    }
  }
  std::vector<std::uint64_t> pts;
  for (unsigned l = top + 1; l-- > 0;) {
    const std::uint64_t p = d & ~(pow64(l) - 1);
    if (pts.empty() || pts.back() != p) pts.push_back(p);
  }
  return pts;
}

TEST(TimerWheel, empty) {
  TimerWheel w;
  EXPECT_TRUE(w.is_empty());
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.elapsed(), 0u);
  EXPECT_EQ(w.next_expiration(), std::nullopt);
  EXPECT_EQ(w.poll(0), nullptr);
  EXPECT_EQ(w.poll(1000), nullptr);
  EXPECT_EQ(w.elapsed(), 1000u);  // an empty wheel still advances
  EXPECT_EQ(w.poll(10), nullptr);  // a clock that went back moves nothing
  EXPECT_EQ(w.elapsed(), 1000u);
  std::array<TimerEntry*, 4> out{};
  EXPECT_EQ(w.take_expired(5000, out), 0u);
  EXPECT_EQ(w.take_expired(6000, std::span<TimerEntry*>{}), 0u);
  Timer t;
  EXPECT_EQ(t.state(), TimerState::Idle);
  EXPECT_EQ(w.cancel(t), CancelOutcome::NotRegistered);
  EXPECT_EQ(t.state(), TimerState::Idle);
}

// Offsets from elapsed() around every level boundary, up to the clamp.
std::vector<std::uint64_t> boundary_offsets() {
  std::vector<std::uint64_t> offs{1, 2};
  for (unsigned l = 1; l < TimerWheel::levels; ++l) {
    for (std::uint64_t p : {pow64(l) - 1, pow64(l), pow64(l) + 1, 2 * pow64(l), 63 * pow64(l) - 1}) offs.push_back(p);
  }
  offs.push_back(TimerWheel::max_duration - 1);
  offs.push_back(TimerWheel::max_duration);
  return offs;
}
// Starting points: aligned and unaligned at every level.
const std::vector<std::uint64_t> boundary_bases{0,           1,           63,          64,
                                                100,         4095,        4096,        pow64(3) - 1,
                                                pow64(5) + 7, 3 * pow64(5) + 12345, 63 * pow64(5) + 999};

TEST(TimerWheel, fires_at_every_level_boundary) {
  for (std::uint64_t base : boundary_bases) {
    for (std::uint64_t off : boundary_offsets()) {
      SCOPED_TRACE(testing::Message() << "base " << base << " offset " << off);
      Timer t;
      TimerWheel w;
      EXPECT_EQ(w.poll(base), nullptr);
      ASSERT_EQ(w.elapsed(), base);
      const std::uint64_t d = base + off;
      w.insert(t, d);
      EXPECT_EQ(t.deadline(), d);
      EXPECT_EQ(t.state(), TimerState::Registered);
      // next_expiration walks through exactly the cascade points, ending at the deadline;
      // nothing fires before it.
      std::vector<std::uint64_t> seen;
      while (std::optional<std::uint64_t> next = w.next_expiration()) {
        ASSERT_GT(*next, w.elapsed());
        ASSERT_LE(*next, d);
        seen.push_back(*next);
        if (*next == d) break;
        EXPECT_EQ(w.poll(*next - 1), nullptr);
        EXPECT_EQ(w.poll(*next), nullptr);  // a cascade
        EXPECT_EQ(t.state(), TimerState::Registered);
      }
      EXPECT_EQ(seen, cascade_points(base, d, TimerWheel::levels));
      EXPECT_EQ(w.poll(d - 1), nullptr);
      EXPECT_EQ(w.poll(d), &t);
      EXPECT_EQ(t.state(), TimerState::Fired);
      EXPECT_EQ(w.poll(d), nullptr);
      EXPECT_TRUE(w.is_empty());
      EXPECT_EQ(w.next_expiration(), std::nullopt);
    }
  }
}

TEST(TimerWheel, cancel_at_every_level_boundary) {
  for (std::uint64_t base : boundary_bases) {
    for (std::uint64_t off : boundary_offsets()) {
      SCOPED_TRACE(testing::Message() << "base " << base << " offset " << off);
      Timer a, b, c, e;
      TimerWheel w;
      (void)w.poll(base);
      const std::uint64_t d = base + off;
      // Cancelled straight away.
      w.insert(a, d);
      EXPECT_EQ(w.cancel(a), CancelOutcome::Cancelled);
      EXPECT_EQ(a.state(), TimerState::Cancelled);
      EXPECT_TRUE(w.is_empty());
      EXPECT_EQ(w.next_expiration(), std::nullopt);
      EXPECT_EQ(w.cancel(a), CancelOutcome::NotRegistered);
      // Three in one slot: cancelling one keeps the slot (its occupied bit) for the others;
      // another is cancelled after the slot's first cascade, if it has one.
      b.id = 1;
      c.id = 2;
      w.insert(a, d);
      w.insert(b, d);
      w.insert(e, d);
      EXPECT_EQ(w.cancel(a), CancelOutcome::Cancelled);
      const std::uint64_t first = *w.next_expiration();
      if (first < d) {
        EXPECT_EQ(w.poll(first), nullptr);  // a cascade
      }
      EXPECT_EQ(w.cancel(e), CancelOutcome::Cancelled);
      w.insert(c, d);  // filed relative to the new elapsed(): beside b
      EXPECT_EQ(w.size(), 2u);
      EXPECT_EQ(w.poll(d - 1), nullptr);
      EXPECT_EQ(drain(w, d), (std::vector<int>{1, 2}));
      EXPECT_EQ(a.state(), TimerState::Cancelled);
      EXPECT_EQ(e.state(), TimerState::Cancelled);
      EXPECT_TRUE(w.is_empty());
    }
  }
}

TEST(TimerWheel, cascades_from_the_top_level_down) {
  Timer t;
  TimerWheel w;
  const std::uint64_t d = 3 * pow64(5) + 2 * pow64(4) + 5 * pow64(2) + 7;
  w.insert(t, d);
  // Level 5 slot 3, then level 4 slot 2, then level 2 slot 5, then level 0 slot 7 (levels
  // 3 and 1 are skipped: the deadline's digits there equal the cascade tick's, zero).
  const std::vector<std::uint64_t> expect{3 * pow64(5), 3 * pow64(5) + 2 * pow64(4),
                                          3 * pow64(5) + 2 * pow64(4) + 5 * pow64(2), d};
  std::vector<std::uint64_t> seen;
  for (;;) {
    const std::uint64_t next = *w.next_expiration();
    seen.push_back(next);
    if (TimerEntry* e = w.poll(next)) {
      EXPECT_EQ(e, &t);
      break;
    }
  }
  EXPECT_EQ(seen, expect);
  EXPECT_EQ(w.elapsed(), d);
}

TEST(TimerWheel, past_deadlines_fire_at_the_next_poll) {
  auto ts = make_timers(4);
  TimerWheel w;
  (void)w.poll(1000);
  w.insert(ts[0], 500);
  w.insert(ts[1], 1000);  // == elapsed(): already past
  w.insert(ts[2], 0);
  w.insert(ts[3], 1001);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ts[i].deadline(), 1000u) << i;  // takes elapsed() as its deadline
    EXPECT_EQ(ts[i].state(), TimerState::PendingFire) << i;
  }
  EXPECT_EQ(w.next_expiration(), 1000u);
  EXPECT_EQ(drain(w, 999), (std::vector<int>{0, 1, 2}));  // even with a clock that went back
  EXPECT_EQ(w.elapsed(), 1000u);
  EXPECT_EQ(w.next_expiration(), 1001u);
  EXPECT_EQ(drain(w, 1001), (std::vector<int>{3}));
  // A due entry can be cancelled before it is handed out.
  w.insert(ts[0], 7);
  EXPECT_EQ(w.cancel(ts[0]), CancelOutcome::Cancelled);
  EXPECT_EQ(w.next_expiration(), std::nullopt);
  EXPECT_EQ(w.poll(1001), nullptr);
}

TEST(TimerWheel, clamps_deadlines_beyond_the_range) {
  static_assert(TimerWheel::max_duration == (std::uint64_t{1} << 36) - (std::uint64_t{1} << 30));
  for (std::uint64_t base : {std::uint64_t{0}, std::uint64_t{12345}, 5 * pow64(5) + 1}) {
    SCOPED_TRACE(base);
    auto ts = make_timers(4);
    TimerWheel w;
    (void)w.poll(base);
    w.insert(ts[0], u64_max);
    w.insert(ts[1], base + TimerWheel::max_duration + 1);
    w.insert(ts[2], base + TimerWheel::max_duration);
    w.insert(ts[3], base + TimerWheel::max_duration - 1);
    const std::uint64_t max = base + TimerWheel::max_duration;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(ts[i].deadline(), max) << i;
    EXPECT_EQ(ts[3].deadline(), max - 1);
    EXPECT_EQ(drain(w, max - 2), std::vector<int>{});
    EXPECT_EQ(drain(w, max - 1), (std::vector<int>{3}));
    EXPECT_EQ(drain(w, max), (std::vector<int>{0, 1, 2}));
  }
}

// A clamped deadline lands in a top-level slot behind elapsed()'s (the next rotation), and
// never in elapsed()'s own: the slots ahead of it must still be found first.
TEST(TimerWheel, clamp_keeps_the_top_level_unambiguous) {
  auto ts = make_timers(4);
  TimerWheel w;
  const std::uint64_t base = 3 * pow64(5) + 12345;
  (void)w.poll(base);
  w.insert(ts[0], u64_max);            // top level, slot 2 of the next rotation
  w.insert(ts[1], 4 * pow64(5) + 5);   // top level, slot 4
  w.insert(ts[2], base + 100);         // a low level
  w.insert(ts[3], 63 * pow64(5) + 1);  // top level, slot 63
  const std::vector<std::uint64_t> deadlines{base + TimerWheel::max_duration, 4 * pow64(5) + 5, base + 100,
                                             63 * pow64(5) + 1};
  std::vector<int> fired;
  while (std::optional<std::uint64_t> next = w.next_expiration()) {
    std::uint64_t min_left = u64_max;
    for (const Timer& t : ts) {
      if (t.state() == TimerState::Registered) min_left = std::min(min_left, t.deadline());
    }
    ASSERT_LE(*next, min_left);
    for (int id : drain(w, *next)) {
      EXPECT_EQ(deadlines[id], *next);
      fired.push_back(id);
    }
  }
  EXPECT_EQ(fired, (std::vector<int>{2, 1, 3, 0}));
}

TEST(TimerWheel, time_stops_at_max_tick) {
  Timer a, b;
  TimerWheel w;
  w.insert(a, 10);
  EXPECT_EQ(w.poll(u64_max), &a);
  EXPECT_EQ(w.poll(u64_max), nullptr);
  EXPECT_EQ(w.elapsed(), TimerWheel::max_tick);
  w.insert(b, u64_max);
  EXPECT_EQ(b.deadline(), TimerWheel::max_tick + TimerWheel::max_duration);
  EXPECT_EQ(w.poll(u64_max), nullptr);  // never reached
  EXPECT_EQ(b.state(), TimerState::Registered);
  EXPECT_GT(*w.next_expiration(), TimerWheel::max_tick);
  w.insert(a, 0);  // overdue still fires
  EXPECT_EQ(w.poll(u64_max), &a);
  EXPECT_EQ(w.cancel(b), CancelOutcome::Cancelled);
}

// Entries with one deadline come out in insertion order whether they reached their slot by
// cascading from above, were filed directly lower down later, became due by an overdue
// insert, or were reset.
TEST(TimerWheel, equal_deadlines_fire_in_insertion_order) {
  auto ts = make_timers(8);
  TimerWheel w;
  const std::uint64_t d = 5000;  // level 2 from 0 (5000 = 4096 + 14 * 64 + 8)
  w.insert(ts[0], d);
  w.insert(ts[1], d);
  w.insert(ts[5], 1);  // reset below: goes after 2 and 3
  EXPECT_EQ(w.poll(4096), &ts[5]);
  EXPECT_EQ(w.poll(4096), nullptr);  // 0 and 1 cascade to level 1
  w.insert(ts[2], d);                // directly at level 1
  EXPECT_EQ(w.poll(d - 8), nullptr);  // all three cascade to level 0
  w.insert(ts[3], d);                // directly at level 0
  w.insert(ts[5], d);                // a fired entry again
  w.insert(ts[4], d + 10);
  w.insert(ts[4], d);  // a reset to the same tick: now after 5
  EXPECT_EQ(drain(w, d - 1), std::vector<int>{});
  EXPECT_EQ(w.poll(d), &ts[0]);  // the rest stay due
  w.insert(ts[6], 3);             // overdue: deadline d, after the due ones
  w.insert(ts[7], d + 1);
  EXPECT_EQ(drain(w, d + 1), (std::vector<int>{1, 2, 3, 5, 4, 6, 7}));
}

TEST(TimerWheel, reinserts_fired_cancelled_and_registered_entries) {
  Timer t, u;
  TimerWheel w;
  w.insert(t, 100);
  EXPECT_EQ(w.poll(100), &t);
  EXPECT_EQ(t.state(), TimerState::Fired);
  EXPECT_EQ(w.cancel(t), CancelOutcome::NotRegistered);  // already fired
  w.insert(t, 300);
  EXPECT_EQ(t.state(), TimerState::Registered);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.poll(299), nullptr);
  EXPECT_EQ(w.poll(300), &t);
  EXPECT_EQ(w.cancel(t), CancelOutcome::NotRegistered);
  w.insert(t, 400);
  EXPECT_EQ(w.cancel(t), CancelOutcome::Cancelled);
  w.insert(t, 500);  // a cancelled entry again
  EXPECT_EQ(w.poll(500), &t);

  // Resets: from the top level to level 0 and back, and a due entry moved to the future.
  w.insert(u, 500 + 4 * pow64(5));
  w.insert(u, 510);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.next_expiration(), 510u);
  w.insert(u, 500 + 4 * pow64(5));
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.poll(510), nullptr);
  w.insert(u, 0);
  EXPECT_EQ(u.state(), TimerState::PendingFire);
  w.insert(u, 600);
  EXPECT_EQ(u.state(), TimerState::Registered);
  EXPECT_EQ(w.next_expiration(), 576u);  // its level-1 slot (9 * 64)
  EXPECT_EQ(w.poll(599), nullptr);
  EXPECT_EQ(w.poll(600), &u);
  EXPECT_TRUE(w.is_empty());
}

TEST(TimerWheel, take_expired_hands_out_batches) {
  auto ts = make_timers(12);
  TimerWheel w;
  for (int i = 0; i < 10; ++i) w.insert(ts[i], 50 + static_cast<std::uint64_t>(i % 3));
  std::array<TimerEntry*, 3> out{};
  std::vector<int> got;
  auto take = [&](std::uint64_t now) {
    const std::size_t n = w.take_expired(now, out);
    for (std::size_t i = 0; i < n; ++i) got.push_back(static_cast<Timer*>(out[i])->id);
    return n;
  };
  EXPECT_EQ(take(100), 3u);
  EXPECT_EQ(w.elapsed(), 50u);  // stopped at the batch's deadline; 9 is still due
  w.insert(ts[10], 60);         // between elapsed() and now: fires in this round, in order
  w.insert(ts[11], 0);          // overdue: deadline 50, after the due 9
  EXPECT_EQ(take(100), 3u);
  EXPECT_EQ(take(100), 3u);
  EXPECT_EQ(take(100), 3u);
  EXPECT_EQ(take(100), 0u);
  EXPECT_EQ(got, (std::vector<int>{0, 3, 6, 9, 11, 1, 4, 7, 2, 5, 8, 10}));
  EXPECT_EQ(w.elapsed(), 100u);
}

TEST(TimerWheel, cancel_every_kth_of_many) {
  constexpr std::size_t n = 10'000;
  for (std::size_t k : {1u, 2u, 3u, 7u}) {
    SCOPED_TRACE(k);
    auto ts = make_timers(n);
    TimerWheel w;
    std::mt19937_64 rng(k);
    std::vector<std::pair<std::uint64_t, int>> expect;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t d = rng() % (1u << (rng() % 28));  // spread over levels 0-4
      w.insert(ts[i], d);
      if (i % k != 0) expect.emplace_back(ts[i].deadline(), ts[i].id);
    }
    for (std::size_t i = 0; i < n; i += k) EXPECT_EQ(w.cancel(ts[i]), CancelOutcome::Cancelled);
    EXPECT_EQ(w.size(), expect.size());
    std::stable_sort(expect.begin(), expect.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<int> fired;
    std::uint64_t now = 0;
    while (!w.is_empty()) {
      now += rng() % 50'000;
      for (int id : drain(w, now)) {
        EXPECT_LE(ts[id].deadline(), now);
        fired.push_back(id);
      }
    }
    std::vector<int> expect_ids;
    for (const auto& [d, id] : expect) expect_ids.push_back(id);
    EXPECT_EQ(fired, expect_ids);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(ts[i].state(), i % k == 0 ? TimerState::Cancelled : TimerState::Fired);
    }
  }
}

TEST(TimerWheel, destroying_the_wheel_cancels_its_entries) {
  auto ts = make_timers(3);
  {
    TimerWheel w;
    w.insert(ts[0], 5);
    w.insert(ts[1], pow64(5) * 7);
    w.insert(ts[2], 0);  // due
  }
  for (const Timer& t : ts) EXPECT_EQ(t.state(), TimerState::Cancelled);
}

TEST(TimerWheelDeathTest, entry_destroyed_while_in_a_wheel) {
  TimerWheel w;
  EXPECT_DEATH(
      {
        Timer t;
        w.insert(t, 5);
      },
      "destroyed while still in a timer wheel");
}

// Fired is stored with release after the wheel is done with the entry: a thread that sees it
// with acquire sees what the owner wrote before the poll.
TEST(TimerWheel, fired_state_is_published_to_other_threads) {
  struct Shared : TimerEntry {
    int payload = 0;
  };
  for (int round = 0; round < 200; ++round) {
    Shared s;
    TimerWheel w;
    std::thread observer([&] {
      while (s.state() != TimerState::Fired) std::this_thread::yield();
      EXPECT_EQ(s.payload, round);
    });
    w.insert(s, 1);
    s.payload = round;
    EXPECT_EQ(w.poll(1), &s);
    observer.join();
  }
}

// ---- The random differential run, on wheels of several depths ----------------------------

// The model: a std::multimap from effective deadline to timer, which keeps equal keys in
// insertion order, so its order is exactly the order the wheel promises.
template <class W>
class Model {
 public:
  explicit Model(std::size_t n) : where_(n), expect_(n, TimerState::Idle) {}

  void insert(const W& w, const Timer& t, std::uint64_t d) {
    erase(t);
    const std::uint64_t eff = std::clamp(d, w.elapsed(), w.elapsed() + W::max_duration);
    where_[idx(t)] = map_.emplace(eff, t.id);
  }
  bool cancel(const Timer& t) {
    if (!erase(t)) return false;
    expect_[idx(t)] = TimerState::Cancelled;
    return true;
  }
  /// The first `max` timers due at `now`, taken out.
  std::vector<int> take_due(std::uint64_t now, std::size_t max) {
    std::vector<int> ids;
    while (ids.size() < max && !map_.empty() && map_.begin()->first <= now) {
      const int id = map_.begin()->second;
      where_[static_cast<std::size_t>(id)].reset();
      expect_[static_cast<std::size_t>(id)] = TimerState::Fired;
      map_.erase(map_.begin());
      ids.push_back(id);
    }
    return ids;
  }
  [[nodiscard]] std::size_t size() const { return map_.size(); }

  /// What next_expiration must be: elapsed() if anything is due, else the earliest first
  /// tick of the slot of any entry (its deadline with the digits below its level cleared,
  /// its level the highest digit where it differs from elapsed()).
  [[nodiscard]] std::optional<std::uint64_t> next_expiration(std::uint64_t elapsed) const {
    if (map_.empty()) return std::nullopt;
    if (map_.begin()->first <= elapsed) return elapsed;
    std::uint64_t best = u64_max;
    for (const auto& [d, id] : map_) {
      unsigned level = 0;
      for (unsigned l = W::levels; l-- > 0;) {
        if ((d >> (6 * l)) != (elapsed >> (6 * l))) {
          level = l;
          break;
        }
      }
      best = std::min(best, d & ~(pow64(level) - 1));
    }
    return best;
  }

  /// Every timer's state as the model expects it.
  void check_states(const W& w, const std::vector<Timer>& ts) const {
    for (const Timer& t : ts) {
      TimerState expect = expect_[idx(t)];
      if (const auto& it = where_[idx(t)])
        expect = (*it)->first <= w.elapsed() ? TimerState::PendingFire : TimerState::Registered;
      ASSERT_EQ(t.state(), expect) << "timer " << t.id;
      if (const auto& it = where_[idx(t)]) { ASSERT_EQ(t.deadline(), (*it)->first) << "timer " << t.id; }
    }
  }

 private:
  using Map = std::multimap<std::uint64_t, int>;
  static std::size_t idx(const Timer& t) { return static_cast<std::size_t>(t.id); }
  bool erase(const Timer& t) {
    auto& it = where_[idx(t)];
    if (!it) return false;
    map_.erase(*it);
    it.reset();
    return true;
  }
  Map map_;
  std::vector<std::optional<Map::iterator>> where_;
  std::vector<TimerState> expect_;
};

template <class W>
void random_run(std::uint64_t seed, int steps) {
  constexpr std::size_t n = 300;
  auto ts = make_timers(n);  // before the wheel: a failed ASSERT leaves entries in it
  W w;
  Model<W> m(n);
  std::mt19937_64 rng(seed);
  auto below = [&](std::uint64_t bound) { return bound == 0 ? 0 : rng() % bound; };
  // A distance on a log scale: up to 64^k for a random k in [0, levels].
  auto distance = [&] { return below(pow64(static_cast<unsigned>(below(W::levels + 1))) + 1); };

  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE(testing::Message() << "seed " << seed << " step " << step << " elapsed " << w.elapsed());
    const std::uint64_t op = below(100);
    Timer& t = ts[below(n)];
    if (op < 40) {  // insert or reset
      std::uint64_t d;
      const std::uint64_t kind = below(20);
      if (kind == 0) d = w.elapsed() - below(w.elapsed() + 1);            // past
      else if (kind == 1) d = w.elapsed() + W::max_duration + distance();  // beyond the range
      else if (kind == 2) d = u64_max;
      else d = w.elapsed() + distance();
      m.insert(w, t, d);
      w.insert(t, d);
    } else if (op < 55) {  // cancel
      const bool was_in = m.cancel(t);
      ASSERT_EQ(w.cancel(t), was_in ? CancelOutcome::Cancelled : CancelOutcome::NotRegistered);
    } else {  // poll, fully or one batch
      std::uint64_t now;
      const std::optional<std::uint64_t> next = w.next_expiration();
      const std::uint64_t kind = below(20);
      if (next && kind < 6) now = *next;
      else if (next && kind < 8) now = *next - 1;
      else if (kind < 10) now = w.elapsed();
      else if (kind < 11) now = w.elapsed() - below(w.elapsed() + 1);  // clock went back
      else now = w.elapsed() + distance();
      const std::uint64_t before = w.elapsed();
      const std::uint64_t due_at = std::max(before, now);  // a `now` in the past fires what is due
      if (below(4) == 0) {
        std::array<TimerEntry*, 4> buf{};
        const std::size_t max = 1 + below(buf.size());
        const std::size_t got = w.take_expired(now, std::span(buf.data(), max));
        std::vector<int> ids;
        for (std::size_t i = 0; i < got; ++i) ids.push_back(static_cast<Timer*>(buf[i])->id);
        ASSERT_EQ(ids, m.take_due(due_at, max));
        if (got < max) { ASSERT_EQ(w.elapsed(), due_at); }
      } else {
        ASSERT_EQ(drain(w, now), m.take_due(due_at, n));
        ASSERT_EQ(w.elapsed(), due_at);
      }
    }
    ASSERT_EQ(w.size(), m.size());
    const std::optional<std::uint64_t> next = w.next_expiration();
    ASSERT_EQ(next, m.next_expiration(w.elapsed()));
    if (next) {
      for (const Timer& x : ts) {
        if (x.state() == TimerState::Registered) { ASSERT_LT(w.elapsed(), x.deadline()); }
        if (x.state() == TimerState::Registered || x.state() == TimerState::PendingFire) {
          ASSERT_LE(*next, x.deadline());
        }
      }
    }
    m.check_states(w, ts);
  }
  // Drain the rest and end empty.
  while (std::optional<std::uint64_t> next = w.next_expiration()) ASSERT_EQ(drain(w, *next), m.take_due(*next, n));
  EXPECT_TRUE(w.is_empty());
  EXPECT_EQ(m.size(), 0u);
}

template <class W>
class TimerWheelRandom : public testing::Test {};
using Depths = testing::Types<BasicTimerWheel<1>, BasicTimerWheel<2>, BasicTimerWheel<3>, BasicTimerWheel<6>>;
TYPED_TEST_SUITE(TimerWheelRandom, Depths);

TYPED_TEST(TimerWheelRandom, matches_a_multimap_model) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) random_run<TypeParam>(seed, 20'000);
}

}  // namespace
