// What an attacker on the path can try: replays, bit flips, truncation, lying headers, packets
// without room for the tag, and forgeries meant to move the replay window or fill the stream
// table. Every packet under test sits in a heap block of exactly its capacity, so a build with
// -Db_sanitize=address catches any read or write past it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "packet_builders.h"
#include "srtpgate/rtp.h"
#include "srtpgate/session.h"

namespace srtpgate::srtp {
namespace {

using testutil::Bytes;
using testutil::ExactBuffer;
using testutil::Op;
using testutil::Rng;
using testutil::run_one;

constexpr uint64_t kSeed = 0xa77ac4'0000'0001ull;
constexpr uint32_t kWindow = 128;

std::size_t ok_count(const Session& s, bool rtcp) {
  return (rtcp ? s.stats().rtcp : s.stats().rtp)[static_cast<std::size_t>(Status::ok)];
}

class AttackTest : public ::testing::TestWithParam<std::tuple<crypto::Backend, Profile>> {
 protected:
  void SetUp() override {
    profile_ = std::get<1>(GetParam());
    engine_ = testutil::engine_for(std::get<0>(GetParam()));
    ASSERT_NE(engine_, nullptr);
    rng_.seed(kSeed ^ (static_cast<uint64_t>(std::get<0>(GetParam())) << 8) ^
              static_cast<uint64_t>(profile_));
  }
  std::unique_ptr<Session> make(Direction d, const MasterKey& k, bool allow_repeat_tx = false) {
    SessionConfig c;
    c.replay_window = kWindow;
    c.allow_repeat_tx = allow_repeat_tx;
    return testutil::make_session(engine_, profile_, d, k, c);
  }
  // A plaintext with CSRCs, a one-byte extension and padding: every header part an attacker
  // might touch.
  Bytes rich_rtp(uint32_t ssrc, uint16_t seq, uint32_t payload = 30, bool padding = true) {
    testutil::RtpShape s;
    s.csrc_count = 2;
    s.ext = testutil::Ext::one_byte;
    s.ext_target = 9;
    s.payload_len = payload;
    s.padding = padding && payload > 0;
    return testutil::build_rtp(rng_, ssrc, seq, 1234, s);
  }
  Bytes protect(Session& tx, Bytes plain, bool rtcp) {
    const Status st = run_one(tx, rtcp ? Op::protect_rtcp : Op::protect_rtp, plain);
    EXPECT_EQ(st, Status::ok) << name(st);
    return plain;
  }
  Status unprotect(Session& rx, Bytes packet, bool rtcp) {
    // Exactly the packet's length: unprotect must not need tailroom.
    return run_one(rx, rtcp ? Op::unprotect_rtcp : Op::unprotect_rtp, packet, packet.size());
  }

  Profile profile_{};
  std::shared_ptr<crypto::Engine> engine_;
  Rng rng_;
};

TEST_P(AttackTest, ReplaysAreRejected) {
  const MasterKey key = testutil::random_key(rng_, profile_);
  for (bool rtcp : {false, true}) {
    SCOPED_TRACE(rtcp ? "RTCP" : "RTP");
    auto tx = make(Direction::outbound, key);
    auto rx = make(Direction::inbound, key);
    const uint32_t ssrc = static_cast<uint32_t>(rng_());
    const uint16_t s0 = 40000;
    // Indices: RTP s0 + n, SRTCP the n-th packet protected.
    std::vector<Bytes> sent;
    for (uint32_t n = 0; n < 400; ++n) {
      sent.push_back(protect(*tx, rtcp ? testutil::build_rtcp(rng_, ssrc)
                                       : rich_rtp(ssrc, static_cast<uint16_t>(s0 + n)),
                             rtcp));
    }
    for (uint32_t n = 0; n < 10; ++n) {
      ASSERT_EQ(unprotect(*rx, sent[n], rtcp), Status::ok) << n;
    }
    for (uint32_t n = 0; n < 10; ++n) {
      EXPECT_EQ(unprotect(*rx, sent[n], rtcp), Status::replay_duplicate) << n;
    }
    // Jump ahead: the window now ends at 399, so 399 - 127 is the oldest index still accepted.
    ASSERT_EQ(unprotect(*rx, sent[399], rtcp), Status::ok);
    EXPECT_EQ(unprotect(*rx, sent[399], rtcp), Status::replay_duplicate);
    EXPECT_EQ(unprotect(*rx, sent[399 - kWindow], rtcp), Status::replay_old);
    EXPECT_EQ(unprotect(*rx, sent[5], rtcp), Status::replay_old);
    EXPECT_EQ(unprotect(*rx, sent[100], rtcp), Status::replay_old);
    EXPECT_EQ(unprotect(*rx, sent[399 - kWindow + 1], rtcp), Status::ok);
    EXPECT_EQ(unprotect(*rx, sent[399 - kWindow + 1], rtcp), Status::replay_duplicate);
    EXPECT_EQ(unprotect(*rx, sent[398], rtcp), Status::ok);
    const auto& c = rtcp ? rx->stats().rtcp : rx->stats().rtp;
    EXPECT_EQ(c[static_cast<std::size_t>(Status::ok)], 13u);
    EXPECT_EQ(c[static_cast<std::size_t>(Status::replay_duplicate)], 12u);
    EXPECT_EQ(c[static_cast<std::size_t>(Status::replay_old)], 3u);
  }
}

// Flips every bit of a protected packet, one at a time, with and without an MKI. None may pass,
// none may create a stream, and the untouched packet still passes afterwards.
TEST_P(AttackTest, EverySingleBitFlipIsRejected) {
  for (bool rtcp : {false, true}) {
    for (bool with_mki : {false, true}) {
      SCOPED_TRACE(std::string(rtcp ? "RTCP" : "RTP") + (with_mki ? " with MKI" : ""));
      const MasterKey key =
          testutil::random_key(rng_, profile_, with_mki ? Bytes{0x10, 0x20, 0x30} : Bytes{});
      auto tx = make(Direction::outbound, key);
      auto rx = make(Direction::inbound, key);
      const uint32_t ssrc = static_cast<uint32_t>(rng_());
      const Bytes packet =
          protect(*tx, rtcp ? testutil::build_rtcp(rng_, ssrc) : rich_rtp(ssrc, 777), rtcp);
      uint64_t accepted = 0;
      std::string first;
      for (std::size_t bit = 0; bit < packet.size() * 8; ++bit) {
        Bytes forged = packet;
        forged[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        const Status st = unprotect(*rx, forged, rtcp);
        if (st == Status::ok && accepted++ == 0) {
          first = "bit " + std::to_string(bit) + " of " + testutil::hex(packet);
        }
      }
      EXPECT_EQ(accepted, 0u) << "first accepted flip: " << first;
      EXPECT_EQ(rx->stream_count(), 0u);
      EXPECT_EQ(ok_count(*rx, rtcp), 0u);
      EXPECT_EQ(unprotect(*rx, packet, rtcp), Status::ok);
      EXPECT_EQ(rx->stream_count(), 1u);
    }
  }
}

TEST_P(AttackTest, TruncatedProtectedPacketsAreRejected) {
  for (bool rtcp : {false, true}) {
    for (bool with_mki : {false, true}) {
      SCOPED_TRACE(std::string(rtcp ? "RTCP" : "RTP") + (with_mki ? " with MKI" : ""));
      const MasterKey key = testutil::random_key(rng_, profile_, with_mki ? Bytes{7, 7} : Bytes{});
      auto tx = make(Direction::outbound, key);
      auto rx = make(Direction::inbound, key);
      const uint32_t ssrc = static_cast<uint32_t>(rng_());
      const Bytes packet =
          protect(*tx, rtcp ? testutil::build_rtcp(rng_, ssrc) : rich_rtp(ssrc, 9), rtcp);
      for (std::size_t n = 0; n < packet.size(); ++n) {
        ExactBuffer b(packet.data(), n, n);
        Status st = Status::count_;
        if (rtcp) {
          rx->unprotect_rtcp({&b.view(), 1}, {&st, 1});
        } else {
          rx->unprotect_rtp({&b.view(), 1}, {&st, 1});
        }
        EXPECT_NE(st, Status::ok) << "length " << n << " of " << packet.size();
        EXPECT_NE(st, Status::count_) << "no status for length " << n;
      }
      EXPECT_EQ(rx->stream_count(), 0u);
      EXPECT_EQ(unprotect(*rx, packet, rtcp), Status::ok);
    }
  }
}

TEST_P(AttackTest, TruncatedPlaintextIsMalformedOnProtect) {
  const MasterKey key = testutil::random_key(rng_, profile_);
  auto tx = make(Direction::outbound, key, /*allow_repeat_tx=*/true);
  const uint32_t ssrc = static_cast<uint32_t>(rng_());
  const Bytes rtp_packet = rich_rtp(ssrc, 5, 40, /*padding=*/false);
  const auto h = rtp::parse_header(rtp_packet);
  ASSERT_TRUE(h.has_value());
  for (std::size_t n = 0; n <= rtp_packet.size(); ++n) {
    ExactBuffer b(rtp_packet.data(), n, n + tx->rtp_overhead());
    Status st = Status::count_;
    tx->protect_rtp({&b.view(), 1}, {&st, 1});
    EXPECT_EQ(st, n < h->header_len ? Status::malformed : Status::ok) << "length " << n;
  }
  std::vector<std::size_t> ends;
  const Bytes rtcp_packet = testutil::build_rtcp(rng_, ssrc, &ends);
  for (std::size_t n = 0; n <= rtcp_packet.size(); ++n) {
    ExactBuffer b(rtcp_packet.data(), n, n + tx->rtcp_overhead());
    Status st = Status::count_;
    tx->protect_rtcp({&b.view(), 1}, {&st, 1});
    // A compound cut exactly between two of its packets is still a valid compound.
    const bool boundary = std::find(ends.begin(), ends.end(), n) != ends.end();
    EXPECT_EQ(st, boundary ? Status::ok : Status::malformed) << "length " << n;
  }
}

// Headers whose CSRC count or extension length run past the end of the packet.
TEST_P(AttackTest, LyingHeadersAreMalformed) {
  const MasterKey key = testutil::random_key(rng_, profile_);
  auto tx = make(Direction::outbound, key);
  auto rx = make(Direction::inbound, key);
  const uint32_t ssrc = 0x01020304;
  struct Case {
    std::string what;
    Bytes packet;
  };
  std::vector<Case> rtp_cases;
  auto base = [&](uint8_t b0, std::size_t len) {
    Bytes p = testutil::random_bytes(rng_, len);
    p[0] = b0;
    p[1] = 0x60;
    if (len >= 12) {
      testutil::put_be32(&p[8], ssrc);
    }
    return p;
  };
  rtp_cases.push_back({"15 CSRCs in 40 bytes", base(0x8f, 40)});
  rtp_cases.push_back({"15 CSRCs in 71 bytes", base(0x8f, 71)});
  rtp_cases.push_back({"1 CSRC in 15 bytes", base(0x81, 15)});
  {
    Bytes p = base(0x90, 48);
    testutil::put_be16(&p[12], 0xBEDE);
    testutil::put_be16(&p[14], 0xFFFF);
    rtp_cases.push_back({"extension of 65535 words", p});
  }
  {
    Bytes p = base(0x90, 48);
    testutil::put_be16(&p[12], 0xBEDE);
    testutil::put_be16(&p[14], 9);  // 12 + 4 + 36 = 52 > 48
    rtp_cases.push_back({"extension one word past the end", p});
  }
  rtp_cases.push_back({"extension header cut", base(0x90, 14)});
  {
    Bytes p = base(0x93, 60);  // 3 CSRCs, then an extension that overruns
    testutil::put_be16(&p[24], 0x1000);
    testutil::put_be16(&p[26], 200);
    rtp_cases.push_back({"CSRCs then a long extension", p});
  }
  rtp_cases.push_back({"version 0", base(0x00, 40)});
  rtp_cases.push_back({"version 1", base(0x40, 40)});
  rtp_cases.push_back({"version 3", base(0xc0, 40)});
  rtp_cases.push_back({"11 bytes", base(0x80, 11)});
  for (const auto& c : rtp_cases) {
    SCOPED_TRACE("RTP: " + c.what);
    ExactBuffer p(c.packet, c.packet.size() + tx->rtp_overhead());
    Status st = Status::count_;
    tx->protect_rtp({&p.view(), 1}, {&st, 1});
    EXPECT_EQ(st, Status::malformed);
    ExactBuffer u(c.packet, c.packet.size());
    rx->unprotect_rtp({&u.view(), 1}, {&st, 1});
    EXPECT_EQ(st, Status::malformed);
  }

  std::vector<Case> rtcp_cases;
  {
    Bytes p = testutil::build_rtcp(rng_, ssrc);
    testutil::put_be16(&p[2], 0xFFFF);
    rtcp_cases.push_back({"first length 65535 words", p});
  }
  {
    std::vector<std::size_t> ends;
    Bytes p;
    do {
      ends.clear();
      p = testutil::build_rtcp(rng_, ssrc, &ends);
    } while (ends.size() < 2);
    testutil::put_be16(&p[ends[0] + 2],
                       static_cast<uint16_t>(testutil::get_be16(&p[ends[0] + 2]) + 1));
    rtcp_cases.push_back({"second length one word past the end", p});
  }
  {
    Bytes p = testutil::build_rtcp(rng_, ssrc);
    p[0] = static_cast<uint8_t>((p[0] & 0x3f) | 0x40);
    rtcp_cases.push_back({"version 1", p});
  }
  {
    Bytes p = testutil::build_rtcp(rng_, ssrc);
    p.resize(p.size() + 2);
    rtcp_cases.push_back({"two stray bytes at the end", p});
  }
  rtcp_cases.push_back({"7 bytes", Bytes{0x80, 200, 0, 6, 1, 2, 3}});
  for (const auto& c : rtcp_cases) {
    SCOPED_TRACE("RTCP: " + c.what);
    ExactBuffer p(c.packet, c.packet.size() + tx->rtcp_overhead());
    Status st = Status::count_;
    tx->protect_rtcp({&p.view(), 1}, {&st, 1});
    EXPECT_EQ(st, Status::malformed);
    // As SRTCP (with room for a made-up trailer) it must not pass either.
    Bytes srtcp = c.packet;
    const Bytes trailer = testutil::random_bytes(rng_, tx->rtcp_overhead());
    srtcp.insert(srtcp.end(), trailer.begin(), trailer.end());
    ExactBuffer u(srtcp, srtcp.size());
    rx->unprotect_rtcp({&u.view(), 1}, {&st, 1});
    EXPECT_NE(st, Status::ok);
  }
  EXPECT_EQ(rx->stream_count(), 0u);
  EXPECT_EQ(tx->stream_count(), 0u);
}

TEST_P(AttackTest, ProtectWithoutTailroomFails) {
  for (bool rtcp : {false, true}) {
    for (bool with_mki : {false, true}) {
      SCOPED_TRACE(std::string(rtcp ? "RTCP" : "RTP") + (with_mki ? " with MKI" : ""));
      const Bytes mki = with_mki ? Bytes{1, 2, 3, 4, 5} : Bytes{};
      const MasterKey key = testutil::random_key(rng_, profile_, mki);
      auto tx = make(Direction::outbound, key);
      auto rx = make(Direction::inbound, key);
      const auto pp = params(profile_);
      const std::size_t overhead = rtcp ? tx->rtcp_overhead() : tx->rtp_overhead();
      // RFC 3711 §3.1 / §3.4 and RFC 7714: tag, MKI and (SRTCP) E flag with index.
      EXPECT_EQ(overhead, (rtcp ? pp.rtcp_tag_len + 4u : pp.rtp_tag_len) + mki.size());
      const uint32_t ssrc = static_cast<uint32_t>(rng_());
      for (uint16_t seq = 100; seq < 110; ++seq) {
        const Bytes plain = rtcp ? testutil::build_rtcp(rng_, ssrc) : rich_rtp(ssrc, seq);
        for (std::size_t short_by : {overhead, overhead - 1, std::size_t{1}}) {
          Bytes p = plain;
          EXPECT_EQ(run_one(*tx, rtcp ? Op::protect_rtcp : Op::protect_rtp, p,
                            plain.size() + overhead - short_by),
                    Status::no_tailroom)
              << "short by " << short_by;
        }
        // Failing for want of room must not use up the index: the retry is not a replay.
        Bytes p = plain;
        ASSERT_EQ(run_one(*tx, rtcp ? Op::protect_rtcp : Op::protect_rtp, p,
                          plain.size() + overhead),
                  Status::ok);
        EXPECT_EQ(p.size(), plain.size() + overhead);
        EXPECT_EQ(unprotect(*rx, p, rtcp), Status::ok) << seq;
      }
      const auto& c = rtcp ? tx->stats().rtcp : tx->stats().rtp;
      EXPECT_EQ(c[static_cast<std::size_t>(Status::no_tailroom)], 30u);
    }
  }
}

// Forgeries (bad tags, garbage, indices far ahead, new SSRCs) must not move the replay window,
// the ROC, or the stream table: the valid packets around them still pass.
TEST_P(AttackTest, ForgeriesNeverMoveTheWindowOrCreateStreams) {
  for (bool rtcp : {false, true}) {
    SCOPED_TRACE(rtcp ? "RTCP" : "RTP");
    const MasterKey key = testutil::random_key(rng_, profile_);
    auto tx = make(Direction::outbound, key);
    auto rx = make(Direction::inbound, key);
    const uint32_t ssrc = static_cast<uint32_t>(rng_()) | 1;
    // RTP: with the top at sequence 40030, a forged sequence 30000 ahead reads as the next ROC,
    // so a window that moved on a forgery would also move the ROC.
    const uint16_t s0 = 40000;
    std::vector<Bytes> plain, sent;
    for (uint32_t n = 0; n < 60; ++n) {
      plain.push_back(rtcp ? testutil::build_rtcp(rng_, ssrc)
                           : rich_rtp(ssrc, static_cast<uint16_t>(s0 + n)));
      sent.push_back(protect(*tx, plain.back(), rtcp));
    }
    for (uint32_t n = 0; n <= 30; ++n) {
      if (n != 20) {
        ASSERT_EQ(unprotect(*rx, sent[n], rtcp), Status::ok) << n;
      }
    }
    const auto roc_before = rx->roc(ssrc);
    const std::size_t streams_before = rx->stream_count();

    std::vector<std::pair<std::string, Bytes>> forged;
    auto with_bit = [&](uint32_t n, std::size_t byte) {
      Bytes p = sent[n];
      p[byte % p.size()] ^= 0x04;
      return p;
    };
    forged.emplace_back("next packet, payload bit flipped", with_bit(31, sent[31].size() / 2));
    forged.emplace_back("next packet, tag bit flipped", with_bit(31, sent[31].size() - 1));
    forged.emplace_back("held-back packet, bit flipped", with_bit(20, 20));
    for (uint32_t ahead : {1u, 100u, 1000u, 20000u, 30000u, 32767u, 40000u}) {
      Bytes p = sent[31];
      const auto h = rtp::parse_header(p);
      ASSERT_TRUE(rtcp || h.has_value());
      for (std::size_t i = rtcp ? 8 : h->header_len; i < p.size(); ++i) {
        p[i] = static_cast<uint8_t>(rng_());
      }
      if (rtcp) {
        // The E flag and SRTCP index: before the tag for AES-CM (RFC 3711 §3.4), after it for
        // GCM (RFC 7714 §9); no MKI here.
        const auto pp = params(profile_);
        const std::size_t at = pp.aead ? p.size() - 4 : p.size() - pp.rtcp_tag_len - 4;
        testutil::put_be32(&p[at], 0x80000000u | (31 + ahead));
      } else {
        testutil::put_be16(&p[2], static_cast<uint16_t>(s0 + 31 + ahead));
      }
      forged.emplace_back("garbage " + std::to_string(ahead) + " ahead", p);
    }
    {
      Bytes p = sent[32];
      testutil::put_be32(&p[rtcp ? 4 : 8], ssrc ^ 0x00ff0000u);
      forged.emplace_back("valid packet under a new SSRC", p);
      Bytes q = testutil::random_bytes(rng_, p.size());
      q[0] = 0x80;
      q[1] = rtcp ? 200 : 0x60;
      if (rtcp) testutil::put_be16(&q[2], 6);
      forged.emplace_back("garbage under a random SSRC", q);
    }
    for (const auto& [what, p] : forged) {
      EXPECT_NE(unprotect(*rx, p, rtcp), Status::ok) << what;
    }
    EXPECT_EQ(rx->stream_count(), streams_before);
    EXPECT_EQ(rx->roc(ssrc), roc_before);
    EXPECT_EQ(ok_count(*rx, rtcp), 30u);

    // A burst with a forged copy of packet 32 ahead of the real one: only the real one passes.
    {
      Bytes f = with_bit(32, sent[32].size() / 2);
      ExactBuffer a(f, f.size());
      ExactBuffer b(sent[32], sent[32].size());
      PacketView v[2] = {a.view(), b.view()};
      Status st[2] = {Status::count_, Status::count_};
      if (rtcp) {
        rx->unprotect_rtcp(v, st);
      } else {
        rx->unprotect_rtp(v, st);
      }
      EXPECT_NE(st[0], Status::ok);
      EXPECT_EQ(st[1], Status::ok);
    }
    if (!rtcp) {
      // Two forgeries that each look less than 2^15 ahead of the one before them, then a valid
      // packet, all in one burst: an index estimate that trusted unverified packets earlier in
      // the burst would put the valid one a ROC ahead (RFC 3711 §3.3.1 estimates from the highest
      // *authenticated* index).
      Bytes f1 = sent[34], f2 = sent[34];
      testutil::put_be16(&f1[2], static_cast<uint16_t>(s0 + 34 + 30000));
      testutil::put_be16(&f2[2], static_cast<uint16_t>(s0 + 34 + 60000));
      ExactBuffer a(f1, f1.size()), b(f2, f2.size()), v(sent[34], sent[34].size());
      PacketView views[3] = {a.view(), b.view(), v.view()};
      Status st[3] = {Status::count_, Status::count_, Status::count_};
      rx->unprotect_rtp(views, st);
      EXPECT_NE(st[0], Status::ok);
      EXPECT_NE(st[1], Status::ok);
      EXPECT_EQ(st[2], Status::ok) << "valid packet after two forgeries in its burst";
    }
    EXPECT_EQ(unprotect(*rx, sent[31], rtcp), Status::ok) << "just above the old top";
    EXPECT_EQ(unprotect(*rx, sent[20], rtcp), Status::ok) << "held back, inside the window";
    EXPECT_EQ(unprotect(*rx, sent[33], rtcp), Status::ok);
    EXPECT_EQ(rx->stream_count(), streams_before);
    if (!rtcp) {
      EXPECT_EQ(rx->roc(ssrc), std::optional<uint32_t>(0));
    }
  }
}

// A stream with no packet committed yet estimates its first index as ROC || SEQ (RFC 3711
// §3.3.1), which says nothing about where a later packet of the same burst falls. A forgery
// between two genuine packets of the stream's first burst, close enough to each, must not decide
// the later one's index: the burst must give what the genuine packets give one at a time.
// Late packet one ROC back (SEQ 50000 after SEQ 0): with a preset ROC of 5 and a wide window it
// is accepted at 4 || 50000; on a new stream (ROC 0) it is before index 0, so replay_old.
TEST_P(AttackTest, ForgeryInANewStreamsFirstBurstDoesNotSteerALaterPacket) {
  for (const bool preset : {false, true}) {
    SCOPED_TRACE(preset ? "ROC set to 5 before the first packet" : "new SSRC");
    const MasterKey key = testutil::random_key(rng_, profile_);
    const uint32_t ssrc = static_cast<uint32_t>(rng_()) | 1;
    const uint32_t roc = preset ? 5 : 0;
    // Two senders of the same stream, so each packet gets the index the test wants.
    auto tx_first = make(Direction::outbound, key);
    auto tx_late = make(Direction::outbound, key);
    if (preset) {
      ASSERT_TRUE(tx_first->set_roc(ssrc, roc));
      ASSERT_TRUE(tx_late->set_roc(ssrc, roc - 1));
    }
    const Bytes first = protect(*tx_first, rich_rtp(ssrc, 0), false);    // roc || 0
    const Bytes late = protect(*tx_late, rich_rtp(ssrc, 50000), false);  // roc - 1 || 50000
    Bytes forged = first;
    testutil::put_be16(&forged[2], 30000);  // 30000 after the first, 20000 before the late one

    SessionConfig c;
    c.replay_window = 32768;
    auto make_rx = [&] {
      auto rx = testutil::make_session(engine_, profile_, Direction::inbound, key, c);
      if (preset) {
        EXPECT_TRUE(rx->set_roc(ssrc, roc));
      }
      return rx;
    };
    auto one_at_a_time = make_rx();
    const Status want_first = unprotect(*one_at_a_time, first, false);
    const Status want_late = unprotect(*one_at_a_time, late, false);
    ASSERT_EQ(want_first, Status::ok);
    ASSERT_EQ(want_late, preset ? Status::ok : Status::replay_old) << name(want_late);

    auto rx = make_rx();
    ExactBuffer a(first, first.size()), b(forged, forged.size()), d(late, late.size());
    PacketView views[3] = {a.view(), b.view(), d.view()};
    Status st[3] = {Status::count_, Status::count_, Status::count_};
    rx->unprotect_rtp(views, st);
    EXPECT_EQ(st[0], want_first) << name(st[0]);
    EXPECT_NE(st[1], Status::ok);
    EXPECT_EQ(st[2], want_late) << name(st[2]);
    EXPECT_EQ(rx->roc(ssrc), one_at_a_time->roc(ssrc));
  }
}

// A view whose length claims more than its capacity is malformed, in every operation, and no
// byte past the capacity is read: the block ends there, so an AddressSanitizer build sees any
// read past it.
TEST_P(AttackTest, LengthPastCapacityIsMalformedAndUnread) {
  const MasterKey key = testutil::random_key(rng_, profile_);
  auto tx = make(Direction::outbound, key);
  auto rx = make(Direction::inbound, key);
  const Bytes valid = protect(*tx, rich_rtp(7, 1), false);
  for (const std::size_t capacity :
       {std::size_t{1}, std::size_t{8}, std::size_t{12}, std::size_t{16}, valid.size() - 1}) {
    for (const Op op : {Op::protect_rtp, Op::unprotect_rtp, Op::protect_rtcp, Op::unprotect_rtcp}) {
      std::unique_ptr<uint8_t[]> block(new uint8_t[capacity]);
      std::memcpy(block.get(), valid.data(), capacity);
      PacketView v{block.get(), static_cast<uint32_t>(valid.size()),
                   static_cast<uint32_t>(capacity)};
      Status st = Status::count_;
      const bool outbound = op == Op::protect_rtp || op == Op::protect_rtcp;
      testutil::run(outbound ? *tx : *rx, op, {&v, 1}, {&st, 1});
      EXPECT_EQ(st, Status::malformed)
          << "capacity " << capacity << " op " << static_cast<int>(op) << ": " << name(st);
    }
  }
}

// Many SSRCs of forged traffic: the stream table stays as it was, even at its cap.
TEST_P(AttackTest, ForgedFloodOfNewSsrcsCreatesNoStreams) {
  const MasterKey key = testutil::random_key(rng_, profile_);
  SessionConfig c;
  c.max_streams = 4;
  auto tx = make(Direction::outbound, key);
  auto rx = testutil::make_session(engine_, profile_, Direction::inbound, key, c);
  Bytes valid = protect(*tx, rich_rtp(42, 1), false);
  ASSERT_EQ(unprotect(*rx, valid, false), Status::ok);
  for (uint32_t i = 0; i < 2000; ++i) {
    Bytes p = valid;
    testutil::put_be32(&p[8], 1000 + i);
    p.back() ^= static_cast<uint8_t>(i | 1);
    EXPECT_NE(unprotect(*rx, p, false), Status::ok);
  }
  EXPECT_EQ(rx->stream_count(), 1u);
  for (uint32_t s = 2; s <= 4; ++s) {
    Bytes p = protect(*tx, rich_rtp(s, 1), false);
    EXPECT_EQ(unprotect(*rx, p, false), Status::ok) << "stream " << s;
  }
  EXPECT_EQ(rx->stream_count(), 4u);
  Bytes p = protect(*tx, rich_rtp(5, 1), false);
  EXPECT_EQ(unprotect(*rx, p, false), Status::stream_limit);
}

std::string param_name(const ::testing::TestParamInfo<AttackTest::ParamType>& info) {
  return std::string(crypto::name(std::get<0>(info.param))) + "_" +
         testutil::profile_label(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllProfiles, AttackTest,
                         ::testing::Combine(::testing::Values(crypto::Backend::ipsecmb,
                                                              crypto::Backend::openssl),
                                            ::testing::ValuesIn(kAllProfiles)),
                         param_name);

}  // namespace
}  // namespace srtpgate::srtp
