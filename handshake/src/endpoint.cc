#include "srtpgate/hs/endpoint.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <deque>
#include <string>

#include "datagram_bio.h"
#include "ssl_util.h"

namespace srtpgate::hs::detail {
namespace {

constexpr char kExporterLabel[] = "EXTRACTOR-dtls_srtp";  // RFC 5764 §4.2

// RFC 6347 §4.1: a datagram carries whole records. Anything else (random bytes, a truncated
// datagram) is dropped before OpenSSL sees it, so it can neither fail nor stall the handshake.
bool whole_dtls_records(std::span<const uint8_t> d) {
  if (d.empty()) {
    return false;
  }
  std::size_t off = 0;
  while (off < d.size()) {
    if (d.size() - off < 13) {
      return false;
    }
    const uint8_t type = d[off];
    if (type < 20 || type > 23 || d[off + 1] != 0xfe ||
        (d[off + 2] != 0xfd && d[off + 2] != 0xff)) {
      return false;
    }
    const std::size_t len = (std::size_t{d[off + 11]} << 8) | d[off + 12];
    if (len > d.size() - off - 13) {
      return false;
    }
    off += 13 + len;
  }
  return true;
}

std::string alert_text(int reason) {
  // OpenSSL reports a received alert as SSL_AD_REASON_OFFSET (1000) + the alert number.
  const int alert = reason - SSL_AD_REASON_OFFSET;
  if (alert >= 0 && alert < 256) {
    const char* s = SSL_alert_desc_string_long(alert);
    std::string why = "peer aborted the handshake with alert \"" + std::string(s) + "\"";
    if (alert == SSL_AD_BAD_CERTIFICATE || alert == SSL_AD_HANDSHAKE_FAILURE ||
        alert == SSL_AD_UNSUPPORTED_CERTIFICATE) {
      why += " (does its a=fingerprint for us match our certificate?)";
    }
    return why;
  }
  return {};
}

class EndpointImpl final : public Endpoint {
 public:
  EndpointImpl(std::shared_ptr<ContextShared> shared, SslPtr ssl, std::unique_ptr<SslLink> link,
               EndpointConfig config, TimePoint now)
      : shared_(std::move(shared)),
        ssl_(std::move(ssl)),
        link_(std::move(link)),
        config_(std::move(config)),
        hs_deadline_(now + config_.handshake_timeout) {
    link_->expected = &config_.peer_fingerprint;
    SSL_set_app_data(ssl_.get(), link_.get());
    ++shared_->stats.pending;
    ++shared_->stats.endpoints_created;
  }

  ~EndpointImpl() override {
    leave_pending();
    // The SSL (and OpenSSL's copies of the key schedule) is freed and cleansed by OpenSSL.
  }

  Result<void> configure() {
    auto names = use_srtp_names(config_.profiles);
    if (!names) {
      return names.error();
    }
    if (config_.peer_fingerprint.digest.empty()) {
      return make_error(
          "no peer fingerprint: the peer's a=fingerprint from signalling is "
          "required (RFC 5763 §5)");
    }
    if ((config_.role == Role::server) != (SSL_is_server(ssl_.get()) == 1)) {
      return make_error(config_.role == Role::server
                            ? "role mismatch: connect() makes a DTLS client (a=setup:active); "
                              "set EndpointConfig::role = Role::client"
                            : "role mismatch: accept() makes a DTLS server (a=setup:passive); "
                              "set EndpointConfig::role = Role::server");
    }
    if (config_.mtu < 256) {
      return make_error("MTU " + std::to_string(config_.mtu) + " is below DTLS's minimum of 256");
    }
    if (config_.initial_retransmit.count() <= 0 ||
        config_.max_retransmit < config_.initial_retransmit) {
      return make_error("retransmit timers: need 0 < initial_retransmit <= max_retransmit");
    }
    link_->initial_retransmit_us =
        static_cast<unsigned int>(std::chrono::microseconds(config_.initial_retransmit).count());
    link_->max_retransmit_us =
        static_cast<unsigned int>(std::chrono::microseconds(config_.max_retransmit).count());
    SSL* s = ssl_.get();
    state_of(bio())->mtu = config_.mtu;
    // SSL_set_tlsext_use_srtp returns 0 on success.
    if (SSL_set_tlsext_use_srtp(s, names->c_str()) != 0) {
      return make_error("use_srtp: OpenSSL refused \"" + *names + "\": " + openssl_errors());
    }
    SSL_set_options(s, SSL_OP_NO_QUERY_MTU);
    // Flights are fragmented to fit: OpenSSL takes this as the datagram payload size, because
    // our BIO reports no per-datagram overhead.
    if (SSL_set_mtu(s, config_.mtu) <= 0) {  // returns the MTU it set
      return make_error("SSL_set_mtu(" + std::to_string(config_.mtu) +
                        ") failed: " + openssl_errors());
    }
    DTLS_set_timer_cb(s, retransmit_timer);
    return {};
  }

  void handle_datagram(std::span<const uint8_t> datagram, TimePoint now) override {
    ++stats_.datagrams_in;
    if (state_ == State::failed || state_ == State::closed) {
      ++stats_.after_end_dropped;
      return;
    }
    if (!whole_dtls_records(datagram)) {
      ++stats_.malformed_dropped;
      return;
    }
    // Replayed records go to OpenSSL too, which drops them by its own window (RFC 6347
    // §4.1.2.6) and moves that window only for records it accepted. A window kept here, from
    // record numbers no one had checked yet, let forged records with the peer's coming numbers
    // block its real ones.
    if (!push_inbound(bio(), datagram)) {
      ++stats_.queue_dropped;
      return;
    }
    drive(now);
  }

  void handle_timeout(TimePoint now) override {
    if (state_ != State::handshaking) {
      return;
    }
    if (now >= hs_deadline_) {
      fail("handshake timed out after " + std::to_string(config_.handshake_timeout.count()) +
           " ms (is the peer reachable, and does it send to the address we expect?)");
      return;
    }
    ERR_clear_error();
    const int r = DTLSv1_handle_timeout(ssl_.get());
    if (r > 0) {
      ++stats_.retransmit_timeouts;
    } else if (r < 0) {
      fail("handshake gave up after too many retransmissions: " + openssl_errors());
      return;
    }
    drive(now);
  }

  std::optional<TimePoint> next_deadline() const override {
    if (state_ != State::handshaking) {
      return std::nullopt;
    }
    if (dtls_deadline_ && *dtls_deadline_ < hs_deadline_) {
      return dtls_deadline_;
    }
    return hs_deadline_;
  }

  std::optional<std::vector<uint8_t>> poll_datagram() override {
    auto d = pop_outbound(bio());
    if (d) {
      ++stats_.datagrams_out;
    }
    return d;
  }

  std::optional<Event> poll_event() override {
    if (events_.empty()) {
      return std::nullopt;
    }
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

  void close(TimePoint now) override {
    (void)now;
    if (state_ == State::failed || state_ == State::closed) {
      return;
    }
    const bool was_connected = state_ == State::connected;
    if (was_connected) {
      ERR_clear_error();
      SSL_shutdown(ssl_.get());  // queues close_notify (RFC 5246 §7.2.1)
      ERR_clear_error();
    }
    end(State::closed, EventKind::closed,
        was_connected ? "closed locally" : "closed locally before the handshake completed");
  }

  bool connected() const noexcept override { return state_ == State::connected; }
  EndpointStats stats() const noexcept override { return stats_; }

  // Runs OpenSSL on whatever is queued; called after every input.
  void drive(TimePoint now) {
    if (state_ == State::handshaking) {
      ERR_clear_error();
      const int r = SSL_do_handshake(ssl_.get());
      if (r == 1) {
        on_handshake_done();
      } else {
        const int err = SSL_get_error(ssl_.get(), r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          fail(handshake_error());
          return;
        }
      }
    }
    if (state_ == State::connected) {
      read_after_handshake();
    }
    update_deadline(now);
  }

 private:
  enum class State : uint8_t { handshaking, connected, failed, closed };

  BIO* bio() const noexcept { return SSL_get_rbio(ssl_.get()); }

  void update_deadline(TimePoint now) {
    dtls_deadline_.reset();
    if (state_ != State::handshaking) {
      return;
    }
    timeval tv{};
    if (DTLSv1_get_timeout(ssl_.get(), &tv) == 1) {
      dtls_deadline_ =
          now + std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    }
  }

  // After the handshake, OpenSSL still has work on reads: resending its last flight when the
  // peer retransmits its Finished (RFC 6347 §4.2.4; without it a lost final flight leaves the
  // peer without keys), and close_notify.
  void read_after_handshake() {
    std::array<uint8_t, 2048> buf;
    for (;;) {
      ERR_clear_error();
      const int r = SSL_read(ssl_.get(), buf.data(), static_cast<int>(buf.size()));
      if (r > 0) {
        ++stats_.app_data_dropped;
        continue;
      }
      const int err = SSL_get_error(ssl_.get(), r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        break;
      }
      if (err == SSL_ERROR_ZERO_RETURN) {
        SSL_shutdown(ssl_.get());  // answer with our close_notify
        ERR_clear_error();
        end(State::closed, EventKind::closed, "peer sent close_notify");
      } else {
        const unsigned long e = ERR_peek_last_error();
        std::string why = alert_text(ERR_GET_REASON(e));
        if (why.empty()) {
          why = "DTLS connection failed: " + openssl_errors();
        }
        ERR_clear_error();
        end(State::closed, EventKind::closed, why);
      }
      break;
    }
    OPENSSL_cleanse(buf.data(), buf.size());
  }

  std::string handshake_error() {
    if (!link_->verify_failure.empty()) {
      ERR_clear_error();
      return link_->verify_failure;
    }
    const unsigned long e = ERR_peek_last_error();
    const int reason = ERR_GET_REASON(e);
    std::string why;
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
      why =
          "peer sent no certificate; DTLS-SRTP requires one matching its a=fingerprint "
          "(RFC 5763 §5)";
    } else if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
      why = alert_text(reason);
    }
    if (why.empty()) {
      const std::string errs = openssl_errors();
      why = "DTLS handshake failed: " + (errs.empty() ? std::string("unknown error") : errs);
    }
    ERR_clear_error();
    return why;
  }

  void on_handshake_done() {
    SSL* s = ssl_.get();
    X509* peer = SSL_get0_peer_certificate(s);
    if (peer == nullptr) {
      fail_after_handshake(
          "peer sent no certificate; DTLS-SRTP requires one matching its "
          "a=fingerprint (RFC 5763 §5)");
      return;
    }
    // The verify callback already compared the leaf; check again so no path skips it.
    auto fp = fingerprint_of(peer, config_.peer_fingerprint.algorithm);
    if (!fp || fp->digest.size() != config_.peer_fingerprint.digest.size() ||
        CRYPTO_memcmp(fp->digest.data(), config_.peer_fingerprint.digest.data(),
                      fp->digest.size()) != 0) {
      fail_after_handshake(fp ? "peer certificate fingerprint " + fp->to_sdp() +
                                    " does not match the signalled a=fingerprint " +
                                    config_.peer_fingerprint.to_sdp()
                              : "peer certificate: " + fp.message());
      return;
    }
    const SRTP_PROTECTION_PROFILE* sp = SSL_get_selected_srtp_profile(s);
    if (sp == nullptr) {
      std::string offered;
      for (srtp::Profile p : config_.profiles) {
        offered += (offered.empty() ? "" : ", ") + std::string(srtp::name(p));
      }
      fail_after_handshake(
          "no common SRTP profile: the DTLS handshake completed without "
          "use_srtp (RFC 5764 §4.1.2); we offered " +
          offered);
      return;
    }
    const auto profile = profile_from_id(sp->id);
    if (!profile) {
      fail_after_handshake("peer selected SRTP profile " + std::string(sp->name) +
                           " which we did not offer");
      return;
    }
    const auto pp = srtp::params(*profile);
    const std::size_t k = pp.master_key_len;
    const std::size_t salt = pp.master_salt_len;
    // The largest split: two AES-256 keys and two 14-byte salts.
    std::array<uint8_t, std::size_t{2} * (32 + 14)> km{};
    const std::size_t len = 2 * (k + salt);
    if (SSL_export_keying_material(s, km.data(), len, kExporterLabel, sizeof kExporterLabel - 1,
                                   nullptr, 0, 0) != 1) {
      OPENSSL_cleanse(km.data(), km.size());
      fail_after_handshake("exporting EXTRACTOR-dtls_srtp failed: " + openssl_errors());
      return;
    }
    // RFC 5764 §4.2: client write key | server write key | client write salt | server write salt.
    const std::span<const uint8_t> all(km.data(), len);
    const auto client_key = all.subspan(0, k);
    const auto server_key = all.subspan(k, k);
    const auto client_salt = all.subspan(2 * k, salt);
    const auto server_salt = all.subspan(2 * k + salt, salt);
    const bool client = SSL_is_server(s) == 0;
    auto out = srtp::MasterKey::from_bytes(*profile, client ? client_key : server_key,
                                           client ? client_salt : server_salt);
    auto in = srtp::MasterKey::from_bytes(*profile, client ? server_key : client_key,
                                          client ? server_salt : client_salt);
    OPENSSL_cleanse(km.data(), km.size());
    if (!out || !in) {
      fail_after_handshake("building master keys failed: " + (out ? in.message() : out.message()));
      return;
    }
    Event ev;
    ev.kind = EventKind::connected;
    ev.keys.emplace();
    ev.keys->profile = *profile;
    ev.keys->outbound = std::move(out.value());
    ev.keys->inbound = std::move(in.value());
    state_ = State::connected;
    leave_pending();
    events_.push_back(std::move(ev));
  }

  // The handshake finished but we will not use it: tell the peer with close_notify so it does
  // not wait for media, and install nothing.
  void fail_after_handshake(std::string reason) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    fail(std::move(reason));
  }

  void fail(std::string reason) { end(State::failed, EventKind::failed, std::move(reason)); }

  void end(State state, EventKind kind, std::string reason) {
    state_ = state;
    dtls_deadline_.reset();
    leave_pending();
    Event ev;
    ev.kind = kind;
    ev.reason = std::move(reason);
    events_.push_back(std::move(ev));
  }

  void leave_pending() {
    if (pending_) {
      pending_ = false;
      --shared_->stats.pending;
    }
  }

  std::shared_ptr<ContextShared> shared_;
  SslPtr ssl_;
  std::unique_ptr<SslLink> link_;
  EndpointConfig config_;
  State state_ = State::handshaking;
  bool pending_ = true;
  TimePoint hs_deadline_;
  std::optional<TimePoint> dtls_deadline_;
  std::deque<Event> events_;
  EndpointStats stats_;
};

}  // namespace

Result<std::unique_ptr<Endpoint>> make_endpoint(std::shared_ptr<ContextShared> shared, SslPtr ssl,
                                                std::unique_ptr<SslLink> link,
                                                const EndpointConfig& config, TimePoint now) {
  auto ep = std::make_unique<EndpointImpl>(std::move(shared), std::move(ssl), std::move(link),
                                           config, now);
  if (auto r = ep->configure(); !r) {
    return r.error();
  }
  ep->drive(now);
  return std::unique_ptr<Endpoint>(std::move(ep));
}

}  // namespace srtpgate::hs::detail
