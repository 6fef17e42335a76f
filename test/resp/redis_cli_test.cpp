// Compatibility with redis's own client: weft_resp_server (and weft_resp_server_vec) run as
// processes, driven by redis-cli: every command, pipelining (--pipe), pub/sub message order,
// and a clean exit on SIGTERM. They fail if redis-cli is missing (tools/install-deps, run by
// tools/check, installs redis-tools).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

extern char** environ;

namespace {

bool have_redis_cli() { return std::system("command -v redis-cli >/dev/null 2>&1") == 0; }

// A child process whose stdout is a pipe read line by line.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
    out_ = ::fdopen(p[0], "r");
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_) std::fclose(out_);
  }
  /// The next line of its stdout, without the newline ("<eof>" at the end).
  std::string line() {
    char buf[4096];
    if (!std::fgets(buf, sizeof buf, out_)) return "<eof>";
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  /// Sends `sig` and returns the exit status (-1 if it died of a signal).
  int stop(int sig) {
    ::kill(pid_, sig);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
  std::FILE* out_ = nullptr;
};

// The server binary on an ephemeral port.
class Server {
 public:
  explicit Server(const char* binary, std::vector<std::string> extra = {}) : proc_(argv(binary, std::move(extra))) {
    const std::string l = proc_.line();
    const std::string prefix = "listening on 127.0.0.1:";
    if (l.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected first line: " + l);
    port_ = l.substr(prefix.size());
  }
  [[nodiscard]] const std::string& port() const { return port_; }
  int stop(int sig) { return proc_.stop(sig); }

 private:
  static std::vector<std::string> argv(const char* binary, std::vector<std::string> extra) {
    std::vector<std::string> a{binary, "--port", "0"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  Child proc_;
  std::string port_;
};

// Runs a shell command line; its stdout.
std::string sh(const std::string& cmd) {
  std::FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) throw std::runtime_error("popen");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  ::pclose(f);
  return out;
}

class RedisCli : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    // A failure, not a skip: the test command (tools/check) installs redis-tools first, so a
    // missing redis-cli means the setup is broken, and a skip would hide these tests.
    if (!have_redis_cli()) GTEST_FAIL() << "redis-cli is not installed: run tools/install-deps (redis-tools)";
  }
  std::string cli(const Server& s, const std::string& args) { return sh("redis-cli -p " + s.port() + " " + args); }
};

TEST_P(RedisCli, every_command) {
  Server s(GetParam());
  EXPECT_EQ(cli(s, "PING"), "PONG\n");
  EXPECT_EQ(cli(s, "PING hello"), "hello\n");
  EXPECT_EQ(cli(s, "ECHO 'a b'"), "a b\n");
  EXPECT_EQ(cli(s, "SET k v"), "OK\n");
  EXPECT_EQ(cli(s, "GET k"), "v\n");
  EXPECT_EQ(cli(s, "SET t v PX 50"), "OK\n");
  EXPECT_EQ(cli(s, "SET t2 v EX 100"), "OK\n");
  EXPECT_EQ(cli(s, "GET t2"), "v\n");
  usleep(100'000);  // the expiry is what is tested
  EXPECT_EQ(cli(s, "GET t"), "\n");  // nil prints as an empty line without a terminal
  EXPECT_EQ(cli(s, "DEL k t t2 nope"), "2\n");
  EXPECT_EQ(cli(s, "PUBLISH ch m"), "0\n");
  EXPECT_EQ(cli(s, "CONFIG GET save"), "save\n\n");
  EXPECT_EQ(cli(s, "CONFIG GET appendonly"), "appendonly\nno\n");
  EXPECT_EQ(cli(s, "CLIENT SETNAME me"), "OK\n");
  EXPECT_EQ(cli(s, "COMMAND DOCS"), "\n");
  EXPECT_EQ(cli(s, "SELECT 0"), "OK\n");
  EXPECT_EQ(cli(s, "FOO a 2>&1"), "ERR unknown command 'FOO', with args beginning with: 'a' \n\n");
  EXPECT_EQ(cli(s, "GET 2>&1"), "ERR wrong number of arguments for 'get' command\n\n");
  EXPECT_EQ(cli(s, "SUBSCRIBE 2>&1"), "ERR wrong number of arguments for 'subscribe' command\n\n");
  EXPECT_EQ(cli(s, "UNSUBSCRIBE"), "unsubscribe\n\n0\n");
  EXPECT_EQ(cli(s, "QUIT"), "OK\n");
  // The interactive client's start-up (COMMAND DOCS for its hints), then two commands.
  EXPECT_EQ(sh("printf 'SET i 1\\nGET i\\n' | redis-cli -p " + s.port()), "OK\n1\n");
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

TEST_P(RedisCli, pipelining_with_pipe_mode) {
  Server s(GetParam());
  std::string script = "printf '";
  for (int i = 0; i < 500; ++i) {
    const std::string n = std::to_string(i);
    script += "SET k" + n + " v" + n + "\\r\\nGET k" + n + "\\r\\n";
  }
  script += "' | redis-cli -p " + s.port() + " --pipe";
  const std::string out = sh(script);
  EXPECT_NE(out.find("errors: 0, replies: 1000"), std::string::npos) << out;
  EXPECT_EQ(cli(s, "GET k499"), "v499\n");
  EXPECT_EQ(s.stop(SIGINT), 0);
}

// RuntimeOptions::busy_poll through the server's flag: the same answers, and a clean stop
// while its worker polls; a bad value is a usage error.
TEST_P(RedisCli, busy_polling_server_answers_and_stops) {
  Server s(GetParam(), {"--busy-poll-us", "2000"});
  std::string script = "printf '";
  for (int i = 0; i < 200; ++i) script += "SET k" + std::to_string(i) + " v\\r\\nGET k" + std::to_string(i) + "\\r\\n";
  const std::string out = sh(script + "' | redis-cli -p " + s.port() + " --pipe");
  EXPECT_NE(out.find("errors: 0, replies: 400"), std::string::npos) << out;
  EXPECT_EQ(cli(s, "GET k199"), "v\n");
  EXPECT_EQ(s.stop(SIGTERM), 0);
  const std::string bad = sh(std::string(GetParam()) + " --busy-poll-us -1 2>&1; echo exit=$?");
  EXPECT_NE(bad.find("--busy-poll-us: not a number"), std::string::npos) << bad;
  EXPECT_NE(bad.find("exit=2"), std::string::npos) << bad;
}

TEST_P(RedisCli, pubsub_messages_arrive_in_order) {
  Server s(GetParam());
  Child sub({"redis-cli", "-p", s.port(), "SUBSCRIBE", "ch"});
  EXPECT_EQ(sub.line(), "subscribe");
  EXPECT_EQ(sub.line(), "ch");
  EXPECT_EQ(sub.line(), "1");  // subscribed: what is published from now on reaches it
  Child psub({"redis-cli", "-p", s.port(), "PSUBSCRIBE", "c?"});
  EXPECT_EQ(psub.line(), "psubscribe");
  EXPECT_EQ(psub.line(), "c?");
  EXPECT_EQ(psub.line(), "1");
  for (int i = 0; i < 20; ++i) ASSERT_EQ(cli(s, "PUBLISH ch m" + std::to_string(i)), "2\n");
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(sub.line(), "message");
    EXPECT_EQ(sub.line(), "ch");
    EXPECT_EQ(sub.line(), "m" + std::to_string(i));
    EXPECT_EQ(psub.line(), "pmessage");
    EXPECT_EQ(psub.line(), "c?");
    EXPECT_EQ(psub.line(), "ch");
    EXPECT_EQ(psub.line(), "m" + std::to_string(i));
  }
  EXPECT_EQ(s.stop(SIGTERM), 0);  // with the two subscribers still connected
  EXPECT_EQ(sub.line(), "<eof>");  // redis-cli exits when the server closes
}

// tools/resp-bench's fan-out load (bench/resp/fanout.cpp) against both binaries: every
// message reaches every subscriber, and the load says so (the publisher's replies count
// subscribers x messages). Keeps the benchmark's tool working; needs no redis tool.
TEST(FanoutLoad, every_message_reaches_every_subscriber_on_both_binaries) {
  for (const char* binary : {WEFT_RESP_SERVER, WEFT_RESP_SERVER_VEC}) {
    Server s(binary);
    const std::string out = sh(std::string(WEFT_RESP_FANOUT) + " --port " + s.port() +
                               " --subscribers 3 --channels 100 --messages 300 --timeout-s 60; echo exit=$?");
    EXPECT_NE(out.find("\"deliveries\": 900,"), std::string::npos) << binary << ": " << out;
    EXPECT_NE(out.find("\"receivers_counted\": 900}"), std::string::npos) << binary << ": " << out;
    EXPECT_NE(out.find("exit=0"), std::string::npos) << binary << ": " << out;
    EXPECT_EQ(s.stop(SIGTERM), 0) << binary;
  }
}

INSTANTIATE_TEST_SUITE_P(Binaries, RedisCli, ::testing::Values(WEFT_RESP_SERVER, WEFT_RESP_SERVER_VEC),
                         [](const auto& info) { return std::string(info.index == 0 ? "StreamMap" : "VecStreamMap"); });

}  // namespace
