// Private pieces shared by the context and its endpoints.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "srtpgate/hs/context.h"
#include "srtpgate/hs/endpoint.h"

namespace srtpgate::hs::detail {

struct SslFree {
  void operator()(SSL* p) const noexcept { SSL_free(p); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// Drains OpenSSL's error queue into one line ("" when empty).
std::string openssl_errors();

// The HMAC-SHA256 keys behind the HelloVerifyRequest cookies (RFC 6347 §4.2.1). The current key
// makes cookies; the current and the previous one verify them.
struct CookieKeys {
  std::array<uint8_t, 32> current{};
  std::array<uint8_t, 32> previous{};
  bool has_previous = false;
  TimePoint rotated_at{};
  ~CookieKeys();
};

// What lives as long as any endpoint of a context: the SSL_CTX, the cookie keys, the counters.
struct ContextShared {
  SslCtxPtr ctx;
  CookieKeys cookies;
  ContextStats stats;
};

// What OpenSSL's callbacks reach through SSL_get_app_data, for the listener and each endpoint.
struct SslLink {
  ContextShared* shared = nullptr;
  std::vector<uint8_t> source;            // the peer's address bytes, for the cookie
  const Fingerprint* expected = nullptr;  // null on the listener
  std::string verify_failure;             // why the peer certificate was refused
  bool peer_verified = false;             // the leaf matched `expected`
  unsigned int initial_retransmit_us = 100000;
  unsigned int max_retransmit_us = 3200000;
};

// OpenSSL callbacks installed on the SSL_CTX.
int verify_callback(int preverify_ok, X509_STORE_CTX* store);
int generate_cookie(SSL* ssl, unsigned char* cookie, unsigned int* cookie_len);
int verify_cookie(SSL* ssl, const unsigned char* cookie, unsigned int cookie_len);
unsigned int retransmit_timer(SSL* ssl, unsigned int previous_us);

// The OpenSSL name list for SSL_set_tlsext_use_srtp ("SRTP_AEAD_AES_256_GCM:..."), or an error
// naming a profile that has no DTLS-SRTP code point.
Result<std::string> use_srtp_names(const std::vector<srtp::Profile>& profiles);
// The profile OpenSSL negotiated (its RFC 5764 / RFC 7714 id), if we know it.
std::optional<srtp::Profile> profile_from_id(unsigned long id);

// Builds an endpoint around an SSL that has our datagram BIO attached. `shared` counts it as
// pending until it connects, fails or is destroyed.
Result<std::unique_ptr<Endpoint>> make_endpoint(std::shared_ptr<ContextShared> shared, SslPtr ssl,
                                                std::unique_ptr<SslLink> link,
                                                const EndpointConfig& config, TimePoint now);

}  // namespace srtpgate::hs::detail
