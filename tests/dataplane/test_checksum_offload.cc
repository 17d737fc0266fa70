// The dataplane on ports with checksum offload, the path it takes on a server's NIC: received
// frames carry the NIC's verdict on their checksums (RTE_MBUF_F_RX_*_CKSUM_*), and the worker
// leaves each UDP checksum for the NIC to finish (RTE_MBUF_F_TX_UDP_CKSUM, DPDK's convention).
// Ring ports play the NIC (PortConfig::emulated_checksum_offload); the harness finishes the
// checksums as a NIC would, DPDK's own code checks the result, and libsrtp2 reads the SRTP.
#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <map>

#include "../libsrtp_oracle.h"
#include "../packet_builders.h"
#include "dp_harness.h"
#include "libsrtp_legs.h"

namespace srtpgate::dp::testing {
namespace {

using srtp::Profile;
using testutil::Rng;

// What the worker left for the NIC, and what came of it: the transmit flags name UDP checksum
// offload and the IP version, l2_len and l3_len locate the UDP header, the checksum field held
// the pseudo-header's sum as DPDK computes it, and the finished checksum is DPDK's.
void expect_left_to_the_nic(const Output& o, uint8_t family, uint8_t l2_len) {
  EXPECT_EQ(o.ol_flags & RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_UDP_CKSUM);
  EXPECT_EQ((o.ol_flags & RTE_MBUF_F_TX_IPV4) != 0, family == 4);
  EXPECT_EQ((o.ol_flags & RTE_MBUF_F_TX_IPV6) != 0, family == 6);
  EXPECT_EQ(o.l2_len, l2_len);
  EXPECT_EQ(o.l3_len, family == 4 ? 20 : 40);
  // The harness's parse (collect) checked both checksums in software: a wrong one is a drop.
  ASSERT_NE(o.frame.kind, detail::FrameKind::drop) << dp::name(o.frame.drop);
  ASSERT_GE(o.raw.size(), l2_len + (family == 4 ? 20u : 40u) + 8u);
  Bytes frame = o.raw;
  uint8_t* l3 = frame.data() + l2_len;
  if (family == 4) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l3 + 20);
    EXPECT_EQ(o.udp_checksum_left, rte_ipv4_phdr_cksum(ip, 0));
    const uint16_t finished = udp->dgram_cksum;
    udp->dgram_cksum = 0;
    EXPECT_EQ(finished, rte_ipv4_udptcp_cksum(ip, udp));
  } else {
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(l3);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l3 + 40);
    EXPECT_EQ(o.udp_checksum_left, rte_ipv6_phdr_cksum(ip, 0));
    const uint16_t finished = udp->dgram_cksum;
    udp->dgram_cksum = 0;
    EXPECT_EQ(finished, rte_ipv6_udptcp_cksum(ip, udp));
  }
}

// Unprotect (AES-CM, to a tagged IPv4 next hop), protect (AES-GCM, to an IPv6 next hop) and a
// plain relay, interleaved in the same bursts: every packet leaves with its UDP checksum for the
// NIC, and its payload is what libsrtp2 says it must be.
TEST(ChecksumOffload, EveryActionLeavesTheUdpChecksumForTheNicToFinish) {
  Harness::Options o;
  o.checksum_offload = true;
  Harness h(o);
  ASSERT_TRUE(h.ok());
  Rng rng(1071);

  Leg peer = make_leg(rng, Profile::aes_cm_128_hmac_sha1_80, true);
  FlowSpec un = spec_for(h, 0, Action::unprotect);
  un.inbound = LegKey{Profile::aes_cm_128_hmac_sha1_80, peer.key};
  un.next_hop.vlan_id = 100;
  Leg receiver = make_leg(rng, Profile::aead_aes_128_gcm, false);
  FlowSpec pr = spec_for(h, 1, Action::protect);
  pr.outbound = LegKey{Profile::aead_aes_128_gcm, receiver.key};
  pr.next_hop.src_addr = ip("2001:db8::2");
  pr.next_hop.dst_addr = ip("2001:db8::1");
  FlowSpec fw = spec_for(h, 2, Action::forward);
  for (const FlowSpec* s : {&un, &pr, &fw}) {
    ASSERT_TRUE(h.dp().install(*s));
  }
  h.dp().wait_applied();

  std::map<uint16_t, std::vector<Bytes>> sent;  // by next hop destination port
  for (uint16_t i = 0; i < 60; ++i) {
    const uint32_t len = 1 + i * 19u;  // odd and even lengths, up to 1122 bytes
    Bytes plain = rtp(rng, 0x0a0a, static_cast<uint16_t>(100 + i), len);
    Bytes srtp = plain;
    ASSERT_EQ(peer.lib->protect_rtp(srtp), srtp_err_status_ok);
    ASSERT_TRUE(h.send(un.key, srtp));
    sent[un.next_hop.dst_port].push_back(plain);
    plain = rtp(rng, 0x0b0b, static_cast<uint16_t>(200 + i), len);
    ASSERT_TRUE(h.send(pr.key, plain));
    sent[pr.next_hop.dst_port].push_back(plain);
    plain = rtp(rng, 0x0c0c, static_cast<uint16_t>(300 + i), len);
    ASSERT_TRUE(h.send(fw.key, plain));
    sent[fw.next_hop.dst_port].push_back(plain);
  }
  h.run();
  const auto out = h.collect();
  ASSERT_EQ(out.size(), 180u);
  EXPECT_EQ(h.dp().total_stats().dropped(), 0u);

  std::map<uint16_t, std::size_t> seen;
  for (const Output& o : out) {
    const uint16_t port = o.frame.key.local_port;
    ASSERT_TRUE(sent.count(port)) << "a frame to port " << port;
    const std::size_t i = seen[port]++;
    ASSERT_LT(i, sent[port].size());
    SCOPED_TRACE("to port " + std::to_string(port) + ", packet " + std::to_string(i));
    if (port == un.next_hop.dst_port) {
      expect_left_to_the_nic(o, 4, 18);
      EXPECT_EQ(o.frame.key.vlan, 100);
      EXPECT_EQ(o.payload, sent[port][i]);
    } else if (port == pr.next_hop.dst_port) {
      expect_left_to_the_nic(o, 6, 14);
      Bytes srtp = o.payload;
      ASSERT_EQ(receiver.lib->unprotect_rtp(srtp), srtp_err_status_ok);
      EXPECT_EQ(srtp, sent[port][i]);
    } else {
      expect_left_to_the_nic(o, 4, 14);
      EXPECT_EQ(o.payload, sent[port][i]);
    }
  }
}

// The NIC's verdict on a received frame is final: a frame it flags bad is dropped and counted
// even if its checksums are right, and a frame it vouches for is not summed again. The damaged
// payload bit below proves the second: the worker's own check would have caught it, as it does
// when the same frame arrives without the NIC's word.
TEST(ChecksumOffload, TheNicsVerdictOnReceivedChecksumsIsFinal) {
  Harness::Options o;
  o.checksum_offload = true;
  Harness h(o);
  ASSERT_TRUE(h.ok());
  Rng rng(768);
  Leg receiver = make_leg(rng, Profile::aes_cm_128_hmac_sha1_80, false);
  FlowSpec pr = spec_for(h, 5, Action::protect);
  pr.outbound = LegKey{Profile::aes_cm_128_hmac_sha1_80, receiver.key};
  Leg peer = make_leg(rng, Profile::aes_cm_128_hmac_sha1_80, true);
  FlowSpec un = spec_for(h, 6, Action::unprotect);
  un.inbound = LegKey{Profile::aes_cm_128_hmac_sha1_80, peer.key};
  ASSERT_TRUE(h.dp().install(pr));
  ASSERT_TRUE(h.dp().install(un));
  h.dp().wait_applied();

  constexpr uint64_t kGood = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  const auto send_flagged = [&](const FlowSpec& s, const Bytes& payload, uint64_t flags,
                                unsigned flip_at = 0) {
    h.set_rx_flags(flags);
    rte_mbuf* m = h.frame_for(s.key, payload);
    if (flip_at != 0) {
      rte_pktmbuf_mtod(m, uint8_t*)[flip_at] ^= 0x04;  // after the checksums were written
    }
    ASSERT_TRUE(h.inject(m, 0));
  };

  const Bytes first = rtp(rng, 0x11, 1, 160);
  Bytes damaged = rtp(rng, 0x11, 2, 160);
  const Bytes third = rtp(rng, 0x11, 3, 160);
  send_flagged(pr, first, kGood);
  send_flagged(pr, damaged, kGood, 14 + 20 + 8 + 100);  // vouched for: goes out as it is
  damaged[100] ^= 0x04;
  send_flagged(pr, third, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_BAD);
  send_flagged(pr, third, RTE_MBUF_F_RX_IP_CKSUM_BAD | RTE_MBUF_F_RX_L4_CKSUM_GOOD);
  send_flagged(pr, third, 0, 14 + 20 + 8 + 100);  // no verdict: the worker's check drops it
  Bytes srtp = rtp(rng, 0x22, 9, 160);
  ASSERT_EQ(peer.lib->protect_rtp(srtp), srtp_err_status_ok);
  send_flagged(un, srtp, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_BAD);
  send_flagged(pr, third, kGood);
  h.run();

  const auto out = h.collect();
  ASSERT_EQ(out.size(), 3u);
  const std::vector<Bytes> expected = {first, damaged, third};
  for (std::size_t i = 0; i < out.size(); ++i) {
    SCOPED_TRACE(i);
    expect_left_to_the_nic(out[i], 4, 14);
    Bytes plain = out[i].payload;
    ASSERT_EQ(receiver.lib->unprotect_rtp(plain), srtp_err_status_ok);
    EXPECT_EQ(plain, expected[i]);
  }
  const WorkerStats st = h.dp().total_stats();
  EXPECT_EQ(st.drops[static_cast<std::size_t>(Drop::udp_checksum)], 3u);
  EXPECT_EQ(st.drops[static_cast<std::size_t>(Drop::ip_checksum)], 1u);
  EXPECT_EQ(st.dropped(), 4u);
}

// What an operator reads back (the daemon's `ports` command): each port's driver and queues,
// and whether the NIC or the workers do the checksums.
TEST(ChecksumOffload, PortsDescribeTheOffloadsInEffect) {
  for (bool offload : {false, true}) {
    SCOPED_TRACE(offload ? "with offload" : "without");
    Harness::Options o;
    o.checksum_offload = offload;
    Harness h(o);
    ASSERT_TRUE(h.ok());
    const std::vector<PortDescription> ports = h.dp().describe_ports();
    ASSERT_EQ(ports.size(), 2u);
    EXPECT_EQ(ports[0].port_id, h.in_port());
    EXPECT_EQ(ports[1].port_id, h.out_port());
    EXPECT_TRUE(ports[0].name.starts_with("net_ring_hin")) << ports[0].name;
    for (const PortDescription& p : ports) {
      EXPECT_EQ(p.driver, "net_ring");
      EXPECT_EQ(p.rx_queues, 1);
      EXPECT_EQ(p.tx_queues, 2);  // the worker's and the control thread's
      EXPECT_FALSE(p.rss);
      EXPECT_EQ(p.mtu, 1500);
      EXPECT_EQ(p.rx_ip_checksum, offload);
      EXPECT_EQ(p.rx_udp_checksum, offload);
      EXPECT_EQ(p.tx_udp_checksum, offload);
    }
  }
}

}  // namespace
}  // namespace srtpgate::dp::testing
