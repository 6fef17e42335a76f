// The self-tuning global queue interval (runtime/src/scheduler.hpp, IntervalTuner): about
// 200 us of polling between two looks at the global queue, clamped to [2, 127].
#include <gtest/gtest.h>

#include <chrono>

#include "scheduler.hpp"

namespace {
using weft::detail::IntervalTuner;
using namespace std::chrono_literals;

std::uint32_t feed(IntervalTuner& t, int batches, int polls, std::chrono::nanoseconds per_poll) {
  auto now = IntervalTuner::Clock::time_point{};
  std::uint32_t interval = 0;
  for (int b = 0; b < batches; ++b) {
    t.start_batch(now);
    for (int i = 0; i < polls; ++i) t.polled();
    now += per_poll * polls;
    interval = t.end_batch(now);
  }
  return interval;
}

TEST(IntervalTuner, starts_at_61) {
  IntervalTuner t;
  EXPECT_EQ(t.end_batch(), 61u);  // an empty batch changes nothing
}

TEST(IntervalTuner, converges_to_200us_of_polls) {
  IntervalTuner t;
  EXPECT_EQ(feed(t, 50, 61, 10us), 20u);  // 10 us per poll: 20 polls per 200 us
  EXPECT_NEAR(t.mean_poll_ns(), 10'000, 1);
}

TEST(IntervalTuner, clamps_short_and_long_polls) {
  IntervalTuner fast;
  EXPECT_EQ(feed(fast, 50, 61, 100ns), 127u);
  IntervalTuner slow;
  EXPECT_EQ(feed(slow, 50, 61, 1ms), 2u);
}

TEST(IntervalTuner, one_batch_weighs_as_many_single_polls) {
  IntervalTuner a, b;
  feed(a, 1, 10, 5us);   // one batch of 10 polls
  feed(b, 10, 1, 5us);   // ten batches of 1 poll
  EXPECT_NEAR(a.mean_poll_ns(), b.mean_poll_ns(), 1e-6);
}
}  // namespace
