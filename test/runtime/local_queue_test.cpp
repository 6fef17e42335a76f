// The local run queue through its two roles (Owner, Stealer): smoke, wrap-around, overflow,
// steal-half, Retry vs Empty, and a stampede of stealers against the owner with exact
// counts (crossbeam-deque's test shapes).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "local_queue.hpp"

namespace {
using weft::detail::LocalQueue;
using weft::detail::Steal;

// A queue with its two role handles, as a worker holds them.
template <std::uint32_t Cap>
struct Queue {
  LocalQueue<int*, Cap> storage;
  typename LocalQueue<int*, Cap>::Owner owner = storage.owner();
  typename LocalQueue<int*, Cap>::Stealer stealer = storage.stealer();
};

struct Sink {
  std::mutex mu;
  std::vector<int*> items;
  void push_batch(int** ts, std::size_t n) {
    std::lock_guard l(mu);
    items.insert(items.end(), ts, ts + n);
  }
};

TEST(LocalQueue, smoke_fifo) {
  Queue<4> q;
  Sink sink;
  int v[3];
  EXPECT_EQ(q.owner.pop(), nullptr);
  for (auto& x : v) q.owner.push_back(&x, sink);
  EXPECT_EQ(q.owner.len(), 3u);
  EXPECT_EQ(q.owner.pop(), &v[0]);
  EXPECT_EQ(q.owner.pop(), &v[1]);
  EXPECT_EQ(q.owner.pop(), &v[2]);
  EXPECT_EQ(q.owner.pop(), nullptr);
  EXPECT_TRUE(sink.items.empty());
}

TEST(LocalQueue, wraps_around_many_times) {
  Queue<4> q;
  Sink sink;
  std::vector<int> v(1000);
  for (std::size_t i = 0; i < v.size(); i += 3) {
    for (std::size_t j = i; j < std::min(i + 3, v.size()); ++j) q.owner.push_back(&v[j], sink);
    for (std::size_t j = i; j < std::min(i + 3, v.size()); ++j) EXPECT_EQ(q.owner.pop(), &v[j]);
  }
  EXPECT_TRUE(sink.items.empty());
}

TEST(LocalQueue, overflow_moves_half_plus_the_new_task) {
  Queue<4> q;
  Sink sink;
  int v[5];
  for (auto& x : v) q.owner.push_back(&x, sink);
  ASSERT_EQ(sink.items.size(), 3u);  // the two oldest and the new one
  EXPECT_EQ(sink.items[0], &v[0]);
  EXPECT_EQ(sink.items[1], &v[1]);
  EXPECT_EQ(sink.items[2], &v[4]);
  EXPECT_EQ(q.owner.pop(), &v[2]);
  EXPECT_EQ(q.owner.pop(), &v[3]);
  EXPECT_EQ(q.owner.pop(), nullptr);
}

TEST(LocalQueue, steal_half) {
  Queue<8> src, dst;
  Sink sink;
  int v[6];
  for (auto& x : v) src.owner.push_back(&x, sink);
  int* got = dst.owner.steal_from(src.stealer).task();
  // Half (3) were taken: the first two land in dst, the last is returned to run.
  EXPECT_EQ(got, &v[2]);
  EXPECT_EQ(dst.owner.len(), 2u);
  EXPECT_EQ(dst.owner.pop(), &v[0]);
  EXPECT_EQ(dst.owner.pop(), &v[1]);
  EXPECT_EQ(src.owner.len(), 3u);
  EXPECT_EQ(src.owner.pop(), &v[3]);
}

TEST(LocalQueue, steal_from_empty_and_single) {
  Queue<4> src, dst;
  Sink sink;
  EXPECT_EQ(dst.owner.steal_from(src.stealer).task(), nullptr);
  int x;
  src.owner.push_back(&x, sink);
  EXPECT_EQ(dst.owner.steal_from(src.stealer).task(), &x);
  EXPECT_EQ(src.owner.pop(), nullptr);
  EXPECT_EQ(dst.owner.pop(), nullptr);
}

// A thief: steals from `victim` into its own queue and drains what it took, until a steal
// finds the victim empty after `done` was set (a Retry means another thief is mid-steal, so
// it looks again). Returns how many steals reported Retry.
template <std::uint32_t Cap, class Mark>
int steal_until_done(Queue<Cap>& victim, const std::atomic<bool>& done, Mark mark) {
  Queue<Cap> mine;
  int retries = 0;
  for (;;) {
    // Acquire: pairs with the owner's release store of `done` after its last push and pop.
    const bool last = done.load(std::memory_order_acquire);
    Steal<int*> s = mine.owner.steal_from(victim.stealer);
    if (s.is_retry()) ++retries;
    if (s.is_success()) {
      mark(s.task());
      while (int* r = mine.owner.pop()) mark(r);
    } else if (last && s.is_empty()) {
      return retries;
    }
  }
}

// The owner pushes n_items, popping after every pop_every-th push, then pops the rest, while
// `thieves` threads run steal_until_done. Counts how often each item was seen (popped, stolen
// or overflowed) and the Retry results.
struct Outcome {
  int missing = 0, duplicated = 0, retries = 0;
  bool empty_at_end = false;
};
Outcome owner_against_thieves(int n_items, int thieves, int pop_every) {
  Queue<64> q;
  Sink sink;
  std::vector<int> items(static_cast<std::size_t>(n_items), 0);
  std::vector<std::atomic<int>> seen(items.size());
  std::atomic<bool> done{false};
  std::atomic<int> retries{0};
  auto mark = [&](int* p) { seen[static_cast<std::size_t>(p - items.data())].fetch_add(1, std::memory_order_relaxed); };
  std::vector<std::thread> threads;
  for (int t = 0; t < thieves; ++t)
    threads.emplace_back([&] { retries.fetch_add(steal_until_done(q, done, mark)); });
  for (int i = 0; i < n_items; ++i) {
    q.owner.push_back(&items[static_cast<std::size_t>(i)], sink);
    if (i % pop_every == 0)
      if (int* p = q.owner.pop()) mark(p);
  }
  while (int* p = q.owner.pop()) mark(p);
  // Release: pairs with the thieves' acquire load of `done` (steal_until_done).
  done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  for (int* p : sink.items) mark(p);
  Outcome o;
  for (auto& c : seen) {
    o.missing += c.load() == 0;
    o.duplicated += c.load() > 1;
  }
  o.retries = retries.load();
  o.empty_at_end = q.stealer.is_empty();
  return o;
}

// With a single thief there is never a steal in progress to collide with: every steal is
// Success or Empty, never Retry, against an owner that keeps pushing and popping.
TEST(LocalQueue, a_lone_thief_never_gets_retry) {
  const Outcome o = owner_against_thieves(100000, 1, 2);
  EXPECT_EQ(o.retries, 0);
  EXPECT_EQ(o.missing, 0);
  EXPECT_EQ(o.duplicated, 0);
  EXPECT_TRUE(o.empty_at_end);
}

// Owner pushes and pops; stealers steal into their own queues and drain them. Every item
// is seen exactly once, whether popped, stolen or overflowed.
TEST(LocalQueue, stampede_every_item_exactly_once) {
  const Outcome o = owner_against_thieves(200000, 3, 3);
  EXPECT_EQ(o.missing, 0);
  EXPECT_EQ(o.duplicated, 0);
  EXPECT_TRUE(o.empty_at_end);
}
}  // namespace
