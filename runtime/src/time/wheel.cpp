// The runtime's timer wheel, instantiated here so that every member is compiled with the
// library's warnings (the header is in runtime/src, which the header check does not cover).
#include "wheel.hpp"

namespace weft::detail {
template class BasicTimerWheel<6>;
}  // namespace weft::detail
