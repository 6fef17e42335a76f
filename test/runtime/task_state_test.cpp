// The task state word's transitions, one by one (task_state.hpp T1..T7).
#include <gtest/gtest.h>

#include "weft/detail/task_state.hpp"

namespace {
using namespace weft::detail;

TEST(TaskState, new_task_is_notified_with_three_refs_and_join_interest) {
  TaskState s;
  Snapshot v = s.load();
  EXPECT_TRUE(v.notified());
  EXPECT_TRUE(v.join_interest());
  EXPECT_FALSE(v.running());
  EXPECT_EQ(v.refs(), 3u);
}

TEST(TaskState, run_then_idle_then_wake_submits_once) {
  TaskState s;
  EXPECT_EQ(s.to_running(), RunOutcome::Success);
  EXPECT_TRUE(s.load().running());
  EXPECT_FALSE(s.load().notified());
  EXPECT_EQ(s.to_idle(), IdleOutcome::Ok);
  EXPECT_EQ(s.to_notified(), NotifyOutcome::Submit);
  EXPECT_EQ(s.load().refs(), 4u);
  EXPECT_EQ(s.to_notified(), NotifyOutcome::DoNothing) << "already notified";
  EXPECT_EQ(s.load().refs(), 4u);
}

TEST(TaskState, wake_while_running_resubmits_after_idle) {
  TaskState s;
  ASSERT_EQ(s.to_running(), RunOutcome::Success);
  EXPECT_EQ(s.to_notified(), NotifyOutcome::DoNothing);
  EXPECT_EQ(s.to_notified(), NotifyOutcome::DoNothing);
  EXPECT_EQ(s.to_idle(), IdleOutcome::OkNotified);
  EXPECT_FALSE(s.load().running());
  EXPECT_TRUE(s.load().notified());
  EXPECT_EQ(s.load().refs(), 3u) << "the runner's reference becomes the notified one";
}

TEST(TaskState, abort_idle_task_submits_it_cancelled) {
  TaskState s;
  ASSERT_EQ(s.to_running(), RunOutcome::Success);
  ASSERT_EQ(s.to_idle(), IdleOutcome::Ok);
  EXPECT_EQ(s.remote_abort(), NotifyOutcome::Submit);
  EXPECT_EQ(s.remote_abort(), NotifyOutcome::DoNothing) << "second abort is a no-op";
  EXPECT_EQ(s.to_running(), RunOutcome::Cancelled);
}

TEST(TaskState, abort_queued_task_does_not_submit_again) {
  TaskState s;  // notified (queued)
  EXPECT_EQ(s.remote_abort(), NotifyOutcome::DoNothing);
  EXPECT_EQ(s.load().refs(), 3u);
  EXPECT_EQ(s.to_running(), RunOutcome::Cancelled);
}

TEST(TaskState, abort_running_task_cancels_at_idle) {
  TaskState s;
  ASSERT_EQ(s.to_running(), RunOutcome::Success);
  EXPECT_EQ(s.remote_abort(), NotifyOutcome::DoNothing);
  EXPECT_EQ(s.to_idle(), IdleOutcome::Cancelled);
  EXPECT_TRUE(s.load().running()) << "the runner keeps the frame to cancel it";
}

TEST(TaskState, complete_is_terminal) {
  TaskState s;
  ASSERT_EQ(s.to_running(), RunOutcome::Success);
  Snapshot done = s.to_complete();
  EXPECT_TRUE(done.complete());
  EXPECT_FALSE(done.running());
  EXPECT_EQ(s.to_notified(), NotifyOutcome::DoNothing);
  EXPECT_EQ(s.remote_abort(), NotifyOutcome::DoNothing);
  EXPECT_EQ(s.to_running(), RunOutcome::Failed);
  EXPECT_FALSE(s.to_shutdown());
}

TEST(TaskState, join_waker_protocol) {
  TaskState s;
  EXPECT_EQ(s.set_join_waker(), JoinOutcome::Success);
  EXPECT_TRUE(s.load().join_waker());
  EXPECT_EQ(s.unset_join_waker(), JoinOutcome::Success);
  EXPECT_FALSE(s.load().join_waker());
  EXPECT_EQ(s.set_join_waker(), JoinOutcome::Success);
  ASSERT_EQ(s.to_running(), RunOutcome::Success);
  Snapshot done = s.to_complete();
  EXPECT_TRUE(done.join_waker());
  EXPECT_EQ(s.unset_join_waker(), JoinOutcome::Complete);
  EXPECT_EQ(s.drop_join_interest(), JoinOutcome::Complete);
}

TEST(TaskState, drop_join_interest_before_completion_clears_waker_bit) {
  TaskState s;
  ASSERT_EQ(s.set_join_waker(), JoinOutcome::Success);
  EXPECT_EQ(s.drop_join_interest(), JoinOutcome::Success);
  EXPECT_FALSE(s.load().join_interest());
  EXPECT_FALSE(s.load().join_waker());
}

TEST(TaskState, drop_join_handle_fast_only_when_incomplete_without_waker) {
  TaskState fresh;  // the common case: a handle dropped right after spawn
  EXPECT_TRUE(fresh.drop_join_handle_fast());
  EXPECT_FALSE(fresh.load().join_interest());
  EXPECT_EQ(fresh.load().refs(), 2u);

  TaskState with_waker;
  ASSERT_EQ(with_waker.set_join_waker(), JoinOutcome::Success);
  EXPECT_FALSE(with_waker.drop_join_handle_fast()) << "the handle must clear its waker field first";
  EXPECT_TRUE(with_waker.load().join_interest());
  EXPECT_EQ(with_waker.load().refs(), 3u);

  TaskState done;
  ASSERT_EQ(done.to_running(), RunOutcome::Success);
  (void)done.to_complete();
  EXPECT_FALSE(done.drop_join_handle_fast()) << "the handle owns the output: slow path";
  EXPECT_EQ(done.load().refs(), 3u);
}

TEST(TaskState, shutdown_takes_idle_and_notified_tasks_but_not_running_ones) {
  TaskState queued;
  EXPECT_TRUE(queued.to_shutdown());
  EXPECT_EQ(queued.to_running(), RunOutcome::Failed) << "the queue's reference is then dropped";

  TaskState running;
  ASSERT_EQ(running.to_running(), RunOutcome::Success);
  EXPECT_FALSE(running.to_shutdown());
  EXPECT_EQ(running.to_idle(), IdleOutcome::Cancelled);
}

TEST(TaskState, ref_counting) {
  TaskState s;
  s.ref_inc();
  EXPECT_FALSE(s.ref_dec(2));
  EXPECT_FALSE(s.ref_dec());
  EXPECT_TRUE(s.ref_dec());
}
}  // namespace
