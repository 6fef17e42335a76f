// AtomicWaker (weft/sync/atomic_waker.hpp): register / wake / take, a wake before any
// register, re-registering another waker, the REGISTERING | WAKING path (a wake arriving
// while registering), the replaced waker dropped after the slot is released, exact waker
// reference counts, and register racing wake from another thread: never a lost wake-up.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "../support.hpp"
#include "parker.hpp"
#include "weft/sync/atomic_waker.hpp"
#include "weft/testing/mock_task.hpp"

namespace {
using weft::AtomicWaker;
using weft::Waker;
using weft::WakerVTable;
using weft::testing::WakeCounter;

// A single-threaded waker that counts its wakes and its live references exactly, and runs
// `on_clone` / `on_last_drop` once (to re-enter the AtomicWaker from inside its operations).
struct ProbeWaker {
  int wakes = 0;
  int refs = 0;
  std::function<void()> on_clone;
  std::function<void()> on_last_drop;

  Waker waker() {
    ++refs;
    return Waker(&vtable, this);
  }

  static ProbeWaker* self(void* d) { return static_cast<ProbeWaker*>(d); }
  static void* clone(void* d) noexcept {
    ++self(d)->refs;
    if (auto f = std::exchange(self(d)->on_clone, nullptr)) f();
    return d;
  }
  static void wake_by_ref(void* d) noexcept { ++self(d)->wakes; }
  static void drop(void* d) noexcept {
    if (--self(d)->refs == 0)
      if (auto f = std::exchange(self(d)->on_last_drop, nullptr)) f();
  }
  static void wake(void* d) noexcept {
    wake_by_ref(d);
    drop(d);
  }
  static constexpr WakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};
};


// A Context refers to its waker, so one made from a temporary would dangle (the StreamMap
// benchmark did that, and crashed once a later change moved its stack slots): it must not
// compile. One made from a named Waker does.
static_assert(!std::is_constructible_v<weft::Context, weft::Waker>);
static_assert(!std::is_constructible_v<weft::Context, const weft::Waker&&>);
static_assert(std::is_constructible_v<weft::Context, const weft::Waker&>);
static_assert(std::is_constructible_v<weft::Context, weft::Waker&>);

TEST(AtomicWaker, wake_with_nothing_registered_is_a_no_op) {
  AtomicWaker aw;
  aw.wake();
  Waker w = aw.take();
  std::move(w).wake();  // the no-op waker
  WakeCounter c;
  aw.register_waker(c.waker());
  aw.wake();
  EXPECT_EQ(c.wakes(), 1) << "the slot still works";
}

TEST(AtomicWaker, register_then_wake_wakes_once) {
  AtomicWaker aw;
  WakeCounter c;
  aw.register_waker(c.waker());
  EXPECT_EQ(c.wakes(), 0);
  aw.wake();
  EXPECT_EQ(c.wakes(), 1);
  aw.wake();
  EXPECT_EQ(c.wakes(), 1) << "a wake takes the waker out of the slot";
}

// A wake with nothing registered is not remembered: the consumer registers, then checks its
// condition (as every leaf future does), so it sees what the wake announced.
TEST(AtomicWaker, wake_before_register_is_not_remembered) {
  AtomicWaker aw;
  aw.wake();
  WakeCounter c;
  aw.register_waker(c.waker());
  EXPECT_EQ(c.wakes(), 0);
  aw.wake();
  EXPECT_EQ(c.wakes(), 1);
}

TEST(AtomicWaker, reregister_with_another_waker_replaces_it) {
  AtomicWaker aw;
  ProbeWaker a, b;
  aw.register_waker(a.waker());
  EXPECT_EQ(a.refs, 1) << "the slot holds one reference (the argument's was dropped)";
  aw.register_waker(b.waker());
  EXPECT_EQ(a.refs, 0) << "the replaced waker is dropped";
  EXPECT_EQ(b.refs, 1);
  aw.wake();
  EXPECT_EQ(a.wakes, 0);
  EXPECT_EQ(b.wakes, 1);
  EXPECT_EQ(b.refs, 0) << "wake consumed the slot's reference";
}

TEST(AtomicWaker, reregister_with_the_same_waker_keeps_one) {
  AtomicWaker aw;
  ProbeWaker a;
  Waker mine = a.waker();
  for (int i = 0; i < 3; ++i) aw.register_waker(mine);
  EXPECT_EQ(a.refs, 2) << "mine, and one in the slot";
  aw.wake();
  EXPECT_EQ(a.wakes, 1);
  EXPECT_EQ(a.refs, 1);
}

TEST(AtomicWaker, take_hands_over_the_waker) {
  AtomicWaker aw;
  ProbeWaker a;
  aw.register_waker(a.waker());
  Waker taken = aw.take();
  EXPECT_EQ(a.wakes, 0) << "take does not wake";
  EXPECT_EQ(a.refs, 1) << "the slot's reference moved into `taken`";
  aw.wake();
  EXPECT_EQ(a.wakes, 0) << "the slot is empty";
  std::move(taken).wake();
  EXPECT_EQ(a.wakes, 1);
  EXPECT_EQ(a.refs, 0);
}

TEST(AtomicWaker, destruction_drops_the_registered_waker) {
  ProbeWaker a;
  {
    AtomicWaker aw;
    aw.register_waker(a.waker());
    EXPECT_EQ(a.refs, 1);
  }
  EXPECT_EQ(a.refs, 0);
  EXPECT_EQ(a.wakes, 0);
}

// A wake that arrives while register_waker writes the slot (REGISTERING | WAKING): the
// registrar wakes the waker it just stored. Made deterministic by waking from inside the
// clone that register_waker makes of its argument.
TEST(AtomicWaker, wake_while_registering_wakes_the_new_waker) {
  AtomicWaker aw;
  ProbeWaker a;
  a.on_clone = [&] { aw.wake(); };  // runs with the slot in REGISTERING
  aw.register_waker(a.waker());
  EXPECT_EQ(a.wakes, 1);
  EXPECT_EQ(a.refs, 0) << "woken and dropped: the slot does not keep it";
  aw.wake();
  EXPECT_EQ(a.wakes, 1) << "the slot is empty";
  ProbeWaker b;
  aw.register_waker(b.waker());
  aw.wake();
  EXPECT_EQ(b.wakes, 1) << "the slot is back to WAITING";
}

// "The replaced waker is dropped after the slot is released (its drop may re-enter)": a
// drop that registers another waker must find the slot free, so its waker is the one a
// later wake reaches. (Dropped while still REGISTERING, the nested register would be
// ignored as a concurrent one.)
TEST(AtomicWaker, replaced_waker_is_dropped_after_the_slot_is_released) {
  AtomicWaker aw;
  ProbeWaker old_one, new_one, from_drop;
  old_one.on_last_drop = [&] { aw.register_waker(from_drop.waker()); };
  aw.register_waker(old_one.waker());
  aw.register_waker(new_one.waker());  // replaces old_one, whose drop re-registers
  EXPECT_EQ(old_one.refs, 0);
  aw.wake();
  EXPECT_EQ(from_drop.wakes, 1);
  EXPECT_EQ(new_one.wakes, 0);
  EXPECT_EQ(new_one.refs, 0);
}

// ---- register against wake from another thread ----

// Rounds in lockstep: in round r the consumer registers (one waker, or two in a row when
// re-registering) and then reads `flag`; the other thread sets `flag` and wakes. The
// guarantee under test: if the consumer's read missed the flag, the wake must reach the
// last waker it registered (else it would sleep forever). Exact per round: a waker is
// woken at most once, and the last one exactly once whenever the flag was missed. Each
// round ends with take(), so the next starts with an empty slot.
void register_races_wake(bool reregister) {
  constexpr int rounds = 3000;
  AtomicWaker aw;
  std::atomic<bool> flag{false};
  std::atomic<int> started{-1}, woke{-1};
  std::thread waker([&] {
    for (int r = 0; r < rounds; ++r) {
      while (started.load() < r) std::this_thread::yield();
      flag.store(true);
      aw.wake();
      woke.store(r);
    }
  });
  for (int r = 0; r < rounds; ++r) {
    WakeCounter first, last;
    flag.store(false);
    started.store(r);
    if (reregister) aw.register_waker(first.waker());
    aw.register_waker(last.waker());
    const bool saw = flag.load();
    while (woke.load() < r) std::this_thread::yield();
    (void)aw.take();
    const bool ok = first.wakes() <= 1 && last.wakes() <= 1 && (saw || last.wakes() == 1);
    if (!ok) {
      ADD_FAILURE() << "round " << r << ": flag seen " << saw << ", wakes of the first waker "
                    << first.wakes() << ", of the last " << last.wakes()
                    << (saw ? "" : " (a missed flag needs exactly one: lost wake-up)");
      started.store(rounds);  // release the other thread
      break;
    }
  }
  waker.join();
}

TEST(AtomicWaker, stress_register_races_wake_exact_counts) { register_races_wake(false); }

TEST(AtomicWaker, stress_reregister_races_wake_exact_counts) { register_races_wake(true); }

// The consumer loop of a leaf future: take what is published, register, re-check, sleep.
// Several threads publish and wake. A lost wake-up leaves the consumer asleep with work
// published (a hang); every item is consumed exactly once.
TEST(AtomicWaker, stress_many_wakers_no_lost_wake_up) {
  constexpr int producers = 3, per_producer = 20000;
  weft::detail::Parker parker;
  const Waker own = Waker::from_fn([&parker] { parker.unpark(); });
  AtomicWaker aw;
  std::atomic<int> published{0};
  auto threads = weft_test::start_publishers(producers, per_producer, published, [&aw] { aw.wake(); });
  int consumed = 0;
  while (consumed < producers * per_producer) {
    int now = published.load();
    if (now > consumed) {
      consumed = now;
      continue;
    }
    aw.register_waker(own);
    if (published.load() > consumed) continue;  // the re-check after registering
    parker.park();
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(consumed, producers * per_producer);
  EXPECT_EQ(published.load(), producers * per_producer);
}

}  // namespace
