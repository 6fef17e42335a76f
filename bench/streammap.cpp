// The StreamMap comparison: VecStreamMap (scan baseline) vs ReadyStreamMap (ready set).
//   streammap_one_active/<map>/N: N unbounded-channel streams; a producer task sends M
//     items into stream N/2; the consumer reads M items (M = 20,000; 2,000 at N = 65,536).
//   streammap_all_active/<map>/N: each of the N streams holds exactly one item and its
//     sender is dropped; read until the map ends (N items).
//   streammap_churn/<map>/4096: remove a random key, insert a new key with a one-item
//     stream, read one item (1,000 ops per iteration).
// Map construction is excluded from the timing. ns per item / per op.
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

#include "common.hpp"
#include "weft/ready_stream_map.hpp"
#include "weft/sync/mpsc.hpp"
#include "weft/vec_stream_map.hpp"

namespace {
using Rx = weft::mpsc::Receiver<std::uint64_t>;
using Tx = weft::mpsc::UnboundedSender<std::uint64_t>;
using VecMap = weft::VecStreamMap<std::uint64_t, Rx>;
using ReadyMap = weft::ReadyStreamMap<std::uint64_t, Rx>;

constexpr std::uint64_t items_for(std::int64_t n) { return n >= 65536 ? 2'000 : 20'000; }
constexpr int churn_ops = 1'000;

void check(bool ok) {
  if (!ok) throw std::runtime_error("streammap benchmark: wrong result");
}

weft::Task<void> produce(Tx& tx, std::uint64_t m) {
  for (std::uint64_t i = 0; i < m; ++i) {
    (void)tx.send(i);
    if (i % 64 == 63) co_await weft::yield_now();  // let the consumer run meanwhile
  }
}

template <class Map>
weft::Task<void> consume(Map& map, std::uint64_t m, std::uint64_t key) {
  for (std::uint64_t i = 0; i < m; ++i) {
    auto item = co_await weft::next(map);
    check(item && item->first == key && item->second == i);
  }
}

// Each benchmark runs its whole state loop inside one block_on, so the cost of entering
// the runtime from outside is not part of the per-item figures.

template <class Map>
void one_active(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  const std::uint64_t m = items_for(state.range(0));
  weft::Runtime rt(weft_bench::options());
  Map map;
  std::vector<Tx> txs;
  txs.reserve(n);
  for (std::uint64_t k = 0; k < n; ++k) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
    map.insert(k, std::move(rx));
    txs.push_back(std::move(tx));
  }
  rt.block_on([](benchmark::State& state, Map& map, Tx& tx, std::uint64_t m, std::uint64_t key) -> weft::Task<void> {
    for (auto _ : state) {
      auto producer = weft::spawn(produce(tx, m));
      co_await consume(map, m, key);
      co_await producer;
    }
  }(state, map, txs[n / 2], m, n / 2));
  state.counters["ns_per_item"] = weft_bench::per_unit(double(m));
}

template <class Map>
void all_active(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  weft::Runtime rt(weft_bench::options());
  rt.block_on([](benchmark::State& state, std::uint64_t n) -> weft::Task<void> {
    std::optional<Map> holder;
    for (auto _ : state) {
      state.PauseTiming();
      holder.reset();  // the previous iteration's (empty) map is destroyed untimed
      Map& map = holder.emplace();
      for (std::uint64_t k = 0; k < n; ++k) {
        auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
        (void)tx.send(k);
        map.insert(k, std::move(rx));
      }
      state.ResumeTiming();
      std::uint64_t count = 0;
      while (auto item = co_await weft::next(map)) {
        check(item->first == item->second);
        ++count;
      }
      check(count == n);
    }
  }(state, n));
  state.counters["ns_per_item"] = weft_bench::per_unit(double(n));
}

template <class Map>
void churn(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  weft::Runtime rt(weft_bench::options());
  Map map;
  // slot -> (live key, its sender): senders stay alive, so every stream stays in the map
  // (pending once its item is read) and the map keeps N streams.
  std::vector<std::pair<std::uint64_t, Tx>> live;
  live.reserve(n);
  for (std::uint64_t k = 0; k < n; ++k) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
    map.insert(k, std::move(rx));
    live.emplace_back(k, std::move(tx));
  }
  rt.block_on([](benchmark::State& state, Map& map, auto& live, std::uint64_t n) -> weft::Task<void> {
    std::uint64_t next_key = n;
    std::mt19937_64 rng(7);
    for (auto _ : state) {
      for (int op = 0; op < churn_ops; ++op) {
        auto& [old_key, old_tx] = live[rng() % live.size()];
        check(map.remove(old_key).has_value());
        std::uint64_t key = next_key++;
        auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
        (void)tx.send(key);
        map.insert(key, std::move(rx));
        old_key = key;
        old_tx = std::move(tx);
        auto item = co_await weft::next(map);
        check(item && item->first == key && item->second == key);
      }
    }
    check(map.size() == n);
  }(state, map, live, n));
  state.counters["ns_per_op"] = weft_bench::per_unit(double(churn_ops));
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {16, 256, 4096, 65536}) b->Arg(n);
  b->ArgName("N")->UseRealTime()->Unit(benchmark::kMillisecond);
}
}  // namespace

BENCHMARK(one_active<VecMap>)->Name("streammap_one_active/vec_scan")->Apply(sizes);
BENCHMARK(one_active<ReadyMap>)->Name("streammap_one_active/ready_set")->Apply(sizes);
BENCHMARK(all_active<VecMap>)->Name("streammap_all_active/vec_scan")->Apply(sizes);
BENCHMARK(all_active<ReadyMap>)->Name("streammap_all_active/ready_set")->Apply(sizes);
BENCHMARK(churn<VecMap>)->Name("streammap_churn/vec_scan")->Arg(4096)->ArgName("N")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(churn<ReadyMap>)->Name("streammap_churn/ready_set")->Arg(4096)->ArgName("N")->UseRealTime()->Unit(benchmark::kMillisecond);
