#pragma once
// A sequentially consistent fence, for the store-buffering pairs (each side: write; fence;
// read the other side's location) that prevent lost wake-ups and stranded queue entries.
// g++ warns that ThreadSanitizer does not model standalone fences (-Wtsan). These fences
// order a liveness protocol (who wakes or drains), not data accesses, so TSan's blindness to
// them cannot hide a data race; the warning is silenced here, in one place.
#include <atomic>

namespace weft::detail {

inline void seq_cst_fence() noexcept {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
  std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}

}  // namespace weft::detail
