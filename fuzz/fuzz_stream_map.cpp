// fuzz_stream_map: VecStreamMap (the scan baseline) and ReadyStreamMap (the ready-set map) driven
// by the same operations, each checked against a model after every operation, and against each
// other where their shared contract (ready_stream_map.hpp: "API and results are those of
// VecStreamMap") says they must agree.
//
// Each key holds two scripted streams (one per map) that are told the same things: items are
// pushed into both, both are closed, both are armed to throw. The model keeps, per key and per
// map, the items that map has not delivered yet. Properties checked:
//  - every item a map yields is the oldest undelivered item of the stream under that key in
//    that map: items arrive once each, in order per key, never from a removed or replaced
//    stream (those are pushed into as well, through the "retired" operation, to catch stale
//    wakes delivering under the wrong key);
//  - a poll yields an item whenever one is queued (unless an armed stream throws first),
//    Pending only when nothing is queued and some stream is open, the end only when every
//    stream has finished; it throws only if a stream was armed, and the exception names one;
//  - after Pending (or the end, or a short batch) every pushed item was delivered or dropped
//    with a removed or replaced stream (counts and multiset digests), size() and
//    contains_key() are exact, and a later push, close or arm of a polled stream wakes the
//    map's task; in between, size() and contains_key() may lag only for finished streams;
//  - remove and replace return the stream under the key, holding exactly the undelivered items;
//  - both maps give the same kind of outcome (item, Pending, end) when neither has an armed
//    stream and both have items queued or both have none; the same batch size when they have
//    as many queued; when both are quiet they agree on size and keys, and, if they dropped the
//    same items, delivered the same multiset of (key, item);
//  - at the end every stream is closed and both maps drain to their end, everything pushed
//    delivered or dropped.
// Which stream a poll picks (VecStreamMap starts at a random index) is not checked; nor is the
// outcome when an armed stream may be polled before a ready one: either is allowed.
//
// Input: a sequence of operations (at most 512), an opcode byte (taken modulo 14), then its
// argument bytes; keys are taken modulo 8.
//   0 k        insert a fresh stream under k % 8 (replacing: the old one's unread items are
//              dropped); if k / 8 is odd, the stream wakes its poll's waker whenever it yields
//              an item or throws (as a stream with more to come may)
//   1 k        remove k
//   2 k n, 3 k n  push n % 3 + 1 items to k (if k is held and not closed)
//   4 k        close k (its streams end after their items)
//   5 k        arm k: its streams throw on their next poll (if held and not closed)
//   6, 7       poll_next both maps once
//   8 s        poll_next one map only (s % 2: 0 VecStreamMap, 1 ReadyStreamMap)
//   9 l        poll_next_many both, limit l % 6
//   10 b       poll_next both inside a cooperative budget of b % 4 units (ReadyStreamMap yields)
//   11 x       clear both (only if x % 4 == 0)
//   12         nothing: only the contains_key / size checks that follow every operation
//   13 r a     a removed stream (r picks one of the last 16) gets an item, an end or a throw (a % 3)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "weft/coop.hpp"
#include "weft/ready_stream_map.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/vec_stream_map.hpp"

namespace {

using weft_fuzz::Tally;

constexpr int kKeys = 8;
constexpr int kMaxOps = 512;
constexpr std::size_t kRetiredKept = 16;
constexpr int kVec = 0;
constexpr int kReady = 1;

/// Thrown by a Scripted stream armed to throw; names the stream.
struct StreamFailure {
  std::uint32_t stream;
};

/// A stream driven by the harness (as test/containers/stream_map_test.cpp's Scripted): queued
/// items, an end, a throw on demand. Every change wakes the waker of its last Pending poll.
struct Scripted {
  struct State {
    explicit State(std::uint32_t i) : id(i) {}
    std::uint32_t id;
    std::deque<int> items;
    bool closed = false;
    bool throw_next = false;
    bool wake_self = false;  // wakes the poll's waker before it yields an item or throws
    weft::Waker waker;  // from the last Pending poll
    void wake() { std::exchange(waker, weft::Waker()).wake(); }
  };
  std::shared_ptr<State> st;

  weft::Poll<std::optional<int>> poll_next(weft::Context& cx) {
    if (st->throw_next) {
      st->throw_next = false;
      if (st->wake_self) cx.waker().wake_by_ref();
      throw StreamFailure{st->id};
    }
    if (!st->items.empty()) {
      if (st->wake_self) cx.waker().wake_by_ref();
      int v = st->items.front();
      st->items.pop_front();
      return std::optional<int>(v);
    }
    if (st->closed) return std::optional<int>();
    st->waker = cx.waker();
    return weft::pending;
  }
};

/// A map polled by hand with a waker that records whether it was woken.
template <class Map>
struct Driven {
  Map map;
  weft::testing::WakeCounter counter;
  weft::Waker waker = counter.waker();

  auto poll_next() {
    counter.take_woken();
    weft::Context cx(waker);
    return map.poll_next(cx);
  }
  auto poll_next_many(std::vector<std::pair<int, int>>& out, std::size_t limit) {
    counter.take_woken();
    weft::Context cx(waker);
    return map.poll_next_many(cx, out, limit);
  }
  [[nodiscard]] bool woken() const noexcept { return counter.wakes() > 0; }
};

/// The streams under one key (one per map) and what each map must still deliver from them.
struct Live {
  std::shared_ptr<Scripted::State> st[2];
  std::deque<int> unread[2];  // pushed, not yet delivered by that map
  bool closed = false;
  bool armed[2] = {false, false};
  bool present[2] = {true, true};      // false once that map has surely dropped its stream
  bool registered[2] = {false, false};  // polled to Pending at that map's last quiet Pending
  /// Finished: the map may drop it whenever a poll passes by (VecStreamMap's scan).
  [[nodiscard]] bool finished(int m) const noexcept { return closed && unread[m].empty() && !armed[m]; }
};

/// What the model expects of one map's next poll.
struct Before {
  bool armed = false;       // some stream in the map will throw when polled
  std::size_t unread = 0;   // items queued in the map's streams
  std::size_t open = 0;     // streams not closed
};

enum class Outcome { item, pending, end, threw, yielded, nothing };
const char* name(Outcome o) {
  constexpr const char* names[] = {"item", "Pending", "end", "threw", "Pending (budget yield)", "nothing"};
  return names[static_cast<int>(o)];
}

class Harness {
 public:
  void run(weft_fuzz::OpReader& in) {
    for (weft_fuzz::current_op = 0; weft_fuzz::current_op < kMaxOps && in.more(); ++weft_fuzz::current_op) {
      switch (in.below(14)) {
        case 0: {
          int b = in.byte();
          insert(b % kKeys, b / kKeys % 2 == 1);
          break;
        }
        case 1: remove(in.below(kKeys)); break;
        case 2:
        case 3: {
          int k = in.below(kKeys);
          push(k, 1 + in.below(3));
          break;
        }
        case 4: close(in.below(kKeys)); break;
        case 5: arm(in.below(kKeys)); break;
        case 6:
        case 7: poll_both(-1); break;
        case 8:
          if (in.below(2) == kVec) (void)poll_one(kVec, vec_, -1);
          else (void)poll_one(kReady, ready_, -1);
          break;
        case 9: many_both(static_cast<std::size_t>(in.below(6))); break;
        case 10: poll_both(in.below(4)); break;
        case 11:
          if (in.below(4) == 0) clear();
          break;
        case 12: break;  // the checks below
        case 13: {
          int r = in.byte();
          poke_retired(r, in.below(3));
          break;
        }
      }
      check_loose(kVec, vec_);
      check_loose(kReady, ready_);
    }
    drain();
  }

 private:
  template <class F>
  void both(F&& f) {
    f(kVec, vec_);
    f(kReady, ready_);
  }

  // --- operations on the streams ---

  void insert(int k, bool wake_self) {
    WEFT_FUZZ_TRACE("insert %d%s", k, wake_self ? " (waking itself)" : "");
    Live fresh;
    for (auto& s : fresh.st) {
      s = std::make_shared<Scripted::State>(next_stream_++);
      s->wake_self = wake_self;
    }
    auto it = model_.find(k);
    Live* old = it == model_.end() ? nullptr : &it->second;
    both([&](int m, auto& d) { expect_returned(m, old, d.map.insert(k, Scripted{fresh.st[m]})); });
    if (old) retire(*old);
    model_.insert_or_assign(k, std::move(fresh));
  }

  void remove(int k) {
    WEFT_FUZZ_TRACE("remove %d", k);
    auto it = model_.find(k);
    Live* old = it == model_.end() ? nullptr : &it->second;
    both([&](int m, auto& d) { expect_returned(m, old, d.map.remove(k)); });
    if (old) {
      retire(*old);
      model_.erase(it);
    }
  }

  void clear() {
    WEFT_FUZZ_TRACE("clear");
    for (auto& [k, l] : model_) {
      for (int m = 0; m < 2; ++m)
        if (l.present[m])
          for (int v : l.unread[m]) dropped_[m].add(v);
      retire(l);
    }
    model_.clear();
    both([](int, auto& d) {
      d.map.clear();
      WEFT_FUZZ_CHECK(d.map.empty() && d.map.size() == 0, "clear empties the map");
    });
  }

  // A stream the map gave back (remove, replace) is the one under the key, with exactly the
  // items the map did not deliver; none is given back for a key the map no longer holds.
  void expect_returned(int m, Live* l, std::optional<Scripted> out) {
    if (l == nullptr || !l->present[m]) {
      WEFT_FUZZ_CHECK(!out, "a map returned a stream for a key it does not hold");
      return;
    }
    if (!out) {
      WEFT_FUZZ_CHECK(l->finished(m), "a stream with queued items (or armed) was missing from the map");
      return;
    }
    WEFT_FUZZ_CHECK(out->st == l->st[m], "remove / replace returns the stream under that key");
    WEFT_FUZZ_CHECK(out->st->items == l->unread[m], "a stream returned holds exactly the items not delivered");
    WEFT_FUZZ_CHECK(out->st->throw_next == l->armed[m], "a stream returned is armed as the model says");
    for (int v : l->unread[m]) dropped_[m].add(v);
  }

  Live* open_key(int k) {
    auto it = model_.find(k);
    if (it == model_.end() || it->second.closed) return nullptr;
    return &it->second;
  }

  void push(int k, int n) {
    Live* l = open_key(k);
    if (!l) return;
    WEFT_FUZZ_TRACE("push %d items to %d (from %d)", n, k, next_item_);
    for (int i = 0; i < n; ++i) {
      int v = next_item_++;
      pushed_.add(v);
      for (int m = 0; m < 2; ++m) {
        l->unread[m].push_back(v);
        l->st[m]->items.push_back(v);
      }
    }
    changed(*l);
  }

  void close(int k) {
    Live* l = open_key(k);
    if (!l) return;
    WEFT_FUZZ_TRACE("close %d", k);
    l->closed = true;
    for (auto& s : l->st) s->closed = true;
    changed(*l);
  }

  void arm(int k) {
    Live* l = open_key(k);
    if (!l) return;
    WEFT_FUZZ_TRACE("arm %d", k);
    for (int m = 0; m < 2; ++m) {
      l->armed[m] = true;
      l->st[m]->throw_next = true;
    }
    changed(*l);
  }

  // Wakes both streams; a map that was left Pending with this stream registered is woken.
  void changed(Live& l) {
    for (auto& s : l.st) s->wake();
    both([&](int m, auto& d) {
      if (waiting_[m] && l.registered[m])
        WEFT_FUZZ_CHECK(d.woken(), "a change to a stream polled to Pending did not wake the map's task");
    });
  }

  void retire(Live& l) {
    for (auto& s : l.st) {
      if (retired_.size() == kRetiredKept) retired_.erase(retired_.begin());
      retired_.push_back(s);
    }
  }

  // A stream no longer in either map is pushed into, closed or armed: its stale wakers fire,
  // and nothing may come of it (its items are in no model queue, its throw names no live stream).
  void poke_retired(int r, int action) {
    if (retired_.empty()) return;
    auto& s = retired_[static_cast<std::size_t>(r) % retired_.size()];
    WEFT_FUZZ_TRACE("retired stream %u: %s", s->id, action == 0 ? "push" : action == 1 ? "close" : "arm");
    if (action == 0) s->items.push_back(next_item_++);
    else if (action == 1) s->closed = true;
    else s->throw_next = true;
    s->wake();
  }

  // --- polls ---

  Before before(int m) const {
    Before b;
    for (const auto& [k, l] : model_) {
      if (!l.present[m]) continue;
      b.armed |= l.armed[m];
      b.unread += l.unread[m].size();
      b.open += !l.closed;
    }
    return b;
  }

  void deliver(int m, int k, int v) {
    WEFT_FUZZ_TRACE("  (%d, %d) from %s", k, v, m == kVec ? "vec" : "ready");
    auto it = model_.find(k);
    WEFT_FUZZ_CHECK(it != model_.end() && it->second.present[m], "an item under a key the map does not hold");
    Live& l = it->second;
    WEFT_FUZZ_CHECK(!l.armed[m], "an item from a stream that must throw first");
    WEFT_FUZZ_CHECK(!l.unread[m].empty() && l.unread[m].front() == v,
                    "items arrive once each, in order, under their own key");
    l.unread[m].pop_front();
    delivered_[m].add(v);
  }

  void caught(int m, const StreamFailure& f) {
    Live* l = nullptr;
    for (auto& [k, x] : model_)
      if (x.st[m]->id == f.stream) l = &x;
    WEFT_FUZZ_CHECK(l && l->present[m] && l->armed[m], "an exception from a stream the map holds, armed to throw");
    l->armed[m] = false;
  }

  // The map found nothing more ready: it delivered everything queued and dropped every
  // finished stream; size() and contains_key() are exact. `waiting`: it returned Pending.
  template <class D>
  void settle(int m, D& d, bool waiting) {
    for (auto it = model_.begin(); it != model_.end();) {
      Live& l = it->second;
      WEFT_FUZZ_CHECK(!l.present[m] || (l.unread[m].empty() && !l.armed[m]), "quiet with items queued or a throw armed");
      if (l.present[m] && l.closed) l.present[m] = false;
      l.registered[m] = l.present[m];
      if (!l.present[kVec] && !l.present[kReady]) {
        retire(l);
        it = model_.erase(it);
      } else {
        ++it;
      }
    }
    waiting_[m] = waiting;
    WEFT_FUZZ_CHECK(delivered_[m] + dropped_[m] == pushed_, "when quiet, every item pushed was delivered or dropped");
    std::size_t held = 0;
    for (int k = 0; k < kKeys; ++k) {
      auto it = model_.find(k);
      bool present = it != model_.end() && it->second.present[m];
      held += present;
      WEFT_FUZZ_CHECK(d.map.contains_key(k) == present, "when quiet, contains_key is exact");
    }
    WEFT_FUZZ_CHECK(d.map.size() == held, "when quiet, size is exact");
    WEFT_FUZZ_CHECK(d.map.empty() == (held == 0), "when quiet, empty is exact");
  }

  // Between quiet points a map may still hold finished streams, and only those.
  template <class D>
  void check_loose(int m, D& d) const {
    std::size_t lo = 0, hi = 0;
    for (int k = 0; k < kKeys; ++k) {
      auto it = model_.find(k);
      bool has = d.map.contains_key(k);
      if (it == model_.end() || !it->second.present[m]) {
        WEFT_FUZZ_CHECK(!has, "contains_key of a key the map does not hold");
        continue;
      }
      ++hi;
      if (!it->second.finished(m)) {
        ++lo;
        WEFT_FUZZ_CHECK(has, "contains_key of a key whose stream has not finished");
      }
    }
    WEFT_FUZZ_CHECK(lo <= d.map.size() && d.map.size() <= hi, "size counts the held streams (finished ones may linger)");
  }

  /// One poll_next of map m; `budget` >= 0: inside a cooperative budget of that many units.
  template <class D>
  Outcome poll_one(int m, D& d, int budget) {
    WEFT_FUZZ_TRACE("poll_next %s%s", m == kVec ? "vec" : "ready", budget >= 0 ? " (budget)" : "");
    const Before b = before(m);
    waiting_[m] = false;
    Outcome o;
    {
      std::optional<weft::coop::BudgetScope> scope;
      if (budget >= 0) scope.emplace(budget);
      try {
        auto p = d.poll_next();
        if (p.is_pending()) {
          o = d.woken() ? Outcome::yielded : Outcome::pending;
        } else if (auto& v = *p) {
          deliver(m, v->first, v->second);
          o = Outcome::item;
        } else {
          o = Outcome::end;
        }
      } catch (const StreamFailure& f) {
        caught(m, f);
        o = Outcome::threw;
      }
    }
    WEFT_FUZZ_TRACE("  -> %s", name(o));
    switch (o) {
      case Outcome::item:
        WEFT_FUZZ_CHECK(b.unread > 0, "an item only when one was queued");
        break;
      case Outcome::pending:
        WEFT_FUZZ_CHECK(!b.armed, "Pending although an armed stream must have thrown");
        WEFT_FUZZ_CHECK(b.unread == 0, "Pending although an item was queued");
        WEFT_FUZZ_CHECK(b.open > 0, "Pending although every stream had finished (must end)");
        settle(m, d, true);
        break;
      case Outcome::end:
        WEFT_FUZZ_CHECK(!b.armed && b.unread == 0, "the end although an item was queued or a throw armed");
        WEFT_FUZZ_CHECK(b.open == 0, "the end although a stream was open");
        settle(m, d, false);
        WEFT_FUZZ_CHECK(d.map.empty(), "the end only when the map is empty");
        break;
      case Outcome::threw:
        WEFT_FUZZ_CHECK(b.armed, "a throw only when a stream was armed");
        break;
      case Outcome::yielded:
        WEFT_FUZZ_CHECK(m == kReady && budget >= 0, "a poll woke its own task without a budget to spend");
        break;
      case Outcome::nothing:
        break;
    }
    return o;
  }

  static bool quiet(Outcome o) { return o == Outcome::pending || o == Outcome::end; }

  void poll_both(int budget) {
    const Before b0 = before(kVec), b1 = before(kReady);
    const Outcome o0 = poll_one(kVec, vec_, budget);
    const Outcome o1 = poll_one(kReady, ready_, budget);
    if (!b0.armed && !b1.armed && (b0.unread > 0) == (b1.unread > 0) && o1 != Outcome::yielded)
      WEFT_FUZZ_CHECK(o0 == o1, "both maps give the same kind of outcome");
    if (quiet(o0) && quiet(o1)) both_quiet();
  }

  /// One poll_next_many of map m; returns the outcome and the count appended.
  template <class D>
  std::pair<Outcome, std::size_t> many_one(int m, D& d, std::size_t limit) {
    WEFT_FUZZ_TRACE("poll_next_many %s limit %zu", m == kVec ? "vec" : "ready", limit);
    const Before b = before(m);
    std::vector<std::pair<int, int>> out;
    waiting_[m] = false;  // the poll forgets whether the task was woken
    if (limit == 0) {
      auto p = d.poll_next_many(out, 0);
      WEFT_FUZZ_CHECK(p.is_ready() && *p == 0 && out.empty(), "a batch of at most 0 items polls nothing");
      return {Outcome::nothing, 0};
    }
    Outcome o;
    std::size_t n = 0;
    try {
      auto p = d.poll_next_many(out, limit);
      if (p.is_pending()) {
        WEFT_FUZZ_CHECK(out.empty(), "a Pending batch appends nothing");
        o = Outcome::pending;
      } else {
        n = *p;
        WEFT_FUZZ_CHECK(n == out.size(), "a batch counts the items it appended");
        o = n == 0 ? Outcome::end : Outcome::item;
      }
    } catch (const StreamFailure& f) {
      caught(m, f);
      o = Outcome::threw;
    }
    WEFT_FUZZ_TRACE("  -> %s, %zu items", name(o), out.size());
    for (auto& [k, v] : out) deliver(m, k, v);  // items appended before a throw are delivered too
    WEFT_FUZZ_CHECK(out.size() <= limit, "a batch holds at most `limit` items");
    switch (o) {
      case Outcome::item:
        if (!b.armed) WEFT_FUZZ_CHECK(n == std::min(limit, b.unread), "a batch takes every queued item, up to the limit");
        if (n < limit) {  // the batch ended at a Pending or the end: quiet
          WEFT_FUZZ_CHECK(!b.armed && n == b.unread, "a short batch delivered everything queued");
          settle(m, d, b.open > 0);
          o = Outcome::pending;  // for the comparison: quiet
        }
        break;
      case Outcome::pending:
        WEFT_FUZZ_CHECK(!b.armed && b.unread == 0 && b.open > 0, "a Pending batch: nothing queued, a stream open");
        settle(m, d, true);
        break;
      case Outcome::end:
        WEFT_FUZZ_CHECK(!b.armed && b.unread == 0 && b.open == 0, "a batch of 0: every stream finished");
        settle(m, d, false);
        WEFT_FUZZ_CHECK(d.map.empty(), "a batch of 0 only when the map is empty");
        break;
      case Outcome::threw:
        WEFT_FUZZ_CHECK(b.armed, "a throw only when a stream was armed");
        break;
      default:
        break;
    }
    return {o, n};
  }

  void many_both(std::size_t limit) {
    const Before b0 = before(kVec), b1 = before(kReady);
    const auto [o0, n0] = many_one(kVec, vec_, limit);
    const auto [o1, n1] = many_one(kReady, ready_, limit);
    if (!b0.armed && !b1.armed && b0.unread == b1.unread)
      WEFT_FUZZ_CHECK(o0 == o1 && n0 == n1, "both maps batch the same number of items");
    if (quiet(o0) && quiet(o1)) both_quiet();
  }

  // Both maps are quiet: they hold the same keys and, if they dropped the same items (removes
  // and replaces that found both maps at the same point of a stream), delivered the same.
  void both_quiet() {
    WEFT_FUZZ_CHECK(vec_.map.size() == ready_.map.size(), "when both are quiet, both have the same size");
    for (int k = 0; k < kKeys; ++k)
      WEFT_FUZZ_CHECK(vec_.map.contains_key(k) == ready_.map.contains_key(k), "when both are quiet, both hold the same keys");
    if (dropped_[kVec] == dropped_[kReady])
      WEFT_FUZZ_CHECK(delivered_[kVec] == delivered_[kReady], "when both are quiet, both delivered the same (key, item) multiset");
  }

  // Closes every stream and polls each map to its end: everything pushed is delivered once.
  void drain() {
    weft_fuzz::current_op = -1;
    for (auto& [k, l] : model_) {
      if (l.closed) continue;
      l.closed = true;
      for (auto& s : l.st) s->closed = true;
      changed(l);
    }
    both([&](int m, auto& d) {
      const Before b = before(m);
      const std::size_t bound = b.unread + (b.armed ? model_.size() : 0) + 1;  // an item, a throw or the end each
      Outcome o = Outcome::nothing;
      for (std::size_t i = 0; i < bound && o != Outcome::end; ++i) {
        o = poll_one(m, d, -1);
        WEFT_FUZZ_CHECK(o != Outcome::pending && o != Outcome::yielded, "with every stream closed, a poll is never Pending");
      }
      WEFT_FUZZ_CHECK(o == Outcome::end, "with every stream closed, the map ends after its items");
      WEFT_FUZZ_CHECK(delivered_[m] + dropped_[m] == pushed_, "at the end, every item pushed was delivered or dropped");
    });
    if (dropped_[kVec] == dropped_[kReady])
      WEFT_FUZZ_CHECK(delivered_[kVec] == delivered_[kReady], "at the end, both delivered the same (key, item) multiset");
  }

  Driven<weft::VecStreamMap<int, Scripted>> vec_;
  Driven<weft::ReadyStreamMap<int, Scripted>> ready_;
  std::map<int, Live> model_;  // key -> its streams, while either map may hold them
  std::vector<std::shared_ptr<Scripted::State>> retired_;  // the last streams removed or replaced
  std::uint32_t next_stream_ = 0;
  int next_item_ = 0;  // items are unique: one number names one item
  Tally pushed_;
  Tally delivered_[2];
  Tally dropped_[2];
  bool waiting_[2] = {false, false};  // the map's last poll was a quiet Pending
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  weft_fuzz::OpReader in(data, size);
  Harness h;
  h.run(in);
  return 0;
}
