// RTP and RTCP header parsing (RFC 3550 §5.1, §6.4; RFC 8285; RFC 5761 §4). Every length is
// checked against the buffer before it is used; nothing here writes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace srtpgate::rtp {

inline constexpr std::size_t kFixedHeaderLen = 12;

struct Header {
  // Fixed header + CSRCs + extension (the SRTP "header" of RFC 3711 §3.1).
  uint16_t header_len = 0;
  uint8_t csrc_count = 0;
  bool padding = false;
  bool extension = false;
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint16_t extension_profile = 0;  // 0xBEDE one-byte, 0x100X two-byte (RFC 8285 §4.2, §4.3)
  uint16_t extension_len = 0;      // bytes of extension data after its 4-byte header
};

// Parses the header of an RTP packet (plaintext or SRTP: the header is never encrypted).
// Fails on version != 2 or when CSRCs or the extension run past the buffer.
std::optional<Header> parse_header(std::span<const uint8_t> packet) noexcept;

// Walks RFC 8285 one-byte or two-byte extension elements; false if an element overruns the
// extension block or uses a reserved ID (15 in the one-byte form). Unknown profiles are opaque
// (RFC 3550 §5.3.1) and accepted.
bool extension_elements_valid(std::span<const uint8_t> packet, const Header& header) noexcept;

// Payload bounds of a plaintext RTP packet, with RFC 3550 §5.1 padding removed.
struct Payload {
  uint32_t offset = 0;
  uint32_t len = 0;
  uint8_t padding_len = 0;
};
// Fails when the padding count is zero or larger than the payload.
std::optional<Payload> payload_of(std::span<const uint8_t> packet, const Header& header) noexcept;

// RFC 5761 §4: with RTP and RTCP on one port, second byte 192..223 (PT with the marker bit) is
// RTCP. The first byte must have version 2.
bool looks_like_rtcp(std::span<const uint8_t> packet) noexcept;

}  // namespace srtpgate::rtp

namespace srtpgate::rtcp {

inline constexpr std::size_t kHeaderLen = 8;  // V/P/RC, PT, length, SSRC of sender

// RFC 3550 §6.4 / Appendix A.2: the packets of a compound RTCP packet each have version 2 and
// their length fields add up exactly to the buffer; only the last may be padded. Returns the
// number of packets in the compound, or nullopt.
std::optional<uint32_t> validate_compound(std::span<const uint8_t> packet) noexcept;

// The sender SSRC of the first packet of a compound (bytes 4..7); needs 8 bytes.
std::optional<uint32_t> sender_ssrc(std::span<const uint8_t> packet) noexcept;

}  // namespace srtpgate::rtcp
