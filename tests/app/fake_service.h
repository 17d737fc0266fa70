// A SessionService that records what it is asked and answers with canned values, for the
// control protocol and configuration tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "session_service.h"

namespace srtpgate::app::testing {

// Key params used by the tests; responses are searched for them.
inline constexpr const char* kKeyB64 = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e";
inline constexpr const char* kKey = "inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e";
inline constexpr const char* kKey2B64 = "ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGC";
inline constexpr const char* kKey2 = "inline:ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGC";
inline constexpr const char* kGcmKey = "inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHA==";
inline constexpr const char* kFingerprint =
    "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
    "01:23:45:67:89";

class FakeService : public SessionService {
 public:
  Result<SessionInfo> create(const SessionRequest& request) override {
    creates.push_back(request);
    if (fail_with) {
      return make_error(*fail_with);
    }
    SessionInfo info = canned;
    info.port = request.port;
    info.vlan = request.vlan;
    info.local_addr = request.local_addr;
    info.local_port = request.local_port == 0 ? 20000 : request.local_port;
    info.remote_addr = request.remote_addr;
    info.remote_port = request.remote_port;
    info.action = request.action;
    info.label = request.label;
    return info;
  }
  Result<void> remove(uint64_t id) override {
    removes.push_back(id);
    if (fail_with) {
      return make_error(*fail_with);
    }
    return {};
  }
  Result<void> rekey(uint64_t id, const std::optional<SdesLeg>& inbound,
                     const std::optional<SdesLeg>& outbound) override {
    rekeys.push_back({id, inbound, outbound});
    if (fail_with) {
      return make_error(*fail_with);
    }
    return {};
  }
  Result<SessionInfo> show(uint64_t id) const override {
    ++reads;
    if (fail_with) {
      return make_error(*fail_with);
    }
    SessionInfo info = canned;
    info.id = id;
    return info;
  }
  std::vector<SessionInfo> list() const override {
    ++reads;
    return {canned, canned};
  }
  ServiceStats stats() const override {
    ++reads;
    return canned_stats;
  }
  std::vector<dp::PortDescription> ports() const override {
    ++reads;
    return canned_ports;
  }

  std::size_t mutations() const { return creates.size() + removes.size() + rekeys.size(); }

  struct Rekey {
    uint64_t id;
    std::optional<SdesLeg> inbound;
    std::optional<SdesLeg> outbound;
  };
  std::vector<SessionRequest> creates;
  std::vector<uint64_t> removes;
  std::vector<Rekey> rekeys;
  mutable int reads = 0;
  std::optional<std::string> fail_with;
  SessionInfo canned = [] {
    SessionInfo i;
    i.id = 7;
    i.label = "call-1";
    i.state = SessionState::active;
    i.port = "net_ring0";
    i.local_addr = dp::IpAddress::parse("198.18.0.1").value();
    i.local_port = 20000;
    i.remote_addr = dp::IpAddress::parse("198.18.1.1").value();
    i.remote_port = 5000;
    i.inbound_profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
    i.worker = 1;
    i.counters.rx_packets = 10;
    i.counters.drops[static_cast<std::size_t>(dp::Drop::auth_failure)] = 3;
    i.age_seconds = 42;
    return i;
  }();
  ServiceStats canned_stats = [] {
    ServiceStats s;
    s.workers.resize(2);
    s.workers[0].rx_packets = 5;
    s.workers[1].rx_packets = 6;
    s.workers[1].drops[static_cast<std::size_t>(dp::Drop::replay)] = 2;
    // Worker 1 runs the stage clock; each stage a different count.
    s.workers[1].stages.tsc_hz = 2'800'000'000;
    s.workers[1].stages.bursts = 7;
    s.workers[1].stages.packets = 200;
    for (std::size_t i = 0; i < dp::kStageCount; ++i) {
      s.workers[1].stages.cycles[i] = 1000 * (i + 1);
    }
    s.sessions = 3;
    s.punted_stun = 4;
    return s;
  }();
  std::vector<dp::PortDescription> canned_ports = {
      dp::PortDescription{.port_id = 0,
                          .name = "0000:3b:00.0",
                          .driver = "net_ice",
                          .rx_queues = 4,
                          .tx_queues = 5,
                          .rss = true,
                          .mtu = 9000,
                          .rx_ip_checksum = true,
                          .rx_udp_checksum = false,
                          .tx_udp_checksum = true},
      dp::PortDescription{.port_id = 1,
                          .name = "net_ring_x",
                          .driver = "net_ring",
                          .rx_queues = 1,
                          .tx_queues = 2,
                          .mtu = 1500,
                          .rx_ip_checksum = true,
                          .rx_udp_checksum = true},
  };
};

}  // namespace srtpgate::app::testing
