#include "driver/io_driver.hpp"

#include <cerrno>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace weft::detail {

bool ScheduledIo::poll_ready(Direction d, const Waker& waker, ReadyEvent& out) {
  const std::uint32_t want = d == Direction::read ? io_bits::read_ready : io_bits::write_ready;
  auto ready_in = [&](std::uint64_t word) {
    out.ready = static_cast<std::uint32_t>(word) & want;
    out.tick = static_cast<std::uint16_t>((word & tick_mask) >> tick_shift);
    out.shutdown = (word & shutdown_bit) != 0;
    return out.ready != 0 || out.shutdown;
  };
  // Acquire: pairs with dispatch's release update; what the turn saw happened before.
  if (ready_in(readiness_.load(std::memory_order_acquire))) return true;
  // Dropped after unlocking: its destructor may deregister (take mu_ again). An optional:
  // the common case, the same waker again, constructs and drops no Waker.
  std::optional<Waker> old;
  std::lock_guard lock(mu_);
  // Acquire, under mu_: the second read of the no-lost-wake-up argument (top of the header).
  if (ready_in(readiness_.load(std::memory_order_acquire))) return true;
  Waker& slot = d == Direction::read ? reader_ : writer_;
  if (!slot.will_wake(waker)) old.emplace(std::exchange(slot, waker));
  return false;
}

void ScheduledIo::clear_readiness(const ReadyEvent& ev, bool closed_too) noexcept {
  const std::uint64_t clear = closed_too ? ev.ready : ev.ready & ~(io_bits::read_closed | io_bits::write_closed);
  // Relaxed load: the CAS below decides.
  std::uint64_t cur = readiness_.load(std::memory_order_relaxed);
  for (;;) {
    if (((cur & tick_mask) >> tick_shift) != ev.tick) return;  // a newer turn set readiness
    // Relaxed: clearing publishes nothing; the user re-polls (acquire) before trusting bits.
    if (readiness_.compare_exchange_weak(cur, cur & ~clear, std::memory_order_relaxed)) return;
  }
}

void ScheduledIo::dispatch(std::uint32_t ev, std::uint16_t tick) {
  // The epoll flags as mio reads them.
  std::uint32_t r = 0;
  if (ev & (EPOLLIN | EPOLLPRI)) r |= io_bits::readable;
  if (ev & EPOLLOUT) r |= io_bits::writable;
  if ((ev & EPOLLHUP) || ((ev & EPOLLIN) && (ev & EPOLLRDHUP))) r |= io_bits::read_closed;
  if ((ev & EPOLLHUP) || ((ev & EPOLLOUT) && (ev & EPOLLERR)) || ev == EPOLLERR) r |= io_bits::write_closed;
  if (ev & EPOLLERR) r |= io_bits::error;
  if (r == 0) return;
  // Acquire: pairs with publish()'s release store (the registration's construction happens
  // before this event in the kernel's order, epoll_ctl then epoll_wait, which the memory
  // model does not see); later, the CAS decides.
  std::uint64_t cur = readiness_.load(std::memory_order_acquire);
  std::uint64_t next;
  do {
    next = (cur & ~tick_mask) | r | (std::uint64_t{tick} << tick_shift);
    // Release: pairs with poll_ready's acquire loads.
  } while (!readiness_.compare_exchange_weak(cur, next, std::memory_order_release, std::memory_order_relaxed));
  wake(r);
}

void ScheduledIo::wake(std::uint32_t ready) {
  std::optional<Waker> r, w;  // only the directions that became ready construct one
  {
    std::lock_guard lock(mu_);
    if (ready & io_bits::read_ready) r.emplace(std::move(reader_));
    if (ready & io_bits::write_ready) w.emplace(std::move(writer_));
  }
  if (r) std::move(*r).wake();
  if (w) std::move(*w).wake();
}

void ScheduledIo::drop_wakers() noexcept {
  Waker r, w;
  {
    std::lock_guard lock(mu_);
    r = std::move(reader_);
    w = std::move(writer_);
  }
  // Dropped outside mu_ (a waker may hold the last reference to a task whose frame owns
  // another registration).
}

void ScheduledIo::shutdown() {
  // Release: pairs with poll_ready's acquire loads.
  readiness_.fetch_or(shutdown_bit, std::memory_order_release);
  wake(io_bits::read_ready | io_bits::write_ready);
}

std::shared_ptr<ScheduledIo> IoDriver::add(int fd) {
  auto io = std::make_shared<ScheduledIo>(fd);
  {
    std::lock_guard lock(mu_);
    if (shut_down_) throw std::logic_error("weft: I/O registration after the runtime shut down");
    // Listed before epoll_ctl: epoll must never hold a pointer the driver does not keep
    // alive. A shutdown after this unlock finds it listed (and shuts it down).
    registered_.emplace(io.get(), io);
    note_count();
  }
  io->publish();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  ev.data.ptr = io.get();
  // Outside mu_: a syscall under the driver's one registration lock made every concurrent
  // accept/connect/close on the other workers block on it (futex waits, measured).
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int e = errno;
    std::lock_guard lock(mu_);
    registered_.erase(io.get());
    note_count();
    throw std::system_error(e, std::generic_category(), "weft: epoll_ctl(ADD)");
  }
  return io;
}

void IoDriver::deregister(const std::shared_ptr<ScheduledIo>& io) noexcept {
  // First, outside mu_: after EPOLL_CTL_DEL no epoll_wait returns this registration, so
  // once it is in pending_release_ (below) the next turn's release cannot race with a new
  // event. Events returned before are dispatched while it is still listed here. Fails only
  // if the descriptor was closed first (then the kernel dropped it already) or on a second
  // deregistration (ENOENT; the lookup below then finds nothing).
  (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, io->fd(), nullptr);
  std::lock_guard lock(mu_);
  auto it = registered_.find(io.get());
  if (it == registered_.end()) return;  // already deregistered, or shut down
  pending_release_.push_back(std::move(it->second));
  registered_.erase(it);
  note_count();
}

void IoDriver::release_pending() noexcept {
  std::vector<std::shared_ptr<ScheduledIo>> done;
  {
    std::lock_guard lock(mu_);
    if (pending_release_.empty()) return;
    done.swap(pending_release_);
    note_count();
  }
  // Freed outside mu_ (a ScheduledIo's wakers may hold the last reference to something
  // that deregisters in its destructor).
}

void IoDriver::shutdown() {
  std::vector<std::shared_ptr<ScheduledIo>> all;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    for (auto& [p, io] : registered_) all.push_back(io);
  }
  for (auto& io : all) io->shutdown();
}

}  // namespace weft::detail
