#include "weft/runtime.hpp"

#include <cstdio>
#include <cstdlib>

#include "scheduler.hpp"

namespace weft {

Runtime::Runtime(RuntimeOptions options) : s_(new detail::Scheduler(std::move(options))) {
  try {
    s_->start();
  } catch (...) {
    s_->shutdown();
    s_->ref_dec();
    throw;
  }
}

Runtime::~Runtime() {
  if (!s_) return;
  if (detail::current_scheduler() == s_) {
    std::fputs("weft: a Runtime was destroyed from inside one of its own tasks; this would wait for itself\n",
               stderr);
    std::abort();
  }
  s_->shutdown();
  s_->ref_dec();
}

bool Runtime::shutdown_timeout(std::chrono::nanoseconds timeout) {
  detail::Scheduler* s = checked();
  if (detail::current_scheduler() == s)
    throw std::logic_error("weft::Runtime::shutdown_timeout called from inside one of its own tasks");
  const bool all = s->shutdown(timeout.count() < 0 ? std::chrono::nanoseconds(0) : timeout);
  s_ = nullptr;
  s->ref_dec();
  return all;
}

std::size_t Runtime::worker_count() const noexcept { return s_ ? s_->worker_count() : 0; }
std::size_t Runtime::blocking_thread_count() const { return checked()->blocking_threads(); }

void Runtime::check_block_on_allowed() {
  if (detail::current_scheduler() != nullptr)
    throw std::logic_error(
        "weft::Runtime::block_on called from inside a runtime (a worker thread or another block_on); "
        "co_await the task instead");
}

bool Runtime::wait_until(detail::Scheduler* s, detail::FunctionRef<bool(Context&)> ready) {
  return s->wait_until(ready);
}

Handle Handle::current() {
  detail::Scheduler* s = detail::current_scheduler();
  if (!s) throw std::logic_error("weft::Handle::current called outside a runtime");
  return Handle(s);
}
std::optional<Handle> Handle::try_current() noexcept {
  detail::Scheduler* s = detail::current_scheduler();
  if (!s) return std::nullopt;
  return Handle(s);
}

}  // namespace weft
