// weft::io::Registration's entry points into the runtime's I/O driver.
#include <stdexcept>
#include <string>

#include "scheduler.hpp"
#include "weft/detail/alloc.hpp"
#include "weft/io/registration.hpp"

namespace weft::detail {

// A registration and a reference to the scheduler that owns its driver (a Registration may
// outlive its runtime; the driver then lives until the registration is gone).
struct IoHandle {
  IoHandle(Scheduler* sched, std::shared_ptr<ScheduledIo> scheduled) noexcept : s(sched), io(std::move(scheduled)) {
    scheduler_ref_inc(s);
  }
  ~IoHandle() { scheduler_ref_dec(s); }
  IoHandle(const IoHandle&) = delete;
  IoHandle& operator=(const IoHandle&) = delete;
  Scheduler* const s;
  std::shared_ptr<ScheduledIo> io;
  // From weft's allocator (WEFT_ALLOCATOR), as task cells and the channels' nodes.
  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
};

IoHandle* io_register(int fd) {
  Scheduler* s = current_scheduler();
  if (s == nullptr) throw std::logic_error("weft::io: registering a descriptor outside a weft runtime");
  Driver* d = s->driver();
  if (d == nullptr || d->io() == nullptr) throw std::logic_error("weft::io: the runtime has enable_io off");
  std::shared_ptr<ScheduledIo> io = d->io()->add(fd);
  try {
    return new IoHandle(s, io);
  } catch (...) {
    d->io()->deregister(io);
    throw;
  }
}

bool io_poll_ready(IoHandle* h, Direction dir, Context& cx, ReadyEvent& out) {
  if (!h->io->poll_ready(dir, cx.waker(), out)) return false;
  if (out.shutdown) throw std::runtime_error("weft::io: the runtime shut down");
  return true;
}

void io_clear_readiness(IoHandle* h, const ReadyEvent& ev, bool closed_too) noexcept {
  h->io->clear_readiness(ev, closed_too);
}

void io_deregister(IoHandle* h) noexcept {
  h->s->driver()->io()->deregister(h->io);
  // No poll of this registration can follow (its only owner is deregistering it); a turn
  // still dispatching an event for it finds no waker to wake.
  h->io->drop_wakers();
  delete h;
}

}  // namespace weft::detail

namespace weft::io {
detail::IoHandle* Registration::checked() const {
  if (h_ == nullptr) throw std::logic_error("weft::io::Registration: not registered (moved-from or reset)");
  return h_;
}
}  // namespace weft::io
