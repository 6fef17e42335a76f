#pragma once
// Small test helpers: a counting waker, and a manually completed leaf future.
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "weft/testing/mock_task.hpp"
#include "weft/weft.hpp"

namespace weft_test {

/// A multi_thread runtime with n workers.
inline weft::RuntimeOptions mt(std::size_t n = 2) {
  weft::RuntimeOptions o;
  o.worker_threads = n;
  return o;
}
/// A current_thread runtime (every task on the thread calling block_on).
inline weft::RuntimeOptions ct() {
  weft::RuntimeOptions o;
  o.flavor = weft::Flavor::current_thread;
  return o;
}

/// Counts its destructions: put one in a task's frame to observe that the frame was freed.
struct Guard {
  std::atomic<int>* dropped;
  ~Guard() { dropped->fetch_add(1); }
};

/// A one-shot event: set() from any thread completes every Future awaiting it. The waker
/// registration is replaced on each poll, as a leaf must.
class Event {
  struct State {
    std::mutex mu;
    bool set = false;
    weft::Waker waker;
    std::atomic<int> polls{0};
  };

 public:
  void set() const {
    weft::Waker w;
    {
      std::lock_guard l(s_->mu);
      s_->set = true;
      w = std::move(s_->waker);
    }
    std::move(w).wake();
  }
  [[nodiscard]] bool is_set() const {
    std::lock_guard l(s_->mu);
    return s_->set;
  }
  int polls() const { return s_->polls.load(); }

  struct Future {
    std::shared_ptr<State> s;
    weft::Poll<void> poll(weft::Context& cx) {
      s->polls.fetch_add(1);
      std::lock_guard l(s->mu);
      if (s->set) return weft::ready();
      s->waker = cx.waker();
      return weft::pending;
    }
  };
  Future wait() const { return Future{s_}; }

 private:
  std::shared_ptr<State> s_ = std::make_shared<State>();
};

/// A future that never completes (and holds no waker).
struct Never {
  weft::Poll<void> poll(weft::Context&) { return weft::pending; }
};

/// Starts `threads` publishers: each, `per_thread` times, increments `published` and then
/// calls `signal()` (an unpark, a wake), yielding now and then so that the consumer runs
/// dry and goes to sleep between bursts. The caller joins them.
template <class Signal>
std::vector<std::thread> start_publishers(int threads, int per_thread, std::atomic<int>& published,
                                          Signal signal) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([=, &published] {
      for (int i = 0; i < per_thread; ++i) {
        published.fetch_add(1);
        signal();
        if (i % 16 == 15) std::this_thread::yield();
      }
    });
  return ts;
}

/// The names most runtime tests use, brought in at once with
/// `using namespace weft_test::runtime_names;` inside a test file's anonymous namespace.
namespace runtime_names {
using weft::Flavor;
using weft::Runtime;
using weft::RuntimeOptions;
using weft::Task;
using weft_test::ct;
using weft_test::Event;
using weft_test::Guard;
using weft_test::mt;
}  // namespace runtime_names

}  // namespace weft_test
