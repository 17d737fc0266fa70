// What the DTLS-SRTP endpoints of one gateway share: our certificate, the OpenSSL SSL_CTX, the
// rotating cookie secret (RFC 6347 §4.2.1) and the limits that keep floods from growing state.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "srtpgate/hs/certificate.h"
#include "srtpgate/hs/endpoint.h"
#include "srtpgate/result.h"

namespace srtpgate::hs {

struct ContextConfig {
  uint32_t max_pending_handshakes = 10000;             // endpoints created but not yet connected
  uint32_t max_handshakes_per_source_per_second = 20;  // accepted ClientHellos with a valid cookie
  std::chrono::seconds cookie_secret_lifetime{30};     // the previous secret stays valid one more
};

struct ContextStats {
  uint64_t hello_verify_sent = 0;  // stateless cookie answers
  uint64_t bad_cookie = 0;
  uint64_t rate_limited = 0;
  uint64_t pending_limit = 0;
  uint64_t not_client_hello = 0;  // datagrams for no endpoint that are no ClientHello
  uint64_t endpoints_created = 0;
  uint32_t pending = 0;  // now
};

// The server side's answer to a datagram from an address that has no endpoint yet.
struct Accepted {
  // A HelloVerifyRequest to send back (no state was kept), or nothing.
  std::optional<std::vector<uint8_t>> reply;
  // Set when the ClientHello carried a valid cookie: the endpoint has consumed it; poll it.
  std::unique_ptr<Endpoint> endpoint;
  std::string dropped;  // why the datagram was dropped, when it was
};

class Context {
 public:
  // Not thread-safe: one control thread drives a context and all its endpoints.
  static Result<std::unique_ptr<Context>> create(Certificate certificate,
                                                 ContextConfig config = {});
  virtual ~Context() = default;

  virtual const Certificate& certificate() const noexcept = 0;

  // Client role (a=setup:active): a new endpoint that has queued its ClientHello.
  // config.role must be Role::client. Fails on a bad config or at max_pending_handshakes.
  virtual Result<std::unique_ptr<Endpoint>> connect(const EndpointConfig& config,
                                                    TimePoint now) = 0;

  // Server role (a=setup:passive): a datagram from `source` (opaque bytes naming the peer's
  // address and port, used for the cookie and the rate limit) for which no endpoint exists.
  // config.role must be Role::server. Only a ClientHello whose cookie this context made for
  // `source` (with the current or the previous secret) creates an endpoint; anything else
  // keeps no state. A ClientHello split over several datagrams is not supported here.
  virtual Accepted accept(std::span<const uint8_t> datagram, std::span<const uint8_t> source,
                          const EndpointConfig& config, TimePoint now) = 0;

  virtual ContextStats stats() const noexcept = 0;
};

}  // namespace srtpgate::hs
