// The RTP header parser, inline so the burst kernels pay no call per packet.
#pragma once

#include "byte_order.h"
#include "srtpgate/rtp.h"

namespace srtpgate::rtp::detail {

// RFC 3550 §5.1 fixed header and §5.3.1 extension; every length checked against the buffer.
inline std::optional<Header> parse_header_inline(std::span<const uint8_t> p) noexcept {
  if (p.size() < kFixedHeaderLen || (p[0] >> 6) != 2) {
    return std::nullopt;
  }
  Header h;
  h.padding = (p[0] & 0x20) != 0;
  h.extension = (p[0] & 0x10) != 0;
  h.csrc_count = p[0] & 0x0f;
  h.marker = (p[1] & 0x80) != 0;
  h.payload_type = p[1] & 0x7f;
  h.sequence = load_be16(&p[2]);
  h.timestamp = load_be32(&p[4]);
  h.ssrc = load_be32(&p[8]);
  std::size_t len = kFixedHeaderLen + std::size_t{4} * h.csrc_count;
  if (h.extension) {
    if (p.size() < len + 4) {
      return std::nullopt;
    }
    h.extension_profile = load_be16(&p[len]);
    const std::size_t extension_len = std::size_t{4} * load_be16(&p[len + 2]);  // up to 262140
    len += 4 + extension_len;
    h.extension_len = static_cast<uint16_t>(extension_len);  // exact when the check below passes
  }
  // A header longer than 65535 bytes fits no UDP datagram, nor Header's 16-bit lengths.
  if (p.size() < len || len > 0xffff) {
    return std::nullopt;
  }
  h.header_len = static_cast<uint16_t>(len);
  return h;
}

}  // namespace srtpgate::rtp::detail
