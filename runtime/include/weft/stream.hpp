#pragma once
// Everything about streams: the model, sources, combinators and consumers.
#include "weft/stream/combinators.hpp"
#include "weft/stream/consumers.hpp"
#include "weft/stream/sources.hpp"
#include "weft/stream/stream.hpp"
