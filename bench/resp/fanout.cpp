// weft_resp_fanout: a pub/sub fan-out load for any RESP2 server (weft's bench/resp server or
// redis-server), the load of tools/resp-bench.
//
//   weft_resp_fanout --port P --subscribers S --channels C --messages M
//                    [--host 127.0.0.1] [--pipeline W] [--payload B] [--timeout-s T]
//
// S subscriber connections each SUBSCRIBE to the same C channels (fanout:0 .. fanout:C-1, in
// commands of up to 1,000 names, pipelined). Once every subscription is confirmed, one
// publisher connection sends M PUBLISH commands, W per write (then it reads their W replies),
// each to a channel drawn at random among the C (a fixed xorshift sequence) with a B-byte
// payload that starts with the send time. Every subscriber receives all M messages; the run
// ends when each has. Printed (one JSON line): deliveries per second (S x M over the time
// from the first PUBLISH written to the last message received), the p50 / p99 / max of
// publish-to-receive latency over every delivery, the time the subscriptions took, and the
// subscriptions the publisher's replies counted (a check: S per message).
//
// The load runs on a current_thread weft runtime (one thread), so a 2-core machine keeps one
// core for the server. Exit status 2 if the run did not finish within T seconds (default
// 120), 1 on a connection or protocol error.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "weft/net/tcp.hpp"
#include "weft/sync/mpsc.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {
namespace net = weft::net;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::size_t subscribers = 50;
  std::size_t channels = 10;
  std::size_t messages = 20'000;
  std::size_t pipeline = 16;
  std::size_t payload = 32;
  int timeout_s = 120;
};

/// The replies a client reads: one RESP2 value at the front of a buffer. Arrays are flat here
/// (a pub/sub push: bulk strings and one integer); views point into the reader's buffer and
/// stay valid until the next read.
struct Value {
  char type = 0;  // '+', '-', ':', '$' (null: is_null), '*'
  std::int64_t integer = 0;
  std::string_view str;
  bool is_null = false;
  std::vector<Value> elems;  // '*' only; reused between parses
};

class ReplyReader {
 public:
  /// Parses one value at the front of the unread bytes: true (and consumes it) if complete.
  /// Throws std::runtime_error on a malformed reply.
  bool next(Value& v) {
    std::size_t at = pos_;
    if (!parse(at, v, true)) return false;
    pos_ = at;
    return true;
  }
  /// Reads more bytes from `s` (keeping the unparsed ones); false at the end of the stream.
  weft::Task<bool> fill(net::TcpStream& s) {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    const std::size_t old = buf_.size();
    buf_.resize(old + chunk);
    const std::size_t n = co_await s.read(std::as_writable_bytes(std::span(buf_.data() + old, chunk)));
    buf_.resize(old + n);
    co_return n > 0;
  }

 private:
  static constexpr std::size_t chunk = 64 * 1024;

  // The line at `at` (without CRLF), or nullopt if not complete.
  std::optional<std::string_view> line(std::size_t& at) const {
    const std::size_t e = buf_.find("\r\n", at);
    if (e == std::string::npos) return std::nullopt;
    std::string_view l(buf_.data() + at, e - at);
    at = e + 2;
    return l;
  }
  static std::int64_t number(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) throw std::runtime_error("resp_fanout: bad number in a reply");
    return v;
  }
  bool parse(std::size_t& at, Value& v, bool top) const {
    auto l = line(at);
    if (!l) return false;
    if (l->empty()) throw std::runtime_error("resp_fanout: empty reply line");
    v.type = (*l)[0];
    v.is_null = false;
    const std::string_view rest = l->substr(1);
    switch (v.type) {
      case '+':
      case '-':
        v.str = rest;
        return true;
      case ':':
        v.integer = number(rest);
        return true;
      case '$': {
        const std::int64_t n = number(rest);
        if (n < 0) {
          v.is_null = true;
          return true;
        }
        const auto len = static_cast<std::size_t>(n);
        if (buf_.size() < at + len + 2) return false;
        v.str = std::string_view(buf_.data() + at, len);
        at += len + 2;
        return true;
      }
      case '*': {
        if (!top) throw std::runtime_error("resp_fanout: nested array in a reply");
        const std::int64_t n = number(rest);
        v.elems.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
        for (auto& e : v.elems)
          if (!parse(at, e, false)) return false;
        return true;
      }
      default:
        throw std::runtime_error("resp_fanout: unknown reply type '" + std::string(1, v.type) + "'");
    }
  }

  std::string buf_;
  std::size_t pos_ = 0;
};

void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
}

std::string channel_name(std::size_t i) { return "fanout:" + std::to_string(i); }

weft::Task<void> write_all(net::TcpStream& s, const std::string& data) {
  co_await s.write_all(std::as_bytes(std::span(data.data(), data.size())));
}

/// Reads values until `pred` has seen one that ends the wait (returns true). No co_await in
/// an if condition: g++ 12.2 compiles such a coroutine into one that never starts (README,
/// "Compilers").
template <class Pred>
weft::Task<void> read_until(net::TcpStream& s, ReplyReader& r, Value& v, Pred& pred) {
  for (;;) {
    while (r.next(v))
      if (pred(v)) co_return;
    const bool more = co_await r.fill(s);
    if (!more) throw std::runtime_error("resp_fanout: the server closed the connection");
  }
}

struct SubscriberResult {
  std::vector<std::uint64_t> latency_ns;
  std::uint64_t last_ns = 0;
};

weft::Task<SubscriberResult> subscriber(net::SocketAddr at, const Options& o, weft::mpsc::UnboundedSender<int> ready) {
  net::TcpStream s = co_await net::TcpStream::connect(at);
  s.set_nodelay(true);
  // SUBSCRIBE in commands of up to 1,000 channels, all written at once.
  std::string cmd;
  for (std::size_t first = 0; first < o.channels; first += 1000) {
    const std::size_t n = std::min<std::size_t>(1000, o.channels - first);
    cmd += "*" + std::to_string(n + 1) + "\r\n$9\r\nSUBSCRIBE\r\n";
    for (std::size_t i = first; i < first + n; ++i) {
      const std::string ch = channel_name(i);
      cmd += "$" + std::to_string(ch.size()) + "\r\n" + ch + "\r\n";
    }
  }
  co_await write_all(s, cmd);
  ReplyReader r;
  Value v;
  std::size_t confirmed = 0;
  auto on_confirmation = [&](const Value& x) {
    if (x.type != '*' || x.elems.size() != 3 || x.elems[0].str != "subscribe")
      throw std::runtime_error("resp_fanout: unexpected reply to SUBSCRIBE");
    return ++confirmed == o.channels;
  };
  co_await read_until(s, r, v, on_confirmation);
  (void)ready.send(1);
  SubscriberResult out;
  out.latency_ns.reserve(o.messages);
  auto on_message = [&](const Value& x) {
    const std::uint64_t t = now_ns();
    if (x.type != '*' || x.elems.size() != 3 || x.elems[0].str != "message")
      throw std::runtime_error("resp_fanout: unexpected push (not a message)");
    const std::string_view payload = x.elems[2].str;
    std::uint64_t sent = 0;
    const auto [p, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), sent);
    if (ec != std::errc() || p == payload.data()) throw std::runtime_error("resp_fanout: payload without a send time");
    out.latency_ns.push_back(t - sent);
    out.last_ns = t;
    return out.latency_ns.size() == o.messages;
  };
  co_await read_until(s, r, v, on_message);
  co_return out;
}

struct PublisherResult {
  std::uint64_t first_ns = 0;
  std::int64_t receivers = 0;  // the sum of PUBLISH's replies
};

weft::Task<PublisherResult> publisher(net::SocketAddr at, const Options& o) {
  net::TcpStream s = co_await net::TcpStream::connect(at);
  s.set_nodelay(true);
  ReplyReader r;
  Value v;
  PublisherResult out;
  std::uint64_t x = 0x9E3779B97F4A7C15ull;  // xorshift64: the channel sequence
  std::string batch;
  std::string payload;
  out.first_ns = now_ns();
  for (std::size_t sent = 0; sent < o.messages;) {
    batch.clear();
    const std::size_t n = std::min(o.pipeline, o.messages - sent);
    for (std::size_t i = 0; i < n; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      payload = std::to_string(now_ns()) + ":";
      if (payload.size() < o.payload) payload.append(o.payload - payload.size(), 'x');
      append_command(batch, {"PUBLISH", channel_name(x % o.channels), payload});
    }
    co_await write_all(s, batch);
    std::size_t replies = 0;
    auto on_reply = [&](const Value& y) {
      if (y.type != ':') throw std::runtime_error("resp_fanout: unexpected reply to PUBLISH");
      out.receivers += y.integer;
      return ++replies == n;
    };
    co_await read_until(s, r, v, on_reply);
    sent += n;
  }
  co_return out;
}

weft::Task<int> run(const Options& o) {
  const net::SocketAddr at = net::SocketAddr::parse(o.host + ":" + std::to_string(o.port));
  auto [ready_tx, ready_rx] = weft::mpsc::unbounded_channel<int>();
  const std::uint64_t t0 = now_ns();
  std::vector<weft::JoinHandle<SubscriberResult>> subs;
  for (std::size_t i = 0; i < o.subscribers; ++i) subs.push_back(weft::spawn(subscriber(at, o, ready_tx)));
  for (std::size_t i = 0; i < o.subscribers; ++i) {
    const std::optional<int> ready = co_await ready_rx.recv();
    if (!ready) throw std::runtime_error("resp_fanout: a subscriber failed");
  }
  const double subscribe_s = double(now_ns() - t0) / 1e9;
  PublisherResult pub = co_await weft::spawn(publisher(at, o));
  std::vector<std::uint64_t> all;
  all.reserve(o.subscribers * o.messages);
  std::uint64_t last = 0;
  for (auto& h : subs) {
    SubscriberResult sr = co_await h;
    last = std::max(last, sr.last_ns);
    all.insert(all.end(), sr.latency_ns.begin(), sr.latency_ns.end());
  }
  std::sort(all.begin(), all.end());
  auto q = [&](double p) {
    return double(all[std::min(all.size() - 1, static_cast<std::size_t>(p * double(all.size())))]) / 1e3;
  };
  const double secs = double(last - pub.first_ns) / 1e9;
  std::printf(
      "{\"subscribers\": %zu, \"channels\": %zu, \"messages\": %zu, \"pipeline\": %zu, \"payload\": %zu, "
      "\"deliveries\": %zu, \"seconds\": %.6f, \"deliveries_per_s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
      "\"max_us\": %.1f, \"subscribe_s\": %.3f, \"receivers_counted\": %lld}\n",
      o.subscribers, o.channels, o.messages, o.pipeline, o.payload, all.size(), secs, double(all.size()) / secs,
      q(0.50), q(0.99), double(all.back()) / 1e3, subscribe_s, static_cast<long long>(pub.receivers));
  co_return pub.receivers == static_cast<std::int64_t>(o.subscribers * o.messages) ? 0 : 1;
}

std::size_t positive(const char* flag, const char* v) {
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0' || n == 0) {
    std::fprintf(stderr, "weft_resp_fanout: %s needs a positive number, got '%s'\n", flag, v);
    std::exit(1);
  }
  return static_cast<std::size_t>(n);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "weft_resp_fanout: %s needs a value (see the top of bench/resp/fanout.cpp)\n", argv[i]);
      return 1;
    }
    const char* v = argv[++i];
    if (a == "--host") o.host = v;
    else if (a == "--port") o.port = static_cast<int>(positive("--port", v));
    else if (a == "--subscribers") o.subscribers = positive("--subscribers", v);
    else if (a == "--channels") o.channels = positive("--channels", v);
    else if (a == "--messages") o.messages = positive("--messages", v);
    else if (a == "--pipeline") o.pipeline = positive("--pipeline", v);
    else if (a == "--payload") o.payload = positive("--payload", v);
    else if (a == "--timeout-s") o.timeout_s = static_cast<int>(positive("--timeout-s", v));
    else {
      std::fprintf(stderr, "weft_resp_fanout: unknown option %s (see the top of bench/resp/fanout.cpp)\n", argv[i - 1]);
      return 1;
    }
  }
  try {
    weft::RuntimeOptions ro;
    ro.flavor = weft::Flavor::current_thread;
    weft::Runtime rt(ro);
    auto r = rt.block_on(weft::time::timeout(std::chrono::seconds(o.timeout_s), run(o)));
    if (!r) {
      std::fprintf(stderr, "weft_resp_fanout: not done within %d s (messages lost or a stalled server)\n", o.timeout_s);
      return 2;
    }
    return *r;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft_resp_fanout: %s\n", e.what());
    return 1;
  }
}
