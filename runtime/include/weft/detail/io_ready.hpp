#pragma once
// Readiness as the I/O driver reports it (runtime/src/driver/io_driver.hpp has the protocol),
// shared by the driver and weft/io/registration.hpp.
#include <cstdint>

namespace weft::detail {

namespace io_bits {
inline constexpr std::uint32_t readable = 1u << 0;
inline constexpr std::uint32_t writable = 1u << 1;
inline constexpr std::uint32_t read_closed = 1u << 2;
inline constexpr std::uint32_t write_closed = 1u << 3;
inline constexpr std::uint32_t error = 1u << 4;
inline constexpr std::uint32_t mask = 0x1f;
/// What makes each direction ready.
inline constexpr std::uint32_t read_ready = readable | read_closed | error;
inline constexpr std::uint32_t write_ready = writable | write_closed | error;
}  // namespace io_bits

enum class Direction : std::uint8_t { read, write };

/// What a poll for readiness saw: the ready bits of one direction and the driver tick they
/// were set at (clear_readiness clears them only if no later turn set them again).
struct ReadyEvent {
  std::uint32_t ready = 0;
  std::uint16_t tick = 0;
  bool shutdown = false;
};

}  // namespace weft::detail
