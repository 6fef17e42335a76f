#include "blocking.hpp"

#include <algorithm>
#include <system_error>

#include "scheduler.hpp"

namespace weft::detail {

BlockingPool::~BlockingPool() {
  // Every thread has dropped its scheduler reference (that is why we are here): each is at
  // most past its loop, about to return. The current thread may be one of them.
  std::vector<std::thread> hs;
  {
    std::lock_guard lock(mu_);
    hs.swap(handles_);
  }
  for (std::thread& t : hs) {
    if (t.get_id() == std::this_thread::get_id()) t.detach();
    else if (t.joinable()) t.join();
  }
}

void BlockingPool::join_exited_locked() {
  if (exited_.empty()) return;
  for (std::thread::id id : exited_) {
    auto it = std::find_if(handles_.begin(), handles_.end(), [&](const std::thread& t) { return t.get_id() == id; });
    if (it == handles_.end()) continue;
    // It left its loop and only drops its scheduler reference now (we hold one too: the
    // caller is spawning through the scheduler), so this join is short.
    if (it->get_id() != std::this_thread::get_id()) it->join();
    else it->detach();
    handles_.erase(it);
  }
  exited_.clear();
}

bool BlockingPool::push(Header* notified) {
  std::unique_lock lock(mu_);
  if (shutdown_) return false;
  queue_.push_back(notified);
  if (idle_ > wakeups_) {
    ++wakeups_;
    // Notified after unlocking: a thread woken while we still held mu_ would block on it
    // at once (glibc's condition variable does not move waiters to the mutex).
    lock.unlock();
    work_cv_.notify_one();
    return true;
  }
  if (threads_ >= max_threads_) return true;  // waits for a busy thread
  join_exited_locked();
  scheduler_ref_inc(sched_);  // the new thread's reference
  try {
    handles_.emplace_back([this] { run(std::this_thread::get_id()); });
  } catch (...) {
    scheduler_ref_dec(sched_);
    if (threads_ == 0) {  // nobody would run it: hand it back
      queue_.pop_back();
      throw;
    }
    return true;  // a running thread takes it later
  }
  ++threads_;
  return true;
}

void BlockingPool::run(std::thread::id self) {
  {
    TlsWorkerScope no_worker(nullptr);
    EnterScope entered(sched_);  // Handle::current and spawn work inside blocking closures
    std::unique_lock lock(mu_);
    for (;;) {
      while (!queue_.empty()) {
        Header* t = queue_.front();
        queue_.pop_front();
        lock.unlock();
        sched_->run_blocking(t);
        lock.lock();
      }
      if (shutdown_) break;
      ++idle_;
      const bool woken = work_cv_.wait_for(lock, keep_alive_, [&] { return wakeups_ > 0 || shutdown_; });
      --idle_;
      if (wakeups_ > 0) --wakeups_;
      if (!woken && queue_.empty()) break;  // kept alive long enough without work
    }
    --threads_;
    exited_.push_back(self);
    shutdown_cv_.notify_all();
  }
  scheduler_ref_dec(sched_);  // last: may destroy the scheduler and this pool
}

bool BlockingPool::shutdown(std::optional<std::chrono::nanoseconds> timeout) {
  std::unique_lock lock(mu_);
  shutdown_ = true;
  work_cv_.notify_all();
  auto all_left = [&] { return threads_ == 0; };
  bool done;
  if (timeout) done = shutdown_cv_.wait_for(lock, *timeout, all_left);
  else {
    shutdown_cv_.wait(lock, all_left);
    done = true;
  }
  // The scheduler cancelled every queued task (shutdown's owned-list pass); drop the queue's
  // references of those no thread took.
  std::deque<Header*> left;
  left.swap(queue_);
  if (done) join_exited_locked();
  lock.unlock();
  for (Header* t : left) (void)Notified::adopt(t);
  return done;
}

std::size_t BlockingPool::thread_count() const {
  std::lock_guard lock(mu_);
  return threads_;
}

}  // namespace weft::detail
