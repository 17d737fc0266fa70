// libFuzzer target: a live inbound srtp::Session fed bursts of hostile packets.
//
// Raw fuzz bytes alone almost never get past the authentication tag, so the input also steers a
// sender session with the same key: it chooses sequence numbers, SSRCs, ROCs, header shape and
// payload length, the sender protects, and then the input may flip one byte. The receiver thus
// sees valid packets, replays, reorderings, forgeries next to valid ones, and plain garbage, in
// bursts longer than Session::kMaxBurst.
//
// Input layout:
//   byte 0: profile (bits 0..2, modulo 6), backend (bit 3), MKI (bit 4), accept_new_ssrcs
//           (bit 5, inverted), which burst API (bit 6: unprotect_rtp_burst)
//   byte 1: max_streams (bits 0..1: 1..4), replay window (bits 2..3: 64, 128, 1024, 32768)
//   then records, each starting with an op byte; bit 7 of the op flushes the bursts after it:
//     op&3 == 0: raw SRTP        len(2, big-endian) bytes
//     op&3 == 1: raw SRTCP       len(2) bytes
//     op&3 == 2: protected RTP   seq(2) ssrc(1) roc(1) shape(1) payload_len(1) flip_at(1) flip(1)
//     op&3 == 3: protected RTCP  ssrc(1) words(1) flip_at(1) flip(1)
//   bits 2..4 of the op add tailroom (0..7 bytes) to the buffer of raw packets.
//
// Invariants checked (a failure aborts, which libFuzzer reports as a crash):
//   - the returned count equals the number of Status::ok entries;
//   - every status is a defined value;
//   - an ok packet has len <= its original length <= capacity;
//   - an ok protected packet that was not modified unprotects to the bytes the sender protected;
//   - a protected packet with a byte flipped is never ok (that would be a forgery).
// ASan checks that nothing is read or written outside [data, data + capacity): every packet
// lives in its own heap block of exactly `capacity` bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "srtpgate/crypto.h"
#include "srtpgate/master_key.h"
#include "srtpgate/packet.h"
#include "srtpgate/profile.h"
#include "srtpgate/session.h"

namespace {

using srtpgate::srtp::Direction;
using srtpgate::srtp::kAllProfiles;
using srtpgate::srtp::MasterKey;
using srtpgate::srtp::PacketView;
using srtpgate::srtp::Profile;
using srtpgate::srtp::Session;
using srtpgate::srtp::SessionConfig;
using srtpgate::srtp::Status;
namespace crypto = srtpgate::crypto;

constexpr std::size_t kMaxPackets = 200;  // per input, so one input stays fast
constexpr uint32_t kSsrcBase = 0x5eed0000;

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_srtp_unprotect: invariant violated: %s\n", what);
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
  // Up to n bytes (fewer at the end of the input).
  std::vector<uint8_t> bytes(std::size_t n) {
    const std::size_t k = std::min<std::size_t>(n, static_cast<std::size_t>(end_ - p_));
    std::vector<uint8_t> out(p_, p_ + k);
    p_ += k;
    return out;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

std::shared_ptr<crypto::Engine> engine_for(crypto::Backend b) {
  // One engine per backend for the whole run: creating IPsec-MB managers per input is slow.
  static std::shared_ptr<crypto::Engine> engines[2];
  auto& e = engines[b == crypto::Backend::ipsecmb ? 0 : 1];
  if (!e) {
    auto r = crypto::make_engine(b);
    if (!r) {
      return nullptr;  // no AES-NI: the other backend still runs
    }
    e = *r;
  }
  return e;
}

MasterKey fixed_key(Profile profile, bool with_mki) {
  const auto pp = srtpgate::srtp::params(profile);
  std::vector<uint8_t> ks(pp.master_key_len + pp.master_salt_len);
  for (std::size_t i = 0; i < ks.size(); ++i) {
    ks[i] = static_cast<uint8_t>(0xa5 ^ (i * 7));
  }
  auto k = MasterKey::from_concatenated(profile, ks);
  check(k.ok(), "fixed key rejected");
  if (with_mki) {
    k->mki = {0x00, 0x00, 0x00, 0x2a};
  }
  return std::move(k.value());
}

// One packet of a burst, in its own exactly-sized heap block.
struct Packet {
  std::unique_ptr<uint8_t[]> buf;
  uint32_t len = 0;
  uint32_t capacity = 0;
  std::vector<uint8_t> plain;  // protected packets: what the sender protected
  bool generated = false;
  bool flipped = false;
};

Packet raw_packet(const std::vector<uint8_t>& bytes, uint32_t tailroom) {
  Packet p;
  p.len = static_cast<uint32_t>(bytes.size());
  p.capacity = p.len + tailroom;
  p.buf.reset(new uint8_t[p.capacity == 0 ? 1 : p.capacity]);
  if (!bytes.empty()) {
    std::memcpy(p.buf.get(), bytes.data(), bytes.size());
  }
  return p;
}

struct Harness {
  std::unique_ptr<Session> rx;
  std::unique_ptr<Session> tx;
  bool use_burst_api = false;
  std::vector<Packet> rtp;
  std::vector<Packet> rtcp;
  std::size_t total = 0;

  void flush_one(std::vector<Packet>& pkts, bool is_rtcp) {
    if (pkts.empty()) {
      return;
    }
    std::vector<PacketView> views(pkts.size());
    std::vector<uint32_t> before(pkts.size());
    for (std::size_t i = 0; i < pkts.size(); ++i) {
      views[i] = PacketView{pkts[i].buf.get(), pkts[i].len, pkts[i].capacity};
      before[i] = pkts[i].len;
    }
    std::vector<Status> status(pkts.size(), Status::count_);
    std::size_t ok;
    if (is_rtcp) {
      ok = rx->unprotect_rtcp(views, status);
    } else if (use_burst_api) {
      std::vector<Session*> sessions(pkts.size(), rx.get());
      ok = srtpgate::srtp::unprotect_rtp_burst(sessions, views, status);
    } else {
      ok = rx->unprotect_rtp(views, status);
    }
    std::size_t counted = 0;
    for (std::size_t i = 0; i < pkts.size(); ++i) {
      check(static_cast<std::size_t>(status[i]) < srtpgate::srtp::kStatusCount,
            "status out of range");
      check(views[i].data == pkts[i].buf.get(), "data pointer moved");
      check(views[i].capacity == pkts[i].capacity, "capacity changed");
      if (status[i] != Status::ok) {
        continue;
      }
      ++counted;
      check(views[i].len <= before[i], "unprotect grew the packet");
      check(views[i].len <= views[i].capacity, "len > capacity");
      if (pkts[i].generated) {
        check(!pkts[i].flipped, "a packet with a flipped byte was accepted (forgery)");
        check(views[i].len == pkts[i].plain.size() &&
                  std::memcmp(views[i].data, pkts[i].plain.data(), views[i].len) == 0,
              "unprotect did not give back what was protected");
      }
    }
    check(counted == ok, "returned ok count differs from the ok statuses");
    pkts.clear();
  }

  void flush() {
    flush_one(rtp, false);
    flush_one(rtcp, true);
  }

  // Protects `plain` with the sender, then maybe flips one byte; queues it for the receiver.
  void add_protected(std::vector<uint8_t> plain, bool is_rtcp, uint8_t flip_at, uint8_t flip) {
    Packet p;
    const std::size_t overhead = is_rtcp ? tx->rtcp_overhead() : tx->rtp_overhead();
    p.capacity = static_cast<uint32_t>(plain.size() + overhead);
    p.len = static_cast<uint32_t>(plain.size());
    p.buf.reset(new uint8_t[p.capacity]);
    std::memcpy(p.buf.get(), plain.data(), plain.size());
    PacketView v{p.buf.get(), p.len, p.capacity};
    Status st = Status::count_;
    const std::size_t ok = is_rtcp ? tx->protect_rtcp({&v, 1}, {&st, 1})
                                   : tx->protect_rtp({&v, 1}, {&st, 1});
    check(ok == (st == Status::ok ? 1u : 0u), "protect: ok count differs from status");
    if (st != Status::ok) {
      return;  // e.g. stream limit on the sender: nothing to send
    }
    check(v.len <= v.capacity && v.len <= plain.size() + overhead, "protect overran");
    p.len = v.len;
    if (flip != 0) {
      p.buf[flip_at % p.len] ^= flip;
      p.flipped = true;
    }
    p.plain = std::move(plain);
    p.generated = true;
    (is_rtcp ? rtcp : rtp).push_back(std::move(p));
  }
};

std::vector<uint8_t> make_rtp(uint16_t seq, uint32_t ssrc, uint8_t shape, uint8_t payload_len) {
  const uint8_t csrc_count = shape & 0x3;
  const bool extension = (shape & 0x4) != 0;
  const bool padding = (shape & 0x8) != 0;
  std::vector<uint8_t> p;
  p.push_back(static_cast<uint8_t>(0x80 | (padding ? 0x20 : 0) | (extension ? 0x10 : 0) |
                                   csrc_count));
  p.push_back(static_cast<uint8_t>(shape & 0x80 ? 0x80 | 96 : 0));  // marker, payload type
  p.push_back(static_cast<uint8_t>(seq >> 8));
  p.push_back(static_cast<uint8_t>(seq));
  for (int i = 0; i < 4; ++i) {
    p.push_back(static_cast<uint8_t>(seq * 160 >> (24 - 8 * i)));  // timestamp
  }
  for (int i = 0; i < 4; ++i) {
    p.push_back(static_cast<uint8_t>(ssrc >> (24 - 8 * i)));
  }
  for (int c = 0; c < csrc_count; ++c) {
    for (int i = 0; i < 4; ++i) {
      p.push_back(static_cast<uint8_t>(0xc0 + c));
    }
  }
  if (extension) {
    const uint8_t words = (shape >> 4) & 0x3;
    p.insert(p.end(), {0xbe, 0xde, 0x00, words});  // RFC 8285 one-byte header extension
    p.insert(p.end(), 4u * words, 0x00);
  }
  for (uint8_t i = 0; i < payload_len; ++i) {
    p.push_back(static_cast<uint8_t>(i * 13 + seq));
  }
  if (padding) {
    const uint8_t pad = static_cast<uint8_t>(1 + ((shape >> 6) & 0x1) * 3);
    p.insert(p.end(), pad - 1, 0x00);
    p.push_back(pad);
  }
  return p;
}

std::vector<uint8_t> make_rtcp(uint32_t ssrc, uint8_t words) {
  // An RR (PT 201) with `words` 32-bit words after the SSRC.
  std::vector<uint8_t> p = {0x80, 201, 0, static_cast<uint8_t>(1 + words)};
  for (int i = 0; i < 4; ++i) {
    p.push_back(static_cast<uint8_t>(ssrc >> (24 - 8 * i)));
  }
  for (uint32_t i = 0; i < 4u * words; ++i) {
    p.push_back(static_cast<uint8_t>(i));
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 2) {
    return 0;
  }
  Reader in(data, size);
  const uint8_t b0 = in.u8();
  const uint8_t b1 = in.u8();
  const Profile profile = kAllProfiles[(b0 & 0x7) % 6];
  const auto backend = (b0 & 0x8) ? crypto::Backend::openssl : crypto::Backend::ipsecmb;
  auto engine = engine_for(backend);
  if (!engine) {
    return 0;
  }
  static constexpr uint32_t kWindows[] = {64, 128, 1024, 32768};
  SessionConfig cfg;
  cfg.profile = profile;
  cfg.max_streams = 1 + (b1 & 0x3);
  cfg.replay_window = kWindows[(b1 >> 2) & 0x3];
  cfg.accept_new_ssrcs = (b0 & 0x20) == 0;
  const MasterKey key = fixed_key(profile, (b0 & 0x10) != 0);

  Harness h;
  h.use_burst_api = (b0 & 0x40) != 0;
  cfg.direction = Direction::inbound;
  auto rx = Session::create(engine, cfg, key);
  check(rx.ok(), "inbound session not created");
  h.rx = std::move(rx.value());
  SessionConfig tx_cfg = cfg;
  tx_cfg.direction = Direction::outbound;
  tx_cfg.max_streams = 4;
  tx_cfg.accept_new_ssrcs = true;
  tx_cfg.allow_repeat_tx = true;  // so the fuzzer can send the same index twice (a replay)
  auto tx = Session::create(engine, tx_cfg, key);
  check(tx.ok(), "outbound session not created");
  h.tx = std::move(tx.value());
  if (!cfg.accept_new_ssrcs) {
    (void)h.rx->add_stream(kSsrcBase);  // one configured SSRC; the others get no_stream
  }

  while (!in.empty() && h.total < kMaxPackets) {
    const uint8_t op = in.u8();
    const uint32_t tailroom = (op >> 2) & 0x7;
    switch (op & 0x3) {
      case 0:
        h.rtp.push_back(raw_packet(in.bytes(in.u16() & 0x7ff), tailroom));
        break;
      case 1:
        h.rtcp.push_back(raw_packet(in.bytes(in.u16() & 0x7ff), tailroom));
        break;
      case 2: {
        const uint16_t seq = in.u16();
        const uint8_t ssrc_sel = in.u8();
        const uint8_t roc = in.u8();
        const uint8_t shape = in.u8();
        const uint8_t payload_len = in.u8();
        const uint8_t flip_at = in.u8();
        const uint8_t flip = in.u8();
        const uint32_t ssrc = kSsrcBase + (ssrc_sel & 0x7);
        if (ssrc_sel & 0x80) {
          // A ROC hand-over (RFC 3711 §3.3.1) applied to both ends, as a moved call would.
          (void)h.tx->set_roc(ssrc, roc & 0x3);
          (void)h.rx->set_roc(ssrc, roc & 0x3);
        }
        h.add_protected(make_rtp(seq, ssrc, shape, payload_len), false, flip_at, flip);
        break;
      }
      case 3: {
        const uint8_t ssrc_sel = in.u8();
        const uint8_t words = in.u8();
        const uint8_t flip_at = in.u8();
        const uint8_t flip = in.u8();
        h.add_protected(make_rtcp(kSsrcBase + (ssrc_sel & 0x7), words & 0x3f), true, flip_at,
                        flip);
        break;
      }
    }
    ++h.total;
    if (op & 0x80) {
      h.flush();
    }
  }
  h.flush();
  return 0;
}
