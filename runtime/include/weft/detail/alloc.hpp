#pragma once
// Allocation of coroutine frames and task cells: mimalloc by default; the system allocator
// when WEFT_SYSTEM_ALLOCATOR is defined (used by the allocator benchmark) or under
// AddressSanitizer (so ASan sees every frame).
#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_DETAIL_SYSTEM_ALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_DETAIL_SYSTEM_ALLOC 1
#endif
#endif
#if defined(WEFT_SYSTEM_ALLOCATOR)
#define WEFT_DETAIL_SYSTEM_ALLOC 1
#endif

#if !defined(WEFT_DETAIL_SYSTEM_ALLOC)
#include <mimalloc.h>
#endif

namespace weft::detail {
inline void* frame_alloc(std::size_t n) {
#if defined(WEFT_DETAIL_SYSTEM_ALLOC)
  return ::operator new(n);
#else
  void* p = mi_malloc(n);
  if (!p) throw std::bad_alloc();
  return p;
#endif
}
inline void frame_free(void* p, [[maybe_unused]] std::size_t n) noexcept {
#if defined(WEFT_DETAIL_SYSTEM_ALLOC)
  ::operator delete(p, n);
#else
  mi_free_size(p, n);
#endif
}
}  // namespace weft::detail
