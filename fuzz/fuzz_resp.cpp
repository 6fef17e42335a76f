// libFuzzer target: the RESP2 request parser of the RESP server (bench/resp/resp.hpp), and
// its glob matcher.
//
// The input is the byte stream a client sends. Checked on every input, with small limits so
// that each is reached:
//   - one-shot and incremental parsing agree: the input parsed whole, and fed in chunks (of
//     1 to 7 bytes, sizes from a seed derived from the input) as a connection feeds its reads,
//     give the same requests and the same error (or none), and leave the same bytes over;
//   - round trip: every request, encoded as a client encodes it (put_command) and parsed by a
//     fresh parser, comes back equal, consuming exactly the encoding;
//   - bounded memory: what is left over unparsed never exceeds one line or one bulk
//     (max_inline + max_bulk + the headers);
//   - glob: glob_match agrees with a direct port of redis's recursive stringmatchlen on a
//     pattern and a string cut from the input (short, so the reference stays fast).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "resp.hpp"

namespace {

using weft_resp::Command;
using weft_resp::Parser;

constexpr weft_resp::Limits limits{.max_bulk = 64, .max_args = 16, .max_command = 256, .max_inline = 64};

struct Outcome {
  std::vector<Command> commands;
  std::string error;
  std::size_t left = 0;
};

// Feeds `in` in chunks whose sizes come from `seed` (0: all at once).
Outcome feed(std::string_view in, std::uint32_t seed) {
  Parser p(limits);
  Outcome o;
  std::string buf;
  std::size_t at = 0;
  do {
    std::size_t chunk = in.size();
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      chunk = 1 + (seed >> 16) % 7;
    }
    buf.append(in.substr(at, chunk));
    at += std::min(chunk, in.size() - at);
    for (;;) {
      Command c;
      const auto r = p.parse(buf, c);
      WEFT_FUZZ_CHECK(r.consumed <= buf.size(), "the parser consumed more than it was given");
      buf.erase(0, r.consumed);
      if (r.status == Parser::Status::complete) {
        WEFT_FUZZ_CHECK(!c.empty(), "a complete request has a command name");
        o.commands.push_back(std::move(c));
        continue;
      }
      if (r.status == Parser::Status::error) {
        WEFT_FUZZ_CHECK(p.error().rfind("Protocol error: ", 0) == 0, "errors are protocol errors");
        o.error = p.error();
        o.left = buf.size();
        return o;
      }
      WEFT_FUZZ_CHECK(buf.size() <= limits.max_inline + limits.max_bulk + 48, "unbounded leftover");
      break;
    }
  } while (at < in.size());
  o.left = buf.size();
  return o;
}

// redis 7's util.c stringmatchlen (without nocase and the nesting limit), bytes compared
// unsigned as glob_match does.
bool reference_match(const unsigned char* p, int plen, const unsigned char* s, int slen) {
  while (plen && slen) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return true;
        while (slen) {
          if (reference_match(p + 1, plen - 1, s, slen)) return true;
          ++s;
          --slen;
        }
        return false;
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        const bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool match = false;
        for (;;) {
          if (plen >= 2 && p[0] == '\\') {
            ++p;
            --plen;
            if (p[0] == s[0]) match = true;
          } else if (plen > 0 && p[0] == ']') {
            break;
          } else if (plen == 0) {
            --p;
            ++plen;
            break;
          } else if (plen >= 3 && p[1] == '-') {
            unsigned char lo = p[0], hi = p[2];
            if (lo > hi) std::swap(lo, hi);
            p += 2;
            plen -= 2;
            if (s[0] >= lo && s[0] <= hi) match = true;
          } else if (p[0] == s[0]) {
            match = true;
          }
          ++p;
          --plen;
        }
        if (negate) match = !match;
        if (!match) return false;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (p[0] != s[0]) return false;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (plen && p[0] == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::uint32_t seed = 2166136261u;
  for (char c : in) seed = (seed ^ static_cast<unsigned char>(c)) * 16777619u;
  seed |= 1;

  const Outcome whole = feed(in, 0);
  const Outcome chunked = feed(in, seed);
  WEFT_FUZZ_CHECK(whole.commands == chunked.commands, "chunked parsing gives other requests");
  WEFT_FUZZ_CHECK(whole.error == chunked.error, "chunked parsing gives another error");
  if (whole.error.empty()) WEFT_FUZZ_CHECK(whole.left == chunked.left, "chunked parsing leaves other bytes");
  WEFT_FUZZ_TRACE("%zu requests, error '%s'", whole.commands.size(), whole.error.c_str());

  for (const Command& c : whole.commands) {
    std::string wire;
    weft_resp::put_command(wire, c);
    weft_resp::Limits roomy = limits;
    roomy.max_args = 64;  // an inline request of 64 bytes may hold more than max_args words
    Parser p(roomy);
    Command back;
    const auto r = p.parse(wire, back);
    WEFT_FUZZ_CHECK(r.status == Parser::Status::complete, "an encoded request parses");
    WEFT_FUZZ_CHECK(r.consumed == wire.size(), "an encoded request is consumed exactly");
    WEFT_FUZZ_CHECK(back == c, "an encoded request parses back to itself");
  }

  // Glob: the first bytes (up to 12) as the pattern, the next ones (up to 16) as the string.
  const std::size_t plen = std::min<std::size_t>(size / 2, 12);
  const std::string_view pattern = in.substr(0, plen);
  const std::string_view str = in.substr(plen, std::min<std::size_t>(size - plen, 16));
  const bool got = weft_resp::glob_match(pattern, str);
  const bool want = reference_match(data, static_cast<int>(plen), data + plen, static_cast<int>(str.size()));
  WEFT_FUZZ_CHECK(got == want, "glob_match differs from redis's stringmatchlen");
  return 0;
}
