// LinkQueue (weft/detail/link_queue.hpp): FIFO, batches, the stub re-inserted on every
// drain, is_empty exactly when nothing is queued, pop_exclusive, concurrent producers with
// one consumer and with several (try-locked) consumers, exact counts and FIFO per producer,
// and a sleeping consumer that trusts is_empty (the way parking workers do): a node queued
// while is_empty says "empty" would be a lost wake-up.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "parker.hpp"
#include "weft/detail/link_queue.hpp"

namespace {
using weft::detail::LinkQueue;
using weft::detail::QueueLink;

struct Node : QueueLink {
  std::size_t id = 0;
};

/// `n` nodes with ids 0..n-1 (in a vector that is never resized: nodes do not move).
std::vector<Node> make_nodes(std::size_t n) {
  std::vector<Node> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i].id = i;
  return v;
}

std::size_t id_of(QueueLink* l) { return static_cast<Node*>(l)->id; }

TEST(LinkQueue, empty) {
  LinkQueue q;
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_EQ(q.pop_exclusive(), nullptr);
  QueueLink* out[4];
  EXPECT_EQ(q.pop_batch(out, 4), 0u);
  q.push_batch(out, 0);  // an empty batch is nothing
  EXPECT_TRUE(q.is_empty());
}

TEST(LinkQueue, smoke_fifo) {
  LinkQueue q;
  auto nodes = make_nodes(3);
  for (auto& n : nodes) q.push(&n);
  EXPECT_FALSE(q.is_empty());
  EXPECT_EQ(id_of(q.pop()), 0u);
  EXPECT_FALSE(q.is_empty());
  EXPECT_EQ(id_of(q.pop()), 1u);
  EXPECT_EQ(id_of(q.pop()), 2u);
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(LinkQueue, batches_keep_their_order_between_single_pushes) {
  LinkQueue q;
  auto nodes = make_nodes(8);
  q.push(&nodes[0]);
  QueueLink* batch[] = {&nodes[1], &nodes[2], &nodes[3]};
  q.push_batch(batch, 3);
  q.push(&nodes[4]);
  QueueLink* one[] = {&nodes[5]};
  q.push_batch(one, 1);
  QueueLink* out[8];
  ASSERT_EQ(q.pop_batch(out, 2), 2u) << "at most `max`";
  EXPECT_EQ(id_of(out[0]), 0u);
  EXPECT_EQ(id_of(out[1]), 1u);
  ASSERT_EQ(q.pop_batch(out, 8), 4u) << "all that is there";
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(id_of(out[i]), 2 + i);
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop_batch(out, 8), 0u);
}

// Every drain detaches the last node by re-inserting the stub behind it; alternate pushes
// and pops so that the queue goes through that many times, at every length up to 3.
TEST(LinkQueue, reuse_after_every_drain) {
  LinkQueue q;
  auto nodes = make_nodes(4);
  std::size_t next_in = 0, next_out = 0;  // ids, modulo the 4 nodes
  for (int round = 0; round < 1000; ++round) {
    const int len = 1 + round % 3;
    for (int i = 0; i < len; ++i) q.push(&nodes[next_in++ % 4]);
    for (int i = 0; i < len; ++i) {
      QueueLink* l = (round % 2 == 0) ? q.pop() : q.pop_exclusive();
      ASSERT_NE(l, nullptr);
      EXPECT_EQ(id_of(l), next_out++ % 4);
    }
    ASSERT_TRUE(q.is_empty()) << "round " << round;
    ASSERT_EQ(q.pop(), nullptr);
  }
}

// Pops interleaved with pushes, never draining: the stub stays behind the last node.
TEST(LinkQueue, fifo_when_never_drained) {
  LinkQueue q;
  auto nodes = make_nodes(1000);
  q.push(&nodes[0]);
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    q.push(&nodes[i]);
    EXPECT_EQ(id_of(q.pop_exclusive()), i - 1);
    EXPECT_FALSE(q.is_empty());
  }
  EXPECT_EQ(id_of(q.pop_exclusive()), nodes.size() - 1);
  EXPECT_TRUE(q.is_empty());
}

// ---- concurrent producers ----

// Producer p pushes nodes p*per .. (p+1)*per-1 in order, in batches of 1 to 5.
void produce(LinkQueue& q, std::vector<Node>& nodes, std::size_t p, std::size_t per) {
  std::vector<QueueLink*> batch;
  for (std::size_t i = 0; i < per;) {
    const std::size_t n = std::min<std::size_t>(1 + i % 5, per - i);
    batch.clear();
    for (std::size_t k = 0; k < n; ++k) batch.push_back(&nodes[p * per + i + k]);
    q.push_batch(batch.data(), n);
    i += n;
  }
}

// Checks what one consumer saw: each producer's nodes in push order.
struct FifoPerProducer {
  std::size_t per;
  std::vector<std::size_t> next;  // the next expected index, per producer
  FifoPerProducer(std::size_t producers, std::size_t per_producer) : per(per_producer), next(producers, 0) {}
  bool accept(std::size_t id) {
    const std::size_t p = id / per, i = id % per;
    if (i < next[p]) return false;
    next[p] = i + 1;
    return true;
  }
};

TEST(LinkQueue, stress_producers_one_exclusive_consumer_exact_counts) {
  constexpr std::size_t producers = 3, per = 30000;
  LinkQueue q;
  auto nodes = make_nodes(producers * per);
  std::vector<std::thread> ts;
  for (std::size_t p = 0; p < producers; ++p) ts.emplace_back([&, p] { produce(q, nodes, p, per); });
  FifoPerProducer order(producers, per);
  std::vector<int> seen(nodes.size(), 0);
  std::size_t popped = 0, out_of_order = 0;
  while (popped < nodes.size()) {
    QueueLink* l = q.pop_exclusive();
    if (l == nullptr) {
      std::this_thread::yield();
      continue;
    }
    ++seen[id_of(l)];
    out_of_order += !order.accept(id_of(l));
    ++popped;
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(nodes.size())) << "each exactly once";
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(LinkQueue, stress_producers_and_try_locked_consumers_exact_counts) {
  constexpr std::size_t producers = 2, consumers = 2, per = 30000;
  LinkQueue q;
  auto nodes = make_nodes(producers * per);
  std::vector<std::atomic<int>> seen(nodes.size());
  std::atomic<std::size_t> popped{0};
  std::atomic<std::size_t> out_of_order{0};
  std::vector<std::thread> ts;
  for (std::size_t p = 0; p < producers; ++p) ts.emplace_back([&, p] { produce(q, nodes, p, per); });
  for (std::size_t c = 0; c < consumers; ++c)
    ts.emplace_back([&, c] {
      FifoPerProducer order(producers, per);  // FIFO per producer, as seen by this consumer
      QueueLink* out[7];
      while (popped.load() < nodes.size()) {
        // Alternate single pops and batches: both take the consumer role by try-lock.
        std::size_t n = 0;
        if ((c + popped.load()) % 2 == 0) n = q.pop_batch(out, 7);
        else if ((out[0] = q.pop()) != nullptr) n = 1;
        for (std::size_t k = 0; k < n; ++k) {
          seen[id_of(out[k])].fetch_add(1);
          out_of_order += !order.accept(id_of(out[k]));
        }
        popped.fetch_add(n);
        if (n == 0) std::this_thread::yield();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(out_of_order.load(), 0u);
  std::size_t once = 0;
  for (auto& s : seen) once += s.load() == 1;
  EXPECT_EQ(once, nodes.size()) << "each exactly once";
  EXPECT_EQ(popped.load(), nodes.size());
  EXPECT_TRUE(q.is_empty());
}

// A consumer that sleeps when is_empty() says so, after announcing it (store, fence,
// re-check), against producers that push, fence, and wake it if it announced: the
// store-buffering pattern of the scheduler's parking. If is_empty() ever said "empty" with
// a node queued whose push had completed, the consumer would sleep while the producer saw
// no sleeper: a lost wake-up. A producer claims a sleep with an exchange, so each unpark
// matches one park and the test can tell "stuck" (asleep, unclaimed, nodes queued, all
// producers done) from "about to wake".
TEST(LinkQueue, stress_is_empty_never_hides_a_queued_node_from_a_sleeper) {
  constexpr std::size_t producers = 2, per = 20000;
  LinkQueue q;
  auto nodes = make_nodes(producers * per);
  weft::detail::Parker parker;
  std::atomic<bool> sleeping{false};  // the consumer announced it sleeps; a producer claims it
  std::atomic<bool> in_park{false};   // the consumer is past its re-check, in park()
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> popped{0};
  std::vector<std::thread> ts;
  for (std::size_t p = 0; p < producers; ++p)
    ts.emplace_back([&, p] {
      for (std::size_t i = 0; i < per; ++i) {
        q.push(&nodes[p * per + i]);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (sleeping.load() && sleeping.exchange(false)) parker.unpark();
        if (i % 64 == 63) std::this_thread::yield();  // let the consumer run dry and sleep
      }
    });
  std::thread consumer([&] {
    while (!stop.load()) {
      if (QueueLink* l = q.pop_exclusive()) {
        (void)l;
        popped.fetch_add(1);
        continue;
      }
      if (!q.is_empty()) continue;  // a push between its exchange and its link store
      sleeping.store(true);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (!q.is_empty() && sleeping.exchange(false)) continue;  // changed its mind
      // Asleep, unless a producer already claimed the sleep (its unpark is coming).
      in_park.store(true);
      parker.park();
      in_park.store(false);
    }
  });
  for (auto& t : ts) t.join();
  bool stuck = false;
  while (popped.load() < nodes.size()) {
    // Nothing will ever wake the consumer: asleep, the sleep unclaimed, nodes queued, and
    // no producer left. (in_park is read first: the consumer sets it after its re-check.)
    if (in_park.load() && sleeping.load() && !q.is_empty()) {
      stuck = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  stop.store(true);
  parker.unpark();
  consumer.join();
  EXPECT_FALSE(stuck) << "lost wake-up: the consumer sleeps with " << nodes.size() - popped.load()
                      << " nodes queued";
  EXPECT_EQ(popped.load(), nodes.size());
}

}  // namespace
