#pragma once
// Umbrella header.
#include "weft/coop.hpp"
#include "weft/future.hpp"
#include "weft/join_error.hpp"
#include "weft/join_handle.hpp"
#include "weft/poll.hpp"
#include "weft/runtime.hpp"
#include "weft/task.hpp"
#include "weft/waker.hpp"
