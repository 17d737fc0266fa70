// Puts a frame back together after its UDP payload changed length in place.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "frame_parser.h"

namespace srtpgate::app {

// Largest payload a datagram laid out like `parsed` can carry (IPv4 total length and IPv6
// payload length are 16-bit, and so is the UDP length).
uint32_t max_payload_len(const ParsedFrame& parsed) noexcept;

// `frame` holds the link, IP and UDP headers of `parsed` followed by `payload_len` bytes of new
// payload. Rewrites the IPv4 total length and header checksum or the IPv6 payload length, the UDP
// length and the UDP checksum (kept zero for IPv4 when the sender sent none, RFC 768). Bytes after
// the datagram (an Ethernet trailer) are dropped. Returns the new frame length, or nullopt when
// the payload does not fit `frame` or max_payload_len(). Writes nothing outside `frame`.
std::optional<uint32_t> finish_frame(std::span<uint8_t> frame, const ParsedFrame& parsed,
                                     uint32_t payload_len) noexcept;

}  // namespace srtpgate::app
