// The dataplane end to end inside one process: frames in on a ring port, through the real
// worker loop, out on another; SRTP made and checked by Debian's libsrtp2.
#include <gtest/gtest.h>

#include <map>

#include "../libsrtp_oracle.h"
#include "../packet_builders.h"
#include "dp_harness.h"
#include "libsrtp_legs.h"

namespace srtpgate::dp::testing {
namespace {

using srtp::Profile;
using testutil::Rng;

class DataplaneProfiles : public ::testing::TestWithParam<Profile> {};

TEST_P(DataplaneProfiles, LibsrtpMadeSrtpComesOutAsTheOriginalRtp) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(1);
  Leg peer = make_leg(rng, GetParam(), true);
  FlowSpec s = spec_for(h, 0, Action::unprotect);
  s.inbound = LegKey{GetParam(), peer.key};
  ASSERT_TRUE(h.dp().install(s));
  h.dp().wait_applied();

  std::vector<Bytes> originals;
  for (uint16_t seq = 65500, i = 0; i < 200; ++i, ++seq) {  // crosses a ROC boundary
    Bytes plain = rtp(rng, 0x1234, seq);
    Bytes srtp = plain;
    ASSERT_EQ(peer.lib->protect_rtp(srtp), srtp_err_status_ok);
    originals.push_back(plain);
    ASSERT_TRUE(h.send(s.key, srtp));
    if (i % 50 == 0) {
      ASSERT_TRUE(h.send(s.key, srtp));  // a replay: dropped and counted
    }
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), originals.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Output& o = out[i];
    ASSERT_EQ(o.frame.kind, detail::FrameKind::rtp) << i;
    EXPECT_EQ(o.payload, originals[i]) << "packet " << i;
    EXPECT_EQ(o.dst_mac, kNextHopMac);
    EXPECT_EQ(o.frame.key.local_port, s.next_hop.dst_port);
    EXPECT_EQ(o.frame.key.remote_port, s.next_hop.src_port);
    EXPECT_EQ(o.frame.key.local_addr, s.next_hop.dst_addr.bytes);
  }
  const auto fs = h.dp().flow_stats(s.key);
  ASSERT_TRUE(fs);
  EXPECT_EQ(fs->tx_packets, originals.size());
  EXPECT_EQ(fs->drops[static_cast<std::size_t>(Drop::replay)], 4u);
  EXPECT_EQ(h.dp().total_stats().drops[static_cast<std::size_t>(Drop::replay)], 4u);
}

// Forgeries in the same bursts as genuine packets: a copy of the next genuine packet with one
// bit flipped (in the payload, or in the tag), sent just before it, and forgeries with sequence
// numbers ahead of the stream. Not one of them leaves, in any form (AES-GCM decrypts before its
// tag is compared: the bytes of a failed packet must not be forwarded either), none of them moves
// the replay window, and every genuine packet still comes out, in order (RFC 3711 §3.3).
TEST_P(DataplaneProfiles, ForgeriesAmongGenuinePacketsAreDroppedAndNothingOfThemLeaves) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(6);
  Leg peer = make_leg(rng, GetParam(), true);
  FlowSpec s = spec_for(h, 4, Action::unprotect);
  s.inbound = LegKey{GetParam(), peer.key};
  ASSERT_TRUE(h.dp().install(s));
  h.dp().wait_applied();

  std::vector<Bytes> originals;
  uint64_t forged = 0;
  for (uint16_t i = 0; i < 120; ++i) {
    Bytes plain = rtp(rng, 0x4242, static_cast<uint16_t>(900 + i));
    Bytes srtp = plain;
    ASSERT_EQ(peer.lib->protect_rtp(srtp), srtp_err_status_ok);
    if (i % 3 == 1) {
      Bytes bad = srtp;
      // A bit of the tag or of the encrypted payload's end (the header is left alone: a flip
      // there may make it malformed, a drop of another name).
      bad[bad.size() - 1 - i % 40] ^= static_cast<uint8_t>(1u << (i % 8));
      ASSERT_TRUE(h.send(s.key, bad));
      ++forged;
    }
    if (i % 11 == 5) {
      Bytes ahead = srtp;
      ahead[2] = static_cast<uint8_t>(ahead[2] + 40);  // 10240 packets ahead, same tag
      ASSERT_TRUE(h.send(s.key, ahead));
      ++forged;
    }
    originals.push_back(plain);
    ASSERT_TRUE(h.send(s.key, srtp));
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), originals.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].payload, originals[i]) << "packet " << i;
  }
  const auto fs = h.dp().flow_stats(s.key);
  ASSERT_TRUE(fs);
  EXPECT_EQ(fs->tx_packets, originals.size());
  EXPECT_EQ(fs->drops[static_cast<std::size_t>(Drop::auth_failure)], forged);
  EXPECT_EQ(h.dp().total_stats().dropped(), forged);
}

TEST_P(DataplaneProfiles, ProtectedOutputIsReadByLibsrtp) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(2);
  Leg receiver = make_leg(rng, GetParam(), false);
  FlowSpec s = spec_for(h, 1, Action::protect);
  s.outbound = LegKey{GetParam(), receiver.key};
  ASSERT_TRUE(h.dp().install(s));

  std::vector<Bytes> originals;
  for (uint16_t i = 0; i < 100; ++i) {
    originals.push_back(rtp(rng, 0xabcdef, static_cast<uint16_t>(7 + i), 20 + i * 11));
    ASSERT_TRUE(h.send(s.key, originals.back()));
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), originals.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    Bytes srtp = out[i].payload;
    EXPECT_GT(srtp.size(), originals[i].size());
    ASSERT_EQ(receiver.lib->unprotect_rtp(srtp), srtp_err_status_ok) << "packet " << i;
    EXPECT_EQ(srtp, originals[i]) << "packet " << i;
  }
}

TEST_P(DataplaneProfiles, RtcpIsUnprotectedOnTheSameFlow) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(3);
  Leg peer = make_leg(rng, GetParam(), true);
  FlowSpec s = spec_for(h, 2, Action::unprotect);
  s.inbound = LegKey{GetParam(), peer.key};
  ASSERT_TRUE(h.dp().install(s));
  std::vector<Bytes> originals;
  for (int i = 0; i < 20; ++i) {
    Bytes plain = testutil::build_rtcp(rng, 0x55);
    Bytes srtcp = plain;
    ASSERT_EQ(peer.lib->protect_rtcp(srtcp), srtp_err_status_ok);
    originals.push_back(plain);
    ASSERT_TRUE(h.send(s.key, srtcp));
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), originals.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].frame.kind, detail::FrameKind::rtcp);
    EXPECT_EQ(out[i].payload, originals[i]) << "packet " << i;
  }
  EXPECT_EQ(h.dp().flow_stats(s.key)->rtcp_packets, originals.size());
}

INSTANTIATE_TEST_SUITE_P(AllProfiles, DataplaneProfiles, ::testing::ValuesIn(srtp::kAllProfiles),
                         [](const auto& info) { return std::string(srtp::name(info.param)); });

struct TranscryptCase {
  Profile from;
  Profile to;
};

class DataplaneTranscrypt : public ::testing::TestWithParam<TranscryptCase> {};

TEST_P(DataplaneTranscrypt, SrtpUnderOneKeyLeavesUnderAnother) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(4);
  Leg sender = make_leg(rng, GetParam().from, true);
  Leg receiver = make_leg(rng, GetParam().to, false);
  FlowSpec s = spec_for(h, 3, Action::transcrypt);
  s.inbound = LegKey{GetParam().from, sender.key};
  s.outbound = LegKey{GetParam().to, receiver.key};
  ASSERT_TRUE(h.dp().install(s));
  std::vector<Bytes> originals;
  uint64_t forged = 0;
  uint64_t replayed = 0;
  for (uint16_t i = 0; i < 150; ++i) {
    Bytes plain = rtp(rng, 0x777, static_cast<uint16_t>(65450 + i));
    Bytes srtp = plain;
    ASSERT_EQ(sender.lib->protect_rtp(srtp), srtp_err_status_ok);
    // A forgery of the next packet just before it: the inbound leg must drop it, and the
    // outbound leg must never protect it under the receiver's key.
    if (i % 4 == 2) {
      Bytes bad = srtp;
      bad[bad.size() - 1 - i % 40] ^= 0x20;  // the tag or the payload, not the header
      ASSERT_TRUE(h.send(s.key, bad));
      ++forged;
    }
    originals.push_back(plain);
    ASSERT_TRUE(h.send(s.key, srtp));
    if (i % 9 == 4) {  // and a replay of it, in the same burst or the next
      ASSERT_TRUE(h.send(s.key, srtp));
      ++replayed;
    }
    if (i % 10 == 0) {  // and its RTCP
      Bytes rtcp = testutil::build_rtcp(rng, 0x777);
      Bytes srtcp = rtcp;
      ASSERT_EQ(sender.lib->protect_rtcp(srtcp), srtp_err_status_ok);
      originals.push_back(rtcp);
      ASSERT_TRUE(h.send(s.key, srtcp));
    }
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), originals.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    Bytes got = out[i].payload;
    const bool is_rtcp = out[i].frame.kind == detail::FrameKind::rtcp;
    ASSERT_EQ(is_rtcp ? receiver.lib->unprotect_rtcp(got) : receiver.lib->unprotect_rtp(got),
              srtp_err_status_ok)
        << "packet " << i;
    EXPECT_EQ(got, originals[i]) << "packet " << i;
  }
  const auto fs = h.dp().flow_stats(s.key);
  ASSERT_TRUE(fs);
  EXPECT_EQ(fs->drops[static_cast<std::size_t>(Drop::auth_failure)], forged);
  EXPECT_EQ(fs->drops[static_cast<std::size_t>(Drop::replay)], replayed);
  EXPECT_EQ(h.dp().total_stats().dropped(), forged + replayed);
}

INSTANTIATE_TEST_SUITE_P(
    Pairs, DataplaneTranscrypt,
    ::testing::Values(TranscryptCase{Profile::aead_aes_128_gcm, Profile::aes_cm_128_hmac_sha1_80},
                      TranscryptCase{Profile::aes_cm_128_hmac_sha1_80, Profile::aead_aes_256_gcm},
                      TranscryptCase{Profile::aes_cm_128_hmac_sha1_32,
                                     Profile::aes_256_cm_hmac_sha1_80}),
    [](const auto& info) {
      return std::string(srtp::name(info.param.from)) + "_to_" +
             std::string(srtp::name(info.param.to));
    });

TEST(Dataplane, RejectsBadSpecsWithoutSideEffects) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(5);
  FlowSpec s = spec_for(h, 4, Action::unprotect);
  auto r = h.dp().install(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("inbound key"), std::string::npos) << r.message();
  s.inbound = LegKey{Profile::aes_cm_128_hmac_sha1_80,
                     testutil::random_key(rng, Profile::aes_cm_128_hmac_sha1_80)};
  s.outbound = s.inbound;
  r = h.dp().install(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("no outbound key"), std::string::npos) << r.message();
  s.outbound.reset();
  s.next_hop.port_id = 99;
  r = h.dp().install(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("port 99"), std::string::npos) << r.message();
  s.next_hop = h.next_hop(4);
  s.next_hop.dst_addr = ip("2001:db8::1");
  EXPECT_FALSE(h.dp().install(s));
  s.next_hop = h.next_hop(4);
  s.replay_window = 10;
  EXPECT_FALSE(h.dp().install(s));
  s.replay_window = 128;
  ASSERT_TRUE(h.dp().install(s));
  r = h.dp().install(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("already installed"), std::string::npos) << r.message();
  EXPECT_EQ(h.dp().flow_count(), 1u);
  EXPECT_FALSE(h.dp().rekey(s.key, std::nullopt,
                            LegKey{Profile::aes_cm_128_hmac_sha1_80,
                                   testutil::random_key(rng, Profile::aes_cm_128_hmac_sha1_80)}));
  EXPECT_FALSE(h.dp().rekey(
      s.key,
      LegKey{Profile::aead_aes_128_gcm, testutil::random_key(rng, Profile::aead_aes_128_gcm)},
      std::nullopt));
  EXPECT_FALSE(h.dp().remove(h.key(77)));
  ASSERT_TRUE(h.dp().remove(s.key));
  h.dp().wait_applied();
  EXPECT_EQ(h.dp().flow_count(), 0u);
  EXPECT_EQ(h.dp().total_stats().flows, 0u);
}

TEST(Dataplane, RekeyKeepsTheRolloverCounter) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(6);
  const Profile p = Profile::aes_cm_128_hmac_sha1_80;
  Leg first = make_leg(rng, p, true);
  FlowSpec s = spec_for(h, 5, Action::unprotect);
  s.inbound = LegKey{p, first.key};
  ASSERT_TRUE(h.dp().install(s));
  std::vector<Bytes> originals;
  uint16_t seq = 65530;
  for (int i = 0; i < 10; ++i, ++seq) {  // ROC becomes 1
    originals.push_back(rtp(rng, 9, seq));
    Bytes srtp = originals.back();
    ASSERT_EQ(first.lib->protect_rtp(srtp), srtp_err_status_ok);
    ASSERT_TRUE(h.send(s.key, srtp));
  }
  h.run();
  // The peer rekeys; its new libsrtp2 session must start at ROC 1 too.
  srtp::MasterKey second = testutil::random_key(rng, p);
  oracle::OracleConfig oc;
  oc.profile = p;
  oc.ssrc = 9;
  auto lib2 =
      oracle::LibsrtpOracle::create(oc, oracle::OracleKey{testutil::key_salt_of(second), {}});
  ASSERT_TRUE(lib2);
  ASSERT_EQ(lib2.value()->set_roc(9, 1), srtp_err_status_ok);
  ASSERT_TRUE(h.dp().rekey(s.key, LegKey{p, second}, std::nullopt));
  h.dp().wait_applied();
  for (int i = 0; i < 10; ++i, ++seq) {
    originals.push_back(rtp(rng, 9, seq));
    Bytes srtp = originals.back();
    ASSERT_EQ(lib2.value()->protect_rtp(srtp), srtp_err_status_ok);
    ASSERT_TRUE(h.send(s.key, srtp));
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), originals.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].payload, originals[i]) << i;
  }
}

}  // namespace
}  // namespace srtpgate::dp::testing
