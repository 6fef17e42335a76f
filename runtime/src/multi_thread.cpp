// The multi_thread flavour's driver: worker threads that run their queues, steal from each
// other, park on Idle and rescue a stuck worker's task. See scheduler.hpp for the overview
// and idle.hpp for the parking protocol.
#include <pthread.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "scheduler.hpp"

namespace weft::detail {

namespace {
// A steal that finds a victim mid-steal by another thief (Steal::Retry) looks again, this
// many rounds at most (with a look at the injection queue between rounds).
constexpr int max_steal_rounds = 4;
}  // namespace

void Scheduler::start() {
  if (is_current_thread()) return;
  for (auto& w : workers_) {
    Worker* wp = w.get();
    w->thread = std::thread([this, wp] { worker_main(*wp); });
  }
}

// block_in_place (after tokio's): the calling thread is a worker inside a task's poll and is
// about to block. It starts a new thread that runs the worker loop for the same Worker (its
// run queue, LIFO slot, parker: everything the worker owns), then stops being a worker
// itself: tls_worker becomes null (what the rest of the poll spawns or wakes goes through the
// injection queue), and tls_handed_off makes the scheduler loop it returns to (poll_task,
// run_task, run_worker) touch the Worker no more and end the thread. Everything this thread
// wrote to the Worker before happens-before the new thread's start. The thread's handle
// moves to retired_, joined at shutdown. threads_mu_ orders hand-offs with shutdown's
// collection of thread handles: a hand-off either sees shutdown begun (and does nothing: the
// worker is about to stop anyway) or its new thread is collected and joined.
void Scheduler::hand_off(Worker& w) {
  std::lock_guard lock(threads_mu_);
  if (shutting_down()) return;
  // What the poll spawned or woke so far waits in the LIFO slot, which only the poller's
  // run_task looks at: queue it, so the new thread's first look finds it. Acquire: as in
  // run_task's exchange (this thread's own task; a rescuer may have taken it).
  if (Header* l = w.lifo.exchange(nullptr, std::memory_order_acquire)) push_local(w, l);
  std::thread next([this, wp = &w] { worker_main(*wp); });  // may throw: nothing else changed
  retired_.push_back(std::move(w.thread));
  w.thread = std::move(next);
  tls_worker = nullptr;
  tls_entered = this;  // the rest of the poll still runs "in" the runtime (spawn, Handle::current)
  tls_handed_off = true;
}

void block_in_place_enter() {
  Worker* w = tls_worker;
  if (w == nullptr) return;  // not a worker (a blocking-pool thread, any other thread): run in place
  if (w->sched->is_current_thread())
    throw std::logic_error(
        "weft::block_in_place on a current_thread runtime: its only thread cannot be handed off "
        "(use spawn_blocking)");
  w->sched->hand_off(*w);
}

void Scheduler::worker_main(Worker& w) {
  std::string name = opts_.thread_name + "-" + std::to_string(w.index);
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
  TlsWorkerScope scope(&w);
  if (opts_.on_thread_start) opts_.on_thread_start();
  run_worker(w);
  tls_handed_off = false;
  if (opts_.on_thread_stop) opts_.on_thread_stop();
}

void Scheduler::run_worker(Worker& w) {
  w.tuner.start_batch();
  for (;;) {
    // block_in_place gave `w` to a new thread during the last poll: this thread is done.
    if (tls_handed_off) [[unlikely]] return;
    // Shutdown is looked at in maintenance ticks and before parking.
    if (begin_tick(w) && shutting_down()) return;
    Notified t = next_task(w);
    if (!t) t = steal_work(w);
    if (t) {
      run_task(w, std::move(t));
      continue;
    }
    if (shutting_down()) return;
    // Closes the tuner's batch before the idle time. No driver poll: park() turns the
    // driver itself if no other worker does (an event already there returns at once), and a
    // worker that turns it sees what this one would.
    maintenance(w, MaintenancePoll::skip_driver);
    t = park(w);
    w.tuner.start_batch();
    if (t) run_task(w, std::move(t));  // taken from a stuck worker, or woken by the driver
  }
}

Notified Scheduler::steal_work(Worker& w) {
  if (!w.searching) {
    w.searching = idle_.transition_worker_to_searching();
    if (!w.searching) return {};
  }
  const auto n = static_cast<std::uint32_t>(workers_.size());
  for (int round = 0; round < max_steal_rounds; ++round) {
    bool busy = false;  // some victim was mid-steal: it may still have tasks
    const std::uint32_t start = n > 1 ? w.next_random(n) : 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint32_t j = (start + i) % n;
      if (j == w.index) continue;
      Steal<Header*> s = w.local.steal_from(workers_[j]->stealer);
      if (s.is_success()) return Notified::adopt(s.task());
      busy = busy || s.is_retry();
    }
    if (Header* t = inject_.pop()) return Notified::adopt(t);
    if (!busy) break;
  }
  return {};
}

void Scheduler::notify_parked() noexcept {
  if (auto idx = idle_.worker_to_notify()) workers_[*idx]->parker.unpark();
}

bool Scheduler::has_visible_work() const {
  if (!inject_.is_empty()) return true;
  return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return !w->stealer.is_empty(); });
}

Notified Scheduler::park(Worker& w) {
  Idle::Parked parked = idle_.transition_worker_to_parked(w.index, w.searching);
  w.searching = false;
  // The last searcher re-checks every queue after announcing it parks (idle.hpp); if it sees
  // work it wakes a worker, possibly itself.
  if (parked.last_searcher) {
    Idle::fence();  // pairs with the pusher's fence in notify_should_wakeup (idle.hpp)
    if (has_visible_work()) notify_parked();
  }
  // While other workers are awake, park with a timeout and look for a stuck one's LIFO task
  // (see the overview in scheduler.hpp). A worker that parks while all others sleep parks
  // for good: whichever wakes first and finds work wakes another (run_task), which then
  // parks with a timeout.
  const bool can_rescue = workers_.size() > 1 && opts_.lifo_slot;
  bool timed = can_rescue && parked.others_unparked;
  w.rescue_backoff = 0;
  if (timed) take_ticks_snapshot(w);
  for (;;) {
    if (shutting_down()) {
      // Still listed as a sleeper: take ourselves off. Otherwise a notifier already did,
      // and counted us as searching.
      if (!idle_.unpark_worker_by_id(w.index)) w.searching = true;
      return {};
    }
    const Woke woke =
        park_thread(w, timed ? std::optional(std::chrono::nanoseconds(rescue_interval * (1u << w.rescue_backoff)))
                             : std::nullopt,
                    true);
    // A driver turn's wakes queued tasks here (the first in the LIFO slot): run them, as
    // tokio's transition_from_parked, searching only if a notifier took us off the sleepers
    // (it counted us as searching); wake another worker if there is more than the one task
    // this worker runs next (as tokio's should_notify_others).
    if (has_local_work(w)) {
      w.searching = !idle_.unpark_worker_by_id(w.index);
      if (w.runnable() > 1) notify_parked();
      // Acquire: as run_task's exchange (this thread's own task; a rescuer may have taken it).
      if (Header* l = w.lifo.exchange(nullptr, std::memory_order_acquire)) return Notified::adopt(l);
      return {};
    }
    if (!idle_.is_parked(w.index)) {
      w.searching = true;  // worker_to_notify counted us as a searcher
      return {};
    }
    // Unparked: for shutdown, or a stale token. A driver event that queued nothing here (a
    // timer that woke a block_on thread, a stale eventfd): park again, as before.
    if (woke != Woke::timed_out) continue;
    // Timed out, still a sleeper.
    if (Notified t = rescue_stuck(w)) {
      // Off the sleepers, awake and not searching; unless a notifier took us off first,
      // counting us as a searcher.
      if (!idle_.unpark_worker_by_id(w.index)) w.searching = true;
      return t;
    }
    if (w.rescue_backoff < max_rescue_backoff) ++w.rescue_backoff;
    timed = idle_.any_unparked();
    if (timed) take_ticks_snapshot(w);
  }
}

void Scheduler::take_ticks_snapshot(Worker& w) {
  for (std::size_t i = 0; i < workers_.size(); ++i)
    // Relaxed: compared with a later reading only (rescue_stuck).
    if (i != w.index) w.seen_ticks[i] = workers_[i]->ticks.load(std::memory_order_relaxed);
}

Notified Scheduler::rescue_stuck(Worker& w) {
  // A worker whose tick count has not moved since our last look (at least one timeout ago)
  // is stuck in one poll; what it holds in its LIFO slot or queue would wait for that poll.
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (i == w.index) continue;
    Worker& v = *workers_[i];
    // Relaxed: see take_ticks_snapshot; a stale reading only delays or skips a rescue.
    if (v.ticks.load(std::memory_order_relaxed) != w.seen_ticks[i]) continue;
    // Acquire: pairs with the owner's release store of the task into its slot.
    Header* t = v.lifo.load(std::memory_order_acquire);
    // AcqRel on success: we now own the slot's notified reference; failure means the owner
    // took it (it is not stuck after all).
    if (t != nullptr && v.lifo.compare_exchange_strong(t, nullptr, std::memory_order_acq_rel, std::memory_order_relaxed))
      return Notified::adopt(t);
    // A Retry (another thief mid-steal) is as good as a rescue in progress: move on.
    Steal<Header*> s = w.local.steal_from(v.stealer);
    if (s.is_success()) return Notified::adopt(s.task());
  }
  return {};
}

}  // namespace weft::detail
