// Driver (runtime/src/driver/driver.hpp): the unpark signal of a turn. An unpark before a
// turn makes it return at once; one unpark wakes one turn only (the next turn waits again,
// however many unparks came before the first); an unpark from another thread interrupts a
// turn in progress; and a ping-pong of turns and unparks loses none (exact round count).
// TimeDriver's paused park: with no timer it records the driver as parked, so a timer
// registered next asks for an unpark; with a timer it moves the clock there instead.
// In a runtime: a parked worker's turn that wakes several tasks does not unpark itself;
// busy polling (RuntimeOptions::busy_poll) sees I/O, timers and wake-ups without sleeping.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <system_error>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "driver/driver.hpp"
#include "driver/time_driver.hpp"
#include "scheduler.hpp"
#include "weft/io/async_fd.hpp"
#include "weft/sync/notify.hpp"
#include "weft/time.hpp"

namespace {
using weft::detail::Driver;
using weft::detail::TimeDriver;
using weft::detail::TimerNode;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A turn that must be woken waits at most this long; one that takes half of it fails the
// test (so a lost unpark costs 10 s, not a hang).
constexpr auto limit = std::chrono::seconds(20);

struct Locked {
  Driver d;
  explicit Locked(Driver::Options o) : d(o) { EXPECT_TRUE(d.try_lock()); }
  ~Locked() { d.unlock(); }
  /// One turn; how long it took.
  Clock::duration turn(std::chrono::nanoseconds max) {
    const auto t0 = Clock::now();
    (void)d.turn(max);
    return Clock::now() - t0;
  }
};

Driver::Options options(bool io, bool time) {
  Driver::Options o;
  o.enable_io = io;
  o.enable_time = time;
  return o;
}

TEST(Driver, unpark_before_a_turn_returns_it_at_once) {
  for (bool io : {false, true})
    for (bool time : {false, true}) {
      Locked l(options(io, time));
      l.d.unpark();
      EXPECT_LT(l.turn(limit), limit / 2) << "io " << io << " time " << time;
    }
}

TEST(Driver, one_unpark_wakes_one_turn_however_many_came_before) {
  Locked l(options(true, true));
  for (int i = 0; i < 5; ++i) l.d.unpark();
  EXPECT_LT(l.turn(limit), limit / 2);
  // Nothing new: this turn sleeps its whole limit (a stale readiness would return at once).
  EXPECT_GE(l.turn(50ms), 45ms);
  l.d.unpark();
  EXPECT_LT(l.turn(limit), limit / 2) << "a later unpark is an event of its own";
}

TEST(Driver, a_poll_consumes_the_unpark) {
  Locked l(options(true, true));
  l.d.unpark();
  (void)l.turn(0ns);  // a busy worker's maintenance poll
  EXPECT_GE(l.turn(50ms), 45ms);
}

TEST(Driver, unpark_from_another_thread_interrupts_a_turn_in_progress) {
  Locked l(options(true, true));
  std::jthread t([&] {
    std::this_thread::sleep_for(20ms);  // most likely inside epoll_wait by then
    l.d.unpark();
  });
  EXPECT_LT(l.turn(limit), limit / 2);
}

TEST(Driver, ping_pong_of_turns_and_unparks_loses_none) {
  constexpr int rounds = 2000;
  Locked l(options(true, true));
  std::atomic<int> turned{0};  // rounds the turner finished
  std::jthread waker([&] {
    for (int i = 0; i < rounds; ++i) {
      // Acquire: pairs with the turner's release increment (round i is over).
      while (turned.load(std::memory_order_acquire) < i) std::this_thread::yield();
      l.d.unpark();
    }
  });
  for (int i = 0; i < rounds; ++i) {
    const auto took = l.turn(limit);
    // Release: pairs with the waker's acquire load (also before a failure: the waker ends).
    turned.fetch_add(1, std::memory_order_release);
    if (took >= limit / 2) {
      turned.store(rounds, std::memory_order_release);  // lets the waker finish its rounds
      FAIL() << "round " << i << " ran into half its limit: an unpark was lost";
    }
  }
  EXPECT_EQ(turned.load(), rounds);
}

TEST(TimeDriver, a_paused_park_without_timers_is_seen_by_the_next_registration) {
  TimeDriver td(/*start_paused=*/true);
  ASSERT_FALSE(td.auto_advance_or_park()) << "no timer to advance to";
  TimerNode node;
  bool unpark = false;
  EXPECT_EQ(td.poll(node, td.now() + 1h, weft::Waker(), unpark), TimeDriver::Poll::Pending);
  EXPECT_TRUE(unpark) << "the driver parked with no deadline must be interrupted";
  (void)td.process(/*was_parked=*/true);
  td.cancel(node);
}

TEST(TimeDriver, a_paused_park_with_a_timer_advances_the_clock_to_it) {
  TimeDriver td(/*start_paused=*/true);
  const auto t0 = td.now();
  TimerNode node;
  bool unpark = false;
  // 5 ms: 50 ticks, in the wheel's first level, whose next expiration is the deadline itself
  // (a farther one is advanced to level by level).
  ASSERT_EQ(td.poll(node, t0 + 5ms, weft::Waker(), unpark), TimeDriver::Poll::Pending);
  EXPECT_FALSE(unpark) << "nobody is parked";
  ASSERT_TRUE(td.auto_advance_or_park());
  EXPECT_EQ(td.now() - t0, std::chrono::nanoseconds(5ms));
  EXPECT_EQ(td.process(), 1u) << "the timer is due at the new time";
  td.cancel(node);  // a no-op once fired; out of the wheel before it is destroyed otherwise
}

// A worker parked in the driver whose turn wakes several tasks queues them without notifying
// anyone during the turn: a notification then would pick this very worker (still listed as
// a sleeper) and write the eventfd to end its own next wait, a wasted system call and a
// wasted epoll_wait per busy turn (as tokio, whose worker notifies after the turn). The K
// pipes are made readable while the only worker is busy, so that one turn finds them all.
TEST(DriverInRuntime, a_parked_turn_that_wakes_several_tasks_does_not_unpark_itself) {
  constexpr int k = 8;
  weft::Runtime rt(weft_test::mt(1));
  Driver* d = rt.block_on([]() -> weft::Task<Driver*> { co_return weft::detail::current_scheduler()->driver(); }());
  std::vector<int> rfd, wfd;
  for (int i = 0; i < k; ++i) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    rfd.push_back(fds[0]);
    wfd.push_back(fds[1]);
  }
  // Everything is spawned from this thread and nothing is awaited from it until the end:
  // the only eventfd writes are the spawns' (before `before`) and any the worker makes.
  std::atomic<int> started{0}, woke{0};
  std::vector<weft::JoinHandle<void>> hs;
  for (int fd : rfd)
    hs.push_back(rt.spawn([](int fd, std::atomic<int>& started, std::atomic<int>& woke) -> weft::Task<void> {
      weft::io::AsyncFd r(fd);  // owns (closes) the read end
      started.fetch_add(1);
      (void)co_await r.readable();
      woke.fetch_add(1);
    }(fd, started, woke)));
  // The blocker runs after every reader has registered and suspended (one worker, spawns
  // from outside run in order).
  std::atomic<bool> running{false}, go{false};
  auto blocker = rt.spawn([](std::atomic<bool>& running, std::atomic<bool>& go) -> weft::Task<void> {
    running.store(true);
    while (!go.load()) std::this_thread::yield();
    co_return;
  }(running, go));
  while (!running.load()) std::this_thread::yield();
  ASSERT_EQ(started.load(), k);
  for (int w : wfd) ASSERT_EQ(::write(w, "x", 1), 1);
  const std::uint64_t before = d->unparks();
  go.store(true);
  while (woke.load() < k) std::this_thread::yield();
  EXPECT_EQ(d->unparks(), before) << "the worker's own turn wrote the eventfd";
  rt.block_on([](std::vector<weft::JoinHandle<void>> hs, weft::JoinHandle<void> b) -> weft::Task<void> {
    for (auto& h : hs) co_await h;
    co_await b;
  }(std::move(hs), std::move(blocker)));
  for (int w : wfd) ::close(w);
}

TEST(DriverInRuntime, a_negative_busy_poll_is_rejected) {
  weft::RuntimeOptions o;
  o.busy_poll = std::chrono::nanoseconds(-1);
  EXPECT_THROW(weft::Runtime rt(o), std::invalid_argument);
}

// A pipe whose read end a task waits on (so the driver has a registration to poll).
struct Waiting {
  int w = -1;
  weft::JoinHandle<void> reader;
  explicit Waiting(weft::Runtime& rt) {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::system_error(errno, std::system_category(), "pipe2");
    w = fds[1];
    reader = rt.spawn([](int fd) -> weft::Task<void> {
      weft::io::AsyncFd r(fd);
      (void)co_await r.readable();
    }(fds[0]));
  }
  void finish(weft::Runtime& rt) {
    EXPECT_EQ(::write(w, "x", 1), 1);
    EXPECT_TRUE(rt.block_on(std::move(reader)).has_value());
    ::close(w);
  }
};

// Without busy polling an idle worker sleeps in epoll_wait, and a spawn from outside writes
// the eventfd to wake it; with it, the worker is still polling and the spawn leaves a token
// on its parker instead (no eventfd write, and the task runs).
TEST(DriverInRuntime, a_busy_polling_worker_is_woken_without_the_eventfd) {
  for (auto busy : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(1h)}) {
    weft::RuntimeOptions o = weft_test::mt(1);
    o.busy_poll = busy;
    weft::Runtime rt(o);
    Driver* d = rt.block_on([]() -> weft::Task<Driver*> { co_return weft::detail::current_scheduler()->driver(); }());
    Waiting pipe(rt);
    for (int i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(5ms);  // the worker is idle by then (asleep, or polling)
      const std::uint64_t before = d->unparks();
      std::atomic<bool> ran{false};
      auto h = rt.spawn([](std::atomic<bool>& ran) -> weft::Task<void> {
        ran.store(true);
        co_return;
      }(ran));
      while (!ran.load()) std::this_thread::yield();
      if (busy.count() > 0) EXPECT_EQ(d->unparks(), before) << "round " << i;
      else EXPECT_GT(d->unparks(), before) << "round " << i << ": the worker was not asleep in the driver";
      EXPECT_TRUE(rt.block_on(std::move(h)).has_value());
    }
    pipe.finish(rt);
  }
}

// A worker that never stops polling (an hour) still handles I/O readiness, timers and
// wake-ups from other threads, and the runtime shuts down at once.
TEST(DriverInRuntime, busy_polling_sees_io_timers_and_wakes_and_shuts_down) {
  for (bool current : {false, true}) {
    auto t_shutdown = Clock::now();
    int idle_w = -1;
    {
      weft::RuntimeOptions o = current ? weft_test::ct() : weft_test::mt(1);
      o.busy_poll = 1h;
      weft::Runtime rt(o);
      Waiting pipe(rt);
      std::jthread writer([&] {
        std::this_thread::sleep_for(20ms);
        EXPECT_EQ(::write(pipe.w, "x", 1), 1);
      });
      EXPECT_TRUE(rt.block_on(std::move(pipe.reader)).has_value());  // I/O readiness
      writer.join();  // its write came through the kernel, which tsan does not see: join first
      ::close(pipe.w);
      rt.block_on([]() -> weft::Task<void> {
        const auto t0 = Clock::now();
        co_await weft::time::sleep(5ms);  // a timer
        EXPECT_GE(Clock::now() - t0, 5ms);
        weft::Notify n;  // a wake from another thread
        std::jthread t([&] {
          std::this_thread::sleep_for(10ms);
          n.notify_one();
        });
        co_await n.notified();
      }());
      Waiting idle(rt);  // the runtime is dropped while its worker polls, its reader waiting
      idle_w = idle.w;
      std::this_thread::sleep_for(20ms);
      t_shutdown = Clock::now();
    }
    ::close(idle_w);
    EXPECT_LT(Clock::now() - t_shutdown, 5s) << (current ? "current_thread" : "multi_thread");
  }
}

}  // namespace
