#include "server.hpp"

#include <algorithm>
#include <exception>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "pubsub.hpp"
#include "store.hpp"
#include "weft/coop.hpp"
#include "weft/join_set.hpp"
#include "weft/runtime.hpp"
#include "weft/sync/cancellation_token.hpp"
#include "weft/time.hpp"

namespace weft_resp {

namespace net = weft::net;

/// What the accept loop and every connection share; held by shared_ptr, so a connection
/// task that outlives its Server (aborted at the runtime's destruction) still finds it.
struct Shared {
  explicit Shared(Config c) : config(std::move(c)), pubsub(config.pubsub_capacity) {}
  Config config;
  Store store;
  PubSub pubsub;
  Stats stats;
  weft::CancellationToken shutdown;
  std::atomic<std::uint64_t> next_client_id{0};
};

namespace {

/// One line on stderr, written with one call so that lines of two workers do not mix.
[[gnu::format(printf, 1, 2)]] void log(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "weft_resp: %s\n", n < 0 ? fmt : buf);
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

std::string upper(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return r;
}

// ---- the command table ----

enum class Cmd : std::uint8_t {
  ping, echo, get, set, del, publish, subscribe, unsubscribe, psubscribe, punsubscribe, quit, reset,
  config, client, command, select, hello,
  config_get, client_setname, client_getname, client_id, client_setinfo, command_docs, command_count,
};

struct Spec {
  std::string_view name;  // lower case, as redis names commands in its errors
  Cmd cmd;
  int arity;               // redis's: n exactly, or -n for at least n (the name included)
  bool in_pubsub = false;  // allowed while subscribed (RESP2)
};

constexpr Spec config_subcommands[] = {{"get", Cmd::config_get, -3}};
constexpr Spec client_subcommands[] = {{"setname", Cmd::client_setname, 3},
                                       {"getname", Cmd::client_getname, 2},
                                       {"id", Cmd::client_id, 2},
                                       {"setinfo", Cmd::client_setinfo, 4}};
constexpr Spec command_subcommands[] = {{"docs", Cmd::command_docs, -2}, {"count", Cmd::command_count, 2}};

constexpr Spec commands[] = {
    {"ping", Cmd::ping, -1, true},
    {"echo", Cmd::echo, 2},
    {"get", Cmd::get, 2},
    {"set", Cmd::set, -3},
    {"del", Cmd::del, -2},
    {"publish", Cmd::publish, 3},
    {"subscribe", Cmd::subscribe, -2, true},
    {"unsubscribe", Cmd::unsubscribe, -1, true},
    {"psubscribe", Cmd::psubscribe, -2, true},
    {"punsubscribe", Cmd::punsubscribe, -1, true},
    {"quit", Cmd::quit, -1, true},
    {"reset", Cmd::reset, 1, true},
    {"config", Cmd::config, -2},
    {"client", Cmd::client, -2},
    {"command", Cmd::command, -1},
    {"select", Cmd::select, 2},
    {"hello", Cmd::hello, -1},
};

// Case-insensitive (command names are), without building a lower-case copy per request.
bool equals_lower(std::string_view lower_name, std::string_view s) noexcept {
  if (lower_name.size() != s.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_name[i]) return false;
  }
  return true;
}

const Spec* find_spec(std::span<const Spec> table, std::string_view name) {
  for (const Spec& s : table)
    if (equals_lower(s.name, name)) return &s;
  return nullptr;
}

std::span<const Spec> subcommands_of(Cmd c) {
  switch (c) {
    case Cmd::config: return config_subcommands;
    case Cmd::client: return client_subcommands;
    case Cmd::command: return command_subcommands;
    default: return {};
  }
}

// A connection's slot under max_clients: counted from the accept to the end of its task
// (even a task aborted before it first ran: its parameters are destroyed with its frame).
class ClientSlot {
 public:
  explicit ClientSlot(std::atomic<std::size_t>& n) noexcept : n_(&n) { n.fetch_add(1, std::memory_order_relaxed); }
  ClientSlot(ClientSlot&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  ClientSlot& operator=(ClientSlot&&) = delete;
  ~ClientSlot() {
    if (n_) n_->fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::size_t>* n_;
};

// The pushes of pub/sub, as redis 7 sends them to a RESP2 client.
void put_subscription(std::string& out, std::string_view kind, const std::string* name, std::size_t count) {
  put_array_header(out, 3);
  put_bulk(out, kind);
  if (name) put_bulk(out, *name);
  else put_null_bulk(out);
  put_integer(out, static_cast<std::int64_t>(count));
}

// ---- a connection ----

template <class Maps>
class Connection {
  using Sub = weft::broadcast::BroadcastStream<Message>;
  // Keys are tagged: 'c' + channel, 'p' + pattern (one map, one poll for both kinds).
  using Subs = typename Maps::template map<std::string, Sub>;
  using Item = typename Subs::Item;
  static constexpr std::size_t batch_limit = 64;

 public:
  Connection(std::shared_ptr<Shared> sh, net::TcpStream s, std::string peer)
      : sh_(std::move(sh)),
        cfg_(sh_->config),
        sock_(std::move(s)),
        peer_(std::move(peer)),
        id_(sh_->next_client_id.fetch_add(1, std::memory_order_relaxed) + 1),
        parser_(cfg_.limits),
        cancelled_(sh_->shutdown.cancelled()) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { drop_subscriptions(); }

  weft::Task<void> run() {
    try {
      co_await serve();
    } catch (const std::system_error& e) {
      // A peer that resets or goes away mid-write is an ordinary end, not worth a line.
      if (e.code() != std::errc::connection_reset && e.code() != std::errc::broken_pipe)
        log("%s: closed on error: %s", peer_.c_str(), e.what());
    } catch (const std::exception& e) {
      log("%s: closed on error: %s", peer_.c_str(), e.what());
    }
  }

 private:
  struct Events {
    bool shutdown = false;
    bool idle = false;
    bool did_read = false;
    std::size_t read = 0;
    std::size_t written = 0;
  };

  weft::Task<void> serve() {
    if (cfg_.idle_timeout.count() > 0) idle_.emplace(weft::time::sleep(cfg_.idle_timeout));
    for (;;) {
      if (pending_output() == 0 && (closing_ || (eof_ && input_drained_))) co_return;
      const Events ev = co_await weft::poll_fn([this](weft::Context& cx) { return poll_events(cx); });
      if (ev.shutdown) closing_ = true;  // stop reading, send what is pending, close
      if (ev.written > 0) {
        out_off_ += ev.written;
        if (out_off_ == out_.size()) reset_output();
      }
      if (ev.did_read) {
        if (ev.read == 0) {
          eof_ = true;  // answer what was received, then close
        } else {
          in_end_ += ev.read;
          if (idle_) idle_->reset(weft::time::deadline_after(weft::time::now(), cfg_.idle_timeout));
        }
      }
      for (Item& item : batch_)
        if (!deliver(item)) co_return;
      batch_.clear();
      if (!subs_.empty() && pending_output() > cfg_.pubsub_output_limit) {
        log("%s: subscriber's unsent messages exceed %zu bytes; closing the connection", peer_.c_str(),
            cfg_.pubsub_output_limit);
        sh_->stats.slow_subscribers.fetch_add(1, std::memory_order_relaxed);
        co_return;
      }
      if (ev.idle) {
        log("%s: idle for %lld ms; closing the connection", peer_.c_str(),
            static_cast<long long>(cfg_.idle_timeout.count()));
        sh_->stats.idle_closed.fetch_add(1, std::memory_order_relaxed);
        co_return;
      }
      process_input();
    }
  }

  // The select: polls what the connection waits on, each with the task's waker, and reports
  // everything that is ready (Pending if nothing is). Reads, writes and the map's receives
  // are cancel safe, so what was not ready is simply polled again next time.
  weft::Poll<Events> poll_events(weft::Context& cx) {
    Events ev;
    bool ready = false;
    if (!closing_ && cancelled_.poll(cx).is_ready()) {
      ev.shutdown = true;
      return ev;
    }
    if (registering_) {
      // New subscriptions: every new entry is polled once (its receiver registers its
      // waker) before the confirmations are sent, without a budget, as redis does a
      // subscription's work in the command. Left to the map's ordinary polls, 10,000 new
      // entries per connection sat in its ready queue ahead of every message published
      // after the confirmations: a p99 of 49 ms in the fan-out load. Messages received here
      // follow the confirmations in the output.
      weft::coop::BudgetScope unbudgeted(-1);
      auto p = subs_.poll_next_many(cx, batch_, batch_limit);
      if (p.is_ready() && *p == batch_limit) return ev;  // more may be queued: deliver, then go on
      registering_ = false;  // Pending (or fewer than the limit): nothing new is queued
      if (!batch_.empty()) return ev;
    }
    if (pending_output() > 0) {
      auto p = sock_.write(std::as_bytes(std::span(out_)).subspan(out_off_)).poll(cx);
      if (p.is_ready()) {
        ev.written = *p;
        ready = true;
      }
    }
    if (!closing_ && !eof_ && pending_output() < cfg_.max_output) {
      auto p = sock_.read(input_space()).poll(cx);
      if (p.is_ready()) {
        ev.did_read = true;
        ev.read = *p;
        ready = true;
      }
    }
    if (!closing_ && !eof_ && !subs_.empty()) {
      auto p = subs_.poll_next_many(cx, batch_, batch_limit);
      if (p.is_ready() && *p > 0) ready = true;
    }
    // Subscribers are exempt, as in redis: they legitimately wait for messages.
    if (idle_ && subs_.empty() && !closing_ && !eof_ && idle_->poll(cx).is_ready()) {
      ev.idle = true;
      ready = true;
    }
    if (ready) return ev;
    return weft::pending;
  }

  [[nodiscard]] std::size_t pending_output() const noexcept { return out_.size() - out_off_; }

  void reset_output() {
    out_off_ = 0;
    // Keep a small buffer for the next batch; give back what a large reply needed.
    if (out_.capacity() > std::max<std::size_t>(cfg_.max_output, std::size_t{64} << 10)) out_ = std::string();
    else out_.clear();
  }

  // Room for the next read at the end of the input buffer.
  std::span<std::byte> input_space() {
    if (in_.size() - in_end_ < cfg_.read_chunk) {
      if (in_begin_ > 0) {
        in_.erase(0, in_begin_);
        in_end_ -= in_begin_;
        in_begin_ = 0;
      }
      if (in_.size() - in_end_ < cfg_.read_chunk) in_.resize(in_end_ + cfg_.read_chunk);
    }
    return std::as_writable_bytes(std::span(in_)).subspan(in_end_);
  }

  // Runs the complete requests received, appending their replies, until the input is used
  // up or the unsent replies reach max_output (the rest waits until they are sent).
  void process_input() {
    input_drained_ = false;
    now_uses_ = 0;  // a new batch: the first command that needs the time reads the clock
    while (!closing_ && pending_output() < cfg_.max_output) {
      const auto r = parser_.parse(std::string_view(in_).substr(in_begin_, in_end_ - in_begin_), argv_);
      in_begin_ += r.consumed;
      if (r.status == Parser::Status::incomplete) {
        input_drained_ = true;
        break;
      }
      if (r.status == Parser::Status::error) {
        put_error(out_, "ERR " + parser_.error());
        log("%s: %s; closing the connection", peer_.c_str(), parser_.error().c_str());
        sh_->stats.protocol_errors.fetch_add(1, std::memory_order_relaxed);
        closing_ = true;
        break;
      }
      sh_->stats.commands.fetch_add(1, std::memory_order_relaxed);
      execute(argv_);
      // What a large request held is not kept until the next one (an idle connection would
      // hold it).
      Parser::trim_kept(argv_);
    }
    if (in_begin_ == in_end_) {
      in_begin_ = in_end_ = 0;
      if (in_.size() > 4 * cfg_.read_chunk) in_ = std::string();  // after a large request
    }
  }

  // A message from the map; false if the subscriber fell behind (closed: redis's policy).
  bool deliver(Item& item) {
    auto& [key, r] = item;
    if (!r) {
      log("%s: subscriber fell %llu messages behind on %s '%s'; closing the connection", peer_.c_str(),
          static_cast<unsigned long long>(r.error().count), key[0] == 'c' ? "channel" : "pattern",
          key.c_str() + 1);
      sh_->stats.slow_subscribers.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    const Published& m = **r;
    if (key[0] == 'c') {
      out_ += m.message_frame();
    } else {
      out_ += "*4\r\n$8\r\npmessage\r\n";
      put_bulk(out_, std::string_view(key).substr(1));
      out_ += m.tail();
    }
    return true;
  }

  // The time commands see (expiry checks, EX / PX deadlines): the clock is read by the
  // first command of a batch of pipelined requests that needs it and again every 16 such
  // commands, so a pipelined batch costs a few clock reads, not one per GET (as redis
  // executes commands at a cached time), and the time a command sees is at most 16 commands
  // old.
  weft::time::Instant now() {
    if (now_uses_++ % 16 == 0) now_ = weft::time::now();
    return now_;
  }

  void error(std::string_view msg) { put_error(out_, msg); }
  void ok() { out_ += "+OK\r\n"; }

  void execute(Command& argv) {
    const Spec* spec = find_spec(commands, argv[0]);
    if (!spec) {
      // redis's text: the name as sent, and the first arguments, 128 bytes at most.
      std::string args;
      for (std::size_t i = 1; i < argv.size() && args.size() < 128; ++i)
        args += "'" + argv[i].substr(0, 128 - args.size()) + "' ";
      return error("ERR unknown command '" + argv[0].substr(0, 128) + "', with args beginning with: " + args);
    }
    const Spec* sub = nullptr;
    int arity = spec->arity;
    Cmd cmd = spec->cmd;
    if (auto subs = subcommands_of(cmd); !subs.empty() && argv.size() >= 2) {
      sub = find_spec(subs, argv[1]);
      if (!sub)
        return error("ERR unknown subcommand '" + argv[1].substr(0, 128) + "'. Try " + upper(argv[0]) + " HELP.");
      arity = sub->arity;
      cmd = sub->cmd;
    }
    // The name in errors, lower case, as redis's: "config|get".
    auto fullname = [&] { return std::string(spec->name) + (sub ? "|" + std::string(sub->name) : std::string()); };
    const auto argc = static_cast<int>(std::min<std::size_t>(argv.size(), 1u << 30));
    if ((arity > 0 && argc != arity) || argc < -arity)
      return error("ERR wrong number of arguments for '" + fullname() + "' command");
    if (!subs_.empty() && !spec->in_pubsub)
      return error("ERR Can't execute '" + fullname() +
                   "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
    run_command(cmd, argv);
  }

  void run_command(Cmd cmd, Command& argv) {
    switch (cmd) {
      case Cmd::ping:
        if (argv.size() > 2) return error("ERR wrong number of arguments for 'ping' command");
        if (!subs_.empty()) {  // redis answers a subscriber's PING with a push-shaped pair
          put_array_header(out_, 2);
          put_bulk(out_, "pong");
          put_bulk(out_, argv.size() == 2 ? std::string_view(argv[1]) : std::string_view());
        } else if (argv.size() == 2) {
          put_bulk(out_, argv[1]);
        } else {
          out_ += "+PONG\r\n";
        }
        return;
      case Cmd::echo: return put_bulk(out_, argv[1]);
      case Cmd::get: {
        const Value v = sh_->store.get(argv[1], now());
        if (v) put_bulk(out_, *v);
        else put_null_bulk(out_);
        return;
      }
      case Cmd::set: return set(argv);
      case Cmd::del: {
        std::int64_t n = 0;
        const auto t = now();
        for (std::size_t i = 1; i < argv.size(); ++i) n += sh_->store.del(argv[i], t) ? 1 : 0;
        return put_integer(out_, n);
      }
      case Cmd::publish:
        return put_integer(out_,
                           static_cast<std::int64_t>(sh_->pubsub.publish(argv[1], argv[2])));
      case Cmd::subscribe:
      case Cmd::psubscribe: {
        const bool pattern = cmd == Cmd::psubscribe;
        for (std::size_t i = 1; i < argv.size(); ++i) {
          std::string key = (pattern ? "p" : "c") + argv[i];
          if (!subs_.contains_key(key)) {
            auto rx = pattern ? sh_->pubsub.psubscribe(argv[i]) : sh_->pubsub.subscribe(argv[i]);
            subs_.insert(std::move(key), weft::broadcast::stream(std::move(rx)));
            registering_ = true;
          }
          put_subscription(out_, pattern ? "psubscribe" : "subscribe", &argv[i], subs_.size());
        }
        return;
      }
      case Cmd::unsubscribe:
      case Cmd::punsubscribe: {
        const char tag = cmd == Cmd::punsubscribe ? 'p' : 'c';
        const std::string_view kind = tag == 'p' ? "punsubscribe" : "unsubscribe";
        std::vector<std::string> names;
        if (argv.size() > 1) {
          names.assign(argv.begin() + 1, argv.end());
        } else {
          for (const std::string& k : subs_.keys())
            if (k[0] == tag) names.push_back(k.substr(1));
          if (names.empty()) return put_subscription(out_, kind, nullptr, subs_.size());
        }
        for (const std::string& n : names) {
          unsubscribe(tag, n);
          put_subscription(out_, kind, &n, subs_.size());
        }
        return;
      }
      case Cmd::quit:
        ok();
        closing_ = true;
        return;
      case Cmd::reset:
        drop_subscriptions();
        name_.clear();
        out_ += "+RESET\r\n";
        return;
      case Cmd::config_get: return config_get(argv);
      case Cmd::client_setname: {
        for (char c : argv[2])
          if (c < '!' || c > '~')
            return error("ERR Client names cannot contain spaces, newlines or special characters.");
        name_ = argv[2];
        return ok();
      }
      case Cmd::client_getname:
        if (name_.empty()) return put_null_bulk(out_);
        return put_bulk(out_, name_);
      case Cmd::client_id: return put_integer(out_, static_cast<std::int64_t>(id_));
      case Cmd::client_setinfo: return ok();
      case Cmd::command:  // COMMAND: the table may be empty; clients fall back to no hints
      case Cmd::command_docs: return put_array_header(out_, 0);
      case Cmd::command_count: return put_integer(out_, static_cast<std::int64_t>(std::size(commands)));
      case Cmd::select: {
        std::int64_t db = 0;
        if (!parse_integer(argv[1], db)) return error("ERR value is not an integer or out of range");
        if (db != 0) return error("ERR DB index is out of range");
        return ok();
      }
      case Cmd::hello: return hello(argv);
      case Cmd::config:
      case Cmd::client: return;  // unreachable: arity -2 selects a subcommand
    }
  }

  void set(const Command& argv) {
    std::optional<std::int64_t> ms;
    for (std::size_t i = 3; i < argv.size(); ++i) {
      const std::string opt = lower(argv[i]);
      if ((opt != "ex" && opt != "px") || ms || i + 1 == argv.size()) return error("ERR syntax error");
      std::int64_t n = 0;
      if (!parse_integer(argv[++i], n)) return error("ERR value is not an integer or out of range");
      // redis: a non-positive time, or one whose milliseconds overflow, is invalid.
      if (n <= 0 || (opt == "ex" && n > std::numeric_limits<std::int64_t>::max() / 1000))
        return error("ERR invalid expire time in 'set' command");
      ms = opt == "ex" ? n * 1000 : n;
    }
    std::optional<weft::time::Instant> expires;
    if (ms) {
      // Saturated: a deadline past the clock's range is "never" in practice.
      constexpr std::int64_t max_ms = std::numeric_limits<weft::time::Duration::rep>::max() / 1'000'000 / 2;
      const auto d = std::chrono::milliseconds(std::min(*ms, max_ms));
      expires = weft::time::deadline_after(now(), d);
    }
    sh_->store.set(argv[1], std::make_shared<const std::string>(std::move(argv[2])), expires);
    ok();
  }

  void config_get(const Command& argv) {
    const std::string values[][2] = {
        {"save", ""},  // no persistence (what redis-benchmark reads to warn about RDB saves)
        {"appendonly", "no"},
        {"maxclients", std::to_string(cfg_.max_clients)},
        {"timeout", std::to_string(cfg_.idle_timeout.count() / 1000)},
        {"proto-max-bulk-len", std::to_string(cfg_.limits.max_bulk)},
        {"databases", "1"},
    };
    bool matched[std::size(values)] = {};
    std::size_t n = 0;
    for (std::size_t i = 2; i < argv.size(); ++i) {
      const std::string pattern = lower(argv[i]);
      for (std::size_t j = 0; j < std::size(values); ++j)
        if (!matched[j] && glob_match(pattern, values[j][0])) {
          matched[j] = true;
          ++n;
        }
    }
    put_array_header(out_, 2 * n);
    for (std::size_t j = 0; j < std::size(values); ++j)
      if (matched[j]) {
        put_bulk(out_, values[j][0]);
        put_bulk(out_, values[j][1]);
      }
  }

  void hello(const Command& argv) {
    if (argv.size() >= 2) {
      std::int64_t ver = 0;
      if (!parse_integer(argv[1], ver)) return error("ERR Protocol version is not an integer or out of range");
      if (ver != 2) return error("NOPROTO unsupported protocol version");
      for (std::size_t i = 2; i < argv.size(); ++i) {
        if (lower(argv[i]) == "setname" && i + 1 < argv.size()) {
          name_ = argv[++i];
        } else {
          return error("ERR Syntax error in HELLO option '" + argv[i].substr(0, 128) + "'");
        }
      }
    }
    // RESP2 has no map type: the pairs of redis's map, flattened.
    put_array_header(out_, 14);
    for (const char* s : {"server", "weft_resp", "version", "7.0.0", "proto"}) put_bulk(out_, s);
    put_integer(out_, 2);
    put_bulk(out_, "id");
    put_integer(out_, static_cast<std::int64_t>(id_));
    for (const char* s : {"mode", "standalone", "role", "master", "modules"}) put_bulk(out_, s);
    put_array_header(out_, 0);
  }

  void unsubscribe(char tag, const std::string& name) {
    std::string key(1, tag);
    key += name;
    if (!subs_.remove(key)) return;  // the receiver is dropped here, before the release
    if (tag == 'p') sh_->pubsub.prelease(name);
    else sh_->pubsub.release(name);
  }

  // Drops every subscription (RESET, and the connection's end), releasing each channel.
  void drop_subscriptions() noexcept {
    try {
      std::vector<std::string> keys;
      keys.reserve(subs_.size());
      for (const std::string& k : subs_.keys()) keys.push_back(k);
      subs_.clear();
      for (const std::string& k : keys) {
        if (k[0] == 'p') sh_->pubsub.prelease(k.substr(1));
        else sh_->pubsub.release(k.substr(1));
      }
    } catch (...) {
      // Out of memory while collecting the keys: the channels stay registered (a leak of
      // empty channels) rather than the process dying in a destructor.
    }
  }

  std::shared_ptr<Shared> sh_;
  const Config& cfg_;
  net::TcpStream sock_;
  std::string peer_;
  std::uint64_t id_;
  std::string name_;
  Parser parser_;
  weft::CancellationToken::Cancelled cancelled_;
  std::optional<weft::time::Sleep> idle_;
  // Received bytes: [in_begin_, in_end_) of in_ are not yet parsed.
  std::string in_;
  std::size_t in_begin_ = 0, in_end_ = 0;
  // Replies and pushes: [out_off_, size) are not yet sent.
  std::string out_;
  std::size_t out_off_ = 0;
  Subs subs_;
  std::vector<Item> batch_;
  Command argv_;  // the request being executed; kept, so the parser reuses its strings
  bool registering_ = false;  // subscriptions added since the map was last drained unbudgeted
  weft::time::Instant now_{};      // see now()
  std::uint32_t now_uses_ = 0;
  bool closing_ = false;        // QUIT, a protocol error or shutdown: send what is pending, close
  bool eof_ = false;            // the client shut down its side
  bool input_drained_ = false;  // every complete request received has been run
};

template <class Maps>
weft::Task<void> connection_task(std::shared_ptr<Shared> sh, net::TcpStream s, std::string peer,
                                 [[maybe_unused]] ClientSlot slot) {
  Connection<Maps> c(std::move(sh), std::move(s), std::move(peer));
  co_await c.run();
}

// A client over max_clients: told so (redis's text), then closed.
weft::Task<void> reject_task(net::TcpStream s) {
  static constexpr std::string_view msg = "-ERR max number of clients reached\r\n";
  try {
    (void)co_await weft::time::timeout(std::chrono::seconds(1), s.write_all(msg));
  } catch (const std::exception&) {
    // It left first: nothing to tell.
  }
}

// Frees expired keys nobody reads again (reads see expiry exactly by themselves).
weft::Task<void> sweep_expired(std::shared_ptr<Shared> sh) {
  auto iv = weft::time::interval(sh->config.sweep_period);
  iv.set_missed_tick_behavior(weft::time::MissedTickBehavior::Skip);
  constexpr std::size_t chunk = 1024;  // keys erased per lock round before yielding
  for (;;) {
    co_await iv.tick();
    while (sh->store.sweep(weft::time::now(), chunk) == chunk) co_await weft::yield_now();
  }
}

void report(const weft::JoinResult<void>& r) {
  if (r.is_panic()) log("connection task failed: %s", r.error().what());
}

weft::Task<void> drain(weft::JoinSet<void>& conns) {
  while (auto r = co_await conns.join_next()) report(*r);
}

}  // namespace

template <class Maps>
Server<Maps>::Server(Config config) : shared_(std::make_shared<Shared>(std::move(config))) {}

template <class Maps>
Server<Maps>::~Server() = default;

template <class Maps>
net::SocketAddr Server<Maps>::bind() {
  listener_ = net::TcpListener::bind(shared_->config.bind);
  return listener_.local_addr();
}

template <class Maps>
void Server<Maps>::shutdown() noexcept {
  try {
    shared_->shutdown.cancel();
  } catch (...) {
    std::terminate();  // out of memory while cancelling: nothing sensible is left to do
  }
}

template <class Maps>
const Stats& Server<Maps>::stats() const noexcept {
  return shared_->stats;
}
template <class Maps>
const Store& Server<Maps>::store() const noexcept {
  return shared_->store;
}
template <class Maps>
const PubSub& Server<Maps>::pubsub() const noexcept {
  return shared_->pubsub;
}

template <class Maps>
weft::Task<void> Server<Maps>::run() {
  const std::shared_ptr<Shared> sh = shared_;
  const Config& cfg = sh->config;
  Stats& stats = sh->stats;
  weft::JoinSet<void> conns;
  auto sweeper = weft::spawn(sweep_expired(sh));
  auto cancelled = sh->shutdown.cancelled();

  struct Accepted {
    std::optional<std::pair<net::TcpStream, net::SocketAddr>> conn;
    std::error_code error;
  };
  for (;;) {
    // The accept loop's select: shutdown, finished connections (reaped so that the set does
    // not grow with every connection ever served), a new connection.
    Accepted a = co_await weft::poll_fn([&](weft::Context& cx) -> weft::Poll<Accepted> {
      if (cancelled.poll(cx).is_ready()) return Accepted{};
      for (;;) {
        auto r = conns.poll_join_next(cx);
        if (r.is_pending() || !*r) break;
        report(**r);
      }
      try {
        auto p = listener_.poll_accept(cx);
        if (p.is_pending()) return weft::pending;
        return Accepted{p.take(), {}};
      } catch (const std::system_error& e) {
        return Accepted{std::nullopt, e.code()};
      }
    });
    if (a.error) {
      // EMFILE and the like: the connection waits in the backlog until a descriptor frees.
      log("accept: %s; retrying in 100 ms", a.error.message().c_str());
      co_await weft::time::sleep(std::chrono::milliseconds(100));
      continue;
    }
    if (!a.conn) break;  // shutdown
    auto& [stream, peer] = *a.conn;
    if (stats.clients.load(std::memory_order_relaxed) >= cfg.max_clients) {
      stats.rejected.fetch_add(1, std::memory_order_relaxed);
      log("%s: max number of clients reached (%zu); closing the connection", peer.to_string().c_str(),
          cfg.max_clients);
      conns.spawn(reject_task(std::move(stream)));
      continue;
    }
    stats.accepted.fetch_add(1, std::memory_order_relaxed);
    stream.set_nodelay(true);
    conns.spawn(connection_task<Maps>(sh, std::move(stream), peer.to_string(), ClientSlot(stats.clients)));
  }

  listener_ = net::TcpListener();  // closed: new connections are refused from here on
  log("shutting down: %zu connections to close", conns.size());
  const auto drained = co_await weft::time::timeout(cfg.shutdown_grace, drain(conns));
  if (!drained) {
    log("shutdown: %zu connections still open after %lld ms; aborting them", conns.size(),
        static_cast<long long>(cfg.shutdown_grace.count()));
    co_await conns.shutdown();
  }
  sweeper.abort();
  (void)co_await sweeper.result();
}

template class Server<ReadyMaps>;
template class Server<VecMaps>;

}  // namespace weft_resp
