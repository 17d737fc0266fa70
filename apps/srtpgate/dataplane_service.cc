#include "dataplane_service.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "frame_classifier.h"
#include "header_rewrite.h"
#include "log.h"
#include "srtpgate/master_key.h"

namespace srtpgate::app {
namespace {

using Clock = std::chrono::steady_clock;

bool is_zero(const dp::IpAddress& a) noexcept {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](uint8_t b) { return b == 0; });
}

bool is_zero_mac(const std::array<uint8_t, 6>& m) noexcept {
  return std::all_of(m.begin(), m.end(), [](uint8_t b) { return b == 0; });
}

// The four profiles with a DTLS-SRTP code point (RFC 5764 §4.1.2, RFC 7714 §14.2).
bool dtls_profile(srtp::Profile p) noexcept {
  return p == srtp::Profile::aes_cm_128_hmac_sha1_80 ||
         p == srtp::Profile::aes_cm_128_hmac_sha1_32 || p == srtp::Profile::aead_aes_128_gcm ||
         p == srtp::Profile::aead_aes_256_gcm;
}

Result<void> check_leg(const std::optional<LegSpec>& leg, std::string_view which) {
  if (!leg) {
    return make_error(std::string(which) + " leg missing");
  }
  if (leg->sdes.has_value() == leg->dtls.has_value()) {
    return make_error(std::string(which) + " leg needs exactly one of sdes or dtls");
  }
  return {};
}

uint16_t load_be16(const uint8_t* p) noexcept { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
void store_be16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word changing from m to m'.
uint16_t checksum_adjust(uint16_t hc, uint16_t m, uint16_t m_new) noexcept {
  uint32_t sum = static_cast<uint16_t>(~hc) + static_cast<uint16_t>(~m) + m_new;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The Internet checksum (RFC 1071) of big-endian 16-bit words, not yet complemented.
uint32_t sum16(const uint8_t* p, std::size_t n, uint32_t sum = 0) noexcept {
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    sum += load_be16(p + i);
  }
  if (n % 2 != 0) {
    sum += static_cast<uint32_t>(p[n - 1]) << 8;
  }
  return sum;
}
uint16_t fold(uint32_t sum) noexcept {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(~sum);
}

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint32_t kStunMagicCookie = 0x2112A442;  // RFC 8489 §5

}  // namespace

std::size_t DataplaneService::FlowKeyHash::operator()(const dp::FlowKey& k) const noexcept {
  // FNV-1a over the 40 bytes: the key has no padding holes (flow.h), so bytes are the identity.
  const auto* p = reinterpret_cast<const uint8_t*>(&k);
  uint64_t h = 14695981039346656037ULL;
  for (std::size_t i = 0; i < sizeof(k); ++i) {
    h = (h ^ p[i]) * 1099511628211ULL;
  }
  return static_cast<std::size_t>(h);
}

Result<std::unique_ptr<DataplaneService>> DataplaneService::create(dp::Dataplane& dataplane,
                                                                   hs::Context& dtls,
                                                                   ServiceConfig config) {
  std::vector<PortState> ports;
  for (const PortSpec& spec : config.ports) {
    auto id = dataplane.port_id(spec.name);
    if (!id) {
      return make_error("port " + spec.name + " is not open in the dataplane");
    }
    PortState st;
    st.spec = spec;
    st.port_id = *id;
    rte_ether_addr mac{};
    if (rte_eth_macaddr_get(*id, &mac) != 0) {
      return make_error("port " + spec.name + ": cannot read its MAC address");
    }
    std::memcpy(st.mac.data(), mac.addr_bytes, 6);
    ports.push_back(std::move(st));
  }
  if (config.port_range_first > config.port_range_last || config.port_range_first == 0) {
    return make_error("local port range is empty");
  }
  auto fp = dtls.certificate().fingerprint("sha-256");
  if (!fp) {
    return make_error("certificate fingerprint: " + fp.message());
  }
  std::unique_ptr<DataplaneService> s(
      new DataplaneService(dataplane, dtls, std::move(config), std::move(ports)));
  s->fingerprint_ = fp->to_sdp();
  return s;
}

DataplaneService::DataplaneService(dp::Dataplane& dataplane, hs::Context& dtls,
                                   ServiceConfig config, std::vector<PortState> ports)
    : dp_(dataplane), dtls_(dtls), config_(std::move(config)), ports_(std::move(ports)) {
  next_port_ = static_cast<uint16_t>(config_.port_range_first & ~1U);
}

DataplaneService::~DataplaneService() = default;

const DataplaneService::PortState* DataplaneService::port_by_name(
    std::string_view name) const noexcept {
  for (const PortState& p : ports_) {
    if (p.spec.name == name) {
      return &p;
    }
  }
  return nullptr;
}

const DataplaneService::PortState* DataplaneService::port_by_id(uint16_t id) const noexcept {
  for (const PortState& p : ports_) {
    if (p.port_id == id) {
      return &p;
    }
  }
  return nullptr;
}

bool DataplaneService::is_ours(const PortState& port, const dp::IpAddress& addr) const noexcept {
  return std::find(port.spec.addresses.begin(), port.spec.addresses.end(), addr) !=
         port.spec.addresses.end();
}

Result<uint16_t> DataplaneService::allocate_local_port(uint16_t port_id,
                                                       const dp::IpAddress& addr) {
  // Even ports only: RTP on an even port and RTCP on the next odd one (RFC 3550 §11).
  const uint32_t first = (config_.port_range_first + 1U) & ~1U;
  const uint32_t last = config_.port_range_last;
  if (first > last) {
    return make_error("the local port range has no even port");
  }
  const uint32_t count = (last - first) / 2 + 1;
  // The ports taken on this address, in one pass over the sessions, so that a create costs
  // O(sessions + range) and not their product (seconds with tens of thousands of sessions
  // and the range nearly used up, while the control thread serves nothing else).
  std::vector<bool> taken(65537, false);
  for (const auto& [id, s] : sessions_) {
    if (s.key.port_id == port_id && s.local_addr == addr) {
      taken[s.local_port] = true;
    }
  }
  uint32_t cursor = next_port_ < first || next_port_ > last ? first : next_port_;
  for (uint32_t i = 0; i < count; ++i) {
    const auto candidate = static_cast<uint16_t>(cursor);
    cursor += 2;
    if (cursor > last) {
      cursor = first;
    }
    // Taken: the port itself, or its RTCP port (+ 1, RFC 3550 §11) by a session there.
    if (!taken[candidate] && !taken[candidate + 1U]) {
      next_port_ = static_cast<uint16_t>(cursor);
      return candidate;
    }
  }
  return make_error("no free local port in " + std::to_string(first) + ".." + std::to_string(last) +
                    " on " + addr.to_string());
}

Result<SessionInfo> DataplaneService::create(const SessionRequest& r) {
  // Everything is checked before anything changes: a failed create leaves no trace.
  const PortState* port = port_by_name(r.port);
  if (port == nullptr) {
    return make_error("port '" + r.port + "' is not a configured port");
  }
  if (!is_ours(*port, r.local_addr)) {
    return make_error("local address " + r.local_addr.to_string() + " is not configured on port " +
                      r.port);
  }
  if (r.remote_addr.family != r.local_addr.family) {
    return make_error("remote and local addresses are of different families");
  }
  if (r.remote_port == 0) {
    return make_error("remote_port must be given");
  }
  switch (r.action) {
    case dp::Action::unprotect:
      if (auto c = check_leg(r.inbound, "inbound"); !c) {
        return c.error();
      }
      if (r.outbound) {
        return make_error("unprotect takes no outbound leg");
      }
      break;
    case dp::Action::protect:
      if (auto c = check_leg(r.outbound, "outbound"); !c) {
        return c.error();
      }
      if (r.inbound) {
        return make_error("protect takes no inbound leg");
      }
      break;
    case dp::Action::transcrypt:
      if (auto c = check_leg(r.inbound, "inbound"); !c) {
        return c.error();
      }
      if (auto c = check_leg(r.outbound, "outbound"); !c) {
        return c.error();
      }
      break;
    case dp::Action::forward:
      if (r.inbound || r.outbound) {
        return make_error("forward takes no SRTP legs");
      }
      break;
  }

  Session s;
  s.label = r.label;
  s.port = r.port;
  s.local_addr = r.local_addr;
  s.remote_addr = r.remote_addr;
  s.remote_port = r.remote_port;
  s.action = r.action;
  s.replay_window = r.replay_window;
  s.max_streams = r.max_streams;
  s.created = Clock::now();

  // Next hop: the egress port, our address there, and where the output goes.
  const PortState* hop_port = r.next_hop.port.empty() ? port : port_by_name(r.next_hop.port);
  if (hop_port == nullptr) {
    return make_error("next_hop.port '" + r.next_hop.port + "' is not a configured port");
  }
  if (is_zero_mac(r.next_hop.mac)) {
    return make_error("next_hop.mac must be given");
  }
  if (is_zero(r.next_hop.dst_addr) || r.next_hop.dst_port == 0) {
    return make_error("next_hop needs dst_addr and dst_port");
  }
  dp::IpAddress hop_src = r.next_hop.src_addr;
  if (is_zero(hop_src)) {
    if (hop_port == port && r.local_addr.family == r.next_hop.dst_addr.family) {
      hop_src = r.local_addr;
    } else {
      auto it = std::find_if(
          hop_port->spec.addresses.begin(), hop_port->spec.addresses.end(),
          [&](const dp::IpAddress& a) { return a.family == r.next_hop.dst_addr.family; });
      if (it == hop_port->spec.addresses.end()) {
        return make_error("port " + hop_port->spec.name + " has no IPv" +
                          std::to_string(r.next_hop.dst_addr.family) + " address for next_hop");
      }
      hop_src = *it;
    }
  } else if (!is_ours(*hop_port, hop_src)) {
    return make_error("next_hop.src_addr " + hop_src.to_string() + " is not configured on port " +
                      hop_port->spec.name);
  }
  if (hop_src.family != r.next_hop.dst_addr.family) {
    return make_error("next_hop src_addr and dst_addr are of different families");
  }
  if (r.next_hop.vlan > 4094) {
    return make_error("next_hop.vlan must be 0..4094");
  }
  if (r.vlan > 4094) {
    return make_error("vlan must be 0..4094");
  }

  uint16_t local_port = r.local_port;
  if (local_port == 0) {
    auto p = allocate_local_port(port->port_id, r.local_addr);
    if (!p) {
      return p.error();
    }
    local_port = *p;
  }
  s.local_port = local_port;
  s.key = dp::make_flow_key(port->port_id, r.local_addr, local_port, r.remote_addr, r.remote_port,
                            r.vlan);
  if (dp_.contains(s.key)) {
    return make_error("a session already receives on " + dp::to_string(s.key));
  }
  for (const auto& [id, other] : sessions_) {
    if (other.key == s.key) {
      return make_error("session " + std::to_string(id) + " already receives on " +
                        dp::to_string(s.key));
    }
  }
  s.next_hop.port_id = hop_port->port_id;
  s.next_hop.dst_mac = r.next_hop.mac;
  s.next_hop.src_addr = hop_src;
  s.next_hop.src_port = r.next_hop.src_port != 0 ? r.next_hop.src_port : local_port;
  s.next_hop.dst_addr = r.next_hop.dst_addr;
  s.next_hop.dst_port = r.next_hop.dst_port;
  s.next_hop.vlan_id = r.next_hop.vlan;
  if (auto t = dp::detail::build_egress_template(s.next_hop, hop_port->mac); !t) {
    return make_error("next_hop: " + t.message());
  }

  // The legs: SDES keys parsed now; DTLS legs get an association each.
  auto make_leg = [&](const LegSpec& leg, bool inbound) -> Result<void> {
    if (leg.sdes) {
      auto key = srtp::parse_sdes_key(leg.sdes->profile, leg.sdes->key_params.view());
      if (!key) {
        return make_error(std::string(inbound ? "inbound" : "outbound") +
                          " sdes key: " + key.message());
      }
      dp::LegKey lk{leg.sdes->profile, std::move(key.value())};
      (inbound ? s.inbound_profile : s.outbound_profile) = leg.sdes->profile;
      (inbound ? s.sdes_inbound : s.sdes_outbound) = std::move(lk);
      return {};
    }
    auto d = std::make_unique<DtlsLegState>();
    d->inbound = inbound;
    d->server = !leg.dtls->active;  // RFC 5763 §5: a=setup:active is the DTLS client
    auto fp = hs::Fingerprint::parse(leg.dtls->peer_fingerprint);
    if (!fp) {
      return make_error(std::string(inbound ? "inbound" : "outbound") +
                        " dtls peer_fingerprint: " + fp.message());
    }
    d->config.role = d->server ? hs::Role::server : hs::Role::client;
    d->config.peer_fingerprint = std::move(fp.value());
    if (!leg.dtls->profiles.empty()) {
      for (srtp::Profile p : leg.dtls->profiles) {
        if (!dtls_profile(p)) {
          return make_error(std::string(name(p)) + " has no DTLS-SRTP code point (RFC 5764)");
        }
      }
      d->config.profiles = leg.dtls->profiles;
    }
    if (inbound) {
      // RFC 5764 §5.1.2: the association runs on the media 5-tuple with the remote.
      d->tuple = s.key;
      d->local_addr = r.local_addr;
      d->peer_addr = r.remote_addr;
      d->vlan = r.vlan;  // the flow's VLAN is part of its key: the peer is on it
    } else {
      // Outbound leg of a protect session: the SRTP receiver is the next hop.
      d->tuple = dp::make_flow_key(hop_port->port_id, hop_src, s.next_hop.src_port,
                                   r.next_hop.dst_addr, r.next_hop.dst_port, r.next_hop.vlan);
      d->local_addr = hop_src;
      d->peer_addr = r.next_hop.dst_addr;
      d->vlan = r.next_hop.vlan;
    }
    // Until the peer's frames teach us its MAC, the next hop's is the best guess (a router).
    d->peer_mac = r.next_hop.mac;
    if (dtls_by_tuple_.contains(d->tuple)) {
      return make_error("DTLS already runs on " + dp::to_string(d->tuple));
    }
    for (const auto& other : s.dtls) {
      if (other->tuple == d->tuple) {
        return make_error("both legs would run DTLS on " + dp::to_string(d->tuple));
      }
    }
    s.dtls.push_back(std::move(d));
    return {};
  };
  if (r.inbound) {
    if (auto m = make_leg(*r.inbound, true); !m) {
      return m.error();
    }
  }
  if (r.outbound) {
    if (auto m = make_leg(*r.outbound, false); !m) {
      return m.error();
    }
  }
  if (r.replay_window < 64 || r.replay_window > 32768) {
    return make_error("replay_window must be 64..32768 (RFC 3711 §3.3.2)");
  }
  if (r.max_streams == 0) {
    return make_error("max_streams must be at least 1");
  }

  const auto now = Clock::now();
  if (s.dtls.empty()) {
    dp::FlowSpec spec;
    spec.key = s.key;
    spec.action = s.action;
    spec.inbound = std::move(s.sdes_inbound);
    spec.outbound = std::move(s.sdes_outbound);
    spec.next_hop = s.next_hop;
    spec.replay_window = s.replay_window;
    spec.max_streams = s.max_streams;
    s.sdes_inbound.reset();
    s.sdes_outbound.reset();
    if (auto ins = dp_.install(spec); !ins) {
      return make_error("install: " + ins.message());
    }
    s.installed = true;
    s.state = SessionState::active;
  } else {
    // Clients start now (their first flight goes out below); servers wait for a ClientHello.
    for (auto& d : s.dtls) {
      if (!d->server) {
        auto ep = dtls_.connect(d->config, now);
        if (!ep) {
          return make_error("dtls: " + ep.message());
        }
        d->endpoint = std::move(ep.value());
      }
    }
    s.state = SessionState::handshaking;
  }

  s.id = next_id_++;
  const uint64_t id = s.id;
  auto [it, inserted] = sessions_.emplace(id, std::move(s));
  Session& stored = it->second;
  for (std::size_t i = 0; i < stored.dtls.size(); ++i) {
    dtls_by_tuple_[stored.dtls[i]->tuple] = {id, i};
  }
  for (auto& d : stored.dtls) {
    if (d->endpoint) {
      pump(stored, *d, now);
    }
  }
  const std::string hop = stored.next_hop.dst_addr.family == 6
                              ? "[" + stored.next_hop.dst_addr.to_string() + "]"
                              : stored.next_hop.dst_addr.to_string();
  SG_LOG(INFO, "session %llu created: %s %s -> %s:%u%s\n", static_cast<unsigned long long>(id),
         std::string(dp::name(stored.action)).c_str(), dp::to_string(stored.key).c_str(),
         hop.c_str(), stored.next_hop.dst_port, stored.dtls.empty() ? "" : " (DTLS handshaking)");
  return info_of(stored);
}

Result<void> DataplaneService::remove(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return make_error("no session " + std::to_string(id));
  }
  Session& s = it->second;
  if (s.installed) {
    if (auto r = dp_.remove(s.key); !r) {
      return make_error("remove: " + r.message());
    }
  }
  const auto now = Clock::now();
  for (auto& d : s.dtls) {
    if (d->endpoint) {
      d->endpoint->close(now);  // close_notify, so the peer learns the association is gone
      while (auto dg = d->endpoint->poll_datagram()) {
        send_datagram(*d, *dg);
      }
    }
    dtls_by_tuple_.erase(d->tuple);
  }
  SG_LOG(INFO, "session %llu removed\n", static_cast<unsigned long long>(id));
  sessions_.erase(it);
  return {};
}

Result<void> DataplaneService::rekey(uint64_t id, const std::optional<SdesLeg>& inbound,
                                     const std::optional<SdesLeg>& outbound) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return make_error("no session " + std::to_string(id));
  }
  Session& s = it->second;
  if (!inbound && !outbound) {
    return make_error("rekey needs an inbound or an outbound key");
  }
  if (!s.installed) {
    return make_error("session " + std::to_string(id) + " is not active");
  }
  for (const auto& d : s.dtls) {
    if ((d->inbound && inbound) || (!d->inbound && outbound)) {
      return make_error(std::string(d->inbound ? "inbound" : "outbound") +
                        " leg is keyed by DTLS-SRTP, not SDES");
    }
  }
  const bool has_in = s.action == dp::Action::unprotect || s.action == dp::Action::transcrypt;
  const bool has_out = s.action == dp::Action::protect || s.action == dp::Action::transcrypt;
  if (inbound && !has_in) {
    return make_error("a " + std::string(dp::name(s.action)) + " session has no inbound leg");
  }
  if (outbound && !has_out) {
    return make_error("a " + std::string(dp::name(s.action)) + " session has no outbound leg");
  }
  std::optional<dp::LegKey> in_key;
  std::optional<dp::LegKey> out_key;
  if (inbound) {
    auto k = srtp::parse_sdes_key(inbound->profile, inbound->key_params.view());
    if (!k) {
      return make_error("inbound sdes key: " + k.message());
    }
    in_key = dp::LegKey{inbound->profile, std::move(k.value())};
  }
  if (outbound) {
    auto k = srtp::parse_sdes_key(outbound->profile, outbound->key_params.view());
    if (!k) {
      return make_error("outbound sdes key: " + k.message());
    }
    out_key = dp::LegKey{outbound->profile, std::move(k.value())};
  }
  if (auto r = dp_.rekey(s.key, std::move(in_key), std::move(out_key)); !r) {
    return make_error("rekey: " + r.message());
  }
  if (inbound) {
    s.inbound_profile = inbound->profile;
  }
  if (outbound) {
    s.outbound_profile = outbound->profile;
  }
  return {};
}

SessionInfo DataplaneService::info_of(const Session& s) const {
  SessionInfo i;
  i.id = s.id;
  i.label = s.label;
  i.state = s.state;
  i.failure = s.failure;
  i.port = s.port;
  i.vlan = s.key.vlan;
  i.local_addr = s.local_addr;
  i.local_port = s.local_port;
  i.remote_addr = s.remote_addr;
  i.remote_port = s.remote_port;
  i.action = s.action;
  i.inbound_profile = s.inbound_profile;
  i.outbound_profile = s.outbound_profile;
  if (!s.dtls.empty()) {
    i.fingerprint = fingerprint_;
  }
  i.worker = dp_.worker_of(s.key);
  if (s.installed) {
    if (auto c = dp_.flow_stats(s.key)) {
      i.counters = *c;
    }
  }
  i.age_seconds = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - s.created).count());
  return i;
}

Result<SessionInfo> DataplaneService::show(uint64_t id) const {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return make_error("no session " + std::to_string(id));
  }
  return info_of(it->second);
}

std::vector<SessionInfo> DataplaneService::list() const {
  std::vector<SessionInfo> out;
  out.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) {
    out.push_back(info_of(s));
  }
  return out;
}

ServiceStats DataplaneService::stats() const {
  ServiceStats st;
  for (unsigned w = 0; w < dp_.worker_count(); ++w) {
    st.workers.push_back(dp_.worker_stats(w));
  }
  st.sessions = sessions_.size();
  for (const auto& [id, s] : sessions_) {
    if (s.state == SessionState::handshaking) {
      ++st.handshaking;
    }
  }
  st.punted_stun = punted_stun_;
  st.punted_dtls = punted_dtls_;
  st.punted_other = punted_other_;
  st.dtls_unmatched = dtls_unmatched_;
  return st;
}

std::vector<dp::PortDescription> DataplaneService::ports() const { return dp_.describe_ports(); }

// ---- DTLS -------------------------------------------------------------------------------------

void DataplaneService::send_datagram(const DtlsLegState& leg,
                                     std::span<const uint8_t> datagram) noexcept {
  const PortState* port = port_by_id(leg.tuple.port_id);
  if (port == nullptr || datagram.size() > 1400) {
    return;
  }
  dp::NextHop hop;
  hop.port_id = port->port_id;
  hop.dst_mac = leg.peer_mac;
  hop.src_addr = leg.local_addr;
  hop.src_port = leg.tuple.local_port;
  hop.dst_addr = leg.peer_addr;
  hop.dst_port = leg.tuple.remote_port;
  hop.vlan_id = leg.vlan;
  auto t = dp::detail::build_egress_template(hop, port->mac);
  if (!t) {
    return;
  }
  rte_mbuf* m = dp_.alloc_mbuf(port->port_id);
  if (m == nullptr) {
    return;
  }
  const auto total = static_cast<uint16_t>(t->len + datagram.size());
  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, total));
  if (frame == nullptr) {
    rte_pktmbuf_free(m);
    return;
  }
  uint8_t* payload = frame + t->len;
  std::memcpy(payload, datagram.data(), datagram.size());
  dp::detail::write_egress_headers(*t, payload, static_cast<uint16_t>(datagram.size()),
                                   dp::detail::UdpChecksum::software);
  dp_.send(port->port_id, std::span<rte_mbuf*>(&m, 1));
}

void DataplaneService::try_install(Session& s) {
  for (const auto& d : s.dtls) {
    if (!d->connected) {
      return;
    }
  }
  dp::FlowSpec spec;
  spec.key = s.key;
  spec.action = s.action;
  spec.inbound = std::move(s.sdes_inbound);
  spec.outbound = std::move(s.sdes_outbound);
  for (auto& d : s.dtls) {
    (d->inbound ? spec.inbound : spec.outbound) = std::move(d->key);
    d->key.reset();
  }
  s.sdes_inbound.reset();
  s.sdes_outbound.reset();
  spec.next_hop = s.next_hop;
  spec.replay_window = s.replay_window;
  spec.max_streams = s.max_streams;
  if (auto r = dp_.install(spec); !r) {
    s.state = SessionState::failed;
    s.failure = "install: " + r.message();
    SG_LOG(WARNING, "session %llu: %s\n", static_cast<unsigned long long>(s.id), s.failure.c_str());
    return;
  }
  s.installed = true;
  s.state = SessionState::active;
  SG_LOG(INFO, "session %llu: DTLS-SRTP connected, keys installed\n",
         static_cast<unsigned long long>(s.id));
}

void DataplaneService::pump(Session& s, DtlsLegState& leg, hs::TimePoint now) {
  (void)now;
  while (auto dg = leg.endpoint->poll_datagram()) {
    send_datagram(leg, *dg);
  }
  while (auto ev = leg.endpoint->poll_event()) {
    switch (ev->kind) {
      case hs::EventKind::connected:
        if (ev->keys && !leg.connected && s.state == SessionState::handshaking) {
          leg.connected = true;
          // RFC 5764 §4.2: keys.inbound unprotects what the peer sends us; keys.outbound
          // protects what we send it.
          const srtp::Profile p = ev->keys->profile;
          leg.key = dp::LegKey{p, leg.inbound ? ev->keys->inbound : ev->keys->outbound};
          (leg.inbound ? s.inbound_profile : s.outbound_profile) = p;
          try_install(s);
        }
        break;
      case hs::EventKind::failed:
        if (s.state == SessionState::handshaking) {
          s.state = SessionState::failed;
          s.failure = "dtls: " + ev->reason;
          SG_LOG(WARNING, "session %llu: DTLS failed: %s\n", static_cast<unsigned long long>(s.id),
                 ev->reason.c_str());
        }
        break;
      case hs::EventKind::closed:
        // The keys stay installed: the call ends when signalling deletes the session.
        SG_LOG(INFO, "session %llu: DTLS closed by the peer\n",
               static_cast<unsigned long long>(s.id));
        break;
    }
  }
}

void DataplaneService::handle_dtls(const uint8_t* frame, uint32_t len, const dp::FlowKey& tuple,
                                   uint16_t payload_offset, uint16_t payload_len, uint16_t vlan,
                                   hs::TimePoint now) {
  auto found = dtls_by_tuple_.find(tuple);
  if (found == dtls_by_tuple_.end()) {
    ++dtls_unmatched_;
    return;
  }
  auto sit = sessions_.find(found->second.first);
  if (sit == sessions_.end() || found->second.second >= sit->second.dtls.size()) {
    ++dtls_unmatched_;
    return;
  }
  Session& s = sit->second;
  DtlsLegState& leg = *s.dtls[found->second.second];
  if (len >= 12) {
    std::memcpy(leg.peer_mac.data(), frame + 6, 6);  // answer where the peer's frames come from
  }
  leg.vlan = vlan;
  std::span<const uint8_t> datagram(frame + payload_offset, payload_len);
  if (!leg.endpoint) {
    // RFC 6347 §4.2.1: no state for the peer until it echoes a cookie made for its address.
    std::span<const uint8_t> source(reinterpret_cast<const uint8_t*>(&tuple), sizeof(tuple));
    hs::Accepted a = dtls_.accept(datagram, source, leg.config, now);
    if (a.reply) {
      send_datagram(leg, *a.reply);
    }
    if (a.endpoint) {
      leg.endpoint = std::move(a.endpoint);
      pump(s, leg, now);
    }
    return;
  }
  leg.endpoint->handle_datagram(datagram, now);
  pump(s, leg, now);
}

// ---- ARP, ICMP, STUN ----------------------------------------------------------------------------

bool DataplaneService::answer_arp(rte_mbuf* m, uint16_t port_id, uint32_t l3) noexcept {
  // RFC 826: answer a request for one of our IPv4 addresses, in place.
  const PortState* port = port_by_id(port_id);
  auto* f = rte_pktmbuf_mtod(m, uint8_t*);
  if (port == nullptr || m->data_len < l3 + 28) {
    return false;
  }
  uint8_t* arp = f + l3;
  if (load_be16(arp) != 1 || load_be16(arp + 2) != kEtherTypeIpv4 || arp[4] != 6 || arp[5] != 4 ||
      load_be16(arp + 6) != 1) {
    return false;
  }
  dp::IpAddress target;
  target.family = 4;
  std::memcpy(target.bytes.data(), arp + 24, 4);
  if (!is_ours(*port, target)) {
    return false;
  }
  uint8_t sender_mac[6];
  uint8_t sender_ip[4];
  std::memcpy(sender_mac, arp + 8, 6);
  std::memcpy(sender_ip, arp + 14, 4);
  store_be16(arp + 6, 2);  // reply
  std::memcpy(arp + 8, port->mac.data(), 6);
  std::memcpy(arp + 14, target.bytes.data(), 4);
  std::memcpy(arp + 18, sender_mac, 6);
  std::memcpy(arp + 24, sender_ip, 4);
  std::memcpy(f, f + 6, 6);
  std::memcpy(f + 6, port->mac.data(), 6);
  dp_.send(port_id, std::span<rte_mbuf*>(&m, 1));
  return true;
}

bool DataplaneService::answer_icmp_echo(rte_mbuf* m, uint16_t port_id, uint32_t l3) noexcept {
  // RFC 792: an echo request to one of our IPv4 addresses becomes the reply, in place.
  const PortState* port = port_by_id(port_id);
  auto* f = rte_pktmbuf_mtod(m, uint8_t*);
  if (port == nullptr || m->data_len < l3 + 20) {
    return false;
  }
  uint8_t* ip = f + l3;
  if ((ip[0] >> 4) != 4 || ip[9] != 1) {
    return false;
  }
  const uint32_t ihl = (ip[0] & 0x0fU) * 4;
  const uint32_t total = load_be16(ip + 2);
  if (ihl < 20 || total < ihl + 8 || l3 + total > m->data_len) {
    return false;
  }
  dp::IpAddress dst;
  dst.family = 4;
  std::memcpy(dst.bytes.data(), ip + 16, 4);
  uint8_t* icmp = ip + ihl;
  if (!is_ours(*port, dst) || icmp[0] != 8 || icmp[1] != 0) {
    return false;
  }
  uint8_t tmp[6];
  std::memcpy(tmp, ip + 12, 4);  // swap addresses: the IP header checksum is unchanged
  std::memcpy(ip + 12, ip + 16, 4);
  std::memcpy(ip + 16, tmp, 4);
  icmp[0] = 0;
  store_be16(icmp + 2, checksum_adjust(load_be16(icmp + 2), 0x0800, 0x0000));
  std::memcpy(tmp, f, 6);
  std::memcpy(f, f + 6, 6);
  std::memcpy(f + 6, port->mac.data(), 6);
  dp_.send(port_id, std::span<rte_mbuf*>(&m, 1));
  return true;
}

bool DataplaneService::answer_icmpv6(rte_mbuf* m, uint16_t port_id, uint32_t l3) noexcept {
  // RFC 4861 §7.2.4: a Neighbor Solicitation for one of our addresses gets a solicited Neighbor
  // Advertisement with our link-layer address; RFC 4443 §4.2: an echo request gets its reply.
  // Both are rewritten in place (the frame's buffer has room for the few bytes NA adds).
  const PortState* port = port_by_id(port_id);
  auto* f = rte_pktmbuf_mtod(m, uint8_t*);
  if (port == nullptr || m->data_len < l3 + 40 + 8) {
    return false;
  }
  uint8_t* ip = f + l3;
  uint8_t* icmp = ip + 40;
  const uint32_t icmp_len = load_be16(ip + 4);
  if ((ip[0] >> 4) != 6 || ip[6] != 58 || icmp_len < 8 || l3 + 40 + icmp_len > m->data_len) {
    return false;
  }
  dp::IpAddress ours;
  ours.family = 6;
  uint32_t new_len = icmp_len;
  if (icmp[0] == 135 && icmp[1] == 0 && ip[7] == 255 && icmp_len >= 24) {
    std::memcpy(ours.bytes.data(), icmp + 8, 16);  // the target address
    if (!is_ours(*port, ours)) {
      return false;
    }
    const bool dad = std::all_of(ip + 8, ip + 24, [](uint8_t b) { return b == 0; });
    if (rte_pktmbuf_tailroom(m) + m->data_len < l3 + 40 + 32) {
      return false;
    }
    // Reply to the solicitor, or to all-nodes for duplicate address detection (§7.2.4).
    if (dad) {
      static constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                0,    0,    0, 0, 0, 0, 0, 1};
      std::memcpy(ip + 24, kAllNodes, 16);
    } else {
      std::memcpy(ip + 24, ip + 8, 16);
    }
    std::memcpy(ip + 8, ours.bytes.data(), 16);
    new_len = 32;
    icmp[0] = 136;
    icmp[4] = dad ? 0x20 : 0x60;  // S (solicited, not for DAD) and O (override) flags
    icmp[5] = icmp[6] = icmp[7] = 0;
    icmp[24] = 2;  // target link-layer address option, 8 bytes
    icmp[25] = 1;
    std::memcpy(icmp + 26, port->mac.data(), 6);
    if (dad) {
      static constexpr uint8_t kAllNodesMac[6] = {0x33, 0x33, 0, 0, 0, 1};  // RFC 2464 §7
      std::memcpy(f, kAllNodesMac, 6);
    } else {
      std::memcpy(f, f + 6, 6);
    }
  } else if (icmp[0] == 128 && icmp[1] == 0) {
    std::memcpy(ours.bytes.data(), ip + 24, 16);
    if (!is_ours(*port, ours)) {
      return false;
    }
    std::memcpy(ip + 24, ip + 8, 16);
    std::memcpy(ip + 8, ours.bytes.data(), 16);
    icmp[0] = 129;
    std::memcpy(f, f + 6, 6);
  } else {
    return false;
  }
  std::memcpy(f + 6, port->mac.data(), 6);
  ip[7] = 255;  // hop limit: RFC 4861 §7.1.2 requires 255 for NA; harmless for echo replies
  store_be16(ip + 4, static_cast<uint16_t>(new_len));
  store_be16(icmp + 2, 0);
  // RFC 4443 §2.3: the checksum covers the RFC 8200 §8.1 pseudo-header.
  uint32_t sum = sum16(ip + 8, 32);
  sum += new_len;
  sum += 58;
  sum = sum16(icmp, new_len, sum);
  store_be16(icmp + 2, fold(sum));
  m->data_len = static_cast<uint16_t>(l3 + 40 + new_len);
  m->pkt_len = m->data_len;
  dp_.send(port_id, std::span<rte_mbuf*>(&m, 1));
  return true;
}

bool DataplaneService::answer_stun(rte_mbuf* m, uint16_t port_id, uint32_t l3, uint16_t vlan,
                                   uint16_t payload_offset, uint16_t payload_len) noexcept {
  // RFC 8489 §6.3.1: a Binding request gets a success response carrying XOR-MAPPED-ADDRESS
  // (§14.2), the address the request came from. No authentication: ICE connectivity checks
  // that need MESSAGE-INTEGRITY are for the signalling side to enable (not done here).
  const PortState* port = port_by_id(port_id);
  auto* f = rte_pktmbuf_mtod(m, uint8_t*);
  if (port == nullptr || payload_len < 20) {
    return false;
  }
  const uint8_t* stun = f + payload_offset;
  if (load_be16(stun) != 0x0001 || (static_cast<uint32_t>(load_be16(stun + 4)) << 16 |
                                    load_be16(stun + 6)) != kStunMagicCookie) {
    return false;
  }
  const uint8_t* ip = f + l3;
  const bool v4 = (ip[0] >> 4) == 4;
  const uint32_t ihl = v4 ? (ip[0] & 0x0fU) * 4 : 40;
  const uint8_t* udp = ip + ihl;
  DtlsLegState hop;  // reuse send_datagram's frame building: reply to the request's source
  hop.tuple.port_id = port_id;
  hop.tuple.local_port = load_be16(udp + 2);
  hop.tuple.remote_port = load_be16(udp);
  hop.local_addr.family = v4 ? 4 : 6;
  hop.peer_addr.family = hop.local_addr.family;
  const std::size_t alen = v4 ? 4 : 16;
  std::memcpy(hop.peer_addr.bytes.data(), ip + (v4 ? 12 : 8), alen);
  std::memcpy(hop.local_addr.bytes.data(), ip + (v4 ? 16 : 24), alen);
  if (!is_ours(*port, hop.local_addr)) {
    return false;
  }
  std::memcpy(hop.peer_mac.data(), f + 6, 6);
  hop.vlan = vlan;
  std::array<uint8_t, 20 + 4 + 20> resp{};
  store_be16(resp.data(), 0x0101);             // Binding success response
  std::memcpy(resp.data() + 4, stun + 4, 16);  // magic cookie and transaction id
  uint8_t* attr = resp.data() + 20;
  store_be16(attr, 0x0020);  // XOR-MAPPED-ADDRESS
  store_be16(attr + 2, static_cast<uint16_t>(4 + alen));
  attr[5] = v4 ? 0x01 : 0x02;
  store_be16(attr + 6, static_cast<uint16_t>(hop.tuple.remote_port ^ (kStunMagicCookie >> 16)));
  for (std::size_t i = 0; i < alen; ++i) {
    // XOR with the magic cookie, then (IPv6) the transaction id: RFC 8489 §14.2.
    attr[8 + i] = static_cast<uint8_t>(hop.peer_addr.bytes[i] ^ stun[4 + i]);
  }
  const auto msg_len = static_cast<uint16_t>(4 + 4 + alen);
  store_be16(resp.data() + 2, msg_len);
  send_datagram(hop, std::span<const uint8_t>(resp.data(), 20 + msg_len));
  return true;
}

void DataplaneService::handle_punted(rte_mbuf* m, uint16_t port_id, hs::TimePoint now) noexcept {
  const auto* f = rte_pktmbuf_mtod(m, const uint8_t*);
  dp::detail::ParsedFrame p{};
  // The worker checked the UDP checksum of what it punted, or the port vouched for the data; a
  // port may vouch while leaving the field partial (RTE_MBUF_F_RX_L4_CKSUM_NONE), so the field is
  // not checked again here.
  dp::detail::classify_frame(f, m->data_len, port_id, dp::detail::ChecksumHint::unknown,
                             dp::detail::ChecksumHint::deferred, p);
  bool consumed = false;  // the mbuf was sent (the send owns it now)
  const uint16_t vlan = p.vlan_tci & 0x0fffU;
  switch (p.kind) {
    case dp::detail::FrameKind::dtls:
      ++punted_dtls_;
      try {
        handle_dtls(f, m->data_len, p.key, p.payload_offset, p.payload_len, vlan, now);
      } catch (...) {
        // Allocation failure in a handshake: drop the datagram; DTLS retransmits
        // (RFC 6347 §4.2.4).
      }
      break;
    case dp::detail::FrameKind::stun:
      ++punted_stun_;
      consumed = answer_stun(m, port_id, p.l3_offset, vlan, p.payload_offset, p.payload_len);
      break;
    case dp::detail::FrameKind::control:
      ++punted_other_;
      if (p.ip_version == 0) {
        consumed = answer_arp(m, port_id, p.l3_offset);
      } else if (p.ip_version == 4) {
        consumed = answer_icmp_echo(m, port_id, p.l3_offset);
      } else if (p.ip_version == 6) {
        consumed = answer_icmpv6(m, port_id, p.l3_offset);
      }
      break;
    default:
      ++punted_other_;
      break;
  }
  if (!consumed) {
    rte_pktmbuf_free(m);
  }
}

void DataplaneService::poll(hs::TimePoint now) noexcept {
  std::array<dp::PuntedPacket, 32> punted;
  for (int round = 0; round < 8; ++round) {
    const std::size_t n = dp_.receive_punted(punted);
    for (std::size_t i = 0; i < n; ++i) {
      handle_punted(punted[i].mbuf, punted[i].port_id, now);
    }
    if (n < punted.size()) {
      break;
    }
  }
  // DTLS retransmission timers (RFC 6347 §4.2.4) and handshake timeouts.
  try {
    for (auto& [id, s] : sessions_) {
      for (auto& d : s.dtls) {
        if (!d->endpoint) {
          continue;
        }
        auto deadline = d->endpoint->next_deadline();
        if (deadline && now >= *deadline) {
          d->endpoint->handle_timeout(now);
          pump(s, *d, now);
        }
      }
    }
  } catch (...) {
    // Allocation failure: the next poll retries the timers.
  }
  dp_.reclaim();
}

void DataplaneService::close_all(hs::TimePoint now) noexcept {
  try {
    for (auto& [id, s] : sessions_) {
      for (auto& d : s.dtls) {
        if (d->endpoint) {
          d->endpoint->close(now);
          while (auto dg = d->endpoint->poll_datagram()) {
            send_datagram(*d, *dg);
          }
        }
      }
    }
  } catch (...) {
  }
}

}  // namespace srtpgate::app
