// A sans-IO DTLS 1.2 endpoint for DTLS-SRTP (RFC 5764, RFC 5763). It owns no socket, thread or
// clock: feed it datagrams and the time, take datagrams to send, the next deadline and events.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "srtpgate/hs/certificate.h"
#include "srtpgate/master_key.h"
#include "srtpgate/profile.h"
#include "srtpgate/result.h"

namespace srtpgate::hs {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// From signalling (RFC 5763 §5, a=setup): active is the DTLS client, passive the server.
enum class Role : uint8_t { client, server };

struct EndpointConfig {
  Role role = Role::server;
  // The peer's certificate must match this (RFC 5763 §5); self-signed is normal.
  Fingerprint peer_fingerprint;
  // use_srtp offer (client) or preference (server), most preferred first (RFC 5764 §4.1.2).
  // Only the four DTLS-SRTP profiles: AES-256-CM has no DTLS-SRTP code point.
  std::vector<srtp::Profile> profiles = {
      srtp::Profile::aead_aes_256_gcm, srtp::Profile::aead_aes_128_gcm,
      srtp::Profile::aes_cm_128_hmac_sha1_80, srtp::Profile::aes_cm_128_hmac_sha1_32};
  uint16_t mtu = 1200;  // bytes of DTLS record per datagram, as browsers use
  std::chrono::milliseconds initial_retransmit{100};
  std::chrono::milliseconds max_retransmit{3200};
  std::chrono::milliseconds handshake_timeout{20000};
};

enum class EventKind : uint8_t { connected, failed, closed };

// Per-endpoint counters of what came in and what was dropped without affecting the handshake.
struct EndpointStats {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t malformed_dropped = 0;    // not a sequence of whole DTLS records (garbage, truncated)
  uint64_t queue_dropped = 0;        // more datagrams queued than OpenSSL consumed
  uint64_t after_end_dropped = 0;    // arrived after the endpoint failed or closed
  uint64_t app_data_dropped = 0;     // DTLS application data (we carry none)
  uint64_t retransmit_timeouts = 0;  // our retransmission timer fired
};

struct Event {
  EventKind kind = EventKind::failed;
  std::string reason;  // failed/closed: what went wrong, for a person ("peer fingerprint ...")
  // connected: the negotiated profile and the keys mapped to our direction (RFC 5764 §4.2).
  std::optional<srtp::KeyMaterial> keys;
};

class Context;  // shared by endpoints: our certificate, SSL_CTX, cookie secret, limits

// Time: pass Clock::now() as `now`. OpenSSL 3.0's DTLS retransmission timer reads the real clock
// itself, so next_deadline() is `now` plus OpenSSL's remaining time, and handle_timeout() before
// the real deadline does nothing; only the overall handshake timeout is measured in `now` alone.
class Endpoint {
 public:
  virtual ~Endpoint() = default;

  // A datagram from the peer. Garbage (not whole DTLS records) is counted and dropped; it never
  // fails the handshake. Well-formed records go to OpenSSL, which drops replays itself. A
  // well-formed forged plaintext record (an alert, a bogus handshake message from someone who
  // spoofs the peer's address) can still end a handshake before the keys are agreed: DTLS 1.2
  // does not authenticate epoch 0.
  virtual void handle_datagram(std::span<const uint8_t> datagram, TimePoint now) = 0;
  // Call when now >= next_deadline().
  virtual void handle_timeout(TimePoint now) = 0;
  virtual std::optional<TimePoint> next_deadline() const = 0;
  // Datagrams to send, in order; each at most the MTU.
  virtual std::optional<std::vector<uint8_t>> poll_datagram() = 0;
  virtual std::optional<Event> poll_event() = 0;
  // Sends close_notify.
  virtual void close(TimePoint now) = 0;
  virtual bool connected() const noexcept = 0;
  virtual EndpointStats stats() const noexcept { return {}; }
};

}  // namespace srtpgate::hs
