// Egress header templates: validated and built once per flow at install. The per-packet
// writer is inline in header_rewrite.h.
#include "header_rewrite.h"

#include <rte_ip.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace srtpgate::dp::detail {

namespace {

using egress_bytes::fold;
using egress_bytes::kIpv4HeaderLen;
using egress_bytes::kUdpHeaderLen;

constexpr uint8_t kVlanTagLen = 4;
constexpr uint8_t kIpv6HeaderLen = 40;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kHopLimit = 64;
constexpr uint16_t kMaxVlanId = 4094;  // 4095 is reserved (IEEE 802.1Q §9.6)

inline void store_be16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

std::string family_name(uint8_t family) {
  return family == 4 ? "IPv4" : family == 6 ? "IPv6" : "family " + std::to_string(family);
}

}  // namespace

Result<EgressTemplate> build_egress_template(const NextHop& hop,
                                             const std::array<uint8_t, 6>& src_mac) {
  const uint8_t family = hop.src_addr.family;
  if (family != 4 && family != 6) {
    return make_error("next hop: source address has unknown " + family_name(family) +
                      "; use an IPv4 or IPv6 address");
  }
  if (hop.dst_addr.family != family) {
    return make_error("next hop: source address is " + family_name(family) +
                      " but destination address is " + family_name(hop.dst_addr.family) +
                      "; both must be of the same family");
  }
  if (hop.vlan_id > kMaxVlanId) {
    return make_error("next hop: VLAN id " + std::to_string(hop.vlan_id) +
                      " is out of range; use 0 for untagged or 1..4094");
  }
  if (hop.src_port == 0) {
    return make_error("next hop: source UDP port is 0; set the local port packets leave from");
  }
  if (hop.dst_port == 0) {
    return make_error("next hop: destination UDP port is 0; set the peer's port");
  }
  if (std::all_of(hop.dst_mac.begin(), hop.dst_mac.end(), [](uint8_t b) { return b == 0; })) {
    return make_error(
        "next hop: destination MAC is 00:00:00:00:00:00; set the next hop's MAC address "
        "(resolve it with ARP/NDP first)");
  }

  EgressTemplate t;
  uint8_t* p = t.bytes.data();
  std::memcpy(p, hop.dst_mac.data(), 6);
  std::memcpy(p + 6, src_mac.data(), 6);
  uint8_t l2 = 12;
  if (hop.vlan_id != 0) {
    store_be16(p + l2, 0x8100);
    store_be16(p + l2 + 2, hop.vlan_id);  // PCP 0, DEI 0
    l2 += kVlanTagLen;
  }
  store_be16(p + l2, family == 4 ? 0x0800 : 0x86dd);
  l2 += 2;
  t.l2_len = l2;
  t.ip_version = family;

  uint8_t* ip = p + l2;
  uint64_t pseudo = 0;  // RFC 768 / RFC 8200 §8.1 pseudo-header without the length
  if (family == 4) {
    // RFC 791 §3.1. Total length and checksum are left 0 and filled per packet.
    ip[0] = 0x45;
    ip[1] = 0;                   // DSCP/ECN
    store_be16(ip + 6, 0x4000);  // DF, offset 0; ID 0 is fine with DF (RFC 6864 §4.1)
    ip[8] = kHopLimit;
    ip[9] = kProtoUdp;
    std::memcpy(ip + 12, hop.src_addr.bytes.data(), 4);
    std::memcpy(ip + 16, hop.dst_addr.bytes.data(), 4);
    t.l3_len = kIpv4HeaderLen;
    t.ip_partial_sum = rte_raw_cksum(ip, kIpv4HeaderLen);
    pseudo = rte_raw_cksum(ip + 12, 8);
  } else {
    // RFC 8200 §3. Traffic class 0, flow label 0; payload length filled per packet.
    ip[0] = 0x60;
    ip[6] = kProtoUdp;
    ip[7] = kHopLimit;
    std::memcpy(ip + 8, hop.src_addr.bytes.data(), 16);
    std::memcpy(ip + 24, hop.dst_addr.bytes.data(), 16);
    t.l3_len = kIpv6HeaderLen;
    t.ip_partial_sum = 0;  // IPv6 has no header checksum
    pseudo = rte_raw_cksum(ip + 8, 32);
  }
  pseudo += rte_cpu_to_be_16(static_cast<uint16_t>(kProtoUdp));
  t.udp_partial_sum = fold(pseudo);

  uint8_t* udp = ip + t.l3_len;
  store_be16(udp, hop.src_port);
  store_be16(udp + 2, hop.dst_port);
  t.len = static_cast<uint8_t>(t.l2_len + t.l3_len + kUdpHeaderLen);
  return t;
}

}  // namespace srtpgate::dp::detail
