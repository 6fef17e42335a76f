// The RESP2 codec (bench/resp/resp.hpp): the parser on every request shape, every error,
// every split of the input, and its limits; the encoders; redis's glob matcher.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "resp.hpp"

namespace {

using weft_resp::Command;
using weft_resp::Limits;
using weft_resp::Parser;
using Status = Parser::Status;

struct Parsed {
  std::vector<Command> commands;
  std::string error;            // empty: no error
  std::size_t unconsumed = 0;   // bytes left over (an incomplete request)
};

// Feeds `in` to a parser in chunks of `chunk` bytes, as a connection would (appending each
// read to what was left), and collects what it parsed.
Parsed feed(std::string_view in, std::size_t chunk, Limits limits = {}) {
  Parser p(limits);
  Parsed out;
  std::string buf;
  for (std::size_t at = 0; at < in.size() || at == 0; at += chunk) {
    buf.append(in.substr(at, chunk));
    for (;;) {
      Command c;
      const auto r = p.parse(buf, c);
      buf.erase(0, r.consumed);
      if (r.status == Status::complete) {
        out.commands.push_back(std::move(c));
        continue;
      }
      if (r.status == Status::error) {
        out.error = p.error();
        return out;
      }
      break;
    }
    if (in.empty()) break;
  }
  out.unconsumed = buf.size();
  return out;
}

Parsed parse_all(std::string_view in, Limits limits = {}) { return feed(in, in.size() + 1, limits); }

TEST(RespParser, multibulk_request) {
  const auto r = parse_all("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nxy\r\n");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0], (Command{"SET", "k", "v\r\nxy"}));  // bulk payloads may hold CRLF
  EXPECT_EQ(r.unconsumed, 0u);
}

TEST(RespParser, binary_and_empty_bulks) {
  static constexpr char raw[] = "*2\r\n$0\r\n\r\n$3\r\n\0\xff\n\r\n";
  const std::string in(raw, sizeof raw - 1);
  const auto r = parse_all(in);
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0], (Command{"", std::string("\0\xff\n", 3)}));
}

TEST(RespParser, inline_requests_split_as_redis_does) {
  const auto r = parse_all("PING\r\nECHO hello\n  SET  \"a b\" 'c d'\r\n\r\nECHO \"\\x41\\n\\\"\" 'it\\'s'\r\n");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.commands.size(), 4u);  // the empty line is skipped
  EXPECT_EQ(r.commands[0], (Command{"PING"}));
  EXPECT_EQ(r.commands[1], (Command{"ECHO", "hello"}));
  EXPECT_EQ(r.commands[2], (Command{"SET", "a b", "c d"}));
  EXPECT_EQ(r.commands[3], (Command{"ECHO", "A\n\"", "it's"}));
}

TEST(RespParser, empty_multibulk_requests_are_skipped) {
  const auto r = parse_all("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0], (Command{"PING"}));
}

TEST(RespParser, pipelined_requests_at_every_split) {
  const std::string in =
      "*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n*3\r\n$3\r\nSET\r\n$2\r\nkk\r\n$10\r\n0123456789\r\n*1\r\n$4\r\nQUIT\r\n";
  const std::vector<Command> want = {{"GET", "a"}, {"PING"}, {"SET", "kk", "0123456789"}, {"QUIT"}};
  for (std::size_t chunk = 1; chunk <= in.size(); ++chunk) {
    const auto r = feed(in, chunk);
    EXPECT_EQ(r.error, "") << "chunk " << chunk;
    EXPECT_EQ(r.commands, want) << "chunk " << chunk;
    EXPECT_EQ(r.unconsumed, 0u) << "chunk " << chunk;
  }
  // Split in two at every byte: the first part alone leaves a request incomplete, never wrong.
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    Parser p;
    std::string buf(in.substr(0, cut));
    std::vector<Command> got;
    for (int part = 0; part < 2; ++part) {
      if (part == 1) buf += in.substr(cut);
      for (;;) {
        Command c;
        const auto r = p.parse(buf, c);
        buf.erase(0, r.consumed);
        ASSERT_NE(r.status, Status::error) << "cut " << cut << ": " << p.error();
        if (r.status == Status::incomplete) break;
        got.push_back(std::move(c));
      }
    }
    EXPECT_EQ(got, want) << "cut " << cut;
  }
}

// The server keeps one Command for every request (the parser takes its strings back for
// their buffers): each result is exactly its request, whatever the previous one held, was
// moved from or grew to, across sizes that the parser keeps and ones it drops.
TEST(RespParser, one_command_reused_for_every_request) {
  const std::string big(100000, 'v');
  const std::vector<Command> requests = {
      {"SET", "key:__rand_int__", "xxx"},
      {"GET", "key:__rand_int__"},
      {"SET", "k", big},
      {"PING"},
      {"MSET", "a", "1", "b", "2", "c", "3"},
      {"ECHO", ""},
      {"GET", "a-key-longer-than-the-small-string-buffer-of-libstdc++"},
  };
  std::string wire;
  for (const auto& r : requests) weft_resp::put_command(wire, r);
  wire += "PING inline\r\n";
  weft_resp::put_command(wire, requests[1]);
  Parser p;
  Command c;
  std::vector<Command> got;
  std::string_view in = wire;
  for (;;) {
    const auto r = p.parse(in, c);
    in.remove_prefix(r.consumed);
    if (r.status != Parser::Status::complete) break;
    got.push_back(c);
    if (c.size() > 2) c[2] = std::string();  // moved from, as SET's value is
  }
  ASSERT_TRUE(in.empty());
  std::vector<Command> want = requests;
  want.push_back({"PING", "inline"});
  want.push_back(requests[1]);
  EXPECT_EQ(got, want);
}

TEST(RespParser, incomplete_input_keeps_only_the_unfinished_bulk) {
  Parser p;
  Command c;
  // The header lines and the first bulk are consumed; the second bulk's payload waits.
  std::string in = "*2\r\n$3\r\nGET\r\n$5\r\nab";
  auto r = p.parse(in, c);
  EXPECT_EQ(r.status, Status::incomplete);
  EXPECT_EQ(in.substr(r.consumed), "ab");
  EXPECT_TRUE(p.in_request());
  r = p.parse("abcde\r\n", c);
  EXPECT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.consumed, 7u);
  EXPECT_EQ(c, (Command{"GET", "abcde"}));
  EXPECT_FALSE(p.in_request());
}

struct ErrorCase {
  const char* input;
  const char* error;
};

TEST(RespParser, every_protocol_error_has_redis_text) {
  Limits small;
  small.max_bulk = 16;
  small.max_args = 4;
  small.max_command = 24;
  small.max_inline = 32;
  const ErrorCase cases[] = {
      {"*x\r\n", "Protocol error: invalid multibulk length"},
      {"*\r\n", "Protocol error: invalid multibulk length"},
      {"*01\r\n", "Protocol error: invalid multibulk length"},
      {"*+1\r\n", "Protocol error: invalid multibulk length"},
      {"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
      {"*5\r\n", "Protocol error: invalid multibulk length"},  // more than max_args
      {"*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'"},
      {"*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$17\r\n", "Protocol error: invalid bulk length"},  // more than max_bulk: at the header
      {"*2\r\n$16\r\n0123456789abcdef\r\n$9\r\n", "Protocol error: request larger than 24 bytes"},
      {"*1\r\n$4\r\nPINGxx", "Protocol error: bulk string not followed by CRLF"},
      {"*1\rx", "Protocol error: multibulk length not followed by CRLF"},
      {"*1\r\n$4\rx", "Protocol error: bulk length not followed by CRLF"},
      {"ECHO \"unbalanced\r\n", "Protocol error: unbalanced quotes in request"},
      {"ECHO 'a'b\r\n", "Protocol error: unbalanced quotes in request"},
      {"PING 0123456789012345678901234567890123456789", "Protocol error: too big inline request"},
      {"*1111111111111111111111111111111111111111", "Protocol error: too big mbulk count string"},
      {"*1\r\n$1111111111111111111111111111111111111111", "Protocol error: too big bulk count string"},
  };
  for (const auto& c : cases) {
    const auto r = parse_all(c.input, small);
    EXPECT_EQ(r.error, c.error) << "input: " << c.input;
    EXPECT_TRUE(r.commands.empty()) << "input: " << c.input;
  }
}

TEST(RespParser, an_error_sticks) {
  Parser p;
  Command c;
  EXPECT_EQ(p.parse("*1\r\n$x\r\n", c).status, Status::error);
  const auto r = p.parse("PING\r\n", c);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(RespParser, limits_are_inclusive) {
  Limits l;
  l.max_bulk = 4;
  l.max_args = 2;
  l.max_inline = 8;
  EXPECT_EQ(parse_all("*2\r\n$4\r\nabcd\r\n$4\r\nefgh\r\n", l).commands.size(), 1u);
  EXPECT_EQ(parse_all("ECHO abc\r\n", l).commands.size(), 1u);  // 8 bytes, the CRLF not counted
  EXPECT_EQ(parse_all("ECHO abcd\n", l).error, "Protocol error: too big inline request");
  // A long line that has not ended yet is rejected once it passes the limit, not buffered.
  EXPECT_EQ(parse_all("ECHO abcd", l).error, "Protocol error: too big inline request");
  EXPECT_EQ(parse_all("ECHO abc", l).unconsumed, 8u);
}

TEST(RespParser, parse_integer_is_string2ll) {
  std::int64_t v = 0;
  EXPECT_TRUE(weft_resp::parse_integer("0", v) && v == 0);
  EXPECT_TRUE(weft_resp::parse_integer("-12", v) && v == -12);
  EXPECT_TRUE(weft_resp::parse_integer("9223372036854775807", v) && v == INT64_MAX);
  for (const char* bad : {"", "-", "-0", "01", "+1", " 1", "1 ", "9223372036854775808", "1x"})
    EXPECT_FALSE(weft_resp::parse_integer(bad, v)) << bad;
}

TEST(RespEncode, every_reply_type) {
  std::string out;
  weft_resp::put_simple(out, "OK");
  weft_resp::put_error(out, "ERR bad\r\nthing");
  weft_resp::put_integer(out, -42);
  weft_resp::put_bulk(out, "a\r\nb");
  weft_resp::put_null_bulk(out);
  weft_resp::put_array_header(out, 2);
  weft_resp::put_command(out, {"GET", ""});
  EXPECT_EQ(out, "+OK\r\n-ERR bad  thing\r\n:-42\r\n$4\r\na\r\nb\r\n$-1\r\n*2\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(RespEncode, a_parsed_command_encodes_and_parses_back) {
  const Command c = {"SET", std::string("\0\r\n", 3), "", "\"quoted\" 'x'"};
  std::string wire;
  weft_resp::put_command(wire, c);
  const auto r = parse_all(wire);
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0], c);
}

TEST(Glob, redis_patterns) {
  struct Case {
    const char* pattern;
    const char* s;
    bool match;
  };
  const Case cases[] = {
      {"*", "", true},
      {"*", "anything", true},
      {"news.*", "news.sport", true},
      {"news.*", "news", false},
      {"h?llo", "hello", true},
      {"h?llo", "hllo", false},
      {"h[ae]llo", "hallo", true},
      {"h[ae]llo", "hillo", false},
      {"h[^e]llo", "hallo", true},
      {"h[^e]llo", "hello", false},
      {"h[a-c]llo", "hbllo", true},
      {"h[c-a]llo", "hbllo", true},  // a reversed range is swapped
      {"h[a-c]llo", "hdllo", false},
      {"a\\*b", "a*b", true},
      {"a\\*b", "axb", false},
      {"[\\]]", "]", true},
      {"a\\", "a\\", true},       // a trailing backslash is itself
      {"[abc", "b", true},         // an unterminated class ends with the pattern
      {"[]a]", "a", false},        // "[]" is an empty class, then "a]"
      {"[]a]", "]a]", false},
      {"*a*b*c", "xxaxxbxxc", true},
      {"*a*b*c", "xxaxxcxxb", false},
      {"**x", "x", true},
      {"", "x", false},
      {"", "", true},
  };
  for (const Case& c : cases) EXPECT_EQ(weft_resp::glob_match(c.pattern, c.s), c.match) << c.pattern << " ~ " << c.s;
}

TEST(Glob, a_hostile_pattern_is_not_exponential) {
  // redis's recursive matcher takes exponential time on this (CVE-2022-36021).
  const std::string pattern = std::string(40, '*') + "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
  EXPECT_FALSE(weft_resp::glob_match(pattern, std::string(10'000, 'a')));
}

}  // namespace
