// The RESP server (bench/resp/server.hpp) in-process on an ephemeral port, driven over TCP
// with raw RESP: every command, expiry, pipelining, pub/sub (order, patterns, ten thousand
// channels, with both StreamMaps), and the bad-input policies (protocol errors, oversized
// bulks, a stalled half request, a client that never reads, a slow subscriber, the client
// limit, shutdown with live connections).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "pubsub.hpp"
#include "resp_support.hpp"
#include "store.hpp"

namespace {

using resp_test::Client;
using resp_test::cmd;
using resp_test::eventually;
using resp_test::TestServer;
using weft_resp::Config;

std::string bulk(std::string_view s) { return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n"; }
std::string message(std::string_view ch, std::string_view payload) {
  return "*3\r\n$7\r\nmessage\r\n" + bulk(ch) + bulk(payload);
}
std::string sub_reply(std::string_view kind, std::string_view name, int count) {
  return "*3\r\n" + bulk(kind) + bulk(name) + ":" + std::to_string(count) + "\r\n";
}

TEST(RespServer, ping_echo_get_set_del) {
  TestServer s;
  Client c(s.port());
  EXPECT_EQ(c.call({"PING"}), "+PONG\r\n");
  EXPECT_EQ(c.call({"ping", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(c.call({"PING", "a", "b"}), "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(c.call({"ECHO", std::string("a\0b", 3)}), std::string("$3\r\na\0b\r\n", 9));
  EXPECT_EQ(c.call({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(c.call({"SET", "k", "v1"}), "+OK\r\n");
  EXPECT_EQ(c.call({"GET", "k"}), "$2\r\nv1\r\n");
  EXPECT_EQ(c.call({"SET", "k", ""}), "+OK\r\n");
  EXPECT_EQ(c.call({"GET", "k"}), "$0\r\n\r\n");
  EXPECT_EQ(c.call({"SET", "k2", "x"}), "+OK\r\n");
  EXPECT_EQ(c.call({"DEL", "k", "k2", "nope", "k"}), ":2\r\n");
  EXPECT_EQ(c.call({"GET", "k"}), "$-1\r\n");
  // Inline requests, as redis-benchmark's PING_INLINE.
  c.send("PING\r\nECHO \"a b\"\r\n");
  EXPECT_EQ(c.reply(), "+PONG\r\n");
  EXPECT_EQ(c.reply(), "$3\r\na b\r\n");
  EXPECT_EQ(c.call({"QUIT"}), "+OK\r\n");
  EXPECT_TRUE(c.closed_by_server());
}

TEST(RespServer, errors_have_redis_text) {
  TestServer s;
  Client c(s.port());
  EXPECT_EQ(c.call({"FOO", "a", "b"}), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(c.call({"foo"}), "-ERR unknown command 'foo', with args beginning with: \r\n");
  // The arguments quoted stop once 128 bytes were written.
  const std::string long_arg(200, 'x');
  EXPECT_EQ(c.call({"nope", long_arg, "more"}),
            "-ERR unknown command 'nope', with args beginning with: '" + std::string(128, 'x') + "' \r\n");
  EXPECT_EQ(c.call({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(c.call({"SET", "k"}), "-ERR wrong number of arguments for 'set' command\r\n");
  EXPECT_EQ(c.call({"PUBLISH", "ch"}), "-ERR wrong number of arguments for 'publish' command\r\n");
  EXPECT_EQ(c.call({"CONFIG"}), "-ERR wrong number of arguments for 'config' command\r\n");
  EXPECT_EQ(c.call({"CONFIG", "GET"}), "-ERR wrong number of arguments for 'config|get' command\r\n");
  EXPECT_EQ(c.call({"config", "set", "x", "y"}), "-ERR unknown subcommand 'set'. Try CONFIG HELP.\r\n");
  EXPECT_EQ(c.call({"client", "kill"}), "-ERR unknown subcommand 'kill'. Try CLIENT HELP.\r\n");
  // The connection is still usable after each.
  EXPECT_EQ(c.call({"PING"}), "+PONG\r\n");
}

TEST(RespServer, connect_time_commands_of_redis_cli_and_redis_benchmark) {
  weft_resp::Config cfg;
  cfg.max_clients = 77;
  TestServer s(cfg);
  Client c(s.port());
  EXPECT_EQ(c.call({"CONFIG", "GET", "save"}), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_EQ(c.call({"CONFIG", "GET", "appendonly"}), "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  EXPECT_EQ(c.call({"CONFIG", "GET", "SAVE", "appendonly", "save"}),
            "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  EXPECT_EQ(c.call({"CONFIG", "GET", "maxcl*"}), "*2\r\n$10\r\nmaxclients\r\n$2\r\n77\r\n");
  EXPECT_EQ(c.call({"CONFIG", "GET", "no-such-param"}), "*0\r\n");
  EXPECT_EQ(c.call({"CLIENT", "GETNAME"}), "$-1\r\n");
  EXPECT_EQ(c.call({"CLIENT", "SETNAME", "bench"}), "+OK\r\n");
  EXPECT_EQ(c.call({"client", "getname"}), "$5\r\nbench\r\n");
  EXPECT_EQ(c.call({"CLIENT", "SETNAME", "a b"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(c.call({"CLIENT", "SETINFO", "lib-name", "x"}), "+OK\r\n");
  const std::string id = c.call({"CLIENT", "ID"});
  EXPECT_EQ(id.front(), ':');
  EXPECT_EQ(c.call({"COMMAND"}), "*0\r\n");
  EXPECT_EQ(c.call({"COMMAND", "DOCS"}), "*0\r\n");
  EXPECT_EQ(c.call({"COMMAND", "DOCS", "get"}), "*0\r\n");
  EXPECT_EQ(c.call({"COMMAND", "COUNT"}), ":17\r\n");
  EXPECT_EQ(c.call({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(c.call({"SELECT", "1"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(c.call({"SELECT", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(c.call({"HELLO", "3"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(c.call({"HELLO", "x"}), "-ERR Protocol version is not an integer or out of range\r\n");
  EXPECT_EQ(c.call({"HELLO", "2", "SETNAME", "n2"}),
            "*14\r\n$6\r\nserver\r\n$9\r\nweft_resp\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n"
            "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n" +
                id + "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
  EXPECT_EQ(c.call({"CLIENT", "GETNAME"}), "$2\r\nn2\r\n");
}

TEST(RespServer, set_ex_px_expire_exactly_and_leave_nothing_behind) {
  Config cfg;
  cfg.sweep_period = std::chrono::milliseconds(10);
  TestServer s(cfg);
  Client c(s.port());
  EXPECT_EQ(c.call({"SET", "px", "1", "PX", "50"}), "+OK\r\n");
  EXPECT_EQ(c.call({"SET", "ex", "2", "ex", "1"}), "+OK\r\n");
  EXPECT_EQ(c.call({"SET", "read", "3", "px", "50"}), "+OK\r\n");
  EXPECT_EQ(c.call({"SET", "kept", "4", "PX", "50"}), "+OK\r\n");
  EXPECT_EQ(c.call({"SET", "kept", "5"}), "+OK\r\n");  // a plain SET drops the expiry
  EXPECT_EQ(c.call({"GET", "px"}), "$1\r\n1\r\n");
  EXPECT_EQ(c.call({"GET", "read"}), "$1\r\n3\r\n");
  EXPECT_EQ(s.server().store().deadlines(), 3u);
  // Time passing is what is tested here: this sleep is not synchronisation.
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_EQ(c.call({"GET", "read"}), "$-1\r\n");  // expired: gone for the reader at once
  EXPECT_EQ(c.call({"GET", "ex"}), "$1\r\n2\r\n");
  EXPECT_EQ(c.call({"GET", "kept"}), "$1\r\n5\r\n");
  // The key nobody reads is freed by the sweep, with its deadline.
  EXPECT_TRUE(eventually([&] { return s.server().store().size() == 2; }));  // ex, kept
  EXPECT_EQ(s.server().store().deadlines(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(c.call({"GET", "ex"}), "$-1\r\n");
  EXPECT_EQ(c.call({"DEL", "ex", "px", "read"}), ":0\r\n");
  EXPECT_TRUE(eventually([&] { return s.server().store().deadlines() == 0; }));
  EXPECT_EQ(s.server().store().size(), 1u);
}

TEST(RespServer, set_option_errors) {
  TestServer s;
  Client c(s.port());
  EXPECT_EQ(c.call({"SET", "k", "v", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(c.call({"SET", "k", "v", "PX", "-5"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(c.call({"SET", "k", "v", "EX", "9223372036854775807"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(c.call({"SET", "k", "v", "EX", "1.5"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(c.call({"SET", "k", "v", "EX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(c.call({"SET", "k", "v", "EX", "1", "PX", "100"}), "-ERR syntax error\r\n");
  EXPECT_EQ(c.call({"SET", "k", "v", "NX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(c.call({"GET", "k"}), "$-1\r\n");  // none of them set anything
}

TEST(RespServer, a_thousand_pipelined_requests_are_answered_in_order_in_few_writes) {
  TestServer s;
  Client c(s.port());
  std::string batch;
  for (int i = 0; i < 500; ++i) {
    batch += cmd({"SET", "k" + std::to_string(i % 7), std::to_string(i)});
    batch += cmd({"GET", "k" + std::to_string(i % 7)});
  }
  c.send(batch);
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(c.reply(), "+OK\r\n") << i;
    ASSERT_EQ(c.reply(), bulk(std::to_string(i))) << i;
  }
  EXPECT_EQ(c.buffered(), "");
}

TEST(RespServer, end_of_input_after_pipelined_requests_answers_them_then_closes) {
  TestServer s;
  Client c(s.port());
  c.send("PING\r\n" + cmd({"ECHO", "last"}) + "*2\r\n$4\r\nECHO");  // and half a request
  ::shutdown(c.fd(), SHUT_WR);
  EXPECT_EQ(c.reply(), "+PONG\r\n");
  EXPECT_EQ(c.reply(), "$4\r\nlast\r\n");
  EXPECT_TRUE(c.closed_by_server());
}

template <class Maps>
class RespPubSub : public ::testing::Test {};
using MapKinds = ::testing::Types<weft_resp::ReadyMaps, weft_resp::VecMaps>;
TYPED_TEST_SUITE(RespPubSub, MapKinds);

TYPED_TEST(RespPubSub, messages_keep_each_publishers_order_per_channel) {
  Config cfg;
  cfg.pubsub_capacity = 4096;  // the subscriber may be late; it must not be dropped here
  TestServer<TypeParam> s(cfg);
  Client sub(s.port());
  sub.send(cmd({"SUBSCRIBE", "ch0", "ch1"}));
  EXPECT_EQ(sub.reply(), sub_reply("subscribe", "ch0", 1));
  EXPECT_EQ(sub.reply(), sub_reply("subscribe", "ch1", 2));
  constexpr int publishers = 3, per_publisher = 300;
  std::atomic<int> wrong_counts{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p)
    threads.emplace_back([&, p] {
      Client pub(s.port());
      for (int i = 0; i < per_publisher; ++i)
        if (pub.call({"PUBLISH", "ch" + std::to_string(i % 2), std::to_string(p) + ":" + std::to_string(i)}) !=
            ":1\r\n")
          ++wrong_counts;
    });
  std::map<std::pair<std::string, int>, int> last;  // (channel, publisher) -> last sequence number
  for (int n = 0; n < publishers * per_publisher; ++n) {
    const std::string r = sub.reply();
    // *3 $7 message $3 chN $len p:i
    const std::string head = "*3\r\n$7\r\nmessage\r\n$3\r\n";
    ASSERT_EQ(r.substr(0, head.size()), head) << r;
    const std::string ch = r.substr(head.size(), 3);
    const std::string payload = r.substr(r.find("\r\n", head.size() + 5) + 2);
    const int p = std::stoi(payload);
    const int i = std::stoi(payload.substr(payload.find(':') + 1));
    ASSERT_EQ(ch, "ch" + std::to_string(i % 2));
    auto [it, fresh] = last.try_emplace({ch, p}, i);
    if (!fresh) {
      ASSERT_EQ(i, it->second + 2) << "publisher " << p << " on " << ch;  // in order, none lost
      it->second = i;
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong_counts.load(), 0);
  EXPECT_EQ(last.size(), 6u);
  for (auto& [k, i] : last) EXPECT_GE(i, per_publisher - 2);
}

TYPED_TEST(RespPubSub, psubscribe_delivers_pmessages_for_matching_channels) {
  TestServer<TypeParam> s;
  Client sub(s.port());
  Client pub(s.port());
  sub.send(cmd({"PSUBSCRIBE", "news.*", "h[ae]llo", "x\\*y"}));
  EXPECT_EQ(sub.reply(), sub_reply("psubscribe", "news.*", 1));
  EXPECT_EQ(sub.reply(), sub_reply("psubscribe", "h[ae]llo", 2));
  EXPECT_EQ(sub.reply(), sub_reply("psubscribe", "x\\*y", 3));
  sub.send(cmd({"SUBSCRIBE", "hello"}));
  EXPECT_EQ(sub.reply(), sub_reply("subscribe", "hello", 4));
  // Each message is read before the next is published: messages of two channels or patterns
  // come from two streams of the map, whose order between them is not the publishing order
  // (within one channel or pattern it is).
  EXPECT_EQ(pub.call({"PUBLISH", "news.tech", "m1"}), ":1\r\n");
  EXPECT_EQ(sub.reply(), "*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$9\r\nnews.tech\r\n$2\r\nm1\r\n");
  EXPECT_EQ(pub.call({"PUBLISH", "news", "none"}), ":0\r\n");
  EXPECT_EQ(pub.call({"PUBLISH", "hillo", "none"}), ":0\r\n");
  EXPECT_EQ(pub.call({"PUBLISH", "x*y", "m2"}), ":1\r\n");
  EXPECT_EQ(sub.reply(), "*4\r\n$8\r\npmessage\r\n$4\r\nx\\*y\r\n$3\r\nx*y\r\n$2\r\nm2\r\n");
  EXPECT_EQ(pub.call({"PUBLISH", "hello", "m3"}), ":2\r\n");  // the channel and the pattern
  // The two copies of m3, in either order.
  const std::string a = sub.reply(), b = sub.reply();
  const std::string as_channel = message("hello", "m3");
  const std::string as_pattern = "*4\r\n$8\r\npmessage\r\n$8\r\nh[ae]llo\r\n$5\r\nhello\r\n$2\r\nm3\r\n";
  EXPECT_TRUE((a == as_channel && b == as_pattern) || (a == as_pattern && b == as_channel)) << a << b;
  sub.send(cmd({"PUNSUBSCRIBE", "news.*", "not-subscribed"}));
  EXPECT_EQ(sub.reply(), sub_reply("punsubscribe", "news.*", 3));
  EXPECT_EQ(sub.reply(), sub_reply("punsubscribe", "not-subscribed", 3));
  EXPECT_EQ(pub.call({"PUBLISH", "news.tech", "m4"}), ":0\r\n");
  sub.send(cmd({"PUNSUBSCRIBE"}));  // all the others (either order)
  for (int n = 2; n >= 1; --n) {
    const std::string r = sub.reply();
    EXPECT_TRUE(r == sub_reply("punsubscribe", "h[ae]llo", n) || r == sub_reply("punsubscribe", "x\\*y", n)) << r;
  }
  sub.send(cmd({"PUNSUBSCRIBE"}));  // none left
  EXPECT_EQ(sub.reply(), "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:1\r\n");
  EXPECT_EQ(s.server().pubsub().pattern_count(), 0u);
  EXPECT_EQ(s.server().pubsub().channel_count(), 1u);
}

TYPED_TEST(RespPubSub, ten_thousand_channels_subscribed_then_all_unsubscribed) {
  Config cfg;
  cfg.pubsub_capacity = 4;  // 10,000 rings
  TestServer<TypeParam> s(cfg);
  Client sub(s.port());
  Client pub(s.port());
  constexpr int n = 10'000;
  std::string req;
  weft_resp::put_array_header(req, n + 1);
  weft_resp::put_bulk(req, "SUBSCRIBE");
  for (int i = 0; i < n; ++i) weft_resp::put_bulk(req, "c" + std::to_string(i));
  sub.send(req);
  for (int i = 0; i < n; ++i) ASSERT_EQ(sub.reply(), sub_reply("subscribe", "c" + std::to_string(i), i + 1));
  EXPECT_EQ(s.server().pubsub().channel_count(), std::size_t{n});
  EXPECT_EQ(pub.call({"PUBLISH", "c4321", "hi"}), ":1\r\n");
  EXPECT_EQ(sub.reply(), message("c4321", "hi"));
  // One channel among the 10,000, out and back in.
  sub.send(cmd({"UNSUBSCRIBE", "c17"}));
  EXPECT_EQ(sub.reply(), sub_reply("unsubscribe", "c17", n - 1));
  EXPECT_EQ(pub.call({"PUBLISH", "c17", "x"}), ":0\r\n");
  sub.send(cmd({"SUBSCRIBE", "c17"}));
  EXPECT_EQ(sub.reply(), sub_reply("subscribe", "c17", n));
  sub.send(cmd({"UNSUBSCRIBE"}));
  std::vector<bool> seen(n);
  for (int left = n - 1; left >= 0; --left) {
    const std::string r = sub.reply();
    const std::string tail = ":" + std::to_string(left) + "\r\n";
    ASSERT_EQ(r.substr(r.size() - tail.size()), tail);
    const std::size_t name_at = r.find("\r\nc") + 3;
    const int i = std::stoi(r.substr(name_at));
    ASSERT_FALSE(seen[static_cast<std::size_t>(i)]);
    seen[static_cast<std::size_t>(i)] = true;
  }
  EXPECT_EQ(s.server().pubsub().channel_count(), 0u);
  EXPECT_EQ(sub.call({"GET", "k"}), "$-1\r\n");  // out of subscribed mode
}

TEST(RespServer, subscribed_mode_allows_only_pubsub_commands) {
  TestServer s;
  Client c(s.port());
  EXPECT_EQ(c.call({"SUBSCRIBE", "a"}), sub_reply("subscribe", "a", 1));
  EXPECT_EQ(c.call({"GET", "k"}),
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in "
            "this context\r\n");
  EXPECT_EQ(c.call({"CONFIG", "GET", "save"}),
            "-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
            "allowed in this context\r\n");
  EXPECT_EQ(c.call({"PING"}), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  EXPECT_EQ(c.call({"PING", "x"}), "*2\r\n$4\r\npong\r\n$1\r\nx\r\n");
  EXPECT_EQ(c.call({"RESET"}), "+RESET\r\n");
  EXPECT_EQ(c.call({"PING"}), "+PONG\r\n");
  EXPECT_EQ(s.server().pubsub().channel_count(), 0u);
  EXPECT_EQ(c.call({"UNSUBSCRIBE"}), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
}

TEST(RespServer, protocol_errors_are_answered_then_closed) {
  Config cfg;
  cfg.limits.max_bulk = 1024;
  TestServer s(cfg);
  const std::pair<const char*, const char*> cases[] = {
      {"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
      {"ECHO \"x\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      // Oversized: rejected at the header, the 2,000 bytes are never sent.
      {"*2\r\n$3\r\nSET\r\n$2000\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
  };
  for (auto [in, want] : cases) {
    Client c(s.port());
    c.send(std::string("PING\r\n") + in + "PING\r\n");  // the request before is answered, none after
    EXPECT_EQ(c.reply(), "+PONG\r\n");
    EXPECT_EQ(c.reply(), want);
    EXPECT_TRUE(c.closed_by_server());
  }
  EXPECT_EQ(s.stats().protocol_errors.load(), std::size(cases));
  // An inline line that never ends is cut at 64 KiB, not buffered for ever.
  Client c(s.port());
  c.send(std::string(70'000, 'a'));
  EXPECT_EQ(c.reply(), "-ERR Protocol error: too big inline request\r\n");
  EXPECT_TRUE(c.closed_by_server());
}

TEST(RespServer, a_stalled_half_request_does_not_hold_up_others_and_times_out) {
  Config cfg;
  cfg.idle_timeout = std::chrono::milliseconds(400);
  TestServer s(cfg);
  Client stalled(s.port());
  stalled.send("*2\r\n$3\r\nGET\r\n$5\r\nab");
  // The other client's last request comes well after the stalled one's, so that its own
  // idle deadline is not due when the stalled one is closed (under load the margin was a
  // few ms and the final PING could find it closed too).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Client other(s.port());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(other.call({"ECHO", std::to_string(i)}), bulk(std::to_string(i)));
  EXPECT_TRUE(stalled.closed_by_server());  // the idle timeout, long after the others were served
  EXPECT_EQ(s.stats().idle_closed.load(), 1u);
  EXPECT_EQ(other.call({"PING"}), "+PONG\r\n");  // it talks: not idle
}

TEST(RespServer, a_client_that_never_reads_stops_being_read_and_others_are_served) {
  Config cfg;
  cfg.max_output = 256 << 10;
  TestServer s(cfg);
  Client setup(s.port());
  EXPECT_EQ(setup.call({"SET", "big", std::string(64 << 10, 'v')}), "+OK\r\n");
  Client greedy(s.port());
  ::fcntl(greedy.fd(), F_SETFL, ::fcntl(greedy.fd(), F_GETFL) | O_NONBLOCK);
  // 10M requests of 9 bytes would be answered with 640 GiB: the server must stop reading
  // them (what it reads before it stops, and the socket buffers, are a few MiB).
  const std::string get = "GET big\r\n";
  std::string chunk;
  for (int i = 0; i < 1000; ++i) chunk += get;
  std::size_t sent = 0;
  const std::size_t total = 10'000'000 * get.size();
  int stuck_rounds = 0;
  while (sent < total && stuck_rounds < 200) {
    const ssize_t n = ::send(greedy.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      stuck_rounds = 0;
    } else {
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
      ++stuck_rounds;  // the socket buffers are full: wait a little for the server to read
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  EXPECT_LT(sent, total / 4) << "the server kept reading requests whose replies nobody reads";
  // Everyone else is served meanwhile.
  Client other(s.port());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(other.call({"ECHO", "x"}), "$1\r\nx\r\n");
  EXPECT_EQ(s.stats().clients.load(), 3u);
  greedy.close();  // with unread data: a reset; the server's write fails and the task ends
  EXPECT_TRUE(eventually([&] { return s.stats().clients.load() == 2; }));
}

TEST(RespServer, a_subscriber_that_does_not_read_is_closed) {
  Config cfg;
  cfg.pubsub_output_limit = 256 << 10;
  cfg.pubsub_capacity = 16;
  TestServer s(cfg);
  Client slow(s.port());
  EXPECT_EQ(slow.call({"SUBSCRIBE", "ch"}), sub_reply("subscribe", "ch", 1));
  Client fast(s.port());
  fast.send(cmd({"SUBSCRIBE", "ch"}));
  EXPECT_EQ(fast.reply(), sub_reply("subscribe", "ch", 1));  // its own count
  Client pub(s.port());
  const std::string payload(16 << 10, 'p');
  int published = 0;
  std::string r;
  // Until the slow one is dropped (the fast one reads along, so it is never behind).
  for (; published < 100'000; ++published) {
    r = pub.call({"PUBLISH", "ch", payload});
    if (r != ":2\r\n") break;
    ASSERT_TRUE(fast.reply() == message("ch", payload)) << "message " << published;
  }
  EXPECT_EQ(r, ":1\r\n") << "after " << published << " messages";
  ASSERT_TRUE(fast.reply() == message("ch", payload));  // the last one reached only it
  EXPECT_EQ(s.stats().slow_subscribers.load(), 1u);
  EXPECT_TRUE(slow.closed_by_server());
  EXPECT_EQ(pub.call({"PUBLISH", "ch", "after"}), ":1\r\n");
  EXPECT_EQ(fast.reply(), message("ch", "after"));
}

TEST(RespServer, a_subscriber_that_falls_a_ring_behind_is_closed) {
  Config cfg;
  cfg.pubsub_capacity = 1;
  // One worker: the publisher's 100 pipelined PUBLISHes all run before the subscriber's task
  // runs again, so it finds its ring overwritten (broadcast's Lagged) whatever the timing.
  TestServer s(cfg, 1);
  Client sub(s.port());
  EXPECT_EQ(sub.call({"SUBSCRIBE", "ch"}), sub_reply("subscribe", "ch", 1));
  Client pub(s.port());
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += cmd({"PUBLISH", "ch", std::to_string(i)});
  pub.send(batch);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(pub.reply(), ":1\r\n") << i;  // it was subscribed throughout
  EXPECT_TRUE(sub.closed_by_server());
  EXPECT_EQ(s.stats().slow_subscribers.load(), 1u);
  EXPECT_TRUE(eventually([&] { return s.server().pubsub().channel_count() == 0; }));
  EXPECT_EQ(pub.call({"PUBLISH", "ch", "later"}), ":0\r\n");
}

TEST(RespServer, the_client_limit_turns_extra_clients_away_with_an_error) {
  Config cfg;
  cfg.max_clients = 2;
  TestServer s(cfg);
  auto a = std::make_unique<Client>(s.port());
  Client b(s.port());
  EXPECT_EQ(a->call({"PING"}), "+PONG\r\n");
  EXPECT_EQ(b.call({"PING"}), "+PONG\r\n");
  Client c(s.port());
  EXPECT_EQ(c.reply(), "-ERR max number of clients reached\r\n");
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(s.stats().rejected.load(), 1u);
  a.reset();
  EXPECT_TRUE(eventually([&] { return s.stats().clients.load() == 1; }));
  Client d(s.port());
  EXPECT_EQ(d.call({"PING"}), "+PONG\r\n");
}

TEST(RespServer, shutdown_closes_live_connections_and_returns) {
  TestServer s;
  Client idle(s.port());
  Client half(s.port());
  Client sub(s.port());
  EXPECT_EQ(idle.call({"PING"}), "+PONG\r\n");
  half.send("*2\r\n$4\r\nECHO\r\n$9\r\nabc");
  EXPECT_EQ(sub.call({"SUBSCRIBE", "x"}), sub_reply("subscribe", "x", 1));
  s.stop();  // returns only once run() has returned
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_TRUE(half.closed_by_server());
  EXPECT_TRUE(sub.closed_by_server());
  EXPECT_EQ(s.stats().clients.load(), 0u);
  EXPECT_EQ(s.server().pubsub().channel_count(), 0u);
}

TEST(RespServer, shutdown_aborts_connections_that_cannot_drain_within_the_grace_period) {
  Config cfg;
  cfg.shutdown_grace = std::chrono::milliseconds(200);
  cfg.max_output = 64 << 10;
  TestServer s(cfg);
  Client setup(s.port());
  EXPECT_EQ(setup.call({"SET", "big", std::string(1 << 20, 'v')}), "+OK\r\n");
  Client stuck(s.port());
  std::string many;
  for (int i = 0; i < 64; ++i) many += "GET big\r\n";
  stuck.send(many);  // 64 MiB of replies it never reads: its task waits on its write
  EXPECT_TRUE(eventually([&] { return s.stats().commands.load() >= 2; }));
  s.stop();
  EXPECT_EQ(s.stats().clients.load(), 0u);
  EXPECT_TRUE(stuck.closed_by_server());
}

}  // namespace
