#pragma once
// Umbrella header of the runtime: tasks, futures, the runtime, JoinHandle, coop. Channels and
// sync primitives are in weft/sync.hpp, streams in weft/stream.hpp, the containers
// (JoinSet, JoinMap, the StreamMaps) in their own headers.
#include "weft/coop.hpp"
#include "weft/future.hpp"
#include "weft/join_error.hpp"
#include "weft/join_handle.hpp"
#include "weft/poll.hpp"
#include "weft/runtime.hpp"
#include "weft/task.hpp"
#include "weft/waker.hpp"
