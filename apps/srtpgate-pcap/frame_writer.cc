#include "frame_writer.h"

#include "bytes.h"
#include "checksum.h"

namespace srtpgate::app {

namespace {
constexpr uint32_t kUdpHeaderLen = 8;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kMax16 = 0xffff;
}  // namespace

uint32_t max_payload_len(const ParsedFrame& pf) noexcept {
  // IPv4 total length counts the IP header; IPv6 payload length does not count its 40 bytes.
  if (pf.udp_offset < pf.ip_offset + (pf.ip_version == 4 ? 20 : kIpv6HeaderLen)) {
    return 0;  // not a layout parse_frame() produces
  }
  const uint32_t before_udp = pf.udp_offset - pf.ip_offset;
  const uint32_t counted = pf.ip_version == 4 ? before_udp : before_udp - kIpv6HeaderLen;
  if (counted + kUdpHeaderLen > kMax16) {
    return 0;
  }
  const uint32_t by_ip = kMax16 - counted - kUdpHeaderLen;
  const uint32_t by_udp = kMax16 - kUdpHeaderLen;
  return by_ip < by_udp ? by_ip : by_udp;
}

std::optional<uint32_t> finish_frame(std::span<uint8_t> frame, const ParsedFrame& pf,
                                     uint32_t payload_len) noexcept {
  if (pf.payload_offset != pf.udp_offset + kUdpHeaderLen || pf.udp_offset < pf.ip_offset ||
      payload_len > max_payload_len(pf) || pf.payload_offset > frame.size() ||
      payload_len > frame.size() - pf.payload_offset) {
    return std::nullopt;
  }
  const uint32_t udp_len = kUdpHeaderLen + payload_len;
  const uint32_t ip_len = pf.udp_offset - pf.ip_offset + udp_len;
  uint8_t* ip = frame.data() + pf.ip_offset;
  uint8_t* udp = frame.data() + pf.udp_offset;

  if (pf.ip_version == 4) {
    const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
    if (ihl < 20 || pf.ip_offset + ihl > pf.udp_offset) {
      return std::nullopt;
    }
    store_be16(ip + 2, static_cast<uint16_t>(ip_len));
    store_be16(ip + 10, 0);
    store_be16(ip + 10, internet_checksum({ip, ihl}));
  } else {
    if (pf.udp_offset - pf.ip_offset < kIpv6HeaderLen) {
      return std::nullopt;
    }
    store_be16(ip + 4, static_cast<uint16_t>(ip_len - kIpv6HeaderLen));
  }

  store_be16(udp + 4, static_cast<uint16_t>(udp_len));
  store_be16(udp + 6, 0);
  // RFC 768: an IPv4 sender may send no checksum (zero); keep that choice. IPv6 requires one
  // (RFC 8200 §8.1).
  if (pf.ip_version == 6 || !pf.udp_checksum_zero) {
    store_be16(udp + 6, udp_checksum(pf.flow.src, pf.flow.dst, {udp, udp_len}));
  }
  return pf.payload_offset + payload_len;
}

}  // namespace srtpgate::app
