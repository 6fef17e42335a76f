// Runtime shutdown: pending tasks are cancelled and freed, nothing hangs or leaks.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "weft/weft.hpp"

namespace {
using namespace weft_test::runtime_names;

TEST(Shutdown, thousands_of_pending_tasks_are_cancelled_and_freed) {
  for (auto opts : {mt(), ct()}) {
    std::atomic<int> dropped{0};
    std::vector<weft::JoinHandle<void>> hs;
    {
      Runtime rt(opts);
      Event never;
      for (int i = 0; i < 5000; ++i)
        hs.push_back(rt.spawn([](Event ev, std::atomic<int>& d) -> Task<void> {
          Guard g{&d};
          co_await ev.wait();
        }(never, dropped)));
      // Let the multi-thread workers start some of them.
      rt.block_on([]() -> Task<void> { co_await weft::yield_now(); }());
    }
    EXPECT_EQ(dropped.load(), 5000 - 0) << "every frame was destroyed (queued ones never started)";
    Runtime rt2(ct());
    int cancelled = 0;
    rt2.block_on([&]() -> Task<void> {
      for (auto& h : hs) cancelled += (co_await h.result()).is_cancelled();
    }());
    EXPECT_EQ(cancelled, 5000);
  }
}

TEST(Shutdown, while_workers_are_busy) {
  std::atomic<int> dropped{0};
  {
    Runtime rt(mt());
    for (int i = 0; i < 64; ++i)
      (void)rt.spawn([](std::atomic<int>& d) -> Task<void> {
        Guard g{&d};
        for (;;) co_await weft::yield_now();
      }(dropped));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(dropped.load(), 64);
}

TEST(Shutdown, destructors_that_wake_and_spawn_during_shutdown) {
  std::atomic<int> dropped{0};
  std::optional<weft::JoinHandle<void>> late;
  {
    Runtime rt(mt());
    auto handle = rt.handle();
    Event shared;
    struct Waker {
      Event ev;
      weft::Handle h;
      std::optional<weft::JoinHandle<void>>* late;
      ~Waker() {
        ev.set();  // wakes tasks being shut down
        if (!late->has_value()) late->emplace(h.spawn([]() -> Task<void> { co_return; }()));
      }
    };
    for (int i = 0; i < 100; ++i)
      (void)rt.spawn([](Event ev, weft::Handle h, std::atomic<int>& d,
                        std::optional<weft::JoinHandle<void>>* late) -> Task<void> {
        Guard g{&d};
        Waker w{ev, h, late};
        co_await ev.wait();
        for (;;) co_await weft_test::Never{};
      }(shared, handle, dropped, &late));
    rt.block_on([]() -> Task<void> { co_await weft::yield_now(); }());
  }
  EXPECT_EQ(dropped.load(), 100);
  ASSERT_TRUE(late.has_value());
  EXPECT_TRUE(late->is_finished()) << "a spawn during shutdown completes at once, cancelled";
}

// tokio runs the drops of shutdown with the runtime entered: a task's destructor may call
// weft::spawn and Handle::current (without holding a Handle); the spawned task is cancelled
// at once.
TEST(Shutdown, task_destructors_run_with_the_runtime_entered) {
  for (Flavor f : {Flavor::multi_thread, Flavor::current_thread}) {
    std::atomic<int> spawned_cancelled{0}, had_handle{0};
    {
      Runtime rt(f == Flavor::current_thread ? ct() : mt());
      struct OnDrop {
        std::atomic<int>* cancelled;
        std::atomic<int>* handle;
        ~OnDrop() {
          if (weft::Handle::try_current()) handle->fetch_add(1);
          (void)weft::Handle::current();  // must not throw (that would terminate here)
          auto h = weft::spawn([]() -> Task<int> { co_return 1; }());
          if (h.is_finished()) cancelled->fetch_add(1);
        }
      };
      for (int i = 0; i < 20; ++i)
        (void)rt.spawn([](std::atomic<int>* c, std::atomic<int>* h) -> Task<void> {
          OnDrop d{c, h};
          co_await weft_test::Never{};
        }(&spawned_cancelled, &had_handle));
      rt.block_on([]() -> Task<void> { co_await weft::yield_now(); }());
    }
    EXPECT_EQ(had_handle.load(), 20);
    EXPECT_EQ(spawned_cancelled.load(), 20);
  }
}

TEST(Shutdown, waker_outlives_the_runtime) {
  Event ev;
  std::atomic<int> dropped{0};
  {
    Runtime rt(mt());
    (void)rt.spawn([](Event ev, std::atomic<int>& d) -> Task<void> {
      Guard g{&d};
      co_await ev.wait();
    }(ev, dropped));
    while (ev.polls() == 0) std::this_thread::yield();
  }
  EXPECT_EQ(dropped.load(), 1);
  ev.set();  // the Event still holds the task's waker: waking it now is safe and does nothing
}

TEST(Shutdown, remote_wakes_racing_with_shutdown) {
  for (int round = 0; round < 50; ++round) {
    std::vector<Event> evs(200);
    std::atomic<bool> go{false};
    std::thread waker;
    {
      Runtime rt(mt());
      for (auto& ev : evs) (void)rt.spawn([](Event ev) -> Task<void> { co_await ev.wait(); }(ev));
      waker = std::thread([&] {
        while (!go.load()) std::this_thread::yield();
        for (auto& ev : evs) ev.set();
      });
      go = true;
    }
    waker.join();
  }
}

// 1,000,000 tasks spawned across workers and aborted; exact counts of outcomes.
TEST(Shutdown, stress_spawn_and_abort_one_million) {
  Runtime rt(mt());
  constexpr int total = 1'000'000;
  constexpr int batch = 10'000;
  struct Counts {
    long cancelled = 0, completed = 0, pending_cancelled = 0;
  };
  Counts c = rt.block_on([]() -> Task<Counts> {
    Counts c;
    std::vector<weft::JoinHandle<int>> hs;
    hs.reserve(batch);
    for (int base = 0; base < total; base += batch) {
      hs.clear();
      // Spawners on both workers: half of each batch is spawned by a helper task.
      auto helper = weft::spawn([](int base) -> Task<std::vector<weft::JoinHandle<int>>> {
        std::vector<weft::JoinHandle<int>> v;
        for (int i = base; i < base + batch / 2; ++i)
          v.push_back(weft::spawn([](int i) -> Task<int> {
            if (i % 2 == 0) co_await weft_test::Never{};
            co_return i;
          }(i)));
        co_return v;
      }(base));
      for (int i = base + batch / 2; i < base + batch; ++i)
        hs.push_back(weft::spawn([](int i) -> Task<int> {
          if (i % 2 == 0) co_await weft_test::Never{};
          co_return i;
        }(i)));
      for (auto& h : co_await helper) hs.push_back(std::move(h));
      for (auto& h : hs) h.abort();
      // hs holds the tasks base+batch/2 .. base+batch, then base .. base+batch/2.
      for (std::size_t k = 0; k < hs.size(); ++k) {
        int i = k < batch / 2 ? base + batch / 2 + static_cast<int>(k) : base + static_cast<int>(k) - batch / 2;
        auto r = co_await hs[k].result();
        if (r.has_value()) {
          EXPECT_EQ(r.value(), i);
          EXPECT_NE(i % 2, 0) << "a task parked on Never cannot complete";
          ++c.completed;
        } else {
          EXPECT_TRUE(r.is_cancelled());
          EXPECT_EQ(r.error().id(), hs[k].id());
          ++c.cancelled;
          if (i % 2 == 0) ++c.pending_cancelled;
        }
      }
    }
    co_return c;
  }());
  EXPECT_EQ(c.cancelled + c.completed, total);
  EXPECT_EQ(c.pending_cancelled, total / 2) << "every task parked on Never was cancelled";
}
}  // namespace
