// The Internet checksum (RFC 1071) for the IPv4 header and UDP (RFC 768, RFC 8200 §8.1).
#pragma once

#include <cstdint>
#include <span>

#include "flow.h"

namespace srtpgate::app {

// One's-complement sum of big-endian 16-bit words, folded and inverted. An odd last byte is
// padded with zero.
uint16_t internet_checksum(std::span<const uint8_t> bytes, uint64_t initial = 0) noexcept;

// The checksum of a UDP datagram (header with its checksum field as it is in `datagram`, so zero
// it first) under the pseudo-header of `src`/`dst`. Returns 0xFFFF for a computed 0 (RFC 768:
// zero means "no checksum").
uint16_t udp_checksum(const IpAddress& src, const IpAddress& dst,
                      std::span<const uint8_t> datagram) noexcept;

}  // namespace srtpgate::app
