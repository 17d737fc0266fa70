// The daemon's SessionService: sessions become flows in the DPDK dataplane, DTLS-SRTP legs are
// negotiated here on the main lcore (sans-IO endpoints fed with punted datagrams), and the
// control thread answers what the workers punt (ARP, ICMP echo, STUN binding requests).
//
// Control path only: every method runs on the main lcore's event loop.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "session_service.h"
#include "srtpgate/dp/dataplane.h"
#include "srtpgate/hs/context.h"
#include "srtpgate/hs/endpoint.h"

struct rte_mbuf;

namespace srtpgate::app {

struct ServiceConfig {
  std::vector<PortSpec> ports;  // every one must be a port of the dataplane
  uint16_t port_range_first = 20000;
  uint16_t port_range_last = 29999;
};

class DataplaneService final : public SessionService {
 public:
  // `dataplane` and `dtls` must outlive the service. Fails when a configured port is not one of
  // the dataplane's.
  static Result<std::unique_ptr<DataplaneService>> create(dp::Dataplane& dataplane,
                                                          hs::Context& dtls, ServiceConfig config);
  ~DataplaneService() override;

  Result<SessionInfo> create(const SessionRequest& request) override;
  Result<void> remove(uint64_t id) override;
  Result<void> rekey(uint64_t id, const std::optional<SdesLeg>& inbound,
                     const std::optional<SdesLeg>& outbound) override;
  Result<SessionInfo> show(uint64_t id) const override;
  std::vector<SessionInfo> list() const override;
  ServiceStats stats() const override;
  std::vector<dp::PortDescription> ports() const override;

  // One turn of the control thread's work: punted packets, DTLS timers and flights, reclaiming
  // retired flows. Never blocks.
  void poll(hs::TimePoint now) noexcept;

  // Closes every DTLS association (close_notify) and sends what that queued; at shutdown.
  void close_all(hs::TimePoint now) noexcept;

 private:
  // One DTLS-SRTP association (RFC 5764): on the inbound leg with the remote, or on the
  // outbound leg of a protect session with the next hop.
  struct DtlsLegState {
    bool inbound = true;  // which SRTP leg its keys are for
    bool server = true;
    hs::EndpointConfig config;
    std::unique_ptr<hs::Endpoint> endpoint;  // server: made when a cookie-valid hello arrives
    dp::FlowKey tuple;  // as the peer's datagrams arrive: local = ours, remote = the peer
    dp::IpAddress local_addr;
    dp::IpAddress peer_addr;
    std::array<uint8_t, 6> peer_mac{};  // learned from the peer's frames; fallback given
    uint16_t vlan = 0;
    bool connected = false;
    std::optional<dp::LegKey> key;  // once connected, until installed
  };

  struct Session {
    uint64_t id = 0;
    std::string label;
    std::string port;
    dp::IpAddress local_addr;
    uint16_t local_port = 0;
    dp::IpAddress remote_addr;
    uint16_t remote_port = 0;
    dp::Action action = dp::Action::unprotect;
    dp::FlowKey key;
    dp::NextHop next_hop;
    uint32_t replay_window = 128;
    uint32_t max_streams = 4;
    SessionState state = SessionState::handshaking;
    std::string failure;
    std::optional<srtp::Profile> inbound_profile;
    std::optional<srtp::Profile> outbound_profile;
    std::optional<dp::LegKey> sdes_inbound;  // SDES keys kept only until installed
    std::optional<dp::LegKey> sdes_outbound;
    std::vector<std::unique_ptr<DtlsLegState>> dtls;
    bool installed = false;
    std::chrono::steady_clock::time_point created;
  };

  struct PortState {
    PortSpec spec;
    uint16_t port_id = 0;
    std::array<uint8_t, 6> mac{};
  };

  struct FlowKeyHash {
    std::size_t operator()(const dp::FlowKey& k) const noexcept;
  };

  DataplaneService(dp::Dataplane& dataplane, hs::Context& dtls, ServiceConfig config,
                   std::vector<PortState> ports);

  const PortState* port_by_name(std::string_view name) const noexcept;
  const PortState* port_by_id(uint16_t id) const noexcept;
  bool is_ours(const PortState& port, const dp::IpAddress& addr) const noexcept;
  Result<uint16_t> allocate_local_port(uint16_t port_id, const dp::IpAddress& addr);
  SessionInfo info_of(const Session& s) const;

  void handle_punted(rte_mbuf* mbuf, uint16_t port_id, hs::TimePoint now) noexcept;
  void handle_dtls(const uint8_t* frame, uint32_t len, const dp::FlowKey& tuple,
                   uint16_t payload_offset, uint16_t payload_len, uint16_t vlan, hs::TimePoint now);
  bool answer_arp(rte_mbuf* mbuf, uint16_t port_id, uint32_t l3_offset) noexcept;
  bool answer_icmp_echo(rte_mbuf* mbuf, uint16_t port_id, uint32_t l3_offset) noexcept;
  bool answer_icmpv6(rte_mbuf* mbuf, uint16_t port_id, uint32_t l3_offset) noexcept;
  bool answer_stun(rte_mbuf* mbuf, uint16_t port_id, uint32_t l3_offset, uint16_t vlan,
                   uint16_t payload_offset, uint16_t payload_len) noexcept;
  // Sends what the endpoint queued, and acts on its events.
  void pump(Session& s, DtlsLegState& leg, hs::TimePoint now);
  void send_datagram(const DtlsLegState& leg, std::span<const uint8_t> datagram) noexcept;
  void try_install(Session& s);

  dp::Dataplane& dp_;
  hs::Context& dtls_;
  ServiceConfig config_;
  std::vector<PortState> ports_;
  std::map<uint64_t, Session> sessions_;
  // RFC 5764 §5.1.2: DTLS shares the media 5-tuple; this finds the association for a datagram.
  std::unordered_map<dp::FlowKey, std::pair<uint64_t, std::size_t>, FlowKeyHash> dtls_by_tuple_;
  uint64_t next_id_ = 1;
  uint16_t next_port_ = 0;
  std::string fingerprint_;
  uint64_t punted_stun_ = 0;
  uint64_t punted_dtls_ = 0;
  uint64_t punted_other_ = 0;
  uint64_t dtls_unmatched_ = 0;
};

}  // namespace srtpgate::app
