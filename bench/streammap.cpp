// The StreamMap rows: VecStreamMap (the scan baseline) and ReadyStreamMap (the ready set);
// bench/tokio runs the same on tokio-stream's StreamMap and futures-util's SelectAll. Every
// stream is an unbounded mpsc receiver of u64. Each workload runs in one task on a worker
// and times its own span there, in one of two ways:
//   whole  building the map (N new channels inserted), filling it and draining it: what a
//          user pays for a map;
//   read   only the reading (and, for one_active, the producer), the map built untimed
//          (and, for one_active, polled once untimed, so that every stream has registered
//          its waker: the steady state).
// Workloads:
//   streammap_one_active: a producer task sends M items into stream N/2 (yielding every 64);
//     the consumer reads M items and checks key and order. M = 20,000 (2,000 at N = 4,096,
//     200 at N = 65,536).
//     Per item.
//   streammap_all_active: each of the N streams holds one item and its sender is dropped;
//     read until the map ends, checking each (key, item). Per item.
//   streammap_churn (N = 4,096; read span only): remove a random key, insert a new key with
//     a one-item stream, read that item; 1,000 operations. Per operation.
//   streammap_insert (N = 65,536): the N channels created untimed, then a new map is timed
//     while all N receivers are inserted. Per insert.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "common.hpp"
#include "weft/ready_stream_map.hpp"
#include "weft/sync/mpsc.hpp"
#include "weft/vec_stream_map.hpp"

namespace {
using Clock = std::chrono::steady_clock;
using Rx = weft::mpsc::Receiver<std::uint64_t>;
using Tx = weft::mpsc::UnboundedSender<std::uint64_t>;
using VecMap = weft::VecStreamMap<std::uint64_t, Rx>;
using ReadyMap = weft::ReadyStreamMap<std::uint64_t, Rx>;

// Fewer items where a scan map needs milliseconds per item (the per-item figure is the same).
constexpr std::uint64_t items_for(std::uint64_t n) { return n >= 65536 ? 200 : n >= 4096 ? 2'000 : 20'000; }
constexpr int churn_ops = 1'000;
constexpr std::uint64_t churn_n = 4'096;

void check(bool ok) {
  if (!ok) throw std::runtime_error("streammap benchmark: wrong result");
}

weft::Task<void> produce(Tx tx, std::uint64_t m) {
  for (std::uint64_t i = 0; i < m; ++i) {
    (void)tx.send(i);
    if (i % 64 == 63) co_await weft::yield_now();  // let the consumer run meanwhile
  }
}

template <class Map>
weft::Task<double> one_active(std::uint64_t n, bool whole) {
  const std::uint64_t m = items_for(n), key = n / 2;
  auto t0 = Clock::now();
  Map map;
  std::optional<Tx> active;
  std::vector<Tx> idle;  // the other senders stay alive, so every stream stays in the map
  idle.reserve(n);
  for (std::uint64_t k = 0; k < n; ++k) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
    map.insert(k, std::move(rx));
    if (k == key) active.emplace(std::move(tx));
    else idle.push_back(std::move(tx));
  }
  if (!whole) {
    // The read span starts from a map whose streams have all been polled once (a new
    // stream starts ready; its first poll registers its waker): poll it once, untimed.
    weft::coop::BudgetScope unconstrained(-1);  // one poll visits every stream
    const weft::Waker noop_waker;
    weft::Context noop{noop_waker};
    check(map.poll_next(noop).is_pending());
    t0 = Clock::now();
  }
  auto producer = weft::spawn(produce(std::move(*active), m));
  for (std::uint64_t i = 0; i < m; ++i) {
    auto item = co_await weft::next(map);
    check(item && item->first == key && item->second == i);
  }
  co_await producer;
  co_return weft_bench::seconds_since(t0);
}

template <class Map>
weft::Task<double> all_active(std::uint64_t n, bool whole) {
  auto t0 = Clock::now();
  Map map;
  for (std::uint64_t k = 0; k < n; ++k) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
    (void)tx.send(k);
    map.insert(k, std::move(rx));
  }  // the sender is dropped: the stream ends after its item
  if (!whole) t0 = Clock::now();
  std::uint64_t count = 0;
  while (auto item = co_await weft::next(map)) {
    check(item->first == item->second);
    ++count;
  }
  check(count == n);
  co_return weft_bench::seconds_since(t0);
}

template <class Map>
weft::Task<double> churn() {
  Map map;
  std::vector<std::pair<std::uint64_t, Tx>> live;  // slot -> (live key, its sender)
  live.reserve(churn_n);
  for (std::uint64_t k = 0; k < churn_n; ++k) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
    map.insert(k, std::move(rx));
    live.emplace_back(k, std::move(tx));
  }
  weft_bench::XorShift64 rng{0x2545F4914F6CDD1Dull};
  std::uint64_t next_key = churn_n;
  auto t0 = Clock::now();
  for (int op = 0; op < churn_ops; ++op) {
    auto& [old_key, old_tx] = live[rng.next() % churn_n];
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
  double s = weft_bench::seconds_since(t0);
  check(map.size() == churn_n);
  co_return s;
}

template <class Map>
weft::Task<double> insert_all(std::uint64_t n) {
  std::vector<Rx> rxs;
  std::vector<Tx> txs;
  rxs.reserve(n);
  txs.reserve(n);
  for (std::uint64_t k = 0; k < n; ++k) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
    rxs.push_back(std::move(rx));
    txs.push_back(std::move(tx));
  }
  auto t0 = Clock::now();
  Map map;
  for (std::uint64_t k = 0; k < n; ++k) map.insert(k, std::move(rxs[k]));
  double s = weft_bench::seconds_since(t0);
  check(map.size() == n);
  co_return s;
}

template <class Map, bool Whole>
void bench_one_active(benchmark::State& state) {
  static std::map<std::uint64_t, bool> warmed;
  const auto n = static_cast<std::uint64_t>(state.range(0));
  weft_bench::measure_manual(state, warmed[n], double(items_for(n)),
                             [n] { return weft_bench::runtime().block_on(one_active<Map>(n, Whole)); });
}
template <class Map, bool Whole>
void bench_all_active(benchmark::State& state) {
  static std::map<std::uint64_t, bool> warmed;
  const auto n = static_cast<std::uint64_t>(state.range(0));
  weft_bench::measure_manual(state, warmed[n], double(n),
                             [n] { return weft_bench::runtime().block_on(all_active<Map>(n, Whole)); });
}
template <class Map>
void bench_insert(benchmark::State& state) {
  static bool warmed = false;
  constexpr std::uint64_t n = 65'536;
  weft_bench::measure_manual(state, warmed, double(n), [] { return weft_bench::runtime().block_on(insert_all<Map>(n)); });
}
template <class Map>
void bench_churn(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure_manual(state, warmed, churn_ops, [] { return weft_bench::runtime().block_on(churn<Map>()); });
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {16, 256, 4096, 65536}) b->Arg(n);
  b->ArgName("N");
}
}  // namespace

#define WEFT_STREAMMAP(kind, map, span, whole) \
  WEFT_BENCHMARK_MANUAL((bench_##kind<map, whole>))->Name("streammap_" #kind "/" #span)->Apply(sizes)
WEFT_STREAMMAP(one_active, VecMap, vec_scan/whole, true);
WEFT_STREAMMAP(one_active, ReadyMap, ready_set/whole, true);
WEFT_STREAMMAP(one_active, VecMap, vec_scan/read, false);
WEFT_STREAMMAP(one_active, ReadyMap, ready_set/read, false);
WEFT_STREAMMAP(all_active, VecMap, vec_scan/whole, true);
WEFT_STREAMMAP(all_active, ReadyMap, ready_set/whole, true);
WEFT_STREAMMAP(all_active, VecMap, vec_scan/read, false);
WEFT_STREAMMAP(all_active, ReadyMap, ready_set/read, false);
WEFT_BENCHMARK_MANUAL(bench_churn<VecMap>)->Name("streammap_churn/vec_scan/read/N:4096");
WEFT_BENCHMARK_MANUAL(bench_churn<ReadyMap>)->Name("streammap_churn/ready_set/read/N:4096");
WEFT_BENCHMARK_MANUAL(bench_insert<VecMap>)->Name("streammap_insert/vec_scan/N:65536");
WEFT_BENCHMARK_MANUAL(bench_insert<ReadyMap>)->Name("streammap_insert/ready_set/N:65536");
