#pragma once
// weft_resp: a RESP2 key-value and pub/sub server on weft (issue 13), the library behind
// weft_resp_server (main.cpp) and the tests in test/resp/.
//
//   weft_resp::Server<weft_resp::ReadyMaps> server(config);
//   net::SocketAddr at = server.bind();        // inside the runtime
//   co_await server.run();                     // until shutdown() (any thread)
//
// Commands: PING, ECHO, GET, SET [EX s | PX ms], DEL, PUBLISH, SUBSCRIBE, UNSUBSCRIBE,
// PSUBSCRIBE, PUNSUBSCRIBE, QUIT, RESET, and what redis-cli and redis-benchmark send on
// connect (CONFIG GET, CLIENT SETNAME / GETNAME / ID, COMMAND [DOCS | COUNT], SELECT 0,
// HELLO [2]). Replies, errors and pushes are redis 7.0's, byte for byte.
//
// One task per connection, owned by a weft::JoinSet in the accept loop. A connection reads,
// runs every complete request of what it read and sends all the replies in one write; while
// its unsent replies exceed Config::max_output it stops reading requests (a client that
// never reads its replies holds at most that much, plus the socket buffers). A subscribed
// connection keeps its subscriptions in a StreamMap (Maps::map: weft::StreamMap, or
// weft::VecStreamMap for the comparison) keyed by channel or pattern, and waits on the
// socket and the map at once (one leaf poll with the task's waker), so SUBSCRIBE and
// UNSUBSCRIBE of one channel among thousands are O(1) and a message costs the same whatever
// the number of subscriptions (with VecStreamMap: O(n) both).
//
// Bad input: a protocol error is answered with `-ERR Protocol error: ...`, then the
// connection is closed and a line is logged on stderr; so is a client over max_clients
// (`-ERR max number of clients reached`), a subscriber that lags more than a channel's ring
// or whose unsent messages exceed Config::pubsub_output_limit, and a client idle for
// Config::idle_timeout (when set). Nothing a client does blocks another.
//
// Shutdown: shutdown() stops the accept loop, every connection stops reading, sends what it
// has and closes; connections still open after Config::shutdown_grace are aborted. run()
// then returns.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "resp.hpp"
#include "weft/net/tcp.hpp"
#include "weft/ready_stream_map.hpp"
#include "weft/task.hpp"
#include "weft/vec_stream_map.hpp"

namespace weft_resp {

/// The StreamMap of a connection's subscriptions: the ready-set map (the default build).
struct ReadyMaps {
  template <class K, class S>
  using map = weft::StreamMap<K, S>;
  static constexpr const char* name = "StreamMap";
};
/// The scanning baseline (weft_resp_server_vec).
struct VecMaps {
  template <class K, class S>
  using map = weft::VecStreamMap<K, S>;
  static constexpr const char* name = "VecStreamMap";
};

struct Config {
  weft::net::SocketAddr bind = weft::net::SocketAddr::parse("127.0.0.1:6379");
  /// Connections served at once; one more is told so and closed.
  std::size_t max_clients = 10'000;
  /// A connection that sends nothing for this long is closed (subscribers excepted, as in
  /// redis); zero: never.
  std::chrono::milliseconds idle_timeout{0};
  /// Request limits (max_bulk is redis's proto-max-bulk-len).
  Limits limits;
  /// Unsent reply bytes above which a connection stops reading requests.
  std::size_t max_output = std::size_t{1} << 20;
  /// Unsent bytes above which a subscriber is closed as too slow (redis's
  /// client-output-buffer-limit pubsub, 32 MiB hard).
  std::size_t pubsub_output_limit = std::size_t{32} << 20;
  /// Messages a channel's ring holds: how far a subscriber may fall behind before it is
  /// closed. Each channel with subscribers holds a ring of this many slots (40 bytes each).
  std::size_t pubsub_capacity = 128;
  /// Bytes asked of each read.
  std::size_t read_chunk = std::size_t{16} << 10;
  /// How long shutdown waits for connections to send what they have.
  std::chrono::milliseconds shutdown_grace{2000};
  /// How often expired keys that nobody reads are freed.
  std::chrono::milliseconds sweep_period{100};
};

/// Counters, for the log and the tests.
struct Stats {
  std::atomic<std::size_t> clients{0};             ///< connections served now
  std::atomic<std::uint64_t> accepted{0};          ///< connections served in all
  std::atomic<std::uint64_t> rejected{0};          ///< turned away: max_clients
  std::atomic<std::uint64_t> protocol_errors{0};   ///< closed on malformed input
  std::atomic<std::uint64_t> slow_subscribers{0};  ///< closed: lagged or over the output limit
  std::atomic<std::uint64_t> idle_closed{0};       ///< closed by idle_timeout
  std::atomic<std::uint64_t> commands{0};          ///< requests run
};

class Store;
class PubSub;
struct Shared;

template <class Maps>
class Server {
 public:
  explicit Server(Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the listening socket (inside a runtime: the socket registers with it) and
  /// returns its address (the port chosen when Config::bind's port is 0). Throws
  /// std::system_error (EADDRINUSE, ...).
  weft::net::SocketAddr bind();
  /// Serves until shutdown(), then drains (see above). bind() first; the Server must outlive
  /// the task (connections share their state with it, not with the Server object).
  weft::Task<void> run();
  /// Starts the shutdown; any thread, any number of times.
  void shutdown() noexcept;

  [[nodiscard]] const Stats& stats() const noexcept;
  [[nodiscard]] const Store& store() const noexcept;
  [[nodiscard]] const PubSub& pubsub() const noexcept;

 private:
  std::shared_ptr<Shared> shared_;
  weft::net::TcpListener listener_;
};

extern template class Server<ReadyMaps>;
extern template class Server<VecMaps>;

}  // namespace weft_resp
