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

}  // namespace weft::detail
