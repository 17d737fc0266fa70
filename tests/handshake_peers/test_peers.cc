// DTLS-SRTP against independent implementations over UDP on 127.0.0.1: openssl s_server and
// s_client (all four profiles), gnutls-serv and gnutls-cli (the two AES-CM profiles; GnuTLS 3.7
// has no GCM profiles). Each peer's keying material must equal ours re-assembled in the
// RFC 5764 §4.2 order: client key, server key, client salt, server salt.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "peer_process.h"
#include "srtpgate/hs/certificate.h"
#include "srtpgate/hs/context.h"
#include "srtpgate/hs/endpoint.h"
#include "srtpgate/master_key.h"
#include "srtpgate/profile.h"
#include "udp_driver.h"

namespace srtpgate::hs::test {
namespace {

using namespace std::chrono_literals;
using srtp::Profile;

// A peer process is killed by `timeout` after this long whatever happens.
constexpr int kPeerTimeoutSeconds = 20;
constexpr auto kHandshakeLimit = 15s;

struct ProfileCase {
  Profile profile;
  const char* openssl_name;  // RFC 5764 / RFC 7714 names as openssl -use_srtp spells them
  const char* gnutls_name;   // nullptr: GnuTLS 3.7 has no such profile
  int keymat_len;            // 2 * (key + salt)
};

constexpr ProfileCase kProfiles[] = {
    {Profile::aes_cm_128_hmac_sha1_80, "SRTP_AES128_CM_SHA1_80", "SRTP_AES128_CM_HMAC_SHA1_80", 60},
    {Profile::aes_cm_128_hmac_sha1_32, "SRTP_AES128_CM_SHA1_32", "SRTP_AES128_CM_HMAC_SHA1_32", 60},
    {Profile::aead_aes_128_gcm, "SRTP_AEAD_AES_128_GCM", nullptr, 56},
    {Profile::aead_aes_256_gcm, "SRTP_AEAD_AES_256_GCM", nullptr, 88},
};

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string s;
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// RFC 5764 §4.2: the exporter output is client_write_SRTP_master_key,
// server_write_SRTP_master_key, client_write_SRTP_master_salt, server_write_SRTP_master_salt.
// Our KeyMaterial is by direction.
std::string exporter_order_hex(const srtp::KeyMaterial& keys, Role our_role) {
  const srtp::MasterKey& client = our_role == Role::client ? keys.outbound : keys.inbound;
  const srtp::MasterKey& server = our_role == Role::client ? keys.inbound : keys.outbound;
  return to_hex(client.key.span()) + to_hex(server.key.span()) + to_hex(client.salt.span()) +
         to_hex(server.salt.span());
}

// A peer's certificate made by `openssl req` (not by srtpgate), and its fingerprint as
// `openssl x509 -fingerprint -sha256` prints it, in the a=fingerprint form.
struct PeerCert {
  std::string cert_path;
  std::string key_path;
  Fingerprint fingerprint;
};

Result<PeerCert> make_peer_cert(const TempDir& dir, const std::string& name) {
  PeerCert pc{dir.file(name + ".crt"), dir.file(name + ".key"), {}};
  auto made = run_capture(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
      pc.key_path + " -out " + pc.cert_path + " -subj /CN=" + name + " -days 2 2>/dev/null");
  if (!made) {
    return made.error();
  }
  auto printed = run_capture("openssl x509 -in " + pc.cert_path + " -noout -fingerprint -sha256");
  if (!printed) {
    return printed.error();
  }
  // "sha256 Fingerprint=AB:CD:..." (the case of the prefix varies between versions)
  const std::string& line = printed.value();
  const size_t eq = line.find('=');
  if (eq == std::string::npos) {
    return make_error("unexpected openssl x509 output: " + line);
  }
  std::string hex = line.substr(eq + 1);
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) {
    hex.pop_back();
  }
  auto fp = Fingerprint::parse("sha-256 " + hex);
  if (!fp) {
    return fp.error();
  }
  pc.fingerprint = fp.value();
  return pc;
}

std::unique_ptr<Context> make_context() {
  auto cert = Certificate::generate("srtpgate-peer-test");
  if (!cert) {
    ADD_FAILURE() << "Certificate::generate: " << cert.message();
    return nullptr;
  }
  auto ctx = Context::create(std::move(cert.value()));
  if (!ctx) {
    ADD_FAILURE() << "Context::create: " << ctx.message();
    return nullptr;
  }
  return std::move(ctx.value());
}

std::string keymat_args_openssl(int len) {
  return " -keymatexport EXTRACTOR-dtls_srtp -keymatexportlen " + std::to_string(len);
}

std::string timeout_prefix() {
  return "timeout --foreground " + std::to_string(kPeerTimeoutSeconds) + " ";
}

void expect_connected(const UdpDriver& driver, Profile profile) {
  ASSERT_TRUE(driver.outcome().has_value()) << "no connected/failed event within the limit";
  ASSERT_EQ(driver.outcome()->kind, EventKind::connected)
      << "handshake failed: " << driver.outcome()->reason;
  ASSERT_TRUE(driver.outcome()->keys.has_value()) << "connected event without keys";
  EXPECT_EQ(driver.outcome()->keys->profile, profile)
      << "negotiated " << srtp::name(driver.outcome()->keys->profile);
  EXPECT_TRUE(driver.endpoint() != nullptr && driver.endpoint()->connected());
}

void expect_failed(const UdpDriver& driver) {
  ASSERT_TRUE(driver.outcome().has_value()) << "no connected/failed event within the limit";
  EXPECT_EQ(driver.outcome()->kind, EventKind::failed) << "the handshake must not succeed";
  EXPECT_FALSE(driver.outcome()->keys.has_value()) << "a failed handshake installed keys";
  EXPECT_FALSE(driver.outcome()->reason.empty()) << "a failure must say why";
  for (const Event& e : driver.events()) {
    EXPECT_NE(e.kind, EventKind::connected);
  }
  std::printf("    failure reason: %s\n", driver.outcome()->reason.c_str());
}

// gtest prints parameters; without this it dumps the struct's bytes.
// NOLINTNEXTLINE(readability-identifier-naming): the name gtest looks for.
void PrintTo(const ProfileCase& pc, std::ostream* os) { *os << srtp::name(pc.profile); }

// One line per comparison, so a log shows what was checked (the length, never the key bytes).
void report_match(const char* peer, const ProfileCase& pc, Role our_role,
                  const std::string& theirs) {
  if (!::testing::Test::HasFailure()) {
    std::printf("    keying material equal: %s, %s, our %s role, %zu bytes\n", peer,
                std::string(srtp::name(pc.profile)).c_str(),
                our_role == Role::client ? "client" : "server", theirs.size() / 2);
  }
}

class PeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Missing peers fail the test: CI installs openssl and gnutls-bin, so a skip would hide a
    // broken image.
    ASSERT_TRUE(have_program("openssl")) << "openssl not on PATH (apt-get install openssl)";
    ASSERT_TRUE(have_program("gnutls-serv") && have_program("gnutls-cli"))
        << "gnutls-serv/gnutls-cli not on PATH (apt-get install gnutls-bin)";
    ASSERT_TRUE(have_program("timeout")) << "timeout (coreutils) not on PATH";
    auto dir = TempDir::create();
    ASSERT_TRUE(dir) << dir.message();
    dir_.emplace(std::move(dir.value()));
    auto pc = make_peer_cert(*dir_, "peer");
    ASSERT_TRUE(pc) << pc.message();
    peer_ = pc.value();
    context_ = make_context();
    ASSERT_NE(context_, nullptr);
  }

  EndpointConfig config(Role role) const {
    EndpointConfig c;
    c.role = role;
    c.peer_fingerprint = peer_.fingerprint;
    return c;
  }

  std::string peer_files_openssl() const {
    return " -cert " + peer_.cert_path + " -key " + peer_.key_path;
  }
  std::string peer_files_gnutls() const {
    return " --x509certfile " + peer_.cert_path + " --x509keyfile " + peer_.key_path;
  }

  // Our client against `server_command` (which must listen on `port` and print `ready`).
  std::unique_ptr<UdpDriver> run_our_client(const std::string& server_command, uint16_t port,
                                            const std::string& ready, const EndpointConfig& cfg,
                                            const std::string& wait_in_output,
                                            std::unique_ptr<PeerProcess>& peer) {
    auto p = PeerProcess::start(server_command, dir_->file("peer.out"));
    if (!p) {
      ADD_FAILURE() << p.message();
      return nullptr;
    }
    peer = std::move(p.value());
    if (!peer->wait_for_output(ready, 5s)) {
      ADD_FAILURE() << "peer did not start: " << server_command << "\n" << peer->output();
      return nullptr;
    }
    auto d = UdpDriver::bind_loopback();
    if (!d) {
      ADD_FAILURE() << d.message();
      return nullptr;
    }
    auto driver = std::move(d.value());
    auto started = driver->start_client(*context_, cfg, port);
    if (!started) {
      ADD_FAILURE() << "connect: " << started.message();
      return nullptr;
    }
    PeerProcess* pp = peer.get();
    UdpDriver* dp = driver.get();
    dp->run_until(
        [&] {
          if (!dp->outcome()) {
            return false;
          }
          // Keep answering the peer until it has printed what we compare (or gave up).
          return dp->outcome()->kind != EventKind::connected || wait_in_output.empty() ||
                 pp->output_contains(wait_in_output) || pp->exited();
        },
        kHandshakeLimit);
    return driver;
  }

  // Our server; `client_command` gets the port to connect to appended by the caller's format.
  std::unique_ptr<UdpDriver> run_our_server(const std::string& client_command_head,
                                            const std::string& client_command_tail,
                                            const EndpointConfig& cfg,
                                            const std::string& wait_in_output,
                                            std::unique_ptr<PeerProcess>& peer) {
    auto d = UdpDriver::bind_loopback();
    if (!d) {
      ADD_FAILURE() << d.message();
      return nullptr;
    }
    auto driver = std::move(d.value());
    driver->start_server(*context_, cfg);
    const std::string command =
        client_command_head + std::to_string(driver->port()) + client_command_tail;
    auto p = PeerProcess::start(command, dir_->file("peer.out"));
    if (!p) {
      ADD_FAILURE() << p.message();
      return nullptr;
    }
    peer = std::move(p.value());
    PeerProcess* pp = peer.get();
    UdpDriver* dp = driver.get();
    dp->run_until(
        [&] {
          if (!dp->outcome()) {
            return false;
          }
          return dp->outcome()->kind != EventKind::connected || wait_in_output.empty() ||
                 pp->output_contains(wait_in_output) || pp->exited();
        },
        kHandshakeLimit);
    return driver;
  }

  std::optional<TempDir> dir_;
  PeerCert peer_;
  std::unique_ptr<Context> context_;
};

// --- openssl ----------------------------------------------------------------------------------

class OpensslPeer : public PeerTest, public ::testing::WithParamInterface<ProfileCase> {};

TEST_P(OpensslPeer, OurClientAgainstSServer) {
  const ProfileCase pc = GetParam();
  auto port = free_udp_port();
  ASSERT_TRUE(port) << port.message();
  // -Verify 1 makes s_server demand our certificate (self-signed is accepted with a warning).
  const std::string cmd =
      "sleep 12 | " + timeout_prefix() +
      "openssl s_server -dtls1_2 -accept 127.0.0.1:" + std::to_string(port.value()) +
      peer_files_openssl() + " -Verify 1 -use_srtp " + pc.openssl_name +
      keymat_args_openssl(pc.keymat_len);
  std::unique_ptr<PeerProcess> peer;
  auto driver =
      run_our_client(cmd, port.value(), "ACCEPT", config(Role::client), "Keying material: ", peer);
  ASSERT_NE(driver, nullptr);
  expect_connected(*driver, pc.profile);
  if (HasFatalFailure()) {
    std::printf("peer output:\n%s\n", peer->output().c_str());
    return;
  }
  const std::string out = peer->output();
  EXPECT_NE(out.find(std::string("SRTP Extension negotiated, profile=") + pc.openssl_name),
            std::string::npos)
      << out;
  auto theirs = printed_keying_material(out);
  ASSERT_TRUE(theirs.has_value()) << "s_server printed no keying material:\n" << out;
  EXPECT_EQ(theirs->size(), static_cast<size_t>(pc.keymat_len) * 2);
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::client), *theirs);
  report_match("openssl s_server", pc, Role::client, *theirs);
}

TEST_P(OpensslPeer, OurServerAgainstSClient) {
  const ProfileCase pc = GetParam();
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_server(
      "sleep 6 | " + timeout_prefix() + "openssl s_client -dtls1_2 -connect 127.0.0.1:",
      peer_files_openssl() + " -use_srtp " + pc.openssl_name + keymat_args_openssl(pc.keymat_len),
      config(Role::server), "Keying material: ", peer);
  ASSERT_NE(driver, nullptr);
  EXPECT_GE(driver->hello_verify_sent(), 1) << "the server role must answer with a cookie first";
  expect_connected(*driver, pc.profile);
  if (HasFatalFailure()) {
    std::printf("peer output:\n%s\n", peer->output().c_str());
    return;
  }
  const std::string out = peer->output();
  EXPECT_NE(out.find(std::string("SRTP Extension negotiated, profile=") + pc.openssl_name),
            std::string::npos)
      << out;
  auto theirs = printed_keying_material(out);
  ASSERT_TRUE(theirs.has_value()) << "s_client printed no keying material:\n" << out;
  EXPECT_EQ(theirs->size(), static_cast<size_t>(pc.keymat_len) * 2);
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::server), *theirs);
  report_match("openssl s_client", pc, Role::server, *theirs);
}

std::string profile_test_name(const ::testing::TestParamInfo<ProfileCase>& info) {
  return std::string(srtp::name(info.param.profile));
}

INSTANTIATE_TEST_SUITE_P(AllProfiles, OpensslPeer, ::testing::ValuesIn(kProfiles),
                         profile_test_name);

// --- gnutls -----------------------------------------------------------------------------------

// gnutls-serv prints no keying material, so we take its TLS 1.2 master secret from the key log
// it writes (SSLKEYLOGFILE), the randoms and cipher suite from the wire, and compute the RFC 5705
// exporter with OpenSSL's TLS1-PRF: PRF(master_secret, label, client_random + server_random).
struct ServerHello {
  std::array<uint8_t, 32> random{};
  std::array<uint8_t, 2> cipher{};
};

std::optional<ServerHello> find_server_hello(const std::vector<std::vector<uint8_t>>& datagrams) {
  for (const auto& d : datagrams) {
    size_t at = 0;
    while (at + 13 <= d.size()) {
      const uint8_t type = d[at];
      const size_t len = (size_t{d[at + 11]} << 8) | d[at + 12];
      const size_t body = at + 13;
      if (body + len > d.size()) {
        break;
      }
      // Epoch 0 handshake record whose fragment starts a ServerHello (type 2) at offset 0.
      if (type == 22 && d[at + 3] == 0 && d[at + 4] == 0 && len >= 12 + 2 + 32 + 1 &&
          d[body] == 2 && d[body + 6] == 0 && d[body + 7] == 0 && d[body + 8] == 0) {
        const size_t hello = body + 12;
        ServerHello sh;
        std::copy_n(d.begin() + static_cast<long>(hello + 2), 32, sh.random.begin());
        const size_t sid_len = d[hello + 34];
        const size_t cipher_at = hello + 35 + sid_len;
        if (cipher_at + 2 <= body + len) {
          sh.cipher = {d[cipher_at], d[cipher_at + 1]};
          return sh;
        }
      }
      at = body + len;
    }
  }
  return std::nullopt;
}

Result<std::string> exporter_from_keylog(const std::string& keylog, const ServerHello& sh,
                                         size_t length) {
  std::istringstream lines(keylog);
  std::string tag;
  std::string client_random_hex;
  std::string master_hex;
  while (lines >> tag) {
    if (tag == "CLIENT_RANDOM") {
      lines >> client_random_hex >> master_hex;
    } else {
      std::string rest;
      std::getline(lines, rest);
    }
  }
  if (master_hex.empty()) {
    return make_error("no CLIENT_RANDOM line in the key log");
  }
  const std::vector<uint8_t> client_random = from_hex(client_random_hex);
  const std::vector<uint8_t> master = from_hex(master_hex);

  // The PRF hash is the cipher suite's (SHA-384 for the *_SHA384 suites, else SHA-256).
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(DTLS_method()), SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(ctx ? SSL_new(ctx.get()) : nullptr, SSL_free);
  const SSL_CIPHER* cipher = ssl ? SSL_CIPHER_find(ssl.get(), sh.cipher.data()) : nullptr;
  const EVP_MD* md = cipher != nullptr ? SSL_CIPHER_get_handshake_digest(cipher) : nullptr;
  if (md == nullptr) {
    return make_error("unknown cipher suite in ServerHello");
  }
  std::string digest_name = EVP_MD_get0_name(md);

  std::string label = "EXTRACTOR-dtls_srtp";
  std::vector<uint8_t> seed(label.begin(), label.end());
  seed.insert(seed.end(), client_random.begin(), client_random.end());
  seed.insert(seed.end(), sh.random.begin(), sh.random.end());

  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "TLS1-PRF", nullptr),
                                                        EVP_KDF_free);
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> kctx(
      kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr, EVP_KDF_CTX_free);
  if (!kctx) {
    return make_error("TLS1-PRF unavailable");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, const_cast<uint8_t*>(master.data()),
                                        master.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed.data(), seed.size()),
      OSSL_PARAM_construct_end(),
  };
  std::vector<uint8_t> out(length);
  if (EVP_KDF_derive(kctx.get(), out.data(), out.size(), params) != 1) {
    return make_error("TLS1-PRF derive failed");
  }
  return to_hex(out);
}

std::vector<ProfileCase> gnutls_profiles() {
  std::vector<ProfileCase> v;
  for (const ProfileCase& pc : kProfiles) {
    if (pc.gnutls_name != nullptr) {
      v.push_back(pc);
    }
  }
  return v;
}

class GnutlsPeer : public PeerTest, public ::testing::WithParamInterface<ProfileCase> {};

TEST_P(GnutlsPeer, OurClientAgainstGnutlsServ) {
  const ProfileCase pc = GetParam();
  auto port = free_udp_port();
  ASSERT_TRUE(port) << port.message();
  const std::string keylog = dir_->file("gnutls-serv.keylog");
  const std::string cmd =
      "sleep 12 | SSLKEYLOGFILE=" + keylog + " " + timeout_prefix() + "gnutls-serv --udp --port " +
      std::to_string(port.value()) + peer_files_gnutls() + " --srtp-profiles=" + pc.gnutls_name +
      " --keymatexport=EXTRACTOR-dtls_srtp --keymatexportsize=" + std::to_string(pc.keymat_len);
  std::unique_ptr<PeerProcess> peer;
  auto driver =
      run_our_client(cmd, port.value(), "listening on IPv4", config(Role::client), "", peer);
  ASSERT_NE(driver, nullptr);
  expect_connected(*driver, pc.profile);
  if (HasFatalFailure()) {
    std::printf("peer output:\n%s\n", peer->output().c_str());
    return;
  }
  // The key log line is written during the handshake; give the file a moment to appear.
  for (int i = 0; i < 100 && read_file(keylog).find("CLIENT_RANDOM") == std::string::npos; ++i) {
    driver->run_until([] { return false; }, 20ms);
  }
  auto sh = find_server_hello(driver->received());
  ASSERT_TRUE(sh.has_value()) << "no ServerHello among the peer's datagrams";
  auto theirs = exporter_from_keylog(read_file(keylog), *sh, static_cast<size_t>(pc.keymat_len));
  ASSERT_TRUE(theirs) << theirs.message();
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::client), theirs.value());
  report_match("gnutls-serv (key log)", pc, Role::client, theirs.value());
}

TEST_P(GnutlsPeer, OurServerAgainstGnutlsCli) {
  const ProfileCase pc = GetParam();
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_server(
      "sleep 6 | " + timeout_prefix() + "gnutls-cli --udp 127.0.0.1 --insecure --port ",
      peer_files_gnutls() + " --srtp-profiles=" + pc.gnutls_name +
          " --keymatexport=EXTRACTOR-dtls_srtp --keymatexportsize=" + std::to_string(pc.keymat_len),
      config(Role::server), "Key material: ", peer);
  ASSERT_NE(driver, nullptr);
  expect_connected(*driver, pc.profile);
  if (HasFatalFailure()) {
    std::printf("peer output:\n%s\n", peer->output().c_str());
    return;
  }
  const std::string out = peer->output();
  EXPECT_NE(out.find(std::string("SRTP profile: ") + pc.gnutls_name), std::string::npos) << out;
  auto theirs = printed_keying_material(out);
  ASSERT_TRUE(theirs.has_value()) << "gnutls-cli printed no key material:\n" << out;
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::server), *theirs);
  report_match("gnutls-cli", pc, Role::server, *theirs);
}

INSTANTIATE_TEST_SUITE_P(CmProfiles, GnutlsPeer, ::testing::ValuesIn(gnutls_profiles()),
                         profile_test_name);

// --- fingerprints and failures ----------------------------------------------------------------

TEST_F(PeerTest, FingerprintOfAgreesWithOpensslX509) {
  // The peer's certificate (made by openssl req): fingerprint_of vs openssl x509.
  auto key_pem = read_file(peer_.key_path);
  auto loaded = Certificate::from_pem(read_file(peer_.cert_path), key_pem);
  ASSERT_TRUE(loaded) << loaded.message();
  auto ours = fingerprint_of(loaded->x509(), "sha-256");
  ASSERT_TRUE(ours) << ours.message();
  EXPECT_EQ(ours.value(), peer_.fingerprint);
  EXPECT_EQ(ours->to_sdp().substr(0, 8), "sha-256 ");

  // Our generated certificate: what openssl x509 reads from its PEM.
  const std::string path = dir_->file("ours.crt");
  ASSERT_TRUE(write_file(path, context_->certificate().cert_pem()));
  auto printed = run_capture("openssl x509 -in " + path + " -noout -fingerprint -sha256");
  ASSERT_TRUE(printed) << printed.message();
  auto mine = context_->certificate().fingerprint("sha-256");
  ASSERT_TRUE(mine) << mine.message();
  const std::string sdp = mine->to_sdp();
  EXPECT_NE(printed->find(sdp.substr(sdp.find(' ') + 1)), std::string::npos)
      << "openssl: " << printed.value() << "ours: " << sdp;
}

// The ClientHello goes to a port nobody listens on yet; the retransmission timer, driven by the
// real clock through next_deadline/handle_timeout, must get it through once s_server starts.
TEST_F(PeerTest, OurClientRetransmitsUntilSServerListens) {
  auto port = free_udp_port();
  ASSERT_TRUE(port) << port.message();
  auto d = UdpDriver::bind_loopback();
  ASSERT_TRUE(d) << d.message();
  auto driver = std::move(d.value());
  ASSERT_TRUE(driver->start_client(*context_, config(Role::client), port.value()));
  EXPECT_FALSE(driver->run_until([&] { return driver->outcome().has_value(); }, 700ms));
  const std::string cmd =
      "sleep 12 | " + timeout_prefix() +
      "openssl s_server -dtls1_2 -accept 127.0.0.1:" + std::to_string(port.value()) +
      peer_files_openssl() + " -use_srtp SRTP_AEAD_AES_128_GCM" + keymat_args_openssl(56);
  auto p = PeerProcess::start(cmd, dir_->file("peer.out"));
  ASSERT_TRUE(p) << p.message();
  auto peer = std::move(p.value());
  driver->run_until(
      [&] {
        return driver->outcome().has_value() &&
               (driver->outcome()->kind != EventKind::connected ||
                peer->output_contains("Keying material: ") || peer->exited());
      },
      kHandshakeLimit);
  expect_connected(*driver, Profile::aead_aes_128_gcm);
  if (HasFatalFailure()) {
    std::printf("peer output:\n%s\n", peer->output().c_str());
    return;
  }
  auto theirs = printed_keying_material(peer->output());
  ASSERT_TRUE(theirs.has_value()) << peer->output();
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::client), *theirs);
}

// a=fingerprint may name sha-512 (RFC 8122 §5); openssl x509 -sha512 computes the expected value.
TEST_F(PeerTest, Sha512FingerprintFromOpensslX509) {
  auto printed =
      run_capture("openssl x509 -in " + peer_.cert_path + " -noout -fingerprint -sha512");
  ASSERT_TRUE(printed) << printed.message();
  std::string hex = printed->substr(printed->find('=') + 1);
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) {
    hex.pop_back();
  }
  auto fp = Fingerprint::parse("SHA-512 " + hex);
  ASSERT_TRUE(fp) << fp.message();
  EXPECT_EQ(fp->digest.size(), 64U);
  auto port = free_udp_port();
  ASSERT_TRUE(port) << port.message();
  EndpointConfig cfg = config(Role::client);
  cfg.peer_fingerprint = fp.value();
  const std::string cmd =
      "sleep 12 | " + timeout_prefix() +
      "openssl s_server -dtls1_2 -accept 127.0.0.1:" + std::to_string(port.value()) +
      peer_files_openssl() + " -use_srtp SRTP_AES128_CM_SHA1_80" + keymat_args_openssl(60);
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_client(cmd, port.value(), "ACCEPT", cfg, "Keying material: ", peer);
  ASSERT_NE(driver, nullptr);
  expect_connected(*driver, Profile::aes_cm_128_hmac_sha1_80);
  if (HasFatalFailure()) {
    return;
  }
  auto theirs = printed_keying_material(peer->output());
  ASSERT_TRUE(theirs.has_value()) << peer->output();
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::client), *theirs);
}

// Whether a datagram carries a ChangeCipherSpec record (content type 20): the start of the
// last flight of either side.
bool has_change_cipher_spec(const std::vector<uint8_t>& d) {
  size_t at = 0;
  while (at + 13 <= d.size()) {
    if (d[at] == 20) {
      return true;
    }
    at += 13 + ((size_t{d[at + 11]} << 8) | d[at + 12]);
  }
  return false;
}

// A drop rule that loses the first `n` datagrams matching `pred`.
std::function<bool(const std::vector<uint8_t>&)> drop_first(
    int n, bool (*pred)(const std::vector<uint8_t>&)) {
  auto left = std::make_shared<int>(n);
  return [left, pred](const std::vector<uint8_t>& d) {
    if (*left > 0 && pred(d)) {
      --*left;
      return true;
    }
    return false;
  };
}

// Our server's last flight (ChangeCipherSpec, Finished) is lost: s_client retransmits its own
// last flight, and we must answer by resending ours, although we already count as connected
// (RFC 6347 §4.2.4). Otherwise the peer never finishes and the call has no media.
TEST_F(PeerTest, OurServerResendsLastFlightWhenSClientRetransmits) {
  std::unique_ptr<PeerProcess> peer;
  auto d = UdpDriver::bind_loopback();
  ASSERT_TRUE(d) << d.message();
  auto driver = std::move(d.value());
  driver->set_drop_outgoing(drop_first(1, has_change_cipher_spec));
  driver->start_server(*context_, config(Role::server));
  const std::string cmd =
      "sleep 8 | " + timeout_prefix() +
      "openssl s_client -dtls1_2 -connect 127.0.0.1:" + std::to_string(driver->port()) +
      peer_files_openssl() + " -use_srtp SRTP_AEAD_AES_128_GCM" + keymat_args_openssl(56);
  auto p = PeerProcess::start(cmd, dir_->file("peer.out"));
  ASSERT_TRUE(p) << p.message();
  peer = std::move(p.value());
  driver->run_until(
      [&] {
        return (driver->outcome().has_value() && driver->outcome()->kind != EventKind::connected) ||
               peer->output_contains("Keying material: ") || peer->exited();
      },
      kHandshakeLimit);
  EXPECT_EQ(driver->dropped(), 1) << "the test did not lose our last flight";
  expect_connected(*driver, Profile::aead_aes_128_gcm);
  auto theirs = printed_keying_material(peer->output());
  ASSERT_TRUE(theirs.has_value()) << "s_client never completed after losing our last flight:\n"
                                  << peer->output();
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::server), *theirs);
}

// The same with gnutls-cli, whose retransmission timer and flight handling are its own.
TEST_F(PeerTest, OurServerResendsLastFlightWhenGnutlsCliRetransmits) {
  auto d = UdpDriver::bind_loopback();
  ASSERT_TRUE(d) << d.message();
  auto driver = std::move(d.value());
  driver->set_drop_outgoing(drop_first(1, has_change_cipher_spec));
  driver->start_server(*context_, config(Role::server));
  const std::string cmd = "sleep 8 | " + timeout_prefix() +
                          "gnutls-cli --udp 127.0.0.1 --insecure --port " +
                          std::to_string(driver->port()) + peer_files_gnutls() +
                          " --srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_80"
                          " --keymatexport=EXTRACTOR-dtls_srtp --keymatexportsize=60";
  auto p = PeerProcess::start(cmd, dir_->file("peer.out"));
  ASSERT_TRUE(p) << p.message();
  auto peer = std::move(p.value());
  driver->run_until(
      [&] {
        return (driver->outcome().has_value() && driver->outcome()->kind != EventKind::connected) ||
               peer->output_contains("Key material: ") || peer->exited();
      },
      kHandshakeLimit);
  EXPECT_EQ(driver->dropped(), 1) << "the test did not lose our last flight";
  expect_connected(*driver, Profile::aes_cm_128_hmac_sha1_80);
  auto theirs = printed_keying_material(peer->output());
  ASSERT_TRUE(theirs.has_value()) << "gnutls-cli never completed after losing our last flight:\n"
                                  << peer->output();
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::server), *theirs);
}

// Our client's last flight is lost once: our retransmission timer must resend it.
TEST_F(PeerTest, OurClientRetransmitsLostLastFlight) {
  auto port = free_udp_port();
  ASSERT_TRUE(port) << port.message();
  const std::string cmd =
      "sleep 12 | " + timeout_prefix() +
      "openssl s_server -dtls1_2 -accept 127.0.0.1:" + std::to_string(port.value()) +
      peer_files_openssl() + " -use_srtp SRTP_AES128_CM_SHA1_80" + keymat_args_openssl(60);
  auto p = PeerProcess::start(cmd, dir_->file("peer.out"));
  ASSERT_TRUE(p) << p.message();
  auto peer = std::move(p.value());
  ASSERT_TRUE(peer->wait_for_output("ACCEPT", 5s)) << peer->output();
  auto d = UdpDriver::bind_loopback();
  ASSERT_TRUE(d) << d.message();
  auto driver = std::move(d.value());
  driver->set_drop_outgoing(drop_first(1, has_change_cipher_spec));
  ASSERT_TRUE(driver->start_client(*context_, config(Role::client), port.value()));
  driver->run_until(
      [&] {
        return driver->outcome().has_value() &&
               (driver->outcome()->kind != EventKind::connected ||
                peer->output_contains("Keying material: ") || peer->exited());
      },
      kHandshakeLimit);
  EXPECT_EQ(driver->dropped(), 1);
  expect_connected(*driver, Profile::aes_cm_128_hmac_sha1_80);
  auto theirs = printed_keying_material(peer->output());
  ASSERT_TRUE(theirs.has_value()) << peer->output();
  EXPECT_EQ(exporter_order_hex(*driver->outcome()->keys, Role::client), *theirs);
}

TEST_F(PeerTest, WrongFingerprintFailsOurClient) {
  auto port = free_udp_port();
  ASSERT_TRUE(port) << port.message();
  auto other = make_peer_cert(*dir_, "other");
  ASSERT_TRUE(other) << other.message();
  EndpointConfig cfg = config(Role::client);
  cfg.peer_fingerprint = other->fingerprint;  // signalling named another certificate
  const std::string cmd =
      "sleep 12 | " + timeout_prefix() +
      "openssl s_server -dtls1_2 -accept 127.0.0.1:" + std::to_string(port.value()) +
      peer_files_openssl() + " -use_srtp SRTP_AES128_CM_SHA1_80" + keymat_args_openssl(60);
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_client(cmd, port.value(), "ACCEPT", cfg, "", peer);
  ASSERT_NE(driver, nullptr);
  expect_failed(*driver);
}

TEST_F(PeerTest, WrongFingerprintFailsOurServer) {
  auto other = make_peer_cert(*dir_, "other");
  ASSERT_TRUE(other) << other.message();
  EndpointConfig cfg = config(Role::server);
  cfg.peer_fingerprint = other->fingerprint;
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_server(
      "sleep 6 | " + timeout_prefix() + "openssl s_client -dtls1_2 -connect 127.0.0.1:",
      peer_files_openssl() + " -use_srtp SRTP_AES128_CM_SHA1_80" + keymat_args_openssl(60), cfg, "",
      peer);
  ASSERT_NE(driver, nullptr);
  expect_failed(*driver);
}

TEST_F(PeerTest, MissingClientCertificateFailsOurServer) {
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_server(
      "sleep 6 | " + timeout_prefix() + "openssl s_client -dtls1_2 -connect 127.0.0.1:",
      " -use_srtp SRTP_AES128_CM_SHA1_80" + keymat_args_openssl(60), config(Role::server), "",
      peer);
  ASSERT_NE(driver, nullptr);
  expect_failed(*driver);
}

TEST_F(PeerTest, NoCommonProfileFailsOurClient) {
  auto port = free_udp_port();
  ASSERT_TRUE(port) << port.message();
  EndpointConfig cfg = config(Role::client);
  cfg.profiles = {Profile::aes_cm_128_hmac_sha1_80, Profile::aes_cm_128_hmac_sha1_32};
  // s_server completes the handshake without use_srtp when nothing matches.
  const std::string cmd =
      "sleep 12 | " + timeout_prefix() +
      "openssl s_server -dtls1_2 -accept 127.0.0.1:" + std::to_string(port.value()) +
      peer_files_openssl() + " -use_srtp SRTP_AEAD_AES_128_GCM" + keymat_args_openssl(56);
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_client(cmd, port.value(), "ACCEPT", cfg, "", peer);
  ASSERT_NE(driver, nullptr);
  expect_failed(*driver);
}

TEST_F(PeerTest, NoCommonProfileFailsOurServer) {
  EndpointConfig cfg = config(Role::server);
  cfg.profiles = {Profile::aead_aes_256_gcm, Profile::aead_aes_128_gcm};
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_server(
      "sleep 6 | " + timeout_prefix() + "openssl s_client -dtls1_2 -connect 127.0.0.1:",
      peer_files_openssl() + " -use_srtp SRTP_AES128_CM_SHA1_80" + keymat_args_openssl(60), cfg, "",
      peer);
  ASSERT_NE(driver, nullptr);
  expect_failed(*driver);
}

TEST_F(PeerTest, NoCommonProfileFailsAgainstGnutlsCli) {
  EndpointConfig cfg = config(Role::server);
  cfg.profiles = {Profile::aes_cm_128_hmac_sha1_80};
  std::unique_ptr<PeerProcess> peer;
  auto driver = run_our_server(
      "sleep 6 | " + timeout_prefix() + "gnutls-cli --udp 127.0.0.1 --insecure --port ",
      peer_files_gnutls() + " --srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_32", cfg, "", peer);
  ASSERT_NE(driver, nullptr);
  expect_failed(*driver);
}

}  // namespace
}  // namespace srtpgate::hs::test
