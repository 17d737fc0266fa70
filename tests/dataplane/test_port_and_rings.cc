// Pools, rings and ports on the virtual devices the dataplane tests use: in-process ring
// ports, net_null (with its emulated RSS table) and net_pcap replaying a file.
#include <gtest/gtest.h>
#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "port.h"

namespace srtpgate::dp::detail {
namespace {

MempoolPtr pool_or_die(const std::string& name, uint32_t count = 2047) {
  auto p = make_mbuf_pool(name, count, SOCKET_ID_ANY);
  EXPECT_TRUE(p) << p.message();
  return p ? std::move(*p) : MempoolPtr();
}

// Virtual devices made at run time (librte_bus_vdev; dataplane/meson.build links it).
int add_vdev(const std::string& name, const std::string& args) {
  return rte_vdev_init(name.c_str(), args.c_str());
}
int remove_vdev(const std::string& name) { return rte_vdev_uninit(name.c_str()); }

rte_mbuf* mbuf_with(rte_mempool* pool, const std::vector<uint8_t>& bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) {
    return nullptr;
  }
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size()));
  std::memcpy(p, bytes.data(), bytes.size());
  return m;
}

TEST(Rings, SpscRingHoldsExactlyItsSize) {
  auto r = make_spsc_ring("t_ring_exact", 100, SOCKET_ID_ANY);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(rte_ring_get_capacity(r->get()), 100u);
  EXPECT_NE(r->get()->flags & RING_F_SP_ENQ, 0);
  EXPECT_NE(r->get()->flags & RING_F_SC_DEQ, 0);
  std::vector<int> objects(128);
  std::vector<void*> in(128);
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = &objects[i];
  }
  EXPECT_EQ(rte_ring_enqueue_burst(r->get(), in.data(), 128, nullptr), 100u);
  std::vector<void*> out(128);
  EXPECT_EQ(rte_ring_dequeue_burst(r->get(), out.data(), 128, nullptr), 100u);
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(out[i], in[i]);
  }
}

TEST(Rings, NamesMustBeUniqueAndShort) {
  auto a = make_spsc_ring("t_ring_dup", 64, SOCKET_ID_ANY);
  ASSERT_TRUE(a) << a.message();
  auto b = make_spsc_ring("t_ring_dup", 64, SOCKET_ID_ANY);
  ASSERT_FALSE(b);
  EXPECT_NE(b.message().find("t_ring_dup"), std::string::npos) << b.message();
  auto c = make_spsc_ring(std::string(40, 'r'), 64, SOCKET_ID_ANY);
  EXPECT_FALSE(c);
}

TEST(Pools, MbufPoolHasTheCountAndDataRoom) {
  auto p = make_mbuf_pool("t_pool_basic", 1023, SOCKET_ID_ANY);
  ASSERT_TRUE(p) << p.message();
  EXPECT_EQ(rte_mempool_avail_count(p->get()), 1023u);
  EXPECT_EQ(rte_pktmbuf_data_room_size(p->get()), RTE_MBUF_DEFAULT_BUF_SIZE);
  rte_mbuf* m = rte_pktmbuf_alloc(p->get());
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(rte_pktmbuf_headroom(m), RTE_PKTMBUF_HEADROOM);
  rte_pktmbuf_free(m);
  auto dup = make_mbuf_pool("t_pool_basic", 1023, SOCKET_ID_ANY);
  EXPECT_FALSE(dup);
}

TEST(RingPort, ReceivesPerQueueAndTransmitsPerQueue) {
  MempoolPtr pool = pool_or_die("t_pool_ring");
  ASSERT_TRUE(pool);
  auto rp = make_ring_port("t_rp_a", 2, 2, 256, SOCKET_ID_ANY);
  ASSERT_TRUE(rp) << rp.message();
  RingPort& ring_port = **rp;
  ASSERT_EQ(ring_port.rx_rings.size(), 2u);
  ASSERT_EQ(ring_port.tx_rings.size(), 2u);

  PortSetup setup;
  setup.port_id = ring_port.port_id;
  setup.rx_queues = 2;
  setup.tx_queues = 2;
  setup.pool = pool.get();
  auto port = Port::open(setup);
  ASSERT_TRUE(port) << port.message();
  const PortInfo& info = (*port)->info();
  EXPECT_EQ(info.port_id, ring_port.port_id);
  EXPECT_EQ(info.name, "net_ring_t_rp_a");
  EXPECT_EQ(info.driver, "net_ring");
  EXPECT_EQ(info.rx_queues, 2);
  EXPECT_EQ(info.tx_queues, 2);
  EXPECT_FALSE(info.rss);  // net_ring does not hash
  EXPECT_FALSE(info.rx_ip_checksum || info.rx_udp_checksum);
  EXPECT_FALSE(info.tx_ip_checksum || info.tx_udp_checksum);
  EXPECT_EQ(find_port("net_ring_t_rp_a").value(), ring_port.port_id);

  std::array<rte_mbuf*, 5> sent{};
  for (size_t i = 0; i < sent.size(); ++i) {
    sent[i] = mbuf_with(pool.get(), std::vector<uint8_t>(60 + i, static_cast<uint8_t>(i)));
    ASSERT_NE(sent[i], nullptr);
  }
  auto** objs = reinterpret_cast<void**>(sent.data());
  ASSERT_EQ(rte_ring_enqueue_burst(ring_port.rx_rings[0].get(), objs, 3, nullptr), 3u);
  ASSERT_EQ(rte_ring_enqueue_burst(ring_port.rx_rings[1].get(), objs + 3, 2, nullptr), 2u);

  std::array<rte_mbuf*, 8> got{};
  ASSERT_EQ(rte_eth_rx_burst(info.port_id, 0, got.data(), 8), 3);
  EXPECT_EQ(got[0], sent[0]);
  EXPECT_EQ(got[2], sent[2]);
  ASSERT_EQ(rte_eth_rx_burst(info.port_id, 1, got.data() + 3, 5), 2);
  EXPECT_EQ(got[3], sent[3]);
  EXPECT_EQ(got[4], sent[4]);
  EXPECT_EQ(rte_eth_rx_burst(info.port_id, 0, got.data(), 8), 0);

  ASSERT_EQ(rte_eth_tx_burst(info.port_id, 1, got.data(), 5), 5);
  std::array<void*, 8> out{};
  EXPECT_EQ(rte_ring_dequeue_burst(ring_port.tx_rings[0].get(), out.data(), 8, nullptr), 0u);
  ASSERT_EQ(rte_ring_dequeue_burst(ring_port.tx_rings[1].get(), out.data(), 8, nullptr), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i], sent[i]);
    EXPECT_EQ(rte_pktmbuf_pkt_len(sent[i]), 60 + i);
    rte_pktmbuf_free(sent[i]);
  }
  port->reset();  // close the port before its rings go
  EXPECT_EQ(rte_mempool_avail_count(pool.get()), 2047u);
}

TEST(RingPort, EmulatedRssGivesAKeyAndATable) {
  MempoolPtr pool = pool_or_die("t_pool_emul");
  ASSERT_TRUE(pool);
  auto rp = make_ring_port("t_rp_emul", 4, 2, 64, SOCKET_ID_ANY);
  ASSERT_TRUE(rp) << rp.message();
  PortSetup setup;
  setup.port_id = (*rp)->port_id;
  setup.rx_queues = 4;
  setup.tx_queues = 2;
  setup.emulated_rss = true;
  setup.pool = pool.get();
  auto port = Port::open(setup);
  ASSERT_TRUE(port) << port.message();
  const PortInfo& info = (*port)->info();
  EXPECT_TRUE(info.rss);
  EXPECT_TRUE(info.emulated_rss);
  ASSERT_EQ(info.rss_key.size(), 40u);
  EXPECT_NE(info.rss_key, std::vector<uint8_t>(40, 0));
  ASSERT_EQ(info.reta.size(), 128u);
  for (size_t i = 0; i < info.reta.size(); ++i) {
    EXPECT_EQ(info.reta[i], i % 4);
  }
}

// A ring port may play a NIC with checksum offload (its two ends are in the process); any
// other driver is refused, since its frames would leave with the UDP checksum unfinished.
TEST(RingPort, EmulatedChecksumOffloadOnlyOnRingPorts) {
  MempoolPtr pool = pool_or_die("t_pool_csum");
  ASSERT_TRUE(pool);
  auto rp = make_ring_port("t_rp_csum", 1, 1, 64, SOCKET_ID_ANY);
  ASSERT_TRUE(rp) << rp.message();
  PortSetup setup;
  setup.port_id = (*rp)->port_id;
  setup.emulated_checksum_offload = true;
  setup.pool = pool.get();
  {
    auto port = Port::open(setup);
    ASSERT_TRUE(port) << port.message();
    const PortInfo& info = (*port)->info();
    EXPECT_TRUE(info.emulated_checksum_offload);
    EXPECT_TRUE(info.rx_ip_checksum && info.rx_udp_checksum && info.tx_udp_checksum);
    EXPECT_FALSE(info.tx_ip_checksum);  // the worker always writes the IPv4 header's sum
  }
  ASSERT_EQ(add_vdev("net_null_csum", ""), 0)
      << "rte_vdev_init net_null: " << rte_strerror(rte_errno);
  auto id = find_port("net_null_csum");
  ASSERT_TRUE(id) << id.message();
  setup.port_id = *id;
  auto null_port = Port::open(setup);
  ASSERT_FALSE(null_port);
  EXPECT_NE(null_port.message().find("in-process ring ports"), std::string::npos)
      << null_port.message();
  setup.emulated_checksum_offload = false;
  EXPECT_TRUE(Port::open(setup));  // the refusal left the device usable
}

TEST(RingPort, MoreQueuesThanRingsIsAnError) {
  MempoolPtr pool = pool_or_die("t_pool_more");
  ASSERT_TRUE(pool);
  auto rp = make_ring_port("t_rp_more", 1, 1, 64, SOCKET_ID_ANY);
  ASSERT_TRUE(rp) << rp.message();
  PortSetup setup;
  setup.port_id = (*rp)->port_id;
  setup.rx_queues = 2;
  setup.tx_queues = 1;
  setup.pool = pool.get();
  auto port = Port::open(setup);
  ASSERT_FALSE(port);
  EXPECT_NE(port.message().find("at most 1 rx"), std::string::npos) << port.message();
  EXPECT_NE(port.message().find("net_ring_t_rp_more"), std::string::npos) << port.message();
}

TEST(RingPort, RejectsTooManyRings) {
  auto rp = make_ring_port("t_rp_many", 17, 1, 64, SOCKET_ID_ANY);
  EXPECT_FALSE(rp);
}

TEST(Ports, FindPortNamesTheKnownPorts) {
  auto missing = find_port("no_such_port");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("no_such_port"), std::string::npos) << missing.message();
}

TEST(Ports, OpenRejectsAMissingPortOrPool) {
  PortSetup setup;
  setup.port_id = RTE_MAX_ETHPORTS - 1;
  EXPECT_FALSE(Port::open(setup));
}

// net_null sinks what it is given and makes packets on receive; it also keeps an RSS key and
// a 128-entry redirection table, so the hardware RSS path of Port::open runs on it.
TEST(NullPort, RealRssConfigurationAndTraffic) {
  ASSERT_EQ(add_vdev("net_null_t0", ""), 0)
      << "rte_vdev_init net_null: " << rte_strerror(rte_errno);
  MempoolPtr pool = pool_or_die("t_pool_null");
  ASSERT_TRUE(pool);
  auto id = find_port("net_null_t0");
  ASSERT_TRUE(id) << id.message();
  {
    PortSetup setup;
    setup.port_id = *id;
    setup.rx_queues = 2;
    setup.tx_queues = 2;
    setup.rx_descriptors = 256;
    setup.tx_descriptors = 256;
    setup.pool = pool.get();
    auto port = Port::open(setup);
    ASSERT_TRUE(port) << port.message();
    const PortInfo& info = (*port)->info();
    EXPECT_EQ(info.driver, "net_null");
    EXPECT_TRUE(info.rss);
    EXPECT_FALSE(info.emulated_rss);
    EXPECT_TRUE(info.rss_ipv4_udp);  // net_null hashes every type it is asked to
    EXPECT_TRUE(info.rss_ipv6_udp);
    ASSERT_EQ(info.rss_key.size(), 40u);
    ASSERT_EQ(info.reta.size(), 128u);

    // What the device reports is what PortInfo recorded: our random key (net_null starts
    // with Microsoft's sample key) and a round-robin table.
    std::array<uint8_t, 52> key{};
    rte_eth_rss_conf conf{};
    conf.rss_key = key.data();
    conf.rss_key_len = 40;
    ASSERT_EQ(rte_eth_dev_rss_hash_conf_get(info.port_id, &conf), 0);
    EXPECT_TRUE(std::equal(info.rss_key.begin(), info.rss_key.end(), key.begin()));
    EXPECT_NE(key[0] == 0x6d && key[1] == 0x5a && key[2] == 0x56 && key[3] == 0xda, true)
        << "still the driver's default key";
    std::array<rte_eth_rss_reta_entry64, 2> reta{};
    reta[0].mask = reta[1].mask = ~uint64_t{0};
    ASSERT_EQ(rte_eth_dev_rss_reta_query(info.port_id, reta.data(), 128), 0);
    for (size_t i = 0; i < 128; ++i) {
      EXPECT_EQ(reta[i / 64].reta[i % 64], i % 2);
      EXPECT_EQ(info.reta[i], i % 2);
    }

    std::array<rte_mbuf*, 32> pkts{};
    const uint16_t n = rte_eth_rx_burst(info.port_id, 1, pkts.data(), 32);
    EXPECT_GT(n, 0);
    EXPECT_EQ(rte_eth_tx_burst(info.port_id, 0, pkts.data(), n), n);  // net_null frees them
  }
  EXPECT_EQ(rte_mempool_avail_count(pool.get()), 2047u);
  EXPECT_EQ(remove_vdev("net_null_t0"), 0);
}

// A minimal libpcap file: the classic format, microsecond timestamps, Ethernet link type
// (pcap-savefile(5)).
void write_pcap(const std::string& path, const std::vector<std::vector<uint8_t>>& frames) {
  std::ofstream f(path, std::ios::binary);
  auto put32 = [&f](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto put16 = [&f](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  put32(0xa1b2c3d4);  // written in host order; readers detect the byte order from it
  put16(2);
  put16(4);
  put32(0);      // thiszone
  put32(0);      // sigfigs
  put32(65535);  // snaplen
  put32(1);      // LINKTYPE_ETHERNET
  uint32_t sec = 1700000000;
  for (const auto& frame : frames) {
    put32(sec++);
    put32(0);
    put32(static_cast<uint32_t>(frame.size()));
    put32(static_cast<uint32_t>(frame.size()));
    f.write(reinterpret_cast<const char*>(frame.data()),
            static_cast<std::streamsize>(frame.size()));
  }
}

std::vector<std::vector<uint8_t>> read_pcap(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::vector<uint8_t>> frames;
  size_t off = 24;
  while (off + 16 <= all.size()) {
    uint32_t incl = 0;
    std::memcpy(&incl, &all[off + 8], 4);
    off += 16;
    if (off + incl > all.size()) {
      break;
    }
    frames.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(off),
                        all.begin() + static_cast<std::ptrdiff_t>(off + incl));
    off += incl;
  }
  return frames;
}

// Ethernet / IPv4 / UDP from 198.18.1.1:5000 to 198.18.0.1:4000 with a 12-byte payload
// (checksums are not checked by anything here).
std::vector<uint8_t> udp_frame() {
  std::vector<uint8_t> f = {
      0x02, 0,    0,    0,    0,   0x01, 0x02, 0, 0,    0,    0,    0x02, 0x08, 0x00,  // Ethernet
      0x45, 0,    0,    40,   0,   1,    0x40, 0, 64,   17,   0,    0,      // IPv4, 20 + 8 + 12
      198,  18,   1,    1,    198, 18,   0,    1,                           //
      0x13, 0x88, 0x0f, 0xa0, 0,   20,   0,    0,                           // UDP 5000 -> 4000
      0x80, 0x00, 0x00, 0x01, 0,   0,    0,    0, 0x11, 0x22, 0x33, 0x44};  // an RTP header
  return f;
}

TEST(PcapPort, ReplaysAFileAndWritesWhatItSends) {
  char tmpl[] = "/tmp/srtpgate-pcap-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string in = dir + "/in.pcap";
  const std::string out = dir + "/out.pcap";
  const std::vector<std::vector<uint8_t>> frames = {udp_frame(), udp_frame()};
  write_pcap(in, frames);

  MempoolPtr pool = pool_or_die("t_pool_pcap");
  ASSERT_TRUE(pool);
  const std::string args = "rx_pcap=" + in + ",tx_pcap=" + out;
  ASSERT_EQ(add_vdev("net_pcap_t0", args), 0)
      << "rte_vdev_init net_pcap: " << rte_strerror(rte_errno);
  auto id = find_port("net_pcap_t0");
  ASSERT_TRUE(id) << id.message();
  {
    PortSetup setup;
    setup.port_id = *id;
    setup.rx_descriptors = 256;
    setup.tx_descriptors = 256;
    setup.pool = pool.get();
    auto port = Port::open(setup);
    ASSERT_TRUE(port) << port.message();
    EXPECT_EQ((*port)->info().driver, "net_pcap");
    std::array<rte_mbuf*, 8> pkts{};
    uint16_t n = 0;
    for (int tries = 0; tries < 100 && n < frames.size(); ++tries) {
      n += rte_eth_rx_burst(*id, 0, pkts.data() + n, static_cast<uint16_t>(pkts.size() - n));
    }
    ASSERT_EQ(n, frames.size());
    for (uint16_t i = 0; i < n; ++i) {
      ASSERT_EQ(rte_pktmbuf_pkt_len(pkts[i]), frames[i].size());
      EXPECT_EQ(std::memcmp(rte_pktmbuf_mtod(pkts[i], const uint8_t*), frames[i].data(),
                            frames[i].size()),
                0);
    }
    rte_pktmbuf_mtod(pkts[1], uint8_t*)[frames[1].size() - 1] = 0x55;  // mark the second
    EXPECT_EQ(rte_eth_tx_burst(*id, 0, pkts.data(), n), n);
  }  // closing the port closes the dump file
  EXPECT_EQ(remove_vdev("net_pcap_t0"), 0);
  const auto written = read_pcap(out);
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0], frames[0]);
  EXPECT_EQ(std::vector<uint8_t>(written[1].begin(), written[1].end() - 1),
            std::vector<uint8_t>(frames[1].begin(), frames[1].end() - 1));
  EXPECT_EQ(written[1].back(), 0x55);
  EXPECT_EQ(rte_mempool_avail_count(pool.get()), 2047u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace srtpgate::dp::detail
