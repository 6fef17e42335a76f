#include "resp.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

namespace weft_resp {

bool parse_integer(std::string_view s, std::int64_t& v) {
  if (s.empty()) return false;
  const std::size_t digits = s[0] == '-' ? 1 : 0;
  if (s.size() == digits) return false;
  if (s[digits] == '0' && s.size() != 1) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

namespace {

enum class Line : std::uint8_t { found, incomplete, too_long, bad_eol };

// Looks for the CRLF that ends the header line starting at `pos`; on `found`, `cr` is the
// index of its '\r'. A line longer than `max` is too long, whether or not its end arrived.
Line find_line(std::string_view in, std::size_t pos, std::size_t max, std::size_t& cr) {
  cr = in.find('\r', pos);
  if (cr == std::string_view::npos) return in.size() - pos > max ? Line::too_long : Line::incomplete;
  if (cr - pos > max) return Line::too_long;
  if (cr + 1 == in.size()) return Line::incomplete;
  return in[cr + 1] == '\n' ? Line::found : Line::bad_eol;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void Parser::trim_kept(Command& c) {
  for (std::string& a : c)
    if (a.capacity() > kept_capacity) a = std::string();
  if (c.size() > kept_args) {
    c.resize(kept_args);
    c.shrink_to_fit();
  }
}

Parser::Result Parser::fail(std::string msg, std::size_t consumed) {
  error_ = std::move(msg);
  argv_.clear();
  argv_.shrink_to_fit();
  filled_ = 0;
  return {Status::error, consumed};
}

std::optional<Parser::Result> Parser::read_length(std::string_view in, std::size_t& pos, bool bulk, std::int64_t& v) {
  // Fast path: up to 18 digits without a leading zero, then CRLF, within the limits (every
  // length real clients send). Anything else takes the general path below, which decides
  // exactly as before (errors included).
  {
    const std::size_t first = pos + 1;
    const std::size_t stop = std::min(in.size(), first + 18);
    std::size_t i = first;
    std::int64_t n = 0;
    while (i < stop && in[i] >= '0' && in[i] <= '9') n = n * 10 + (in[i++] - '0');
    const std::size_t digits = i - first;
    if (digits > 0 && digits <= limits_.max_inline && i + 1 < in.size() && in[i] == '\r' && in[i + 1] == '\n' &&
        (digits == 1 || in[first] != '0') &&
        static_cast<std::uint64_t>(n) <= (bulk ? limits_.max_bulk : limits_.max_args)) {
      v = n;
      pos = i + 2;
      return std::nullopt;
    }
  }
  const char* kind = bulk ? "bulk" : "multibulk";
  std::size_t cr = 0;
  switch (find_line(in, pos + 1, limits_.max_inline, cr)) {
    case Line::incomplete: return Result{Status::incomplete, pos};
    case Line::too_long:
      return fail(std::string("Protocol error: too big ") + (bulk ? "bulk" : "mbulk") + " count string", pos);
    case Line::bad_eol: return fail(std::string("Protocol error: ") + kind + " length not followed by CRLF", pos);
    case Line::found: break;
  }
  // A negative count is an empty request; a negative bulk length is invalid.
  const bool ok = parse_integer(in.substr(pos + 1, cr - pos - 1), v) &&
                  (bulk ? v >= 0 && static_cast<std::uint64_t>(v) <= limits_.max_bulk
                        : v <= 0 || static_cast<std::uint64_t>(v) <= limits_.max_args);
  if (!ok) return fail(std::string("Protocol error: invalid ") + kind + " length", pos);
  pos = cr + 2;
  return std::nullopt;
}

Parser::Result Parser::parse(std::string_view in, Command& out) {
  if (!error_.empty()) return {Status::error, 0};
  std::size_t pos = 0;
  for (;;) {
    if (remaining_ == 0) {
      if (pos == in.size()) return {Status::incomplete, pos};
      if (in[pos] != '*') {
        // Inline request: the line up to '\n', without the '\r' before it (a '\r' at the end
        // of what arrived so far may be the start of the CRLF: not counted either).
        const std::size_t nl = in.find('\n', pos);
        std::string_view line = in.substr(pos, nl == std::string_view::npos ? in.size() - pos : nl - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > limits_.max_inline) return fail("Protocol error: too big inline request", pos);
        if (nl == std::string_view::npos) return {Status::incomplete, pos};
        Command args;
        if (!split_inline(line, args)) return fail("Protocol error: unbalanced quotes in request", pos);
        pos = nl + 1;
        if (args.empty()) continue;  // an empty line: redis skips it
        out = std::move(args);
        return {Status::complete, pos};
      }
      std::int64_t n = 0;
      if (auto stop = read_length(in, pos, false, n)) return *stop;
      if (n <= 0) continue;  // `*0` and `*-1`: empty requests, skipped as redis does
      remaining_ = static_cast<std::size_t>(n);
      // Not n: a header may claim a million elements that never come (redis caps it too).
      argv_.reserve(std::min<std::size_t>(remaining_, 1024));
    }
    while (remaining_ > 0) {
      if (bulk_len_ < 0) {
        if (pos == in.size()) return {Status::incomplete, pos};
        if (in[pos] != '$') return fail(std::string("Protocol error: expected '$', got '") + in[pos] + "'", pos);
        std::int64_t len = 0;
        if (auto stop = read_length(in, pos, true, len)) return *stop;
        if (static_cast<std::uint64_t>(len) > limits_.max_command - command_bytes_)
          return fail("Protocol error: request larger than " + std::to_string(limits_.max_command) + " bytes", pos);
        bulk_len_ = len;
      }
      const auto len = static_cast<std::size_t>(bulk_len_);
      if (in.size() - pos < len + 2) return {Status::incomplete, pos};
      if (in[pos + len] != '\r' || in[pos + len + 1] != '\n')
        return fail("Protocol error: bulk string not followed by CRLF", pos);
      // Into a string kept from an earlier request when there is one (its buffer is reused).
      if (filled_ < argv_.size()) argv_[filled_].assign(in.data() + pos, len);
      else argv_.emplace_back(in.substr(pos, len));
      ++filled_;
      pos += len + 2;
      command_bytes_ += len;
      bulk_len_ = -1;
      --remaining_;
    }
    // Handed over by swapping strings, so that the strings of `out` (a caller that keeps one
    // Command for every request gives back the previous request's) come back here and the
    // next request is read into their buffers: no allocation per argument once warm. What
    // a large request left behind is not kept.
    out.resize(filled_);
    for (std::size_t i = 0; i < filled_; ++i) out[i].swap(argv_[i]);
    trim_kept(argv_);
    filled_ = 0;
    command_bytes_ = 0;
    return {Status::complete, pos};
  }
}

bool split_inline(std::string_view line, Command& out) {
  // sdssplitargs works on a C string: a NUL ends the line.
  line = line.substr(0, line.find('\0'));
  const std::size_t n = line.size();
  std::size_t p = 0;
  for (;;) {
    while (p < n && is_space(line[p])) ++p;
    if (p == n) return true;
    bool in_double = false, in_single = false, done = false;
    std::string cur;
    while (!done) {
      if (in_double) {
        if (p == n) return false;
        if (line[p] == '\\' && p + 3 < n && line[p + 1] == 'x' && hex_value(line[p + 2]) >= 0 &&
            hex_value(line[p + 3]) >= 0) {
          cur.push_back(static_cast<char>(hex_value(line[p + 2]) * 16 + hex_value(line[p + 3])));
          p += 3;
        } else if (line[p] == '\\' && p + 1 < n) {
          ++p;
          switch (line[p]) {
            case 'n': cur.push_back('\n'); break;
            case 'r': cur.push_back('\r'); break;
            case 't': cur.push_back('\t'); break;
            case 'b': cur.push_back('\b'); break;
            case 'a': cur.push_back('\a'); break;
            default: cur.push_back(line[p]); break;
          }
        } else if (line[p] == '"') {
          // The closing quote must be followed by a space or the end.
          if (p + 1 < n && !is_space(line[p + 1])) return false;
          done = true;
        } else {
          cur.push_back(line[p]);
        }
      } else if (in_single) {
        if (p == n) return false;
        if (line[p] == '\\' && p + 1 < n && line[p + 1] == '\'') {
          ++p;
          cur.push_back('\'');
        } else if (line[p] == '\'') {
          if (p + 1 < n && !is_space(line[p + 1])) return false;
          done = true;
        } else {
          cur.push_back(line[p]);
        }
      } else if (p == n) {
        done = true;
      } else {
        switch (line[p]) {
          case ' ':
          case '\n':
          case '\r':
          case '\t': done = true; break;
          case '"': in_double = true; break;
          case '\'': in_single = true; break;
          default: cur.push_back(line[p]); break;
        }
      }
      if (p < n) ++p;
    }
    out.push_back(std::move(cur));
  }
}

void put_simple(std::string& out, std::string_view s) {
  out += '+';
  out += s;
  out += "\r\n";
}

void put_error(std::string& out, std::string_view msg) {
  out += '-';
  for (char c : msg) out += (c == '\r' || c == '\n') ? ' ' : c;
  out += "\r\n";
}

namespace {
void put_number_line(std::string& out, char type, std::int64_t n) {
  char buf[24];
  buf[0] = type;
  const auto r = std::to_chars(buf + 1, buf + sizeof buf, n);
  out.append(buf, r.ptr);
  out += "\r\n";
}
}  // namespace

void put_integer(std::string& out, std::int64_t n) { put_number_line(out, ':', n); }

void put_bulk(std::string& out, std::string_view s) {
  put_number_line(out, '$', static_cast<std::int64_t>(s.size()));
  out += s;
  out += "\r\n";
}

void put_null_bulk(std::string& out) { out += "$-1\r\n"; }

void put_array_header(std::string& out, std::size_t n) { put_number_line(out, '*', static_cast<std::int64_t>(n)); }

void put_command(std::string& out, const Command& cmd) {
  put_array_header(out, cmd.size());
  for (const auto& a : cmd) put_bulk(out, a);
}

namespace {
// Matches the pattern token at p[i] (not '*') against the byte c; `next` is the index after
// the token.
bool match_token(std::string_view p, std::size_t i, unsigned char c, std::size_t& next) {
  const std::size_t n = p.size();
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(p[k]); };
  switch (p[i]) {
    case '?': next = i + 1; return true;
    case '[': {
      ++i;
      const bool negate = i < n && p[i] == '^';
      if (negate) ++i;
      bool match = false;
      for (;; ++i) {
        if (i >= n) {  // unterminated: the class ends with the pattern (as in redis)
          next = n;
          break;
        }
        if (p[i] == '\\' && i + 1 < n) {
          ++i;
          match |= at(i) == c;
        } else if (p[i] == ']') {
          next = i + 1;
          break;
        } else if (i + 2 < n && p[i + 1] == '-') {
          // Bytes compare unsigned here (redis compares C chars, signed on x86: a range
          // across 0x80 differs, nothing else does).
          unsigned char lo = at(i), hi = at(i + 2);
          if (lo > hi) std::swap(lo, hi);
          match |= c >= lo && c <= hi;
          i += 2;
        } else {
          match |= at(i) == c;
        }
      }
      return match != negate;
    }
    case '\\':
      if (i + 1 < n) {
        next = i + 2;
        return at(i + 1) == c;
      }
      next = i + 1;  // a trailing backslash is itself
      return c == '\\';
    default: next = i + 1; return at(i) == c;
  }
}
}  // namespace

bool glob_match(std::string_view p, std::string_view s) noexcept {
  std::size_t pi = 0, si = 0;
  // The last '*' seen (the index after it) and the string position it was tried at: on a
  // mismatch, that star swallows one more byte. Earlier stars never need to be revisited.
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      if (p[pi] == '*') {
        while (pi < p.size() && p[pi] == '*') ++pi;
        if (pi == p.size()) return true;
        star_p = pi;
        star_s = si;
        continue;
      }
      std::size_t next = 0;
      if (match_token(p, pi, static_cast<unsigned char>(s[si]), next)) {
        pi = next;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace weft_resp
