// Parses one received frame (Ethernet with at most one 802.1Q tag, IPv4 or IPv6, UDP) and
// decides where it goes: the fast path (RTP, RTCP), the control thread (STUN, DTLS, ARP, ICMP,
// ICMPv6) or a counted drop. Works on plain bytes so tests need no EAL. Internal to dataplane/.
#pragma once

#include <cstdint>

#include "srtpgate/dp/counters.h"
#include "srtpgate/dp/flow.h"

namespace srtpgate::dp::detail {

enum class FrameKind : uint8_t {
  rtp,   // RFC 7983 §7: first byte 128..191, RFC 5761 §4: payload type not 64..95
  rtcp,  // first byte 128..191 and second byte 192..223 (RTCP packet types 192..223)
  stun,  // first byte 0..3 (RFC 7983 §7)
  dtls,  // first byte 20..63
  control,  // ARP, ICMP, ICMPv6: for the control thread
  drop,     // see ParsedFrame::drop
};

// What the NIC already checked (DPDK's RTE_MBUF_F_RX_*_CKSUM_GOOD/BAD). `unknown` means check
// in software. `deferred` (UDP only) means do not check now: the caller checks later with
// udp_checksum_ok() where it must (see the worker: SRTP's authentication tag makes the UDP
// checksum redundant for packets that will be unprotected).
enum class ChecksumHint : uint8_t { unknown, good, bad, deferred };

struct ParsedFrame {
  FrameKind kind;
  Drop drop;              // meaningful when kind == drop
  uint8_t ip_version;     // 4 or 6; 0 for ARP
  uint16_t vlan_tci;      // 0 when untagged (or priority-tagged)
  uint8_t l3_offset;      // 14, or 18 with an 802.1Q tag
  uint16_t payload_offset;  // UDP payload, from the start of the frame
  uint16_t payload_len;     // UDP payload length as the UDP header gives it (validated)
  FlowKey key;  // local = destination address/port; port_id from the argument; vlan the VID
  // `key` is filled as far as the frame was parsed, so drops can still be attributed: addresses
  // once the IP header is valid, ports once the UDP length is; the rest stays zero.
};

// Classifies `len` bytes of `frame` received on `port_id`. Never reads outside [frame, frame+len).
// Trailing bytes after the IP datagram (Ethernet padding) are ignored. IPv4 options are allowed;
// IPv6 extension headers are not (their frames are dropped as not_udp, except ICMPv6 which is
// punted). A UDP checksum of zero is accepted for IPv4 (RFC 768) and rejected for IPv6
// (RFC 8200 §8.1).
void classify_frame(const uint8_t* frame, uint32_t len, uint16_t port_id, ChecksumHint ip_hint,
                    ChecksumHint l4_hint, ParsedFrame& out) noexcept;

// classify_frame without its shortcut for the common frame (untagged IPv4 without options,
// UDP, RTP or RTCP): the same result for every input, slower for that frame. For the tests that
// check the two agree.
void classify_frame_general(const uint8_t* frame, uint32_t len, uint16_t port_id,
                            ChecksumHint ip_hint, ChecksumHint l4_hint, ParsedFrame& out) noexcept;

// The UDP checksum of a frame classify_frame accepted (kind is not drop) with l4_hint deferred:
// true if it verifies or is zero over IPv4 (RFC 768). Reads only what classify_frame checked.
bool udp_checksum_ok(const uint8_t* frame, const ParsedFrame& parsed) noexcept;

// The one's-complement sum of the UDP payload of a frame classify_frame accepted, whose UDP
// checksum has been verified (by udp_checksum_ok or by the NIC), for a payload that leaves
// unchanged under new headers. A verified checksum makes the whole sum -0 (RFC 768), so the
// payload's part is the complement of the pseudo-header's and the UDP header's (the same
// algebra as RFC 1624 §3): read from 8 bytes of UDP header and the addresses, not from the
// payload. A zero checksum over IPv4 (none sent, RFC 768) carries nothing, and then the payload
// is summed. Congruent modulo 0xffff to ones_sum over the payload, which is all
// write_egress_headers needs.
uint16_t payload_sum_of_verified(const uint8_t* frame, const ParsedFrame& parsed) noexcept;

}  // namespace srtpgate::dp::detail
