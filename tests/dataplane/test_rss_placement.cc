// The Toeplitz hash against the published RSS verification vectors, and flow placement over
// a redirection table.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "port.h"
#include "rss_placement.h"
#include "srtpgate/dp/flow.h"

namespace srtpgate::dp::detail {
namespace {

// The key of Microsoft's "Verifying the RSS Hash Calculation" (Windows driver docs,
// learn.microsoft.com/windows-hardware/drivers/network/verifying-the-rss-hash-calculation),
// also in the Intel 82599 datasheet §7.1.2.8.3 "RSS Verification Suite".
constexpr std::array<uint8_t, 40> kMicrosoftKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

struct V4Vector {
  std::array<uint8_t, 4> dst;  // the table's "Destination Address" (ours: local)
  uint16_t dst_port;
  std::array<uint8_t, 4> src;  // "Source Address" (the sender: remote)
  uint16_t src_port;
  uint32_t hash;  // the "IPv4 with TCP" column: the 4-tuple hash, as for UDP
};

// Same source as the key above: the IPv4 table, 4-tuple column.
constexpr V4Vector kV4Vectors[] = {
    {{161, 142, 100, 80}, 1766, {66, 9, 149, 187}, 2794, 0x51ccc178},
    {{65, 69, 140, 83}, 4739, {199, 92, 111, 2}, 14230, 0xc626b0ea},
    {{12, 22, 207, 184}, 38024, {24, 19, 198, 95}, 12898, 0x5c2b394a},
    {{209, 142, 163, 6}, 2217, {38, 27, 205, 30}, 48228, 0xafc7327f},
    {{202, 188, 127, 2}, 1303, {153, 39, 163, 191}, 44251, 0x10e828a2},
};

struct V6Vector {
  std::array<uint8_t, 16> dst;
  uint16_t dst_port;
  std::array<uint8_t, 16> src;
  uint16_t src_port;
  uint32_t hash;  // "IPv6 with TCP"
};

// Same source: the IPv6 table, 4-tuple column.
constexpr V6Vector kV6Vectors[] = {
    // 3ffe:2501:200:3::1 :1766 <- 3ffe:2501:200:1fff::7 :2794
    {{0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01},
     1766,
     {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07},
     2794,
     0x40207d3d},
    // ff02::1 :4739 <- 3ffe:501:8::260:97ff:fe40:efab :14230
    {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01},
     4739,
     {0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40, 0xef, 0xab},
     14230,
     0xdde51bbf},
    // fe80::200:f8ff:fe21:67cf :38024 <- 3ffe:1900:4545:3:200:f8ff:fe21:67cf :44251
    {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf},
     38024,
     {0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67,
      0xcf},
     44251,
     0x02d1feef},
};

FlowKey v4_key(const std::array<uint8_t, 4>& local, uint16_t local_port,
               const std::array<uint8_t, 4>& remote, uint16_t remote_port) {
  FlowKey k;
  std::copy(local.begin(), local.end(), k.local_addr.begin());
  std::copy(remote.begin(), remote.end(), k.remote_addr.begin());
  k.local_port = local_port;
  k.remote_port = remote_port;
  k.family = 4;
  return k;
}

TEST(RssPlacement, ToeplitzMatchesMicrosoftIpv4Vectors) {
  for (const auto& v : kV4Vectors) {
    const FlowKey k = v4_key(v.dst, v.dst_port, v.src, v.src_port);
    EXPECT_EQ(flow_rss_hash(k, kMicrosoftKey.data(), kMicrosoftKey.size()), v.hash)
        << "source port " << v.src_port;
  }
}

TEST(RssPlacement, ToeplitzMatchesMicrosoftIpv6Vectors) {
  for (const auto& v : kV6Vectors) {
    FlowKey k;
    k.local_addr = v.dst;
    k.remote_addr = v.src;
    k.local_port = v.dst_port;
    k.remote_port = v.src_port;
    k.family = 6;
    EXPECT_EQ(flow_rss_hash(k, kMicrosoftKey.data(), kMicrosoftKey.size()), v.hash)
        << "source port " << v.src_port;
  }
}

TEST(RssPlacement, HashIgnoresThePortIdField) {
  // The NIC sees only the packet; the DPDK port id is our bookkeeping.
  const auto& v = kV4Vectors[0];
  FlowKey k = v4_key(v.dst, v.dst_port, v.src, v.src_port);
  k.port_id = 7;
  EXPECT_EQ(flow_rss_hash(k, kMicrosoftKey.data(), kMicrosoftKey.size()), v.hash);
}

PortInfo rss_port(uint16_t queues, std::mt19937& rng) {
  PortInfo p;
  p.rx_queues = queues;
  p.rss = true;
  p.rss_ipv4_udp = true;
  p.rss_ipv6_udp = true;
  p.rss_key.resize(40);
  for (auto& b : p.rss_key) {
    b = static_cast<uint8_t>(rng());
  }
  for (uint16_t i = 0; i < 128; ++i) {
    p.reta.push_back(static_cast<uint16_t>(i % queues));
  }
  return p;
}

FlowKey random_flow(std::mt19937& rng, bool v6) {
  FlowKey k;
  k.family = v6 ? 6 : 4;
  const std::size_t n = v6 ? 16 : 4;
  for (std::size_t i = 0; i < n; ++i) {
    k.local_addr[i] = static_cast<uint8_t>(rng());
    k.remote_addr[i] = static_cast<uint8_t>(rng());
  }
  k.local_port = static_cast<uint16_t>(rng());
  k.remote_port = static_cast<uint16_t>(rng());
  return k;
}

void expect_even_spread(uint16_t queues, bool v6) {
  std::mt19937 rng(queues * 1000 + (v6 ? 6 : 4));
  const PortInfo port = rss_port(queues, rng);
  constexpr int kFlows = 10000;
  std::vector<int> per_queue(queues, 0);
  for (int i = 0; i < kFlows; ++i) {
    const uint16_t q = flow_rx_queue(port, random_flow(rng, v6));
    ASSERT_LT(q, queues);
    ++per_queue[q];
  }
  // A fair split has a standard deviation of about sqrt(n p (1 - p)) <= 50 flows here;
  // 10% of the mean is more than 5 of those.
  const double mean = static_cast<double>(kFlows) / queues;
  for (uint16_t q = 0; q < queues; ++q) {
    EXPECT_NEAR(per_queue[q], mean, mean * 0.10) << "queue " << q << " of " << queues;
  }
}

TEST(RssPlacement, SpreadsRandomFlowsOverTwoQueues) {
  expect_even_spread(2, false);
  expect_even_spread(2, true);
}

TEST(RssPlacement, SpreadsRandomFlowsOverFourQueues) {
  expect_even_spread(4, false);
  expect_even_spread(4, true);
}

TEST(RssPlacement, FollowsTheRedirectionTable) {
  std::mt19937 rng(99);
  PortInfo port = rss_port(4, rng);
  for (int i = 0; i < 1000; ++i) {
    const FlowKey k = random_flow(rng, i % 2 == 0);
    const uint32_t h = flow_rss_hash(k, port.rss_key.data(), port.rss_key.size());
    EXPECT_EQ(flow_rx_queue(port, k), port.reta[h & 127]);
  }
}

// A device that hashes UDP over one address family only leaves the other's packets unhashed,
// on queue 0; placing those flows by their hash would put them on a worker that never sees them.
TEST(RssPlacement, AFamilyTheDeviceDoesNotHashStaysOnQueueZero) {
  std::mt19937 rng(46);
  PortInfo v4_only = rss_port(4, rng);
  v4_only.rss_ipv6_udp = false;
  PortInfo v6_only = rss_port(4, rng);
  v6_only.rss_ipv4_udp = false;
  int v4_spread = 0;
  int v6_spread = 0;
  for (int i = 0; i < 1000; ++i) {
    const FlowKey k4 = random_flow(rng, false);
    const FlowKey k6 = random_flow(rng, true);
    EXPECT_EQ(flow_rx_queue(v4_only, k6), 0);
    EXPECT_EQ(flow_rx_queue(v6_only, k4), 0);
    v4_spread += flow_rx_queue(v4_only, k4) != 0;
    v6_spread += flow_rx_queue(v6_only, k6) != 0;
  }
  // The hashed family is still spread (three queues of four are not queue 0).
  EXPECT_GT(v4_spread, 600);
  EXPECT_GT(v6_spread, 600);
}

TEST(RssPlacement, QueueZeroWithoutRss) {
  std::mt19937 rng(7);
  PortInfo no_rss;
  no_rss.rx_queues = 4;
  PortInfo no_table = rss_port(4, rng);
  no_table.reta.clear();
  for (int i = 0; i < 1000; ++i) {
    const FlowKey k = random_flow(rng, i % 2 == 0);
    EXPECT_EQ(flow_rx_queue(no_rss, k), 0);
    EXPECT_EQ(flow_rx_queue(no_table, k), 0);
  }
}

}  // namespace
}  // namespace srtpgate::dp::detail
