// A dataplane between two in-process ring ports, for tests: frames go into the ingress port's
// rx rings (on the queue the NIC's RSS would pick), come out of the egress port's tx rings.
// Addresses are from 198.18.0.0/15 (RFC 2544 benchmarking), though nothing leaves the process.
#pragma once

#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "frame_classifier.h"
#include "header_rewrite.h"
#include "port.h"
#include "tsan_annotations.h"
#include "srtpgate/dp/dataplane.h"

namespace srtpgate::dp::testing {

using Bytes = std::vector<uint8_t>;

inline IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a) << a.message();
  return a.value();
}

// A frame that came out of the dataplane, parsed back.
struct Output {
  detail::ParsedFrame frame;
  Bytes payload;
  Bytes raw;  // the whole frame as sent
  std::array<uint8_t, 6> dst_mac{};
  uint16_t tx_queue = 0;
  // With checksum offload: the transmit flags and lengths the worker set for the NIC, and the
  // UDP checksum field as the worker left it (before the harness finished it as a NIC does).
  uint64_t ol_flags = 0;
  uint8_t l2_len = 0;
  uint8_t l3_len = 0;
  uint16_t udp_checksum_left = 0;  // in network byte order, as it sat in the frame
};

inline constexpr std::array<uint8_t, 6> kPeerMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr std::array<uint8_t, 6> kNextHopMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

class Harness {
 public:
  struct Options {
    unsigned workers = 1;
    bool launch = false;
    uint32_t flows_per_worker = 4096;
    crypto::Backend backend = crypto::Backend::ipsecmb;
    uint32_t ring_size = 4096;
    // Both ports behave as a NIC with checksum offload (PortConfig::emulated_checksum_offload):
    // frames go in marked checked (rx_flags()), and collect() finishes the UDP checksums the
    // workers leave to the NIC.
    bool checksum_offload = false;
    bool stage_clock = false;  // DataplaneConfig::stage_clock
  };

  explicit Harness(const Options& o) : options_(o) {
    static std::atomic<unsigned> instance{0};
    const unsigned id = instance++;
    const auto socket = static_cast<int>(rte_socket_id());
    // rte_eth_from_rings names its port "net_ring_" + the name it is given.
    in_name_ = "hin" + std::to_string(id);
    out_name_ = "hout" + std::to_string(id);
    auto pool = detail::make_mbuf_pool("hpool" + std::to_string(id), 16383, socket);
    EXPECT_TRUE(pool) << pool.message();
    pool_ = std::move(pool.value());
    const auto txq = static_cast<uint16_t>(o.workers + 1);
    auto in = detail::make_ring_port(in_name_, static_cast<uint16_t>(o.workers), txq, o.ring_size,
                                     socket);
    EXPECT_TRUE(in) << in.message();
    in_ = std::move(in.value());
    auto out = detail::make_ring_port(out_name_, 1, txq, o.ring_size, socket);
    EXPECT_TRUE(out) << out.message();
    out_ = std::move(out.value());

    DataplaneConfig c;
    PortConfig pin;
    pin.name = "net_ring_" + in_name_;
    pin.rss = false;
    pin.emulated_rss = o.workers > 1;
    pin.emulated_checksum_offload = o.checksum_offload;
    PortConfig pout;
    pout.name = "net_ring_" + out_name_;
    pout.rss = false;
    pout.emulated_checksum_offload = o.checksum_offload;
    if (o.checksum_offload) {
      rx_flags_ = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    }
    c.ports = {pin, pout};
    c.workers = o.workers;
    c.launch_workers = o.launch;
    c.backend = o.backend;
    c.mbufs = 8191;
    c.flows_per_worker = o.flows_per_worker;
    c.stage_clock = o.stage_clock;
    auto dp = Dataplane::create(c);
    EXPECT_TRUE(dp) << dp.message();
    if (dp) {
      dp_ = std::move(dp.value());
    }
  }

  ~Harness() {
    dp_.reset();
    for (auto* port : {in_.get(), out_.get()}) {
      for (auto& r : port->tx_rings) drain_ring(r.get());
      for (auto& r : port->rx_rings) drain_ring(r.get());
    }
  }

  Dataplane& dp() { return *dp_; }
  bool ok() const { return dp_ != nullptr; }
  uint16_t in_port() const { return in_->port_id; }
  uint16_t out_port() const { return out_->port_id; }
  // The receive flags frame_for() puts on each mbuf, as a NIC's driver would: none (checksums
  // unknown) unless the ports offload checksums, then IPv4 and UDP checksums good.
  void set_rx_flags(uint64_t flags) { rx_flags_ = flags; }

  // Our side of flow n: 198.18.0.1:(10000 + n) <- 198.18.1.(n % 250 + 1):(20000 + n / 250).
  FlowKey key(unsigned n) const {
    return make_flow_key(in_port(), ip("198.18.0.1"), static_cast<uint16_t>(10000 + n % 50000),
                         ip(("198.18.1." + std::to_string(n % 250 + 1)).c_str()),
                         static_cast<uint16_t>(20000 + n / 250 % 40000));
  }
  NextHop next_hop(unsigned n) const {
    NextHop h;
    h.port_id = out_port();
    h.dst_mac = kNextHopMac;
    h.src_addr = ip("198.19.0.1");
    h.src_port = static_cast<uint16_t>(30000 + n % 30000);
    h.dst_addr = ip("198.19.1.1");
    h.dst_port = static_cast<uint16_t>(40000 + n % 20000);
    return h;
  }

  // Wraps a UDP payload in the frame the peer of `k` sends, onto the queue RSS would pick.
  rte_mbuf* frame_for(const FlowKey& k, const Bytes& payload) {
    NextHop h;  // the peer's view: from remote to local
    h.port_id = k.port_id;
    h.dst_mac = {0x02, 0, 0, 0, 0, 0x10};
    h.src_addr.family = h.dst_addr.family = k.family;
    h.src_addr.bytes = k.remote_addr;
    h.dst_addr.bytes = k.local_addr;
    h.src_port = k.remote_port;
    h.dst_port = k.local_port;
    h.vlan_id = k.vlan;
    auto t = detail::build_egress_template(h, kPeerMac);
    EXPECT_TRUE(t) << t.message();
    rte_mbuf* m = rte_pktmbuf_alloc(pool_.get());
    EXPECT_NE(m, nullptr);
    auto* data = reinterpret_cast<uint8_t*>(
        rte_pktmbuf_append(m, static_cast<uint16_t>(t->len + payload.size())));
    std::copy(payload.begin(), payload.end(), data + t->len);
    detail::write_egress_headers(*t, data + t->len, static_cast<uint16_t>(payload.size()),
                                 detail::UdpChecksum::software);
    m->ol_flags = rx_flags_;
    return m;
  }

  // Puts a raw frame on worker `w`'s queue.
  bool inject(rte_mbuf* m, unsigned w) {
    detail::tsan_handed_over(m);
    return rte_ring_enqueue(in_->rx_rings[w % in_->rx_rings.size()].get(), m) == 0;
  }
  bool send(const FlowKey& k, const Bytes& payload) {
    return inject(frame_for(k, payload), dp_->worker_of(k));
  }
  rte_mbuf* raw_frame(const Bytes& bytes) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_.get());
    auto* data = reinterpret_cast<uint8_t*>(
        rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size())));
    std::copy(bytes.begin(), bytes.end(), data);
    return m;
  }

  // Polls every worker until the ingress rings are empty (polled mode only).
  void run() {
    for (int rounds = 0; rounds < 100000; ++rounds) {
      bool pending = false;
      for (auto& r : in_->rx_rings) pending |= rte_ring_count(r.get()) != 0;
      for (unsigned w = 0; w < dp_->worker_count(); ++w) dp_->poll_worker(w);
      if (!pending) return;
    }
    ADD_FAILURE() << "the workers did not drain the ingress rings";
  }

  // Everything the dataplane transmitted on the egress port so far, parsed.
  std::vector<Output> collect() { return collect_from(*out_, out_port()); }
  // The same for the ingress port, where a flow whose next hop is back out of the port it came
  // in on sends.
  std::vector<Output> collect_hairpin() { return collect_from(*in_, in_port()); }

 private:
  std::vector<Output> collect_from(detail::RingPort& port, uint16_t port_id) {
    std::vector<Output> out;
    for (uint16_t q = 0; q < port.tx_rings.size(); ++q) {
      void* p = nullptr;
      while (rte_ring_dequeue(port.tx_rings[q].get(), &p) == 0) {
        auto* m = static_cast<rte_mbuf*>(p);
        detail::tsan_taken_over(m);
        Output o;
        o.tx_queue = q;
        o.ol_flags = m->ol_flags;
        o.l2_len = static_cast<uint8_t>(m->l2_len);
        o.l3_len = static_cast<uint8_t>(m->l3_len);
        const uint64_t tx_flags =
            m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6);
        if (!options_.checksum_offload) {
          // A port without offload must never be handed a checksum to finish: a real one would
          // send the pseudo-header's sum as it is.
          EXPECT_EQ(tx_flags, 0u) << "transmit offload flags on a port that has none";
        } else if ((tx_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_UDP_CKSUM) {
          finish_udp_checksum(m, o);
        }
        const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
        detail::classify_frame(d, m->data_len, port_id, detail::ChecksumHint::unknown,
                               detail::ChecksumHint::unknown, o.frame);
        std::copy(d, d + 6, o.dst_mac.begin());
        o.raw.assign(d, d + m->data_len);
        if (o.frame.kind != detail::FrameKind::drop) {
          o.payload.assign(d + o.frame.payload_offset,
                           d + o.frame.payload_offset + o.frame.payload_len);
        }
        out.push_back(std::move(o));
        rte_pktmbuf_free(m);
      }
    }
    return out;
  }

  // What a NIC does with RTE_MBUF_F_TX_UDP_CKSUM (DPDK's convention, as in
  // rte_ipv4_udptcp_cksum): the field holds the pseudo-header's sum; the NIC adds everything
  // from l2_len + l3_len to the end of the packet, complements, and sends a zero as 0xffff
  // (RFC 768). A driver needs TX_IPV4 or TX_IPV6 beside it to find the L4 header.
  static void finish_udp_checksum(rte_mbuf* m, Output& o) {
    const bool v4 = (m->ol_flags & RTE_MBUF_F_TX_IPV4) != 0;
    const bool v6 = (m->ol_flags & RTE_MBUF_F_TX_IPV6) != 0;
    EXPECT_NE(v4, v6) << "UDP checksum offload needs exactly one of TX_IPV4 and TX_IPV6";
    const unsigned l4 = m->l2_len + m->l3_len;
    if (l4 + 8u > m->data_len || m->data_len != m->pkt_len) {
      ADD_FAILURE() << "l2_len + l3_len leave no UDP header in the frame";
      return;
    }
    auto* udp = rte_pktmbuf_mtod_offset(m, uint8_t*, l4);
    std::memcpy(&o.udp_checksum_left, udp + 6, 2);
    const auto udp_len = static_cast<uint16_t>(udp[4] << 8 | udp[5]);
    EXPECT_EQ(udp_len, m->pkt_len - l4) << "a NIC sums to the end of the packet";
    auto sum = static_cast<uint16_t>(~rte_raw_cksum(udp, m->pkt_len - l4));
    if (sum == 0) {
      sum = 0xffff;
    }
    std::memcpy(udp + 6, &sum, 2);
  }

  static void drain_ring(rte_ring* r) {
    void* p = nullptr;
    while (rte_ring_dequeue(r, &p) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(p));
  }

  Options options_;
  std::string in_name_;
  std::string out_name_;
  detail::MempoolPtr pool_;
  std::unique_ptr<detail::RingPort> in_;
  std::unique_ptr<detail::RingPort> out_;
  std::unique_ptr<Dataplane> dp_;
  uint64_t rx_flags_ = 0;
};

}  // namespace srtpgate::dp::testing
