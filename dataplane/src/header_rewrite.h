// Builds the headers a flow's output packets get (Ethernet, optional 802.1Q, IPv4 or IPv6, UDP)
// once at install, and writes them in front of each packet's payload on the fast path.
// Works on plain bytes so tests need no EAL. Internal to dataplane/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

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

// Writes the template's headers into the `t.len` bytes before `payload` and fills the IP and
// UDP lengths, the IPv4 header checksum and the UDP checksum for `payload_len` bytes of payload.
// `payload_sum` is read only with UdpChecksum::software_known_sum: the payload's sum as
// ones_sum (ones_sum.h) gives it, or any value congruent to it modulo 0xffff.
// The caller guarantees the headroom. Returns the start of the frame (payload - t.len).
uint8_t* write_egress_headers(const EgressTemplate& t, uint8_t* payload, uint16_t payload_len,
                              UdpChecksum udp, uint16_t payload_sum = 0) noexcept;

}  // namespace srtpgate::dp::detail
