// DataplaneService against a real Dataplane between two in-process ring ports, workers polled by
// the test: SDES sessions, validation, local port allocation, DTLS-SRTP in both roles with a
// peer made of our own handshake library, ARP and STUN answers. Addresses from 198.18.0.0/15.
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "dataplane_service.h"
#include "frame_classifier.h"
#include "header_rewrite.h"
#include "port.h"
#include "srtpgate/crypto.h"
#include "srtpgate/session.h"

namespace srtpgate::app {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;
using dp::IpAddress;
namespace detail = dp::detail;

constexpr const char* kKey = "inline:VNtPRH10gRr5HvSPx2AFa0/dDq/yMLi8dHaAlaNY";
constexpr std::array<uint8_t, 6> kPeerMac = {0x02, 0, 0, 0, 0, 0x10};
constexpr std::array<uint8_t, 6> kHopMac = {0x02, 0, 0, 0, 0, 0x20};

IpAddress ip(const char* t) { return IpAddress::parse(t).value(); }

struct Frame {
  detail::ParsedFrame parsed{};
  Bytes bytes;
  Bytes payload() const {
    return Bytes(bytes.begin() + parsed.payload_offset,
                 bytes.begin() + parsed.payload_offset + parsed.payload_len);
  }
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<unsigned> n{0};
    const unsigned id = n++;
    const auto socket = static_cast<int>(rte_socket_id());
    auto pool = detail::make_mbuf_pool("svc_pool" + std::to_string(id), 4095, socket);
    ASSERT_TRUE(pool) << pool.message();
    pool_ = std::move(pool.value());
    auto a = detail::make_ring_port("svc_a" + std::to_string(id), 1, 2, 1024, socket);
    auto b = detail::make_ring_port("svc_b" + std::to_string(id), 1, 2, 1024, socket);
    ASSERT_TRUE(a && b);
    a_ = std::move(a.value());
    b_ = std::move(b.value());
    a_name_ = "net_ring_svc_a" + std::to_string(id);
    b_name_ = "net_ring_svc_b" + std::to_string(id);
    dp::DataplaneConfig c;
    c.ports = {dp::PortConfig{a_name_, false}, dp::PortConfig{b_name_, false}};
    c.workers = 1;
    c.launch_workers = false;
    c.mbufs = 4095;
    c.flows_per_worker = 1024;
    auto d = dp::Dataplane::create(c);
    ASSERT_TRUE(d) << d.message();
    dp_ = std::move(d.value());
    auto ctx = hs::Context::create(hs::Certificate::generate("gateway").value());
    ASSERT_TRUE(ctx);
    ctx_ = std::move(ctx.value());
    ServiceConfig sc;
    sc.ports = {PortSpec{a_name_, {ip("198.18.0.1"), ip("2001:2::1")}, false},
                PortSpec{b_name_, {ip("198.19.0.1")}, false}};
    sc.port_range_first = 20000;
    sc.port_range_last = 20005;
    auto s = DataplaneService::create(*dp_, *ctx_, sc);
    ASSERT_TRUE(s) << s.message();
    svc_ = std::move(s.value());
  }

  void TearDown() override {
    svc_.reset();
    dp_.reset();
    for (auto* p : {a_.get(), b_.get()}) {
      if (p == nullptr) {
        continue;
      }
      for (auto& r : p->tx_rings) drain(r.get());
      for (auto& r : p->rx_rings) drain(r.get());
    }
  }

  static void drain(rte_ring* r) {
    void* p = nullptr;
    while (rte_ring_dequeue(r, &p) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(p));
  }

  SessionRequest sdes_unprotect(uint16_t local_port = 0) const {
    SessionRequest r;
    r.port = a_name_;
    r.local_addr = ip("198.18.0.1");
    r.local_port = local_port;
    r.remote_addr = ip("198.18.0.2");
    r.remote_port = 40000;
    r.action = dp::Action::unprotect;
    r.inbound = LegSpec{SdesLeg{srtp::Profile::aes_cm_128_hmac_sha1_80, kKey}, std::nullopt};
    r.next_hop.port = b_name_;
    r.next_hop.mac = kHopMac;
    r.next_hop.dst_addr = ip("198.19.0.2");
    r.next_hop.dst_port = 6000;
    r.label = "call-1";
    return r;
  }

  // A frame from the remote peer 198.18.0.2:40000 (or `from`) to us on port a.
  // On VLAN `vlan` when it is not 0.
  void inject(uint16_t local_port, const Bytes& payload, uint16_t from_port = 40000,
              uint16_t vlan = 0) {
    inject_raw(frame_to(local_port, payload, from_port, vlan));
  }
  Bytes frame_to(uint16_t local_port, const Bytes& payload, uint16_t from_port, uint16_t vlan = 0) {
    dp::NextHop h;
    h.port_id = a_->port_id;
    h.vlan_id = vlan;
    h.dst_mac = {0x02, 0, 0, 0, 0, 0x01};
    h.src_addr = ip("198.18.0.2");
    h.src_port = from_port;
    h.dst_addr = ip("198.18.0.1");
    h.dst_port = local_port;
    auto t = detail::build_egress_template(h, kPeerMac);
    EXPECT_TRUE(t) << t.message();
    if (!t) {
      return {};
    }
    Bytes f(t->len + payload.size());
    std::copy(payload.begin(), payload.end(), f.begin() + t->len);
    detail::write_egress_headers(*t, f.data() + t->len, static_cast<uint16_t>(payload.size()),
                                 detail::UdpChecksum::software);
    return f;
  }
  // `ol_flags` as the port's driver would set them (checksum verdicts).
  void inject_raw(const Bytes& f, uint64_t ol_flags = 0) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_.get());
    ASSERT_NE(m, nullptr);
    m->ol_flags = ol_flags;
    auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())));
    std::memcpy(d, f.data(), f.size());
    ASSERT_EQ(rte_ring_enqueue(a_->rx_rings[0].get(), m), 0);
  }

  // One turn of the daemon: the worker, then the control thread.
  void turn() {
    dp_->poll_worker(0);
    svc_->poll(hs::Clock::now());
  }

  static std::vector<Frame> collect(detail::RingPort& p) {
    std::vector<Frame> out;
    for (auto& r : p.tx_rings) {
      void* v = nullptr;
      while (rte_ring_dequeue(r.get(), &v) == 0) {
        auto* m = static_cast<rte_mbuf*>(v);
        Frame f;
        const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
        f.bytes.assign(d, d + m->data_len);
        detail::classify_frame(f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), p.port_id,
                               detail::ChecksumHint::unknown, detail::ChecksumHint::unknown,
                               f.parsed);
        out.push_back(std::move(f));
        rte_pktmbuf_free(m);
      }
    }
    return out;
  }

  static Bytes rtp(uint16_t seq) {
    Bytes p(12 + 160, 0xff);
    p[0] = 0x80;
    p[1] = 0;
    p[2] = static_cast<uint8_t>(seq >> 8);
    p[3] = static_cast<uint8_t>(seq);
    p[8] = 0x11;
    p[11] = 0x22;
    return p;
  }
  static Bytes protect(const srtp::MasterKey& key, srtp::Profile profile, Bytes plain) {
    srtp::SessionConfig cfg;
    cfg.profile = profile;
    cfg.direction = srtp::Direction::outbound;
    auto s = srtp::Session::create(crypto::make_engine(crypto::Backend::openssl).value(), cfg, key)
                 .value();
    plain.resize(plain.size() + 64);
    srtp::PacketView v{plain.data(), static_cast<uint32_t>(plain.size() - 64),
                       static_cast<uint32_t>(plain.size())};
    srtp::Status st{};
    s->protect_rtp(std::span(&v, 1), std::span(&st, 1));
    EXPECT_EQ(st, srtp::Status::ok);
    plain.resize(v.len);
    return plain;
  }

  detail::MempoolPtr pool_;
  std::unique_ptr<detail::RingPort> a_;
  std::unique_ptr<detail::RingPort> b_;
  std::string a_name_;
  std::string b_name_;
  std::unique_ptr<dp::Dataplane> dp_;
  std::unique_ptr<hs::Context> ctx_;
  std::unique_ptr<DataplaneService> svc_;
};

TEST_F(ServiceTest, RejectsInvalidRequestsWithoutTrace) {
  auto bad = [&](auto mutate, const char* needle) {
    SessionRequest r = sdes_unprotect();
    mutate(r);
    auto res = svc_->create(r);
    ASSERT_FALSE(res);
    EXPECT_NE(res.message().find(needle), std::string::npos) << res.message();
  };
  bad([](SessionRequest& r) { r.port = "nope"; }, "not a configured port");
  bad([](SessionRequest& r) { r.local_addr = ip("198.18.0.9"); }, "not configured on port");
  bad([](SessionRequest& r) { r.inbound->sdes->key_params = "inline:abc"; }, "sdes key");
  bad([](SessionRequest& r) { r.inbound.reset(); }, "inbound leg missing");
  bad([](SessionRequest& r) { r.outbound = r.inbound; }, "no outbound");
  bad([](SessionRequest& r) { r.next_hop.mac = {}; }, "mac");
  bad([](SessionRequest& r) { r.next_hop.dst_port = 0; }, "dst_port");
  bad([](SessionRequest& r) { r.replay_window = 10; }, "replay_window");
  bad(
      [](SessionRequest& r) {
        r.inbound->sdes.reset();
        r.inbound->dtls = DtlsLeg{false, "sha-256 zz", {}};
      },
      "fingerprint");
  EXPECT_TRUE(svc_->list().empty());
  EXPECT_EQ(dp_->flow_count(), 0U);
}

TEST_F(ServiceTest, SdesUnprotectForwardsPlainRtpAndAllocatesEvenPorts) {
  auto s1 = svc_->create(sdes_unprotect());
  ASSERT_TRUE(s1) << s1.message();
  EXPECT_EQ(s1->state, SessionState::active);
  EXPECT_EQ(s1->local_port, 20000);
  EXPECT_TRUE(s1->fingerprint.empty());
  auto s2 = svc_->create(sdes_unprotect());
  ASSERT_TRUE(s2) << s2.message();
  EXPECT_EQ(s2->local_port, 20002);
  // The range (20000..20005) has three even ports: the third is the last, then none is free.
  auto s3 = svc_->create(sdes_unprotect());
  ASSERT_TRUE(s3) << s3.message();
  EXPECT_EQ(s3->local_port, 20004);
  auto none = svc_->create(sdes_unprotect());
  ASSERT_FALSE(none);
  EXPECT_NE(none.message().find("no free local port"), std::string::npos) << none.message();
  ASSERT_TRUE(svc_->remove(s3->id));
  // The same 4-tuple twice is refused.
  auto dup = svc_->create(sdes_unprotect(20000));
  EXPECT_FALSE(dup);

  auto key = srtp::parse_sdes_key(srtp::Profile::aes_cm_128_hmac_sha1_80, kKey).value();
  const Bytes plain = rtp(7);
  inject(20000, protect(key, srtp::Profile::aes_cm_128_hmac_sha1_80, plain));
  turn();
  auto out = collect(*b_);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].payload(), plain);
  EXPECT_EQ(out[0].parsed.key.local_port, 6000);  // the next hop's port, as it receives it
  auto shown = svc_->show(s1->id);
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->counters.rx_packets, 1U);
  EXPECT_EQ(shown->counters.tx_packets, 1U);
  EXPECT_EQ(svc_->stats().sessions, 2U);

  ASSERT_TRUE(svc_->rekey(s1->id, SdesLeg{srtp::Profile::aes_cm_128_hmac_sha1_80, kKey}, {}));
  EXPECT_FALSE(svc_->rekey(s1->id, {}, SdesLeg{srtp::Profile::aes_cm_128_hmac_sha1_80, kKey}));
  ASSERT_TRUE(svc_->remove(s1->id));
  EXPECT_FALSE(svc_->show(s1->id));
  EXPECT_FALSE(svc_->remove(s1->id));
  EXPECT_EQ(svc_->list().size(), 1U);
}

TEST_F(ServiceTest, AnswersArpForOurAddressOnly) {
  auto arp = [&](const char* target) {
    Bytes f(42, 0);
    std::fill(f.begin(), f.begin() + 6, 0xff);
    std::copy(kPeerMac.begin(), kPeerMac.end(), f.begin() + 6);
    f[12] = 0x08;
    f[13] = 0x06;
    const uint8_t hdr[] = {0, 1, 8, 0, 6, 4, 0, 1};
    std::copy(std::begin(hdr), std::end(hdr), f.begin() + 14);
    std::copy(kPeerMac.begin(), kPeerMac.end(), f.begin() + 22);
    const uint8_t spa[] = {198, 18, 0, 2};
    std::copy(std::begin(spa), std::end(spa), f.begin() + 28);
    auto t = ip(target);
    std::copy(t.bytes.begin(), t.bytes.begin() + 4, f.begin() + 38);
    return f;
  };
  inject_raw(arp("198.18.0.1"));
  inject_raw(arp("198.18.0.77"));
  turn();
  auto out = collect(*a_);
  ASSERT_EQ(out.size(), 1U);
  const Bytes& r = out[0].bytes;
  EXPECT_TRUE(std::equal(kPeerMac.begin(), kPeerMac.end(), r.begin()));
  EXPECT_EQ(r[21], 2);  // ARP reply
  EXPECT_EQ(Bytes(r.begin() + 28, r.begin() + 32), (Bytes{198, 18, 0, 1}));
  EXPECT_EQ(Bytes(r.begin() + 32, r.begin() + 38), Bytes(kPeerMac.begin(), kPeerMac.end()));
  EXPECT_EQ(svc_->stats().punted_other, 2U);
}

// A STUN Binding request (RFC 8489 §5): the magic cookie, then transaction id 8..19.
Bytes stun_binding_request() {
  Bytes req(20, 0);
  req[1] = 0x01;  // Binding request
  req[4] = 0x21;
  req[5] = 0x12;
  req[6] = 0xA4;
  req[7] = 0x42;
  for (int i = 8; i < 20; ++i) req[i] = static_cast<uint8_t>(i);
  return req;
}

TEST_F(ServiceTest, AnswersStunBindingWithXorMappedAddress) {
  const Bytes req = stun_binding_request();
  inject(20000, req, 40000);
  turn();
  auto out = collect(*a_);
  ASSERT_EQ(out.size(), 1U);
  const Bytes p = out[0].payload();
  ASSERT_EQ(p.size(), 32U);
  EXPECT_EQ(p[0], 0x01);
  EXPECT_EQ(p[1], 0x01);
  EXPECT_TRUE(std::equal(p.begin() + 8, p.begin() + 20, req.begin() + 8));
  EXPECT_EQ(p[20], 0x00);
  EXPECT_EQ(p[21], 0x20);
  const uint16_t port = static_cast<uint16_t>(((p[26] << 8) | p[27]) ^ 0x2112);
  EXPECT_EQ(port, 40000);
  EXPECT_EQ(p[28] ^ 0x21, 198);
  EXPECT_EQ(p[31] ^ 0x42, 2);
  EXPECT_EQ(out[0].parsed.key.local_port, 40000);  // back to where it came from
  EXPECT_EQ(svc_->stats().punted_stun, 1U);
}

// A port that vouches for a frame's data but leaves its UDP checksum field partial
// (RTE_MBUF_F_RX_L4_CKSUM_NONE: virtio-net, a sender on the same host) has its STUN answered:
// the control thread does not check again what the worker accepted.
TEST_F(ServiceTest, AnswersStunWhoseChecksumThePortVouchedFor) {
  Bytes f = frame_to(20000, stun_binding_request(), 40000);
  ASSERT_EQ(f.size(), 14U + 20 + 8 + 20);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(f.data() + 14 + 20);
  udp->dgram_cksum = rte_ipv4_phdr_cksum(reinterpret_cast<const rte_ipv4_hdr*>(f.data() + 14), 0);
  inject_raw(f, RTE_MBUF_F_RX_L4_CKSUM_NONE);
  turn();
  const auto out = collect(*a_);
  ASSERT_EQ(out.size(), 1U);
  const Bytes p = out[0].payload();
  ASSERT_EQ(p.size(), 32U);
  EXPECT_EQ(p[1], 0x01);  // Binding success response
  EXPECT_EQ(svc_->stats().punted_stun, 1U);
}

uint16_t checksum(const Bytes& b, std::size_t from, std::size_t n, uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += (b[from + i] << 8) | b[from + i + 1];
  if (n % 2) sum += b[from + n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Ethernet + IPv6 + ICMPv6 with a correct checksum (RFC 4443 §2.3).
Bytes icmpv6_frame(const IpAddress& src, const IpAddress& dst, const Bytes& icmp) {
  Bytes f(14 + 40 + icmp.size());
  f[0] = 0x33;
  f[1] = 0x33;
  std::copy(kPeerMac.begin(), kPeerMac.end(), f.begin() + 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  f[14] = 0x60;
  f[18] = static_cast<uint8_t>(icmp.size() >> 8);
  f[19] = static_cast<uint8_t>(icmp.size());
  f[20] = 58;
  f[21] = 255;
  std::copy(src.bytes.begin(), src.bytes.end(), f.begin() + 22);
  std::copy(dst.bytes.begin(), dst.bytes.end(), f.begin() + 38);
  for (std::size_t i = 0; i < icmp.size(); ++i) f[54 + i] = icmp[i];
  uint32_t sum = icmp.size() + 58;
  for (std::size_t i = 0; i < 32; i += 2) sum += (f[22 + i] << 8) | f[22 + i + 1];
  const uint16_t c = checksum(f, 54, icmp.size(), sum);
  f[56] = static_cast<uint8_t>(c >> 8);
  f[57] = static_cast<uint8_t>(c);
  return f;
}

bool icmpv6_checksum_ok(const Bytes& f) {
  const std::size_t n = (f[18] << 8) | f[19];
  uint32_t sum = n + 58;
  for (std::size_t i = 0; i < 32; i += 2) sum += (f[22 + i] << 8) | f[22 + i + 1];
  return checksum(f, 54, n, sum) == 0;
}

TEST_F(ServiceTest, AnswersNeighborSolicitationAndPings) {
  Bytes ns(32, 0);
  ns[0] = 135;
  const IpAddress target = ip("2001:2::1");
  std::copy(target.bytes.begin(), target.bytes.end(), ns.begin() + 8);
  ns[24] = 1;
  ns[25] = 1;
  std::copy(kPeerMac.begin(), kPeerMac.end(), ns.begin() + 26);
  inject_raw(icmpv6_frame(ip("2001:2::2"), ip("ff02::1:ff00:1"), ns));
  Bytes echo6(16, 0x5a);
  echo6[0] = 128;
  echo6[1] = 0;
  inject_raw(icmpv6_frame(ip("2001:2::2"), ip("2001:2::1"), echo6));
  // IPv4 echo request (RFC 792) to 198.18.0.1.
  Bytes v4(14 + 20 + 16, 0);
  std::copy(kPeerMac.begin(), kPeerMac.end(), v4.begin() + 6);
  v4[12] = 0x08;
  const uint8_t iph[] = {0x45, 0, 0, 36, 0, 1, 0, 0, 64, 1, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1};
  std::copy(std::begin(iph), std::end(iph), v4.begin() + 14);
  uint16_t c = checksum(v4, 14, 20);
  v4[24] = static_cast<uint8_t>(c >> 8);
  v4[25] = static_cast<uint8_t>(c);
  v4[34] = 8;
  v4[38] = 0x12;
  v4[39] = 0x34;
  c = checksum(v4, 34, 16);
  v4[36] = static_cast<uint8_t>(c >> 8);
  v4[37] = static_cast<uint8_t>(c);
  inject_raw(v4);
  turn();
  auto out = collect(*a_);
  ASSERT_EQ(out.size(), 3U);
  const Bytes& na = out[0].bytes;
  ASSERT_EQ(na.size(), 14U + 40 + 32);
  EXPECT_EQ(na[54], 136);
  EXPECT_EQ(na[58], 0x60);  // solicited + override
  EXPECT_EQ(Bytes(na.begin() + 62, na.begin() + 78),
            Bytes(target.bytes.begin(), target.bytes.end()));
  EXPECT_EQ(na[78], 2);  // target link-layer address option
  const IpAddress solicitor = ip("2001:2::2");
  EXPECT_EQ(Bytes(na.begin() + 38, na.begin() + 54),
            Bytes(solicitor.bytes.begin(), solicitor.bytes.end()));
  EXPECT_TRUE(std::equal(kPeerMac.begin(), kPeerMac.end(), na.begin()));
  EXPECT_TRUE(icmpv6_checksum_ok(na));
  const Bytes& e6 = out[1].bytes;
  EXPECT_EQ(e6[54], 129);
  EXPECT_TRUE(icmpv6_checksum_ok(e6));
  const Bytes& e4 = out[2].bytes;
  EXPECT_EQ(e4[34], 0);  // echo reply
  EXPECT_EQ(checksum(e4, 34, 16), 0);
  EXPECT_EQ(checksum(e4, 14, 20), 0);
  EXPECT_EQ(Bytes(e4.begin() + 30, e4.begin() + 34), (Bytes{198, 18, 0, 2}));
}

// Our gateway's DTLS leg against a peer made of the handshake library, through the dataplane.
class DtlsPeer {
 public:
  DtlsPeer(hs::Role role, const std::string& gateway_fingerprint) {
    ctx_ = hs::Context::create(hs::Certificate::generate("peer").value()).value();
    cfg_.role = role;
    cfg_.peer_fingerprint = hs::Fingerprint::parse(gateway_fingerprint).value();
  }
  std::string fingerprint() const {
    return ctx_->certificate().fingerprint("sha-256").value().to_sdp();
  }
  void connect() { ep_ = ctx_->connect(cfg_, hs::Clock::now()).value(); }
  // Datagram from the gateway; returns what the peer answers.
  std::vector<Bytes> receive(const Bytes& d) {
    const auto now = hs::Clock::now();
    std::vector<Bytes> out;
    if (!ep_) {
      const Bytes src = {198, 18, 0, 2};
      hs::Accepted a = ctx_->accept(d, src, cfg_, now);
      if (a.reply) out.push_back(*a.reply);
      if (a.endpoint) ep_ = std::move(a.endpoint);
    } else {
      ep_->handle_datagram(d, now);
    }
    drain(out);
    return out;
  }
  std::vector<Bytes> tick() {
    std::vector<Bytes> out;
    if (ep_) {
      if (auto dl = ep_->next_deadline(); dl && *dl <= hs::Clock::now()) {
        ep_->handle_timeout(hs::Clock::now());
      }
    }
    drain(out);
    return out;
  }
  std::optional<hs::Event> connected;

 private:
  void drain(std::vector<Bytes>& out) {
    if (!ep_) return;
    while (auto d = ep_->poll_datagram()) out.push_back(std::move(*d));
    while (auto e = ep_->poll_event()) {
      if (e->kind == hs::EventKind::connected) connected = std::move(*e);
    }
  }
  std::unique_ptr<hs::Context> ctx_;
  hs::EndpointConfig cfg_;
  std::unique_ptr<hs::Endpoint> ep_;
};

TEST_F(ServiceTest, DtlsPassiveGatewayInstallsKeysAfterHandshake) {
  // The gateway is the server (a=setup:passive): the peer's first ClientHello gets a stateless
  // HelloVerifyRequest (RFC 6347 §4.2.1), the second one with the cookie an endpoint.
  auto fp = ctx_->certificate().fingerprint("sha-256").value().to_sdp();
  DtlsPeer peer(hs::Role::client, fp);
  SessionRequest r = sdes_unprotect(20004);
  r.inbound = LegSpec{std::nullopt, DtlsLeg{false, peer.fingerprint(), {}}};
  auto s = svc_->create(r);
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(s->state, SessionState::handshaking);
  EXPECT_EQ(s->fingerprint, fp);
  EXPECT_EQ(dp_->flow_count(), 0U);
  EXPECT_EQ(svc_->stats().handshaking, 1U);

  peer.connect();
  std::vector<Bytes> to_gw = peer.tick();
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end) {
    for (const Bytes& d : to_gw) inject(20004, d);
    to_gw.clear();
    turn();
    for (const Frame& f : collect(*a_)) {
      ASSERT_EQ(f.parsed.kind, detail::FrameKind::dtls);
      EXPECT_EQ(f.parsed.key.local_port, 40000);
      EXPECT_TRUE(std::equal(kPeerMac.begin(), kPeerMac.end(), f.bytes.begin()));
      for (Bytes& b : peer.receive(f.payload())) to_gw.push_back(std::move(b));
    }
    for (Bytes& b : peer.tick()) to_gw.push_back(std::move(b));
    if (peer.connected && svc_->show(s->id)->state != SessionState::handshaking) break;
    if (to_gw.empty()) std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(peer.connected);
  auto shown = svc_->show(s->id);
  ASSERT_EQ(shown->state, SessionState::active) << shown->failure;
  ASSERT_TRUE(shown->inbound_profile);
  EXPECT_EQ(*shown->inbound_profile, peer.connected->keys->profile);
  // Media the peer protects with its outbound key comes out decrypted.
  dp_->wait_applied();
  const Bytes plain = rtp(1);
  inject(20004, protect(peer.connected->keys->outbound, peer.connected->keys->profile, plain));
  turn();
  auto out = collect(*b_);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].payload(), plain);
  // A DTLS datagram from a 5-tuple without a DTLS leg is counted, not answered.
  inject(20004, Bytes{22, 0xfe, 0xfd, 0, 0}, 40001);
  turn();
  EXPECT_EQ(svc_->stats().dtls_unmatched, 1U);
  EXPECT_TRUE(svc_->remove(s->id));
}

TEST_F(ServiceTest, DtlsActiveGatewaySendsFirstFlight) {
  auto fp = ctx_->certificate().fingerprint("sha-256").value().to_sdp();
  DtlsPeer peer(hs::Role::server, fp);
  SessionRequest r = sdes_unprotect(20004);
  r.inbound =
      LegSpec{std::nullopt, DtlsLeg{true, peer.fingerprint(), {srtp::Profile::aead_aes_128_gcm}}};
  auto s = svc_->create(r);
  ASSERT_TRUE(s) << s.message();
  std::vector<Bytes> to_gw;
  auto first = collect(*a_);
  ASSERT_EQ(first.size(), 1U);  // the ClientHello went out at once
  // Until the peer speaks, its MAC is not known: the next hop's stands in.
  EXPECT_TRUE(std::equal(kHopMac.begin(), kHopMac.end(), first[0].bytes.begin()));
  for (Bytes& b : peer.receive(first[0].payload())) to_gw.push_back(std::move(b));
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end) {
    for (const Bytes& d : to_gw) inject(20004, d);
    to_gw.clear();
    turn();
    for (const Frame& f : collect(*a_)) {
      for (Bytes& b : peer.receive(f.payload())) to_gw.push_back(std::move(b));
    }
    for (Bytes& b : peer.tick()) to_gw.push_back(std::move(b));
    if (peer.connected && svc_->show(s->id)->state != SessionState::handshaking) break;
    if (to_gw.empty()) std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(peer.connected);
  auto shown = svc_->show(s->id);
  ASSERT_EQ(shown->state, SessionState::active) << shown->failure;
  EXPECT_EQ(shown->inbound_profile, srtp::Profile::aead_aes_128_gcm);
  dp_->wait_applied();
  const Bytes plain = rtp(9);
  inject(20004, protect(peer.connected->keys->outbound, peer.connected->keys->profile, plain));
  turn();
  auto out = collect(*b_);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].payload(), plain);
}

// A session's VLAN is part of its flow: the same addresses and ports on two VLANs of the ingress
// port are two sessions, each leaving to its own next hop, and the same frame untagged or on a
// third VLAN belongs to neither. A DTLS leg speaks on its session's VLAN from the first flight.
TEST_F(ServiceTest, SessionsOnTwoVlansShareAddressesAndPorts) {
  SessionRequest on100 = sdes_unprotect(20000);
  on100.vlan = 100;
  SessionRequest on200 = sdes_unprotect(20000);
  on200.vlan = 200;
  on200.next_hop.dst_port = 6002;
  auto s100 = svc_->create(on100);
  ASSERT_TRUE(s100) << s100.message();
  auto s200 = svc_->create(on200);
  ASSERT_TRUE(s200) << s200.message();
  EXPECT_EQ(svc_->show(s200->id)->vlan, 200U);
  EXPECT_FALSE(svc_->create(on200));  // the same VLAN and addresses twice
  SessionRequest bad = sdes_unprotect(20002);
  bad.vlan = 4095;
  EXPECT_FALSE(svc_->create(bad));

  auto key = srtp::parse_sdes_key(srtp::Profile::aes_cm_128_hmac_sha1_80, kKey).value();
  for (const uint16_t vlan : {200, 100, 0, 300}) {
    const Bytes plain = rtp(vlan);
    inject(20000, protect(key, srtp::Profile::aes_cm_128_hmac_sha1_80, plain), 40000, vlan);
    turn();
    auto out = collect(*b_);
    if (vlan == 0 || vlan == 300) {
      EXPECT_TRUE(out.empty()) << vlan;
      continue;
    }
    ASSERT_EQ(out.size(), 1U) << vlan;
    EXPECT_EQ(out[0].payload(), plain);
    EXPECT_EQ(out[0].parsed.key.local_port, vlan == 100 ? 6000 : 6002);
  }
  EXPECT_EQ(svc_->show(s100->id)->counters.tx_packets, 1U);
  EXPECT_EQ(svc_->show(s200->id)->counters.tx_packets, 1U);
  EXPECT_EQ(svc_->stats().workers.at(0).drops[static_cast<std::size_t>(dp::Drop::no_session)], 2U);

  auto fp = ctx_->certificate().fingerprint("sha-256").value().to_sdp();
  DtlsPeer peer(hs::Role::server, fp);
  SessionRequest active = sdes_unprotect(20004);
  active.vlan = 300;
  active.inbound = LegSpec{std::nullopt, DtlsLeg{true, peer.fingerprint(), {}}};
  auto s300 = svc_->create(active);
  ASSERT_TRUE(s300) << s300.message();
  auto first = collect(*a_);
  ASSERT_EQ(first.size(), 1U);  // the ClientHello, on the session's VLAN
  EXPECT_EQ(first[0].parsed.kind, detail::FrameKind::dtls);
  EXPECT_EQ(first[0].parsed.key.vlan, 300U);
}

TEST_F(ServiceTest, DtlsWrongFingerprintFails) {
  auto fp = ctx_->certificate().fingerprint("sha-256").value().to_sdp();
  DtlsPeer peer(hs::Role::server, fp);
  DtlsPeer other(hs::Role::server, fp);
  SessionRequest r = sdes_unprotect(20004);
  r.inbound = LegSpec{std::nullopt, DtlsLeg{true, other.fingerprint(), {}}};
  auto s = svc_->create(r);
  ASSERT_TRUE(s) << s.message();
  std::vector<Bytes> to_gw;
  for (const Frame& f : collect(*a_)) {
    for (Bytes& b : peer.receive(f.payload())) to_gw.push_back(std::move(b));
  }
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end &&
         svc_->show(s->id)->state == SessionState::handshaking) {
    for (const Bytes& d : to_gw) inject(20004, d);
    to_gw.clear();
    turn();
    for (const Frame& f : collect(*a_)) {
      for (Bytes& b : peer.receive(f.payload())) to_gw.push_back(std::move(b));
    }
    for (Bytes& b : peer.tick()) to_gw.push_back(std::move(b));
    if (to_gw.empty()) std::this_thread::sleep_for(1ms);
  }
  auto shown = svc_->show(s->id);
  EXPECT_EQ(shown->state, SessionState::failed);
  EXPECT_FALSE(shown->failure.empty());
  EXPECT_EQ(dp_->flow_count(), 0U);
}

}  // namespace
}  // namespace srtpgate::app
