// Finds the UDP payload of a captured frame: link layer (Ethernet with at most one 802.1Q/802.1ad
// tag, Linux cooked SLL and SLL2, raw IP), IPv4 or IPv6, UDP. Every byte is untrusted: each length
// is checked against the captured bytes before it is used, and anything unexpected is reported as
// a reason to pass the frame through unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "flow.h"

namespace srtpgate::app {

enum class LinkType : uint8_t { ethernet, linux_sll, linux_sll2, raw_ip, ipv4, ipv6 };

// libpcap's DLT_ value (pcap_datalink()) to a link type this tool reads, or nullopt.
std::optional<LinkType> link_type_from_dlt(int dlt) noexcept;

// Why a frame was copied to the output unchanged.
enum class PassReason : uint8_t {
  truncated,       // the capture cut the frame before the end of its IP datagram
  not_ip,          // not IPv4/IPv6 (ARP, LLDP, a second VLAN tag, ...)
  bad_ip,          // IP header lengths that do not add up
  ip_fragment,     // IPv4 fragment (MF or offset) or IPv6 Fragment header: not reassembled
  unsupported_ip,  // IPv6 jumbogram or a routing header with segments left
  not_udp,
  bad_udp,  // UDP length outside the IP datagram or below 8
  not_rtp,  // payload is not RTP/RTCP version 2 (STUN, DTLS, ...)
  no_key,   // RTP/RTCP that no --key selects
  count_
};
inline constexpr std::size_t kPassReasonCount = static_cast<std::size_t>(PassReason::count_);

std::string_view name(PassReason r) noexcept;

// Where the pieces of a parsed frame are, as offsets from the start of the frame.
struct ParsedFrame {
  uint8_t ip_version = 0;
  uint32_t ip_offset = 0;
  uint32_t udp_offset = 0;      // IP header and any IPv6 extension headers end here
  uint32_t payload_offset = 0;  // udp_offset + 8
  uint32_t payload_len = 0;     // from the UDP length field
  bool udp_checksum_zero = false;
  Flow flow;
};

struct ParseOutcome {
  std::optional<ParsedFrame> frame;  // set when the frame carries a usable UDP datagram
  PassReason reason = PassReason::not_ip;
};

ParseOutcome parse_frame(LinkType link, std::span<const uint8_t> frame) noexcept;

}  // namespace srtpgate::app
