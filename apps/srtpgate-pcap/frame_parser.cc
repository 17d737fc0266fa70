#include "frame_parser.h"

#include <pcap/pcap.h>

#include <algorithm>

#include "bytes.h"

namespace srtpgate::app {

namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr uint16_t kEtherTypeVlan = 0x8100;  // IEEE 802.1Q
constexpr uint16_t kEtherTypeQinQ = 0x88A8;  // IEEE 802.1ad outer tag
constexpr uint8_t kIpProtoUdp = 17;
constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6DestOpts = 60;
constexpr int kMaxIpv6ExtHeaders = 8;

// Where the IP header starts and which version the link layer announces (0: read it from the
// first nibble, for raw IP).
struct LinkResult {
  std::optional<uint32_t> ip_offset;
  uint8_t version = 0;
  PassReason reason = PassReason::not_ip;
};

LinkResult version_from_ethertype(uint16_t ethertype, uint32_t offset) noexcept {
  if (ethertype == kEtherTypeIpv4) {
    return {offset, 4, PassReason::not_ip};
  }
  if (ethertype == kEtherTypeIpv6) {
    return {offset, 6, PassReason::not_ip};
  }
  return {std::nullopt, 0, PassReason::not_ip};
}

LinkResult parse_link(LinkType link, std::span<const uint8_t> f) noexcept {
  switch (link) {
    case LinkType::ethernet: {
      if (f.size() < 14) {
        return {std::nullopt, 0, PassReason::truncated};
      }
      uint16_t type = load_be16(&f[12]);
      uint32_t offset = 14;
      if (type == kEtherTypeVlan || type == kEtherTypeQinQ) {
        if (f.size() < 18) {
          return {std::nullopt, 0, PassReason::truncated};
        }
        type = load_be16(&f[16]);
        offset = 18;  // a second tag lands in not_ip below
      }
      return version_from_ethertype(type, offset);
    }
    case LinkType::linux_sll:
      // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
      if (f.size() < 16) {
        return {std::nullopt, 0, PassReason::truncated};
      }
      return version_from_ethertype(load_be16(&f[14]), 16);
    case LinkType::linux_sll2:
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
      if (f.size() < 20) {
        return {std::nullopt, 0, PassReason::truncated};
      }
      return version_from_ethertype(load_be16(&f[0]), 20);
    case LinkType::raw_ip:
      return {0, 0, PassReason::not_ip};
    case LinkType::ipv4:
      return {0, 4, PassReason::not_ip};
    case LinkType::ipv6:
      return {0, 6, PassReason::not_ip};
  }
  return {};
}

// RFC 768: the UDP header at `udp` inside an IP datagram that ends at `ip_end`.
ParseOutcome parse_udp(std::span<const uint8_t> f, ParsedFrame pf, uint32_t udp,
                       uint32_t ip_end) noexcept {
  if (udp > ip_end || ip_end - udp < 8) {
    return {std::nullopt, PassReason::bad_udp};
  }
  const uint16_t udp_len = load_be16(&f[udp + 4]);
  if (udp_len < 8 || udp_len > ip_end - udp) {
    return {std::nullopt, PassReason::bad_udp};
  }
  pf.udp_offset = udp;
  pf.payload_offset = udp + 8;
  pf.payload_len = udp_len - 8u;
  pf.flow.src_port = load_be16(&f[udp]);
  pf.flow.dst_port = load_be16(&f[udp + 2]);
  pf.udp_checksum_zero = load_be16(&f[udp + 6]) == 0;
  return {pf, PassReason::not_ip};
}

// RFC 791 §3.1.
ParseOutcome parse_ipv4(std::span<const uint8_t> f, uint32_t ip) noexcept {
  if (f.size() - ip < 20) {
    return {std::nullopt, PassReason::truncated};
  }
  const uint32_t ihl = (f[ip] & 0x0fu) * 4u;
  const uint32_t total = load_be16(&f[ip + 2]);
  if (ihl < 20 || total < ihl) {
    return {std::nullopt, PassReason::bad_ip};
  }
  if (total > f.size() - ip) {
    return {std::nullopt, PassReason::truncated};
  }
  const uint16_t frag = load_be16(&f[ip + 6]);
  if ((frag & 0x3fff) != 0) {  // MF set or a non-zero fragment offset
    return {std::nullopt, PassReason::ip_fragment};
  }
  if (f[ip + 9] != kIpProtoUdp) {
    return {std::nullopt, PassReason::not_udp};
  }
  ParsedFrame pf;
  pf.ip_version = 4;
  pf.ip_offset = ip;
  pf.flow.src.version = 4;
  pf.flow.dst.version = 4;
  std::copy_n(&f[ip + 12], 4, pf.flow.src.bytes.begin());
  std::copy_n(&f[ip + 16], 4, pf.flow.dst.bytes.begin());
  return parse_udp(f, pf, ip + ihl, ip + total);
}

// RFC 8200 §3 and §4: walks the extension headers that may precede UDP.
ParseOutcome parse_ipv6(std::span<const uint8_t> f, uint32_t ip) noexcept {
  if (f.size() - ip < 40) {
    return {std::nullopt, PassReason::truncated};
  }
  const uint32_t payload = load_be16(&f[ip + 4]);
  if (payload == 0) {  // RFC 2675 jumbogram (or garbage)
    return {std::nullopt, PassReason::unsupported_ip};
  }
  if (payload > f.size() - ip - 40) {
    return {std::nullopt, PassReason::truncated};
  }
  const uint32_t end = ip + 40 + payload;
  uint8_t next = f[ip + 6];
  uint32_t off = ip + 40;
  for (int i = 0; next != kIpProtoUdp; ++i) {
    if (i == kMaxIpv6ExtHeaders) {
      return {std::nullopt, PassReason::unsupported_ip};
    }
    if (next == kIpv6Fragment) {
      return {std::nullopt, PassReason::ip_fragment};
    }
    if (next != kIpv6HopByHop && next != kIpv6DestOpts && next != kIpv6Routing) {
      return {std::nullopt, PassReason::not_udp};
    }
    if (end - off < 8) {  // every extension header is at least 8 bytes
      return {std::nullopt, PassReason::bad_ip};
    }
    // With segments left, the header's destination is not the final one, so the UDP checksum
    // pseudo-header would need the routing header's last address (RFC 8200 §8.1).
    if (next == kIpv6Routing && f[off + 3] != 0) {
      return {std::nullopt, PassReason::unsupported_ip};
    }
    const uint32_t len = (f[off + 1] + 1u) * 8u;
    if (len > end - off) {
      return {std::nullopt, PassReason::bad_ip};
    }
    next = f[off];
    off += len;
  }
  ParsedFrame pf;
  pf.ip_version = 6;
  pf.ip_offset = ip;
  pf.flow.src.version = 6;
  pf.flow.dst.version = 6;
  std::copy_n(&f[ip + 8], 16, pf.flow.src.bytes.begin());
  std::copy_n(&f[ip + 24], 16, pf.flow.dst.bytes.begin());
  return parse_udp(f, pf, off, end);
}

}  // namespace

std::optional<LinkType> link_type_from_dlt(int dlt) noexcept {
  switch (dlt) {
    case DLT_EN10MB:
      return LinkType::ethernet;
    case DLT_LINUX_SLL:
      return LinkType::linux_sll;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
      return LinkType::linux_sll2;
#endif
    case DLT_RAW:
      return LinkType::raw_ip;
#ifdef DLT_IPV4
    case DLT_IPV4:
      return LinkType::ipv4;
#endif
#ifdef DLT_IPV6
    case DLT_IPV6:
      return LinkType::ipv6;
#endif
    default:
      return std::nullopt;
  }
}

std::string_view name(PassReason r) noexcept {
  switch (r) {
    case PassReason::truncated:
      return "truncated";
    case PassReason::not_ip:
      return "not_ip";
    case PassReason::bad_ip:
      return "bad_ip";
    case PassReason::ip_fragment:
      return "ip_fragment";
    case PassReason::unsupported_ip:
      return "unsupported_ip";
    case PassReason::not_udp:
      return "not_udp";
    case PassReason::bad_udp:
      return "bad_udp";
    case PassReason::not_rtp:
      return "not_rtp";
    case PassReason::no_key:
      return "no_key";
    case PassReason::count_:
      break;
  }
  return "unknown";
}

ParseOutcome parse_frame(LinkType link, std::span<const uint8_t> f) noexcept {
  const LinkResult l = parse_link(link, f);
  if (!l.ip_offset) {
    return {std::nullopt, l.reason};
  }
  const uint32_t ip = *l.ip_offset;
  if (ip >= f.size()) {
    return {std::nullopt, PassReason::truncated};
  }
  const uint8_t version = f[ip] >> 4;
  if (l.version != 0 && version != l.version) {
    return {std::nullopt, PassReason::bad_ip};
  }
  if (version == 4) {
    return parse_ipv4(f, ip);
  }
  if (version == 6) {
    return parse_ipv6(f, ip);
  }
  return {std::nullopt, PassReason::not_ip};
}

}  // namespace srtpgate::app
