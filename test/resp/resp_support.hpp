#pragma once
// Helpers of the RESP server tests: a blocking client over std sockets (with a receive
// timeout, so a server that never answers fails the test instead of hanging it), a scanner
// that finds where one RESP reply ends, and a server run in-process on an ephemeral port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "resp.hpp"
#include "server.hpp"
#include "weft/runtime.hpp"

namespace resp_test {

/// The size of the complete RESP2 value at the front of `s`, or 0 if it is not all there.
inline std::size_t reply_size(std::string_view s, std::size_t pos = 0) {
  if (pos >= s.size()) return 0;
  const std::size_t cr = s.find("\r\n", pos);
  if (cr == std::string_view::npos) return 0;
  const std::size_t line = cr + 2 - pos;
  std::int64_t n = 0;
  switch (s[pos]) {
    case '+':
    case '-':
    case ':': return line;
    case '$':
      if (!weft_resp::parse_integer(s.substr(pos + 1, cr - pos - 1), n)) throw std::runtime_error("bad bulk header");
      if (n < 0) return line;
      return s.size() - pos >= line + static_cast<std::size_t>(n) + 2 ? line + static_cast<std::size_t>(n) + 2 : 0;
    case '*': {
      if (!weft_resp::parse_integer(s.substr(pos + 1, cr - pos - 1), n)) throw std::runtime_error("bad array header");
      std::size_t at = pos + line;
      for (std::int64_t i = 0; i < n; ++i) {
        const std::size_t k = reply_size(s, at);
        if (k == 0) return 0;
        at += k;
      }
      return at - pos;
    }
    default: throw std::runtime_error("not a RESP reply: " + std::string(s.substr(pos, 40)));
  }
}

/// A command as a client sends it.
inline std::string cmd(std::initializer_list<std::string_view> args) {
  std::string out;
  weft_resp::put_array_header(out, args.size());
  for (auto a : args) weft_resp::put_bulk(out, a);
  return out;
}

/// A blocking TCP client. Reads time out after 10 s (std::runtime_error).
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
    set_timeout(std::chrono::seconds(10));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int fd() const { return fd_; }
  void set_timeout(std::chrono::milliseconds d) {
    timeval tv{static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>(d.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n < 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  /// One complete reply, as the raw bytes the server sent.
  std::string reply() {
    for (;;) {
      if (const std::size_t k = reply_size(buf_)) {
        std::string r = buf_.substr(0, k);
        buf_.erase(0, k);
        return r;
      }
      if (!fill()) throw std::runtime_error("end of stream before a complete reply; have: " + buf_);
    }
  }
  std::string call(std::initializer_list<std::string_view> args) {
    send(cmd(args));
    return reply();
  }
  /// True once the server closed the connection (reads what is left first, dropping it).
  bool closed_by_server() {
    buf_.clear();
    for (;;) {
      char tmp[65536];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;  // a reset (unread data at close) is a close too
    }
  }
  /// Bytes received and not yet returned as a reply.
  [[nodiscard]] const std::string& buffered() const { return buf_; }

 private:
  bool fill() {
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) throw std::runtime_error("timed out waiting for a reply");
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

/// A server on 127.0.0.1:<ephemeral> in a runtime of its own (2 workers by default).
template <class Maps = weft_resp::ReadyMaps>
class TestServer {
 public:
  explicit TestServer(weft_resp::Config config = {}, std::size_t workers = 2) : rt_(options(workers)) {
    config.bind = weft::net::SocketAddr::parse("127.0.0.1:0");
    server_ = std::make_unique<weft_resp::Server<Maps>>(std::move(config));
    port_ = rt_.block_on(bind(*server_));
    run_ = rt_.spawn(server_->run());
  }
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  weft_resp::Server<Maps>& server() { return *server_; }
  const weft_resp::Stats& stats() { return server_->stats(); }
  /// shutdown(), then waits for run() to return.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    server_->shutdown();
    rt_.block_on(std::move(run_)).value();  // rethrows if run() failed
  }

 private:
  static weft::RuntimeOptions options(std::size_t workers) {
    weft::RuntimeOptions o;
    o.worker_threads = workers;
    return o;
  }
  static weft::Task<std::uint16_t> bind(weft_resp::Server<Maps>& s) { co_return s.bind().port(); }
  weft::Runtime rt_;
  std::unique_ptr<weft_resp::Server<Maps>> server_;
  std::uint16_t port_ = 0;
  weft::JoinHandle<void> run_;
  bool stopped_ = false;
};

/// Waits until `cond` holds, checking every millisecond for at most 10 s: for state the
/// server changes after the client can observe anything (a counter updated as a task ends).
template <class F>
bool eventually(F cond) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace resp_test
