#pragma once
// RESP2 (the Redis serialization protocol, version 2): an incremental request parser and
// reply encoders, with no dependency on the runtime so that fuzz/fuzz_resp.cpp can drive the
// parser alone.
//
// Requests are what redis 7 accepts (networking.c, processMultibulkBuffer and
// processInlineBuffer):
//   - multibulk: `*<n>\r\n` then n times `$<len>\r\n<len bytes>\r\n` (what every client sends);
//     `*0` and negative counts are empty requests, skipped;
//   - inline: one line of words ended by `\n` (an optional `\r` before it is dropped), split as
//     redis's sdssplitargs does (spaces separate, "double" quotes with \n \r \t \b \a \\ \"
//     \xHH escapes, 'single' quotes with \'); redis-benchmark's PING_INLINE sends `PING\r\n`.
//     An empty line is skipped.
// Errors carry redis's own text ("Protocol error: invalid bulk length", ...) where redis has
// one, so clients and their tests see what they would see from redis.
//
// Memory: every length is checked against Limits when its header is read, before anything is
// buffered for it: a request that declares a bulk longer than max_bulk, more than max_args
// elements, or more than max_command bytes in all is rejected at that header. A header or
// inline line that runs past max_inline bytes without its newline is rejected too, so the
// caller never has to buffer more than max_inline bytes of a line, or one declared bulk.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft_resp {

/// One request: the command name and its arguments, as bytes (any byte may appear).
using Command = std::vector<std::string>;

struct Limits {
  /// The longest bulk string accepted (redis's proto-max-bulk-len, 512 MiB by default).
  std::size_t max_bulk = std::size_t{512} << 20;
  /// The most elements in one multibulk request (redis accepts up to INT_MAX; 1M is plenty
  /// for any real command and bounds the argument vector's header).
  std::size_t max_args = std::size_t{1} << 20;
  /// The most bytes of argument data in one request, whatever its shape (redis's
  /// client-query-buffer-limit, 1 GiB).
  std::size_t max_command = std::size_t{1} << 30;
  /// The longest inline request or header line, newline excluded (redis's
  /// PROTO_INLINE_MAX_SIZE, 64 KiB).
  std::size_t max_inline = std::size_t{64} << 10;
};

/// An incremental parser of requests. Feed it the unconsumed input; it takes what it can
/// (complete header lines and complete bulks, which it keeps until the request is whole) and
/// says how many bytes it consumed: the caller drops them and calls again with the rest
/// followed by newly read bytes. A bulk's payload is consumed only when it is complete, with
/// its CRLF, so the caller buffers at most one bulk (<= max_bulk) or one line (<= max_inline).
class Parser {
 public:
  enum class Status : std::uint8_t {
    complete,    ///< `out` holds one request
    incomplete,  ///< every byte given was looked at; call again with more
    error,       ///< a protocol error (error()); the stream cannot be resynchronised
  };
  struct Result {
    Status status;
    std::size_t consumed;  ///< bytes of the input used (drop them before the next call)
  };

  /// What the parser keeps between requests for reuse: at most this many strings, each with
  /// at most this capacity.
  static constexpr std::size_t kept_args = 64;
  static constexpr std::size_t kept_capacity = 4096;
  /// Gives back what a large request left in `c` (strings over kept_capacity, elements past
  /// kept_args), keeping the rest for reuse: the parser's own rule, for a caller that keeps
  /// its Command between requests.
  static void trim_kept(Command& c);

  explicit Parser(Limits limits = {}) noexcept : limits_(limits) {}

  /// Parses at most one request from the front of `in`. Complete: `out` holds exactly its
  /// elements (whatever `out` held is taken back: pass the same Command every time and its
  /// strings' buffers are reused). After an error every later call returns the same error
  /// without consuming anything.
  Result parse(std::string_view in, Command& out);

  /// The message of the error (starting "Protocol error: "), empty while there is none.
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }
  /// True between the header of a multibulk request and its last element (a request has
  /// started but is not complete): what an idle-timeout policy may look at.
  [[nodiscard]] bool in_request() const noexcept { return remaining_ > 0; }

 private:
  Result fail(std::string msg, std::size_t consumed);
  // Reads the length line of a multibulk count or (`bulk`) a bulk at `pos` into `v` and moves
  // `pos` past it; or the result to return (incomplete, or an error).
  std::optional<Result> read_length(std::string_view in, std::size_t& pos, bool bulk, std::int64_t& v);
  Limits limits_;
  // argv_[0, filled_): the elements of the multibulk request read so far; the rest are
  // strings kept for their buffers (at most kept_args of them, each up to kept_capacity).
  Command argv_;
  std::size_t filled_ = 0;
  std::size_t remaining_ = 0;    // elements still to read (0: between requests)
  std::int64_t bulk_len_ = -1;   // the length of the bulk whose header was read, or -1
  std::size_t command_bytes_ = 0;
  std::string error_;
};

/// Redis's string2ll: an optional '-', then digits without a leading zero ("0" alone is
/// fine; "-0", "01", "+1", " 1" and "" are not), within int64. Lengths in requests and
/// numeric arguments (EX, SELECT) are read by it.
bool parse_integer(std::string_view s, std::int64_t& v);

/// Splits an inline request line as redis's sdssplitargs does. False on unbalanced quotes
/// (or a closing quote not followed by a space).
bool split_inline(std::string_view line, Command& out);

// Reply encoders: each appends one RESP2 value to `out`.

/// `+s\r\n`. `s` must not contain CR or LF.
void put_simple(std::string& out, std::string_view s);
/// `-msg\r\n` (msg starts with its code: "ERR ...", "WRONGTYPE ..."). CR and LF in `msg`
/// (from a client's argument quoted in it) are replaced by spaces, as redis does.
void put_error(std::string& out, std::string_view msg);
/// `:n\r\n`.
void put_integer(std::string& out, std::int64_t n);
/// `$len\r\n...\r\n`.
void put_bulk(std::string& out, std::string_view s);
/// `$-1\r\n`: the null bulk string (GET of a missing key).
void put_null_bulk(std::string& out);
/// `*n\r\n`: the header of an array of n values, which the caller appends next.
void put_array_header(std::string& out, std::size_t n);
/// A command as a client sends it: an array of bulk strings.
void put_command(std::string& out, const Command& cmd);

/// Redis's glob-style pattern match (util.c stringmatchlen, as PSUBSCRIBE and KEYS use it):
/// `*` any sequence, `?` any one byte, `[abc]`, `[^abc]`, `[a-z]` classes (a reversed range
/// is swapped; an unterminated class ends at the pattern's end), `\x` the byte x literally
/// (inside and outside classes). Linear in |pattern| * |s| in the worst case (backtracking
/// goes only to the last `*`), so a hostile pattern cannot make it exponential.
bool glob_match(std::string_view pattern, std::string_view s) noexcept;

}  // namespace weft_resp
