#pragma once
// Allocation of coroutine frames, task cells and weft's own nodes (channel nodes, generator
// frames). Which allocator serves them is fixed when weft is built, by the CMake option
// WEFT_ALLOCATOR (see the README):
//   mimalloc  mimalloc's heap. The library is loaded privately (dlopen with RTLD_LOCAL), so
//             its malloc/free/new/delete never interpose the program's own: only what weft
//             allocates through these two functions comes from mimalloc.
//   system    ::operator new / ::operator delete, i.e. whatever the program uses.
// Sanitizer builds always use the system allocator (ASan must see every frame; TSan does not
// see the synchronization inside mimalloc's cross-thread frees).
#include <cstddef>

namespace weft {

enum class Allocator { system, mimalloc };

/// The allocator this build of weft serves frames and task cells from.
[[nodiscard]] Allocator frame_allocator() noexcept;

namespace detail {
/// Throws std::bad_alloc when out of memory (or std::runtime_error if the allocator chosen
/// at build time cannot be loaded).
void* frame_alloc(std::size_t n);
/// `n` must be the size passed to frame_alloc.
void frame_free(void* p, std::size_t n) noexcept;
}  // namespace detail

}  // namespace weft
