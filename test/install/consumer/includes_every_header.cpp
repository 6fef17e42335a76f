// Compiled into the install test's consumer: every public header of the installed package
// compiles from the prefix alone (the containers' internal headers, in
// include/weft/containers/, included by the public ones, must be installed too).
#include <weft/join_map.hpp>
#include <weft/join_set.hpp>
#include <weft/ready_stream_map.hpp>
#include <weft/stream.hpp>
#include <weft/sync.hpp>
#include <weft/testing/mock_task.hpp>
#include <weft/vec_stream_map.hpp>
#include <weft/weft.hpp>
