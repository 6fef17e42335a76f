#include "driver/driver.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <system_error>

namespace weft::detail {

namespace {
[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

// epoll_wait's timeout in ms, rounded up (a timer never fires early), capped at INT_MAX.
int timeout_ms(std::optional<std::chrono::nanoseconds> t) noexcept {
  if (!t) return -1;
  const std::int64_t ns = t->count();
  if (ns <= 0) return 0;
  const std::int64_t ms = ns / 1'000'000 + (ns % 1'000'000 != 0 ? 1 : 0);
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}
}  // namespace

Driver::Driver(Options o) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw_errno("weft: epoll_create1");
  eventfd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (eventfd_ < 0) {
    const int e = errno;
    ::close(epfd_);
    throw std::system_error(e, std::generic_category(), "weft: eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: readable until a turn reads it
  ev.data.ptr = nullptr;  // nullptr marks the eventfd
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, eventfd_, &ev) != 0) {
    const int e = errno;
    ::close(eventfd_);
    ::close(epfd_);
    throw std::system_error(e, std::generic_category(), "weft: epoll_ctl(eventfd)");
  }
  if (o.enable_time) time_ = std::make_unique<TimeDriver>(o.start_paused);
  if (o.enable_io) io_ = std::make_unique<IoDriver>(epfd_);
}

Driver::~Driver() {
  io_.reset();
  ::close(eventfd_);
  ::close(epfd_);
}

void Driver::unpark() noexcept {
  const std::uint64_t one = 1;
  // Fails only with EAGAIN when the counter is about to overflow: it is readable then.
  [[maybe_unused]] const ssize_t n = ::write(eventfd_, &one, sizeof one);
}

std::size_t Driver::turn(std::optional<std::chrono::nanoseconds> limit) {
  if (io_) io_->release_pending();
  std::optional<std::chrono::nanoseconds> wait = limit;
  if (time_ && !(wait && wait->count() == 0)) {
    if (time_->paused()) {
      // Auto-advance: nothing to run (this thread is about to sleep) and the clock is
      // paused: move it to the next timer instead of sleeping until it.
      if (time_->auto_advance()) wait = std::chrono::nanoseconds(0);
      else time_->park_timeout();  // no timer: record "no deadline" for registrations
    } else if (std::optional<std::chrono::nanoseconds> t = time_->park_timeout()) {
      if (!wait || *t < *wait) wait = t;
    }
  }
  std::array<epoll_event, 256> events;
  int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout_ms(wait));
  if (time_) time_->unparked();
  std::size_t woken = 0;
  if (n > 0) {
    const std::uint16_t tick = io_ ? io_->next_tick() : 0;
    for (int i = 0; i < n; ++i) {
      if (events[static_cast<std::size_t>(i)].data.ptr == nullptr) {
        std::uint64_t v;
        // Resets the counter (non-blocking; EAGAIN if another turn read it first).
        [[maybe_unused]] const ssize_t r = ::read(eventfd_, &v, sizeof v);
        continue;
      }
      auto* io = static_cast<ScheduledIo*>(events[static_cast<std::size_t>(i)].data.ptr);
      io->dispatch(events[static_cast<std::size_t>(i)].events, tick);
      ++woken;
    }
  }
  // n < 0: EINTR (a signal); the caller's loop turns again.
  if (time_) woken += time_->process();
  return woken;
}

void driver_turn(Driver* d, std::optional<std::chrono::nanoseconds> timeout) { (void)d->turn(timeout); }
void driver_unpark(Driver* d) noexcept { d->unpark(); }

void Driver::shutdown() {
  if (time_) time_->shutdown();
  if (io_) io_->shutdown();
}

}  // namespace weft::detail
