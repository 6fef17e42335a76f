// One typed suite for both StreamMaps (the Vec-scan baseline and the ready-set map), plus a
// randomized differential test of the two against a model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "weft/ready_stream_map.hpp"
#include "weft/stream.hpp"
#include "weft/sync.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/vec_stream_map.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;
using Rx = weft::mpsc::Receiver<int>;
using Tx = weft::mpsc::UnboundedSender<int>;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class Map>
class StreamMapTest : public ::testing::Test {};

template <template <class, class> class M>
struct Maker {
  template <class K, class S>
  using map = M<K, S>;
};
template <class K, class S>
using Vec = weft::VecStreamMap<K, S>;
template <class K, class S>
using Ready = weft::ReadyStreamMap<K, S>;

using Kinds = ::testing::Types<Maker<Vec>, Maker<Ready>>;
struct KindNames {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, Maker<Vec>> ? "vec_scan" : "ready_set";
  }
};
TYPED_TEST_SUITE(StreamMapTest, Kinds, KindNames);

template <class M>
using IntMap = typename M::template map<std::string, Rx>;

TYPED_TEST(StreamMapTest, empty_map_ends_at_once) {
  MockTask t(IntMap<TypeParam>{});
  auto p = t.poll_next();
  ASSERT_TRUE(p.is_ready());
  EXPECT_FALSE(p->has_value());
}

TYPED_TEST(StreamMapTest, single_entry_lifecycle) {
  auto [tx0, rx] = weft::mpsc::unbounded_channel<int>();
  std::optional<Tx> tx(std::move(tx0));
  IntMap<TypeParam> map;
  EXPECT_FALSE(map.insert("a", std::move(rx)).has_value());
  MockTask t(std::move(map));
  EXPECT_TRUE(t.poll_next().is_pending());
  EXPECT_TRUE(tx->send(1).is_ok());
  EXPECT_TRUE(t.is_woken());
  auto p = t.poll_next();
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(**p, (std::pair<std::string, int>("a", 1)));
  EXPECT_TRUE(t.poll_next().is_pending());
  tx.reset();
  EXPECT_TRUE(t.is_woken());
  auto end = t.poll_next();
  ASSERT_TRUE(end.is_ready());
  EXPECT_FALSE(end->has_value());
  EXPECT_TRUE(t.get().empty()) << "a finished stream is removed";
}

TYPED_TEST(StreamMapTest, multiple_entries_each_item_once) {
  IntMap<TypeParam> map;
  std::vector<Tx> txs;
  for (int i = 0; i < 5; ++i) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
    map.insert(std::to_string(i), std::move(rx));
    EXPECT_TRUE(tx.send(i * 10).is_ok());
    txs.push_back(std::move(tx));
  }
  MockTask t(std::move(map));
  std::multiset<std::pair<std::string, int>> got;
  for (;;) {
    auto p = t.poll_next();
    if (p.is_pending()) {
      if (t.is_woken()) continue;
      break;
    }
    ASSERT_TRUE(p->has_value());
    got.insert(**p);
  }
  EXPECT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(got.count({std::to_string(i), i * 10}), 1u);
}

TYPED_TEST(StreamMapTest, insert_then_remove_before_any_item) {
  IntMap<TypeParam> map;
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  map.insert("a", std::move(rx));
  EXPECT_TRUE(map.contains_key("a"));
  auto removed = map.remove(std::string("a"));
  ASSERT_TRUE(removed.has_value());
  EXPECT_FALSE(map.contains_key("a"));
  EXPECT_FALSE(map.remove(std::string("a")).has_value()) << "removing a missing key returns nothing";
  EXPECT_TRUE(tx.send(1).is_ok()) << "the removed receiver is alive, outside the map";
  MockTask t(std::move(map));
  EXPECT_FALSE(t.poll_next()->has_value());
  EXPECT_EQ(removed->try_recv(), std::optional<int>(1));
}

TYPED_TEST(StreamMapTest, replace_under_same_key_never_yields_old_items) {
  IntMap<TypeParam> map;
  auto [tx1, rx1] = weft::mpsc::unbounded_channel<int>();
  auto [tx2, rx2] = weft::mpsc::unbounded_channel<int>();
  map.insert("k", std::move(rx1));
  MockTask t(std::move(map));
  EXPECT_TRUE(t.poll_next().is_pending());  // registers rx1's waker
  auto old = t.get().insert("k", std::move(rx2));
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(tx1.send(111).is_ok());  // wakes the old entry: must not surface
  EXPECT_TRUE(tx2.send(2).is_ok());
  std::vector<std::pair<std::string, int>> got;
  for (int i = 0; i < 4; ++i) {
    auto p = t.poll_next();
    if (p.is_ready() && p->has_value()) got.push_back(**p);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (std::pair<std::string, int>("k", 2)));
  EXPECT_EQ(old->try_recv(), std::optional<int>(111));
}

TYPED_TEST(StreamMapTest, size_hint_with_and_without_upper_bounds) {
  using IterMap = typename TypeParam::template map<int, weft::stream::Iter<std::vector<int>>>;
  IterMap m;
  m.insert(1, weft::stream::iter(std::vector<int>{1, 2}));
  m.insert(2, weft::stream::iter(std::vector<int>{3}));
  EXPECT_EQ(m.size_hint(), (weft::SizeHint{3, 3}));
  IntMap<TypeParam> c;
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  c.insert("x", std::move(rx));
  EXPECT_EQ(c.size_hint(), (weft::SizeHint{0, std::nullopt}));
}

TYPED_TEST(StreamMapTest, capacity_keys_values_clear) {
  using IterMap = typename TypeParam::template map<int, weft::stream::Iter<std::vector<int>>>;
  auto m = IterMap::with_capacity(16);
  EXPECT_GE(m.capacity(), 16u);
  for (int i = 0; i < 4; ++i) m.insert(i, weft::stream::iter(std::vector<int>{i}));
  std::set<int> keys;
  for (const int& k : m.keys()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<int>{0, 1, 2, 3}));
  std::size_t n = 0;
  for (const auto& s : m.values()) n += weft::size_hint(s).first;
  EXPECT_EQ(n, 4u);
  for (auto& s : m.values_mut()) s = weft::stream::iter(std::vector<int>{7, 7});
  EXPECT_EQ(m.size_hint(), (weft::SizeHint{8, 8}));
  int pairs = 0;
  for (auto [k, s] : m.iter()) pairs += (k >= 0);
  EXPECT_EQ(pairs, 4);
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
}

TYPED_TEST(StreamMapTest, construct_from_and_extend_with_pairs) {
  using IterMap = typename TypeParam::template map<int, weft::stream::Iter<std::vector<int>>>;
  std::vector<std::pair<int, weft::stream::Iter<std::vector<int>>>> v;
  v.emplace_back(1, weft::stream::iter(std::vector<int>{10}));
  IterMap m(std::move(v));
  std::vector<std::pair<int, weft::stream::Iter<std::vector<int>>>> more;
  more.emplace_back(2, weft::stream::iter(std::vector<int>{20}));
  m.extend(std::move(more));
  EXPECT_EQ(m.size(), 2u);
  MockTask t(std::move(m));
  std::set<std::pair<int, int>> got;
  for (;;) {
    auto p = t.poll_next();
    if (p.is_pending() || !p->has_value()) break;
    got.insert(**p);
  }
  EXPECT_EQ(got, (std::set<std::pair<int, int>>{{1, 10}, {2, 20}}));
}

TYPED_TEST(StreamMapTest, stream_notify_close_reports_each_end) {
  using N = weft::StreamNotifyClose<weft::stream::Iter<std::vector<int>>>;
  using NMap = typename TypeParam::template map<int, N>;
  NMap m;
  m.insert(0, N(weft::stream::iter(std::vector<int>{0, 1})));
  m.insert(1, N(weft::stream::iter(std::vector<int>{0, 1})));
  MockTask t(std::move(m));
  int items = 0, closes = 0;
  for (;;) {
    auto p = t.poll_next();
    if (p.is_pending()) continue;  // only a budget yield can pend here
    if (!p->has_value()) break;
    ((*p)->second ? items : closes)++;
  }
  EXPECT_EQ(items, 4);
  EXPECT_EQ(closes, 2);
}

TYPED_TEST(StreamMapTest, box_streams_of_mixed_types) {
  using BMap = typename TypeParam::template map<std::string, weft::BoxStream<int>>;
  BMap m;
  m.insert("iter", weft::BoxStream<int>(weft::stream::iter(std::vector<int>{1})));
  m.insert("mapped", weft::BoxStream<int>(weft::stream::once(2) | weft::stream::map([](int x) { return x * 5; })));
  MockTask t(std::move(m));
  std::set<std::pair<std::string, int>> got;
  for (;;) {
    auto p = t.poll_next();
    if (p.is_pending()) continue;
    if (!p->has_value()) break;
    got.insert(**p);
  }
  EXPECT_EQ(got, (std::set<std::pair<std::string, int>>{{"iter", 1}, {"mapped", 10}}));
}

// Counts its polls; never ready unless told.
struct Probe {
  std::shared_ptr<int> polls = std::make_shared<int>(0);
  std::shared_ptr<std::optional<int>> next = std::make_shared<std::optional<int>>();
  std::shared_ptr<bool> done = std::make_shared<bool>(false);
  std::shared_ptr<weft::Waker> waker = std::make_shared<weft::Waker>();
  weft::Poll<std::optional<int>> poll_next(weft::Context& cx) {
    ++*polls;
    if (*done) return std::optional<int>();
    if (*next) {
      auto v = **next;
      next->reset();
      return std::optional<int>(v);
    }
    *waker = cx.waker();
    return weft::pending;
  }
};

TYPED_TEST(StreamMapTest, every_pending_stream_is_polled_once_when_nothing_is_ready) {
  using PMap = typename TypeParam::template map<int, Probe>;
  PMap m;
  std::vector<Probe> probes(10);
  for (int i = 0; i < 10; ++i) m.insert(i, probes[i]);
  MockTask t(std::move(m));
  EXPECT_TRUE(t.poll_next().is_pending());
  for (auto& p : probes) EXPECT_EQ(*p.polls, 1);
}

// Outside a task the cooperative budget is unconstrained: one poll goes through every
// ready stream (no fixed cap), and a map whose streams all finished ends at once.
TYPED_TEST(StreamMapTest, unconstrained_poll_drains_many_ready_streams_and_ends) {
  using PMap = typename TypeParam::template map<int, Probe>;
  constexpr int n = 1000;
  PMap m;
  std::vector<Probe> probes(n);
  for (int i = 0; i < n; ++i) {
    *probes[i].done = i % 2 == 0;  // half finished, half pending
    m.insert(i, probes[i]);
  }
  MockTask t(std::move(m));
  EXPECT_TRUE(t.poll_next().is_pending()) << "one poll: the pending half registered";
  EXPECT_FALSE(t.is_woken()) << "no budget yield outside a task";
  EXPECT_EQ(t.get().size(), std::size_t(n / 2));
  for (int i = 1; i < n; i += 2) {
    EXPECT_EQ(*probes[i].polls, 1);
    *probes[i].done = true;
    probes[i].waker->wake_by_ref();
  }
  auto p = t.poll_next();
  ASSERT_TRUE(p.is_ready()) << "every stream finished: the map ends, it does not pend";
  EXPECT_FALSE(p->has_value());
}

// A stream that wakes itself on every poll and never yields must not keep one poll_next
// looping, even with an unconstrained budget.
struct SelfWaking {
  std::shared_ptr<int> polls = std::make_shared<int>(0);
  weft::Poll<std::optional<int>> poll_next(weft::Context& cx) {
    ++*polls;
    cx.waker().wake_by_ref();
    return weft::pending;
  }
  [[nodiscard]] weft::SizeHint size_hint() const { return {0, std::nullopt}; }
};

TYPED_TEST(StreamMapTest, self_waking_stream_does_not_keep_a_poll_looping) {
  using SMap = typename TypeParam::template map<int, SelfWaking>;
  SelfWaking a;
  SMap m;
  m.insert(1, a);
  MockTask t(std::move(m));
  for (int round = 1; round <= 3; ++round) {
    EXPECT_TRUE(t.poll_next().is_pending());
    EXPECT_LE(*a.polls, 2 * round);
  }
}

// Inside a task, every stream poll spends the task's cooperative budget: a map of many
// always-ready streams yields to the other tasks (Pending and woken) once it is spent.
// A stream with poll_next_then_wait (weft/stream/stream.hpp): items queued by the test; with
// its last item it registers the waker and says so (unless `say_waits` is off).
struct WaitingProbe {
  std::shared_ptr<int> polls = std::make_shared<int>(0);
  std::shared_ptr<std::vector<int>> items = std::make_shared<std::vector<int>>();  // front first
  std::shared_ptr<weft::Waker> waker = std::make_shared<weft::Waker>();
  bool say_waits = true;
  weft::Poll<std::optional<int>> poll_next(weft::Context& cx) {
    bool waits = false;
    return poll_next_then_wait(cx, waits);
  }
  weft::Poll<std::optional<int>> poll_next_then_wait(weft::Context& cx, bool& waits) {
    ++*polls;
    waits = false;
    if (items->empty()) {
      *waker = cx.waker();
      return weft::pending;
    }
    const int v = items->front();
    items->erase(items->begin());
    if (items->empty() && say_waits) {
      *waker = cx.waker();
      waits = true;
    }
    return std::optional<int>(v);
  }
  // Queues an item and wakes the registered waker, as a channel's send does.
  void send(int v) {
    items->push_back(v);
    std::exchange(*waker, weft::Waker()).wake();
  }
};
static_assert(weft::StreamThatWaits<WaitingProbe>);

TEST(ReadyStreamMap, a_stream_that_waits_with_its_last_item_is_polled_again_only_when_woken) {
  WaitingProbe probe;
  weft::ReadyStreamMap<int, WaitingProbe> m;
  m.insert(1, probe);
  MockTask t(std::move(m));
  EXPECT_TRUE(t.poll_next().is_pending());  // a new entry is polled once: nothing yet
  EXPECT_EQ(*probe.polls, 1);
  probe.send(10);
  EXPECT_TRUE(t.is_woken());
  auto p = t.poll_next();
  ASSERT_TRUE(p.is_ready() && p->has_value());
  EXPECT_EQ(**p, (std::pair<int, int>(1, 10)));
  EXPECT_EQ(*probe.polls, 2);
  EXPECT_TRUE(t.poll_next().is_pending());
  EXPECT_EQ(*probe.polls, 2) << "it said it waits: the map must not poll it for the Pending";
  // Two items: the first comes without `waits` (one is left), so the map polls it again
  // for the second, which comes with it; then no further poll until the next wake.
  probe.send(20);
  probe.items->push_back(30);
  EXPECT_TRUE(t.is_woken());
  std::vector<int> got;
  for (int i = 0; i < 2; ++i) {
    auto q = t.poll_next();
    ASSERT_TRUE(q.is_ready() && q->has_value());
    got.push_back((*q)->second);
  }
  EXPECT_EQ(got, (std::vector<int>{20, 30}));
  EXPECT_EQ(*probe.polls, 4);
  EXPECT_TRUE(t.poll_next().is_pending());
  EXPECT_EQ(*probe.polls, 4);
  EXPECT_FALSE(t.is_woken());
  // A wake that comes before the map's next poll is not lost.
  probe.send(40);
  auto r = t.poll_next();
  ASSERT_TRUE(r.is_ready() && r->has_value());
  EXPECT_EQ((*r)->second, 40);
}

TEST(ReadyStreamMap, a_stream_that_does_not_say_it_waits_is_polled_for_its_pending) {
  WaitingProbe probe;
  probe.say_waits = false;
  weft::ReadyStreamMap<int, WaitingProbe> m;
  probe.items->push_back(5);
  m.insert(1, probe);
  MockTask t(std::move(m));
  auto p = t.poll_next();
  ASSERT_TRUE(p.is_ready() && p->has_value());
  EXPECT_EQ((*p)->second, 5);
  EXPECT_TRUE(t.poll_next().is_pending());
  EXPECT_EQ(*probe.polls, 2) << "after an item, the map polls the stream again";
}

TEST(ReadyStreamMap, many_ready_streams_spend_the_budget_and_yield) {
  weft::ReadyStreamMap<int, weft::stream::Iter<std::vector<int>>> m;
  for (int i = 0; i < 300; ++i) m.insert(i, weft::stream::iter(std::vector<int>{}));  // each ends at once
  MockTask t(std::move(m));
  weft::coop::BudgetScope budget;  // as a worker gives a task poll
  auto p = t.poll_next();
  EXPECT_TRUE(p.is_pending()) << "300 stream polls > the budget of " << weft::coop::initial_budget;
  EXPECT_TRUE(t.is_woken()) << "a budget yield wakes the task";
  EXPECT_EQ(t.get().size(), std::size_t(300 - weft::coop::initial_budget));
}

TYPED_TEST(StreamMapTest, one_ready_among_finished_and_pending) {
  using PMap = typename TypeParam::template map<int, Probe>;
  PMap m;
  std::vector<Probe> probes(9);
  for (int i = 0; i < 9; ++i) m.insert(i, probes[i]);
  MockTask t(std::move(m));
  EXPECT_TRUE(t.poll_next().is_pending());
  for (int i = 0; i < 3; ++i) {
    *probes[i].done = true;
    probes[i].waker->wake_by_ref();
  }
  *probes[7].next = 70;
  probes[7].waker->wake_by_ref();
  std::optional<std::pair<int, int>> got;
  for (int k = 0; k < 3 && !got; ++k) {
    auto p = t.poll_next();
    if (p.is_ready() && p->has_value()) got = **p;
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, (std::pair<int, int>(7, 70)));
  // The baseline removes finished streams as its scan reaches them; one more poll (nothing
  // is ready) visits every entry.
  EXPECT_TRUE(t.poll_next().is_pending());
  EXPECT_EQ(t.get().size(), 6u) << "the three finished streams were removed";
}

TYPED_TEST(StreamMapTest, waker_outlives_entry_and_map) {
  using PMap = typename TypeParam::template map<int, Probe>;
  Probe a, b;
  {
    PMap m;
    m.insert(1, a);
    m.insert(2, b);
    MockTask t(std::move(m));
    EXPECT_TRUE(t.poll_next().is_pending());
    (void)t.get().remove(1);
    a.waker->wake_by_ref();  // the entry is gone
    t.get().clear();
    b.waker->wake_by_ref();
  }
  a.waker->wake_by_ref();  // the map is gone
  std::move(*b.waker).wake();
  SUCCEED();
}

TYPED_TEST(StreamMapTest, heterogeneous_contains_key) {
  if constexpr (std::is_same_v<TypeParam, Maker<Vec>>) {
    weft::VecStreamMap<std::string, Rx> m;
    auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
    m.insert("alpha", std::move(rx));
    EXPECT_TRUE(m.contains_key(std::string_view("alpha")));
    EXPECT_FALSE(m.contains_key(std::string_view("beta")));
  } else {
    weft::ReadyStreamMap<std::string, Rx, StringHash, std::equal_to<>> m;
    auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
    m.insert("alpha", std::move(rx));
    EXPECT_TRUE(m.contains_key(std::string_view("alpha")));
    EXPECT_FALSE(m.contains_key(std::string_view("beta")));
    EXPECT_TRUE(m.remove(std::string_view("alpha")).has_value());
  }
}

TYPED_TEST(StreamMapTest, cross_thread_senders_exact_count) {
  constexpr int streams = 32, threads = 4, per = 2000;
  IntMap<TypeParam> map;
  std::vector<Tx> txs;
  for (int i = 0; i < streams; ++i) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
    map.insert(std::to_string(i), std::move(rx));
    txs.push_back(std::move(tx));
  }
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  std::vector<std::thread> ths;
  for (int t = 0; t < threads; ++t)
    ths.emplace_back([&txs, t] {
      for (int i = 0; i < per; ++i) (void)txs[(t * per + i) % streams].send(t * per + i);
    });
  for (auto& th : ths) th.join();
  txs.clear();  // every stream ends after its items
  long count = rt.block_on([](IntMap<TypeParam> map) -> weft::Task<long> {
    long n = 0;
    std::map<std::string, int> last;
    while (auto item = co_await weft::next(map)) {
      ++n;
      EXPECT_EQ(std::to_string(item->second % streams), item->first) << "an item under the wrong key";
    }
    co_return n;
  }(std::move(map)));
  EXPECT_EQ(count, long(threads) * per);
}

// Differential: the same random operations on both maps and a model.
TYPED_TEST(StreamMapTest, next_many_batches_ready_items) {
  IntMap<TypeParam> m;
  std::vector<Tx> txs;
  for (int k = 0; k < 5; ++k) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(tx.send(k * 10 + i).is_ok());
    (void)m.insert("k" + std::to_string(k), std::move(rx));
    txs.push_back(std::move(tx));
  }
  MockTask t(std::move(m));
  std::vector<std::pair<std::string, int>> out;
  auto many = [&](std::size_t limit) { return t.enter([&](weft::Context& cx, auto& map) { return map.poll_next_many(cx, out, limit); }); };
  auto zero = many(0);
  ASSERT_TRUE(zero.is_ready());
  EXPECT_EQ(*zero, 0u) << "limit 0 appends nothing";
  auto first = many(4);
  ASSERT_TRUE(first.is_ready());
  EXPECT_EQ(*first, 4u);
  auto rest = many(100);
  ASSERT_TRUE(rest.is_ready());
  EXPECT_EQ(*rest, 11u) << "15 queued in all";
  ASSERT_EQ(out.size(), 15u);
  std::map<std::string, std::vector<int>> per_key;
  for (auto& [k, v] : out) per_key[k].push_back(v);
  for (int k = 0; k < 5; ++k)
    EXPECT_EQ(per_key["k" + std::to_string(k)], (std::vector<int>{k * 10, k * 10 + 1, k * 10 + 2})) << "in order per key";
  EXPECT_TRUE(many(8).is_pending()) << "nothing ready";
  EXPECT_TRUE(txs[2].send(99).is_ok());
  EXPECT_TRUE(t.is_woken());
  auto one = many(8);
  ASSERT_TRUE(one.is_ready());
  EXPECT_EQ(*one, 1u);
  EXPECT_EQ(out.back(), (std::pair<std::string, int>("k2", 99)));
  txs.clear();
  auto end = many(8);
  ASSERT_TRUE(end.is_ready());
  EXPECT_EQ(*end, 0u) << "every stream finished: the map is empty";
  EXPECT_TRUE(t.get().empty());
}

TYPED_TEST(StreamMapTest, next_many_future_in_a_task) {
  weft::Runtime rt;
  auto [tx0, rx] = weft::mpsc::unbounded_channel<int>();
  auto tx = std::move(tx0);
  std::thread sender([&tx] {
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(tx.send(i).is_ok());
    auto d = std::move(tx);
  });
  long sum = rt.block_on([](Rx rx) -> weft::Task<long> {
    IntMap<TypeParam> m;
    (void)m.insert("only", std::move(rx));
    std::vector<std::pair<std::string, int>> batch;
    long s = 0;
    while (co_await m.next_many(batch, 64) > 0) {
      EXPECT_LE(batch.size(), 64u);
      for (auto& [k, v] : batch) s += v;
      batch.clear();
    }
    co_return s;
  }(std::move(rx)));
  sender.join();
  EXPECT_EQ(sum, 999L * 1000 / 2);
}

// 150 streams, each an mpsc receiver that is pending (nothing queued), ready (items queued)
// or finished (its sender dropped), mixed at random; the map under test and a VecStreamMap
// reference see the same operations. After every single poll both agree on the outcome
// (an item, Pending, or the end; for a batch, the count); whenever both are pending or
// ended, they delivered exactly the same (key, item) pairs; per key, items come in order.
TYPED_TEST(StreamMapTest, many_mixed_streams_match_the_vec_reference_after_every_poll) {
  constexpr int keys = 150;
  for (int seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    MockTask tm{typename TypeParam::template map<int, Rx>{}};
    MockTask tv{weft::VecStreamMap<int, Rx>{}};
    std::map<int, std::pair<Tx, Tx>> senders;
    std::multiset<std::pair<int, int>> got_m, got_v;
    std::map<int, int> last_m, last_v;  // per key: the last value seen
    int next_value = 0;
    auto add = [&](int key) {
      auto [txm, rxm] = weft::mpsc::unbounded_channel<int>();
      auto [txv, rxv] = weft::mpsc::unbounded_channel<int>();
      bool had_m = tm.get().insert(key, std::move(rxm)).has_value();
      bool had_v = tv.get().insert(key, std::move(rxv)).has_value();
      ASSERT_EQ(had_m, had_v);
      senders.insert_or_assign(key, std::pair<Tx, Tx>(std::move(txm), std::move(txv)));
      last_m.erase(key);
      last_v.erase(key);
    };
    auto record = [](auto& got, auto& last, std::pair<int, int> kv) {
      auto it = last.find(kv.first);
      if (it != last.end()) {
        EXPECT_GT(kv.second, it->second) << "in order per key";
      }
      last[kv.first] = kv.second;
      got.insert(kv);
    };
    for (int k = 0; k < keys; ++k) add(k);
    // Initially: a third ready, a third finished (some with items left), a third pending.
    for (int k = 0; k < keys; ++k) {
      if (k % 3 == 0 || k % 6 == 1) {
        for (int i = 0, n = 1 + k % 4; i < n; ++i) {
          int v = next_value++;
          EXPECT_TRUE(senders.at(k).first.send(v).is_ok());
          EXPECT_TRUE(senders.at(k).second.send(v).is_ok());
        }
      }
      if (k % 3 == 1) senders.erase(k);
    }
    // Quiet: both maps' last poll found nothing more ready (Pending, the end, or a short
    // batch), so both delivered everything and dropped every finished stream they were told
    // of. Replacing or removing a stream is only compared at such points: in between, the
    // two maps may have drained different streams, and a dropped stream takes its unread
    // items with it.
    bool quiet = true;
    int polls = 0;
    for (int step = 0; step < 1500; ++step) {
      int key = static_cast<int>(rng() % keys);
      switch (rng() % 8) {
        case 0:
          if (quiet) add(key);
          break;
        case 1: {
          if (!quiet) break;
          bool rm = tm.get().remove(key).has_value();
          bool rv = tv.get().remove(key).has_value();
          EXPECT_EQ(rm, rv);
          senders.erase(key);
          break;
        }
        case 2:
        case 3: {
          auto it = senders.find(key);
          if (it == senders.end()) break;
          for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i) {
            int v = next_value++;
            EXPECT_TRUE(it->second.first.send(v).is_ok());
            EXPECT_TRUE(it->second.second.send(v).is_ok());
          }
          break;
        }
        case 4:
          senders.erase(key);  // finishes after its queued items
          break;
        default: {  // one poll of each: poll_next, or a batch
          ++polls;
          if (rng() % 2 == 0) {
            auto pm = tm.poll_next();
            auto pv = tv.poll_next();
            ASSERT_EQ(pm.is_ready(), pv.is_ready()) << "seed " << seed << " step " << step;
            if (pm.is_ready()) {
              ASSERT_EQ(pm->has_value(), pv->has_value()) << "both end, or both yield";
              if (pm->has_value()) {
                record(got_m, last_m, **pm);
                record(got_v, last_v, **pv);
                quiet = false;
                break;
              }
            }
          } else {
            std::size_t limit = rng() % 20;
            std::vector<std::pair<int, Rx::Item>> bm, bv;
            auto pm = tm.enter([&](weft::Context& cx, auto& m) { return m.poll_next_many(cx, bm, limit); });
            auto pv = tv.enter([&](weft::Context& cx, auto& m) { return m.poll_next_many(cx, bv, limit); });
            ASSERT_EQ(pm.is_ready(), pv.is_ready()) << "seed " << seed << " step " << step;
            if (pm.is_ready()) {
              ASSERT_EQ(*pm, *pv) << "same batch size";
            }
            for (auto& kv : bm) record(got_m, last_m, kv);
            for (auto& kv : bv) record(got_v, last_v, kv);
            if (limit == 0) {
              EXPECT_TRUE(pm.is_ready() && *pm == 0 && bm.empty()) << "limit 0 polls nothing";
              break;
            }
            if (pm.is_ready() && *pm == limit) {  // maybe more ready
              quiet = false;
              break;
            }
          }
          // Pending, ended or a short batch: everything ready was delivered by both.
          ASSERT_EQ(got_m, got_v) << "seed " << seed << " step " << step;
          quiet = true;
          break;
        }
      }
    }
    senders.clear();
    for (int guard = 0; guard < 100000; ++guard) {
      auto pm = tm.poll_next();
      auto pv = tv.poll_next();
      ASSERT_EQ(pm.is_ready(), pv.is_ready());
      ASSERT_TRUE(pm.is_ready()) << "every sender is gone: something is always ready";
      ASSERT_EQ(pm->has_value(), pv->has_value());
      if (!pm->has_value()) break;
      record(got_m, last_m, **pm);
      record(got_v, last_v, **pv);
    }
    EXPECT_EQ(got_m, got_v) << "seed " << seed;
    EXPECT_TRUE(tm.get().empty());
    EXPECT_GT(polls, 500);
  }
}

TEST(StreamMapDifferential, random_ops_same_items_and_end) {
  for (int seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    weft::VecStreamMap<int, Rx> vm;
    weft::ReadyStreamMap<int, Rx> rm;
    MockTask tv(std::move(vm));
    MockTask tr(std::move(rm));
    std::map<int, std::pair<Tx, Tx>> senders;  // key -> (sender into vec map, into ready map)
    std::multiset<std::pair<int, int>> got_v, got_r;
    int next_value = 0;
    auto drain = [](auto& t, auto& got) -> bool {  // returns true at end-of-stream
      for (int guard = 0; guard < 100000; ++guard) {
        auto p = t.poll_next();
        if (p.is_pending()) {
          if (t.is_woken()) continue;  // a budget yield
          return false;
        }
        if (!p->has_value()) return true;
        got.insert(**p);
      }
      ADD_FAILURE() << "no quiescence";
      return false;
    };
    for (int step = 0; step < 400; ++step) {
      int key = static_cast<int>(rng() % 12);
      switch (rng() % 6) {
        case 0: {  // insert (or replace) a fresh stream
          auto [txv, rxv] = weft::mpsc::unbounded_channel<int>();
          auto [txr, rxr] = weft::mpsc::unbounded_channel<int>();
          bool had_v = tv.get().insert(key, std::move(rxv)).has_value();
          bool had_r = tr.get().insert(key, std::move(rxr)).has_value();
          EXPECT_EQ(had_v, had_r);
          senders.insert_or_assign(key, std::pair<Tx, Tx>(std::move(txv), std::move(txr)));
          break;
        }
        case 1: {  // remove
          bool rv = tv.get().remove(key).has_value();
          bool rr = tr.get().remove(key).has_value();
          EXPECT_EQ(rv, rr);
          senders.erase(key);
          break;
        }
        case 2:
        case 3: {  // send
          auto it = senders.find(key);
          if (it == senders.end()) break;
          int v = next_value++;
          (void)it->second.first.send(v);
          (void)it->second.second.send(v);
          break;
        }
        case 4:  // close: the stream ends after its queued items
          senders.erase(key);
          break;
        case 5: {  // poll both to quiescence
          bool end_v = drain(tv, got_v);
          bool end_r = drain(tr, got_r);
          EXPECT_EQ(end_v, end_r);
          EXPECT_EQ(got_v, got_r) << "seed " << seed << " step " << step;
          EXPECT_EQ(tv.get().size(), tr.get().size());
          break;
        }
      }
    }
    senders.clear();
    EXPECT_TRUE(drain(tv, got_v));
    EXPECT_TRUE(drain(tr, got_r));
    EXPECT_EQ(got_v, got_r) << "seed " << seed;
  }
}
TYPED_TEST(StreamMapTest, self_charging_streams_cost_one_unit_per_item) {
  IntMap<TypeParam> m;
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(tx.send(i).is_ok());
  (void)m.insert("a", std::move(rx));
  MockTask t(std::move(m));
  weft::coop::BudgetScope budget(10);
  int items = 0;
  while (t.poll_next().is_ready()) ++items;
  EXPECT_EQ(items, 10) << "the receiver's own unit is the item's only charge";
}
// A stream driven by the test: items, an end, and a throw on demand.
struct Scripted {
  struct State {
    std::vector<int> items;
    bool closed = false;
    bool throw_next = false;
    weft::Waker waker;
    void wake() { std::exchange(waker, weft::Waker()).wake(); }
  };
  using Item = int;
  std::shared_ptr<State> st = std::make_shared<State>();
  weft::Poll<std::optional<int>> poll_next(weft::Context& cx) {
    if (st->throw_next) {
      st->throw_next = false;
      throw std::runtime_error("stream failed");
    }
    if (!st->items.empty()) {
      int v = st->items.front();
      st->items.erase(st->items.begin());
      return std::optional<int>(v);
    }
    if (st->closed) return std::optional<int>();
    st->waker = cx.waker();
    return weft::pending;
  }
};

// A map of n Scripted streams under keys 0..n-1; their states go to `st`, in key order.
template <class Map>
Map scripted_map(int n, std::vector<std::shared_ptr<Scripted::State>>& st) {
  Map m;
  for (int k = 0; k < n; ++k) {
    Scripted sc;
    st.push_back(sc.st);
    (void)m.insert(k, std::move(sc));
  }
  return m;
}

// A stream that throws stays in the map and is polled again, as VecStreamMap does: its
// later items arrive and the map still ends. (ReadyStreamMap used to drop it from its run
// list: its items never came, the map never ended, and the entry leaked.)
TYPED_TEST(StreamMapTest, a_throwing_stream_is_polled_again_and_nothing_leaks) {
  std::vector<std::shared_ptr<Scripted::State>> st;
  MockTask t(scripted_map<typename TypeParam::template map<int, Scripted>>(3, st));
  EXPECT_TRUE(t.poll_next().is_pending());
  st[1]->throw_next = true;
  st[1]->items = {10, 11};
  st[1]->wake();
  EXPECT_THROW((void)t.poll_next(), std::runtime_error);
  std::vector<int> got;
  for (int i = 0; i < 5; ++i) {
    auto p = t.poll_next();
    if (p.is_pending()) break;
    ASSERT_TRUE(p->has_value());
    got.push_back((*p)->second);
  }
  EXPECT_EQ(got, (std::vector<int>{10, 11})) << "the stream's items after the throw are delivered";
  for (auto& x : st) {
    x->closed = true;
    x->wake();
  }
  auto end = t.poll_next();
  ASSERT_TRUE(end.is_ready());
  EXPECT_FALSE(end->has_value()) << "every stream ended: so does the map";
}

// poll_next_many's own step (ReadyStreamMap builds items in place in the batch): a batch
// keeps what it appended before a stream throws, and that stream's items come in the next.
TYPED_TEST(StreamMapTest, a_batch_survives_a_throwing_stream) {
  std::vector<std::shared_ptr<Scripted::State>> st;
  MockTask t(scripted_map<typename TypeParam::template map<int, Scripted>>(2, st));
  std::vector<std::pair<int, int>> out;
  auto many = [&](std::size_t limit) { return t.enter([&](weft::Context& cx, auto& map) { return map.poll_next_many(cx, out, limit); }); };
  EXPECT_TRUE(many(8).is_pending());
  st[0]->items = {100};
  st[0]->wake();
  st[1]->items = {200, 201};
  st[1]->throw_next = true;
  st[1]->wake();
  EXPECT_THROW((void)many(100), std::runtime_error);
  auto after = many(100);
  ASSERT_TRUE(after.is_ready());
  std::multiset<std::pair<int, int>> got(out.begin(), out.end());
  EXPECT_EQ(got, (std::multiset<std::pair<int, int>>{{0, 100}, {1, 200}, {1, 201}}))
      << "what was appended before the throw stays; the thrower's items come next";
  for (auto& x : st) {
    x->closed = true;
    x->wake();
  }
  auto end = many(100);
  ASSERT_TRUE(end.is_ready());
  EXPECT_EQ(*end, 0u) << "every stream ended: so does the map";
  EXPECT_TRUE(t.get().empty());
}

// ReadyStreamMap spends one unit per stream poll (VecStreamMap, as tokio-stream's map, does
// not take part in the budget): a batch ends when the budget is spent, with what it has.
TEST(ReadyStreamMap, a_batch_ends_when_the_budget_is_spent) {
  weft::ReadyStreamMap<int, Scripted> m;
  Scripted sc;
  auto st = sc.st;
  (void)m.insert(0, std::move(sc));
  MockTask t(std::move(m));
  std::vector<std::pair<int, int>> out;
  auto many = [&](std::size_t limit) { return t.enter([&](weft::Context& cx, auto& map) { return map.poll_next_many(cx, out, limit); }); };
  EXPECT_TRUE(many(8).is_pending());
  for (int i = 0; i < 20; ++i) st->items.push_back(i);
  st->wake();
  {
    weft::coop::BudgetScope budget(5);
    auto p = many(100);
    ASSERT_TRUE(p.is_ready());
    EXPECT_EQ(*p, 5u) << "one unit per stream poll";
    EXPECT_TRUE(t.is_woken()) << "the budget yield wakes the task";
  }
  auto rest = many(100);
  ASSERT_TRUE(rest.is_ready());
  EXPECT_EQ(*rest, 15u);
  ASSERT_EQ(out.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(out[std::size_t(i)], (std::pair<int, int>(0, i))) << "in order";
}

TYPED_TEST(StreamMapTest, a_generator_that_throws_ends_after_its_exception) {
  using G = weft::stream::Generator<int>;
  typename TypeParam::template map<int, G> m;
  (void)m.insert(1, []() -> G {
    co_yield 1;
    throw std::runtime_error("generator failed");
  }());
  (void)m.insert(2, []() -> G {
    co_yield 2;
    co_yield 3;
  }());
  MockTask t(std::move(m));
  std::multiset<int> got;
  int throws = 0;
  for (int i = 0; i < 20; ++i) {
    try {
      auto p = t.poll_next();
      ASSERT_TRUE(p.is_ready());
      if (!p->has_value()) break;
      got.insert((*p)->second);
    } catch (const std::runtime_error&) {
      ++throws;
    }
  }
  EXPECT_EQ(throws, 1);
  EXPECT_EQ(got, (std::multiset<int>{1, 2, 3}));
  EXPECT_TRUE(t.get().empty()) << "the thrown-out generator ended and was removed";
}
// A stream whose move constructor throws once its budget of moves is spent (always ready,
// yielding its id). `moves` is shared by the stream and everything moved from it.
struct MoveThrows {
  using Item = int;
  std::shared_ptr<int> moves = std::make_shared<int>(1'000);
  int id = 0;
  explicit MoveThrows(int i) : id(i) {}
  MoveThrows(MoveThrows&& o) : moves(o.moves), id(o.id) {
    if ((*moves)-- <= 0) throw std::runtime_error("move failed");
  }
  MoveThrows& operator=(MoveThrows&&) = delete;
  weft::Poll<std::optional<int>> poll_next(weft::Context&) { return std::optional<int>(id); }
};

// insert moves the stream into a new entry before it changes anything: a throwing move,
// of the new stream (new key or replaced key) or of the stream being replaced, leaves the
// map as it was.
TEST(ReadyStreamMap, a_stream_whose_move_throws_leaves_the_map_unchanged) {
  weft::ReadyStreamMap<int, MoveThrows> m;
  MoveThrows first(1);
  auto first_moves = first.moves;
  (void)m.insert(1, std::move(first));
  MoveThrows bad(7);
  *bad.moves = 1;  // the argument is built; the move into the entry throws
  EXPECT_THROW((void)m.insert(2, std::move(bad)), std::runtime_error);
  *bad.moves = 1;
  EXPECT_THROW((void)m.insert(1, std::move(bad)), std::runtime_error);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_FALSE(m.contains_key(2));
  // The stream in the map throws when moved out: replacing it fails, the map keeps it.
  *first_moves = 0;
  MoveThrows other(8);
  EXPECT_THROW((void)m.insert(1, std::move(other)), std::runtime_error);
  EXPECT_THROW((void)m.remove(1), std::runtime_error);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_TRUE(m.contains_key(1)) << "a failed remove leaves the key indexed";
  *first_moves = 1'000;
  *bad.moves = 1'000;
  EXPECT_FALSE(m.insert(2, std::move(bad)).has_value());
  MockTask t(std::move(m));
  std::multiset<int> got;
  for (int i = 0; i < 2; ++i) {
    auto p = t.poll_next();
    ASSERT_TRUE(p.is_ready());
    ASSERT_TRUE(p->has_value());
    EXPECT_EQ((*p)->first, (*p)->second == 1 ? 1 : 2);
    got.insert((*p)->second);
  }
  EXPECT_EQ(got, (std::multiset<int>{1, 7})) << "key 1 still holds its first stream";
  EXPECT_EQ(t.get().size(), 2u);
}

// Replacing a stream keeps the key already in the map (as VecStreamMap and
// std::unordered_map do), which shows when KeyEqual calls different-looking keys equal.
TEST(ReadyStreamMap, replacing_a_stream_keeps_the_key_already_there) {
  struct NoCaseHash {
    std::size_t operator()(const std::string& s) const {
      std::string l;
      for (char c : s) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      return std::hash<std::string>{}(l);
    }
  };
  struct NoCaseEq {
    bool operator()(const std::string& a, const std::string& b) const {
      return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
             });
    }
  };
  weft::ReadyStreamMap<std::string, MoveThrows, NoCaseHash, NoCaseEq> m;
  (void)m.insert("Key", MoveThrows(1));
  auto old = m.insert("KEY", MoveThrows(2));
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->id, 1);
  std::vector<std::string> keys;
  for (const std::string& k : m.keys()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"Key"}));
  MockTask t(std::move(m));
  auto p = t.poll_next();
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->first, "Key");
  EXPECT_EQ((*p)->second, 2);
}

// An entry's key and stream live in its reference-counted node, but leave with the entry:
// clear and the end of a stream destroy them at once, on the owner's thread, even while a
// waker of the entry is still held elsewhere (a channel's sender, say).
TEST(ReadyStreamMap, a_stream_leaving_the_map_is_destroyed_while_its_waker_lives_on) {
  weft::ReadyStreamMap<int, Scripted> m;
  Scripted a, b;
  auto sa = a.st, sb = b.st;
  (void)m.insert(1, std::move(a));
  (void)m.insert(2, std::move(b));
  MockTask t(std::move(m));
  EXPECT_TRUE(t.poll_next().is_pending());
  EXPECT_EQ(sa.use_count(), 2) << "the stream in the map and the test";
  weft::Waker held = sa->waker;  // outlives the entry
  sb->closed = true;
  sb->wake();
  EXPECT_TRUE(t.poll_next().is_pending());
  EXPECT_EQ(sb.use_count(), 1) << "the finished stream was destroyed when it ended";
  t.get().clear();
  EXPECT_EQ(sa.use_count(), 1) << "clear destroyed the stream, not the last waker's drop";
  sa->wake();
  std::move(held).wake();  // a stale entry: nothing visible
  auto p = t.poll_next();
  ASSERT_TRUE(p.is_ready());
  EXPECT_FALSE(p->has_value()) << "an empty map ends";
}
}  // namespace
