// The local run queue: smoke, wrap-around, overflow, steal-half, and a stampede of
// stealers against the owner with exact counts (crossbeam-deque's test shapes).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "local_queue.hpp"

namespace {
using weft::detail::LocalQueue;

struct Sink {
  std::mutex mu;
  std::vector<int*> items;
  void push_batch(int** ts, std::size_t n) {
    std::lock_guard l(mu);
    items.insert(items.end(), ts, ts + n);
  }
};

TEST(LocalQueue, smoke_fifo) {
  LocalQueue<int*, 4> q;
  Sink sink;
  int v[3];
  EXPECT_EQ(q.pop(), nullptr);
  for (auto& x : v) q.push_back(&x, sink);
  EXPECT_EQ(q.len(), 3u);
  EXPECT_EQ(q.pop(), &v[0]);
  EXPECT_EQ(q.pop(), &v[1]);
  EXPECT_EQ(q.pop(), &v[2]);
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(sink.items.empty());
}

TEST(LocalQueue, wraps_around_many_times) {
  LocalQueue<int*, 4> q;
  Sink sink;
  std::vector<int> v(1000);
  for (std::size_t i = 0; i < v.size(); i += 3) {
    for (std::size_t j = i; j < std::min(i + 3, v.size()); ++j) q.push_back(&v[j], sink);
    for (std::size_t j = i; j < std::min(i + 3, v.size()); ++j) EXPECT_EQ(q.pop(), &v[j]);
  }
  EXPECT_TRUE(sink.items.empty());
}

TEST(LocalQueue, overflow_moves_half_plus_the_new_task) {
  LocalQueue<int*, 4> q;
  Sink sink;
  int v[5];
  for (auto& x : v) q.push_back(&x, sink);
  ASSERT_EQ(sink.items.size(), 3u);  // the two oldest and the new one
  EXPECT_EQ(sink.items[0], &v[0]);
  EXPECT_EQ(sink.items[1], &v[1]);
  EXPECT_EQ(sink.items[2], &v[4]);
  EXPECT_EQ(q.pop(), &v[2]);
  EXPECT_EQ(q.pop(), &v[3]);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(LocalQueue, steal_half) {
  LocalQueue<int*, 8> src, dst;
  Sink sink;
  int v[6];
  for (auto& x : v) src.push_back(&x, sink);
  int* got = src.steal_into(dst);
  // Half (3) were taken: the first two land in dst, the last is returned to run.
  EXPECT_EQ(got, &v[2]);
  EXPECT_EQ(dst.len(), 2u);
  EXPECT_EQ(dst.pop(), &v[0]);
  EXPECT_EQ(dst.pop(), &v[1]);
  EXPECT_EQ(src.len(), 3u);
  EXPECT_EQ(src.pop(), &v[3]);
}

TEST(LocalQueue, steal_from_empty_and_single) {
  LocalQueue<int*, 4> src, dst;
  Sink sink;
  EXPECT_EQ(src.steal_into(dst), nullptr);
  int x;
  src.push_back(&x, sink);
  EXPECT_EQ(src.steal_into(dst), &x);
  EXPECT_EQ(src.pop(), nullptr);
  EXPECT_EQ(dst.pop(), nullptr);
}

// Owner pushes and pops; stealers steal into their own queues and drain them. Every item
// is seen exactly once, whether popped, stolen or overflowed.
TEST(LocalQueue, stampede_every_item_exactly_once) {
  constexpr int n_items = 200000;
  constexpr int n_stealers = 3;
  LocalQueue<int*, 64> q;
  Sink sink;
  std::vector<int> items(n_items, 0);
  std::vector<std::atomic<int>> seen(n_items);
  std::atomic<bool> done{false};
  auto mark = [&](int* p) { seen[p - items.data()].fetch_add(1, std::memory_order_relaxed); };

  std::vector<std::thread> stealers;
  for (int s = 0; s < n_stealers; ++s) {
    stealers.emplace_back([&] {
      LocalQueue<int*, 64> mine;
      while (!done.load(std::memory_order_acquire)) {
        if (int* p = q.steal_into(mine)) {
          mark(p);
          while (int* r = mine.pop()) mark(r);
        }
      }
      while (int* p = q.steal_into(mine)) {
        mark(p);
        while (int* r = mine.pop()) mark(r);
      }
    });
  }
  for (int i = 0; i < n_items; ++i) {
    q.push_back(&items[i], sink);
    if (i % 3 == 0)
      if (int* p = q.pop()) mark(p);
  }
  while (int* p = q.pop()) mark(p);
  done.store(true, std::memory_order_release);
  for (auto& t : stealers) t.join();
  for (int* p : sink.items) mark(p);
  int missing = 0, dup = 0;
  for (auto& s : seen) {
    int c = s.load();
    missing += c == 0;
    dup += c > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(dup, 0);
}
}  // namespace
