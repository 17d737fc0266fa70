// libFuzzer target: the sans-IO DTLS-SRTP engine (handshake/) under hostile datagrams.
//
// Each input drives one genuine client endpoint (Context::connect) and the server side of one
// Context (accept, then the endpoint a valid cookie creates), on a fake clock. The input mixes
// datagrams it makes up with the genuine ones the two ends send each other, which it may drop,
// reorder (by relaying in its own order), duplicate or damage. So the fuzzer reaches the cookie
// exchange, the full handshake, the connected state and close, not only the record parser.
//
// Input layout: byte 0 picks the profiles each side offers (bits 0..3 client, 4..7 server, as
// subsets of the four DTLS-SRTP profiles; empty means all), byte 1 the MTU (bit 0: 300 or 1200);
// then records, each an op byte:
//   op&7 == 0: Context::accept(len(2) bytes) from source (op>>3)     made-up datagram
//   op&7 == 1: client endpoint <- len(2) bytes                       made-up datagram
//   op&7 == 2: server endpoint (if any) <- len(2) bytes              made-up datagram
//   op&7 == 3: relay the oldest client->server datagram; flip(at(2), mask(1))
//   op&7 == 4: relay the oldest server->client datagram; flip(at(2), mask(1))
//   op&7 == 5: duplicate the oldest datagram of one direction (op bit 3)
//   op&7 == 6: advance the clock by u8 * 50 ms and run due timeouts
//   op&7 == 7: close() the client (op bit 3 clear) or the server
//
// Checked: nothing crashes or leaks (ASan), every datagram out is at most the MTU, a connected
// event carries keys for a profile both sides offered, and connected() agrees with the events.
#include <openssl/crypto.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <vector>

#include "srtpgate/hs/certificate.h"
#include "srtpgate/hs/context.h"
#include "srtpgate/hs/endpoint.h"
#include "srtpgate/profile.h"

namespace {

using namespace srtpgate::hs;
using srtpgate::srtp::Profile;
using Bytes = std::vector<uint8_t>;
using namespace std::chrono_literals;

constexpr Profile kDtlsProfiles[] = {Profile::aead_aes_256_gcm, Profile::aead_aes_128_gcm,
                                     Profile::aes_cm_128_hmac_sha1_80,
                                     Profile::aes_cm_128_hmac_sha1_32};
constexpr std::size_t kMaxOps = 64;
constexpr std::size_t kMaxQueue = 32;

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_dtls_endpoint: invariant violated: %s\n", what);
    std::abort();
  }
}

class Reader {
 public:
  Reader(const uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  uint8_t u8() { return p_ < end_ ? *p_++ : 0; }
  uint16_t u16() {
    const uint16_t hi = u8();
    return static_cast<uint16_t>(hi << 8 | u8());
  }
  Bytes bytes(std::size_t n) {
    const std::size_t k = std::min<std::size_t>(n, static_cast<std::size_t>(end_ - p_));
    Bytes out(p_, p_ + k);
    p_ += k;
    return out;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Certificates and contexts are made once: ECDSA key generation and SSL_CTX set-up are slow.
// Each input starts at a fresh hour on the fake clock, so the per-source rate limit and the
// cookie secret of the previous input do not carry over.
struct Globals {
  std::unique_ptr<Context> client_ctx;
  std::unique_ptr<Context> server_ctx;
  Fingerprint client_fp;
  Fingerprint server_fp;
  TimePoint base;
  uint64_t inputs = 0;

  Globals() {
    auto cc = Certificate::generate("fuzz-client");
    auto sc = Certificate::generate("fuzz-server");
    check(cc.ok() && sc.ok(), "certificate generation failed");
    auto c = Context::create(std::move(cc.value()));
    auto s = Context::create(std::move(sc.value()));
    check(c.ok() && s.ok(), "context creation failed");
    client_ctx = std::move(c.value());
    server_ctx = std::move(s.value());
    auto cf = client_ctx->certificate().fingerprint();
    auto sf = server_ctx->certificate().fingerprint();
    check(cf.ok() && sf.ok(), "fingerprint failed");
    client_fp = cf.value();
    server_fp = sf.value();
    base = Clock::now();
  }
};

Globals& globals() {
  static Globals g;
  return g;
}

std::vector<Profile> profiles_from(uint8_t bits) {
  std::vector<Profile> out;
  for (int i = 0; i < 4; ++i) {
    if (bits & (1u << i)) {
      out.push_back(kDtlsProfiles[i]);
    }
  }
  if (out.empty()) {
    out.assign(std::begin(kDtlsProfiles), std::end(kDtlsProfiles));
  }
  return out;
}

bool offered(const std::vector<Profile>& list, Profile p) {
  for (Profile q : list) {
    if (q == p) {
      return true;
    }
  }
  return false;
}

struct Side {
  std::unique_ptr<Endpoint> ep;
  std::deque<Bytes>* out = nullptr;  // where its datagrams go
  bool saw_connected = false;
  bool saw_end = false;
};

struct Run {
  EndpointConfig ccfg;
  EndpointConfig scfg;
  Side client;
  Side server;
  std::deque<Bytes> c2s;
  std::deque<Bytes> s2c;
  TimePoint now;
  const Bytes genuine_source = {192, 0, 2, 1, 0x13, 0x88};

  void enqueue(std::deque<Bytes>& q, Bytes d, uint16_t mtu) {
    check(d.size() <= mtu, "datagram larger than the MTU");
    if (q.size() < kMaxQueue) {
      q.push_back(std::move(d));
    }
  }

  void drain(Side& s, uint16_t mtu) {
    if (!s.ep) {
      return;
    }
    while (auto d = s.ep->poll_datagram()) {
      enqueue(*s.out, std::move(*d), mtu);
    }
    while (auto e = s.ep->poll_event()) {
      if (e->kind == EventKind::connected) {
        check(!s.saw_connected && !s.saw_end, "connected twice or after the end");
        check(e->keys.has_value(), "connected without keys");
        check(offered(ccfg.profiles, e->keys->profile) && offered(scfg.profiles, e->keys->profile),
              "negotiated a profile one side did not offer");
        s.saw_connected = true;
      } else {
        check(!e->keys.has_value(), "keys on a failed or closed event");
        s.saw_end = true;
      }
    }
    if (s.ep->connected()) {
      check(s.saw_connected, "connected() without a connected event");
    }
  }

  void drain_all() {
    drain(client, ccfg.mtu);
    drain(server, scfg.mtu);
  }

  // A datagram for the server side: its endpoint if it has one, else the context's accept.
  void to_server(const Bytes& d, std::span<const uint8_t> source) {
    if (server.ep) {
      server.ep->handle_datagram(d, now);
      return;
    }
    Accepted a = globals().server_ctx->accept(d, source, scfg, now);
    if (a.reply) {
      enqueue(s2c, std::move(*a.reply), scfg.mtu);
    }
    if (a.endpoint) {
      server.ep = std::move(a.endpoint);
    }
  }

  void timeouts() {
    for (Side* s : {&client, &server}) {
      if (s->ep) {
        if (auto dl = s->ep->next_deadline(); dl && *dl <= now) {
          s->ep->handle_timeout(now);
        }
      }
    }
  }
};

Bytes take_front(std::deque<Bytes>& q) {
  Bytes d = std::move(q.front());
  q.pop_front();
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Globals& g = globals();
  Reader in(data, size);
  const uint8_t b0 = in.u8();
  const uint8_t b1 = in.u8();

  Run r;
  r.now = g.base + std::chrono::hours(++g.inputs);
  r.ccfg.role = Role::client;
  r.ccfg.peer_fingerprint = g.server_fp;
  r.ccfg.profiles = profiles_from(b0 & 0xf);
  r.scfg.role = Role::server;
  r.scfg.peer_fingerprint = g.client_fp;
  r.scfg.profiles = profiles_from(b0 >> 4);
  const uint16_t mtu = (b1 & 1) ? 300 : 1200;
  r.ccfg.mtu = mtu;
  r.scfg.mtu = mtu;
  r.client.out = &r.c2s;
  r.server.out = &r.s2c;

  auto c = g.client_ctx->connect(r.ccfg, r.now);
  check(c.ok(), "connect failed");
  r.client.ep = std::move(c.value());
  r.drain_all();

  for (std::size_t n = 0; n < kMaxOps && !in.empty(); ++n) {
    const uint8_t op = in.u8();
    switch (op & 7) {
      case 0: {
        const Bytes d = in.bytes(in.u16() & 0x7ff);
        const uint8_t src[2] = {0xfe, static_cast<uint8_t>(op >> 3)};
        Accepted a = g.server_ctx->accept(d, src, r.scfg, r.now);
        if (a.reply) {
          check(a.reply->size() <= mtu, "HelloVerifyRequest larger than the MTU");
        }
        // An endpoint from a made-up ClientHello would need a forged cookie: keep it to check it
        // behaves, but it is not the genuine server.
        if (a.endpoint) {
          a.endpoint->handle_datagram(d, r.now);
          while (a.endpoint->poll_datagram()) {
          }
        }
        break;
      }
      case 1:
        r.client.ep->handle_datagram(in.bytes(in.u16() & 0x7ff), r.now);
        break;
      case 2: {
        const Bytes d = in.bytes(in.u16() & 0x7ff);
        if (r.server.ep) {
          r.server.ep->handle_datagram(d, r.now);
        }
        break;
      }
      case 3:
      case 4: {
        const bool c2s = (op & 7) == 3;
        const uint16_t at = in.u16();
        const uint8_t mask = in.u8();
        auto& q = c2s ? r.c2s : r.s2c;
        if (q.empty()) {
          break;
        }
        Bytes d = take_front(q);
        if (mask != 0 && !d.empty()) {
          d[at % d.size()] ^= mask;
        }
        if (c2s) {
          r.to_server(d, r.genuine_source);
        } else {
          r.client.ep->handle_datagram(d, r.now);
        }
        break;
      }
      case 5: {
        auto& q = (op & 8) ? r.s2c : r.c2s;
        if (!q.empty() && q.size() < kMaxQueue) {
          q.push_back(q.front());
        }
        break;
      }
      case 6:
        r.now += std::chrono::milliseconds(50) * in.u8();
        r.timeouts();
        break;
      case 7:
        if (op & 8) {
          if (r.server.ep) {
            r.server.ep->close(r.now);
          }
        } else {
          r.client.ep->close(r.now);
        }
        break;
    }
    r.drain_all();
  }
  return 0;
}
