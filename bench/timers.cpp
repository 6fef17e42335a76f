// Timers and the blocking pool, beside their twins in bench/tokio.
//
// timer_insert_cancel (10,000): a task on a worker creates 10,000 sleeps with deadlines spread
//   over 1 ms .. 10 s (the same xorshift sequence on both sides), polls each once (which
//   registers it in the runtime's wheel), then drops them all (which cancels them). Per timer:
//   the allocation, the registration and the cancellation.
// sleep_lateness (2,000 sleeps of 1 ms, under the load of latency.hpp): a task sleeps 1 ms at
//   a time and records how late it resumed (resume time - deadline). Counters p50, p99, max.
// spawn_blocking (2,000): a task on a worker awaits spawn_blocking(closure returning 1), one
//   after the other. Per round trip (worker -> pool thread -> worker).
#include <memory>
#include <vector>

#include "latency.hpp"
#include "weft/time.hpp"

namespace {
namespace wt = weft::time;

constexpr int n_timers = 10'000;

// Polls every sleep once with the task's context (registering it), then completes.
struct RegisterAll {
  std::vector<wt::Sleep>* sleeps;
  weft::Poll<void> poll(weft::Context& cx) {
    for (auto& s : *sleeps) (void)s.poll(cx);
    return weft::ready();
  }
};

weft::Task<void> insert_cancel() {
  weft_bench::XorShift64 rng{0x9E3779B97F4A7C15ull};
  std::vector<wt::Sleep> sleeps;
  sleeps.reserve(n_timers);
  const wt::Instant now = wt::now();
  for (int i = 0; i < n_timers; ++i)
    sleeps.emplace_back(now + std::chrono::microseconds(1'000 + rng.below(10'000'000)));
  co_await RegisterAll{&sleeps};
  sleeps.clear();  // cancels every timer
}

void timer_insert_cancel(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, n_timers, [] { weft_bench::runtime().block_on(insert_cancel()); });
}

constexpr int n_sleeps = 2'000;

weft::Task<std::vector<std::uint64_t>> sleeper() {
  std::vector<std::uint64_t> late;
  late.reserve(n_sleeps);
  for (int i = 0; i < n_sleeps; ++i) {
    const wt::Instant deadline = wt::now() + std::chrono::milliseconds(1);
    co_await wt::sleep_until(deadline);
    late.push_back(static_cast<std::uint64_t>(std::chrono::nanoseconds(wt::now() - deadline).count()));
  }
  co_return late;
}

weft::Task<std::vector<std::uint64_t>> lateness_body() { return weft_bench::under_load(sleeper()); }

void sleep_lateness(benchmark::State& state) {
  for (auto _ : state) {
    auto late = weft_bench::runtime().block_on(lateness_body());
    state.counters["p50_ns"] = weft_bench::quantile(late, 0.50);
    state.counters["p99_ns"] = weft_bench::quantile(late, 0.99);
    state.counters["max_ns"] = double(late.back());
  }
}

constexpr int n_blocking = 2'000;

weft::Task<void> blocking_round_trips() {
  long sum = 0;
  for (int i = 0; i < n_blocking; ++i) sum += co_await weft::spawn_blocking([] { return 1; });
  if (sum != n_blocking) throw std::runtime_error("spawn_blocking: lost results");
}

void spawn_blocking(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, n_blocking, [] { weft_bench::runtime().block_on(blocking_round_trips()); });
}
}  // namespace

WEFT_BENCHMARK(timer_insert_cancel);
WEFT_BENCHMARK(sleep_lateness);
WEFT_BENCHMARK(spawn_blocking);
