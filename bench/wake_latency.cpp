// wake_latency: wake-to-run latency under load. The load of latency.hpp keeps both workers
// busy; a plain OS thread sends 20,000 messages on an unbounded mpsc channel, each carrying
// its send time, sleeping 20 us between sends (std::this_thread::sleep_for: ~70-80 us apart
// on Linux with the default timer slack; the counter interval_ns reports it); one task
// receives and records receive time minus send time. Counters: p50, p99, p999 and max in ns.
#include <thread>

#include "latency.hpp"
#include "weft/sync/mpsc.hpp"

namespace {
constexpr int n_messages = 20'000;
constexpr auto send_interval = std::chrono::microseconds(20);

weft::Task<std::vector<std::uint64_t>> receiver(weft::mpsc::Receiver<std::uint64_t> rx) {
  std::vector<std::uint64_t> lat;
  lat.reserve(n_messages);
  while (auto sent = co_await rx.recv()) lat.push_back(weft_bench::now_ns() - *sent);
  co_return lat;
}

weft::Task<std::vector<std::uint64_t>> body(weft::mpsc::Receiver<std::uint64_t> rx) { return weft_bench::under_load(receiver(std::move(rx))); }

void wake_latency(benchmark::State& state) {
  for (auto _ : state) {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::uint64_t>();
    std::uint64_t t_start = weft_bench::now_ns(), t_end = 0;
    std::thread sender([&, tx = std::move(tx)]() mutable {
      for (int i = 0; i < n_messages; ++i) {
        std::this_thread::sleep_for(send_interval);
        (void)tx.send(weft_bench::now_ns());
      }
      t_end = weft_bench::now_ns();
    });  // the sender is dropped when the thread ends: the receiver then sees the end
    auto lat = weft_bench::runtime().block_on(body(std::move(rx)));
    sender.join();
    if (lat.size() != std::size_t(n_messages)) throw std::runtime_error("wake_latency: lost messages");
    state.counters["p50_ns"] = weft_bench::quantile(lat, 0.50);
    state.counters["p99_ns"] = weft_bench::quantile(lat, 0.99);
    state.counters["p999_ns"] = weft_bench::quantile(lat, 0.999);
    state.counters["max_ns"] = double(lat.back());
    state.counters["interval_ns"] = double(t_end - t_start) / n_messages;
  }
}
}  // namespace

WEFT_BENCHMARK(wake_latency);
