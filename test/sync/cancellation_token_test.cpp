// CancellationToken: trees of tokens, cancelled() futures, deep chains.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "weft/sync/cancellation_token.hpp"
#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace {
using weft::testing::MockTask;
TEST(CancellationToken, cancel_wakes_waiters_and_children) {
  weft::CancellationToken root;
  auto child = root.child_token();
  auto grandchild = child.child_token();
  MockTask a(root.cancelled()), c(grandchild.cancelled());
  EXPECT_TRUE(a.poll().is_pending());
  EXPECT_TRUE(c.poll().is_pending());
  EXPECT_FALSE(grandchild.is_cancelled());
  root.cancel();
  EXPECT_TRUE(root.is_cancelled());
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_TRUE(grandchild.is_cancelled());
  EXPECT_TRUE(a.is_woken());
  EXPECT_TRUE(c.is_woken());
  EXPECT_TRUE(a.poll().is_ready());
  EXPECT_TRUE(c.poll().is_ready());
  MockTask late(root.cancelled());
  EXPECT_TRUE(late.poll().is_ready());
  EXPECT_TRUE(root.child_token().is_cancelled()) << "a child of a cancelled token is cancelled";
}

TEST(CancellationToken, cancelling_a_child_leaves_the_parent) {
  weft::CancellationToken root;
  auto child = root.child_token();
  child.cancel();
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_FALSE(root.is_cancelled());
}

TEST(CancellationToken, cancel_from_another_thread) {
  weft::RuntimeOptions o;
  o.worker_threads = 2;
  weft::Runtime rt(o);
  for (int i = 0; i < 200; ++i) {
    weft::CancellationToken tok;
    std::thread th([&] { tok.cancel(); });
    rt.block_on([](weft::CancellationToken t) -> weft::Task<void> { co_await t.cancelled(); }(tok));
    th.join();
  }
}

// tokio: a token is cancelled with its root even when the tokens between them were dropped.
TEST(CancellationToken, dropped_intermediate_tokens_still_propagate) {
  weft::CancellationToken root;
  auto leaf = root.child_token().child_token().child_token();
  EXPECT_FALSE(leaf.is_cancelled());
  root.cancel();
  EXPECT_TRUE(leaf.is_cancelled());
}

// A chain of 200,000 child tokens: cancelling the root and dropping the chain use no
// recursion per level (both used to overflow the stack).
TEST(CancellationToken, deep_chain_cancels_and_drops_without_recursion) {
  weft::CancellationToken root;
  weft::CancellationToken t = root;
  for (int i = 0; i < 200000; ++i) t = t.child_token();
  MockTask w(t.cancelled());
  EXPECT_TRUE(w.poll().is_pending());
  root.cancel();
  EXPECT_TRUE(t.is_cancelled());
  EXPECT_TRUE(w.is_woken());
  weft::CancellationToken t2 = root;  // and a second chain, dropped uncancelled
  weft::CancellationToken r2;
  t2 = r2;
  for (int i = 0; i < 200000; ++i) t2 = t2.child_token();
}
}  // namespace
