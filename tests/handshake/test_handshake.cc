// DTLS-SRTP handshake engine: both ends in one process (BoringSSL's CompleteHandshakes style),
// every profile and role, a lossy pipe, refusals, and hostile input.
//
// Time: OpenSSL 3.0's DTLS retransmission timer reads the real clock, so these tests run in real
// time with short timers (20 ms initial retransmission) and pass Clock::now() as `now`.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "datagram_bio.h"
#include "srtpgate/crypto.h"
#include "srtpgate/hs/certificate.h"
#include "srtpgate/hs/context.h"
#include "srtpgate/hs/endpoint.h"
#include "srtpgate/session.h"

namespace srtpgate::hs {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

constexpr srtp::Profile kDtlsProfiles[] = {
    srtp::Profile::aes_cm_128_hmac_sha1_80, srtp::Profile::aes_cm_128_hmac_sha1_32,
    srtp::Profile::aead_aes_128_gcm, srtp::Profile::aead_aes_256_gcm};

Certificate make_cert(const char* cn = "srtpgate-test") {
  auto c = Certificate::generate(cn);
  EXPECT_TRUE(c) << c.message();
  return std::move(c.value());
}

Fingerprint fp_of(const Certificate& c, const char* alg = "sha-256") {
  auto f = c.fingerprint(alg);
  EXPECT_TRUE(f) << f.message();
  return f.value();
}

EndpointConfig config_for(Role role, const Certificate& peer) {
  EndpointConfig c;
  c.role = role;
  c.peer_fingerprint = fp_of(peer);
  c.initial_retransmit = 20ms;
  c.max_retransmit = 200ms;
  c.handshake_timeout = 4000ms;
  return c;
}

bool terminal(const std::vector<Event>& ev) { return !ev.empty(); }

// One direction of a datagram link: seeded loss, duplication and reordering.
class Link {
 public:
  explicit Link(uint32_t seed = 1, double loss = 0, double dup = 0, bool reorder = false)
      : rng_(seed), loss_(loss), dup_(dup), reorder_(reorder) {}
  void send(Bytes d) {
    ++sent_;
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng_) < loss_) {
      return;
    }
    if (u(rng_) < dup_) {
      flight_.push_back(d);
    }
    flight_.push_back(std::move(d));
  }
  std::vector<Bytes> take() {
    std::vector<Bytes> out;
    out.swap(flight_);
    if (reorder_) {
      std::shuffle(out.begin(), out.end(), rng_);
    }
    return out;
  }
  bool empty() const { return flight_.empty(); }
  uint64_t sent() const { return sent_; }

 private:
  std::mt19937 rng_;
  double loss_, dup_;
  bool reorder_;
  std::vector<Bytes> flight_;
  uint64_t sent_ = 0;
};

struct Side {
  std::unique_ptr<Endpoint> ep;
  std::vector<Event> events;
  const Event* last() const { return events.empty() ? nullptr : &events.back(); }
};

// Our client against our server, each with its own context and certificate.
struct Harness {
  Certificate client_cert = make_cert("client");
  Certificate server_cert = make_cert("server");
  std::unique_ptr<Context> client_ctx;
  std::unique_ptr<Context> server_ctx;
  EndpointConfig ccfg = config_for(Role::client, server_cert);
  EndpointConfig scfg = config_for(Role::server, client_cert);
  Bytes client_source = {198, 18, 0, 1, 0x13, 0x88};
  Side client, server;
  Link c2s, s2c;
  std::size_t max_datagram = 0;
  // Sees every datagram before the link; returning false drops it.
  std::function<bool(const Bytes&, bool from_client)> tap;

  Harness() {
    auto c = Context::create(make_cert("client-ctx"));
    EXPECT_TRUE(c) << c.message();
    client_ctx = std::move(c.value());
    auto s = Context::create(make_cert("server-ctx"));
    EXPECT_TRUE(s) << s.message();
    server_ctx = std::move(s.value());
  }

  // The endpoints use the contexts' certificates; point the configs at those.
  void wire() {
    ccfg.peer_fingerprint = fp_of(server_ctx->certificate());
    scfg.peer_fingerprint = fp_of(client_ctx->certificate());
  }

  void start() {
    auto r = client_ctx->connect(ccfg, Clock::now());
    ASSERT_TRUE(r) << r.message();
    client.ep = std::move(r.value());
  }

  void out_of(Side& s, Link& link, bool from_client) {
    if (!s.ep) {
      return;
    }
    while (auto d = s.ep->poll_datagram()) {
      max_datagram = std::max(max_datagram, d->size());
      if (!tap || tap(*d, from_client)) {
        link.send(std::move(*d));
      }
    }
    while (auto e = s.ep->poll_event()) {
      s.events.push_back(std::move(*e));
    }
  }

  void step() {
    const auto now = Clock::now();
    out_of(client, c2s, true);
    out_of(server, s2c, false);
    for (auto& d : c2s.take()) {
      if (server.ep) {
        server.ep->handle_datagram(d, now);
      } else {
        Accepted a = server_ctx->accept(d, client_source, scfg, now);
        if (a.reply) {
          max_datagram = std::max(max_datagram, a.reply->size());
          s2c.send(std::move(*a.reply));
        }
        if (a.endpoint) {
          server.ep = std::move(a.endpoint);
        }
      }
    }
    for (auto& d : s2c.take()) {
      client.ep->handle_datagram(d, now);
    }
    out_of(client, c2s, true);
    out_of(server, s2c, false);
    for (Side* s : {&client, &server}) {
      if (s->ep) {
        if (auto dl = s->ep->next_deadline(); dl && *dl <= Clock::now()) {
          s->ep->handle_timeout(Clock::now());
        }
      }
    }
  }

  // Runs until both sides reported an event (or only `client` when there is no server yet).
  bool run(std::chrono::milliseconds limit = 5000ms) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      step();
      if (terminal(client.events) && terminal(server.events) && c2s.empty() && s2c.empty()) {
        return true;
      }
      if (c2s.empty() && s2c.empty()) {
        std::this_thread::sleep_for(1ms);
      }
    }
    return false;
  }
};

bool same(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

void expect_keys_match(const srtp::KeyMaterial& a, const srtp::KeyMaterial& b) {
  EXPECT_EQ(a.profile, b.profile);
  const auto pp = srtp::params(a.profile);
  EXPECT_EQ(a.outbound.key.size(), pp.master_key_len);
  EXPECT_EQ(a.outbound.salt.size(), pp.master_salt_len);
  EXPECT_TRUE(same(a.outbound.key.span(), b.inbound.key.span()));
  EXPECT_TRUE(same(a.outbound.salt.span(), b.inbound.salt.span()));
  EXPECT_TRUE(same(a.inbound.key.span(), b.outbound.key.span()));
  EXPECT_TRUE(same(a.inbound.salt.span(), b.outbound.salt.span()));
  EXPECT_FALSE(same(a.outbound.key.span(), a.inbound.key.span()));
}

// Protects RTP with one side's outbound key and unprotects with the other side's inbound key.
void expect_media_flows(const srtp::KeyMaterial& tx_keys, const srtp::KeyMaterial& rx_keys) {
  auto engine = crypto::make_engine(crypto::Backend::openssl);
  ASSERT_TRUE(engine) << engine.message();
  srtp::SessionConfig tc;
  tc.profile = tx_keys.profile;
  tc.direction = srtp::Direction::outbound;
  srtp::SessionConfig rc = tc;
  rc.profile = rx_keys.profile;
  rc.direction = srtp::Direction::inbound;
  auto tx = srtp::Session::create(*engine, tc, tx_keys.outbound);
  auto rx = srtp::Session::create(*engine, rc, rx_keys.inbound);
  ASSERT_TRUE(tx) << tx.message();
  ASSERT_TRUE(rx) << rx.message();
  for (uint16_t seq = 1; seq <= 5; ++seq) {
    std::vector<uint8_t> buf(256, 0);
    buf[0] = 0x80;
    buf[1] = 0;
    buf[2] = static_cast<uint8_t>(seq >> 8);
    buf[3] = static_cast<uint8_t>(seq);
    buf[11] = 0x42;
    for (std::size_t i = 12; i < 172; ++i) {
      buf[i] = static_cast<uint8_t>(i * seq);
    }
    const std::vector<uint8_t> plain(buf.begin(), buf.begin() + 172);
    srtp::PacketView v{buf.data(), 172, static_cast<uint32_t>(buf.size())};
    srtp::Status st = srtp::Status::count_;
    ASSERT_EQ((*tx)->protect_rtp({&v, 1}, {&st, 1}), 1u);
    ASSERT_GT(v.len, 172u);
    ASSERT_EQ((*rx)->unprotect_rtp({&v, 1}, {&st, 1}), 1u) << srtp::name(st);
    ASSERT_EQ(v.len, 172u);
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), buf.begin()));
  }
}

void expect_failed_without_keys(const Side& s, const char* reason_part) {
  ASSERT_FALSE(s.events.empty());
  const Event& e = s.events.front();
  EXPECT_EQ(e.kind, EventKind::failed) << e.reason;
  EXPECT_FALSE(e.keys.has_value());
  EXPECT_NE(e.reason.find(reason_part), std::string::npos) << "reason: " << e.reason;
  EXPECT_FALSE(s.ep->connected());
}

// --- Certificates and fingerprints -----------------------------------------------------------

TEST(Certificate, FingerprintsInEveryHashRoundTripThroughSdp) {
  Certificate c = make_cert();
  for (const char* alg : {"sha-1", "sha-256", "sha-384", "sha-512"}) {
    auto f = c.fingerprint(alg);
    ASSERT_TRUE(f) << f.message();
    const std::string sdp = f->to_sdp();
    EXPECT_EQ(sdp.rfind(alg, 0), 0u) << sdp;
    auto back = Fingerprint::parse(sdp);
    ASSERT_TRUE(back) << back.message();
    EXPECT_EQ(*back, *f);
    std::string lower = sdp;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    std::string upper_alg = std::string(alg);
    std::transform(upper_alg.begin(), upper_alg.end(), upper_alg.begin(), ::toupper);
    auto mixed = Fingerprint::parse(upper_alg + lower.substr(lower.find(' ')));
    ASSERT_TRUE(mixed) << mixed.message();
    EXPECT_EQ(*mixed, *f);
  }
  EXPECT_EQ(c.fingerprint("sha-256")->digest.size(), 32u);
  EXPECT_FALSE(c.fingerprint("md5"));
}

TEST(Certificate, ParseRejectsMalformedFingerprints) {
  EXPECT_FALSE(Fingerprint::parse(""));
  EXPECT_FALSE(Fingerprint::parse("sha-256"));
  EXPECT_FALSE(Fingerprint::parse("md5 AB:CD"));
  EXPECT_FALSE(Fingerprint::parse("sha-1 AB:CD"));  // wrong length
  EXPECT_FALSE(Fingerprint::parse("sha-1 ZZ:" + std::string(57, 'A')));
  EXPECT_FALSE(Fingerprint::parse("sha-1 ABCD" + std::string(36, 'A')));  // no colons
  std::string ok = "sha-1";
  for (int i = 0; i < 20; ++i) {
    ok += (i == 0 ? " " : ":");
    ok += "0A";
  }
  EXPECT_TRUE(Fingerprint::parse(ok)) << ok;
  EXPECT_FALSE(Fingerprint::parse(ok + ":"));
}

TEST(Certificate, GeneratedIsSelfSignedP256AndPemRoundTrips) {
  Certificate c = make_cert("pem-test");
  EVP_PKEY* k = c.key();
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(k), 256);
  EXPECT_EQ(X509_check_issued(c.x509(), c.x509()), X509_V_OK);
  const std::string cert_pem = c.cert_pem();
  const std::string key_pem = c.key_pem();
  ASSERT_NE(cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  auto back = Certificate::from_pem(cert_pem, key_pem);
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->fingerprint().value(), c.fingerprint().value());
  Certificate other = make_cert("other");
  auto mismatch = Certificate::from_pem(cert_pem, other.key_pem());
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.message().find("does not match"), std::string::npos);
  EXPECT_FALSE(Certificate::from_pem("junk", key_pem));
  // Two generated certificates differ.
  EXPECT_NE(other.fingerprint().value(), c.fingerprint().value());
}

// --- Both ends in one process ----------------------------------------------------------------

// Both ends are ours here, so there is one case per profile: which of them is "under test" in
// which role is no question when both are the same code. Each role against a foreign
// implementation (openssl s_server/s_client, gnutls-serv/gnutls-cli) is tests/handshake_peers.
class Profiles : public ::testing::TestWithParam<srtp::Profile> {};

TEST_P(Profiles, CompletesWithMatchingUsableKeys) {
  const srtp::Profile profile = GetParam();
  Harness h;
  h.wire();
  h.ccfg.profiles = {profile};
  h.scfg.profiles = {profile};
  h.start();
  ASSERT_TRUE(h.run());
  ASSERT_EQ(h.client.events.size(), 1u);
  ASSERT_EQ(h.server.events.size(), 1u);
  const Event& ce = h.client.events[0];
  const Event& se = h.server.events[0];
  ASSERT_EQ(ce.kind, EventKind::connected) << ce.reason;
  ASSERT_EQ(se.kind, EventKind::connected) << se.reason;
  ASSERT_TRUE(ce.keys && se.keys);
  EXPECT_EQ(ce.keys->profile, profile);
  EXPECT_TRUE(h.client.ep->connected());
  EXPECT_TRUE(h.server.ep->connected());
  expect_keys_match(*ce.keys, *se.keys);
  expect_media_flows(*ce.keys, *se.keys);
  expect_media_flows(*se.keys, *ce.keys);
  EXPECT_LE(h.max_datagram, h.ccfg.mtu);
  EXPECT_EQ(h.client_ctx->stats().pending, 0u);
  EXPECT_EQ(h.server_ctx->stats().pending, 0u);
  EXPECT_EQ(h.server_ctx->stats().hello_verify_sent, 1u);
  EXPECT_EQ(h.server_ctx->stats().endpoints_created, 1u);
  EXPECT_FALSE(h.client.ep->next_deadline());
  EXPECT_FALSE(h.server.ep->next_deadline());
}

INSTANTIATE_TEST_SUITE_P(AllDtlsProfiles, Profiles, ::testing::ValuesIn(kDtlsProfiles),
                         [](const auto& info) { return std::string(srtp::name(info.param)); });

TEST(Handshake, ServerPreferenceChoosesTheProfile) {
  Harness h;
  h.wire();
  h.ccfg.profiles = {srtp::Profile::aes_cm_128_hmac_sha1_80, srtp::Profile::aead_aes_128_gcm};
  h.scfg.profiles = {srtp::Profile::aead_aes_128_gcm, srtp::Profile::aes_cm_128_hmac_sha1_80};
  h.start();
  ASSERT_TRUE(h.run());
  ASSERT_EQ(h.client.events[0].kind, EventKind::connected) << h.client.events[0].reason;
  EXPECT_EQ(h.client.events[0].keys->profile, srtp::Profile::aead_aes_128_gcm);
  EXPECT_EQ(h.server.events[0].keys->profile, srtp::Profile::aead_aes_128_gcm);
}

TEST(Handshake, SmallMtuFragmentsFlights) {
  Harness h;
  h.wire();
  h.ccfg.mtu = 300;
  h.scfg.mtu = 300;
  h.start();
  ASSERT_TRUE(h.run());
  ASSERT_EQ(h.client.events[0].kind, EventKind::connected) << h.client.events[0].reason;
  ASSERT_EQ(h.server.events[0].kind, EventKind::connected) << h.server.events[0].reason;
  EXPECT_LE(h.max_datagram, 300u);
  EXPECT_GT(h.max_datagram, 200u);
}

TEST(Handshake, CompletesThroughALossyDuplicatingReorderingPipe) {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Harness h;
    h.wire();
    h.c2s = Link(seed, 0.2, 0.1, true);
    h.s2c = Link(seed * 7919, 0.2, 0.1, true);
    if (seed > 6) {  // fragmented flights lose fragments independently
      h.ccfg.mtu = 300;
      h.scfg.mtu = 300;
    }
    h.start();
    ASSERT_TRUE(h.run(6000ms));
    ASSERT_EQ(h.client.events[0].kind, EventKind::connected) << h.client.events[0].reason;
    ASSERT_EQ(h.server.events[0].kind, EventKind::connected) << h.server.events[0].reason;
    expect_keys_match(*h.client.events[0].keys, *h.server.events[0].keys);
    EXPECT_LE(h.max_datagram, h.ccfg.mtu);
    EXPECT_EQ(h.server_ctx->stats().pending, 0u);
  }
}

// RFC 6347 §4.2.4: the server's last flight (ChangeCipherSpec, Finished) is lost; the client
// retransmits its flight and the already-connected server must answer with its flight again.
TEST(Handshake, ConnectedServerResendsLostFinalFlightWhenClientRetransmits) {
  Harness h;
  h.wire();
  int dropped = 0;
  uint64_t server_out_when_connected = 0;
  h.tap = [&](const Bytes&, bool from_client) {
    if (!from_client && h.server.ep && h.server.ep->connected() && dropped < 100 &&
        server_out_when_connected == 0) {
      ++dropped;
      return false;
    }
    return true;
  };
  // Stop dropping once the server's first final flight is gone.
  h.start();
  const auto end = Clock::now() + 3000ms;
  while (Clock::now() < end && !(terminal(h.client.events) && terminal(h.server.events))) {
    h.step();
    if (dropped > 0 && server_out_when_connected == 0) {
      server_out_when_connected = h.server.ep->stats().datagrams_out;
    }
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_GT(dropped, 0);
  ASSERT_FALSE(h.server.events.empty());
  ASSERT_EQ(h.server.events[0].kind, EventKind::connected);
  ASSERT_FALSE(h.client.events.empty()) << "client never got the server's resent final flight";
  ASSERT_EQ(h.client.events[0].kind, EventKind::connected) << h.client.events[0].reason;
  EXPECT_GT(h.server.ep->stats().datagrams_out, server_out_when_connected);
  EXPECT_GT(h.client.ep->stats().retransmit_timeouts, 0u);
  expect_keys_match(*h.client.events[0].keys, *h.server.events[0].keys);
}

// --- Refusals: each fails with a reason and no keys -------------------------------------------

TEST(Refusal, ClientRejectsServerFingerprintMismatch) {
  Harness h;
  h.wire();
  h.ccfg.peer_fingerprint = fp_of(make_cert("impostor"));
  h.start();
  ASSERT_TRUE(h.run());
  expect_failed_without_keys(h.client, "does not match the signalled a=fingerprint");
  expect_failed_without_keys(h.server, "alert");
}

TEST(Refusal, ServerRejectsClientFingerprintMismatchInSha1) {
  Harness h;
  h.wire();
  h.scfg.peer_fingerprint = fp_of(make_cert("impostor"), "sha-1");
  h.start();
  ASSERT_TRUE(h.run());
  expect_failed_without_keys(h.server, "does not match the signalled a=fingerprint");
  expect_failed_without_keys(h.client, "alert");
}

TEST(Refusal, NoCommonSrtpProfile) {
  Harness h;
  h.wire();
  h.ccfg.profiles = {srtp::Profile::aead_aes_256_gcm, srtp::Profile::aead_aes_128_gcm};
  h.scfg.profiles = {srtp::Profile::aes_cm_128_hmac_sha1_80};
  h.start();
  ASSERT_TRUE(h.run());
  expect_failed_without_keys(h.client, "no common SRTP profile");
  expect_failed_without_keys(h.server, "no common SRTP profile");
  EXPECT_EQ(h.server_ctx->stats().pending, 0u);
}

TEST(Refusal, BadProfileMissingFingerprintAndWrongRoleAreConfigErrors) {
  Harness h;
  h.wire();
  h.ccfg.profiles = {srtp::Profile::aes_256_cm_hmac_sha1_80};
  auto r = h.client_ctx->connect(h.ccfg, Clock::now());
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("no DTLS-SRTP code point"), std::string::npos) << r.message();
  h.ccfg.profiles = {srtp::Profile::aes_cm_128_hmac_sha1_80};
  h.ccfg.peer_fingerprint = {};
  auto r2 = h.client_ctx->connect(h.ccfg, Clock::now());
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.message().find("fingerprint"), std::string::npos) << r2.message();
  h.wire();
  h.ccfg.role = Role::server;
  auto r3 = h.client_ctx->connect(h.ccfg, Clock::now());
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.message().find("role mismatch"), std::string::npos) << r3.message();
  EXPECT_EQ(h.client_ctx->stats().pending, 0u);
}

TEST(Refusal, TimesOutWhenThePeerNeverAnswers) {
  Harness h;
  h.wire();
  h.ccfg.handshake_timeout = 150ms;
  h.start();
  const auto end = Clock::now() + 2000ms;
  int sent = 0;
  while (Clock::now() < end && h.client.events.empty()) {
    while (h.client.ep->poll_datagram()) {
      ++sent;
    }
    auto dl = h.client.ep->next_deadline();
    ASSERT_TRUE(dl);
    if (*dl <= Clock::now()) {
      h.client.ep->handle_timeout(Clock::now());
    }
    while (auto e = h.client.ep->poll_event()) {
      h.client.events.push_back(std::move(*e));
    }
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(sent, 3);  // the ClientHello and its retransmissions
  expect_failed_without_keys(h.client, "handshake timed out");
  EXPECT_FALSE(h.client.ep->next_deadline());
  EXPECT_EQ(h.client_ctx->stats().pending, 0u);
}

// A raw OpenSSL DTLS client over the same datagram BIO: no certificate, or one we control.
struct RawClient {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  BIO* bio = nullptr;
  RawClient(const Certificate* cert, const char* srtp_profiles) {
    ctx = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
    if (cert != nullptr) {
      SSL_CTX_use_certificate(ctx, cert->x509());
      SSL_CTX_use_PrivateKey(ctx, cert->key());
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    ssl = SSL_new(ctx);
    if (srtp_profiles != nullptr) {
      SSL_set_tlsext_use_srtp(ssl, srtp_profiles);
    }
    bio = detail::new_datagram_bio(1200);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(ssl, 1200);
    SSL_set_connect_state(ssl);
  }
  ~RawClient() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  // Runs the handshake against our server context; returns SSL_do_handshake's last result.
  int run(Harness& h) {
    int r = 0;
    const auto end = Clock::now() + 3000ms;
    while (Clock::now() < end) {
      r = SSL_do_handshake(ssl);
      const int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
      ERR_clear_error();
      const auto now = Clock::now();
      while (auto d = detail::pop_outbound(bio)) {
        if (h.server.ep) {
          h.server.ep->handle_datagram(*d, now);
        } else {
          Accepted a = h.server_ctx->accept(*d, h.client_source, h.scfg, now);
          if (a.reply) {
            detail::push_inbound(bio, *a.reply);
          }
          if (a.endpoint) {
            h.server.ep = std::move(a.endpoint);
          }
        }
      }
      if (h.server.ep) {
        while (auto d = h.server.ep->poll_datagram()) {
          detail::push_inbound(bio, *d);
        }
        while (auto e = h.server.ep->poll_event()) {
          h.server.events.push_back(std::move(*e));
        }
      }
      const bool raw_done = r == 1 || err == SSL_ERROR_SSL;
      if (!h.server.events.empty() && raw_done) {
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
    return r;
  }
};

TEST(Refusal, ServerRejectsClientWithoutCertificate) {
  Harness h;
  h.wire();
  RawClient raw(nullptr, "SRTP_AES128_CM_SHA1_80");
  raw.run(h);
  ASSERT_TRUE(h.server.ep);
  expect_failed_without_keys(h.server, "peer sent no certificate");
  EXPECT_EQ(h.server_ctx->stats().pending, 0u);
}

TEST(Refusal, ServerRejectsClientThatOffersNoUseSrtp) {
  Harness h;
  h.wire();
  RawClient raw(&h.client_ctx->certificate(), nullptr);
  raw.run(h);
  ASSERT_TRUE(h.server.ep);
  expect_failed_without_keys(h.server, "no common SRTP profile");
}

// The key split of RFC 5764 §4.2 against an independent export by a raw OpenSSL client.
TEST(Handshake, ServerKeysFollowRfc5764SplitAgainstRawOpenSslClient) {
  for (srtp::Profile p : kDtlsProfiles) {
    SCOPED_TRACE(std::string(srtp::name(p)));
    Harness h;
    h.wire();
    h.scfg.profiles = {p};
    static constexpr const char* kNames[] = {"SRTP_AES128_CM_SHA1_80", "SRTP_AES128_CM_SHA1_32",
                                             "SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_256_GCM"};
    const auto idx =
        static_cast<std::size_t>(std::find(std::begin(kDtlsProfiles), std::end(kDtlsProfiles), p) -
                                 std::begin(kDtlsProfiles));
    RawClient raw(&h.client_ctx->certificate(), kNames[idx]);
    ASSERT_EQ(raw.run(h), 1);
    ASSERT_EQ(h.server.events.size(), 1u);
    ASSERT_EQ(h.server.events[0].kind, EventKind::connected) << h.server.events[0].reason;
    const auto pp = srtp::params(p);
    const std::size_t k = pp.master_key_len;
    const std::size_t s = pp.master_salt_len;
    std::vector<uint8_t> km(2 * (k + s));
    const char label[] = "EXTRACTOR-dtls_srtp";
    ASSERT_EQ(SSL_export_keying_material(raw.ssl, km.data(), km.size(), label, sizeof label - 1,
                                         nullptr, 0, 0),
              1);
    const std::span<const uint8_t> all(km);
    const srtp::KeyMaterial& ours = *h.server.events[0].keys;
    // We are the server: outbound is the server write key and salt, inbound the client's.
    EXPECT_TRUE(same(ours.inbound.key.span(), all.subspan(0, k)));
    EXPECT_TRUE(same(ours.outbound.key.span(), all.subspan(k, k)));
    EXPECT_TRUE(same(ours.inbound.salt.span(), all.subspan(2 * k, s)));
    EXPECT_TRUE(same(ours.outbound.salt.span(), all.subspan(2 * k + s, s)));
  }
}

// --- Hostile input ---------------------------------------------------------------------------

TEST(Hostile, GarbageTruncatedAndReplayedRecordsAreDroppedAndTheHandshakeCompletes) {
  Harness h;
  h.wire();
  std::mt19937 rng(42);
  std::vector<Bytes> seen[2];  // every real datagram by direction (0: from the client), to replay
  std::vector<std::pair<Bytes, bool>> inject;
  h.tap = [&](const Bytes& d, bool from_client) {
    auto& mine = seen[from_client ? 0 : 1];
    mine.push_back(d);
    // Garbage: random bytes, sometimes with a plausible record type up front.
    Bytes g(std::uniform_int_distribution<std::size_t>(0, 1400)(rng));
    for (auto& b : g) {
      b = static_cast<uint8_t>(rng());
    }
    if (!g.empty() && rng() % 2 == 0) {
      g[0] = 22;
    }
    inject.emplace_back(std::move(g), from_client);
    // Truncated copy of this datagram.
    if (d.size() > 1) {
      inject.emplace_back(Bytes(d.begin(), d.begin() + static_cast<long>(d.size() / 2)),
                          from_client);
    }
    // Replay of an earlier datagram of the same direction (any of them).
    inject.emplace_back(mine[rng() % mine.size()], from_client);
    return true;
  };
  h.start();
  const auto end = Clock::now() + 4000ms;
  while (Clock::now() < end && !(terminal(h.client.events) && terminal(h.server.events))) {
    h.step();
    for (auto& [d, from_client] : inject) {
      if (from_client) {
        h.c2s.send(std::move(d));
      } else {
        h.s2c.send(std::move(d));
      }
    }
    inject.clear();
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_FALSE(h.client.events.empty());
  ASSERT_FALSE(h.server.events.empty());
  ASSERT_EQ(h.client.events[0].kind, EventKind::connected) << h.client.events[0].reason;
  ASSERT_EQ(h.server.events[0].kind, EventKind::connected) << h.server.events[0].reason;
  expect_keys_match(*h.client.events[0].keys, *h.server.events[0].keys);
  EXPECT_GT(h.client.ep->stats().malformed_dropped, 0u);
  EXPECT_GT(h.server.ep->stats().malformed_dropped, 0u);

  // After the handshake: a storm of garbage and replays changes nothing.
  h.tap = nullptr;
  const auto now = Clock::now();
  for (int i = 0; i < 2000; ++i) {
    Bytes g(rng() % 1500);
    for (auto& b : g) {
      b = static_cast<uint8_t>(rng());
    }
    h.client.ep->handle_datagram(g, now);
    h.server.ep->handle_datagram(g, now);
    const Bytes& to_client = seen[1][rng() % seen[1].size()];
    const Bytes& to_server = seen[0][rng() % seen[0].size()];
    h.client.ep->handle_datagram(to_client, now);
    h.server.ep->handle_datagram(to_server, now);
    h.client.ep->handle_datagram(std::span(to_client).first(to_client.size() / 3), now);
  }
  EXPECT_TRUE(h.client.ep->connected());
  EXPECT_TRUE(h.server.ep->connected());
  EXPECT_FALSE(h.client.ep->poll_event());
  EXPECT_FALSE(h.server.ep->poll_event());
  EXPECT_EQ(h.client.ep->stats().queue_dropped, 0u);
  EXPECT_EQ(h.server.ep->stats().queue_dropped, 0u);
  EXPECT_EQ(h.server_ctx->stats().pending, 0u);
}

// Someone who spoofs the peer's address sends each endpoint, as soon as it exists, well-formed
// empty records carrying the record numbers the peer is about to use (epochs 0 and 1, sequence
// 0..63, record version DTLS 1.0). OpenSSL discards them; they must not keep the peer's real
// records out. (A replay window kept in front of OpenSSL, from numbers no one had checked,
// dropped the real HelloVerifyRequest and every retransmission of it until the timeout.)
TEST(Hostile, ForgedRecordNumbersDoNotBlockThePeersRecords) {
  Harness h;
  h.wire();
  const auto forged = [](uint16_t epoch) {
    Bytes d;
    for (uint16_t seq = 0; seq < 64; ++seq) {
      const uint8_t record[13] = {
          22, 0xfe, 0xff, static_cast<uint8_t>(epoch >> 8), static_cast<uint8_t>(epoch), 0,
          0,  0,    0,    static_cast<uint8_t>(seq >> 8),   static_cast<uint8_t>(seq),   0,
          0};
      d.insert(d.end(), std::begin(record), std::end(record));
    }
    return d;
  };
  h.start();
  bool server_hit = false;
  for (uint16_t epoch : {0, 1}) {
    h.client.ep->handle_datagram(forged(epoch), Clock::now());
  }
  const auto end = Clock::now() + 10000ms;
  while (Clock::now() < end && !(terminal(h.client.events) && terminal(h.server.events))) {
    h.step();
    if (h.server.ep && !server_hit) {
      for (uint16_t epoch : {0, 1}) {
        h.server.ep->handle_datagram(forged(epoch), Clock::now());
      }
      server_hit = true;
    }
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(server_hit);
  ASSERT_FALSE(h.client.events.empty());
  ASSERT_FALSE(h.server.events.empty());
  ASSERT_EQ(h.client.events[0].kind, EventKind::connected) << h.client.events[0].reason;
  ASSERT_EQ(h.server.events[0].kind, EventKind::connected) << h.server.events[0].reason;
  expect_keys_match(*h.client.events[0].keys, *h.server.events[0].keys);
}

TEST(Hostile, ClientHelloFloodWithoutCookiesKeepsNoState) {
  Harness h;
  h.wire();
  // The genuine client waits through the flood (seconds under sanitizers).
  h.ccfg.handshake_timeout = 60000ms;
  h.start();
  // A genuine first ClientHello (no cookie), and the second one carrying the cookie.
  auto first = h.client.ep->poll_datagram();
  ASSERT_TRUE(first);
  Accepted hv = h.server_ctx->accept(*first, h.client_source, h.scfg, Clock::now());
  ASSERT_TRUE(hv.reply);
  ASSERT_FALSE(hv.endpoint);
  h.client.ep->handle_datagram(*hv.reply, Clock::now());
  auto with_cookie = h.client.ep->poll_datagram();
  ASSERT_TRUE(with_cookie);

  std::mt19937_64 rng(7);
  constexpr int kFlood = 100000;
  const auto start = Clock::now();
  int replies = 0;
  for (int i = 0; i < kFlood; ++i) {
    const uint64_t r = rng();
    Bytes src(6);
    std::memcpy(src.data(), &r, src.size());
    // Mostly cookie-less hellos; every tenth replays the real cookie from a forged source.
    const Bytes& d = (i % 10 == 9) ? *with_cookie : *first;
    Accepted a = h.server_ctx->accept(d, src, h.scfg, start);
    ASSERT_FALSE(a.endpoint) << "a ClientHello without a valid cookie created state";
    replies += a.reply ? 1 : 0;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  RecordProperty("flood_seconds", std::to_string(secs));
  const ContextStats st = h.server_ctx->stats();
  EXPECT_EQ(replies, kFlood);
  EXPECT_EQ(st.pending, 0u);
  EXPECT_EQ(st.endpoints_created, 0u);
  EXPECT_EQ(st.bad_cookie, static_cast<uint64_t>(kFlood / 10));
  EXPECT_EQ(st.hello_verify_sent, static_cast<uint64_t>(kFlood) + 1);

  // Non-hello garbage from nowhere is refused without a reply.
  Accepted g = h.server_ctx->accept(Bytes(40, 0x17), h.client_source, h.scfg, start);
  EXPECT_FALSE(g.reply);
  EXPECT_FALSE(g.endpoint);
  EXPECT_FALSE(g.dropped.empty());

  // The real client still gets in, with its genuine cookie from its own source.
  Accepted ok = h.server_ctx->accept(*with_cookie, h.client_source, h.scfg, Clock::now());
  ASSERT_TRUE(ok.endpoint) << ok.dropped;
  h.server.ep = std::move(ok.endpoint);
  ASSERT_TRUE(h.run());
  ASSERT_EQ(h.client.events[0].kind, EventKind::connected) << h.client.events[0].reason;
  ASSERT_EQ(h.server.events[0].kind, EventKind::connected) << h.server.events[0].reason;
  EXPECT_EQ(h.server_ctx->stats().pending, 0u);
}

TEST(Hostile, CookieFromTheRotatedOutSecretIsRefused) {
  Harness h;
  h.wire();
  h.start();
  auto first = h.client.ep->poll_datagram();
  ASSERT_TRUE(first);
  const auto t0 = Clock::now();
  Accepted hv = h.server_ctx->accept(*first, h.client_source, h.scfg, t0);
  ASSERT_TRUE(hv.reply);
  h.client.ep->handle_datagram(*hv.reply, t0);
  auto with_cookie = h.client.ep->poll_datagram();
  ASSERT_TRUE(with_cookie);
  // Two lifetimes later neither the current nor the previous secret made this cookie.
  Accepted late = h.server_ctx->accept(*with_cookie, h.client_source, h.scfg, t0 + 61s);
  EXPECT_FALSE(late.endpoint);
  EXPECT_TRUE(late.reply);  // a fresh HelloVerifyRequest instead
  EXPECT_EQ(h.server_ctx->stats().bad_cookie, 1u);
}

TEST(Hostile, CookieFromThePreviousSecretIsStillAccepted) {
  Harness h;
  h.wire();
  h.start();
  auto first = h.client.ep->poll_datagram();
  const auto t0 = Clock::now();
  Accepted hv = h.server_ctx->accept(*first, h.client_source, h.scfg, t0);
  ASSERT_TRUE(hv.reply);
  h.client.ep->handle_datagram(*hv.reply, t0);
  auto with_cookie = h.client.ep->poll_datagram();
  ASSERT_TRUE(with_cookie);
  Accepted a = h.server_ctx->accept(*with_cookie, h.client_source, h.scfg, t0 + 31s);
  EXPECT_TRUE(a.endpoint) << a.dropped;
}

TEST(Limits, PendingAndPerSourceRateCaps) {
  ContextConfig cc;
  cc.max_pending_handshakes = 2;
  cc.max_handshakes_per_source_per_second = 1;
  auto server_ctx = Context::create(make_cert("server"), cc);
  ASSERT_TRUE(server_ctx) << server_ctx.message();
  auto client_ctx = Context::create(make_cert("client"));
  ASSERT_TRUE(client_ctx);
  EndpointConfig ccfg = config_for(Role::client, (*server_ctx)->certificate());
  EndpointConfig scfg = config_for(Role::server, (*client_ctx)->certificate());
  const auto now = Clock::now();
  // Runs the cookie exchange for a new client from `src`; returns the server's answer.
  std::vector<std::unique_ptr<Endpoint>> keep;
  auto knock = [&](Bytes src) {
    auto c = (*client_ctx)->connect(ccfg, now);
    EXPECT_TRUE(c);
    auto first = (*c)->poll_datagram();
    Accepted hv = (*server_ctx)->accept(*first, src, scfg, now);
    EXPECT_TRUE(hv.reply);
    (*c)->handle_datagram(*hv.reply, now);
    auto second = (*c)->poll_datagram();
    keep.push_back(std::move(c.value()));
    return (*server_ctx)->accept(*second, src, scfg, now);
  };
  Accepted a1 = knock({1});
  ASSERT_TRUE(a1.endpoint) << a1.dropped;
  Accepted a2 = knock({1});  // same source, same second
  EXPECT_FALSE(a2.endpoint);
  EXPECT_NE(a2.dropped.find("per second"), std::string::npos) << a2.dropped;
  Accepted a3 = knock({2});
  ASSERT_TRUE(a3.endpoint) << a3.dropped;
  Accepted a4 = knock({3});  // two pending already
  EXPECT_FALSE(a4.endpoint);
  EXPECT_NE(a4.dropped.find("pending"), std::string::npos) << a4.dropped;
  auto st = (*server_ctx)->stats();
  EXPECT_EQ(st.pending, 2u);
  EXPECT_EQ(st.rate_limited, 1u);
  EXPECT_EQ(st.pending_limit, 1u);
  a1.endpoint.reset();  // a pending endpoint that goes away frees its slot
  EXPECT_EQ((*server_ctx)->stats().pending, 1u);
  Accepted a5 = knock({4});
  EXPECT_TRUE(a5.endpoint) << a5.dropped;
}

TEST(Close, CloseNotifyInBothDirections) {
  Harness h;
  h.wire();
  h.start();
  ASSERT_TRUE(h.run());
  ASSERT_EQ(h.client.events[0].kind, EventKind::connected);
  ASSERT_EQ(h.server.events[0].kind, EventKind::connected);
  h.client.ep->close(Clock::now());
  for (int i = 0; i < 5; ++i) {
    h.step();
  }
  ASSERT_EQ(h.client.events.size(), 2u);
  EXPECT_EQ(h.client.events[1].kind, EventKind::closed);
  ASSERT_EQ(h.server.events.size(), 2u);
  EXPECT_EQ(h.server.events[1].kind, EventKind::closed);
  EXPECT_NE(h.server.events[1].reason.find("close_notify"), std::string::npos);
  EXPECT_FALSE(h.server.events[1].keys);
  EXPECT_FALSE(h.client.ep->connected());
  EXPECT_FALSE(h.server.ep->connected());
  // The server answered with its own close_notify, which reached the closed client.
  EXPECT_GT(h.client.ep->stats().after_end_dropped, 0u);
}

}  // namespace
}  // namespace srtpgate::hs
