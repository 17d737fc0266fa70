// The dataplane under hostile and heavy traffic: malformed frames between good ones, many flows
// over two workers on their own lcores, and 100k flows installed, rekeyed and removed while
// traffic flows.
#include <gtest/gtest.h>
#include <rte_bus_vdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <chrono>
#include <set>
#include <thread>

#include "../packet_builders.h"
#include "dp_harness.h"

namespace srtpgate::dp::testing {
namespace {

using srtp::Profile;
using testutil::Rng;

constexpr Profile kProfile = Profile::aes_cm_128_hmac_sha1_80;

// Protects one RTP packet with `s`, as a peer's sender would.
Bytes protect_one(srtp::Session& s, const Bytes& plain) {
  Bytes b = plain;
  b.resize(plain.size() + 32);
  srtp::PacketView v{b.data(), static_cast<uint32_t>(plain.size()),
                     static_cast<uint32_t>(b.size())};
  srtp::Status st{};
  s.protect_rtp({&v, 1}, {&st, 1});
  EXPECT_EQ(st, srtp::Status::ok);
  b.resize(v.len);
  return b;
}

// The sender side of a flow, made with srtpgate's own protect (libsrtp2 is the oracle in
// test_dataplane_flows.cc; here the point is volume).
struct Sender {
  srtp::MasterKey key;
  std::unique_ptr<srtp::Session> session;
  uint16_t seq = 0;

  Sender(Rng& rng, const std::shared_ptr<crypto::Engine>& engine)
      : key(testutil::random_key(rng, kProfile)) {
    srtp::SessionConfig c;
    c.profile = kProfile;
    auto s = srtp::Session::create(engine, c, key);
    EXPECT_TRUE(s) << s.message();
    session = std::move(s.value());
  }
  // Returns the plaintext in `plain` and the SRTP packet.
  Bytes next(Rng& rng, uint32_t ssrc, Bytes& plain) {
    plain = testutil::build_rtp(rng, ssrc, seq, seq * 160u, testutil::random_shape(rng, 160));
    ++seq;
    return protect_one(*session, plain);
  }
};

std::shared_ptr<crypto::Engine> engine() {
  auto e = crypto::make_engine(crypto::Backend::ipsecmb);
  EXPECT_TRUE(e) << e.message();
  return e.value();
}

// Flow n as a plain relay (no crypto), installed.
FlowSpec install_forward(Harness& h, unsigned n) {
  FlowSpec s;
  s.key = h.key(n);
  s.action = Action::forward;
  s.next_hop = h.next_hop(n);
  EXPECT_TRUE(h.dp().install(s));
  return s;
}

FlowSpec unprotect_spec(Harness& h, unsigned n, const srtp::MasterKey& key) {
  FlowSpec s;
  s.key = h.key(n);
  s.action = Action::unprotect;
  s.inbound = LegKey{kProfile, key};
  s.next_hop = h.next_hop(n);
  return s;
}

// Frames that must each be dropped with exactly this reason.
struct Bad {
  Bytes frame;
  Drop why;
  const char* what;
};

TEST(DataplaneTraffic, MalformedFramesAreDroppedAndCountedAndGoodOnesPass) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(11);
  auto eng = engine();
  Sender sender(rng, eng);
  const FlowSpec s = unprotect_spec(h, 0, sender.key);
  ASSERT_TRUE(h.dp().install(s));

  // A valid frame to mutate: IPv4, no VLAN. Offsets: IP at 14, UDP at 34, payload at 42.
  Bytes plain;
  const Bytes srtp = sender.next(rng, 1, plain);
  rte_mbuf* m = h.frame_for(s.key, srtp);
  const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
  const Bytes good(d, d + m->data_len);
  rte_pktmbuf_free(m);

  std::vector<Bad> bad;
  const auto mutate = [&](auto&& f, Drop why, const char* what) {
    Bytes b = good;
    f(b);
    bad.push_back({std::move(b), why, what});
  };
  mutate([](Bytes& b) { b.resize(10); }, Drop::frame_malformed, "runt");
  mutate(
      [](Bytes& b) {
        b[12] = 0x88;
        b[13] = 0xb5;
      },
      Drop::not_ip, "local experimental EtherType");
  mutate([](Bytes& b) { b[14] = 0x55; }, Drop::ip_malformed, "IP version 5");
  mutate(
      [](Bytes& b) {
        b[16] = 0xff;
        b[17] = 0xff;
      },
      Drop::ip_malformed, "total length past the frame");
  mutate([](Bytes& b) { b[24] ^= 0x01; }, Drop::ip_checksum, "IPv4 header checksum");
  mutate(
      [](Bytes& b) {
        b[20] |= 0x20;
        b[24] = b[25] = 0;
        // recompute the header checksum so only the MF flag is wrong
        uint32_t sum = 0;
        for (int i = 14; i < 34; i += 2) sum += (b[i] << 8) | b[i + 1];
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        const uint16_t c = static_cast<uint16_t>(~sum);
        b[24] = c >> 8;
        b[25] = c & 0xff;
      },
      Drop::ip_fragment, "more-fragments flag");
  mutate(
      [](Bytes& b) {
        b[23] = 6;
        uint32_t sum = 0;
        b[24] = b[25] = 0;
        for (int i = 14; i < 34; i += 2) sum += (b[i] << 8) | b[i + 1];
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        const uint16_t c = static_cast<uint16_t>(~sum);
        b[24] = c >> 8;
        b[25] = c & 0xff;
      },
      Drop::not_udp, "TCP");
  mutate(
      [](Bytes& b) {
        b[38] = 0xff;
        b[39] = 0xff;
      },
      Drop::udp_malformed, "UDP length past the datagram");
  // SRTP to unprotect: the UDP checksum is not consulted (the tag covers the payload), so a
  // damaged copy of a packet already received is a replay, and a damaged new one fails the tag.
  mutate([](Bytes& b) { b[40] ^= 0x5a; }, Drop::replay, "UDP checksum only");
  mutate([](Bytes& b) { b[70] ^= 0x01; }, Drop::replay, "payload bit flip of a received packet");
  mutate(
      [](Bytes& b) {
        b[40] = b[41] = 0;
        b[42] = 0x40;
      },
      Drop::unknown_payload, "first byte 64");
  {  // A forged tag on a packet index never seen (a replayed index is dropped before the tag).
    Bytes unused;
    rte_mbuf* fm = h.frame_for(s.key, sender.next(rng, 1, unused));
    const auto* fd = rte_pktmbuf_mtod(fm, const uint8_t*);
    Bytes forged(fd, fd + fm->data_len);
    rte_pktmbuf_free(fm);
    forged[40] = forged[41] = 0;
    forged.back() ^= 0x80;
    bad.push_back({std::move(forged), Drop::auth_failure, "forged tag"});
  }
  mutate(
      [](Bytes& b) {
        b[40] = b[41] = 0;
        b[36] ^= 0x01;
      },
      Drop::no_session, "unknown local port");
  mutate(
      [](Bytes& b) {
        b[40] = b[41] = 0;
        b.resize(42 + 20);
        b[38] = 0;
        b[39] = 28;
        b[16] = 0;
        b[17] = 48;
        uint32_t sum = 0;
        b[24] = b[25] = 0;
        for (int i = 14; i < 34; i += 2) sum += (b[i] << 8) | b[i + 1];
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        const uint16_t c = static_cast<uint16_t>(~sum);
        b[24] = c >> 8;
        b[25] = c & 0xff;
      },
      Drop::srtp_malformed, "SRTP shorter than header and tag");

  // Good and bad alternate; every bad one is dropped with its reason, every good one arrives.
  std::vector<Bytes> expected = {plain};
  std::array<uint64_t, kDropCount> want{};
  ASSERT_TRUE(h.inject(h.raw_frame(good), 0));
  h.run();  // committed before its damaged copies arrive (in one burst they would fail the tag)
  for (int round = 0; round < 3; ++round) {
    for (const Bad& b : bad) {
      ASSERT_TRUE(h.inject(h.raw_frame(b.frame), 0));
      ++want[static_cast<std::size_t>(b.why)];
      Bytes p;
      const Bytes pkt = sender.next(rng, 1, p);
      expected.push_back(p);
      ASSERT_TRUE(h.send(s.key, pkt));
    }
  }
  // The first good packet again: a replay.
  ASSERT_TRUE(h.inject(h.raw_frame(good), 0));
  ++want[static_cast<std::size_t>(Drop::replay)];
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), expected.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].payload, expected[i]) << i;
  }
  const WorkerStats st = h.dp().total_stats();
  for (std::size_t r = 0; r < kDropCount; ++r) {
    EXPECT_EQ(st.drops[r], want[r]) << name(static_cast<Drop>(r));
  }
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    EXPECT_NE(st.drops[static_cast<std::size_t>(b.why)], 0u);
  }
}

TEST(DataplaneTraffic, PlainRtpInHasItsUdpChecksumChecked) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(14);
  const FlowSpec s = install_forward(h, 9);
  const Bytes plain = testutil::build_rtp(rng, 5, 1, 160, testutil::random_shape(rng, 160));
  rte_mbuf* m = h.frame_for(s.key, plain);
  const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
  Bytes frame(d, d + m->data_len);
  rte_pktmbuf_free(m);
  Bytes damaged = frame;
  damaged[50] ^= 0x01;  // a payload bit: only the UDP checksum can tell
  ASSERT_TRUE(h.inject(h.raw_frame(damaged), 0));
  ASSERT_TRUE(h.inject(h.raw_frame(frame), 0));
  // STUN for the control thread is checked before it is punted.
  Bytes stun(20, 0);
  stun[1] = 0x01;
  stun[4] = 0x21; stun[5] = 0x12; stun[6] = 0xa4; stun[7] = 0x42;
  rte_mbuf* sm = h.frame_for(s.key, stun);
  rte_pktmbuf_mtod(sm, uint8_t*)[60] ^= 0x10;
  ASSERT_TRUE(h.inject(sm, 0));
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, plain);
  EXPECT_EQ(h.dp().total_stats().drops[static_cast<std::size_t>(Drop::udp_checksum)], 2u);
  EXPECT_EQ(h.dp().total_stats().punted, 0u);
  // The flow counts the damaged RTP as received and dropped: rx = tx + drops.
  const auto fs = h.dp().flow_stats(s.key);
  ASSERT_TRUE(fs);
  EXPECT_EQ(fs->rx_packets, 2u);
  EXPECT_EQ(fs->tx_packets, 1u);
  EXPECT_EQ(fs->drops[static_cast<std::size_t>(Drop::udp_checksum)], 1u);
}

// Frames sent over IPv4 carry `sent`, in order, each with the UDP checksum DPDK's own code
// computes (never zero: a sum of 0 is sent as 0xffff, RFC 768).
void expect_payloads_with_dpdk_checksums(const std::vector<Output>& out,
                                         const std::vector<Bytes>& sent) {
  ASSERT_EQ(out.size(), sent.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(out[i].payload, sent[i]);
    ASSERT_GE(out[i].raw.size(), 14u + 20 + 8);
    Bytes frame = out[i].raw;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame.data() + 14);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(frame.data() + 14 + 20);
    const uint16_t sent_cksum = udp->dgram_cksum;
    udp->dgram_cksum = 0;
    EXPECT_EQ(sent_cksum, rte_ipv4_udptcp_cksum(ip, udp));
  }
}

// A forwarded payload leaves with a UDP checksum the worker takes from the verified ingress
// checksum instead of summing the payload again (payload_sum_of_verified): DPDK's own checksum
// code must accept every frame that comes out. RTP of every length class, RTCP, and IPv4
// frames that arrived without a checksum (zero, RFC 768), all in the same bursts.
TEST(DataplaneTraffic, ForwardedPacketsLeaveWithChecksumsDpdkAccepts) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(1624);
  const FlowSpec s = install_forward(h, 11);
  std::vector<Bytes> sent;
  for (uint32_t len = 0; len <= 1200; len += (len < 40 ? 1 : 37)) {
    Bytes p = testutil::build_rtp(rng, 0x5151, static_cast<uint16_t>(len), len * 160,
                                  testutil::random_shape(rng, len));
    if (len % 5 == 4) {
      p[1] = 200;  // RTCP sender report's packet type (RFC 3550 §6.4.1): forwarded as well
    }
    rte_mbuf* m = h.frame_for(s.key, p);
    if (len % 3 == 2) {
      auto* udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, 14 + 20);
      udp->dgram_cksum = 0;  // sent without a checksum
    }
    ASSERT_TRUE(h.inject(m, 0));
    sent.push_back(p);
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), sent.size());
  EXPECT_EQ(h.dp().total_stats().dropped(), 0u);
  expect_payloads_with_dpdk_checksums(out, sent);
}

// A port that flags a frame RTE_MBUF_F_RX_L4_CKSUM_NONE vouches for its data but not for its
// UDP checksum field, which then holds only the pseudo-header's sum (virtio-net's partial
// checksum from a local sender). Such frames are neither dropped as damaged nor relayed with a
// checksum derived from that field; a frame flagged bad is still dropped.
TEST(DataplaneTraffic, FramesWithAPartialChecksumTheNicVouchesForAreRelayedWithTheRightSum) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(7);
  const FlowSpec s = install_forward(h, 12);
  std::vector<Bytes> sent;
  for (uint32_t len = 12; len <= 1200; len += 97) {
    Bytes p = testutil::build_rtp(rng, 0x7777, static_cast<uint16_t>(len), len * 160,
                                  testutil::random_shape(rng, len));
    rte_mbuf* m = h.frame_for(s.key, p);
    auto* ip4 = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
    auto* udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, 14 + 20);
    // What virtio-net hands over: the pseudo-header's sum, not complemented.
    udp->dgram_cksum = rte_ipv4_phdr_cksum(ip4, 0);
    m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
    ASSERT_TRUE(h.inject(m, 0));
    sent.push_back(p);
  }
  rte_mbuf* bad = h.frame_for(s.key, sent[0]);
  bad->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_BAD;
  ASSERT_TRUE(h.inject(bad, 0));
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), sent.size());
  EXPECT_EQ(h.dp().total_stats().dropped(), 1u);
  EXPECT_EQ(h.dp().total_stats().drops[static_cast<std::size_t>(Drop::udp_checksum)], 1u);
  expect_payloads_with_dpdk_checksums(out, sent);
}

// A driver may hand over received data in an external buffer (mlx5's multi-packet rx queues).
// DPDK frees such an mbuf through the buffer's owner, and returns the mbuf to its pool with its
// own buffer back, only while RTE_MBUF_F_EXTERNAL is set: the worker replaces the receive flags
// with transmit ones but must keep that one, or the owner never hears of the free and the pool
// gets back an mbuf pointing into someone else's memory.
TEST(DataplaneTraffic, FramesInExternalBuffersAreFreedThroughTheirOwner) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(5);
  const FlowSpec s = install_forward(h, 13);
  const Bytes plain = testutil::build_rtp(rng, 9, 1, 160, testutil::random_shape(rng, 160));
  static std::array<uint8_t, 2048> storage;
  static int freed = 0;
  freed = 0;
  const auto free_cb = [](void*, void*) { ++freed; };
  rte_mbuf* m = h.frame_for(s.key, plain);
  const Bytes frame(rte_pktmbuf_mtod(m, const uint8_t*),
                    rte_pktmbuf_mtod(m, const uint8_t*) + m->data_len);
  auto buf_len = static_cast<uint16_t>(storage.size());
  rte_mbuf_ext_shared_info* shinfo =
      rte_pktmbuf_ext_shinfo_init_helper(storage.data(), &buf_len, free_cb, nullptr);
  ASSERT_NE(shinfo, nullptr);
  rte_pktmbuf_attach_extbuf(m, storage.data(), reinterpret_cast<uintptr_t>(storage.data()),
                            buf_len, shinfo);
  m->data_off = RTE_PKTMBUF_HEADROOM;
  m->data_len = static_cast<uint16_t>(frame.size());
  m->pkt_len = m->data_len;
  std::copy(frame.begin(), frame.end(), rte_pktmbuf_mtod(m, uint8_t*));
  ASSERT_TRUE(h.inject(m, 0));
  h.run();
  const auto out = h.collect();  // frees what was sent
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, plain);
  EXPECT_EQ(freed, 1);
}

// Protect adds the tag: RTP that filled an IPv4 MTU of 1500 on the way in no longer fits on the
// way out. Such a packet is dropped and counted at the gateway instead of leaving with DF set to
// vanish at the next hop; the largest that fits leaves, and libsrtp2 need not be asked to prove
// it (the flow tests do): here the point is the size.
TEST(DataplaneTraffic, PacketsLargerThanTheEgressMtuAreDroppedAndCounted) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(1500);
  FlowSpec s;
  s.key = h.key(14);
  s.action = Action::protect;
  s.outbound = LegKey{kProfile, testutil::random_key(rng, kProfile)};
  s.next_hop = h.next_hop(14);
  ASSERT_TRUE(h.dp().install(s));
  constexpr uint32_t kFits = 1500 - 20 - 8 - 10;  // IPv4 and UDP headers, the 80-bit tag
  for (uint32_t rtp_len : {kFits - 1, kFits, kFits + 1, 1500u - 20 - 8}) {
    testutil::RtpShape shape;
    shape.payload_len = rtp_len - 12;
    ASSERT_TRUE(h.send(s.key, testutil::build_rtp(rng, 3, static_cast<uint16_t>(rtp_len), 0,
                                                  shape)));
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].raw.size(), 14u + 1500 - 1);
  EXPECT_EQ(out[1].raw.size(), 14u + 1500);
  const auto fs = h.dp().flow_stats(s.key);
  ASSERT_TRUE(fs);
  EXPECT_EQ(fs->drops[static_cast<std::size_t>(Drop::mtu_exceeded)], 2u);
  EXPECT_EQ(h.dp().total_stats().dropped(), 2u);
}

// Two networks behind one trunk port may number their hosts alike: the same addresses and ports
// on VLAN 100, on VLAN 200 and untagged are three flows, each leaving to its own next hop, and
// a fourth VLAN with no flow of its own is no_session, not one of the others' traffic.
TEST(DataplaneTraffic, TheSameAddressesOnTwoVlansAreTwoFlows) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(100);
  const std::array<uint16_t, 3> vlans = {100, 200, 0};
  std::vector<FlowSpec> specs;
  for (std::size_t v = 0; v < vlans.size(); ++v) {
    FlowSpec s;
    s.key = h.key(5);
    s.key.vlan = vlans[v];
    s.action = Action::forward;
    s.next_hop = h.next_hop(static_cast<unsigned>(v));  // a destination port per flow
    const auto installed = h.dp().install(s);
    ASSERT_TRUE(installed) << installed.message();
    specs.push_back(s);
  }
  FlowKey stray = h.key(5);
  stray.vlan = 300;
  FlowKey out_of_range = h.key(5);
  out_of_range.vlan = 4095;
  FlowSpec bad = specs[0];
  bad.key = out_of_range;
  EXPECT_FALSE(h.dp().install(bad));

  testutil::RtpShape shape;
  shape.payload_len = 160;
  std::vector<uint16_t> want_dst_port;
  std::vector<Bytes> want_payload;
  for (int i = 0; i < 12; ++i) {
    const std::size_t v = static_cast<std::size_t>(i) % vlans.size();
    want_payload.push_back(
        testutil::build_rtp(rng, static_cast<uint32_t>(v + 1), static_cast<uint16_t>(i), 0, shape));
    ASSERT_TRUE(h.send(specs[v].key, want_payload.back()));
    want_dst_port.push_back(specs[v].next_hop.dst_port);
  }
  ASSERT_TRUE(h.send(stray, testutil::build_rtp(rng, 9, 0, 0, shape)));
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), want_dst_port.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].frame.key.local_port, want_dst_port[i]) << i;  // the next hop's port
    EXPECT_EQ(out[i].payload, want_payload[i]) << i;
  }
  for (const FlowSpec& s : specs) {
    const auto fs = h.dp().flow_stats(s.key);
    ASSERT_TRUE(fs);
    EXPECT_EQ(fs->rx_packets, 4u) << s.key.vlan;
    EXPECT_EQ(fs->tx_packets, 4u) << s.key.vlan;
  }
  EXPECT_EQ(h.dp().total_stats().drops[static_cast<std::size_t>(Drop::no_session)], 1u);
}

// The worker sends a burst as it is when all of it leaves by one port, and groups it by port
// otherwise: packets of two flows with next hops on different ports, interleaved in one burst,
// each leave by their own port, in order, counted per flow.
TEST(DataplaneTraffic, OneBurstToTwoEgressPortsLeavesByBoth) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  Rng rng(7);
  auto eng = engine();
  Sender a(rng, eng);
  Sender b(rng, eng);
  FlowSpec to_out = unprotect_spec(h, 1, a.key);
  FlowSpec hairpin = unprotect_spec(h, 2, b.key);
  hairpin.next_hop.port_id = h.in_port();
  const auto installed_out = h.dp().install(to_out);
  ASSERT_TRUE(installed_out) << installed_out.message();
  const auto installed_back = h.dp().install(hairpin);
  ASSERT_TRUE(installed_back) << installed_back.message();
  std::vector<Bytes> want_out;
  std::vector<Bytes> want_back;
  for (int i = 0; i < 12; ++i) {
    Bytes plain;
    const bool first = i % 3 != 2;  // two of every three to the egress port
    Sender& s = first ? a : b;
    const Bytes srtp = s.next(rng, first ? 0x1111 : 0x2222, plain);
    ASSERT_TRUE(h.send(first ? to_out.key : hairpin.key, srtp));
    (first ? want_out : want_back).push_back(plain);
  }
  h.run();
  const auto out = h.collect();
  const auto back = h.collect_hairpin();
  ASSERT_EQ(out.size(), want_out.size());
  ASSERT_EQ(back.size(), want_back.size());
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].payload, want_out[i]) << i;
  for (std::size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i].payload, want_back[i]) << i;
  EXPECT_EQ(h.dp().flow_stats(to_out.key)->tx_packets, want_out.size());
  EXPECT_EQ(h.dp().flow_stats(hairpin.key)->tx_packets, want_back.size());
  EXPECT_EQ(h.dp().total_stats().tx_packets, 12u);
  EXPECT_EQ(h.dp().total_stats().dropped(), 0u);
}

TEST(DataplaneTraffic, StunAndDtlsArePuntedToTheControlThread) {
  Harness h({});
  ASSERT_TRUE(h.ok());
  const FlowKey k = h.key(3);
  Bytes stun(20, 0);
  stun[0] = 0x00;
  stun[1] = 0x01;  // Binding request (RFC 8489 §5)
  stun[4] = 0x21;
  stun[5] = 0x12;
  stun[6] = 0xa4;
  stun[7] = 0x42;
  Bytes dtls = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // a handshake record header
  ASSERT_TRUE(h.send(k, stun));
  ASSERT_TRUE(h.send(k, dtls));
  h.run();
  PuntedPacket got[8];
  const std::size_t n = h.dp().receive_punted(got);
  ASSERT_EQ(n, 2u);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(got[i].port_id, h.in_port());
    rte_pktmbuf_free(got[i].mbuf);
  }
  EXPECT_EQ(h.dp().total_stats().punted, 2u);
  EXPECT_TRUE(h.collect().empty());
}

// Waits for the launched workers to have transmitted `n` packets in all.
bool wait_for_tx(Dataplane& dp, uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (dp.total_stats().tx_packets + dp.total_stats().dropped() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(DataplaneTraffic, ManyFlowsOverTwoWorkersOnTheirOwnLcores) {
  if (rte_lcore_count() < 3) GTEST_SKIP() << "needs two worker lcores";
  Harness::Options o;
  o.workers = 2;
  o.launch = true;
  Harness h(o);
  ASSERT_TRUE(h.ok());
  Rng rng(12);
  auto eng = engine();
  constexpr unsigned kFlows = 500;
  std::vector<std::unique_ptr<Sender>> senders;
  // Remote ends at random in 198.18.0.0/15. The Toeplitz hash is linear over GF(2): flows that
  // differ in a few bits only (h.key(n)) split as unevenly as a random linear function of those
  // bits does, a quarter or less about once in 1500 runs; random tuples split evenly.
  std::vector<FlowKey> keys;
  std::set<std::pair<std::array<uint8_t, 16>, uint16_t>> taken;
  unsigned per_worker[2] = {};
  for (unsigned f = 0; f < kFlows; ++f) {
    FlowKey k = h.key(f);
    do {
      const uint32_t r = static_cast<uint32_t>(rng());
      k.remote_addr[0] = 198;
      k.remote_addr[1] = static_cast<uint8_t>(18 + (r & 1));
      k.remote_addr[2] = static_cast<uint8_t>(r >> 1);
      k.remote_addr[3] = static_cast<uint8_t>(r >> 9);
      k.remote_port = static_cast<uint16_t>(1024 + (r >> 17) % 64000);
    } while (!taken.insert({k.remote_addr, k.remote_port}).second);
    keys.push_back(k);
    senders.push_back(std::make_unique<Sender>(rng, eng));
    FlowSpec spec = unprotect_spec(h, f, senders.back()->key);
    spec.key = k;
    ASSERT_TRUE(h.dp().install(spec));
    ++per_worker[h.dp().worker_of(k)];
  }
  h.dp().wait_applied();
  EXPECT_GT(per_worker[0], kFlows / 4);  // RSS spreads the flows
  EXPECT_GT(per_worker[1], kFlows / 4);
  // Each output carries its flow in the next hop's source port (30000 + n), and the plaintext
  // of packet i of flow n; check them all.
  std::map<uint16_t, std::vector<Bytes>> expected;
  std::vector<Output> outputs;
  uint64_t sent = 0;
  for (int round = 0; round < 10; ++round) {
    for (unsigned f = 0; f < kFlows; ++f) {
      Bytes p;
      const Bytes pkt = senders[f]->next(rng, f + 1, p);
      expected[static_cast<uint16_t>(30000 + f)].push_back(p);
      while (!h.send(keys[f], pkt)) std::this_thread::yield();
      ++sent;
    }
    ASSERT_TRUE(wait_for_tx(h.dp(), sent));
    for (Output& out : h.collect()) outputs.push_back(std::move(out));
  }
  std::map<uint16_t, std::size_t> seen;
  for (const Output& o : outputs) {
    const uint16_t flow_port = o.frame.key.remote_port;
    auto& list = expected[flow_port];
    const std::size_t i = seen[flow_port]++;
    ASSERT_LT(i, list.size());
    EXPECT_EQ(o.payload, list[i]) << "flow port " << flow_port << " packet " << i;
  }
  EXPECT_EQ(h.dp().total_stats().tx_packets, sent);
  EXPECT_EQ(h.dp().total_stats().dropped(), 0u);
  EXPECT_GT(h.dp().worker_stats(0).tx_packets, 0u);
  EXPECT_GT(h.dp().worker_stats(1).tx_packets, 0u);
}

TEST(DataplaneTraffic, InstallsRekeysAndRemovesWhileTrafficFlows) {
  if (rte_lcore_count() < 3) GTEST_SKIP() << "needs two worker lcores";
  Harness::Options o;
  o.workers = 2;
  o.launch = true;
  o.flows_per_worker = 65536;
  Harness h(o);
  ASSERT_TRUE(h.ok());
  Rng rng(13);
  auto eng = engine();
  constexpr unsigned kSteady = 8;
  // One million in the release build (the hardening issue's figure); 100k under the sanitizers,
  // which make each install some ten times slower.
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  constexpr unsigned kChurn = 1000000;
#else
  constexpr unsigned kChurn = 100000;
#endif
  std::vector<std::unique_ptr<Sender>> steady;
  for (unsigned f = 0; f < kSteady; ++f) {
    steady.push_back(std::make_unique<Sender>(rng, eng));
    ASSERT_TRUE(h.dp().install(unprotect_spec(h, f, steady.back()->key)));
  }
  h.dp().wait_applied();  // a packet can overtake its flow's install message
  // All churn flows share a key: key derivation is not what this test is about.
  const srtp::MasterKey churn_key = testutil::random_key(rng, kProfile);
  std::map<uint16_t, std::vector<Bytes>> expected;
  std::vector<Output> outputs;
  uint64_t sent = 0;
  std::vector<unsigned> live;
  for (unsigned c = 0; c < kChurn; ++c) {
    const unsigned n = kSteady + c;
    ASSERT_TRUE(h.dp().install(unprotect_spec(h, n, churn_key))) << c;
    live.push_back(n);
    if (c % 7 == 0) {
      ASSERT_TRUE(h.dp().rekey(h.key(n), LegKey{kProfile, churn_key}, std::nullopt));
    }
    if (live.size() > 2000) {  // keep a few thousand installed, remove the oldest
      ASSERT_TRUE(h.dp().remove(h.key(live.front())));
      live.erase(live.begin());
    }
    if (c % 1000 == 0) {
      for (Output& out : h.collect()) outputs.push_back(std::move(out));
    }
    if (c % 100 == 0) {  // the steady flows keep talking
      for (unsigned f = 0; f < kSteady; ++f) {
        Bytes p;
        const Bytes pkt = steady[f]->next(rng, 77, p);
        expected[static_cast<uint16_t>(30000 + f)].push_back(p);
        while (!h.send(h.key(f), pkt)) std::this_thread::yield();
        ++sent;
      }
    }
  }
  ASSERT_TRUE(wait_for_tx(h.dp(), sent));
  for (unsigned n : live) ASSERT_TRUE(h.dp().remove(h.key(n)));
  h.dp().wait_applied();
  EXPECT_EQ(h.dp().flow_count(), kSteady);
  EXPECT_EQ(h.dp().total_stats().flows, kSteady);
  for (Output& out : h.collect()) outputs.push_back(std::move(out));
  std::map<uint16_t, std::size_t> seen;
  for (const Output& out : outputs) {
    const uint16_t flow_port = out.frame.key.remote_port;
    auto& list = expected[flow_port];
    const std::size_t i = seen[flow_port]++;
    ASSERT_LT(i, list.size());
    EXPECT_EQ(out.payload, list[i]) << "flow port " << flow_port << " packet " << i;
  }
  EXPECT_EQ(h.dp().total_stats().tx_packets, sent);
  EXPECT_EQ(h.dp().total_stats().dropped(), 0u);
}


// Flows carrying traffic through launched workers are rekeyed to new keys while packets keep
// flowing. Each peer switches to its new key at packet kSwitch, as after an SDES re-offer with a
// new key (RFC 4568 §6.4): the crypto context, and so the ROC, carries on. The worker swaps the
// keys between two bursts, so a packet is unprotected with the key the flow holds when it
// arrives: the right key gives the original RTP back byte for byte, the other fails the tag.
//
// Half the flows are rekeyed in step with their peer: their old-key packets are all through
// before the rekey is sent, the last kLate of them are held back and arrive after it (delayed
// in the network), and the new-key packets are sent only once the rekey is applied; exactly the
// kLate late ones are dropped, as auth_failure. The other half race: the rekey goes out while
// their old-key packets may still be queued, and new-key packets follow before it is applied.
// Where the worker swaps is then unknown, but a flow's packets are handled in order, so what
// arrives is every packet before one point and every packet after another, with kSwitch between
// the two, the rest dropped as auth_failure; everything sent after the rekey was applied arrives.
//
// Sequence numbers advance by kSeqStep, as if the packets in between were lost upstream (any
// jump under 2^15 keeps the index estimate right, RFC 3711 Appendix A), so the streams cross
// three wraps before the switch and two after it: a rekey that reset the ROC would show. The
// jump over what a racing flow loses stays under 2^15 too (see the bound below).
TEST(DataplaneTraffic, RekeysFlowsCarryingTrafficToNewKeysAtAKnownPacket) {
  if (rte_lcore_count() < 3) GTEST_SKIP() << "needs two worker lcores";
  Harness::Options o;
  o.workers = 2;
  o.launch = true;
  Harness h(o);
  ASSERT_TRUE(h.ok());
  Rng rng(14);
  auto eng = engine();
  constexpr unsigned kFlowsPerWorker = 8;  // half in step, half racing
  constexpr unsigned kFlows = 2 * kFlowsPerWorker;
  constexpr unsigned kPackets = 320;
  constexpr unsigned kSwitch = 160;  // the first packet under the new key
  constexpr unsigned kLate = 24;     // in-step flows: old-key packets that arrive after the rekey
  constexpr unsigned kRace = 16;     // racing flows: new-key packets sent before it is applied
  constexpr uint32_t kFirstSeq = 65000;
  constexpr uint32_t kSeqStep = 1021;
  const auto index_of = [](unsigned i) { return kFirstSeq + i * kSeqStep; };  // ROC << 16 | SEQ
  static_assert((kFirstSeq + kSwitch * kSeqStep) >> 16 == 3);
  static_assert((kFirstSeq + (kPackets - 1) * kSeqStep) >> 16 == 5);
  // The largest jump a flow sees: over what a racing flow may lose (bounded below).
  static_assert((std::max(kLate + 1, kRace) + 1) * kSeqStep < 1u << 15);

  struct Flow {
    unsigned n;  // Harness::key(n); its outputs leave from port 30000 + n
    bool in_step;
    FlowKey key;
    srtp::MasterKey new_key;
    std::vector<Bytes> plain;
    std::vector<Bytes> srtp;  // [0, kSwitch) under the old key, the rest under the new one
  };
  // The first flow numbers that fill both workers; on each, in-step and racing flows alternate.
  std::vector<Flow> flows;
  unsigned per_worker[2] = {};
  for (unsigned n = 0; flows.size() < kFlows; ++n) {
    ASSERT_LT(n, 1000u) << "RSS puts (nearly) every flow on one worker";
    const unsigned w = h.dp().worker_of(h.key(n));
    if (per_worker[w] == kFlowsPerWorker) continue;
    flows.push_back(Flow{n, per_worker[w]++ % 2 == 0, h.key(n), {}, {}, {}});
  }
  std::map<uint16_t, unsigned> flow_of_port;
  for (unsigned f = 0; f < kFlows; ++f) {
    Flow& fl = flows[f];
    flow_of_port[static_cast<uint16_t>(30000 + fl.n)] = f;
    const uint32_t ssrc = 0x5000 + f;
    const srtp::MasterKey old_key = testutil::random_key(rng, kProfile);
    fl.new_key = testutil::random_key(rng, kProfile);
    srtp::SessionConfig c;
    c.profile = kProfile;
    auto before = srtp::Session::create(eng, c, old_key);
    ASSERT_TRUE(before) << before.message();
    auto after = srtp::Session::create(eng, c, fl.new_key);
    ASSERT_TRUE(after) << after.message();
    ASSERT_TRUE(after.value()->set_roc(ssrc, index_of(kSwitch) >> 16));
    for (unsigned i = 0; i < kPackets; ++i) {
      const auto seq = static_cast<uint16_t>(index_of(i));
      fl.plain.push_back(
          testutil::build_rtp(rng, ssrc, seq, i * 160u, testutil::random_shape(rng, 160)));
      fl.srtp.push_back(protect_one(i < kSwitch ? *before.value() : *after.value(), fl.plain[i]));
    }
    ASSERT_TRUE(h.dp().install(unprotect_spec(h, fl.n, old_key)));
  }
  h.dp().wait_applied();

  std::vector<Output> outputs;
  uint64_t sent = 0;
  const auto send = [&](unsigned f, unsigned i) {
    rte_mbuf* m = h.frame_for(flows[f].key, flows[f].srtp[i]);
    const unsigned w = h.dp().worker_of(flows[f].key);
    while (!h.inject(m, w)) {
      std::this_thread::yield();
    }
    ++sent;
  };
  const auto collect = [&] {
    for (Output& out : h.collect()) outputs.push_back(std::move(out));
  };

  for (unsigned i = 0; i < kSwitch; ++i) {
    for (unsigned f = 0; f < kFlows; ++f) {
      if (!flows[f].in_step || i < kSwitch - kLate) send(f, i);
    }
    collect();
  }
  // The in-step flows' old-key packets are through; the racing flows' last ones may not be.
  for (unsigned f = 0; f < kFlows; ++f) {
    if (!flows[f].in_step) continue;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (h.dp().flow_stats(flows[f].key)->tx_packets < kSwitch - kLate) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "flow " << f;
      std::this_thread::yield();
    }
  }
  for (unsigned f = 0; f < kFlows; ++f) {
    const auto r = h.dp().rekey(flows[f].key, LegKey{kProfile, flows[f].new_key}, std::nullopt);
    ASSERT_TRUE(r) << r.message();
  }
  for (unsigned i = kSwitch; i < kSwitch + kRace; ++i) {
    for (unsigned f = 0; f < kFlows; ++f) {
      if (!flows[f].in_step) send(f, i);
    }
  }
  h.dp().wait_applied();
  for (unsigned f = 0; f < kFlows; ++f) {
    if (!flows[f].in_step) continue;
    for (unsigned i = kSwitch - kLate; i < kSwitch + kRace; ++i) send(f, i);
  }
  for (unsigned i = kSwitch + kRace; i < kPackets; ++i) {
    for (unsigned f = 0; f < kFlows; ++f) send(f, i);
    collect();
  }
  ASSERT_TRUE(wait_for_tx(h.dp(), sent));
  collect();

  // Which packets of each flow came out, in order.
  std::vector<std::vector<unsigned>> arrived(kFlows);
  for (const Output& out : outputs) {
    const auto it = flow_of_port.find(out.frame.key.remote_port);
    ASSERT_NE(it, flow_of_port.end()) << "from port " << out.frame.key.remote_port;
    const unsigned f = it->second;
    const unsigned from = arrived[f].empty() ? 0 : arrived[f].back() + 1;
    unsigned i = from;
    while (i < kPackets && flows[f].plain[i] != out.payload) ++i;
    ASSERT_LT(i, kPackets) << "flow " << f << ": an output that is no packet after " << from
                           << " byte for byte (a duplicate, reordered or damaged)";
    arrived[f].push_back(i);
  }
  uint64_t auth_failures = 0;
  for (unsigned f = 0; f < kFlows; ++f) {
    const auto& got = arrived[f];
    // What arrives is [0, first_gap) and [gap_end, kPackets); one of the two bounds is kSwitch.
    unsigned first_gap = 0;
    while (first_gap < got.size() && got[first_gap] == first_gap) ++first_gap;
    unsigned gap_end = first_gap < got.size() ? got[first_gap] : static_cast<unsigned>(kPackets);
    if (first_gap == kPackets) {  // nothing lost: the swap fell exactly at the switch
      first_gap = gap_end = kSwitch;
    }
    for (std::size_t k = first_gap; k < got.size(); ++k) {
      ASSERT_EQ(got[k], gap_end + (k - first_gap)) << "flow " << f << ": a second gap";
    }
    const uint64_t dropped = gap_end - first_gap;
    const auto fs = h.dp().flow_stats(flows[f].key);
    ASSERT_TRUE(fs);
    EXPECT_EQ(fs->drops[static_cast<std::size_t>(Drop::auth_failure)], dropped) << "flow " << f;
    EXPECT_EQ(fs->tx_packets, got.size()) << "flow " << f;
    auth_failures += dropped;
    if (flows[f].in_step) {
      EXPECT_EQ(first_gap, kSwitch - kLate) << "flow " << f;
      EXPECT_EQ(gap_end, kSwitch) << "flow " << f;
    } else {
      EXPECT_TRUE(first_gap == kSwitch || gap_end == kSwitch)
          << "flow " << f << " lost [" << first_gap << ", " << gap_end << ")";
      // Its worker had handled an in-step flow's last old-key packet, sent in round
      // kSwitch - kLate - 1, before the rekey was sent: only later rounds can still be queued.
      EXPECT_GE(first_gap, kSwitch - kLate - 1) << "flow " << f;
      EXPECT_LE(first_gap, kSwitch) << "flow " << f;
      EXPECT_LE(gap_end, kSwitch + kRace) << "flow " << f << ": lost packets sent after the rekey";
    }
  }
  EXPECT_EQ(h.dp().total_stats().dropped(), auth_failures);
  EXPECT_EQ(h.dp().total_stats().tx_packets + auth_failures, sent);
}

}  // namespace
}  // namespace srtpgate::dp::testing

namespace srtpgate::dp::testing {
namespace {

// A dataplane whose second worker cannot be launched (its lcore is busy running another
// dataplane's worker) returns an error, having stopped the first; it must not wait for the
// worker that never started. Giving one lcore to two workers is refused up front.
TEST(DataplaneTraffic, AWorkerThatCannotLaunchFailsCreateWithoutHanging) {
  if (rte_lcore_count() < 3) GTEST_SKIP() << "needs two worker lcores";
  const unsigned first = rte_get_next_lcore(-1, 1, 0);
  const unsigned second = rte_get_next_lcore(first, 1, 0);
  ASSERT_LT(second, RTE_MAX_LCORE);
  const std::string vdev_a = "net_null_launch_a";
  const std::string vdev_b = "net_null_launch_b";
  ASSERT_EQ(rte_vdev_init(vdev_a.c_str(), "size=64"), 0);
  ASSERT_EQ(rte_vdev_init(vdev_b.c_str(), "size=64"), 0);
  {
    const auto config = [](const std::string& vdev, std::vector<unsigned> lcores) {
      DataplaneConfig c;
      PortConfig pc;
      pc.name = vdev;
      pc.rss = false;
      c.ports = {pc};
      c.worker_lcores = std::move(lcores);
      c.launch_workers = true;
      c.mbufs = 2047;
      return c;
    };
    auto busy = Dataplane::create(config(vdev_a, {second}));
    ASSERT_TRUE(busy) << busy.message();
    auto dup = Dataplane::create(config(vdev_b, {first, first}));
    ASSERT_FALSE(dup);
    EXPECT_NE(dup.message().find("two workers"), std::string::npos) << dup.message();
    auto late = Dataplane::create(config(vdev_b, {first, second}));
    ASSERT_FALSE(late);
    EXPECT_NE(late.message().find("cannot launch a worker on lcore " + std::to_string(second)),
              std::string::npos)
        << late.message();
    // Both lcores are free again once the busy one stops (a failed create closes its port, so
    // the device is made again).
    busy.value().reset();
    rte_vdev_uninit(vdev_b.c_str());
    ASSERT_EQ(rte_vdev_init(vdev_b.c_str(), "size=64"), 0);
    auto again = Dataplane::create(config(vdev_b, {first, second}));
    EXPECT_TRUE(again) << again.message();
  }
  rte_vdev_uninit(vdev_a.c_str());
  rte_vdev_uninit(vdev_b.c_str());
}

// When every mbuf is taken the worker receives nothing and neither crashes nor leaks; when
// they come back, traffic resumes. net_null allocates its received frames from the rx queue's
// pool, which is the dataplane's own, so holding that pool is exactly mbuf exhaustion.
TEST(DataplaneTraffic, MbufPoolExhaustionStopsReceptionAndTrafficResumesAfter) {
  const std::string vdev = "net_null_exhaust";
  ASSERT_EQ(rte_vdev_init(vdev.c_str(), "size=64"), 0);
  {
    DataplaneConfig c;
    PortConfig pc;
    pc.name = vdev;
    pc.rss = false;
    c.ports = {pc};
    c.workers = 1;
    c.launch_workers = false;
    c.mbufs = 2047;
    auto dp = Dataplane::create(c);
    ASSERT_TRUE(dp) << dp.message();
    const uint16_t port = dp.value()->port_ids().at(0);
    std::vector<rte_mbuf*> held;
    while (rte_mbuf* m = dp.value()->alloc_mbuf(port)) held.push_back(m);
    ASSERT_GT(held.size(), 1000u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(dp.value()->poll_worker(0), 0u);
    EXPECT_EQ(dp.value()->total_stats().rx_packets, 0u);
    for (rte_mbuf* m : held) rte_pktmbuf_free(m);
    std::size_t received = 0;
    for (int i = 0; i < 100; ++i) received += dp.value()->poll_worker(0);
    EXPECT_GT(received, 0u);
    const WorkerStats st = dp.value()->total_stats();
    EXPECT_EQ(st.rx_packets, received);
    EXPECT_EQ(st.dropped(), received);  // net_null's frames are not IP: each counted
    EXPECT_EQ(st.tx_packets, 0u);
  }
  rte_vdev_uninit(vdev.c_str());
}

}  // namespace
}  // namespace srtpgate::dp::testing
