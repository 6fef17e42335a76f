// The soak run (not in CI): mixed spawn / abort / channel / StreamMap / JoinMap / broadcast
// traffic on a multi_thread runtime for a bounded time, checking exact counts every round and
// that memory stays flat: the resident set at the end must be within 10% of the one after
// warm-up. Usage: weft_soak [seconds] (default 600). tools/soak builds and runs it.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "weft/join_map.hpp"
#include "weft/join_set.hpp"
#include "weft/ready_stream_map.hpp"
#include "weft/sync.hpp"
#include "weft/weft.hpp"

namespace {
using weft::Task;

long rss_kib() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "weft soak: FAILED: %s\n", what.c_str());
  std::exit(1);
}
void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

Task<int> value_after_yields(int v, int yields) {
  for (int i = 0; i < yields; ++i) co_await weft::yield_now();
  co_return v;
}

Task<int> wait_for(weft::oneshot::Receiver<int> rx) { co_return co_await std::move(rx); }

// One round of every scenario; each checks its exact counts.
Task<void> round(std::uint64_t round_no) {
  // 1. Spawn 2,000 tasks, abort every other one: each outcome once, values exact.
  {
    std::vector<weft::JoinHandle<int>> hs;
    std::vector<weft::oneshot::Sender<int>> keep;
    for (int i = 0; i < 2000; ++i) {
      if (i % 2 == 0) {
        hs.push_back(weft::spawn(value_after_yields(i, i % 3)));
      } else {
        auto [tx, rx] = weft::oneshot::channel<int>();
        keep.push_back(std::move(tx));
        hs.push_back(weft::spawn(wait_for(std::move(rx))));
      }
    }
    for (std::size_t i = 1; i < hs.size(); i += 2) hs[i].abort();
    long sum = 0;
    int cancelled = 0;
    for (auto& h : hs) {
      auto res = co_await h.result();
      if (res.is_cancelled()) ++cancelled;
      else sum += res.value();
    }
    check(cancelled == 1000, "spawn/abort: cancelled " + std::to_string(cancelled));
    check(sum == 999000L, "spawn/abort: sum " + std::to_string(sum));  // 0 + 2 + ... + 1998
  }
  // 2. mpsc: 4 producers x 5,000 through capacity 64.
  {
    auto [tx, rx] = weft::mpsc::channel<long>(64);
    std::vector<weft::JoinHandle<void>> ps;
    for (int p = 0; p < 4; ++p)
      ps.push_back(weft::spawn([](weft::mpsc::Sender<long> sender, int producer) -> Task<void> {
        for (int i = 0; i < 5000; ++i)
          check((co_await sender.send(long(producer) * 5000 + i)).is_ok(), "mpsc send");
      }(tx, p)));
    { auto d = std::move(tx); }
    long n = 0, sum = 0;
    while (auto v = co_await rx.recv()) {
      ++n;
      sum += *v;
    }
    for (auto& h : ps) co_await h;
    check(n == 20000 && sum == 20000L * 19999 / 2, "mpsc: count " + std::to_string(n));
  }
  // 3. JoinMap: 1,000 keys, 100 replaced, even keys aborted: every key reported once.
  {
    weft::JoinMap<int, int> map;
    for (int k = 0; k < 1000; ++k) map.spawn(k, value_after_yields(k, k % 4));
    for (int k = 0; k < 100; ++k) map.spawn(k * 10, value_after_yields(-1, 1));
    map.abort_matching([](int k) { return k % 2 == 0; });
    std::set<int> keys;
    while (auto kv = co_await map.join_next()) {
      check(keys.insert(kv->first).second, "joinmap: key twice");
      if (kv->second.has_value() && kv->first % 10 == 0 && kv->first < 1000)
        check(kv->second.value() == -1, "joinmap: a replaced task was reported");
    }
    check(keys.size() == 1000, "joinmap: keys " + std::to_string(keys.size()));
  }
  // 4. ReadyStreamMap of 256 channels fed by 8 tasks: every item once.
  {
    weft::StreamMap<int, weft::mpsc::Receiver<int>> map;
    std::vector<weft::mpsc::UnboundedSender<int>> txs;
    for (int k = 0; k < 256; ++k) {
      auto [tx, rx] = weft::mpsc::unbounded_channel<int>();
      (void)map.insert(k, std::move(rx));
      txs.push_back(std::move(tx));
    }
    std::vector<weft::JoinHandle<void>> feeders;
    for (int f = 0; f < 8; ++f) {
      std::vector<weft::mpsc::UnboundedSender<int>> mine;
      for (std::size_t k = static_cast<std::size_t>(f); k < 256; k += 8) mine.push_back(txs[k]);
      feeders.push_back(weft::spawn([](std::vector<weft::mpsc::UnboundedSender<int>> senders) -> Task<void> {
        for (int i = 0; i < 20; ++i) {
          for (auto& tx : senders) check(tx.send(i).is_ok(), "streammap send");
          co_await weft::yield_now();
        }
      }(std::move(mine))));
    }
    txs.clear();
    long n = 0;
    std::vector<std::pair<int, int>> batch;
    while (co_await map.next_many(batch, 64) > 0) {
      n += static_cast<long>(batch.size());
      batch.clear();
    }
    for (auto& h : feeders) co_await h;
    check(n == 256 * 20, "streammap: items " + std::to_string(n));
  }
  // 5. broadcast: 8 receivers, 1,000 values, capacity 2,048: each gets all, in order.
  {
    auto [tx, rx0] = weft::broadcast::channel<long>(2048);
    weft::JoinSet<long> set;
    for (int i = 0; i < 8; ++i)
      (void)set.spawn([](weft::broadcast::Receiver<long> rx) -> Task<long> {
        long n = 0, last = -1;
        for (;;) {
          auto got = co_await rx.recv();
          if (!got) break;
          check(*got == last + 1, "broadcast: order");
          last = *got;
          ++n;
        }
        co_return n;
      }(tx.subscribe()));
    { auto d = std::move(rx0); }
    for (long i = 0; i < 1000; ++i) check(tx.send(i).is_ok(), "broadcast send");
    { auto d = std::move(tx); }
    while (auto joined = co_await set.join_next()) check(joined->value() == 1000, "broadcast: count");
  }
  (void)round_no;
}
}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 600.0;
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
  const double warmup = std::min(30.0, seconds / 5);
  long rss_warm = 0;
  std::uint64_t rounds = 0;
  double next_report = 0;
  while (elapsed() < seconds) {
    rt.block_on(round(rounds++));
    if (rss_warm == 0 && elapsed() >= warmup) rss_warm = rss_kib();
    if (elapsed() >= next_report) {
      std::printf("weft soak: %6.0f s, %8llu rounds, RSS %ld KiB\n", elapsed(), static_cast<unsigned long long>(rounds),
                  rss_kib());
      std::fflush(stdout);
      next_report += 60;
    }
  }
  const long rss_end = rss_kib();
  if (rss_warm == 0) rss_warm = rss_end;
  std::printf("weft soak: %llu rounds in %.0f s, exact counts every round; RSS after warm-up %ld KiB, at the end %ld KiB (%+.1f%%)\n",
              static_cast<unsigned long long>(rounds), elapsed(), rss_warm, rss_end,
              100.0 * double(rss_end - rss_warm) / double(rss_warm));
  if (double(rss_end) > 1.10 * double(rss_warm)) fail("memory grew by more than 10% after warm-up");
  return 0;
}
