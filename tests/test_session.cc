// Session behaviour: bursts, streams, MKI, rekey, ROC hand-over, caps and key lifetime.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "srtpgate/session.h"

namespace srtpgate::srtp {
namespace {

struct Buf {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(1600);
  PacketView view(uint32_t len) { return PacketView{bytes.data(), len, 1600}; }
};

uint32_t make_rtp(Buf& b, uint32_t ssrc, uint16_t seq, uint32_t payload = 50) {
  uint8_t* p = b.bytes.data();
  p[0] = 0x80;
  p[1] = 0x00;
  p[2] = static_cast<uint8_t>(seq >> 8);
  p[3] = static_cast<uint8_t>(seq);
  std::memset(p + 4, 0x11, 4);
  p[8] = static_cast<uint8_t>(ssrc >> 24);
  p[9] = static_cast<uint8_t>(ssrc >> 16);
  p[10] = static_cast<uint8_t>(ssrc >> 8);
  p[11] = static_cast<uint8_t>(ssrc);
  for (uint32_t i = 0; i < payload; ++i) {
    p[12 + i] = static_cast<uint8_t>(seq + i);
  }
  return 12 + payload;
}

MasterKey key_for(Profile p, uint8_t seed, std::vector<uint8_t> mki = {},
                  uint64_t lifetime = kMaxSrtpLifetime) {
  const auto pp = params(p);
  std::vector<uint8_t> ks(pp.master_key_len + pp.master_salt_len);
  for (std::size_t i = 0; i < ks.size(); ++i) {
    ks[i] = static_cast<uint8_t>(seed * 31 + i);
  }
  auto k = MasterKey::from_concatenated(p, ks);
  EXPECT_TRUE(k);
  k->mki = std::move(mki);
  k->lifetime = lifetime;
  return std::move(k.value());
}

class SessionTest : public ::testing::TestWithParam<std::tuple<crypto::Backend, Profile>> {
 protected:
  void SetUp() override {
    auto e = crypto::make_engine(std::get<0>(GetParam()));
    ASSERT_TRUE(e) << e.message();
    engine_ = *e;
    profile_ = std::get<1>(GetParam());
  }
  std::unique_ptr<Session> make(Direction d, const MasterKey& k, SessionConfig c = {}) {
    c.profile = profile_;
    c.direction = d;
    auto s = Session::create(engine_, c, k);
    EXPECT_TRUE(s) << s.message();
    return std::move(s.value());
  }
  Status one(Session& s, Buf& b, uint32_t& len, bool protect) {
    PacketView v = b.view(len);
    Status st = Status::count_;
    if (protect) {
      s.protect_rtp({&v, 1}, {&st, 1});
    } else {
      s.unprotect_rtp({&v, 1}, {&st, 1});
    }
    len = v.len;
    return st;
  }
  std::shared_ptr<crypto::Engine> engine_;
  Profile profile_{};
};

TEST_P(SessionTest, LongBurstsRoundTripAndDuplicatesInOneBurstAreCaught) {
  auto key = key_for(profile_, 1);
  auto tx = make(Direction::outbound, key);
  auto rx = make(Direction::inbound, key);
  constexpr std::size_t kN = 150;  // more than two internal chunks
  std::vector<Buf> bufs(kN + 1);
  std::vector<PacketView> views(kN + 1);
  std::vector<uint32_t> plain_len(kN);
  for (std::size_t i = 0; i < kN; ++i) {
    plain_len[i] = make_rtp(bufs[i], 0x1000 + (i % 3), static_cast<uint16_t>(i), 20 + i);
    views[i] = bufs[i].view(plain_len[i]);
  }
  std::vector<Status> st(kN + 1);
  ASSERT_EQ(tx->protect_rtp({views.data(), kN}, st), kN);
  // Append a copy of packet 7 to the same burst: a duplicate.
  bufs[kN].bytes = bufs[7].bytes;
  views[kN] = bufs[kN].view(views[7].len);
  ASSERT_EQ(rx->unprotect_rtp(views, st), kN);
  EXPECT_EQ(st[kN], Status::replay_duplicate);
  for (std::size_t i = 0; i < kN; ++i) {
    ASSERT_EQ(st[i], Status::ok) << i;
    ASSERT_EQ(views[i].len, plain_len[i]);
    Buf ref;
    make_rtp(ref, 0x1000 + (i % 3), static_cast<uint16_t>(i), 20 + i);
    ASSERT_EQ(0, std::memcmp(ref.bytes.data(), bufs[i].bytes.data(), plain_len[i])) << i;
  }
  EXPECT_EQ(rx->stream_count(), 3u);
  EXPECT_EQ(rx->stats().rtp[static_cast<std::size_t>(Status::ok)], kN);
  EXPECT_EQ(rx->stats().rtp[static_cast<std::size_t>(Status::replay_duplicate)], 1u);
}

TEST_P(SessionTest, MkiSelectsTheKeyInbound) {
  auto k1 = key_for(profile_, 1, {0, 1});
  auto k2 = key_for(profile_, 2, {0, 2});
  auto tx = make(Direction::outbound, k1);
  auto rx = make(Direction::inbound, k1);
  ASSERT_TRUE(tx->add_key(k2));
  ASSERT_TRUE(rx->add_key(k2));
  EXPECT_FALSE(rx->add_key(k2));  // same MKI twice
  Buf b;
  for (uint16_t seq = 0; seq < 10; ++seq) {
    if (seq == 5) {
      ASSERT_TRUE(tx->set_active_key(k2.mki));
    }
    uint32_t len = make_rtp(b, 42, seq);
    ASSERT_EQ(one(*tx, b, len, true), Status::ok);
    ASSERT_EQ(one(*rx, b, len, false), Status::ok) << seq;
  }
  auto usage = rx->key_usage();
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[0].srtp_packets, 5u);
  EXPECT_EQ(usage[1].srtp_packets, 5u);
  // An MKI nobody installed.
  uint32_t len = make_rtp(b, 42, 20);
  ASSERT_EQ(one(*tx, b, len, true), Status::ok);
  const std::size_t mki_pos =
      params(profile_).aead ? len - 2 : len - params(profile_).rtp_tag_len - 2;
  b.bytes[mki_pos + 1] = 9;
  EXPECT_EQ(one(*rx, b, len, false), Status::unknown_mki);
  EXPECT_FALSE(tx->remove_key(k2.mki));  // active
  ASSERT_TRUE(tx->set_active_key(k1.mki));
  EXPECT_TRUE(tx->remove_key(k2.mki));
}

TEST_P(SessionTest, RekeyKeepsTheRocAcrossAWrap) {
  auto k1 = key_for(profile_, 1);
  auto k2 = key_for(profile_, 2);
  auto tx = make(Direction::outbound, k1);
  auto rx = make(Direction::inbound, k1);
  Buf b;
  for (uint32_t i = 65500; i < 65600; ++i) {
    if (i == 65550) {
      ASSERT_TRUE(tx->rekey(k2));
      ASSERT_TRUE(rx->rekey(k2));
    }
    uint32_t len = make_rtp(b, 7, static_cast<uint16_t>(i));
    ASSERT_EQ(one(*tx, b, len, true), Status::ok);
    ASSERT_EQ(one(*rx, b, len, false), Status::ok) << i;
  }
  EXPECT_EQ(tx->roc(7), 1u);
  EXPECT_EQ(rx->roc(7), 1u);
}

TEST_P(SessionTest, RocHandOverBetweenGateways) {
  auto k = key_for(profile_, 3);
  auto tx = make(Direction::outbound, k);
  ASSERT_TRUE(tx->set_roc(9, 5));
  Buf b;
  uint32_t len = make_rtp(b, 9, 100);
  ASSERT_EQ(one(*tx, b, len, true), Status::ok);
  EXPECT_EQ(tx->roc(9), 5u);
  Buf copy = b;
  uint32_t copy_len = len;
  // A receiver that was told the ROC accepts; one that was not cannot authenticate (ROC 0).
  auto told = make(Direction::inbound, k);
  ASSERT_TRUE(told->set_roc(9, 5));
  EXPECT_EQ(one(*told, b, len, false), Status::ok);
  auto untold = make(Direction::inbound, k);
  EXPECT_EQ(one(*untold, copy, copy_len, false), Status::auth_failure);
  EXPECT_EQ(untold->stream_count(), 0u);
}

TEST_P(SessionTest, StreamCapAndKnownSsrcsOnly) {
  auto k = key_for(profile_, 4);
  SessionConfig c;
  c.max_streams = 2;
  auto tx = make(Direction::outbound, k, c);
  Buf b;
  for (uint32_t ssrc : {1u, 2u}) {
    uint32_t len = make_rtp(b, ssrc, 1);
    EXPECT_EQ(one(*tx, b, len, true), Status::ok);
  }
  uint32_t len = make_rtp(b, 3, 1);
  EXPECT_EQ(one(*tx, b, len, true), Status::stream_limit);
  ASSERT_TRUE(tx->remove_stream(1));
  len = make_rtp(b, 3, 1);
  EXPECT_EQ(one(*tx, b, len, true), Status::ok);

  c.accept_new_ssrcs = false;
  auto rx = make(Direction::inbound, k, c);
  EXPECT_EQ(one(*rx, b, len, false), Status::no_stream);
  ASSERT_TRUE(rx->add_stream(3));
  EXPECT_EQ(one(*rx, b, len, false), Status::ok);
}

// The stream table checks the stream found last before its slots; removing that stream, or
// giving its memory to another SSRC, must not leave the shortcut pointing at it.
TEST_P(SessionTest, RemovedStreamIsForgottenEvenWhenItWasTheLastOneFound) {
  auto k = key_for(profile_, 4);
  auto tx = make(Direction::outbound, k);
  SessionConfig c;
  c.max_streams = 1;
  c.accept_new_ssrcs = false;
  auto rx = make(Direction::inbound, k, c);
  ASSERT_TRUE(rx->add_stream(5));
  Buf b;
  uint32_t len = make_rtp(b, 5, 1);
  ASSERT_EQ(one(*tx, b, len, true), Status::ok);
  ASSERT_EQ(one(*rx, b, len, false), Status::ok);

  ASSERT_TRUE(rx->remove_stream(5));
  len = make_rtp(b, 5, 2);
  ASSERT_EQ(one(*tx, b, len, true), Status::ok);
  const Buf srtp_5_2 = b;
  const uint32_t srtp_5_2_len = len;
  EXPECT_EQ(one(*rx, b, len, false), Status::no_stream);
  EXPECT_FALSE(rx->roc(5).has_value());

  ASSERT_TRUE(rx->add_stream(6));  // takes the removed stream's memory
  b = srtp_5_2;
  len = srtp_5_2_len;
  EXPECT_EQ(one(*rx, b, len, false), Status::no_stream);
  len = make_rtp(b, 6, 1);
  ASSERT_EQ(one(*tx, b, len, true), Status::ok);
  EXPECT_EQ(one(*rx, b, len, false), Status::ok);
  EXPECT_EQ(rx->stream_count(), 1u);

  // Back to 5: a fresh stream, whose window has not seen index 2.
  ASSERT_TRUE(rx->remove_stream(6));
  ASSERT_TRUE(rx->add_stream(5));
  b = srtp_5_2;
  len = srtp_5_2_len;
  EXPECT_EQ(one(*rx, b, len, false), Status::ok);
}

TEST_P(SessionTest, KeyLifetimeIsEnforcedAndReportedEarly) {
  auto k = key_for(profile_, 5, {}, 40);
  auto tx = make(Direction::outbound, k);
  Buf b;
  for (uint16_t seq = 0; seq < 40; ++seq) {
    uint32_t len = make_rtp(b, 1, seq);
    ASSERT_EQ(one(*tx, b, len, true), Status::ok);
    if (seq == 35) {
      EXPECT_FALSE(tx->key_usage()[0].soft_limit);  // 1/16 of 40 is 2: soft at 38
    }
  }
  EXPECT_TRUE(tx->key_usage()[0].soft_limit);
  EXPECT_TRUE(tx->key_usage()[0].expired);
  uint32_t len = make_rtp(b, 1, 40);
  EXPECT_EQ(one(*tx, b, len, true), Status::key_expired);
  ASSERT_TRUE(tx->rekey(key_for(profile_, 6)));
  len = make_rtp(b, 1, 40);
  EXPECT_EQ(one(*tx, b, len, true), Status::ok);
}

// RFC 3711 §9.2 per packet, also inside one burst: a receiver whose key has 10 packets of
// lifetime left accepts the first 10 of a burst of 16 and refuses the rest, for SRTP and SRTCP.
TEST_P(SessionTest, InboundKeyLifetimeHoldsInsideABurst) {
  constexpr uint32_t kLifetime = 10;
  constexpr std::size_t kBurst = 16;
  auto tx = make(Direction::outbound, key_for(profile_, 8));
  auto rx = make(Direction::inbound, key_for(profile_, 8, {}, kLifetime));
  for (const bool rtcp : {false, true}) {
    SCOPED_TRACE(rtcp ? "SRTCP" : "SRTP");
    std::vector<Buf> bufs(kBurst);
    std::vector<PacketView> views;
    for (std::size_t n = 0; n < kBurst; ++n) {
      uint32_t len = 0;
      if (rtcp) {
        const uint8_t rr[] = {0x80, 201, 0, 1, 0, 0, 0, 77};
        std::memcpy(bufs[n].bytes.data(), rr, sizeof rr);
        len = sizeof rr;
      } else {
        len = make_rtp(bufs[n], 1, static_cast<uint16_t>(100 + n));
      }
      PacketView v = bufs[n].view(len);
      Status st = Status::count_;
      if (rtcp) {
        tx->protect_rtcp({&v, 1}, {&st, 1});
      } else {
        tx->protect_rtp({&v, 1}, {&st, 1});
      }
      ASSERT_EQ(st, Status::ok);
      views.push_back(v);
    }
    std::vector<Status> st(kBurst, Status::count_);
    const std::size_t ok = rtcp ? rx->unprotect_rtcp(views, st) : rx->unprotect_rtp(views, st);
    EXPECT_EQ(ok, kLifetime);
    for (std::size_t n = 0; n < kBurst; ++n) {
      EXPECT_EQ(st[n], n < kLifetime ? Status::ok : Status::key_expired) << n;
    }
    const KeyUsage u = rx->key_usage()[0];
    EXPECT_EQ(rtcp ? u.srtcp_packets : u.srtp_packets, kLifetime);
    EXPECT_TRUE(u.expired);
  }
}

TEST_P(SessionTest, TailroomRepeatTxAndMalformed) {
  auto k = key_for(profile_, 6);
  auto tx = make(Direction::outbound, k);
  Buf b;
  uint32_t len = make_rtp(b, 1, 1);
  PacketView v{b.bytes.data(), len, len + static_cast<uint32_t>(tx->rtp_overhead()) - 1};
  Status st;
  tx->protect_rtp({&v, 1}, {&st, 1});
  EXPECT_EQ(st, Status::no_tailroom);
  v.capacity = len + static_cast<uint32_t>(tx->rtp_overhead());
  tx->protect_rtp({&v, 1}, {&st, 1});
  EXPECT_EQ(st, Status::ok);
  // Protecting the same index again is refused unless allow_repeat_tx.
  len = make_rtp(b, 1, 1);
  EXPECT_EQ(one(*tx, b, len, true), Status::replay_duplicate);
  SessionConfig c;
  c.allow_repeat_tx = true;
  auto tx2 = make(Direction::outbound, k, c);
  len = make_rtp(b, 1, 1);
  EXPECT_EQ(one(*tx2, b, len, true), Status::ok);
  len = make_rtp(b, 1, 1);
  EXPECT_EQ(one(*tx2, b, len, true), Status::ok);
  len = 11;
  EXPECT_EQ(one(*tx, b, len, true), Status::malformed);
}

TEST_P(SessionTest, RtcpRoundTripAndReplay) {
  auto k = key_for(profile_, 7);
  auto tx = make(Direction::outbound, k);
  auto rx = make(Direction::inbound, k);
  Buf b;
  const uint8_t rr[] = {0x80, 201, 0, 1, 0, 0, 0, 77};
  std::memcpy(b.bytes.data(), rr, sizeof rr);
  PacketView v = b.view(sizeof rr);
  Status st;
  ASSERT_EQ(tx->protect_rtcp({&v, 1}, {&st, 1}), 1u);
  EXPECT_EQ(v.len, sizeof rr + tx->rtcp_overhead());
  Buf copy = b;
  PacketView again = copy.view(v.len);
  ASSERT_EQ(rx->unprotect_rtcp({&v, 1}, {&st, 1}), 1u);
  EXPECT_EQ(v.len, sizeof rr);
  EXPECT_EQ(0, std::memcmp(b.bytes.data(), rr, sizeof rr));
  rx->unprotect_rtcp({&again, 1}, {&st, 1});
  EXPECT_EQ(st, Status::replay_duplicate);
}

TEST(SessionConfigTest, RejectsBadConfig) {
  auto e = crypto::make_engine(crypto::Backend::openssl);
  ASSERT_TRUE(e);
  SessionConfig c;
  c.replay_window = 63;
  EXPECT_FALSE(Session::create(*e, c, key_for(c.profile, 1)));
  c.replay_window = 32769;
  EXPECT_FALSE(Session::create(*e, c, key_for(c.profile, 1)));
  c.replay_window = 128;
  c.max_streams = 0;
  EXPECT_FALSE(Session::create(*e, c, key_for(c.profile, 1)));
  c.max_streams = 4;
  c.profile = Profile::aes_256_cm_hmac_sha1_80;  // key is for AES-128
  EXPECT_FALSE(Session::create(*e, c, key_for(Profile::aes_cm_128_hmac_sha1_80, 1)));
}

INSTANTIATE_TEST_SUITE_P(
    AllBackendsAndProfiles, SessionTest,
    ::testing::Combine(::testing::Values(crypto::Backend::ipsecmb, crypto::Backend::openssl),
                       ::testing::ValuesIn(kAllProfiles)),
    [](const auto& info) {
      return std::string(crypto::name(std::get<0>(info.param))) + "_" +
             std::string(name(std::get<1>(info.param)));
    });

}  // namespace
}  // namespace srtpgate::srtp
