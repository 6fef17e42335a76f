#pragma once
// The timer wheel: a hierarchical timing wheel of intrusive TimerEntry nodes, after tokio's
// runtime/time/wheel (mod.rs, level.rs), itself after Varghese and Lauck, "Hashed and
// Hierarchical Timing Wheels" (SOSP 1987). The runtime's time driver owns one
// (runtime/src/driver/time_driver.hpp), under its mutex.
//
// Ticks. Time is a std::uint64_t count of ticks since the wheel's start. The wheel never
// reads a clock: whoever drives it passes `now`. The driver uses 1 tick = 100 us
// (time_driver.hpp says why); nothing in this file depends on the unit. Durations below are
// given at 1 ms per tick, tokio's unit, for comparison.
//
// Layout. `Levels` levels (6 for TimerWheel) of 64 slots. A slot of level n spans 64^n
// ticks and the whole level 64^(n+1): level 0 has 1-tick slots over 64 ticks, level 1
// 64-tick slots over 4,096 ticks, ..., level 5 has 2^30-tick (12.4 days at 1 ms) slots over
// 2^36 ticks (2.2 years). Each level keeps a 64-bit `occupied` bitmap (bit s: slot s is not
// empty), so a level's next non-empty slot is one rotate and one count-trailing-zeros.
//
// Filing. elapsed() is the tick up to which the wheel has been processed. An entry whose
// deadline is after elapsed() goes to the level of the highest 6-bit digit in which the two
// differ, into the slot given by the deadline's digit at that level. So all entries of a
// level-0 slot have the slot's tick as deadline, and an entry of a level-n slot has a
// deadline inside the slot's span. When the wheel reaches a slot's first tick it takes the
// slot's whole list and files every entry again relative to that tick: lower down
// ("cascading"), or as due if that tick is its deadline. An entry is filed at most Levels
// times. An entry whose deadline is not after elapsed() is due at once.
//
// Invariants (the tests check their consequences at every step of a random run):
//   I1. An entry in a slot has deadline > elapsed(), and its level is
//       level_for(elapsed(), deadline) for the current elapsed(): the wheel never moves
//       elapsed() to or past the first tick of a non-empty slot without processing that slot
//       (I2), and between two processings every tick shares the slot's upper digits.
//   I2. elapsed() only grows; poll moves it to the first tick of the next non-empty slot
//       (after processing it) or to `now` when no non-empty slot starts at or before `now`.
//   I3. Due entries (deadline <= elapsed()) wait in the due list, handed out first by the
//       next poll; elapsed() does not move while that list is not empty, so every due entry
//       has deadline == elapsed() (an overdue insert takes elapsed() as its deadline).
//   I4. Across levels, a non-empty slot of a lower level starts before any non-empty slot of
//       a higher one (lower-level entries lie inside elapsed()'s current slot of every higher
//       level), so the next slot to process is the first non-empty slot, at or after
//       elapsed()'s, of the lowest non-empty level.
//
// Order. Entries are handed out in nondecreasing deadline() order over the wheel's whole
// life, and entries with equal deadline() in the order of their (last) insert. Why: slots
// are processed in order of their first tick (I4); every entry a slot makes due has that
// tick as deadline; every list is FIFO (insert appends; a cascade moves a slot's list front
// to back); and two entries of equal deadline are always in the same list, since a later
// insert of that deadline can only choose a lower level once elapsed() has reached the
// earlier one's slot, i.e. after it was cascaded (I1, I2). tokio's wheel hands out slot by
// slot in the same way.
//
// Range and clamp. A deadline more than max_duration = 63 * 64^(Levels-1) ticks after
// elapsed() (2^36 - 2^30 ms = 67,645,734,912 ms, about 2.14 years, for TimerWheel) is
// clamped to elapsed() + max_duration when inserted: such a timer fires early, at the
// clamp, and deadline() says so. tokio documents a similar maximum for Sleep (2^36 - 2 ms),
// but its wheel does not clamp: it keeps the true deadline and files a far entry again each
// time its top-level slot comes round. Here a driver that needs farther deadlines
// re-inserts an entry that fires before the time its owner asked for (a sleep compares its
// Instant). Why 63 top-level slots and not 64: a top-level entry is up to one
// rotation ahead of elapsed(), so a slot index that is behind elapsed()'s one means "next
// rotation"; if an entry could land in elapsed()'s own top-level slot index (possible from
// 2^36 - 2^30 ticks ahead on), that slot would mean both "now" and "one rotation ahead",
// and the search for the next slot, which starts at elapsed()'s index, would return it
// ahead of earlier non-empty slots. (tokio's level.rs, as read, lets far deadlines land
// there; test clamp_keeps_the_top_level_unambiguous covers the case here.) `now` and
// elapsed() saturate at max_tick (2^62 ticks: 146 million years of 1 ms), so no tick
// arithmetic can overflow.
//
// Resolution (written when the driver did not exist yet; it chose 100 us ticks with
// epoll_pwait2 once the lateness of a 1 ms sleep was measured: time_driver.hpp). The driver will count 1 tick = 1 ms, as tokio does, and round a deadline up
// to the next tick, so a timer never fires early and fires at most one tick late plus the
// wake-up latency. Finer ticks were not chosen because the driver waits in epoll_wait, whose
// timeout is in milliseconds: a finer tick could not be waited for without epoll_pwait2
// (Linux 5.11) or a timerfd, and a sub-millisecond wait mostly buys the kernel's timer slack
// (50 us by default) and the scheduling latency of a loaded machine. The wheel's own cost is
// not the obstacle: the same range at a finer tick needs more levels (1 us ticks: 64^6 us is
// 19 hours, 8 levels for 2 years), i.e. more cascades for a long timer, but one cascade
// costs about 3-4 ns per timer (bench/timer_wheel.cpp, insert_fire by distance: about 10 ns
// per timer fired from level 0, 20-23 ns from levels 2-5; insert + cancel 5-12 ns at any
// level; a std::multimap 30-40 ns for either). Sub-millisecond timers can come later
// without touching this file: a driver with 1 tick = 64 us and epoll_pwait2 keeps 51 days
// of range in 6 levels (clamped beyond) or 8.9 years in 7 (BasicTimerWheel<7>).
//
// Thread-safety. The wheel is single-threaded: one thread at a time calls its methods (the
// driver: the holder of its lock), and TimerEntry's links and deadline() belong to that
// thread. An entry's state() may be read from any thread.
//
// TimerEntry states (TimerState). Only the wheel's owner changes them, inside the wheel:
//   Idle         never inserted.
//   Registered   in a slot; deadline() > elapsed().
//   PendingFire  due: in the wheel's due list, handed out by the next poll.
//   Fired        handed out by poll; the wheel holds no pointer to it any more.
//   Cancelled    taken out by cancel, or by the wheel's destruction, before it fired.
// Transitions:
//   W1 insert      Idle | Fired | Cancelled -> Registered, or PendingFire if the deadline
//                  is not after elapsed(). Registered | PendingFire -> the same at the new
//                  deadline (a reset: the entry is taken out of its list first).
//   W2 cascade     (poll) Registered -> Registered in a lower level, or -> PendingFire when
//                  the wheel reaches the entry's deadline.
//   W3 hand out    (poll) PendingFire -> Fired.
//   W4 cancel      Registered | PendingFire -> Cancelled, outcome Cancelled; any other
//                  state is left alone, outcome NotRegistered.
//   W5 wheel dies  Registered | PendingFire -> Cancelled.
// Each transition is a release store made after the wheel's last change to the entry's
// links; state() loads with acquire. So a thread that reads Fired or Cancelled knows the
// wheel no longer refers to the entry, and sees whatever its owner wrote before the store.
//
// How the rest of issue 12 builds on this:
//   - The driver owns a TimerWheel under its lock and converts an Instant to ticks as
//     ceil((t - start) / 1 ms). Before parking it asks next_expiration(): none -> epoll_wait
//     without timeout; a tick -> the milliseconds until it (0 if already due). next_expiration
//     is the first tick at which the wheel has work (a cascade or a firing), never later than
//     any deadline; a cascade fires nothing and the driver just parks again. After a wait it
//     calls take_expired(now, a batch of 32) under the lock, takes each entry's waker, and
//     wakes them after unlocking, until a batch comes back short (as tokio does).
//   - sleep / sleep_until: a future holding an entry (with its waker) that inserts it on its
//     first poll, is Ready once state() is Fired, and is reset by insert (W1 moves it).
//     Dropping it on any thread takes the driver's lock and calls cancel, whose outcome is
//     authoritative under the lock; it may skip the lock when state() is Idle, since only the
//     entry's holder inserts it. What the driver may still do with a handed-out entry after
//     W3 (take its waker) is the driver's protocol, written with it: tokio takes the waker
//     under the lock, so a canceller that took the lock never races it.
//   - timeout(d, awaitable) races a sleep with the awaitable; interval re-inserts its entry
//     at the next period and computes the missed-tick behaviour (burst, delay, skip) from
//     Instants, not from the wheel.
//   - The paused clock drives the same wheel with a virtual `now`; auto-advance sets it to
//     next_expiration() when every task is idle and polls (at most Levels cascades happen
//     before a timer fires, so an hour of virtual sleep takes a handful of steps).
//
// Complexity: insert O(1); cancel O(1); next_expiration O(Levels) (a bitmap look per level);
// poll O(Levels) per processed slot plus O(1) per entry filing, each entry filed at most
// Levels times; advancing over empty time costs nothing per tick. Memory: two pointers per
// slot (6 KiB for TimerWheel) and nothing per entry beyond TimerEntry; no allocation.
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>

namespace weft::detail {

/// Where a TimerEntry is in its life (the states and transitions are at the top of this file).
enum class TimerState : std::uint8_t { Idle, Registered, PendingFire, Fired, Cancelled };

/// What cancel did: took the entry out of the wheel (Cancelled) or found it not in the wheel
/// (NotRegistered: never inserted, already fired, or already cancelled).
enum class [[nodiscard]] CancelOutcome : std::uint8_t { Cancelled, NotRegistered };

template <unsigned Levels>
class BasicTimerWheel;
class TimerList;

/// A timer's node in a wheel. Intrusive: the wheel links it and never allocates or frees it;
/// it is a base or member of what the timer belongs to (later: a sleep's shared part, with
/// its waker). Not copyable or movable: the wheel holds its address. An entry is in at most
/// one wheel at a time, and is cancelled on the wheel it was inserted in.
class TimerEntry {
 public:
  TimerEntry() noexcept = default;
  TimerEntry(const TimerEntry&) = delete;
  TimerEntry& operator=(const TimerEntry&) = delete;
  /// An entry must be out of its wheel (fired, cancelled, or its wheel destroyed) before it
  /// is destroyed: the wheel would keep a dangling pointer, so this aborts with a message.
  ~TimerEntry() {
    // Acquire: pairs with the wheel's release store of the state, for a destructor running
    // on another thread than the wheel's owner.
    const TimerState s = state_.load(std::memory_order_acquire);
    if (s == TimerState::Registered || s == TimerState::PendingFire) {
      std::fputs("weft: a TimerEntry was destroyed while still in a timer wheel (cancel it first)\n", stderr);
      std::abort();
    }
  }

  /// Any thread. Acquire: pairs with the release store of the transition that set it.
  [[nodiscard]] TimerState state() const noexcept { return state_.load(std::memory_order_acquire); }
  /// The tick the wheel fires it at: the deadline last inserted with, clamped to
  /// [elapsed(), elapsed() + max_duration] of that moment. The wheel's owner only.
  [[nodiscard]] std::uint64_t deadline() const noexcept { return deadline_; }

 private:
  template <unsigned>
  friend class BasicTimerWheel;
  friend class TimerList;

  // The wheel's owner only: the links of the list the entry is in (a slot's or the due
  // list), its deadline, and while Registered its slot.
  TimerEntry* prev_ = nullptr;
  TimerEntry* next_ = nullptr;
  std::uint64_t deadline_ = 0;
  std::uint8_t level_ = 0;
  std::uint8_t slot_ = 0;
  // Written by the wheel's owner only, with release stores (W1-W5); read by anyone through
  // state() (acquire) and by the owner itself relaxed (it made the last store).
  std::atomic<TimerState> state_{TimerState::Idle};
};

/// A FIFO of TimerEntry (a slot's list, or the due list). The wheel's owner only.
class TimerList {
 public:
  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  void push_back(TimerEntry* e) noexcept {
    e->prev_ = tail_;
    e->next_ = nullptr;
    if (tail_ != nullptr) tail_->next_ = e;
    else head_ = e;
    tail_ = e;
  }
  TimerEntry* pop_front() noexcept {
    TimerEntry* e = head_;
    if (e != nullptr) unlink(e);
    return e;
  }
  /// `e` must be in this list.
  void unlink(TimerEntry* e) noexcept {
    if (e->prev_ != nullptr) e->prev_->next_ = e->next_;
    else head_ = e->next_;
    if (e->next_ != nullptr) e->next_->prev_ = e->prev_;
    else tail_ = e->prev_;
    e->prev_ = e->next_ = nullptr;
  }
  /// Moves the whole list out, leaving this one empty.
  TimerList take() noexcept {
    TimerList l = *this;
    head_ = tail_ = nullptr;
    return l;
  }

 private:
  TimerEntry* head_ = nullptr;
  TimerEntry* tail_ = nullptr;
};

/// The hierarchical timing wheel (see the top of this file). Levels is a parameter so that
/// tests can make the top level, its wrap-around and the clamp frequent; the runtime uses
/// TimerWheel (6 levels).
template <unsigned Levels>
class BasicTimerWheel {
  static_assert(Levels >= 1 && Levels <= 8, "1 to 8 levels of 64 slots (8 levels: 2^48 ticks)");

 public:
  static constexpr unsigned levels = Levels;
  static constexpr unsigned slot_bits = 6;
  static constexpr unsigned slots_per_level = 1u << slot_bits;
  /// The farthest a deadline can be from elapsed(): 63 slots of the top level (see Range
  /// and clamp at the top of this file).
  static constexpr std::uint64_t max_duration = std::uint64_t{slots_per_level - 1} << (slot_bits * (Levels - 1));
  /// Time stops here: a later `now` is taken as max_tick.
  static constexpr std::uint64_t max_tick = std::uint64_t{1} << 62;

  BasicTimerWheel() noexcept = default;
  BasicTimerWheel(const BasicTimerWheel&) = delete;
  BasicTimerWheel& operator=(const BasicTimerWheel&) = delete;
  /// Takes out every entry still in the wheel (W5: they become Cancelled).
  ~BasicTimerWheel() {
    auto drop_all = [](TimerList& l) {
      while (TimerEntry* e = l.pop_front()) set_state(*e, TimerState::Cancelled);
    };
    drop_all(due_);
    for (Level& lv : levels_) {
      if (lv.occupied != 0)
        for (TimerList& s : lv.slots) drop_all(s);
    }
  }

  /// The tick up to which the wheel has been processed (0 at the start).
  [[nodiscard]] std::uint64_t elapsed() const noexcept { return elapsed_; }
  /// Entries in the wheel: Registered or PendingFire.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool is_empty() const noexcept { return size_ == 0; }

  /// W1: files `e` to fire at `deadline`, clamped to [elapsed(), elapsed() + max_duration]
  /// (a deadline not after elapsed() fires at the next poll). An entry already in the wheel
  /// is moved (a reset). O(1).
  void insert(TimerEntry& e, std::uint64_t deadline) noexcept {
    if (in_wheel(e)) unlink(e);
    else ++size_;
    e.deadline_ = std::clamp(deadline, elapsed_, elapsed_ + max_duration);
    file(e, elapsed_);
  }

  /// W4: takes `e` out of the wheel if it is in it. O(1).
  CancelOutcome cancel(TimerEntry& e) noexcept {
    if (!in_wheel(e)) return CancelOutcome::NotRegistered;
    unlink(e);
    --size_;
    set_state(e, TimerState::Cancelled);
    return CancelOutcome::Cancelled;
  }

  /// The first tick at which poll has work: elapsed() if entries are due, else the first
  /// tick of the next non-empty slot (a firing, or a cascade that fires nothing); nullopt if
  /// the wheel is empty. Never later than any entry's deadline, and poll(now) for a `now`
  /// before it hands out nothing. O(Levels).
  [[nodiscard]] std::optional<std::uint64_t> next_expiration() const noexcept {
    if (!due_.empty()) return elapsed_;
    if (const std::optional<Expiration> exp = next_slot()) return exp->tick;
    return std::nullopt;
  }

  /// Advances the wheel to `now` and hands out one entry whose deadline is <= now (W3:
  /// Fired), in the order stated at the top of this file; nullptr once none is left, with
  /// elapsed() == max(elapsed(), now). A `now` before elapsed() (a clock that went back)
  /// advances nothing: only entries already due are handed out.
  TimerEntry* poll(std::uint64_t now) noexcept {
    now = std::min(now, max_tick);
    for (;;) {
      if (TimerEntry* e = due_.pop_front()) {
        --size_;
        set_state(*e, TimerState::Fired);
        return e;
      }
      const std::optional<Expiration> exp = next_slot();
      if (!exp || exp->tick > now) {
        elapsed_ = std::max(elapsed_, now);
        return nullptr;
      }
      process(*exp);
      elapsed_ = exp->tick;
    }
  }

  /// poll(now) repeated into `out` until it is full or nothing is due; returns how many.
  /// Fewer than out.size() means nothing more is due at `now`.
  std::size_t take_expired(std::uint64_t now, std::span<TimerEntry*> out) noexcept {
    std::size_t n = 0;
    while (n < out.size()) {
      TimerEntry* e = poll(now);
      if (e == nullptr) break;
      out[n++] = e;
    }
    return n;
  }

 private:
  struct Level {
    std::uint64_t occupied = 0;  // bit s: slots[s] is not empty
    std::array<TimerList, slots_per_level> slots{};
  };
  /// A slot to process and its first tick.
  struct Expiration {
    unsigned level;
    unsigned slot;
    std::uint64_t tick;
  };

  /// The level for `when` relative to `base` (< when): the highest 6-bit digit in which they
  /// differ. A top-level deadline less than one rotation ahead may differ above the top digit
  /// (a carry into the next rotation); it still belongs to the top level.
  static unsigned level_for(std::uint64_t base, std::uint64_t when) noexcept {
    const std::uint64_t masked = (base ^ when) | (slots_per_level - 1);
    const unsigned level = static_cast<unsigned>(63 - std::countl_zero(masked)) / slot_bits;
    return std::min(level, Levels - 1);
  }
  static unsigned slot_for(std::uint64_t when, unsigned level) noexcept {
    return static_cast<unsigned>((when >> (slot_bits * level)) & (slots_per_level - 1));
  }

  /// The owner's own reads of the state. Relaxed: only the owner stores it.
  static TimerState owner_state(const TimerEntry& e) noexcept { return e.state_.load(std::memory_order_relaxed); }
  static bool in_wheel(const TimerEntry& e) noexcept {
    const TimerState s = owner_state(e);
    return s == TimerState::Registered || s == TimerState::PendingFire;
  }
  static void set_state(TimerEntry& e, TimerState s) noexcept {
    // Release: pairs with the acquire load in TimerEntry::state() (and its destructor); the
    // links were changed before this store.
    e.state_.store(s, std::memory_order_release);
  }

  /// W1 and W2: files `e` (not in any list) relative to `base`: due if its deadline is not
  /// after `base`, else into its slot.
  void file(TimerEntry& e, std::uint64_t base) noexcept {
    if (e.deadline_ <= base) {
      due_.push_back(&e);
      set_state(e, TimerState::PendingFire);
      return;
    }
    const unsigned level = level_for(base, e.deadline_);
    const unsigned slot = slot_for(e.deadline_, level);
    e.level_ = static_cast<std::uint8_t>(level);
    e.slot_ = static_cast<std::uint8_t>(slot);
    levels_[level].slots[slot].push_back(&e);
    levels_[level].occupied |= std::uint64_t{1} << slot;
    set_state(e, TimerState::Registered);
  }

  /// Takes `e` (Registered or PendingFire) out of its list.
  void unlink(TimerEntry& e) noexcept {
    if (owner_state(e) == TimerState::PendingFire) {
      due_.unlink(&e);
      return;
    }
    Level& lv = levels_[e.level_];
    TimerList& l = lv.slots[e.slot_];
    l.unlink(&e);
    if (l.empty()) lv.occupied &= ~(std::uint64_t{1} << e.slot_);
  }

  /// The next non-empty slot to process (I4: the lowest non-empty level's first one at or
  /// after elapsed()'s slot).
  std::optional<Expiration> next_slot() const noexcept {
    for (unsigned level = 0; level < Levels; ++level) {
      const std::uint64_t occupied = levels_[level].occupied;
      if (occupied == 0) continue;
      const unsigned shift = slot_bits * level;
      const unsigned now_slot = slot_for(elapsed_, level);
      const auto zeros = static_cast<unsigned>(std::countr_zero(std::rotr(occupied, static_cast<int>(now_slot))));
      const unsigned slot = (now_slot + zeros) & (slots_per_level - 1);
      const std::uint64_t level_span = std::uint64_t{slots_per_level} << shift;
      std::uint64_t tick = (elapsed_ & ~(level_span - 1)) + (std::uint64_t{slot} << shift);
      if (tick <= elapsed_) {
        // A slot behind elapsed()'s: the top level's next rotation (never elapsed()'s own
        // slot index, thanks to the clamp; never below the top level, by I1).
        assert(level == Levels - 1 && slot != now_slot);
        tick += level_span;
      }
      return Expiration{level, slot, tick};
    }
    return std::nullopt;
  }

  /// W2: processes the slot of `exp` at its first tick: every entry in it becomes due or is
  /// filed lower. The list is taken out first, so nothing filed now is seen again in this pass.
  void process(const Expiration& exp) noexcept {
    Level& lv = levels_[exp.level];
    TimerList list = lv.slots[exp.slot].take();
    lv.occupied &= ~(std::uint64_t{1} << exp.slot);
    while (TimerEntry* e = list.pop_front()) {
      // In its slot's span (I1): due at exactly the slot's first tick, or later.
      assert(e->deadline_ >= exp.tick);
      file(*e, exp.tick);
      assert(owner_state(*e) == TimerState::PendingFire || e->level_ < exp.level);
    }
  }

  std::array<Level, Levels> levels_{};
  TimerList due_;  // PendingFire entries, in the order they became due
  std::uint64_t elapsed_ = 0;
  std::size_t size_ = 0;
};

/// The runtime's wheel: 6 levels of 64 slots, 2^36 ticks (2.2 years of 1 ms), tokio's shape.
using TimerWheel = BasicTimerWheel<6>;
// Instantiated once in wheel.cpp, so the library's strict warnings see every member.
extern template class BasicTimerWheel<6>;

}  // namespace weft::detail
