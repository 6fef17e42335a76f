// The injection queue (runtime/src/inject.hpp): FIFO per producer, batches, and a
// multi-producer / multi-consumer stress with exact counts.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "inject.hpp"

namespace {
using weft::detail::Header;
using weft::detail::Inject;

// Only the queue link of a Header is used; allocate raw storage for nodes.
struct Nodes {
  explicit Nodes(std::size_t n) : storage(n) {}
  struct alignas(Header) Raw {
    unsigned char bytes[sizeof(Header)];
  };
  std::vector<Raw> storage;
  Header* at(std::size_t i) {
    // SAFETY: the queue only touches the QueueLink base; construct exactly that.
    auto* link = ::new (static_cast<void*>(storage[i].bytes)) weft::detail::QueueLink();
    return static_cast<Header*>(link);
  }
  std::size_t index(Header* h) {
    return static_cast<std::size_t>(reinterpret_cast<Raw*>(static_cast<weft::detail::QueueLink*>(h)) -
                                    storage.data());
  }
};

TEST(Inject, smoke_fifo_and_batches) {
  Inject q;
  Nodes nodes(8);
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop(), nullptr);
  q.push(nodes.at(0));
  Header* batch[3] = {nodes.at(1), nodes.at(2), nodes.at(3)};
  q.push_batch(batch, 3);
  q.push(nodes.at(4));
  EXPECT_FALSE(q.is_empty());
  Header* out[8];
  ASSERT_EQ(q.pop_batch(out, 2), 2u);
  EXPECT_EQ(nodes.index(out[0]), 0u);
  EXPECT_EQ(nodes.index(out[1]), 1u);
  ASSERT_EQ(q.pop_batch(out, 8), 3u);
  EXPECT_EQ(nodes.index(out[0]), 2u);
  EXPECT_EQ(nodes.index(out[1]), 3u);
  EXPECT_EQ(nodes.index(out[2]), 4u);
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop(), nullptr);
  // Reuse after draining (the stub is re-inserted).
  q.push(nodes.at(5));
  EXPECT_EQ(nodes.index(q.pop()), 5u);
}

TEST(Inject, stress_producers_and_consumers_exact_counts) {
  constexpr std::size_t producers = 4, per_producer = 50000, consumers = 2;
  Inject q;
  Nodes nodes(producers * per_producer);
  std::vector<Header*> prepared(nodes.storage.size());
  for (std::size_t i = 0; i < prepared.size(); ++i) prepared[i] = nodes.at(i);
  std::vector<std::atomic<int>> seen(prepared.size());
  std::atomic<std::size_t> popped{0};
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::size_t base = p * per_producer;
      for (std::size_t i = 0; i < per_producer;) {
        std::size_t n = std::min<std::size_t>(1 + i % 5, per_producer - i);
        q.push_batch(&prepared[base + i], n);
        i += n;
      }
    });
  }
  for (std::size_t c = 0; c < consumers; ++c) {
    threads.emplace_back([&] {
      std::vector<std::size_t> last(producers, 0);
      Header* out[16];
      while (popped.load() < prepared.size()) {
        std::size_t n = q.pop_batch(out, 16);
        for (std::size_t k = 0; k < n; ++k) {
          std::size_t idx = nodes.index(out[k]);
          seen[idx].fetch_add(1);
          // FIFO per producer, as seen by one consumer.
          std::size_t p = idx / per_producer, i = idx % per_producer + 1;
          EXPECT_GT(i, last[p]);
          last[p] = i;
        }
        popped.fetch_add(n);
      }
    });
  }
  for (auto& t : threads) t.join();
  int missing = 0, dup = 0;
  for (auto& s : seen) {
    missing += s.load() == 0;
    dup += s.load() > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(dup, 0);
  EXPECT_TRUE(q.is_empty());
}
}  // namespace
