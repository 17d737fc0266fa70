// What the control thread tells the dataplane about one flow: where its packets arrive, what to
// do with them, and where to send the result.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "srtpgate/master_key.h"
#include "srtpgate/profile.h"
#include "srtpgate/result.h"

namespace srtpgate::dp {

// An IPv4 or IPv6 address. IPv4 uses bytes[0..4) and leaves the rest zero, so two equal
// addresses are equal byte for byte (the flow table hashes the bytes).
struct IpAddress {
  uint8_t family = 4;  // 4 or 6
  std::array<uint8_t, 16> bytes{};

  static Result<IpAddress> parse(std::string_view text);  // "198.18.0.1" or "2001:db8::1"
  std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// The flow table's key: a UDP flow as its packets arrive on a port and VLAN. `local` is our
// address and port (the packet's destination), `remote` the sender's; `vlan` is the 802.1Q VLAN
// id of the frames (0: untagged or priority-tagged), so the same addresses and ports on two
// VLANs of one trunk port are two flows, as overlapping address plans of two networks need.
// Exactly 48 bytes with no padding holes; build it with make_flow_key() so unused bytes are
// zero. 8-byte aligned because the flow table hashes and compares it eight bytes at a time.
struct alignas(8) FlowKey {
  std::array<uint8_t, 16> local_addr{};
  std::array<uint8_t, 16> remote_addr{};
  uint16_t local_port = 0;   // host byte order
  uint16_t remote_port = 0;  // host byte order
  uint16_t port_id = 0;      // the DPDK port the packets arrive on
  uint16_t vlan = 0;         // 802.1Q VLAN id 1..4094, 0 when untagged
  uint8_t family = 4;        // 4 or 6
  std::array<uint8_t, 7> reserved{};

  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};
static_assert(sizeof(FlowKey) == 48 && alignof(FlowKey) == 8);

FlowKey make_flow_key(uint16_t port_id, const IpAddress& local, uint16_t local_port,
                      const IpAddress& remote, uint16_t remote_port, uint16_t vlan = 0) noexcept;
// "port 0 198.18.0.1:4000 <- 198.18.1.1:5000", with " vlan 100" after the port when tagged.
std::string to_string(const FlowKey& key);

// What a worker does with a flow's packets before forwarding them.
enum class Action : uint8_t {
  unprotect,   // SRTP in, RTP out (RFC 3711 §3.3)
  protect,     // RTP in, SRTP out
  transcrypt,  // SRTP in, SRTP out under another key or profile
  forward,     // no crypto: rewrite and send (plain RTP relay; also a baseline)
};
std::string_view name(Action a) noexcept;
std::optional<Action> action_from_name(std::string_view name) noexcept;

// Where a flow's output goes: the egress port and the headers every packet gets there.
struct NextHop {
  uint16_t port_id = 0;
  std::array<uint8_t, 6> dst_mac{};
  IpAddress src_addr;  // ours on the egress side
  uint16_t src_port = 0;
  IpAddress dst_addr;  // the next hop's
  uint16_t dst_port = 0;
  uint16_t vlan_id = 0;  // 0: untagged; 1..4094: one 802.1Q tag
};

// One SRTP leg of a flow: the profile and the master key (SDES or DTLS-SRTP exported).
struct LegKey {
  srtp::Profile profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
  srtp::MasterKey key;
};

struct FlowSpec {
  FlowKey key;
  Action action = Action::unprotect;
  std::optional<LegKey> inbound;   // unprotect, transcrypt: the key the sender protects with
  std::optional<LegKey> outbound;  // protect, transcrypt: the key we protect with
  NextHop next_hop;
  uint32_t replay_window = 128;  // packets, 64..32768 (RFC 3711 §3.3.2)
  uint32_t max_streams = 4;      // SSRCs per leg (BUNDLE); memory is reserved at install
};

}  // namespace srtpgate::dp
