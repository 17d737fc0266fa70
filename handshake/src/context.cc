#include "srtpgate/hs/context.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>
#include <unordered_map>

#include "datagram_bio.h"
#include "ssl_util.h"

namespace srtpgate::hs {
namespace detail {

std::string openssl_errors() {
  std::string s;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) {
      s += "; ";
    }
    s += buf;
  }
  return s;
}

CookieKeys::~CookieKeys() {
  OPENSSL_cleanse(current.data(), current.size());
  OPENSSL_cleanse(previous.data(), previous.size());
}

namespace {

SslLink* link_of(SSL* ssl) { return static_cast<SslLink*>(SSL_get_app_data(ssl)); }

bool cookie_for(const std::array<uint8_t, 32>& key, const std::vector<uint8_t>& source,
                unsigned char* out, unsigned int* out_len) {
  const unsigned char empty = 0;  // HMAC wants a non-null pointer even for no bytes
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              source.empty() ? &empty : source.data(), source.size(), out, out_len) != nullptr;
}

struct SrtpName {
  srtp::Profile profile;
  const char* openssl_name;
  unsigned long id;  // RFC 5764 §4.1.2, RFC 7714 §14.2
};
constexpr SrtpName kSrtpNames[] = {
    {srtp::Profile::aes_cm_128_hmac_sha1_80, "SRTP_AES128_CM_SHA1_80", 0x0001},
    {srtp::Profile::aes_cm_128_hmac_sha1_32, "SRTP_AES128_CM_SHA1_32", 0x0002},
    {srtp::Profile::aead_aes_128_gcm, "SRTP_AEAD_AES_128_GCM", 0x0007},
    {srtp::Profile::aead_aes_256_gcm, "SRTP_AEAD_AES_256_GCM", 0x0008},
};

}  // namespace

// RFC 5763 §5: the certificate is usually self-signed; trust comes from the fingerprint that
// signalling carried, so chain errors are ignored and the leaf is compared with it instead.
int verify_callback(int /*preverify_ok*/, X509_STORE_CTX* store) {
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  SslLink* link = ssl == nullptr ? nullptr : link_of(ssl);
  if (link == nullptr || link->expected == nullptr) {
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) != 0) {
    return 1;
  }
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  auto fp = fingerprint_of(leaf, link->expected->algorithm);
  if (!fp) {
    link->verify_failure = "peer certificate: " + fp.message();
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  if (fp->digest.size() != link->expected->digest.size() ||
      CRYPTO_memcmp(fp->digest.data(), link->expected->digest.data(), fp->digest.size()) != 0) {
    link->verify_failure = "peer certificate fingerprint " + fp->to_sdp() +
                           " does not match the signalled a=fingerprint " +
                           link->expected->to_sdp();
    link->peer_verified = false;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  link->peer_verified = true;
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

int generate_cookie(SSL* ssl, unsigned char* cookie, unsigned int* cookie_len) {
  SslLink* link = link_of(ssl);
  if (link == nullptr || link->shared == nullptr) {
    return 0;
  }
  if (!cookie_for(link->shared->cookies.current, link->source, cookie, cookie_len)) {
    return 0;
  }
  ++link->shared->stats.hello_verify_sent;
  return 1;
}

int verify_cookie(SSL* ssl, const unsigned char* cookie, unsigned int cookie_len) {
  SslLink* link = link_of(ssl);
  if (link == nullptr || link->shared == nullptr) {
    return 0;
  }
  const CookieKeys& keys = link->shared->cookies;
  unsigned char want[EVP_MAX_MD_SIZE];
  unsigned int want_len = 0;
  if (cookie_for(keys.current, link->source, want, &want_len) && want_len == cookie_len &&
      CRYPTO_memcmp(want, cookie, cookie_len) == 0) {
    return 1;
  }
  if (keys.has_previous && cookie_for(keys.previous, link->source, want, &want_len) &&
      want_len == cookie_len && CRYPTO_memcmp(want, cookie, cookie_len) == 0) {
    return 1;
  }
  ++link->shared->stats.bad_cookie;
  return 0;
}

unsigned int retransmit_timer(SSL* ssl, unsigned int previous_us) {
  SslLink* link = link_of(ssl);
  const unsigned int initial = link == nullptr ? 100000 : link->initial_retransmit_us;
  const unsigned int max = link == nullptr ? 3200000 : link->max_retransmit_us;
  if (previous_us == 0) {
    return initial;
  }
  // RFC 6347 §4.2.4.1: double on each expiry, up to a ceiling.
  return previous_us >= max / 2 ? max : previous_us * 2;
}

Result<std::string> use_srtp_names(const std::vector<srtp::Profile>& profiles) {
  if (profiles.empty()) {
    return make_error("no SRTP profiles configured");
  }
  std::string s;
  for (srtp::Profile p : profiles) {
    const SrtpName* found = nullptr;
    for (const SrtpName& n : kSrtpNames) {
      if (n.profile == p) {
        found = &n;
      }
    }
    if (found == nullptr) {
      return make_error("SRTP profile " + std::string(srtp::name(p)) +
                        " has no DTLS-SRTP code point (RFC 5764 §4.1.2); use AES_CM_128 or "
                        "AEAD_AES_128/256_GCM");
    }
    if (!s.empty()) {
      s.push_back(':');
    }
    s += found->openssl_name;
  }
  return s;
}

std::optional<srtp::Profile> profile_from_id(unsigned long id) {
  for (const SrtpName& n : kSrtpNames) {
    if (n.id == id) {
      return n.profile;
    }
  }
  return std::nullopt;
}

}  // namespace detail

namespace {

using detail::SslPtr;

// RFC 6347 §4.1 record header followed by a handshake header of type client_hello (1).
bool looks_like_client_hello(std::span<const uint8_t> d) {
  return d.size() >= 13 + 12 && d[0] == 22 && d[1] == 0xfe && d[13] == 1;
}

class ContextImpl final : public Context {
 public:
  ContextImpl(Certificate certificate, ContextConfig config,
              std::shared_ptr<detail::ContextShared> shared)
      : certificate_(std::move(certificate)), config_(config), shared_(std::move(shared)) {
    listener_link_.shared = shared_.get();
  }
  ~ContextImpl() override { BIO_ADDR_free(peer_addr_); }

  Result<void> init(TimePoint now) {
    peer_addr_ = BIO_ADDR_new();
    if (peer_addr_ == nullptr) {
      return make_error("out of memory");
    }
    shared_->cookies.rotated_at = now;
    if (RAND_bytes(shared_->cookies.current.data(),
                   static_cast<int>(shared_->cookies.current.size())) != 1) {
      return make_error("no randomness for the cookie secret: " + detail::openssl_errors());
    }
    return new_listener();
  }

  const Certificate& certificate() const noexcept override { return certificate_; }

  Result<std::unique_ptr<Endpoint>> connect(const EndpointConfig& config, TimePoint now) override {
    if (shared_->stats.pending >= config_.max_pending_handshakes) {
      ++shared_->stats.pending_limit;
      return make_error("too many pending handshakes (" +
                        std::to_string(config_.max_pending_handshakes) + ")");
    }
    SslPtr ssl(SSL_new(shared_->ctx.get()));
    BIO* bio = detail::new_datagram_bio(config.mtu);
    if (!ssl || bio == nullptr) {
      BIO_free(bio);
      return make_error("out of memory creating a DTLS endpoint: " + detail::openssl_errors());
    }
    SSL_set_bio(ssl.get(), bio, bio);  // one reference, owned by the SSL
    SSL_set_connect_state(ssl.get());
    auto link = std::make_unique<detail::SslLink>();
    link->shared = shared_.get();
    return detail::make_endpoint(shared_, std::move(ssl), std::move(link), config, now);
  }

  Accepted accept(std::span<const uint8_t> datagram, std::span<const uint8_t> source,
                  const EndpointConfig& config, TimePoint now) override {
    Accepted out;
    rotate_cookie_secret(now);
    if (!looks_like_client_hello(datagram)) {
      ++shared_->stats.not_client_hello;
      out.dropped = "not a DTLS ClientHello";
      return out;
    }
    if (!listener_) {
      if (auto r = new_listener(); !r) {
        out.dropped = r.message();
        return out;
      }
    }
    BIO* bio = SSL_get_rbio(listener_.get());
    detail::DatagramQueues* q = detail::state_of(bio);
    q->in.clear();
    q->out.clear();
    q->mtu = config.mtu;
    listener_link_.source.assign(source.begin(), source.end());
    detail::push_inbound(bio, datagram);
    ERR_clear_error();
    const int r = DTLSv1_listen(listener_.get(), peer_addr_);
    if (r <= 0) {
      if (auto reply = detail::pop_outbound(bio)) {
        out.reply = std::move(reply);
      } else {
        ++shared_->stats.not_client_hello;
        const std::string why = detail::openssl_errors();
        out.dropped = "malformed ClientHello" + (why.empty() ? "" : ": " + why);
      }
      q->in.clear();
      q->out.clear();
      ERR_clear_error();
      return out;
    }
    // A valid cookie: the source answered our HelloVerifyRequest, so it is not spoofed.
    if (shared_->stats.pending >= config_.max_pending_handshakes) {
      ++shared_->stats.pending_limit;
      out.dropped =
          "too many pending handshakes (" + std::to_string(config_.max_pending_handshakes) + ")";
      listener_.reset();
      return out;
    }
    if (!admit_source(source, now)) {
      ++shared_->stats.rate_limited;
      out.dropped = "more than " + std::to_string(config_.max_handshakes_per_source_per_second) +
                    " handshakes per second from this source";
      listener_.reset();
      return out;
    }
    SslPtr ssl = std::move(listener_);
    auto link = std::make_unique<detail::SslLink>();
    link->shared = shared_.get();
    link->source.assign(source.begin(), source.end());
    auto ep = detail::make_endpoint(shared_, std::move(ssl), std::move(link), config, now);
    if (!ep) {
      out.dropped = ep.message();
      return out;
    }
    out.endpoint = std::move(ep.value());
    return out;
  }

  ContextStats stats() const noexcept override { return shared_->stats; }

 private:
  Result<void> new_listener() {
    SslPtr ssl(SSL_new(shared_->ctx.get()));
    BIO* bio = detail::new_datagram_bio(1200);
    if (!ssl || bio == nullptr) {
      BIO_free(bio);
      return make_error("out of memory creating the DTLS listener: " + detail::openssl_errors());
    }
    SSL_set_bio(ssl.get(), bio, bio);
    SSL_set_accept_state(ssl.get());
    SSL_set_app_data(ssl.get(), &listener_link_);
    listener_ = std::move(ssl);
    return {};
  }

  void rotate_cookie_secret(TimePoint now) {
    detail::CookieKeys& k = shared_->cookies;
    const auto age = now - k.rotated_at;
    if (age < config_.cookie_secret_lifetime) {
      return;
    }
    k.previous = k.current;
    k.has_previous = age < 2 * config_.cookie_secret_lifetime;
    if (RAND_bytes(k.current.data(), static_cast<int>(k.current.size())) != 1) {
      // Keep the old secret rather than make cookies from a predictable one.
      k.current = k.previous;
    }
    k.rotated_at = now;
  }

  // Per-source rate limit over one-second windows. Entries exist only for sources that proved
  // they receive our datagrams (valid cookie), and stale ones are pruned as the table grows.
  bool admit_source(std::span<const uint8_t> source, TimePoint now) {
    if (rate_.size() >= 4096) {
      std::erase_if(rate_, [now](const auto& e) {
        return now - e.second.window_start >= std::chrono::seconds(1);
      });
    }
    auto& w = rate_[std::string(source.begin(), source.end())];
    if (w.count == 0 || now - w.window_start >= std::chrono::seconds(1)) {
      w.window_start = now;
      w.count = 0;
    }
    if (w.count >= config_.max_handshakes_per_source_per_second) {
      return false;
    }
    ++w.count;
    return true;
  }

  struct Window {
    TimePoint window_start{};
    uint32_t count = 0;
  };

  Certificate certificate_;
  ContextConfig config_;
  std::shared_ptr<detail::ContextShared> shared_;
  detail::SslLink listener_link_;
  SslPtr listener_;
  BIO_ADDR* peer_addr_ = nullptr;
  std::unordered_map<std::string, Window> rate_;
};

}  // namespace

Result<std::unique_ptr<Context>> Context::create(Certificate certificate, ContextConfig config) {
  if (certificate.x509() == nullptr || certificate.key() == nullptr) {
    return make_error("context: the certificate or its key is missing");
  }
  if (config.cookie_secret_lifetime.count() <= 0) {
    return make_error("context: cookie_secret_lifetime must be positive");
  }
  auto shared = std::make_shared<detail::ContextShared>();
  shared->ctx.reset(SSL_CTX_new(DTLS_method()));
  SSL_CTX* ctx = shared->ctx.get();
  if (ctx == nullptr) {
    return make_error("context: SSL_CTX_new failed: " + detail::openssl_errors());
  }
  // DTLS 1.2 only (RFC 5764 with RFC 6347); full handshakes only, as WebRTC peers do.
  if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate(ctx, certificate.x509()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, certificate.key()) != 1 || SSL_CTX_check_private_key(ctx) != 1 ||
      SSL_CTX_set1_groups_list(ctx, "P-256:X25519:P-384") != 1 ||
      SSL_CTX_set_cipher_list(ctx,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
                              "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA") != 1) {
    return make_error("context: configuring the SSL_CTX failed: " + detail::openssl_errors());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     detail::verify_callback);
  SSL_CTX_set_verify_depth(ctx, 4);
  SSL_CTX_set_cookie_generate_cb(ctx, detail::generate_cookie);
  SSL_CTX_set_cookie_verify_cb(ctx, detail::verify_cookie);
  auto impl = std::make_unique<ContextImpl>(std::move(certificate), config, std::move(shared));
  if (auto r = impl->init(Clock::now()); !r) {
    return r.error();
  }
  return std::unique_ptr<Context>(std::move(impl));
}

}  // namespace srtpgate::hs
