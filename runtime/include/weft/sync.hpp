#pragma once
// Every synchronization primitive.
#include "weft/sync/atomic_waker.hpp"
#include "weft/sync/broadcast.hpp"
#include "weft/sync/cancellation_token.hpp"
#include "weft/sync/mpsc.hpp"
#include "weft/sync/notify.hpp"
#include "weft/sync/oneshot.hpp"
#include "weft/sync/semaphore.hpp"
#include "weft/sync/watch.hpp"
