// weft_resp_server (and weft_resp_server_vec, built with WEFT_RESP_VEC_MAP: the same server
// with VecStreamMap subscriptions): a RESP2 key-value and pub/sub server on weft. README.md
// ("A RESP server") lists what it supports; bench/resp/server.hpp how it works.
//
//   weft_resp_server [--port N] [--bind ADDR] [--max-clients N] [--workers N]
//                    [--idle-timeout SECONDS] [--max-bulk BYTES] [--pubsub-capacity N]
//                    [--busy-poll-us N]
//
// --busy-poll-us: weft::RuntimeOptions::busy_poll (default 0, off): a worker that runs out of
// work polls the driver for up to N microseconds before it sleeps in epoll_wait.
// Prints "listening on ADDR:PORT" once it accepts (with --port 0, the port chosen). SIGINT
// and SIGTERM shut it down gracefully (server.hpp); it then exits 0.
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "server.hpp"
#include "weft/io/async_fd.hpp"
#include "weft/runtime.hpp"

namespace {

#ifdef WEFT_RESP_VEC_MAP
using Server = weft_resp::Server<weft_resp::VecMaps>;
#else
using Server = weft_resp::Server<weft_resp::ReadyMaps>;
#endif

[[noreturn]] void usage(const char* prog, const char* why) {
  if (why) std::fprintf(stderr, "%s: %s\n", prog, why);
  std::fprintf(stderr,
               "usage: %s [--port N] [--bind ADDR] [--max-clients N] [--workers N] [--idle-timeout SECONDS]\n"
               "          [--max-bulk BYTES] [--pubsub-capacity N] [--busy-poll-us N]\n",
               prog);
  std::exit(2);
}

// A whole decimal number in [min, max], or the usage message.
unsigned long long number(const char* prog, const char* flag, const char* text, unsigned long long min,
                          unsigned long long max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max)
    usage(prog, (std::string(flag) + ": not a number in [" + std::to_string(min) + ", " + std::to_string(max) +
                 "]: " + text)
                    .c_str());
  return v;
}

// Waits for SIGINT or SIGTERM on a signalfd (the signals are blocked in every thread, so
// only the descriptor sees them), then starts the server's shutdown.
weft::Task<void> watch_signals(int sfd, Server& server) {
  weft::io::AsyncFd fd(sfd);
  for (;;) {
    auto guard = co_await fd.readable();
    signalfd_siginfo si{};
    if (auto n = guard.try_io([&](int f) { return ::read(f, &si, sizeof si); }); n && *n == sizeof si) {
      std::fprintf(stderr, "weft_resp: %s received; shutting down\n", strsignal(static_cast<int>(si.ssi_signo)));
      server.shutdown();
      co_return;
    }
  }
}

weft::Task<int> serve(weft_resp::Config config, int sfd) {
  Server server(std::move(config));
  weft::net::SocketAddr at;
  try {
    at = server.bind();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft_resp: cannot listen: %s\n", e.what());
    ::close(sfd);
    co_return 1;
  }
  std::printf("listening on %s\n", at.to_string().c_str());
  std::fflush(stdout);
  auto signals = weft::spawn(watch_signals(sfd, server));
  co_await server.run();
  signals.abort();
  (void)co_await signals.result();  // it refers to the server: wait until it is gone
  std::fprintf(stderr, "weft_resp: stopped\n");
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* prog = argv[0];
  weft_resp::Config config;
  std::string bind_ip = "127.0.0.1";
  unsigned long long port = 6379, workers = 0, busy_poll_us = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") usage(prog, nullptr);
    if (i + 1 == argc) usage(prog, ("missing value after " + std::string(a)).c_str());
    const char* v = argv[++i];
    if (a == "--port") port = number(prog, "--port", v, 0, 65535);
    else if (a == "--bind") bind_ip = v;
    else if (a == "--max-clients") config.max_clients = number(prog, "--max-clients", v, 1, 1'000'000);
    else if (a == "--workers") workers = number(prog, "--workers", v, 1, 1024);
    else if (a == "--busy-poll-us") busy_poll_us = number(prog, "--busy-poll-us", v, 0, 1'000'000);
    else if (a == "--idle-timeout")
      config.idle_timeout = std::chrono::seconds(number(prog, "--idle-timeout", v, 0, 1'000'000));
    else if (a == "--max-bulk") config.limits.max_bulk = number(prog, "--max-bulk", v, 1, std::size_t{1} << 32);
    else if (a == "--pubsub-capacity") config.pubsub_capacity = number(prog, "--pubsub-capacity", v, 1, 1 << 20);
    else usage(prog, ("unknown option " + std::string(a)).c_str());
  }
  const std::string addr = bind_ip.find(':') != std::string::npos ? "[" + bind_ip + "]:" : bind_ip + ":";
  auto parsed = weft::net::SocketAddr::try_parse(addr + std::to_string(port));
  if (!parsed) usage(prog, ("--bind: not an IP address: " + bind_ip).c_str());
  config.bind = *parsed;

  // Blocked before the runtime starts its threads, which inherit the mask: the signals then
  // reach only the signalfd.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return 1;
  const int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    std::perror("weft_resp: signalfd");
    return 1;
  }

  weft::RuntimeOptions options;
  options.worker_threads = workers;
  options.busy_poll = std::chrono::microseconds(busy_poll_us);
  options.thread_name = "weft-resp";
  weft::Runtime rt(options);
  return rt.block_on(serve(std::move(config), sfd));
}
