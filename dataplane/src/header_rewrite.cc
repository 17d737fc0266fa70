// Egress header templates: validated and built once per flow at install, copied in front of
// each payload on the fast path with only the lengths and checksums filled in per packet.
#include "header_rewrite.h"

#include <rte_ip.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "ones_sum.h"

namespace srtpgate::dp::detail {

namespace {

constexpr uint8_t kVlanTagLen = 4;
constexpr uint8_t kIpv4HeaderLen = 20;
constexpr uint8_t kIpv6HeaderLen = 40;
constexpr uint8_t kUdpHeaderLen = 8;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kHopLimit = 64;
constexpr uint16_t kMaxVlanId = 4094;  // 4095 is reserved (IEEE 802.1Q §9.6)

inline void store_be16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

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
    case 42: std::memcpy(dst, src, 42); return;
    case 46: std::memcpy(dst, src, 46); return;
    case 62: std::memcpy(dst, src, 62); return;
    case 66: std::memcpy(dst, src, 66); return;
    default: std::memcpy(dst, src, len);
  }
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

uint8_t* write_egress_headers(const EgressTemplate& t, uint8_t* payload, uint16_t payload_len,
                              UdpChecksum udp_mode, uint16_t payload_sum) noexcept {
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
