#pragma once
// A worker's bounded run queue: single producer (its owner), many stealers, steal-half.
//
// This follows tokio's multi_thread/queue.rs (itself a variant of the Chase-Lev deque,
// "Dynamic Circular Work-Stealing Deque", SPAA 2005, restricted to a fixed ring):
//   - `tail` is written only by the owner (push); stealers read it.
//   - `head` packs two 32-bit indexes: `real`, the next slot to pop or steal, and `steal`,
//     the start of a batch a stealer has claimed but not finished copying. steal == real
//     when no steal is in progress. Only one stealer may be in progress at a time.
//   - The owner may write slot i only while i - steal < Cap, so a slot being copied by a
//     stealer is never overwritten.
//   - Indexes wrap (unsigned arithmetic); Cap is a power of two and at most 2^31.
// Differences from tokio: none in the algorithm; slots are relaxed atomics so that racy
// reads are well-defined C++ rather than "volatile reads of maybe-torn slots".
//
// Roles are types: LocalQueue is the shared storage and has no operations of its own; its
// one Owner (push_back, pop; the worker's thread) and any number of Stealers (steal_into,
// any thread acting as another queue's Owner) are handles to it. A steal reports Empty,
// Retry (another stealer is mid-steal: the queue may have tasks, look again) or Success,
// after crossbeam-deque's Steal, so a thief does not give up on a queue that is only busy.
//
// The overflow sink of push_back is any type with push_batch(T*, n) (concept OverflowSink).
#include <array>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "weft/detail/cache_padded.hpp"

namespace weft::detail {

inline constexpr std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept {
  return (std::uint64_t{steal} << 32) | real;
}
inline constexpr std::pair<std::uint32_t, std::uint32_t> unpack(std::uint64_t v) noexcept {
  return {static_cast<std::uint32_t>(v >> 32), static_cast<std::uint32_t>(v)};
}

/// Where a full queue's overflow goes: push_batch(T*, n) takes n tasks.
template <class S, class T>
concept OverflowSink = requires(S& s, T* ts, std::size_t n) { s.push_batch(ts, n); };

/// The result of a steal (crossbeam-deque's Steal).
template <class T>
class Steal {
 public:
  enum class Kind { Empty, Retry, Success };
  static Steal empty() noexcept { return Steal(Kind::Empty, nullptr); }
  static Steal retry() noexcept { return Steal(Kind::Retry, nullptr); }
  static Steal success(T task) noexcept { return Steal(Kind::Success, task); }

  [[nodiscard]] bool is_empty() const noexcept { return kind_ == Kind::Empty; }
  [[nodiscard]] bool is_retry() const noexcept { return kind_ == Kind::Retry; }
  [[nodiscard]] bool is_success() const noexcept { return kind_ == Kind::Success; }
  /// The stolen task on Success, else nullptr.
  [[nodiscard]] T task() const noexcept { return task_; }

 private:
  Steal(Kind k, T t) noexcept : kind_(k), task_(t) {}
  Kind kind_;
  T task_;
};

/// T is a pointer type; Cap a power of two (tests use 4 to force wrap-around and overflow).
template <class T, std::uint32_t Cap>
class LocalQueue {
  static_assert(Cap >= 2 && (Cap & (Cap - 1)) == 0 && Cap <= (1u << 31), "Cap must be a power of two");
  static_assert(std::is_pointer_v<T>);
  static constexpr std::uint32_t mask = Cap - 1;

 public:
  class Owner;
  class Stealer;

  LocalQueue() noexcept {
    // Relaxed: construction; the queue is published to stealers by whatever shares it.
    for (auto& s : buffer_) s.store(nullptr, std::memory_order_relaxed);
  }
  LocalQueue(const LocalQueue&) = delete;
  LocalQueue& operator=(const LocalQueue&) = delete;

  static constexpr std::uint32_t capacity() noexcept { return Cap; }

  /// The owner's handle: one per queue (asserted), used by one thread at a time. Not
  /// movable: hold it where it is made (guaranteed copy elision).
  [[nodiscard]] Owner owner() noexcept {
    assert(!owner_taken_);
    owner_taken_ = true;
    return Owner(*this);
  }
  /// A stealer's handle (as many as wanted).
  [[nodiscard]] Stealer stealer() noexcept { return Stealer(*this); }

 private:
  /// Number of tasks (racy; exact when called by the owner with no steal in progress).
  [[nodiscard]] std::uint32_t len() const noexcept {
    // Acquire on both: pair with the owner's release store of tail and stealers' head CAS.
    auto [steal, real] = unpack(head_->load(std::memory_order_acquire));
    (void)steal;
    return tail_->load(std::memory_order_acquire) - real;
  }

  /// Owner only. Pushes `task`; on a full queue moves half of it plus `task` to `overflow`.
  /// While a stealer is mid-steal and the queue is full, `task` alone goes to `overflow`.
  template <OverflowSink<T> Overflow>
  void push_back(T task, Overflow& overflow) {
    for (;;) {
      // Acquire: pairs with the stealer's release CAS that finished a steal, so slots freed
      // by that steal are no longer being read when we overwrite them.
      std::uint64_t head = head_->load(std::memory_order_acquire);
      auto [steal, real] = unpack(head);
      std::uint32_t tail = owner_tail();
      if (tail - steal < Cap) {
        // Relaxed slot store: published by the release store of tail below.
        buffer_[tail & mask].store(task, std::memory_order_relaxed);
        // Release: pairs with the acquire load of tail in steal_into2 and len().
        tail_->store(tail + 1, std::memory_order_release);
        return;
      }
      if (steal != real) {
        // A stealer is copying; it will free room soon. Do not wait for it.
        overflow.push_batch(&task, 1);
        return;
      }
      if (push_overflow(task, real, tail, overflow)) return;
      // A stealer took tasks meanwhile: there is room now; retry.
    }
  }

  /// Owner only. Pops the oldest task (FIFO), or nullptr.
  T pop() noexcept {
    // Acquire: pairs with stealers' release CAS on head.
    std::uint64_t head = head_->load(std::memory_order_acquire);
    std::uint32_t real;
    for (;;) {
      auto [steal, r] = unpack(head);
      real = r;
      if (real == owner_tail()) return nullptr;
      std::uint32_t next_real = real + 1;
      // With no steal in progress, move both halves together.
      std::uint64_t next = steal == real ? pack(next_real, next_real) : pack(steal, next_real);
      // AcqRel: claim slot `real` against stealers racing for the same head.
      if (head_->compare_exchange_weak(head, next, std::memory_order_acq_rel, std::memory_order_acquire))
        break;
    }
    // Relaxed: the slot was written by this thread (the owner).
    return buffer_[real & mask].load(std::memory_order_relaxed);
  }

  /// Called by the owner of `dst` (the thief), never by this queue's owner. Steals half of
  /// this queue into `dst` and returns one of the stolen tasks to run at once.
  Steal<T> steal_into(LocalQueue& dst) noexcept {
    std::uint32_t dst_tail = dst.owner_tail();
    // Acquire: pairs with stealers of dst (room accounting).
    auto [dst_steal, dst_real] = unpack(dst.head_->load(std::memory_order_acquire));
    (void)dst_real;
    if (dst_tail - dst_steal > Cap / 2) return Steal<T>::empty();  // dst has no room for half of us
    std::uint32_t n = 0;
    if (!steal_into2(dst, dst_tail, n)) return Steal<T>::retry();
    if (n == 0) return Steal<T>::empty();
    --n;
    std::uint32_t ret_pos = dst_tail + n;
    // Relaxed: written by this thread in steal_into2.
    T ret = dst.buffer_[ret_pos & mask].load(std::memory_order_relaxed);
    if (n == 0) return Steal<T>::success(ret);
    // Release: publishes the copied slots to dst's stealers (pairs with their tail acquire).
    dst.tail_->store(dst_tail + n, std::memory_order_release);
    return Steal<T>::success(ret);
  }

  std::uint32_t owner_tail() const noexcept {
    // Relaxed: only the owner writes tail, and this is the owner.
    return tail_->load(std::memory_order_relaxed);
  }

  template <OverflowSink<T> Overflow>
  bool push_overflow(T task, std::uint32_t head, std::uint32_t tail, Overflow& overflow) {
    constexpr std::uint32_t n = Cap / 2;
    assert(tail - head == Cap);
    (void)tail;
    // Claim the oldest half. Release: stealers that then load head see the claim;
    // acquire on failure: pairs with a stealer's CAS that moved head (we retry).
    std::uint64_t expect = pack(head, head);
    if (!head_->compare_exchange_strong(expect, pack(head + n, head + n), std::memory_order_acq_rel,
                                        std::memory_order_acquire))
      return false;
    std::array<T, n + 1> batch;
    for (std::uint32_t i = 0; i < n; ++i)
      batch[i] = buffer_[(head + i) & mask].load(std::memory_order_relaxed);  // owner's own slots
    batch[n] = task;
    overflow.push_batch(batch.data(), n + 1);
    return true;
  }

  // Claims and copies half of this queue into dst at dst_tail; `n` is how many. False if
  // another stealer is in progress (nothing claimed: Retry).
  bool steal_into2(LocalQueue& dst, std::uint32_t dst_tail, std::uint32_t& n) noexcept {
    // Acquire: pairs with the owner's and other stealers' release on head.
    std::uint64_t prev = head_->load(std::memory_order_acquire);
    std::uint64_t next;
    for (;;) {
      auto [src_steal, src_real] = unpack(prev);
      // Acquire: pairs with the owner's release store of tail, making slots < tail visible.
      std::uint32_t src_tail = tail_->load(std::memory_order_acquire);
      if (src_steal != src_real) return false;  // another stealer is in progress
      n = src_tail - src_real;
      n -= n / 2;
      if (n == 0) return true;
      // Claim [src_real, src_real + n) while keeping `steal` at the old head, so the owner
      // does not overwrite those slots until we release them below.
      next = pack(src_steal, src_real + n);
      if (head_->compare_exchange_weak(prev, next, std::memory_order_acq_rel, std::memory_order_acquire))
        break;
    }
    assert(n <= Cap / 2);
    std::uint32_t first = unpack(next).first;
    for (std::uint32_t i = 0; i < n; ++i) {
      // Relaxed: the claim above and the owner's acquire of head keep these slots stable;
      // visibility of their contents came with the acquire load of tail.
      T t = buffer_[(first + i) & mask].load(std::memory_order_relaxed);
      dst.buffer_[(dst_tail + i) & mask].store(t, std::memory_order_relaxed);
    }
    // Release the claim: steal := real. Release pairs with the owner's acquire load of head
    // in push_back (the copied slots may now be reused).
    prev = next;
    for (;;) {
      std::uint32_t real = unpack(prev).second;
      if (head_->compare_exchange_weak(prev, pack(real, real), std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
      assert(unpack(prev).first != unpack(prev).second);
    }
  }

  // head: written by the owner (pop, overflow) and stealers (CAS); read by both.
  cache_padded<std::atomic<std::uint64_t>> head_{pack(0, 0)};
  // tail: written by the owner only (release); read by stealers (acquire).
  cache_padded<std::atomic<std::uint32_t>> tail_{0};
  std::array<std::atomic<T>, Cap> buffer_;
  bool owner_taken_ = false;  // owner() was called (set at setup, before sharing)
};

/// The owner's role: push and pop, from the one thread that owns the queue.
template <class T, std::uint32_t Cap>
class LocalQueue<T, Cap>::Owner {
 public:
  Owner(Owner&&) = delete;
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;

  /// Pushes `task`; on a full queue moves half of it plus `task` to `overflow`.
  template <OverflowSink<T> Overflow>
  void push_back(T task, Overflow& overflow) {
    q_->push_back(task, overflow);
  }
  /// Pops the oldest task (FIFO), or nullptr.
  T pop() noexcept { return q_->pop(); }
  /// Steals half of `victim` into this queue; returns one of the stolen tasks to run now.
  Steal<T> steal_from(const Stealer& victim) noexcept { return victim.q_->steal_into(*q_); }
  /// Exact while no steal is in progress.
  [[nodiscard]] std::uint32_t len() const noexcept { return q_->len(); }
  [[nodiscard]] bool is_empty() const noexcept { return q_->len() == 0; }

 private:
  friend class LocalQueue;
  explicit Owner(LocalQueue& q) noexcept : q_(&q) {}
  LocalQueue* q_;
};

/// The stealers' role: any thread may hold one; stealing goes through the thief's Owner.
template <class T, std::uint32_t Cap>
class LocalQueue<T, Cap>::Stealer {
 public:
  /// Racy: a hint for whether there is anything to steal.
  [[nodiscard]] bool is_empty() const noexcept { return q_->len() == 0; }

 private:
  friend class LocalQueue;
  friend class Owner;
  explicit Stealer(LocalQueue& q) noexcept : q_(&q) {}
  LocalQueue* q_;
};

}  // namespace weft::detail
