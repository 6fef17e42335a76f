#pragma once
// Allocation of coroutine frames and task cells: mimalloc by default; the system allocator
// when WEFT_SYSTEM_ALLOCATOR is defined (used by the allocator benchmark) or under
// a sanitizer: ASan must see every frame, and TSan must see the synchronization inside the
// allocator (mimalloc's cross-thread frees are invisible to it, so reuse of a freed frame
// by another thread would be reported as a race).
#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_DETAIL_SYSTEM_ALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
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
  ::operator delete(p);
#else
  mi_free_size(p, n);
#endif
}
}  // namespace weft::detail
