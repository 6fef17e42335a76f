# Every dependency is a Debian package; a missing one stops configure with one line naming it.
include_guard(GLOBAL)

function(weft_require_package found pkg)
  if(NOT ${found})
    message(FATAL_ERROR "weft: missing dependency: install the Debian package '${pkg}' (apt-get install ${pkg})")
  endif()
endfunction()

find_package(Threads REQUIRED)

find_package(mimalloc CONFIG QUIET)
weft_require_package(mimalloc_FOUND libmimalloc-dev)

find_path(WEFT_CONCURRENTQUEUE_INCLUDE concurrentqueue/concurrentqueue.h)
if(WEFT_CONCURRENTQUEUE_INCLUDE)
  set(_cq_found TRUE)
endif()
weft_require_package(_cq_found libconcurrentqueue-dev)
if(NOT TARGET weft_concurrentqueue)
  add_library(weft_concurrentqueue INTERFACE IMPORTED GLOBAL)
  target_include_directories(weft_concurrentqueue SYSTEM INTERFACE ${WEFT_CONCURRENTQUEUE_INCLUDE})
endif()

if(WEFT_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  weft_require_package(GTest_FOUND "libgtest-dev libgmock-dev")
endif()
if(WEFT_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
  weft_require_package(benchmark_FOUND libbenchmark-dev)
endif()
