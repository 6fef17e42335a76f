# The install test: installs weft into a temporary prefix, then configures, builds and runs a
# consumer project that finds it with find_package and whose main is the README's example.
# cmake -DSRC=<weft source> -DWORK=<scratch dir> -DCXX=<compiler> -DEXAMPLE=<extracted example> -P run.cmake
file(REMOVE_RECURSE ${WORK})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: '${ARGN}' failed (${rc}):\n${out}")
  endif()
endfunction()
step(${CMAKE_COMMAND} -S ${SRC} -B ${WORK}/weft -G Ninja -DCMAKE_BUILD_TYPE=Release
     -DCMAKE_CXX_COMPILER=${CXX} -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF
     -DCMAKE_INSTALL_PREFIX=${WORK}/prefix)
step(${CMAKE_COMMAND} --build ${WORK}/weft -j2)
step(${CMAKE_COMMAND} --install ${WORK}/weft)
if(EXISTS ${WORK}/prefix/include/weft/detail/local_queue.hpp)
  message(STATUS "install test: note: scheduler internals are still installed (issue 11)")
endif()
step(${CMAKE_COMMAND} -S ${SRC}/test/install/consumer -B ${WORK}/consumer -G Ninja
     -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${WORK}/prefix -DEXAMPLE_SOURCE=${EXAMPLE})
step(${CMAKE_COMMAND} --build ${WORK}/consumer)
step(${WORK}/consumer/consumer)
message(STATUS "install test: installed, found with find_package, README example built and run")
