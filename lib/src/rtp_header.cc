// RFC 3550 §5.1 fixed header, §5.3.1 extension, RFC 8285 elements.
#include "rtp_header_inline.h"

namespace srtpgate::rtp {

std::optional<Header> parse_header(std::span<const uint8_t> p) noexcept {
  return detail::parse_header_inline(p);
}

bool extension_elements_valid(std::span<const uint8_t> p, const Header& h) noexcept {
  if (!h.extension || p.size() < h.header_len) {
    return !h.extension;
  }
  const std::size_t end = h.header_len;
  std::size_t i = end - h.extension_len;
  if (h.extension_profile == 0xBEDE) {
    // RFC 8285 §4.2: ID(4) L(4), L+1 data bytes; ID 0 is padding, 15 stops parsing.
    while (i < end) {
      const uint8_t id = p[i] >> 4;
      if (id == 0) {
        ++i;
        continue;
      }
      if (id == 15) {
        return true;
      }
      const std::size_t n = (p[i] & 0x0f) + 1u;
      if (i + 1 + n > end) {
        return false;
      }
      i += 1 + n;
    }
    return true;
  }
  if ((h.extension_profile & 0xfff0) == 0x1000) {
    // RFC 8285 §4.3: ID(8) L(8), L data bytes; ID 0 is padding.
    while (i < end) {
      if (p[i] == 0) {
        ++i;
        continue;
      }
      if (i + 2 > end) {
        return false;
      }
      const std::size_t n = p[i + 1];
      if (i + 2 + n > end) {
        return false;
      }
      i += 2 + n;
    }
    return true;
  }
  return true;
}

std::optional<Payload> payload_of(std::span<const uint8_t> p, const Header& h) noexcept {
  if (p.size() < h.header_len) {
    return std::nullopt;
  }
  Payload out;
  out.offset = h.header_len;
  out.len = static_cast<uint32_t>(p.size() - h.header_len);
  if (h.padding) {
    // RFC 3550 §5.1: the last octet counts the padding octets, itself included.
    if (out.len == 0 || p.back() == 0 || p.back() > out.len) {
      return std::nullopt;
    }
    out.padding_len = p.back();
    out.len -= out.padding_len;
  }
  return out;
}

bool looks_like_rtcp(std::span<const uint8_t> p) noexcept {
  return p.size() >= 2 && (p[0] >> 6) == 2 && p[1] >= 192 && p[1] <= 223;
}

}  // namespace srtpgate::rtp
