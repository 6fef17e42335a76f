// FlatIndex (containers/include/weft/containers/flat_index.hpp): a randomized differential test
// against std::map with deliberately colliding hashes, so that probe clusters wrap around
// the table and deletions shift cells back.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "weft/containers/flat_index.hpp"

namespace {
using weft::detail::FlatIndex;

TEST(FlatIndex, matches_a_model_under_collisions_growth_and_erasure) {
  for (std::uint32_t buckets : {1u, 3u, 64u, 1u << 30}) {
    FlatIndex index;
    std::map<std::uint32_t, std::uint32_t> model;  // key -> slot
    std::vector<std::uint32_t> key_of_slot(4096, 0);
    auto hash = [&](std::uint32_t key) { return (key % buckets) * 2654435761u; };  // few distinct hashes
    std::mt19937 rng(buckets);
    std::uint32_t next_slot = 0;
    for (int op = 0; op < 20000; ++op) {
      std::uint32_t key = rng() % 1500;
      auto is_key = [&](std::uint32_t slot) { return key_of_slot[slot] == key; };
      if (rng() % 3 != 0) {
        if (model.count(key)) {
          EXPECT_EQ(index.find(hash(key), is_key), model[key]);
          continue;
        }
        std::uint32_t slot = next_slot++ % 4096;
        while (true) {  // a slot not in use
          bool used = false;
          for (auto& [k, s] : model) used |= s == slot;
          if (!used) break;
          slot = next_slot++ % 4096;
        }
        key_of_slot[slot] = key;
        index.insert(hash(key), slot);
        model[key] = slot;
      } else {
        auto it = model.find(key);
        std::uint32_t erased = index.erase(hash(key), is_key);
        if (it == model.end()) {
          EXPECT_EQ(erased, FlatIndex::none);
        } else {
          EXPECT_EQ(erased, it->second);
          model.erase(it);
        }
      }
      ASSERT_EQ(index.size(), model.size());
    }
    for (auto& [key, slot] : model) {
      std::uint32_t k = key;
      EXPECT_EQ(index.find(hash(k), [&](std::uint32_t s) { return key_of_slot[s] == k; }), slot);
    }
    index.clear();
    EXPECT_TRUE(index.empty());
  }
}
}  // namespace
