// fuzz_join_map: JoinMap<int, int> and JoinSet<int> on a current_thread runtime (every task
// runs on this thread, inside rt.block_on, so a run is deterministic), checked against a model
// of the tasks each holds.
//
// Every spawn puts a task under a key into the map and a twin of it (the same kind, its own
// oneshot) into the set. A task completes with its own number, throws (TaskFailure naming it),
// or waits on a oneshot that the input later fulfils (with the task's number) or drops (the
// task then throws RecvError). Properties checked:
//  - each task is reported exactly once, while it is held: never after it was replaced,
//    detached or reported; the map reports it under its own key;
//  - its outcome is one it could have: its number as value (for a waiting task, only once
//    fulfilled), its own exception, RecvError once its sender was dropped; cancelled only if it
//    was aborted (abort by key or predicate, abort_all, a replace for the map, or shutdown);
//  - join_next (via rt.block_on) yields a result whenever a held task can finish, and nothing
//    once the container is empty; abort(key) says whether the key is held;
//  - after every operation: size(), keys() and contains_key() of the map, size() of the set;
//  - at the end every waiting task is released, and draining both reports every task still
//    held.
// When a result appears (after which block_on, or try_join_next) is not checked.
//
// Input: a sequence of operations (at most 512), an opcode byte (taken modulo 15), then its
// argument bytes; keys are taken modulo 8.
//   0 k x, 1 k x  spawn under k (replacing its task); x % 4: completes, yields x / 4 % 3 + 1 times
//                 then completes, throws, waits on a oneshot
//   2 i x         replace: spawn under the (i % n)-th held key
//   3 k           abort(k) (and k's twin in the set)
//   4 m r         abort_matching(key % (m % 4 + 1) == r % that) (and those twins)
//   5             abort_all on both
//   6 x           detach_all on both (only if x % 4 == 0)
//   7 k           fulfil k's oneshot (and its twin's)
//   8 k           drop k's oneshot sender (and its twin's)
//   9 b           try_join_next on both (if b % 2 == 1: with the cooperative budget spent)
//   10            join_next of the map, via rt.block_on (skipped if it would wait forever)
//   11            join_next of the set, likewise
//   12 n          run the runtime: block_on a task that yields n % 4 + 1 times
//   13 x          shutdown both (only if x % 4 == 0)
//   14 x          moves, x % 3: both out to a temporary and back (the tasks move along);
//                 an empty container assigned over both (their tasks are aborted and dropped);
//                 self-move-assignment (nothing changes)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "weft/coop.hpp"
#include "weft/join_map.hpp"
#include "weft/join_set.hpp"
#include "weft/runtime.hpp"
#include "weft/sync/oneshot.hpp"

namespace {

constexpr int kKeys = 8;
constexpr int kMaxOps = 512;

/// Thrown by a failing task; names it.
struct TaskFailure {
  int task;
};

weft::Task<int> completes(int task, int yields) {
  for (int i = 0; i < yields; ++i) co_await weft::yield_now();
  co_return task;
}
weft::Task<int> fails(int task) {
  throw TaskFailure{task};
  co_return 0;
}
weft::Task<int> waits(weft::oneshot::Receiver<int> rx) { co_return co_await std::move(rx); }
weft::Task<void> run_for(int yields) {
  for (int i = 0; i < yields; ++i) co_await weft::yield_now();
}

enum class Kind : std::uint8_t { completes, yields, fails, waits };
enum class Line : std::uint8_t { none, open, sent, dropped };  // a waiting task's oneshot

struct TaskModel {
  int id = 0;  // its number: its value, and its index in Harness::tasks_
  int key = 0;
  Kind kind = Kind::completes;
  Line line = Line::none;
  std::optional<weft::oneshot::Sender<int>> tx;
  std::optional<weft::AbortHandle> abort;  // set twins only
  bool aborted = false;                    // may have been cancelled
  bool held = true;                        // in its container, its outcome not yet reported
  /// It can finish without the input doing anything more.
  [[nodiscard]] bool can_finish() const noexcept { return kind != Kind::waits || line != Line::open || aborted; }
};

weft::RuntimeOptions current_thread() {
  weft::RuntimeOptions o;
  o.flavor = weft::Flavor::current_thread;
  return o;
}

class Harness {
 public:
  void run(weft_fuzz::OpReader& in) {
    for (weft_fuzz::current_op = 0; weft_fuzz::current_op < kMaxOps && in.more(); ++weft_fuzz::current_op) {
      switch (in.below(15)) {
        case 0:
        case 1: {
          int k = in.below(kKeys);
          spawn(k, in.byte());
          break;
        }
        case 2: {
          int i = in.byte();
          int x = in.byte();
          if (live_.empty()) break;
          auto it = live_.begin();
          std::advance(it, static_cast<std::ptrdiff_t>(static_cast<std::size_t>(i) % live_.size()));
          spawn(it->first, x);
          break;
        }
        case 3: abort(in.below(kKeys)); break;
        case 4: {
          int m = in.below(4) + 1;
          abort_matching(m, in.byte() % m);
          break;
        }
        case 5: abort_all(); break;
        case 6:
          if (in.below(4) == 0) detach_all();
          break;
        case 7: release(in.below(kKeys), Line::sent); break;
        case 8: release(in.below(kKeys), Line::dropped); break;
        case 9: try_join_next(in.below(2) == 1); break;
        case 10: join_next_map(); break;
        case 11: join_next_set(); break;
        case 12: {
          int n = in.below(4) + 1;
          WEFT_FUZZ_TRACE("run (%d yields)", n);
          rt_.block_on(run_for(n));
          break;
        }
        case 13:
          if (in.below(4) == 0) shutdown();
          break;
        case 14: move(in.below(3)); break;
      }
      check_contents();
    }
    drain();
  }

 private:
  TaskModel& new_task(int key, int x) {
    TaskModel& t = tasks_.emplace_back();
    t.id = static_cast<int>(tasks_.size() - 1);
    t.key = key;
    t.kind = static_cast<Kind>(x % 4);
    return t;
  }
  weft::Task<int> make(TaskModel& t, int x) {
    switch (t.kind) {
      case Kind::completes: return completes(t.id, 0);
      case Kind::yields: return completes(t.id, x / 4 % 3 + 1);
      case Kind::fails: return fails(t.id);
      case Kind::waits: break;
    }
    auto [tx, rx] = weft::oneshot::channel<int>();
    t.tx.emplace(std::move(tx));
    t.line = Line::open;
    return waits(std::move(rx));
  }

  void spawn(int k, int x) {
    WEFT_FUZZ_TRACE("spawn under %d, kind %d", k, x % 4);
    if (auto it = live_.find(k); it != live_.end()) {
      TaskModel& old = tasks_[static_cast<std::size_t>(it->second)];
      old.held = false;  // replaced: aborted, never reported
      old.aborted = true;
      abort_twin(k);  // the set has no keys: its twin is aborted, and still reported
    }
    TaskModel& t = new_task(k, x);
    map_.spawn_on(k, make(t, x), rt_.handle());
    live_[k] = t.id;
    TaskModel& twin = new_task(k, x);
    twin.abort.emplace(set_.spawn_on(make(twin, x), rt_.handle()));
    set_ids_[twin.abort->id().value] = twin.id;
    twin_[k] = twin.id;
    in_set_.insert(twin.id);
  }

  void abort_twin(int k) {
    auto it = twin_.find(k);
    if (it == twin_.end()) return;
    TaskModel& twin = tasks_[static_cast<std::size_t>(it->second)];
    if (!twin.held) return;
    twin.abort->abort();
    twin.aborted = true;
  }

  void abort(int k) {
    WEFT_FUZZ_TRACE("abort %d", k);
    const bool had = map_.abort(k);
    auto it = live_.find(k);
    WEFT_FUZZ_CHECK(had == (it != live_.end()), "abort(key) tells whether the key is held");
    if (it != live_.end()) tasks_[static_cast<std::size_t>(it->second)].aborted = true;
    abort_twin(k);
  }

  void abort_matching(int m, int r) {
    WEFT_FUZZ_TRACE("abort_matching key %% %d == %d", m, r);
    map_.abort_matching([m, r](const int& key) { return key % m == r; });
    for (auto& [k, id] : live_)
      if (k % m == r) tasks_[static_cast<std::size_t>(id)].aborted = true;
    for (int id : in_set_) {
      TaskModel& twin = tasks_[static_cast<std::size_t>(id)];
      if (twin.key % m != r) continue;
      twin.abort->abort();
      twin.aborted = true;
    }
  }

  void abort_all() {
    WEFT_FUZZ_TRACE("abort_all");
    map_.abort_all();
    set_.abort_all();
    for (auto& [k, id] : live_) tasks_[static_cast<std::size_t>(id)].aborted = true;
    for (int id : in_set_) tasks_[static_cast<std::size_t>(id)].aborted = true;
  }

  void detach_all() {
    WEFT_FUZZ_TRACE("detach_all");
    map_.detach_all();
    set_.detach_all();
    for (auto& [k, id] : live_) tasks_[static_cast<std::size_t>(id)].held = false;
    for (int id : in_set_) tasks_[static_cast<std::size_t>(id)].held = false;
    live_.clear();
    in_set_.clear();
    WEFT_FUZZ_CHECK(map_.empty() && set_.empty(), "detach_all empties both");
  }

  // Fulfils (Line::sent) or drops (Line::dropped) the oneshot of k's task and of its twin.
  void release(int k, Line how) {
    WEFT_FUZZ_TRACE("%s %d", how == Line::sent ? "fulfil" : "drop", k);
    if (auto it = live_.find(k); it != live_.end()) release(tasks_[static_cast<std::size_t>(it->second)], how);
    if (auto it = twin_.find(k); it != twin_.end()) release(tasks_[static_cast<std::size_t>(it->second)], how);
  }
  static void release(TaskModel& t, Line how) {
    if (!t.held || t.line != Line::open) return;
    if (how == Line::sent) {
      const bool sent = t.tx->send(t.id).is_ok();
      WEFT_FUZZ_CHECK(sent || t.aborted, "a waiting task's receiver is gone although it was never aborted");
    }
    t.tx.reset();
    t.line = how;
  }

  void check_outcome(TaskModel& t, weft::JoinResult<int>& r) {
    WEFT_FUZZ_TRACE("  task %d: %s", t.id, r.has_value() ? "value" : r.is_cancelled() ? "cancelled" : "exception");
    WEFT_FUZZ_CHECK(t.held, "a task is reported once, while held: never once replaced, detached or reported");
    t.held = false;
    if (r.has_value()) {
      WEFT_FUZZ_CHECK(r.value() == t.id, "a task's value is its own");
      WEFT_FUZZ_CHECK(t.kind == Kind::completes || t.kind == Kind::yields || (t.kind == Kind::waits && t.line == Line::sent),
                      "a value only from a task that could produce one");
    } else if (r.is_cancelled()) {
      WEFT_FUZZ_CHECK(t.aborted, "cancelled only if aborted");
    } else {
      WEFT_FUZZ_CHECK(r.is_panic(), "an error is a cancellation or the task's exception");
      try {
        r.error().resume_panic();
      } catch (const TaskFailure& f) {
        WEFT_FUZZ_CHECK(t.kind == Kind::fails && f.task == t.id, "a task's exception is its own");
      } catch (const weft::oneshot::RecvError&) {
        WEFT_FUZZ_CHECK(t.kind == Kind::waits && t.line == Line::dropped, "RecvError only once the sender was dropped");
      } catch (...) {
        WEFT_FUZZ_CHECK(false, "an exception no task throws");
      }
    }
  }

  void report_map(int k, weft::JoinResult<int>& r) {
    WEFT_FUZZ_TRACE("map result under %d", k);
    auto it = live_.find(k);
    WEFT_FUZZ_CHECK(it != live_.end(), "a map result under a key with no task");
    check_outcome(tasks_[static_cast<std::size_t>(it->second)], r);
    live_.erase(it);
  }

  void report_set(weft::JoinResult<int>& r) {
    int id = -1;
    if (r.has_value()) {
      id = r.value();
    } else if (auto it = set_ids_.find(r.error().id().value); it != set_ids_.end()) {
      id = it->second;
    }
    WEFT_FUZZ_TRACE("set result of task %d", id);
    WEFT_FUZZ_CHECK(in_set_.count(id) == 1, "a set result of a task the set holds");
    check_outcome(tasks_[static_cast<std::size_t>(id)], r);
    in_set_.erase(id);
  }

  // With the budget spent, a result that is ready is still returned (try_join_next never waits,
  // so it spends no budget); only when one appears is not checked.
  void try_join_next(bool spent) {
    WEFT_FUZZ_TRACE("try_join_next%s", spent ? " (budget spent)" : "");
    std::optional<weft::coop::BudgetScope> scope;
    if (spent) scope.emplace(0);
    if (auto r = map_.try_join_next()) report_map(r->first, r->second);
    if (auto r = set_.try_join_next()) report_set(*r);
  }

  void move(int how) {
    if (how == 0) {
      WEFT_FUZZ_TRACE("move both out and back");
      weft::JoinMap<int, int> m(std::move(map_));
      weft::JoinSet<int> t(std::move(set_));
      WEFT_FUZZ_CHECK(map_.empty() && set_.empty(), "a moved-from container is empty");
      map_ = std::move(m);
      set_ = std::move(t);
    } else if (how == 1) {
      WEFT_FUZZ_TRACE("assign empty containers over both");
      map_ = weft::JoinMap<int, int>();
      set_ = weft::JoinSet<int>();
      for (auto& [k, id] : live_) tasks_[static_cast<std::size_t>(id)].held = false;
      for (int id : in_set_) tasks_[static_cast<std::size_t>(id)].held = false;
      live_.clear();
      in_set_.clear();
    } else {
      WEFT_FUZZ_TRACE("self-move-assign both");
      auto& m = map_;
      auto& t = set_;
      map_ = std::move(m);
      set_ = std::move(t);
    }
  }

  bool any_can_finish(const std::map<int, int>& held) const {
    for (auto& [k, id] : held)
      if (tasks_[static_cast<std::size_t>(id)].can_finish()) return true;
    return false;
  }

  void join_next_map() {
    if (!map_.empty() && !any_can_finish(live_)) return;  // it would wait forever
    WEFT_FUZZ_TRACE("join_next map");
    auto r = rt_.block_on(map_.join_next());
    WEFT_FUZZ_CHECK(r.has_value() == !live_.empty(), "join_next yields a result while a task is held, nothing once empty");
    if (r) report_map(r->first, r->second);
  }

  void join_next_set() {
    bool can = in_set_.empty();
    for (int id : in_set_) can |= tasks_[static_cast<std::size_t>(id)].can_finish();
    if (!can) return;  // it would wait forever
    WEFT_FUZZ_TRACE("join_next set");
    auto r = rt_.block_on(set_.join_next());
    WEFT_FUZZ_CHECK(r.has_value() == !in_set_.empty(), "join_next yields a result while a task is held, nothing once empty");
    if (r) report_set(*r);
  }

  void shutdown() {
    WEFT_FUZZ_TRACE("shutdown");
    rt_.block_on(map_.shutdown());
    rt_.block_on(set_.shutdown());
    // Their outcomes were taken and dropped by shutdown.
    for (auto& [k, id] : live_) tasks_[static_cast<std::size_t>(id)].held = false;
    for (int id : in_set_) tasks_[static_cast<std::size_t>(id)].held = false;
    live_.clear();
    in_set_.clear();
    WEFT_FUZZ_CHECK(map_.empty() && set_.empty(), "shutdown empties both");
  }

  void check_contents() const {
    WEFT_FUZZ_CHECK(map_.size() == live_.size(), "the map's size counts its tasks, finished but unjoined included");
    WEFT_FUZZ_CHECK(map_.empty() == live_.empty(), "the map's empty()");
    for (int k = 0; k < kKeys; ++k)
      WEFT_FUZZ_CHECK(map_.contains_key(k) == (live_.count(k) == 1), "contains_key tells the held keys");
    std::vector<int> keys = map_.keys();
    std::sort(keys.begin(), keys.end());
    std::vector<int> expected;
    for (auto& [k, id] : live_) expected.push_back(k);
    WEFT_FUZZ_CHECK(keys == expected, "keys() lists the held keys once each");
    WEFT_FUZZ_CHECK(set_.size() == in_set_.size(), "the set's size counts its tasks");
  }

  // Releases every waiting task (fulfils or drops, by its number's parity), then joins both
  // until empty: every task still held is reported.
  void drain() {
    weft_fuzz::current_op = -1;
    for (TaskModel& t : tasks_) release(t, t.id % 2 ? Line::sent : Line::dropped);
    for (std::size_t n = live_.size() + 1; n > 0 && !live_.empty(); --n) join_next_map();
    WEFT_FUZZ_CHECK(live_.empty() && map_.empty(), "the map reports every task it holds");
    for (std::size_t n = in_set_.size() + 1; n > 0 && !in_set_.empty(); --n) join_next_set();
    WEFT_FUZZ_CHECK(in_set_.empty() && set_.empty(), "the set reports every task it holds");
    WEFT_FUZZ_CHECK(!map_.try_join_next() && !set_.try_join_next(), "nothing more once both are empty");
    join_next_map();
    join_next_set();
  }

  weft::Runtime rt_{current_thread()};
  weft::JoinMap<int, int> map_;
  weft::JoinSet<int> set_;
  std::deque<TaskModel> tasks_;
  std::map<int, int> live_;                       // key -> the map's task under it
  std::map<int, int> twin_;                       // key -> the set twin of the last task spawned under it
  std::set<int> in_set_;                          // the set's tasks
  std::unordered_map<std::uint64_t, int> set_ids_;  // weft task id -> set twin
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  weft_fuzz::OpReader in(data, size);
  Harness h;
  h.run(in);
  return 0;
}
