#pragma once
// Polls a leaf future on the calling thread until it is ready, sleeping between polls: the
// engine of the blocking_* channel operations (for threads outside any runtime).
//
// No lost wake-up: the waker sets `woken` (release) before notifying; the thread consumes
// it with exchange (acquire) before each re-poll. A wake before the exchange is covered by
// the poll that follows it (wakers are woken after the state they announce is published);
// a wake after it sets the flag again, so the next wait returns at once.
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "weft/future.hpp"
#include "weft/waker.hpp"

namespace weft::detail {

class Scheduler;
Scheduler* current_scheduler() noexcept;  // runtime/src: the runtime this thread is in

inline void check_blocking_allowed(const char* what) {
  if (current_scheduler() != nullptr)
    throw std::logic_error(std::string(what) +
                           " called from inside a runtime (it would block a worker); co_await the async form");
}

template <class F>
auto block_thread_on(F& f) {
  auto woken = std::make_shared<std::atomic<bool>>(false);
  Waker w = Waker::from_fn([woken] {
    woken->store(true, std::memory_order_release);  // pairs with the exchange below
    woken->notify_one();
  });
  Context cx(w);
  for (;;) {
    auto p = f.poll(cx);
    if (p.is_ready()) return p;
    woken->wait(false, std::memory_order_acquire);  // pairs with the waker's release store
    woken->exchange(false, std::memory_order_acquire);  // pairs with the waker's release
  }
}

}  // namespace weft::detail
