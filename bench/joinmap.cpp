// joinmap_drain / joinmap_abort (100,000 tasks), for JoinMap, JoinSet, and a naive
// baseline (a JoinSet plus std::unordered_map bookkeeping under a std::mutex). A task on a
// worker does, with a new map:
//   drain: spawn N trivial tasks keyed by u64 that return their key, then join_next until
//          empty, checking every key;
//   abort: spawn N tasks waiting on a never-completing future, abort_all, drain, checking
//          that every result is a cancellation.
// Per task. bench/tokio runs the same on tokio-util's JoinMap and tokio's JoinSet.
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "common.hpp"
#include "weft/join_map.hpp"
#include "weft/join_set.hpp"

namespace {
constexpr std::uint64_t n_tasks = 100'000;

struct Never {
  weft::Poll<std::uint64_t> poll(weft::Context&) { return weft::pending; }
};
weft::Task<std::uint64_t> echo(std::uint64_t k) { co_return k; }
weft::Task<std::uint64_t> forever() { co_return co_await Never{}; }

void check(bool ok) {
  if (!ok) throw std::runtime_error("joinmap benchmark: wrong result");
}

// The naive baseline: completion order from a JoinSet whose tasks return (key, value);
// the key <-> task id bookkeeping (needed for abort by key and for cancelled results, which
// carry only the task id) in two std::unordered_maps under a std::mutex.
class NaiveJoinMap {
  using V = std::uint64_t;
  static weft::Task<std::pair<std::uint64_t, V>> tagged(std::uint64_t key, weft::Task<V> t) {
    co_return std::pair{key, co_await std::move(t)};
  }

 public:
  void spawn(std::uint64_t key, weft::Task<V> t) {
    weft::TaskId id = set_.spawn(tagged(key, std::move(t))).id();
    std::lock_guard l(mu_);
    by_key_[key] = id.value;
    by_id_[id.value] = key;
  }
  void abort_all() { set_.abort_all(); }
  /// (key, result) of the next completion, or nullopt when empty.
  weft::Task<std::optional<std::pair<std::uint64_t, weft::JoinResult<V>>>> join_next() {
    auto r = co_await set_.join_next();
    if (!r) co_return std::nullopt;
    std::lock_guard l(mu_);
    if (r->has_value()) {
      auto [key, v] = r->value();
      by_id_.erase(by_key_[key]);
      by_key_.erase(key);
      co_return std::pair{key, weft::JoinResult<V>::ok(v)};
    }
    auto it = by_id_.find(r->error().id().value);
    std::uint64_t key = it->second;
    by_id_.erase(it);
    by_key_.erase(key);
    co_return std::pair{key, weft::JoinResult<V>::err(r->error())};
  }
  [[nodiscard]] bool empty() {
    std::lock_guard l(mu_);
    return by_key_.empty() && set_.empty();
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::uint64_t, std::uint64_t> by_key_;
  std::unordered_map<std::uint64_t, std::uint64_t> by_id_;
  weft::JoinSet<std::pair<std::uint64_t, V>> set_;
};

weft::Task<void> drain_map() {
  weft::JoinMap<std::uint64_t, std::uint64_t> map;
  for (std::uint64_t k = 0; k < n_tasks; ++k) map.spawn(k, echo(k));
  std::uint64_t n = 0;
  while (auto r = co_await map.join_next()) {
    check(r->second.value() == r->first);
    ++n;
  }
  check(n == n_tasks);
}
weft::Task<void> abort_map() {
  weft::JoinMap<std::uint64_t, std::uint64_t> map;
  for (std::uint64_t k = 0; k < n_tasks; ++k) map.spawn(k, forever());
  map.abort_all();
  std::uint64_t n = 0;
  while (auto r = co_await map.join_next()) {
    check(r->second.is_cancelled());
    ++n;
  }
  check(n == n_tasks);
}
weft::Task<void> drain_set() {
  weft::JoinSet<std::uint64_t> set;
  for (std::uint64_t k = 0; k < n_tasks; ++k) set.spawn(echo(k));
  std::uint64_t n = 0, sum = 0;
  while (auto r = co_await set.join_next()) {
    sum += r->value();
    ++n;
  }
  check(n == n_tasks && sum == n_tasks * (n_tasks - 1) / 2);
}
weft::Task<void> abort_set() {
  weft::JoinSet<std::uint64_t> set;
  for (std::uint64_t k = 0; k < n_tasks; ++k) set.spawn(forever());
  set.abort_all();
  std::uint64_t n = 0;
  while (auto r = co_await set.join_next()) {
    check(r->is_cancelled());
    ++n;
  }
  check(n == n_tasks);
}
weft::Task<void> drain_naive() {
  NaiveJoinMap map;
  for (std::uint64_t k = 0; k < n_tasks; ++k) map.spawn(k, echo(k));
  std::uint64_t n = 0;
  while (auto r = co_await map.join_next()) {
    check(r->second.value() == r->first);
    ++n;
  }
  check(n == n_tasks && map.empty());
}
weft::Task<void> abort_naive() {
  NaiveJoinMap map;
  for (std::uint64_t k = 0; k < n_tasks; ++k) map.spawn(k, forever());
  map.abort_all();
  std::uint64_t n = 0;
  while (auto r = co_await map.join_next()) {
    check(r->second.is_cancelled());
    ++n;
  }
  check(n == n_tasks && map.empty());
}

template <weft::Task<void> (*Body)()>
void run(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, double(n_tasks), [] { weft_bench::runtime().block_on(Body()); });
}
}  // namespace

WEFT_BENCHMARK(run<drain_map>)->Name("joinmap_drain");
WEFT_BENCHMARK(run<abort_map>)->Name("joinmap_abort");
WEFT_BENCHMARK(run<drain_set>)->Name("joinset_drain");
WEFT_BENCHMARK(run<abort_set>)->Name("joinset_abort");
WEFT_BENCHMARK(run<drain_naive>)->Name("naive_joinmap_drain");
WEFT_BENCHMARK(run<abort_naive>)->Name("naive_joinmap_abort");
