// TCP echo over loopback, server and clients on the same runtime (2 workers), beside its twin
// in bench/tokio. The server accepts `conns` connections and runs one echo task per
// connection (read up to 64 KiB, write it all back); TCP_NODELAY on both ends.
//
// tcp_echo_latency/conns:C: each of C client tasks sends a 64-byte message and waits for
//   its echo, 20,000 / C times in a row (20,000 round trips in all); the time per round
//   trip is the row's figure, and the counters p50_ns / p99_ns are over every round trip.
//   With WEFT_BENCH_DUMP_DIR set, each run also writes every round trip's latency (ns, one
//   per line, each client's in the order they happened, client after client) to
//   $WEFT_BENCH_DUMP_DIR/tcp_echo_latency_conns<C>_weft.txt (the last run's stays), as the
//   tokio twin does to ..._tokio.txt: tools/latency_outliers.py reads them.
// tcp_echo_throughput/conns:C: each client writes 64 MiB / C in 64 KiB writes from one task
//   while another task reads the echo back (split halves); per MiB echoed.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "latency.hpp"
#include "weft/net/tcp.hpp"

namespace {
namespace net = weft::net;
using Bytes = std::vector<std::byte>;

weft::Task<void> echo(net::TcpStream s) {
  s.set_nodelay(true);
  Bytes buf(64 * 1024);
  while (std::size_t n = co_await s.read(buf)) co_await s.write_all(std::span(buf).first(n));
}

// Accepts `conns` connections and echoes on each; returns when all closed.
weft::Task<void> serve(net::TcpListener l, int conns) {
  std::vector<weft::JoinHandle<void>> hs;
  for (int i = 0; i < conns; ++i) {
    auto [s, peer] = co_await l.accept();
    hs.push_back(weft::spawn(echo(std::move(s))));
  }
  for (auto& h : hs) co_await h;
}

constexpr int n_round_trips = 20'000;

weft::Task<std::vector<std::uint64_t>> ping_client(net::SocketAddr at, int n) {
  net::TcpStream s = co_await net::TcpStream::connect(at);
  s.set_nodelay(true);
  std::array<std::byte, 64> msg{};
  std::array<std::byte, 64> back{};
  std::vector<std::uint64_t> lat;
  lat.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    msg[0] = static_cast<std::byte>(i);
    const std::uint64_t t0 = weft_bench::now_ns();
    co_await s.write_all(msg);
    co_await s.read_exact(back);
    lat.push_back(weft_bench::now_ns() - t0);
    if (back != msg) throw std::runtime_error("tcp_echo: wrong echo");
  }
  co_return lat;
}

weft::Task<std::vector<std::uint64_t>> latency_body(int conns) {
  net::TcpListener l = net::TcpListener::bind(net::SocketAddr::parse("127.0.0.1:0"));
  const net::SocketAddr at = l.local_addr();
  auto server = weft::spawn(serve(std::move(l), conns));
  std::vector<weft::JoinHandle<std::vector<std::uint64_t>>> clients;
  for (int c = 0; c < conns; ++c) clients.push_back(weft::spawn(ping_client(at, n_round_trips / conns)));
  std::vector<std::uint64_t> all;
  for (auto& c : clients) {
    auto lat = co_await c;
    all.insert(all.end(), lat.begin(), lat.end());
  }
  co_await server;
  co_return all;
}

template <int Conns>
void tcp_echo_latency(benchmark::State& state) {
  for (auto _ : state) {
    auto lat = weft_bench::runtime().block_on(latency_body(Conns));
    if (lat.size() != std::size_t(n_round_trips)) throw std::runtime_error("tcp_echo: lost round trips");
    if (const char* dir = std::getenv("WEFT_BENCH_DUMP_DIR")) {
      const std::string path = std::string(dir) + "/tcp_echo_latency_conns" + std::to_string(Conns) + "_weft.txt";
      std::FILE* f = std::fopen(path.c_str(), "w");
      if (f == nullptr) throw std::runtime_error("tcp_echo: cannot write " + path);
      for (std::uint64_t ns : lat) std::fprintf(f, "%llu\n", static_cast<unsigned long long>(ns));
      std::fclose(f);
    }
    state.counters["units"] = n_round_trips;
    state.counters["p50_ns"] = weft_bench::quantile(lat, 0.50);
    state.counters["p99_ns"] = weft_bench::quantile(lat, 0.99);
  }
}

constexpr std::size_t total_bytes = 64u << 20;
constexpr std::size_t chunk = 64u << 10;

weft::Task<void> reader(net::TcpReadHalf r, std::size_t n) {
  Bytes buf(chunk);
  std::size_t got = 0;
  while (got < n) {
    const std::size_t k = co_await r.read(buf);
    if (k == 0) throw std::runtime_error("tcp_echo: early end of stream");
    got += k;
  }
}

weft::Task<void> stream_client(net::SocketAddr at, std::size_t n) {
  net::TcpStream s = co_await net::TcpStream::connect(at);
  s.set_nodelay(true);
  auto [r, w] = std::move(s).split();
  auto rd = weft::spawn(reader(std::move(r), n));
  Bytes data(chunk, std::byte{0x5a});
  for (std::size_t sent = 0; sent < n; sent += chunk) co_await w.write_all(std::span(data).first(std::min(chunk, n - sent)));
  co_await rd;
}  // the write half's drop shuts the write side: the server's echo task ends

weft::Task<void> throughput_body(int conns) {
  net::TcpListener l = net::TcpListener::bind(net::SocketAddr::parse("127.0.0.1:0"));
  const net::SocketAddr at = l.local_addr();
  auto server = weft::spawn(serve(std::move(l), conns));
  std::vector<weft::JoinHandle<void>> clients;
  for (int c = 0; c < conns; ++c) clients.push_back(weft::spawn(stream_client(at, total_bytes / std::size_t(conns))));
  for (auto& c : clients) co_await c;
  co_await server;
}

template <int Conns>
void tcp_echo_throughput(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, double(total_bytes >> 20), [] { weft_bench::runtime().block_on(throughput_body(Conns)); });
}
}  // namespace

BENCHMARK(tcp_echo_latency<1>)->Name("tcp_echo_latency/conns:1")->Iterations(1)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(tcp_echo_latency<100>)->Name("tcp_echo_latency/conns:100")->Iterations(1)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(tcp_echo_throughput<1>)->Name("tcp_echo_throughput/conns:1")->Iterations(1)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(tcp_echo_throughput<100>)->Name("tcp_echo_throughput/conns:100")->Iterations(1)->UseRealTime()->Unit(benchmark::kMicrosecond);
