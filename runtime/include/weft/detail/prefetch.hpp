#pragma once
// A hint that `p` will be written soon: starts loading its cache line. Never faults (an
// invalid or null address is ignored), so any pointer may be passed, such as the opaque
// data of a waker about to be woken.
namespace weft::detail {

inline void prefetch_for_write(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 1, 3);
#else
  (void)p;
#endif
}

/// prefetch_for_write for the first 64 bytes at `p`, wherever they fall: the head of an
/// object allocated at 16-byte alignment spans two cache lines half of the time.
inline void prefetch_head_for_write(const void* p) noexcept {
  prefetch_for_write(p);
  prefetch_for_write(static_cast<const char*>(p) + 63);
}

}  // namespace weft::detail
