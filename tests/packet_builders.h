// Seeded builders of valid plaintext RTP (RFC 3550 §5.1, RFC 8285) and compound RTCP
// (RFC 3550 §6.4) packets, and helpers to run one packet through the batch API. Header-only:
// shared by the libsrtp2 interop, attack and differential tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "srtpgate/crypto.h"
#include "srtpgate/master_key.h"
#include "srtpgate/packet.h"
#include "srtpgate/profile.h"
#include "srtpgate/session.h"

namespace srtpgate::srtp {
// Lets GoogleTest print these by name (found by argument-dependent lookup).
inline void PrintTo(Status s, std::ostream* os) { *os << name(s); }
inline void PrintTo(Profile p, std::ostream* os) { *os << name(p); }
}  // namespace srtpgate::srtp

namespace srtpgate::crypto {
inline void PrintTo(Backend b, std::ostream* os) { *os << name(b); }
}  // namespace srtpgate::crypto

namespace srtpgate::testutil {

using Bytes = std::vector<uint8_t>;
using Rng = std::mt19937_64;

inline uint32_t uniform(Rng& rng, uint32_t lo, uint32_t hi) {  // inclusive
  return lo + static_cast<uint32_t>(rng() % (uint64_t{hi} - lo + 1));
}
inline bool chance(Rng& rng, uint32_t percent) { return rng() % 100 < percent; }

inline void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
inline uint16_t get_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t get_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

enum class Ext : uint8_t { none, one_byte, two_byte };

struct RtpShape {
  uint8_t csrc_count = 0;      // 0..15
  Ext ext = Ext::none;
  uint16_t ext_target = 0;     // approximate bytes of extension elements
  uint32_t payload_len = 0;    // bytes after the header, padding included
  bool padding = false;        // RFC 3550 §5.1 padding (needs payload_len >= 1)
};

inline RtpShape random_shape(Rng& rng, uint32_t payload_len) {
  RtpShape s;
  s.payload_len = payload_len;
  s.csrc_count = chance(rng, 30) ? static_cast<uint8_t>(uniform(rng, 1, 15)) : 0;
  const uint32_t e = uniform(rng, 0, 9);
  s.ext = e < 5 ? Ext::none : (e < 8 ? Ext::one_byte : Ext::two_byte);
  s.ext_target = static_cast<uint16_t>(uniform(rng, 0, 60));
  s.padding = payload_len > 0 && chance(rng, 20);
  return s;
}

// A valid plaintext RTP packet. One-byte elements (RFC 8285 §4.2) use IDs 1..14 and 1..16 data
// bytes; two-byte elements (§4.3) IDs 1..255 and 0..255 bytes; the block is zero-padded to words.
inline Bytes build_rtp(Rng& rng, uint32_t ssrc, uint16_t seq, uint32_t ts, const RtpShape& s) {
  Bytes p(12);
  p[0] = static_cast<uint8_t>(0x80 | (s.padding ? 0x20 : 0) | (s.ext != Ext::none ? 0x10 : 0) |
                              s.csrc_count);
  p[1] = static_cast<uint8_t>((chance(rng, 10) ? 0x80 : 0) | uniform(rng, 0, 127));
  // Stay clear of PTs 64..95, which RFC 5761 §4 sets aside for RTCP on a shared port.
  if ((p[1] & 0x7f) >= 64 && (p[1] & 0x7f) <= 95) {
    p[1] = static_cast<uint8_t>((p[1] & 0x80) | 96);
  }
  put_be16(&p[2], seq);
  put_be32(&p[4], ts);
  put_be32(&p[8], ssrc);
  for (int i = 0; i < s.csrc_count; ++i) {
    uint8_t c[4];
    put_be32(c, static_cast<uint32_t>(rng()));
    p.insert(p.end(), c, c + 4);
  }
  if (s.ext != Ext::none) {
    Bytes body;
    while (body.size() < s.ext_target) {
      if (s.ext == Ext::one_byte) {
        const uint32_t len = uniform(rng, 1, 16);
        body.push_back(static_cast<uint8_t>(uniform(rng, 1, 14) << 4 | (len - 1)));
        for (uint32_t i = 0; i < len; ++i) body.push_back(static_cast<uint8_t>(rng()));
      } else {
        const uint32_t len = uniform(rng, 0, 24);
        body.push_back(static_cast<uint8_t>(uniform(rng, 1, 255)));
        body.push_back(static_cast<uint8_t>(len));
        for (uint32_t i = 0; i < len; ++i) body.push_back(static_cast<uint8_t>(rng()));
      }
      if (chance(rng, 20)) body.push_back(0);  // padding between elements is allowed
    }
    while (body.size() % 4 != 0) body.push_back(0);
    uint8_t h[4];
    put_be16(h,
             s.ext == Ext::one_byte ? 0xBEDE : static_cast<uint16_t>(0x1000 | uniform(rng, 0, 15)));
    put_be16(h + 2, static_cast<uint16_t>(body.size() / 4));
    p.insert(p.end(), h, h + 4);
    p.insert(p.end(), body.begin(), body.end());
  }
  const std::size_t payload_at = p.size();
  p.resize(payload_at + s.payload_len);
  for (std::size_t i = payload_at; i < p.size(); ++i) p[i] = static_cast<uint8_t>(rng());
  if (s.padding) {
    const uint32_t pad = uniform(rng, 1, std::min<uint32_t>(s.payload_len, 255));
    std::fill(p.end() - pad, p.end(), 0);
    p.back() = static_cast<uint8_t>(pad);
  }
  return p;
}

// Appends one RTCP packet with RC/SC `count` and the body (a multiple of 4 bytes).
inline void append_rtcp(Bytes& out, uint8_t count, uint8_t pt, uint32_t ssrc, const Bytes& body) {
  const std::size_t words = (8 + body.size()) / 4 - 1;
  const std::size_t at = out.size();
  out.resize(at + 8);
  out[at] = static_cast<uint8_t>(0x80 | count);
  out[at + 1] = pt;
  put_be16(&out[at + 2], static_cast<uint16_t>(words));
  put_be32(&out[at + 4], ssrc);
  out.insert(out.end(), body.begin(), body.end());
}

inline Bytes random_bytes(Rng& rng, std::size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// A valid compound RTCP packet (RFC 3550 §6.1): SR or RR first, then SDES with a CNAME, then
// sometimes more RRs and a BYE. `boundaries` (optional) gets the end offset of each packet.
inline Bytes build_rtcp(Rng& rng, uint32_t ssrc, std::vector<std::size_t>* boundaries = nullptr) {
  Bytes out;
  auto mark = [&] {
    if (boundaries) boundaries->push_back(out.size());
  };
  const uint8_t blocks = static_cast<uint8_t>(uniform(rng, 0, 4));
  if (chance(rng, 50)) {
    append_rtcp(out, blocks, 200, ssrc, random_bytes(rng, 20 + 24u * blocks));  // SR
  } else {
    append_rtcp(out, blocks, 201, ssrc, random_bytes(rng, 24u * blocks));  // RR
  }
  mark();
  // SDES chunk: the SSRC is the 4 bytes after the common header's first word, so the body
  // starts with the CNAME item: type 1, length, text, then a null item padded to a word.
  // (Sized up front: GCC 12's -Warray-bounds misfires on push_back into an empty vector here.)
  const uint8_t cname_len = static_cast<uint8_t>(uniform(rng, 1, 40));
  Bytes sdes((2u + cname_len + 1u + 3u) / 4u * 4u, 0);
  sdes[0] = 1;
  sdes[1] = cname_len;
  for (int i = 0; i < cname_len; ++i) sdes[2 + i] = static_cast<uint8_t>('a' + rng() % 26);
  append_rtcp(out, 1, 202, ssrc, sdes);
  mark();
  const uint32_t extra = uniform(rng, 0, 2);
  for (uint32_t i = 0; i < extra; ++i) {
    const uint8_t b = static_cast<uint8_t>(uniform(rng, 1, 8));
    append_rtcp(out, b, 201, ssrc, random_bytes(rng, 24u * b));
    mark();
  }
  if (chance(rng, 20)) {
    append_rtcp(out, 1, 203, ssrc, {});  // BYE
    mark();
  }
  return out;
}

inline srtp::MasterKey random_key(Rng& rng, srtp::Profile profile, Bytes mki = {}) {
  const auto pp = srtp::params(profile);
  const Bytes ks = random_bytes(rng, std::size_t{pp.master_key_len} + pp.master_salt_len);
  auto k = srtp::MasterKey::from_concatenated(profile, ks);
  EXPECT_TRUE(k) << k.message();
  k->mki = std::move(mki);
  return std::move(k.value());
}

inline Bytes key_salt_of(const srtp::MasterKey& k) {
  Bytes b(k.key.span().begin(), k.key.span().end());
  b.insert(b.end(), k.salt.span().begin(), k.salt.span().end());
  return b;
}

inline std::string hex(const uint8_t* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}
inline std::string hex(const Bytes& b) { return hex(b.data(), b.size()); }

// Where the first difference is, for failure messages.
inline std::string first_difference(const Bytes& expected, const uint8_t* got,
                                    std::size_t got_len) {
  std::ostringstream os;
  const std::size_t n = std::min(expected.size(), got_len);
  std::size_t i = 0;
  while (i < n && expected[i] == got[i]) ++i;
  os << "expected " << expected.size() << " bytes, got " << got_len << "; first difference at "
     << i << "\n  expected " << hex(expected) << "\n  got      " << hex(got, got_len);
  return os.str();
}

// A packet in a heap block of exactly `capacity` bytes, with the packet at its start, so that
// ASan sees any access past the capacity.
class ExactBuffer {
 public:
  ExactBuffer(const uint8_t* bytes, std::size_t len, std::size_t capacity)
      : mem_(new uint8_t[capacity == 0 ? 1 : capacity]) {
    // With capacity 0 the block has one byte but the view still claims none.
    if (len > 0) std::memcpy(mem_.get(), bytes, len);
    view_ =
        srtp::PacketView{mem_.get(), static_cast<uint32_t>(len), static_cast<uint32_t>(capacity)};
  }
  ExactBuffer(const Bytes& b, std::size_t capacity) : ExactBuffer(b.data(), b.size(), capacity) {}
  srtp::PacketView& view() { return view_; }
  Bytes bytes() const { return Bytes(view_.data, view_.data + view_.len); }

 private:
  std::unique_ptr<uint8_t[]> mem_;
  srtp::PacketView view_{};
};

enum class Op : uint8_t { protect_rtp, unprotect_rtp, protect_rtcp, unprotect_rtcp };

inline std::size_t run(srtp::Session& s, Op op, std::span<srtp::PacketView> v,
                       std::span<srtp::Status> st) {
  switch (op) {
    case Op::protect_rtp: return s.protect_rtp(v, st);
    case Op::unprotect_rtp: return s.unprotect_rtp(v, st);
    case Op::protect_rtcp: return s.protect_rtcp(v, st);
    case Op::unprotect_rtcp: return s.unprotect_rtcp(v, st);
  }
  return 0;
}

// One packet through the batch API, in a block of exactly `capacity` bytes (default: enough
// for the overhead). The packet is replaced by the output on Status::ok.
inline srtp::Status run_one(srtp::Session& s, Op op, Bytes& packet,
                            std::size_t capacity = SIZE_MAX) {
  if (capacity == SIZE_MAX) {
    const bool rtcp = op == Op::protect_rtcp || op == Op::unprotect_rtcp;
    capacity = packet.size() + (rtcp ? s.rtcp_overhead() : s.rtp_overhead());
  }
  ExactBuffer b(packet, capacity);
  srtp::Status st = srtp::Status::count_;
  run(s, op, {&b.view(), 1}, {&st, 1});
  if (st == srtp::Status::ok) packet = b.bytes();
  return st;
}

inline std::shared_ptr<crypto::Engine> engine_for(crypto::Backend b) {
  auto e = crypto::make_engine(b);
  EXPECT_TRUE(e) << e.message();
  return e ? e.value() : nullptr;
}

inline std::unique_ptr<srtp::Session> make_session(const std::shared_ptr<crypto::Engine>& engine,
                                                   srtp::Profile profile, srtp::Direction dir,
                                                   const srtp::MasterKey& key,
                                                   srtp::SessionConfig c = {}) {
  c.profile = profile;
  c.direction = dir;
  auto s = srtp::Session::create(engine, c, key);
  EXPECT_TRUE(s) << s.message();
  return s ? std::move(s.value()) : nullptr;
}

inline std::string profile_label(srtp::Profile p) {
  std::string s(srtp::name(p));
  for (auto& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

}  // namespace srtpgate::testutil
