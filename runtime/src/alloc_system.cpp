// WEFT_ALLOCATOR=system: frames and task cells come from ::operator new.
#include <new>

#include "weft/detail/alloc.hpp"

namespace weft {
Allocator frame_allocator() noexcept { return Allocator::system; }

namespace detail {
void* frame_alloc(std::size_t n) { return ::operator new(n); }
// (Unsized: clang 14 does not declare sized deallocation without -fsized-deallocation.)
void frame_free(void* p, std::size_t) noexcept { ::operator delete(p); }
}  // namespace detail
}  // namespace weft
