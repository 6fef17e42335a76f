// WEFT_ALLOCATOR=mimalloc: frames and task cells come from mimalloc, loaded privately.
//
// Debian ships mimalloc only as a shared library that exports malloc, free, operator new and
// the rest: linking it (a DT_NEEDED entry) puts those symbols in the process's global scope,
// where they replace glibc's for the whole program. weft must not make that choice for the
// program that links it, so the library is opened with dlopen(RTLD_LOCAL): its symbols stay
// out of the global scope, and weft calls mi_malloc / mi_free_size through pointers.
// A program that wants mimalloc everywhere links libmimalloc itself.
#include <dlfcn.h>

#include <new>
#include <stdexcept>
#include <string>

#include "weft/detail/alloc.hpp"

#ifndef WEFT_MIMALLOC_SONAME
#error "WEFT_MIMALLOC_SONAME must name the mimalloc shared library (set by CMake)"
#endif

namespace weft {
namespace {
struct MimallocApi {
  void* (*malloc)(std::size_t) noexcept;
  void (*free_size)(void*, std::size_t) noexcept;
};

MimallocApi load_mimalloc() {
  // Never closed: frames may be freed until the process exits.
  void* lib = ::dlopen(WEFT_MIMALLOC_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = ::dlerror();
    throw std::runtime_error(std::string("weft: built with WEFT_ALLOCATOR=mimalloc, but ") + WEFT_MIMALLOC_SONAME +
                             " cannot be loaded (" + (err ? err : "unknown error") +
                             "); install Debian's libmimalloc2.0 or rebuild weft with WEFT_ALLOCATOR=system");
  }
  MimallocApi api{};
  // SAFETY: the symbols have these C signatures in mimalloc.h (mi_malloc, mi_free_size).
  api.malloc = reinterpret_cast<void* (*)(std::size_t) noexcept>(::dlsym(lib, "mi_malloc"));
  api.free_size = reinterpret_cast<void (*)(void*, std::size_t) noexcept>(::dlsym(lib, "mi_free_size"));
  if (api.malloc == nullptr || api.free_size == nullptr)
    throw std::runtime_error(std::string("weft: ") + WEFT_MIMALLOC_SONAME + " lacks mi_malloc or mi_free_size");
  return api;
}

const MimallocApi& mimalloc() {
  // Initialized on first use (thread-safe); a failed load throws and is retried next time.
  static const MimallocApi api = load_mimalloc();
  return api;
}
}  // namespace

Allocator frame_allocator() noexcept { return Allocator::mimalloc; }

namespace detail {
void* frame_alloc(std::size_t n) {
  void* p = mimalloc().malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
// Only reached for memory frame_alloc returned, so mimalloc() is already initialized and
// cannot throw here.
void frame_free(void* p, std::size_t n) noexcept { mimalloc().free_size(p, n); }
}  // namespace detail
}  // namespace weft
