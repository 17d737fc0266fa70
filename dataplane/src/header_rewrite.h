// Builds the headers a flow's output packets get (Ethernet, optional 802.1Q, IPv4 or IPv6, UDP)
// once at install, and writes them in front of each packet's payload on the fast path.
// Works on plain bytes so tests need no EAL. Internal to dataplane/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>

#include "ones_sum.h"
#include "srtpgate/dp/flow.h"
#include "srtpgate/result.h"

namespace srtpgate::dp::detail {

// The longest egress headers: Ethernet, one 802.1Q tag, IPv6, UDP.
inline constexpr std::size_t kMaxEgressHeaderLen = 14 + 4 + 40 + 8;

// The egress headers of one flow, ready to copy: everything but the lengths and checksums.
// The lengths and sums come first: with an IPv4 template a packet reads bytes 0..57 of the
// struct, one cache line when the struct starts one (as in a Flow).
struct EgressTemplate {
  uint8_t len = 0;         // 42 (IPv4), 62 (IPv6), +4 with a VLAN tag
  uint8_t l2_len = 0;      // 14 or 18
  uint8_t l3_len = 0;      // 20 or 40
  uint8_t ip_version = 4;
  // One's-complement sum of the parts of the IPv4 header and the UDP pseudo-header that do not
  // change per packet, so each packet adds only its lengths and payload (RFC 1071 §2).
  uint32_t ip_partial_sum = 0;
  uint32_t udp_partial_sum = 0;
  alignas(16) std::array<uint8_t, kMaxEgressHeaderLen> bytes{};
};

// Checks the next hop (families agree, VLAN id in range, ports non-zero) and builds the
// template. `src_mac` is the egress port's MAC address. IPv4: TTL 64, DF set, ID 0.
// IPv6: hop limit 64, flow label 0.
Result<EgressTemplate> build_egress_template(const NextHop& hop,
                                             const std::array<uint8_t, 6>& src_mac);

enum class UdpChecksum : uint8_t {
  software,  // full UDP checksum computed here, summing the payload
  // Full UDP checksum computed here from the payload's one's-complement sum, which the caller
  // already knows (a forwarded payload: see payload_sum_of_verified in frame_classifier.h), so
  // the payload is not read.
  software_known_sum,
  offload,  // pseudo-header sum only, for a NIC with UDP checksum offload (DPDK convention)
};

// The byte work of write_egress_headers, inline with it: the worker calls it once per packet,
// and as a call it cost 26 to 28 instructions a packet in saved registers and arguments
// (callgrind, srtpgate-dp-bench at 172 B).
namespace egress_bytes {

inline constexpr uint8_t kIpv4HeaderLen = 20;
inline constexpr uint8_t kUdpHeaderLen = 8;

// RFC 1071 §2: sums are kept in the machine's representation of network-order 16-bit words
// (byte-order independence, as DPDK does), so a folded sum is stored with memcpy, unswapped.
inline uint32_t fold(uint64_t sum) noexcept {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint32_t>(sum);
}

inline void store_native16(uint8_t* p, uint16_t v) noexcept { std::memcpy(p, &v, sizeof(v)); }

inline uint16_t load_native16(const uint8_t* p) noexcept {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The template in front of the payload. A memcpy of a length known only at run time is a
// library call; the four lengths a template can have (IPv4 or IPv6, with or without a VLAN tag)
// get fixed-size copies the compiler turns into a few vector moves.
inline void copy_headers(uint8_t* dst, const uint8_t* src, uint8_t len) noexcept {
  switch (len) {
    case 42:
      std::memcpy(dst, src, 42);
      return;
    case 46:
      std::memcpy(dst, src, 46);
      return;
    case 62:
      std::memcpy(dst, src, 62);
      return;
    case 66:
      std::memcpy(dst, src, 66);
      return;
    default:
      std::memcpy(dst, src, len);
  }
}

}  // namespace egress_bytes

// Writes the template's headers into the `t.len` bytes before `payload` and fills the IP and
// UDP lengths, the IPv4 header checksum and the UDP checksum for `payload_len` bytes of payload.
// `payload_sum` is read only with UdpChecksum::software_known_sum: the payload's sum as
// ones_sum (ones_sum.h) gives it, or any value congruent to it modulo 0xffff.
// The caller guarantees the headroom. Returns the start of the frame (payload - t.len).
inline uint8_t* write_egress_headers(const EgressTemplate& t, uint8_t* payload,
                                     uint16_t payload_len, UdpChecksum udp_mode,
                                     uint16_t payload_sum = 0) noexcept {
  using namespace egress_bytes;
  uint8_t* frame = payload - t.len;
  copy_headers(frame, t.bytes.data(), t.len);
  uint8_t* ip = frame + t.l2_len;
  uint8_t* udp = ip + t.l3_len;

  // Lengths wrap if payload_len exceeds 65535 - 28 (IPv4) or 65535 - 8 (IPv6); the caller
  // never builds such packets (MTU-sized mbufs).
  const auto udp_len = static_cast<uint16_t>(kUdpHeaderLen + payload_len);
  const uint16_t udp_len_net = rte_cpu_to_be_16(udp_len);
  store_native16(udp + 4, udp_len_net);

  if (t.ip_version == 4) {
    const auto total_len = static_cast<uint16_t>(kIpv4HeaderLen + udp_len);
    const uint16_t total_net = rte_cpu_to_be_16(total_len);
    store_native16(ip + 2, total_net);
    // RFC 791 §3.1 / RFC 1071: the constant part plus the total length, complemented.
    const auto cksum = static_cast<uint16_t>(~fold(uint64_t{t.ip_partial_sum} + total_net));
    store_native16(ip + 10, cksum);
  } else {
    store_native16(ip + 4, udp_len_net);  // no extension headers: payload length = UDP length
  }

  if (udp_mode == UdpChecksum::offload) {
    // DPDK's rte_ipv4_phdr_cksum / rte_ipv6_phdr_cksum: the pseudo-header sum, not
    // complemented; the NIC adds the UDP header and payload.
    store_native16(udp + 6, static_cast<uint16_t>(fold(uint64_t{t.udp_partial_sum} + udp_len_net)));
    return frame;
  }

  // RFC 768: pseudo-header, then the UDP header (its length counted a second time, the ports
  // from the template, the checksum field as 0), then the payload.
  uint64_t sum = uint64_t{t.udp_partial_sum} + udp_len_net + udp_len_net;
  sum += load_native16(udp);
  sum += load_native16(udp + 2);
  sum += udp_mode == UdpChecksum::software_known_sum ? payload_sum : ones_sum(payload, payload_len);
  auto cksum = static_cast<uint16_t>(~fold(sum));
  if (cksum == 0) {
    cksum = 0xffff;  // RFC 768: a computed zero is sent as all ones
  }
  store_native16(udp + 6, cksum);
  return frame;
}

}  // namespace srtpgate::dp::detail
