// memory_*: bytes per container entry or per spawned task, as glibc counts them (mallinfo2:
// bytes in use, including mmapped blocks), measured in the build whose frames and cells come
// from the system allocator (weft_bench_system); the mimalloc build reports nothing. The
// figure is the counter "bytes_per_unit"; the time is that of building the structure.
#include <malloc.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "common.hpp"
#include "weft/join_map.hpp"
#include "weft/join_set.hpp"
#include "weft/ready_stream_map.hpp"
#include "weft/stream.hpp"
#include "weft/vec_stream_map.hpp"

namespace {
std::size_t heap_in_use() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

template <class Map>
void memory_streammap(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  if (weft::frame_allocator() != weft::Allocator::system) {
    state.SkipWithError("memory rows are measured in the glibc build only");
    return;
  }
  double bytes = 0;
  for (auto _ : state) {
    const std::size_t before = heap_in_use();
    {
      Map m;
      for (std::size_t i = 0; i < n; ++i) (void)m.insert(static_cast<std::uint64_t>(i), weft::stream::pending<int>());
      bytes = double(heap_in_use() - before) / double(n);
      benchmark::DoNotOptimize(m);
    }
  }
  state.counters["units"] = 1;
  state.counters["bytes_per_unit"] = bytes;
}

// Tasks that wait forever (until aborted), held by the container.
template <class Set>
void memory_join(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  if (weft::frame_allocator() != weft::Allocator::system) {
    state.SkipWithError("memory rows are measured in the glibc build only");
    return;
  }
  double bytes = 0;
  for (auto _ : state) {
    bytes = weft_bench::runtime().block_on([](int count) -> weft::Task<double> {
      const std::size_t before = heap_in_use();
      std::optional<Set> set(std::in_place);
      for (int i = 0; i < count; ++i) {
        auto t = []() -> weft::Task<int> { co_return co_await weft::pending<int>(); }();
        if constexpr (requires { set->spawn(i, std::move(t)); }) set->spawn(i, std::move(t));
        else (void)set->spawn(std::move(t));
      }
      for (int k = 0; k < 4; ++k) co_await weft::yield_now();  // let them reach their await
      const double b = double(heap_in_use() - before) / double(count);
      co_await set->shutdown();
      co_return b;
    }(n));
  }
  state.counters["units"] = 1;
  state.counters["bytes_per_unit"] = bytes;
}
}  // namespace

using ReadyPending = weft::ReadyStreamMap<std::uint64_t, weft::stream::Pending<int>>;
using VecPending = weft::VecStreamMap<std::uint64_t, weft::stream::Pending<int>>;
using JoinMapInt = weft::JoinMap<int, int>;
WEFT_BENCHMARK(memory_streammap<ReadyPending>)->Name("memory_streammap/ready_set")->Arg(1'000'000)->ArgName("N");
WEFT_BENCHMARK(memory_streammap<VecPending>)->Name("memory_streammap/vec_scan")->Arg(1'000'000)->ArgName("N");
WEFT_BENCHMARK(memory_join<JoinMapInt>)->Name("memory_joinmap")->Arg(100'000)->ArgName("N");
WEFT_BENCHMARK(memory_join<weft::JoinSet<int>>)->Name("memory_joinset")->Arg(100'000)->ArgName("N");
