#include "driver/driver.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <system_error>

namespace weft::detail {

namespace {
[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

// epoll_wait's timeout in ms, rounded up (a timer never fires early), capped at INT_MAX; the
// fallback when the kernel has no epoll_pwait2.
int timeout_ms(std::optional<std::chrono::nanoseconds> t) noexcept {
  if (!t) return -1;
  const std::int64_t ns = t->count();
  if (ns <= 0) return 0;
  const std::int64_t ms = ns / 1'000'000 + (ns % 1'000'000 != 0 ? 1 : 0);
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// Whether epoll_pwait2 works here (false after the first ENOSYS). Relaxed: a benign race;
// every thread that sees ENOSYS stores false.
std::atomic<bool> have_pwait2{true};

int wait_events(int epfd, epoll_event* events, int max, std::optional<std::chrono::nanoseconds> t) {
  if (have_pwait2.load(std::memory_order_relaxed)) {  // relaxed: see have_pwait2
    timespec ts{};
    const timespec* tsp = nullptr;
    if (t) {
      const std::int64_t ns = std::max<std::int64_t>(t->count(), 0);
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      tsp = &ts;
    }
    const int n = ::epoll_pwait2(epfd, events, max, tsp, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_pwait2.store(false, std::memory_order_relaxed);  // relaxed: see have_pwait2
  }
  return ::epoll_wait(epfd, events, max, timeout_ms(t));
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
  // Edge-triggered: a write queues the event unless it is queued already, and the next
  // epoll_wait reports and consumes it, so a turn never reads the counter (as mio's eventfd
  // waker; a level-triggered eventfd costs the woken thread a read(2) per wake-up to clear it).
  ev.events = EPOLLIN | EPOLLET;
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
  // Release: pairs with the paused turn's acq_rel exchange (it must not auto-advance past a
  // wake that came first).
  woken_.store(true, std::memory_order_release);
  // Relaxed: a statistic (unparks()); the eventfd write is what wakes.
  unparks_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t one = 1;
  if (::write(eventfd_, &one, sizeof one) >= 0) return;
  // EAGAIN: the counter is at its maximum (2^64 - 2 unparks, nothing reads it). A failed write
  // is no event: reset the counter and write again, so this unpark is one.
  std::uint64_t v;
  [[maybe_unused]] const ssize_t r = ::read(eventfd_, &v, sizeof v);
  [[maybe_unused]] const ssize_t n = ::write(eventfd_, &one, sizeof one);
}

std::size_t Driver::turn(std::optional<std::chrono::nanoseconds> limit) {
  if (io_) io_->release_pending();
  const bool poll_only = limit && limit->count() <= 0;
  std::optional<std::chrono::nanoseconds> wait = limit;
  bool parked = false;  // park_timeout recorded this turn as parked (time_driver.hpp)
  if (time_ && !poll_only) {
    if (time_->paused()) {
      // Auto-advance, as tokio: first look at what is already there without sleeping; only
      // if nothing woke this turn (no I/O event, no unpark) move the paused clock to the
      // next timer instead of sleeping until it. With no timer, sleep (until an unpark).
      std::size_t woken = dispatch(std::chrono::nanoseconds(0));
      // AcqRel: pairs with unpark's release store (an unpark before this point counts).
      if (woken_.exchange(false, std::memory_order_acq_rel) || woken > 0) return woken + time_->process();
      // No timer: parked with no deadline (one lock section with the look for a timer: a
      // timer registered by another thread in between would see no parked driver).
      if (time_->auto_advance_or_park()) return time_->process();
      parked = true;
    } else if (std::optional<std::chrono::nanoseconds> t = time_->park_timeout()) {
      parked = true;
      if (!wait || *t < *wait) wait = t;
    } else {
      parked = true;
    }
  }
  std::size_t woken = dispatch(wait);
  // Relaxed: only clears the flag for the paused branch above; an unpark after this point
  // sets it again.
  woken_.store(false, std::memory_order_relaxed);
  if (time_) woken += time_->process(parked);  // also ends the parked state
  return woken;
}

std::size_t Driver::dispatch(std::optional<std::chrono::nanoseconds> timeout) {
  std::array<epoll_event, 256> events;
  const int n = wait_events(epfd_, events.data(), static_cast<int>(events.size()), timeout);
  // n < 0: EINTR (a signal); the caller's loop turns again.
  std::size_t woken = 0;
  if (n <= 0) return 0;
  const std::uint16_t tick = io_ ? io_->next_tick() : 0;
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events[static_cast<std::size_t>(i)];
    if (ev.data.ptr == nullptr) continue;  // an unpark (edge-triggered: nothing to read)
    static_cast<ScheduledIo*>(ev.data.ptr)->dispatch(ev.events, tick);
    ++woken;
  }
  return woken;
}

void driver_turn(Driver* d, std::optional<std::chrono::nanoseconds> timeout) { (void)d->turn(timeout); }
void driver_unpark(Driver* d) noexcept { d->unpark(); }

void Driver::shutdown() {
  if (time_) time_->shutdown();
  if (io_) io_->shutdown();
}

}  // namespace weft::detail
