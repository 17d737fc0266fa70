// Writes seed inputs for fuzz_srtp_unprotect and fuzz_dtls_endpoint in their input formats, from
// a real sender session and a real DTLS handshake: usage `fuzz_gen_seeds OUTDIR`. The seeds go
// to OUTDIR/<target>/; copy the few that are wanted into tests/fuzz/corpus/<target>/.
// The SRTP key must stay the same as fixed_key() in fuzz_srtp_unprotect.cc.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "srtpgate/crypto.h"
#include "srtpgate/hs/certificate.h"
#include "srtpgate/hs/context.h"
#include "srtpgate/hs/endpoint.h"
#include "srtpgate/session.h"

namespace {

using Bytes = std::vector<uint8_t>;
using namespace srtpgate;

void write_file(const std::filesystem::path& p, const Bytes& b) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                           static_cast<std::streamsize>(b.size()));
  std::printf("%s (%zu bytes)\n", p.c_str(), b.size());
}

void put16(Bytes& out, std::size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void record(Bytes& out, uint8_t op, const Bytes& payload) {
  out.push_back(op);
  put16(out, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
}

srtp::MasterKey fixed_key(srtp::Profile profile) {
  const auto pp = srtp::params(profile);
  Bytes ks(pp.master_key_len + pp.master_salt_len);
  for (std::size_t i = 0; i < ks.size(); ++i) {
    ks[i] = static_cast<uint8_t>(0xa5 ^ (i * 7));
  }
  return std::move(srtp::MasterKey::from_concatenated(profile, ks).value());
}

Bytes protect(srtp::Session& tx, Bytes plain, bool rtcp) {
  plain.resize(plain.size() + 64);
  srtp::PacketView v{plain.data(), static_cast<uint32_t>(plain.size() - 64),
                     static_cast<uint32_t>(plain.size())};
  srtp::Status st{};
  if (rtcp) {
    tx.protect_rtcp({&v, 1}, {&st, 1});
  } else {
    tx.protect_rtp({&v, 1}, {&st, 1});
  }
  plain.resize(v.len);
  return plain;
}

void srtp_seeds(const std::filesystem::path& dir) {
  auto engine = crypto::make_engine(crypto::Backend::openssl).value();
  const uint8_t profile_bytes[] = {0 /* AES_CM_128_HMAC_SHA1_80 */, 1 /* _32 */,
                                   4 /* AEAD_AES_128_GCM */};
  for (uint8_t pb : profile_bytes) {
    const auto profile = srtp::kAllProfiles[pb];
    srtp::SessionConfig cfg;
    cfg.profile = profile;
    cfg.direction = srtp::Direction::outbound;
    auto tx = std::move(srtp::Session::create(engine, cfg, fixed_key(profile)).value());
    Bytes in = {static_cast<uint8_t>(pb | 0x08 /* OpenSSL */), 0x07};
    const uint32_t ssrc = 0x5eed0000;
    for (uint16_t seq = 1000; seq < 1003; ++seq) {
      Bytes p = {0x80, 0x00, static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq),
                 0, 0, 0x10, 0, static_cast<uint8_t>(ssrc >> 24), static_cast<uint8_t>(ssrc >> 16),
                 static_cast<uint8_t>(ssrc >> 8), static_cast<uint8_t>(ssrc)};
      for (int i = 0; i < 40; ++i) {
        p.push_back(static_cast<uint8_t>(i));
      }
      record(in, 0x04 /* raw SRTP, 1 byte tailroom */, protect(*tx, p, false));
    }
    Bytes rr = {0x81, 201, 0, 7, static_cast<uint8_t>(ssrc >> 24),
                static_cast<uint8_t>(ssrc >> 16), static_cast<uint8_t>(ssrc >> 8),
                static_cast<uint8_t>(ssrc)};
    rr.resize(32, 0x33);
    record(in, 0x81 /* raw SRTCP, flush */, protect(*tx, rr, true));
    // Steered packets: in order, a replay, a reorder, a forgery, then RTCP.
    const Bytes steered[] = {
        {0x02, 0x00, 0x10, 0x01, 0x00, 0x00, 0x20, 0x00, 0x00},
        {0x02, 0x00, 0x12, 0x01, 0x00, 0x05, 0x10, 0x00, 0x00},
        {0x02, 0x00, 0x11, 0x01, 0x00, 0x84, 0x20, 0x00, 0x00},
        {0x82, 0x00, 0x11, 0x01, 0x00, 0x00, 0x20, 0x00, 0x00},
        {0x02, 0x00, 0x13, 0x01, 0x00, 0x00, 0x20, 0x05, 0x40},
        {0x83, 0x01, 0x02, 0x00, 0x00},
    };
    for (const Bytes& s : steered) {
      in.insert(in.end(), s.begin(), s.end());
    }
    write_file(dir / "fuzz_srtp_unprotect" / ("session-" + std::to_string(pb)), in);
  }
}

// Runs our client against our server and records every datagram, in order.
void dtls_seeds(const std::filesystem::path& dir) {
  using namespace srtpgate::hs;
  auto client_ctx = std::move(Context::create(Certificate::generate("seed-c").value()).value());
  auto server_ctx = std::move(Context::create(Certificate::generate("seed-s").value()).value());
  EndpointConfig ccfg;
  ccfg.role = Role::client;
  ccfg.peer_fingerprint = server_ctx->certificate().fingerprint().value();
  EndpointConfig scfg;
  scfg.role = Role::server;
  scfg.peer_fingerprint = client_ctx->certificate().fingerprint().value();
  const Bytes source = {192, 0, 2, 1, 0x13, 0x88};
  const auto now = Clock::now();
  auto client = std::move(client_ctx->connect(ccfg, now).value());
  std::unique_ptr<Endpoint> server;
  std::vector<Bytes> c2s_all, s2c_all;
  for (int round = 0; round < 20; ++round) {
    std::vector<Bytes> c2s, s2c;
    while (auto d = client->poll_datagram()) {
      c2s.push_back(*d);
    }
    for (auto& d : c2s) {
      c2s_all.push_back(d);
      if (server) {
        server->handle_datagram(d, now);
      } else {
        Accepted a = server_ctx->accept(d, source, scfg, now);
        if (a.reply) {
          s2c.push_back(*a.reply);
        }
        server = std::move(a.endpoint);
      }
    }
    if (server) {
      while (auto d = server->poll_datagram()) {
        s2c.push_back(*d);
      }
    }
    for (auto& d : s2c) {
      s2c_all.push_back(d);
      client->handle_datagram(d, now);
    }
    if (client->connected() && server && server->connected() && c2s.empty() && s2c.empty()) {
      break;
    }
  }
  std::printf("handshake: %zu client datagrams, %zu server datagrams, connected=%d\n",
              c2s_all.size(), s2c_all.size(), client->connected() ? 1 : 0);
  // 1. The real ClientHello (no cookie) offered to accept(), then the client fed the real
  //    server flights (their cookie and randoms will not match the fuzz run's: parser coverage).
  Bytes in = {0x00, 0x00};
  record(in, 0x00, c2s_all.at(0));
  for (const Bytes& d : s2c_all) {
    record(in, 0x01, d);
  }
  write_file(dir / "fuzz_dtls_endpoint" / "recorded-datagrams", in);
  // 2. The ClientHello with a cookie, as a made-up datagram to accept() (a stale cookie).
  Bytes in2 = {0x00, 0x01};
  if (c2s_all.size() > 1) {
    record(in2, 0x08, c2s_all.at(1));
  }
  write_file(dir / "fuzz_dtls_endpoint" / "cookie-hello", in2);
  // 3. A genuine handshake through the relays: enough c2s/s2c relays to connect, then close.
  Bytes in3 = {0x00, 0x00};
  for (int i = 0; i < 12; ++i) {
    in3.insert(in3.end(), {0x03, 0, 0, 0, 0x04, 0, 0, 0, 0x04, 0, 0, 0});
  }
  in3.insert(in3.end(), {0x07, 0x03, 0, 0, 0, 0x06, 0x10});
  write_file(dir / "fuzz_dtls_endpoint" / "relay-handshake", in3);
  // 4. The same with loss and a damaged datagram, and timeouts.
  Bytes in4 = {0x24, 0x42, 0x03, 0, 0, 0, 0x06, 0x40, 0x03, 0, 0, 0, 0x04, 0, 5, 0x80,
               0x06, 0x80, 0x04, 0, 0, 0, 0x03, 0, 0, 0, 0x04, 0, 0, 0, 0x05, 0x03, 0, 0, 0};
  write_file(dir / "fuzz_dtls_endpoint" / "relay-lossy", in4);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  srtp_seeds(dir);
  dtls_seeds(dir);
  return 0;
}
