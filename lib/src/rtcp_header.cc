// RFC 3550 §6.4 and Appendix A.2: compound RTCP validity.
#include "byte_order.h"
#include "srtpgate/rtp.h"

namespace srtpgate::rtcp {

std::optional<uint32_t> validate_compound(std::span<const uint8_t> p) noexcept {
  std::size_t i = 0;
  uint32_t count = 0;
  while (i < p.size()) {
    if (p.size() - i < 4 || (p[i] >> 6) != 2) {
      return std::nullopt;
    }
    const std::size_t len = 4u * (std::size_t{load_be16(&p[i + 2])} + 1);
    if (len > p.size() - i) {
      return std::nullopt;
    }
    const bool padded = (p[i] & 0x20) != 0;
    i += len;
    ++count;
    // Only the last packet of a compound may carry padding.
    if (padded && i != p.size()) {
      return std::nullopt;
    }
  }
  if (count == 0 || p.size() < kHeaderLen) {
    return std::nullopt;
  }
  return count;
}

std::optional<uint32_t> sender_ssrc(std::span<const uint8_t> p) noexcept {
  if (p.size() < kHeaderLen) {
    return std::nullopt;
  }
  return load_be32(&p[4]);
}

}  // namespace srtpgate::rtcp
