// The allocator choice (WEFT_ALLOCATOR, weft/detail/alloc.hpp). Built twice: against the
// runtime with the system allocator (EXPECT_MIMALLOC=0) and against the one with mimalloc
// (EXPECT_MIMALLOC=1). Either way, the program's own malloc must stay glibc's and its
// operator new libstdc++'s.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <link.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../support.hpp"
#include "weft/weft.hpp"

#ifndef EXPECT_MIMALLOC
#error "EXPECT_MIMALLOC must be 0 or 1"
#endif

namespace {

/// The file names of every object loaded into this process.
std::vector<std::string> loaded_objects() {
  std::vector<std::string> names;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) {
        static_cast<std::vector<std::string>*>(out)->emplace_back(info->dlpi_name ? info->dlpi_name : "");
        return 0;
      },
      &names);
  return names;
}

/// The object that the global lookup scope resolves `sym` to (what a plain call binds to).
std::string provider_of(const char* sym) {
  void* p = dlsym(RTLD_DEFAULT, sym);
  Dl_info info{};
  if (p == nullptr || dladdr(p, &info) == 0 || info.dli_fname == nullptr) return "?";
  return info.dli_fname;
}

int run_some_tasks() {
  weft::Runtime rt(weft_test::mt(2));
  return rt.block_on([]() -> weft::Task<int> {
    std::vector<weft::JoinHandle<int>> hs;
    for (int i = 0; i < 1000; ++i) hs.push_back(weft::spawn([](int i) -> weft::Task<int> { co_return i; }(i)));
    int sum = 0;
    for (auto& h : hs) sum += co_await h;
    co_return sum;
  }());
}

TEST(Allocator, program_malloc_and_new_stay_glibc) {
  ASSERT_EQ(run_some_tasks(), 999 * 1000 / 2);
  for (const char* sym : {"malloc", "free", "calloc", "realloc", "_Znwm", "_ZdlPv"}) {
    const std::string p = provider_of(sym);
    EXPECT_EQ(p.find("mimalloc"), std::string::npos) << sym << " is served by " << p;
#if !WEFT_TEST_SANITIZED  // a sanitizer's runtime, linked into the test, interposes these
    const char* expected = sym[0] == '_' ? "libstdc++.so" : "libc.so";  // operator new / delete
    EXPECT_NE(p.find(expected), std::string::npos) << sym << " is served by " << p << ", not " << expected;
#endif
  }
}

#if EXPECT_MIMALLOC

bool mimalloc_loaded() {
  for (const auto& n : loaded_objects())
    if (n.find("mimalloc") != std::string::npos) return true;
  return false;
}

TEST(Allocator, mimalloc_build_serves_frames_from_a_private_mimalloc) {
  EXPECT_EQ(weft::frame_allocator(), weft::Allocator::mimalloc);
  ASSERT_EQ(run_some_tasks(), 999 * 1000 / 2);
  ASSERT_TRUE(mimalloc_loaded());
  // Find mimalloc without adding it to the global scope (RTLD_NOLOAD: it is already open).
  void* lib = nullptr;
  for (const auto& n : loaded_objects())
    if (n.find("mimalloc") != std::string::npos) lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  ASSERT_NE(lib, nullptr);
  auto in_heap = reinterpret_cast<bool (*)(const void*)>(dlsym(lib, "mi_is_in_heap_region"));
  ASSERT_NE(in_heap, nullptr);
  void* frame = weft::detail::frame_alloc(64);
  void* plain = std::malloc(64);
  auto* obj = new int(7);
  EXPECT_TRUE(in_heap(frame)) << "a frame must come from mimalloc";
  EXPECT_FALSE(in_heap(plain)) << "the program's malloc must not be mimalloc's";
  EXPECT_FALSE(in_heap(obj)) << "the program's operator new must not be mimalloc's";
  delete obj;
  std::free(plain);
  weft::detail::frame_free(frame, 64);
  dlclose(lib);  // drops the RTLD_NOLOAD reference only
}

#else

TEST(Allocator, system_build_loads_no_mimalloc) {
  EXPECT_EQ(weft::frame_allocator(), weft::Allocator::system);
  ASSERT_EQ(run_some_tasks(), 999 * 1000 / 2);
  for (const auto& n : loaded_objects()) EXPECT_EQ(n.find("mimalloc"), std::string::npos) << n << " is loaded";
}

#endif

}  // namespace
