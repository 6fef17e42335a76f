// weft_bench_mimalloc only: before any benchmark runs, check that the program's malloc is
// mimalloc's (linked ahead of libc, see bench/CMakeLists.txt). If a linker dropped the
// library or libc came first, the mimalloc column would silently compare a glibc program
// with tokio's mimalloc one.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
struct MallocIsMimalloc {
  MallocIsMimalloc() {
    Dl_info info{};
    void* (*m)(std::size_t) = &::malloc;
    if (::dladdr(reinterpret_cast<void*>(m), &info) == 0 || info.dli_fname == nullptr ||
        std::strstr(info.dli_fname, "mimalloc") == nullptr) {
      std::fprintf(stderr, "weft_bench_mimalloc: malloc comes from %s, not from mimalloc\n",
                   info.dli_fname != nullptr ? info.dli_fname : "an unknown object");
      std::exit(2);
    }
  }
} const malloc_is_mimalloc;
}  // namespace
