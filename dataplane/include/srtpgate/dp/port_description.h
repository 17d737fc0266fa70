// A dataplane port as configured, for operators and tests (Dataplane::describe_ports).
#pragma once

#include <cstdint>
#include <string>

namespace srtpgate::dp {

// What a port is and what it does for the workers, as configured: for operators (the daemon's
// `ports` command) and tests. Without UDP checksum offload the workers sum every packet in
// software, once or twice (docs/performance.md).
struct PortDescription {
  uint16_t port_id = 0;
  std::string name;    // the DPDK device name
  std::string driver;  // "net_ring", "net_ice", ...
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  bool rss = false;             // flows spread over workers by the NIC's Toeplitz hash
  uint16_t mtu = 0;             // the largest IP packet the port sends
  bool rx_ip_checksum = false;  // the NIC checks received IPv4 header checksums
  bool rx_udp_checksum = false;
  bool tx_udp_checksum = false;  // the NIC finishes sent UDP checksums
};

}  // namespace srtpgate::dp
