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

// With a single thief there is never a steal in progress to collide with: every steal is
// Success or Empty, never Retry, against an owner that keeps pushing and popping.
TEST(LocalQueue, a_lone_thief_never_gets_retry) {
  constexpr int n_items = 100000;
  Queue<64> q;
  Sink sink;
  std::vector<int> items(n_items, 0);
  std::vector<std::atomic<int>> seen(n_items);
  std::atomic<bool> done{false};
  std::atomic<int> retries{0};
  auto mark = [&](int* p) { seen[p - items.data()].fetch_add(1, std::memory_order_relaxed); };
  std::thread thief([&] {
    Queue<64> mine;
    for (;;) {
      const bool last = done.load(std::memory_order_acquire);
      Steal<int*> s = mine.owner.steal_from(q.stealer);
      if (s.is_retry()) retries.fetch_add(1);
      if (s.is_success()) {
        mark(s.task());
        while (int* r = mine.owner.pop()) mark(r);
      } else if (last) {
        break;
      }
    }
  });
  for (int i = 0; i < n_items; ++i) {
    q.owner.push_back(&items[i], sink);
    if (i % 2 == 0)
      if (int* p = q.owner.pop()) mark(p);
  }
  while (int* p = q.owner.pop()) mark(p);
  done.store(true, std::memory_order_release);
  thief.join();
  for (int* p : sink.items) mark(p);
  EXPECT_EQ(retries.load(), 0);
  int wrong = 0;
  for (auto& c : seen) wrong += c.load() != 1;
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(q.stealer.is_empty());
}

// Owner pushes and pops; stealers steal into their own queues and drain them. Every item
// is seen exactly once, whether popped, stolen or overflowed.
TEST(LocalQueue, stampede_every_item_exactly_once) {
  constexpr int n_items = 200000;
  constexpr int n_stealers = 3;
  Queue<64> q;
  Sink sink;
  std::vector<int> items(n_items, 0);
  std::vector<std::atomic<int>> seen(n_items);
  std::atomic<bool> done{false};
  auto mark = [&](int* p) { seen[p - items.data()].fetch_add(1, std::memory_order_relaxed); };

  std::vector<std::thread> stealers;
  for (int s = 0; s < n_stealers; ++s) {
    stealers.emplace_back([&] {
      Queue<64> mine;
      while (!done.load(std::memory_order_acquire)) {
        if (int* p = mine.owner.steal_from(q.stealer).task()) {
          mark(p);
          while (int* r = mine.owner.pop()) mark(r);
        }
      }
      // Drain: Retry means another stealer is mid-steal, so look again; only Empty ends.
      for (;;) {
        Steal<int*> s = mine.owner.steal_from(q.stealer);
        if (s.is_empty()) break;
        if (s.is_success()) {
          mark(s.task());
          while (int* r = mine.owner.pop()) mark(r);
        }
      }
    });
  }
  for (int i = 0; i < n_items; ++i) {
    q.owner.push_back(&items[i], sink);
    if (i % 3 == 0)
      if (int* p = q.owner.pop()) mark(p);
  }
  while (int* p = q.owner.pop()) mark(p);
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
