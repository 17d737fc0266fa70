// Counters of the dataplane: per worker and per flow, by outcome. Workers write them with plain
// stores (one writer each); the control thread reads them at any time without stopping anyone.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace srtpgate::dp {

// Why a packet was dropped. Every drop has exactly one reason.
enum class Drop : uint8_t {
  frame_malformed,  // shorter than Ethernet, or a VLAN tag with nothing after it
  not_ip,           // an EtherType we neither forward nor punt
  ip_malformed,     // bad version, header length or total length
  ip_checksum,      // IPv4 header checksum (RFC 791)
  ip_fragment,      // fragments are not reassembled on the fast path
  not_udp,          // an IP protocol we neither forward nor punt
  udp_malformed,    // UDP length disagrees with the IP length (RFC 768)
  udp_checksum,     // RFC 768 / RFC 8200 §8.1
  unknown_payload,  // first byte outside RFC 7983's RTP/RTCP, STUN and DTLS ranges
  no_session,       // no flow installed for the 4-tuple
  srtp_malformed,   // too short, bad version, lengths that do not add up
  auth_failure,     // the SRTP/SRTCP tag did not verify
  replay,           // replayed or older than the window (RFC 3711 §3.3.2)
  unknown_mki,
  key_expired,      // the master key's lifetime is used up (RFC 3711 §9.2)
  stream_limit,     // a new SSRC past the flow's cap
  no_tailroom,      // protect: no room in the buffer for the tag
  punt_full,        // STUN/DTLS: the ring to the control thread was full
  tx_full,          // the egress queue took fewer packets than offered
  mtu_exceeded,     // the packet under the next hop's headers is larger than the egress MTU
  count_
};
inline constexpr std::size_t kDropCount = static_cast<std::size_t>(Drop::count_);
std::string_view name(Drop d) noexcept;  // "auth_failure"

// The stages of a worker's burst (docs/architecture.md), as DataplaneConfig::stage_clock times
// them: classify (and punt), look up the flows, prepare (per-packet checks, the UDP checksum of
// plain RTP, the crypto batches), unprotect and protect (the SRTP library's calls), rewrite (the
// next hop's headers and checksums), transmit.
enum class Stage : uint8_t {
  classify,
  lookup,
  prepare,
  unprotect,
  protect,
  rewrite,
  transmit,
  count_
};
inline constexpr std::size_t kStageCount = static_cast<std::size_t>(Stage::count_);
std::string_view name(Stage s) noexcept;  // "classify"

// Where a worker's time went: TSC cycles in each stage over `bursts` bursts that brought
// `packets` packets (VPP's `show runtime`, per stage). All zero unless the stage clock is on.
struct StageCycles {
  std::array<uint64_t, kStageCount> cycles{};
  uint64_t bursts = 0;
  uint64_t packets = 0;
  uint64_t tsc_hz = 0;  // to turn cycles into time; 0 when the clock is off
};

// A snapshot of one worker's counters.
struct WorkerStats {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t punted = 0;        // STUN, DTLS, ARP, ICMP handed to the control thread
  uint64_t polls = 0;         // loop iterations
  uint64_t busy_polls = 0;    // iterations that received something
  uint64_t flows = 0;         // flows in the worker's table
  uint64_t messages = 0;      // control messages applied
  std::array<uint64_t, kDropCount> drops{};
  StageCycles stages;

  uint64_t dropped() const noexcept {
    uint64_t n = 0;
    for (uint64_t d : drops) {
      n += d;
    }
    return n;
  }
  WorkerStats& operator+=(const WorkerStats& o) noexcept;
};

// A snapshot of one flow's counters. Bytes are UDP payload bytes as received / as sent.
struct FlowStats {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t rtcp_packets = 0;
  std::array<uint64_t, kDropCount> drops{};
};

}  // namespace srtpgate::dp
