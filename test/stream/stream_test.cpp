// The Stream model, sources, combinators and consumers.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "weft/stream.hpp"
#include "weft/sync.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
namespace stream = weft::stream;
using weft::testing::MockTask;

weft::RuntimeOptions current_thread() {
  weft::RuntimeOptions o;
  o.flavor = weft::Flavor::current_thread;
  return o;
}

// Polls a stream to its end with a mock waker; fails the test if it is ever pending.
template <class S>
std::vector<weft::stream_item_t<S>> drain(S s) {
  std::vector<weft::stream_item_t<S>> out;
  MockTask t(std::move(s));
  for (;;) {
    auto p = t.poll_next();
    if (p.is_pending()) {
      ADD_FAILURE() << "stream unexpectedly pending";
      return out;
    }
    auto v = std::move(p).take();
    if (!v) return out;
    out.push_back(std::move(*v));
  }
}

// A stream that counts its polls (for laziness checks).
struct Counting {
  int* polls;
  int next = 0, end = 3;
  weft::Poll<std::optional<int>> poll_next(weft::Context&) {
    ++*polls;
    if (next == end) return std::optional<int>();
    return std::optional<int>(next++);
  }
};

TEST(Stream, sources) {
  EXPECT_EQ(drain(stream::iter(std::vector<int>{1, 2, 3})), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(drain(stream::once(std::string("x"))), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(drain(stream::empty<int>()).empty());
  EXPECT_EQ(drain(stream::repeat(7) | stream::take(3)), (std::vector<int>{7, 7, 7}));
  MockTask p(stream::pending<int>());
  EXPECT_TRUE(p.poll_next().is_pending());
  EXPECT_FALSE(p.is_woken());
}

TEST(Stream, combinators_are_lazy) {
  int polls = 0;
  auto s = Counting{&polls} | stream::map([](int x) { return x * 2; }) | stream::filter([](int x) { return x > 0; }) |
           stream::take(2);
  EXPECT_EQ(polls, 0) << "building a pipeline polls nothing";
  EXPECT_EQ(drain(std::move(s)), (std::vector<int>{2, 4}));
  EXPECT_EQ(polls, 3) << "take(2) stops polling after its second item";
}

TEST(Stream, map_filter_filter_map_skip_take_while) {
  auto v = drain(stream::iter(std::vector<int>{1, 2, 3, 4, 5, 6}) | stream::skip(1) |
                 stream::filter_map([](int x) -> std::optional<std::string> {
                   if (x % 2) return std::nullopt;
                   return std::to_string(x);
                 }));
  EXPECT_EQ(v, (std::vector<std::string>{"2", "4", "6"}));
  EXPECT_EQ(drain(stream::iter(std::vector<int>{1, 2, 5, 1}) | stream::take_while([](int x) { return x < 3; })),
            (std::vector<int>{1, 2}));
}

TEST(Stream, chain_and_zip) {
  EXPECT_EQ(drain(stream::chain(stream::iter(std::vector<int>{1, 2}), stream::once(3))), (std::vector<int>{1, 2, 3}));
  auto z = drain(stream::zip(stream::iter(std::vector<int>{1, 2, 3}), stream::iter(std::vector<char>{'a', 'b'})));
  ASSERT_EQ(z.size(), 2u);
  EXPECT_EQ(z[1], (std::pair<int, char>{2, 'b'}));
}

TEST(Stream, zip_keeps_an_item_while_the_other_side_is_pending) {
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  MockTask t(stream::zip(stream::iter(std::vector<int>{10, 20}), std::move(rx)));
  EXPECT_TRUE(t.poll_next().is_pending());
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_TRUE(t.is_woken());
  auto p = t.poll_next();
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(**p, (std::pair<int, int>{10, 1}));
}

TEST(Stream, fuse_does_not_poll_after_the_end) {
  int polls = 0;
  MockTask t(stream::fuse(Counting{&polls, 0, 0}));
  EXPECT_FALSE(*t.poll_next());
  EXPECT_FALSE(*t.poll_next());
  EXPECT_EQ(polls, 1);
}

TEST(Stream, merge_is_fair_to_a_slow_side) {
  // Both sides always ready: items must alternate, neither side starves.
  auto s = stream::merge(stream::repeat(0), stream::repeat(1)) | stream::take(10);
  auto v = drain(std::move(s));
  for (std::size_t i = 1; i < v.size(); ++i) EXPECT_NE(v[i], v[i - 1]);
  auto three = drain(stream::merge(stream::iter(std::vector<int>{1}), stream::iter(std::vector<int>{2, 3}),
                                   stream::empty<int>()));
  EXPECT_EQ(std::multiset<int>(three.begin(), three.end()), (std::multiset<int>{1, 2, 3}));
}

TEST(Stream, merge_ends_when_all_inputs_end_and_pends_otherwise) {
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  MockTask t(stream::merge(stream::iter(std::vector<int>{5}), std::move(rx)));
  EXPECT_EQ(**t.poll_next(), 5);
  EXPECT_TRUE(t.poll_next().is_pending());
  { auto d = std::move(tx); }
  EXPECT_TRUE(t.is_woken());
  EXPECT_FALSE(*t.poll_next());
}

TEST(Stream, size_hints) {
  auto s = stream::iter(std::vector<int>{1, 2, 3, 4});
  EXPECT_EQ(weft::size_hint(s), (weft::SizeHint{4, 4}));
  EXPECT_EQ(weft::size_hint(stream::iter(std::vector<int>{1, 2, 3}) | stream::take(2)), (weft::SizeHint{2, 2}));
  EXPECT_EQ(weft::size_hint(stream::chain(stream::once(1), stream::iter(std::vector<int>{2, 3}))),
            (weft::SizeHint{3, 3}));
  EXPECT_EQ(weft::size_hint(stream::iter(std::vector<int>{1, 2}) | stream::filter([](int) { return true; })),
            (weft::SizeHint{0, 2}));
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  EXPECT_EQ(weft::size_hint(rx), (weft::SizeHint{0, std::nullopt}));
}

// A stream that claims (lo, hi) and yields nothing.
struct Hinted {
  using Item = int;
  weft::SizeHint h;
  weft::Poll<std::optional<int>> poll_next(weft::Context&) { return std::optional<int>(); }
  weft::SizeHint size_hint() const { return h; }
};

// Sums saturate as Rust's: a lower bound stops at SIZE_MAX; an upper bound that would
// overflow becomes "none".
TEST(Stream, size_hint_sums_saturate) {
  constexpr std::size_t M = SIZE_MAX;
  Hinted big{{M, M}}, big2{{M, M}};
  EXPECT_EQ(weft::size_hint(stream::chain(big, big2)), (weft::SizeHint{M, std::nullopt}));
  EXPECT_EQ(weft::size_hint(stream::merge(Hinted{{M, M}}, Hinted{{1, 1}})), (weft::SizeHint{M, std::nullopt}));
  EXPECT_EQ(weft::size_hint(stream::chain(Hinted{{M - 1, M - 1}}, Hinted{{1, 1}})), (weft::SizeHint{M, M}))
      << "exactly SIZE_MAX still fits";
  EXPECT_EQ(weft::size_hint(stream::chain(Hinted{{2, std::nullopt}}, Hinted{{3, 4}})), (weft::SizeHint{5, std::nullopt}));
  std::vector<Hinted> many(3, Hinted{{M / 2, M / 2}});
  EXPECT_EQ(weft::detail::sum_size_hints(many), (weft::SizeHint{M, std::nullopt}));
  EXPECT_EQ(weft::size_hint(weft::StreamNotifyClose<Hinted>(Hinted{{M, M}})), (weft::SizeHint{M, std::nullopt}))
      << "the extra end-of-stream item";
}

TEST(Stream, stream_notify_close_reports_the_end_once) {
  using N = weft::StreamNotifyClose<stream::Iter<std::vector<int>>>;
  auto v = drain(N(stream::iter(std::vector<int>{1, 2})));
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], std::optional<int>(1));
  EXPECT_EQ(v[1], std::optional<int>(2));
  EXPECT_EQ(v[2], std::optional<int>());
  EXPECT_EQ(weft::size_hint(N(stream::iter(std::vector<int>{1}))), (weft::SizeHint{2, 2}));
}

TEST(Stream, box_stream_erases_types) {
  std::vector<weft::BoxStream<int>> v;
  v.emplace_back(stream::iter(std::vector<int>{1, 2}));
  v.emplace_back(stream::once(3) | stream::map([](int x) { return x * 10; }));
  EXPECT_EQ(drain(std::move(v[0])), (std::vector<int>{1, 2}));
  EXPECT_EQ(drain(std::move(v[1])), (std::vector<int>{30}));
}

stream::Generator<int> doubled(weft::mpsc::Receiver<int> rx) {
  while (auto v = co_await rx.recv()) co_yield *v * 2;
}

TEST(Stream, generator_yields_and_awaits) {
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  MockTask g(doubled(std::move(rx)));
  EXPECT_TRUE(g.poll_next().is_pending()) << "suspended on the channel";
  EXPECT_TRUE(tx.send(4).is_ok());
  EXPECT_TRUE(g.is_woken());
  EXPECT_EQ(**g.poll_next(), 8);
  EXPECT_TRUE(g.poll_next().is_pending());
  { auto d = std::move(tx); }
  EXPECT_FALSE(*g.poll_next());
  EXPECT_FALSE(*g.poll_next());
}

stream::Generator<int> throws_after_one() {
  co_yield 1;
  throw std::runtime_error("gen");
}

TEST(Stream, generator_exception_surfaces_on_poll) {
  MockTask g(throws_after_one());
  EXPECT_EQ(**g.poll_next(), 1);
  EXPECT_THROW((void)g.poll_next(), std::runtime_error);
  EXPECT_FALSE(*g.poll_next());
}

TEST(Stream, collect_and_try_collect_short_circuit) {
  weft::Runtime rt(current_thread());
  auto v = rt.block_on([]() -> weft::Task<std::vector<int>> {
    // Named locals: g++ 12 miscompiles initializer lists inside a co_await expression.
    std::vector<int> in = {3, 1, 2};
    co_return co_await stream::collect<std::vector<int>>(stream::iter(std::move(in)));
  }());
  EXPECT_EQ(v, (std::vector<int>{3, 1, 2}));
  auto set = rt.block_on([]() -> weft::Task<std::set<int>> {
    std::vector<int> in = {3, 1, 3};
    co_return co_await stream::collect<std::set<int>>(stream::iter(std::move(in)));
  }());
  EXPECT_EQ(set, (std::set<int>{1, 3}));

  auto r = rt.block_on([]() -> weft::Task<std::variant<std::vector<int>, weft::JoinError>> {
    std::vector<weft::JoinHandle<int>> hs;
    hs.push_back(weft::spawn([]() -> weft::Task<int> { co_return 1; }()));
    hs.push_back(weft::spawn([]() -> weft::Task<int> {
      throw std::runtime_error("bad");
      co_return 0;
    }()));
    hs.push_back(weft::spawn([]() -> weft::Task<int> { co_return 3; }()));
    std::vector<weft::JoinResult<int>> rs;
    for (auto& h : hs) rs.push_back(co_await h.result());
    co_return co_await stream::try_collect<std::vector<int>>(stream::iter(std::move(rs)));
  }());
  ASSERT_EQ(r.index(), 1u);
  EXPECT_TRUE(std::get<1>(r).is_panic());
}

TEST(Stream, for_each_and_take_until_a_cancellation_token) {
  weft::Runtime rt(current_thread());
  weft::CancellationToken tok;
  auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_TRUE(tx.send(2).is_ok());
  int sum = 0;
  rt.block_on([](weft::mpsc::Receiver<int> rx, weft::CancellationToken tok, int& sum) -> weft::Task<void> {
    auto canceller = weft::spawn([](weft::CancellationToken t) -> weft::Task<void> {
      co_await weft::yield_now();
      t.cancel();
    }(tok));
    co_await stream::for_each(std::move(rx) | stream::take_until(tok.cancelled()), [&](int v) { sum += v; });
    co_await canceller;
  }(std::move(rx), tok, sum));
  EXPECT_EQ(sum, 3) << "the queued items, then the stop; the sender is still alive";
}

TEST(Stream, buffer_unordered_runs_up_to_limit_concurrently) {
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  std::atomic<int> running{0}, peak{0};
  auto out = rt.block_on([](std::atomic<int>& running, std::atomic<int>& peak) -> weft::Task<std::multiset<int>> {
    auto tasks = stream::iter(std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}) |
                 stream::map([&](int i) -> weft::Task<int> {
                   return [](int i, std::atomic<int>& running, std::atomic<int>& peak) -> weft::Task<int> {
                     int now = ++running;
                     int p = peak.load();
                     while (now > p && !peak.compare_exchange_weak(p, now)) {
                     }
                     for (int k = 0; k < i % 3 + 1; ++k) co_await weft::yield_now();
                     --running;
                     co_return i * i;
                   }(i, running, peak);
                 });
    co_return co_await stream::collect<std::multiset<int>>(stream::buffer_unordered(std::move(tasks), 3));
  }(running, peak));
  EXPECT_EQ(out, (std::multiset<int>{1, 4, 9, 16, 25, 36, 49, 64}));
  EXPECT_EQ(peak.load(), 3);
  EXPECT_THROW((void)stream::buffer_unordered(stream::empty<weft::Task<int>>(), 0), std::invalid_argument);
}

// A future that is ready (or throws) on its first poll.
struct MaybeThrow {
  int v;
  bool fail;
  weft::Poll<int> poll(weft::Context&) {
    if (fail) throw std::runtime_error("future failed");
    return v;
  }
};

// One in-flight future throws: its slot is dropped, the others go on, the stream ends.
// (Its dead slot used to stay: later polls threw again and the stream never ended.)
TEST(Stream, buffer_unordered_drops_a_future_that_throws) {
  std::vector<MaybeThrow> fs{{1, false}, {2, true}, {3, false}, {4, false}};
  MockTask t(stream::buffer_unordered(stream::iter(std::move(fs)), 2));
  std::multiset<int> got;
  int throws = 0;
  bool ended = false;
  for (int i = 0; i < 20 && !ended; ++i) {
    try {
      auto p = t.poll_next();
      if (p.is_pending()) continue;  // iter's yield
      if (!*p) ended = true;
      else got.insert(**p);
    } catch (const std::runtime_error&) {
      ++throws;
    }
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(throws, 1);
  EXPECT_EQ(got, (std::multiset<int>{1, 3, 4}));
}

TEST(Stream, for_each_concurrent_completes_all_and_propagates_exceptions) {
  weft::Runtime rt(current_thread());
  int done = 0;
  rt.block_on([](int& done) -> weft::Task<void> {
    std::vector<int> in = {1, 2, 3, 4};
    co_await stream::for_each_concurrent(stream::iter(std::move(in)), 2,
                                         [&done](int i) -> weft::Task<void> {
                                           return [](int i, int& done) -> weft::Task<void> {
                                             for (int k = 0; k < i; ++k) co_await weft::yield_now();
                                             ++done;
                                           }(i, done);
                                         });
  }(done));
  EXPECT_EQ(done, 4);
  EXPECT_THROW(rt.block_on([]() -> weft::Task<void> {
    std::vector<int> in = {1, 2};
    co_await stream::for_each_concurrent(stream::iter(std::move(in)), 2, [](int i) -> weft::Task<void> {
      return [](int i) -> weft::Task<void> {
        co_await weft::yield_now();
        if (i == 2) throw std::runtime_error("run failed");
      }(i);
    });
  }()),
               std::runtime_error);
}

TEST(Stream, next_from_a_task) {
  weft::Runtime rt(current_thread());
  int sum = rt.block_on([]() -> weft::Task<int> {
    auto s = stream::iter(std::vector<int>{1, 2, 3});
    int sum = 0;
    while (auto v = co_await weft::next(s)) sum += *v;
    co_return sum;
  }());
  EXPECT_EQ(sum, 6);
}
// A stream that throws on its first poll, then yields one item and ends.
struct ThrowsOnce {
  using Item = int;
  int state = 0;
  weft::Poll<std::optional<int>> poll_next(weft::Context&) {
    switch (state++) {
      case 0:
        throw std::runtime_error("first poll");
      case 1:
        return std::optional<int>(7);
      default:
        return std::optional<int>();
    }
  }
};

TEST(Stream, merge_stays_valid_when_an_input_throws) {
  MockTask t(stream::merge(ThrowsOnce{}, ThrowsOnce{}));
  std::vector<int> got;
  int throws = 0;
  for (int i = 0; i < 10; ++i) {
    try {
      auto p = t.poll_next();
      ASSERT_TRUE(p.is_ready());
      if (!*p) break;
      got.push_back(**p);
    } catch (const std::runtime_error&) {
      ++throws;
    }
  }
  EXPECT_EQ(throws, 2);
  EXPECT_EQ(got, (std::vector<int>{7, 7}));
}
}  // namespace
