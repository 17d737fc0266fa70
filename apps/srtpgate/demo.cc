#include "demo.h"

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstring>

#include "header_rewrite.h"
#include "port.h"
#include "srtpgate/crypto.h"
#include "srtpgate/session.h"

namespace srtpgate::app::demo {
namespace {

constexpr const char* kRingName = "srtpgate_demo";  // the device is net_ring_srtpgate_demo
constexpr const char* kGenerated = "net_ring_srtpgate_demo";
constexpr uint16_t kLocalPort = 5004;  // the sample capture's ports (apps/demo.sh)
constexpr uint16_t kRemotePort = 56877;
constexpr uint32_t kSsrc = 0x5eed0001;
constexpr uint16_t kRtpPayload = 160;  // 20 ms of PCMU (RFC 3551 §4.5.14)

// The ring port must outlive the dataplane's Port on it (port.h); both live until exit.
std::unique_ptr<dp::detail::RingPort>& ring_port() {
  static std::unique_ptr<dp::detail::RingPort> rp;
  return rp;
}

Result<void> ensure_vdev(const std::string& name, const std::string& args) {
  uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0) {
    return {};  // given with --vdev
  }
  if (rte_vdev_init(name.c_str(), args.c_str()) != 0) {
    return make_error("cannot create " + name + " (" + args + ")");
  }
  return {};
}

dp::IpAddress ip(const char* text) { return dp::IpAddress::parse(text).value(); }

}  // namespace

Result<AppConfig> prepare(const Options& o) {
  AppConfig c;
  c.stats_interval_seconds = 1;
  c.mbufs = 8191;
  c.flows_per_worker = 1024;
  // net_null with no-rx: a sink. Without it net_null would also invent received packets.
  if (auto r = ensure_vdev("net_null0", "no-rx=1"); !r) {
    return r.error();
  }
  SessionRequest s;
  s.label = "demo";
  s.action = dp::Action::unprotect;
  s.local_port = kLocalPort;
  s.remote_port = kRemotePort;
  s.inbound = LegSpec{SdesLeg{srtp::Profile::aes_cm_128_hmac_sha1_80, kSampleKey}, std::nullopt};
  s.next_hop.port = "net_null0";
  s.next_hop.mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  s.next_hop.src_addr = ip("198.18.1.1");
  s.next_hop.dst_addr = ip("198.18.1.2");
  s.next_hop.dst_port = kLocalPort;
  if (o.capture.empty()) {
    auto rp = dp::detail::make_ring_port(kRingName, 1, static_cast<uint16_t>(o.workers + 1), 4096,
                                         static_cast<int>(rte_socket_id()));
    if (!rp) {
      return rp.error();
    }
    ring_port() = std::move(rp.value());
    c.ports.push_back(PortSpec{kGenerated, {ip("198.18.0.1")}, false});
    s.port = kGenerated;
    s.local_addr = ip("198.18.0.1");
    s.remote_addr = ip("198.18.0.2");
  } else {
    // The sample capture was made on loopback: 127.0.0.1:56877 -> 127.0.0.1:5004.
    if (auto r = ensure_vdev("net_pcap0", "rx_pcap=" + o.capture + ",infinite_rx=1"); !r) {
      return r.error();
    }
    c.ports.push_back(PortSpec{"net_pcap0", {ip("127.0.0.1")}, false});
    s.port = "net_pcap0";
    s.local_addr = ip("127.0.0.1");
    s.remote_addr = ip("127.0.0.1");
  }
  c.ports.push_back(PortSpec{"net_null0", {ip("198.18.1.1")}, false});
  c.sessions.push_back(std::move(s));
  return c;
}

void release() { ring_port().reset(); }

struct Generator::Impl {
  dp::Dataplane* dataplane = nullptr;
  uint16_t port_id = 0;
  rte_ring* rx = nullptr;
  std::unique_ptr<srtp::Session> session;
  dp::detail::EgressTemplate tmpl;
  uint64_t rate = 0;
  std::chrono::steady_clock::time_point start;
  uint64_t made = 0;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
};

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::~Generator() = default;

Result<std::unique_ptr<Generator>> Generator::create(dp::Dataplane& dataplane,
                                                     uint64_t packets_per_second) {
  auto impl = std::make_unique<Impl>();
  impl->dataplane = &dataplane;
  if (!ring_port() || ring_port()->rx_rings.empty()) {
    return make_error("the demo's ring port was not prepared");
  }
  impl->port_id = ring_port()->port_id;
  impl->rx = ring_port()->rx_rings[0].get();
  auto engine = crypto::make_engine(crypto::Backend::ipsecmb);
  if (!engine) {
    return engine.error();
  }
  auto key = srtp::parse_sdes_key(srtp::Profile::aes_cm_128_hmac_sha1_80, kSampleKey);
  if (!key) {
    return key.error();
  }
  srtp::SessionConfig cfg;
  cfg.profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
  cfg.direction = srtp::Direction::outbound;
  cfg.max_streams = 1;
  auto session = srtp::Session::create(engine.value(), cfg, key.value());
  if (!session) {
    return session.error();
  }
  impl->session = std::move(session.value());
  // The headers a remote peer at 198.18.0.2 would put on its SRTP to us.
  dp::NextHop from_peer;
  from_peer.port_id = impl->port_id;
  rte_ether_addr mac{};
  rte_eth_macaddr_get(impl->port_id, &mac);
  std::memcpy(from_peer.dst_mac.data(), mac.addr_bytes, 6);
  if (rte_is_zero_ether_addr(&mac)) {
    from_peer.dst_mac = {0x02, 0, 0, 0, 0, 0x01};  // ring ports may have no address of their own
  }
  from_peer.src_addr = ip("198.18.0.2");
  from_peer.src_port = kRemotePort;
  from_peer.dst_addr = ip("198.18.0.1");
  from_peer.dst_port = kLocalPort;
  auto t = dp::detail::build_egress_template(from_peer, {0x02, 0, 0, 0, 0, 0x03});
  if (!t) {
    return t.error();
  }
  impl->tmpl = t.value();
  impl->rate = packets_per_second;
  impl->start = std::chrono::steady_clock::now();
  return std::unique_ptr<Generator>(new Generator(std::move(impl)));
}

std::size_t Generator::run(std::chrono::steady_clock::time_point now) noexcept {
  Impl& g = *impl_;
  const auto elapsed_us =
      std::chrono::duration_cast<std::chrono::microseconds>(now - g.start).count();
  const uint64_t due = static_cast<uint64_t>(elapsed_us) * g.rate / 1000000;
  // At most 4096 per call: after a stall the generator catches up gradually, not in one burst.
  uint64_t todo = due > g.made ? std::min<uint64_t>(due - g.made, 4096) : 0;
  std::size_t queued = 0;
  constexpr std::size_t kBurst = 32;
  while (todo > 0) {
    const std::size_t n = std::min<uint64_t>(todo, kBurst);
    std::array<rte_mbuf*, kBurst> mbufs{};
    std::array<srtp::PacketView, kBurst> views{};
    std::array<srtp::Status, kBurst> status{};
    std::size_t have = 0;
    for (; have < n; ++have) {
      rte_mbuf* m = g.dataplane->alloc_mbuf(g.port_id);
      if (m == nullptr) {
        break;
      }
      mbufs[have] = m;
      uint8_t* payload = rte_pktmbuf_mtod(m, uint8_t*) + g.tmpl.len;
      // RFC 3550 §5.1: V=2, PT 0 (PCMU), one SSRC; 8 kHz clock, 160 samples per packet.
      payload[0] = 0x80;
      payload[1] = 0x00;
      payload[2] = static_cast<uint8_t>(g.seq >> 8);
      payload[3] = static_cast<uint8_t>(g.seq);
      for (int i = 0; i < 4; ++i) {
        payload[4 + i] = static_cast<uint8_t>(g.timestamp >> (24 - 8 * i));
        payload[8 + i] = static_cast<uint8_t>(kSsrc >> (24 - 8 * i));
      }
      std::memset(payload + 12, 0xff, kRtpPayload);  // PCMU silence
      ++g.seq;
      g.timestamp += kRtpPayload;
      views[have] = srtp::PacketView{payload, 12 + kRtpPayload,
                                     static_cast<uint32_t>(rte_pktmbuf_tailroom(m) - g.tmpl.len)};
    }
    if (have == 0) {
      break;
    }
    g.session->protect_rtp(std::span(views.data(), have), std::span(status.data(), have));
    std::size_t ready = 0;
    for (std::size_t i = 0; i < have; ++i) {
      if (status[i] != srtp::Status::ok) {
        rte_pktmbuf_free(mbufs[i]);
        continue;
      }
      dp::detail::write_egress_headers(g.tmpl, views[i].data, static_cast<uint16_t>(views[i].len),
                                       dp::detail::UdpChecksum::software);
      mbufs[i]->data_len = static_cast<uint16_t>(g.tmpl.len + views[i].len);
      mbufs[i]->pkt_len = mbufs[i]->data_len;
      mbufs[i]->port = g.port_id;
      mbufs[ready++] = mbufs[i];
    }
    const unsigned enq = rte_ring_enqueue_burst(g.rx, reinterpret_cast<void* const*>(mbufs.data()),
                                                static_cast<unsigned>(ready), nullptr);
    if (enq < ready) {
      rte_pktmbuf_free_bulk(mbufs.data() + enq, static_cast<unsigned>(ready - enq));
      ring_full_ += ready - enq;
    }
    sent_ += enq;
    queued += enq;
    g.made += have;
    todo -= have;
    if (enq < ready) {
      break;  // the worker is behind; do not spin on a full ring
    }
  }
  if (due > g.made + 4096) {
    g.made = due - 4096;  // never owe more than one cap: the rate is a ceiling, not a debt
  }
  return queued;
}

}  // namespace srtpgate::app::demo
