// What the daemon's control plane offers, whoever asks: the control socket, the config file at
// start-up and the telemetry commands all go through this interface. Control path only: called
// from the main lcore's event loop, never from a worker.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "secret_string.h"
#include "srtpgate/dp/counters.h"
#include "srtpgate/dp/flow.h"
#include "srtpgate/dp/port_description.h"
#include "srtpgate/profile.h"
#include "srtpgate/result.h"

namespace srtpgate::app {

// An SRTP leg keyed by signalling: SDES (RFC 4568) key-params given by the caller, or
// DTLS-SRTP (RFC 5763/5764) negotiated by the daemon with the peer.
struct SdesLeg {
  srtp::Profile profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
  SecretString key_params;  // "inline:BASE64[|LIFETIME][|MKI:LEN]" — a secret: never echoed
};
struct DtlsLeg {
  bool active = false;           // a=setup:active (we are the DTLS client) or passive (server)
  std::string peer_fingerprint;  // a=fingerprint value, e.g. "sha-256 AB:CD:..."
  std::vector<srtp::Profile> profiles;  // preference; empty: the engine's default order
};
struct LegSpec {
  std::optional<SdesLeg> sdes;  // exactly one of the two
  std::optional<DtlsLeg> dtls;
};

// Where a session's output goes.
struct NextHopSpec {
  std::string port;                 // DPDK port name; empty: the session's own port
  std::array<uint8_t, 6> mac{};     // destination MAC
  dp::IpAddress src_addr;           // ours on that port
  uint16_t src_port = 0;            // 0: the session's local port
  dp::IpAddress dst_addr;
  uint16_t dst_port = 0;
  uint16_t vlan = 0;
};

// One direction of media through the gateway: packets from `remote` to `local` on `port` are
// processed by `action` and sent to `next_hop`. DTLS-SRTP runs with `remote` on the same
// 5-tuple (RFC 5764 §5.1.2 demultiplexing) for the inbound leg (unprotect, transcrypt), and with
// the next hop on its 5-tuple for the outbound leg of a protect session.
struct SessionRequest {
  std::string port;  // DPDK port name
  uint16_t vlan = 0;  // 802.1Q VLAN id the media arrives with on `port`; 0: untagged
  dp::IpAddress local_addr;
  uint16_t local_port = 0;  // 0: allocated by the engine from its configured range
  dp::IpAddress remote_addr;
  uint16_t remote_port = 0;
  dp::Action action = dp::Action::unprotect;
  std::optional<LegSpec> inbound;   // unprotect, transcrypt
  std::optional<LegSpec> outbound;  // protect, transcrypt
  NextHopSpec next_hop;
  uint32_t replay_window = 128;
  uint32_t max_streams = 4;
  std::string label;  // free text for operators (call id); echoed in list/show
};

enum class SessionState : uint8_t {
  handshaking,  // DTLS in progress; nothing installed yet
  active,       // keys installed in the dataplane
  failed,       // DTLS failed: see `failure`; nothing installed
};
std::string_view name(SessionState s) noexcept;

// What list/show report. Never any key material.
struct SessionInfo {
  uint64_t id = 0;
  std::string label;
  SessionState state = SessionState::handshaking;
  std::string failure;
  std::string port;
  uint16_t vlan = 0;
  dp::IpAddress local_addr;
  uint16_t local_port = 0;
  dp::IpAddress remote_addr;
  uint16_t remote_port = 0;
  dp::Action action = dp::Action::unprotect;
  std::optional<srtp::Profile> inbound_profile;   // negotiated (DTLS) or given (SDES)
  std::optional<srtp::Profile> outbound_profile;
  std::string fingerprint;  // ours (sha-256), when a leg uses DTLS: for the answer's SDP
  unsigned worker = 0;
  dp::FlowStats counters;
  uint64_t age_seconds = 0;
};

struct ServiceStats {
  std::vector<dp::WorkerStats> workers;
  uint64_t sessions = 0;
  uint64_t handshaking = 0;
  uint64_t punted_stun = 0;
  uint64_t punted_dtls = 0;
  uint64_t punted_other = 0;   // ARP, ICMP answered or dropped by the control thread
  uint64_t dtls_unmatched = 0; // DTLS from a 5-tuple with no DTLS session
};

class SessionService {
 public:
  virtual ~SessionService() = default;
  // Validates everything before changing anything: a failed create leaves no trace.
  virtual Result<SessionInfo> create(const SessionRequest& request) = 0;
  virtual Result<void> remove(uint64_t id) = 0;
  // New SDES keys for one or both legs; ROC and replay state carry over.
  virtual Result<void> rekey(uint64_t id, const std::optional<SdesLeg>& inbound,
                             const std::optional<SdesLeg>& outbound) = 0;
  virtual Result<SessionInfo> show(uint64_t id) const = 0;
  virtual std::vector<SessionInfo> list() const = 0;
  virtual ServiceStats stats() const = 0;
  // The dataplane's ports: driver, queues, RSS, MTU and the checksum offloads in effect.
  virtual std::vector<dp::PortDescription> ports() const = 0;
};

}  // namespace srtpgate::app
