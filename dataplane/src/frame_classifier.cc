// Per-packet frame classifier: Ethernet (+ one 802.1Q tag), IPv4/IPv6, UDP, then the RFC 7983
// demultiplexing of the UDP payload. Every read is preceded by a bounds check against `len`.
#include "frame_classifier.h"

#include <rte_ip.h>

#include <cstring>

#include "ones_sum.h"

namespace srtpgate::dp::detail {

namespace {

constexpr uint32_t kEthHeaderLen = 14;
constexpr uint32_t kVlanTagLen = 4;
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeVlan = 0x8100;  // IEEE 802.1Q
constexpr uint16_t kVlanIdMask = 0x0fff;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

constexpr uint32_t kIpv4MinHeaderLen = 20;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kUdpHeaderLen = 8;

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;

// RFC 791 §3.1: flags (3 bits) and fragment offset (13 bits).
constexpr uint16_t kIpv4MoreFragments = 0x2000;
constexpr uint16_t kIpv4FragmentOffsetMask = 0x1fff;

constexpr uint32_t kRtpMinLen = 12;  // RFC 3550 §5.1 fixed header
constexpr uint32_t kRtcpMinLen = 8;  // RFC 3550 §6.4.1 header + SSRC

inline uint16_t load_be16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((static_cast<uint16_t>(p[0]) << 8) | p[1]);
}
inline uint32_t load_native32(const uint8_t* p) noexcept {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// RFC 1071 §2: the one's-complement sum is byte-order independent, so sums are kept in the
// machine's representation of network-order 16-bit words (DPDK's convention) and constants are
// added after rte_cpu_to_be_16.
inline uint32_t fold(uint64_t sum) noexcept {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint32_t>(sum);
}

// RFC 791 §3.1, RFC 1071: the IPv4 header is `ihl` bytes, a multiple of four, so it is summed
// as 32-bit words in a 64-bit accumulator (RFC 1071 §2 (C)) and folded once. Twenty bytes, the
// usual header, are five loads and adds; the vector sum is slower at this size.
inline uint16_t ipv4_header_sum(const uint8_t* ip, uint32_t ihl) noexcept {
  uint64_t sum = 0;
  for (uint32_t off = 0; off < kIpv4MinHeaderLen; off += 4) {
    uint32_t w;
    std::memcpy(&w, ip + off, 4);
    sum += w;
  }
  for (uint32_t off = kIpv4MinHeaderLen; off < ihl; off += 4) {  // options
    uint32_t w;
    std::memcpy(&w, ip + off, 4);
    sum += w;
  }
  return fold_ones_sum(sum);
}

inline void set_drop(ParsedFrame& out, Drop reason) noexcept {
  out.kind = FrameKind::drop;
  out.drop = reason;
}

// RFC 768 (IPv4) / RFC 8200 §8.1 (IPv6): the sum of the UDP pseudo-header (source and
// destination address, protocol, UDP length) of the IP header at `ip`, as 32-bit words in a
// 64-bit accumulator (RFC 1071 §2 (C)), not folded.
inline uint64_t pseudo_header_sum(const uint8_t* ip, uint8_t ip_version,
                                  uint16_t udp_len) noexcept {
  const uint8_t* addrs = ip_version == 4 ? ip + 12 : ip + 8;
  const uint32_t addrs_len = ip_version == 4 ? 8 : 32;
  uint64_t sum = uint64_t{rte_cpu_to_be_16(kProtoUdp)} + rte_cpu_to_be_16(udp_len);
  for (uint32_t off = 0; off < addrs_len; off += 4) {
    sum += load_native32(addrs + off);
  }
  return sum;
}

// True if the UDP checksum verifies: the UDP header and payload are `udp_len` bytes at `udp`,
// under the IP header at `ip`.
inline bool udp_checksum_ok(const uint8_t* ip, uint8_t ip_version, const uint8_t* udp,
                            uint16_t udp_len) noexcept {
  return fold(pseudo_header_sum(ip, ip_version, udp_len) + ones_sum(udp, udp_len)) == 0xffff;
}

// The frames a media gateway receives nearly all of: untagged Ethernet, IPv4 without options,
// not fragmented, UDP, carrying RTP or RTCP, with the UDP checksum verified by the NIC or left
// for later. Recognised with a handful of fixed-offset checks and finished here. Anything else,
// or anything wrong, returns false without touching `out`, and the general parser decides (and
// names the drop reason): this accepts only frames the general parser accepts, with the same
// result (tests/dataplane/test_frame_classifier.cc compares the two on mutated frames).
inline bool classify_common_ipv4(const uint8_t* frame, uint32_t len, uint16_t port_id,
                                 ChecksumHint ip_hint, ChecksumHint l4_hint,
                                 ParsedFrame& out) noexcept {
  constexpr uint32_t kIp = kEthHeaderLen;
  constexpr uint32_t kUdp = kIp + kIpv4MinHeaderLen;
  constexpr uint32_t kPayload = kUdp + kUdpHeaderLen;
  if (len < kPayload + kRtpMinLen || load_be16(frame + 12) != kEtherTypeIpv4) {
    return false;
  }
  const uint8_t* ip = frame + kIp;
  const uint8_t* udp = frame + kUdp;
  const uint32_t total = load_be16(ip + 2);
  const uint32_t udp_len = load_be16(udp + 4);
  // RFC 791 §3.1: version 4, IHL 5; the datagram fits the frame; not a fragment; UDP.
  // RFC 768: the UDP length covers at least an RTP header and fits the datagram.
  if (ip[0] != 0x45 || total > len - kIp || ip[9] != kProtoUdp ||
      (load_be16(ip + 6) & (kIpv4MoreFragments | kIpv4FragmentOffsetMask)) != 0 ||
      udp_len < kUdpHeaderLen + kRtpMinLen || kIpv4MinHeaderLen + udp_len > total) {
    return false;
  }
  if (ip_hint == ChecksumHint::bad ||
      (l4_hint != ChecksumHint::good && l4_hint != ChecksumHint::deferred)) {
    return false;
  }
  if (ip_hint == ChecksumHint::unknown && ipv4_header_sum(ip, kIpv4MinHeaderLen) != 0xffff) {
    return false;
  }
  // RFC 7983 §7 and RFC 5761 §4: RTP or RTCP by the first two bytes; at least 12 bytes are
  // there, more than either minimum.
  const uint8_t b0 = frame[kPayload];
  const uint8_t b1 = frame[kPayload + 1];
  if (b0 < 128 || b0 > 191) {
    return false;
  }
  out.kind = b1 >= 192 && b1 <= 223 ? FrameKind::rtcp : FrameKind::rtp;
  out.drop = Drop::frame_malformed;  // as the general parser leaves it for accepted frames
  out.ip_version = 4;
  out.vlan_tci = 0;
  out.l3_offset = kIp;
  out.payload_offset = kPayload;
  out.payload_len = static_cast<uint16_t>(udp_len - kUdpHeaderLen);
  std::memset(static_cast<void*>(&out.key), 0, sizeof(out.key));
  out.key.port_id = port_id;
  out.key.family = 4;
  std::memcpy(out.key.remote_addr.data(), ip + 12, 4);
  std::memcpy(out.key.local_addr.data(), ip + 16, 4);
  out.key.remote_port = load_be16(udp);
  out.key.local_port = load_be16(udp + 2);
  return true;
}

}  // namespace

void classify_frame(const uint8_t* frame, uint32_t len, uint16_t port_id, ChecksumHint ip_hint,
                    ChecksumHint l4_hint, ParsedFrame& out) noexcept {
  if (classify_common_ipv4(frame, len, port_id, ip_hint, l4_hint, out)) {
    return;
  }
  classify_frame_general(frame, len, port_id, ip_hint, l4_hint, out);
}

void classify_frame_general(const uint8_t* frame, uint32_t len, uint16_t port_id,
                            ChecksumHint ip_hint, ChecksumHint l4_hint,
                            ParsedFrame& out) noexcept {
  out.kind = FrameKind::drop;
  out.drop = Drop::frame_malformed;
  out.ip_version = 0;
  out.vlan_tci = 0;
  out.l3_offset = kEthHeaderLen;
  out.payload_offset = 0;
  out.payload_len = 0;
  // Zero the whole key (padding-free, 48 bytes) so unused address bytes and `reserved` are 0.
  std::memset(static_cast<void*>(&out.key), 0, sizeof(out.key));
  out.key.port_id = port_id;

  if (len < kEthHeaderLen) {
    return set_drop(out, Drop::frame_malformed);
  }
  uint32_t l3 = kEthHeaderLen;
  uint16_t ether_type = load_be16(frame + 12);
  if (ether_type == kEtherTypeVlan) {
    if (len < kEthHeaderLen + kVlanTagLen) {
      return set_drop(out, Drop::frame_malformed);
    }
    out.vlan_tci = load_be16(frame + 14);
    out.key.vlan = out.vlan_tci & kVlanIdMask;  // IEEE 802.1Q §9.6: the VID; 0 is a priority tag
    ether_type = load_be16(frame + 16);
    l3 += kVlanTagLen;
    out.l3_offset = static_cast<uint8_t>(l3);
    // A second tag (QinQ, 802.1ad 0x88a8 or stacked 0x8100) is not ours: it falls through to
    // not_ip below, as does an outer 0x88a8.
  }

  const uint8_t* ip = frame + l3;
  const uint32_t l3_avail = len - l3;
  uint32_t l4 = 0;
  uint32_t l4_avail = 0;  // IP payload length as the IP header gives it (validated)
  uint8_t proto = 0;

  switch (ether_type) {
    case kEtherTypeArp:
      out.kind = FrameKind::control;
      return;

    case kEtherTypeIpv4: {
      // RFC 791 §3.1.
      out.ip_version = 4;
      out.key.family = 4;
      if (l3_avail < kIpv4MinHeaderLen || (ip[0] >> 4) != 4) {
        return set_drop(out, Drop::ip_malformed);
      }
      const uint32_t ihl = static_cast<uint32_t>(ip[0] & 0x0f) * 4;
      const uint32_t total = load_be16(ip + 2);
      if (ihl < kIpv4MinHeaderLen || total < ihl || total > l3_avail) {
        return set_drop(out, Drop::ip_malformed);
      }
      if (ip_hint == ChecksumHint::bad ||
          (ip_hint == ChecksumHint::unknown && ipv4_header_sum(ip, ihl) != 0xffff)) {
        return set_drop(out, Drop::ip_checksum);
      }
      std::memcpy(out.key.remote_addr.data(), ip + 12, 4);
      std::memcpy(out.key.local_addr.data(), ip + 16, 4);
      const uint16_t frag = load_be16(ip + 6);
      if ((frag & (kIpv4MoreFragments | kIpv4FragmentOffsetMask)) != 0) {
        return set_drop(out, Drop::ip_fragment);
      }
      proto = ip[9];
      if (proto == kProtoIcmp) {
        out.kind = FrameKind::control;
        return;
      }
      l4 = l3 + ihl;
      l4_avail = total - ihl;
      break;
    }

    case kEtherTypeIpv6: {
      // RFC 8200 §3.
      out.ip_version = 6;
      out.key.family = 6;
      if (l3_avail < kIpv6HeaderLen || (ip[0] >> 4) != 6) {
        return set_drop(out, Drop::ip_malformed);
      }
      const uint32_t payload_len = load_be16(ip + 4);
      if (payload_len > l3_avail - kIpv6HeaderLen) {
        return set_drop(out, Drop::ip_malformed);
      }
      std::memcpy(out.key.remote_addr.data(), ip + 8, 16);
      std::memcpy(out.key.local_addr.data(), ip + 24, 16);
      proto = ip[6];
      if (proto == kProtoIcmpv6) {
        out.kind = FrameKind::control;
        return;
      }
      l4 = l3 + kIpv6HeaderLen;
      l4_avail = payload_len;
      break;
    }

    default:
      return set_drop(out, Drop::not_ip);
  }

  if (proto != kProtoUdp) {
    return set_drop(out, Drop::not_udp);
  }

  // RFC 768: the UDP length covers header and data and must fit in the IP payload.
  const uint8_t* udp = frame + l4;
  if (l4_avail < kUdpHeaderLen) {
    return set_drop(out, Drop::udp_malformed);
  }
  const uint16_t udp_len = load_be16(udp + 4);
  if (udp_len < kUdpHeaderLen || udp_len > l4_avail) {
    return set_drop(out, Drop::udp_malformed);
  }
  out.key.remote_port = load_be16(udp);
  out.key.local_port = load_be16(udp + 2);

  const uint16_t udp_cksum = load_be16(udp + 6);
  if (out.ip_version == 6 && udp_cksum == 0) {
    // RFC 8200 §8.1: a zero UDP checksum over IPv6 must be discarded, whatever the NIC says.
    return set_drop(out, Drop::udp_checksum);
  }
  if (l4_hint == ChecksumHint::bad) {
    return set_drop(out, Drop::udp_checksum);
  }
  // RFC 768: zero means the IPv4 sender computed no checksum.
  if (l4_hint == ChecksumHint::unknown && udp_cksum != 0) {
    const bool ok = udp_checksum_ok(ip, out.ip_version, udp, udp_len);
    if (!ok) {
      return set_drop(out, Drop::udp_checksum);
    }
  }

  const uint32_t payload_offset = l4 + kUdpHeaderLen;
  const uint32_t payload_len = udp_len - kUdpHeaderLen;
  out.payload_offset = static_cast<uint16_t>(payload_offset);
  out.payload_len = static_cast<uint16_t>(payload_len);
  if (payload_len == 0) {
    return set_drop(out, Drop::unknown_payload);
  }

  // RFC 7983 §7: demultiplex on the first byte.
  const uint8_t* payload = frame + payload_offset;
  const uint8_t b0 = payload[0];
  if (b0 <= 3) {
    out.kind = FrameKind::stun;
  } else if (b0 >= 20 && b0 <= 63) {
    out.kind = FrameKind::dtls;
  } else if (b0 >= 128 && b0 <= 191) {
    if (payload_len < 2) {
      return set_drop(out, Drop::srtp_malformed);
    }
    // RFC 5761 §4: RTCP packet types 192..223 occupy the second byte; RTP payload types
    // 64..95 are not used when RTP and RTCP share a port.
    const uint8_t b1 = payload[1];
    if (b1 >= 192 && b1 <= 223) {
      if (payload_len < kRtcpMinLen) {
        return set_drop(out, Drop::srtp_malformed);
      }
      out.kind = FrameKind::rtcp;
    } else {
      if (payload_len < kRtpMinLen) {
        return set_drop(out, Drop::srtp_malformed);
      }
      out.kind = FrameKind::rtp;
    }
  } else {
    return set_drop(out, Drop::unknown_payload);
  }
}

bool udp_checksum_ok(const uint8_t* frame, const ParsedFrame& parsed) noexcept {
  // The UDP header sits just before the payload; its length field was validated, and the IP
  // addresses are at fixed offsets from the end of the Ethernet (+ VLAN) header.
  const uint8_t* udp = frame + parsed.payload_offset - kUdpHeaderLen;
  const uint16_t udp_len = static_cast<uint16_t>(parsed.payload_len + kUdpHeaderLen);
  if (load_be16(udp + 6) == 0) {
    return parsed.ip_version == 4;  // RFC 768 (IPv4 only); RFC 8200 §8.1
  }
  const uint8_t* ip = frame + parsed.l3_offset;
  return udp_checksum_ok(ip, parsed.ip_version, udp, udp_len);
}

uint16_t payload_sum_of_verified(const uint8_t* frame, const ParsedFrame& parsed) noexcept {
  const uint8_t* udp = frame + parsed.payload_offset - kUdpHeaderLen;
  if (load_be16(udp + 6) == 0) {
    return ones_sum(udp + kUdpHeaderLen, parsed.payload_len);
  }
  const uint8_t* ip = frame + parsed.l3_offset;
  const auto udp_len = static_cast<uint16_t>(parsed.payload_len + kUdpHeaderLen);
  // The pseudo-header, then the UDP header with its checksum.
  const uint64_t rest = pseudo_header_sum(ip, parsed.ip_version, udp_len) + load_native32(udp) +
                        load_native32(udp + 4);
  // rest + payload = 0xffff (mod 0xffff), so payload = 0xffff - rest.
  return static_cast<uint16_t>(0xffff - fold(rest));
}

}  // namespace srtpgate::dp::detail
