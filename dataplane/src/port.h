// Ethernet ports and mbuf pools, owned by RAII types. Internal to dataplane/.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "srtpgate/result.h"

struct rte_mempool;
struct rte_ring;

namespace srtpgate::dp::detail {

struct MempoolDeleter {
  void operator()(rte_mempool* p) const noexcept;
};
using MempoolPtr = std::unique_ptr<rte_mempool, MempoolDeleter>;

struct RingDeleter {
  void operator()(rte_ring* r) const noexcept;
};
using RingPtr = std::unique_ptr<rte_ring, RingDeleter>;

// A packet mbuf pool with room for `count` mbufs of 2048-byte data rooms (128 bytes headroom).
Result<MempoolPtr> make_mbuf_pool(const std::string& name, uint32_t count, int socket);
// A single-producer single-consumer ring of pointers that holds exactly `size` entries
// (RING_F_EXACT_SZ: its memory is rounded up to the next power of two above `size`).
Result<RingPtr> make_spsc_ring(const std::string& name, uint32_t size, int socket);

// What a port offers and how it was configured.
struct PortInfo {
  uint16_t port_id = 0;
  std::string name;
  std::string driver;
  std::array<uint8_t, 6> mac{};
  int socket = 0;
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  bool rss = false;                 // configured with RSS (real or emulated)
  bool emulated_rss = false;
  std::vector<uint8_t> rss_key;     // the Toeplitz key in use (40 or 52 bytes)
  std::vector<uint16_t> reta;       // redirection table: hash & (size - 1) -> rx queue
  // Which UDP flows the device hashes (RTE_ETH_RSS_NONFRAG_IPV4_UDP / _IPV6_UDP); a device
  // may hash one family and not the other, whose packets then all reach queue 0.
  bool rss_ipv4_udp = false;
  bool rss_ipv6_udp = false;
  uint16_t mtu = 1500;              // the largest IP packet the port sends (rte_eth_dev_get_mtu)
  bool rx_ip_checksum = false;      // offloads enabled on the port
  bool rx_udp_checksum = false;
  bool tx_ip_checksum = false;
  bool tx_udp_checksum = false;
  bool emulated_checksum_offload = false;
};

struct PortSetup {
  uint16_t port_id = 0;
  uint16_t rx_queues = 1;  // 1 unless RSS is on
  uint16_t tx_queues = 1;  // one per worker plus one for the control thread
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  bool want_rss = true;        // configure RSS if the device offers it and rx_queues > 1
  bool emulated_rss = false;   // the device does not hash, the sender does (ring ports)
  // The device computes no checksum; the sender marks rx checksums checked and the drainer
  // finishes tx checksums, as a NIC would (ring ports only; see PortConfig).
  bool emulated_checksum_offload = false;
  rte_mempool* pool = nullptr;
};

// A configured and started port; stops and closes it when destroyed.
class Port {
 public:
  static Result<std::unique_ptr<Port>> open(const PortSetup& setup);
  ~Port();
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;
  const PortInfo& info() const noexcept { return info_; }

 private:
  explicit Port(PortInfo info) : info_(std::move(info)) {}
  PortInfo info_;
};

// The port id of a DPDK device by name (as given with --vdev, or a PCI address).
Result<uint16_t> find_port(std::string_view name);

// An in-process port over rings (rte_eth_from_rings), for tests and benchmarks: the caller
// enqueues mbufs into rx_rings[q] and dequeues transmitted ones from tx_rings[q]. The device is
// named "net_ring_<name>". Open it with the same queue counts (net_ring cannot add queues),
// and destroy its Port before the RingPort: the device keeps pointers to these rings.
struct RingPort {
  uint16_t port_id = 0;
  std::vector<RingPtr> rx_rings;
  std::vector<RingPtr> tx_rings;
};
Result<std::unique_ptr<RingPort>> make_ring_port(const std::string& name, uint16_t rx_queues,
                                                 uint16_t tx_queues, uint32_t ring_size,
                                                 int socket);

}  // namespace srtpgate::dp::detail
