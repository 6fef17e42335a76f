// mpsc throughput: P producer tasks (1, 2, 8) send into one consumer task, through an
// unbounded channel or a bounded one (capacity 1,024). ns per message.
#include <vector>

#include "common.hpp"
#include "weft/sync/mpsc.hpp"

namespace {
constexpr int n_messages = 100'000;
constexpr std::size_t bounded_capacity = 1'024;

template <class Tx>
weft::Task<void> produce(Tx tx, int n) {
  for (int i = 0; i < n; ++i) {
    if constexpr (requires { tx.send(i).has_value(); }) {
      (void)tx.send(i);
    } else {
      (void)co_await tx.send(i);
    }
  }
}

weft::Task<long> consume(weft::mpsc::Receiver<int> rx) {
  long sum = 0;
  while (auto v = co_await rx.recv()) sum += *v;
  co_return sum;
}

template <bool Bounded>
weft::Task<void> run(int producers) {
  auto [tx, rx] = [] {
    if constexpr (Bounded) return weft::mpsc::channel<int>(bounded_capacity);
    else return weft::mpsc::unbounded_channel<int>();
  }();
  auto consumer = weft::spawn(consume(std::move(rx)));
  int per = n_messages / producers;
  std::vector<weft::JoinHandle<void>> hs;
  for (int p = 0; p < producers; ++p) hs.push_back(weft::spawn(produce(tx, per)));
  { auto drop = std::move(tx); }
  for (auto& h : hs) co_await h;
  long sum = co_await consumer;
  benchmark::DoNotOptimize(sum);
}

template <bool Bounded>
void mpsc_throughput(benchmark::State& state) {
  weft::Runtime rt(weft_bench::options());
  int producers = static_cast<int>(state.range(0));
  for (auto _ : state) rt.block_on(run<Bounded>(producers));
  state.counters["ns_per_msg"] = weft_bench::per_unit(double(n_messages / producers * producers));
}
}  // namespace

BENCHMARK(mpsc_throughput<false>)
    ->Name(WEFT_BENCH_PREFIX "mpsc_unbounded")
    ->Arg(1)->Arg(2)->Arg(8)->ArgName("producers")
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(mpsc_throughput<true>)
    ->Name(WEFT_BENCH_PREFIX "mpsc_bounded")
    ->Arg(1)->Arg(2)->Arg(8)->ArgName("producers")
    ->UseRealTime()->Unit(benchmark::kMillisecond);
