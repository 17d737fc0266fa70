// Ethernet ports, mbuf pools and rings (DPDK ethdev, mempool and ring libraries, 22.11).
#include "port.h"

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <utility>

namespace srtpgate::dp::detail {

namespace {

// Emulated RSS uses a 128-entry table, the size of the 82599/I210 redirection table
// (Intel 82599 datasheet §7.1.2.8.2), so a harness places packets the way such a NIC would.
constexpr uint16_t kEmulatedRetaSize = 128;
constexpr std::size_t kDefaultRssKeyLen = 40;  // Microsoft RSS: 320-bit secret key
// The hash types the gateway relies on: UDP over IPv4 and IPv6, ports included.
constexpr uint64_t kUdpRssTypes = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP;

std::string dpdk_error(const std::string& what, int rc) {
  const int err = rc < 0 ? -rc : rc;
  return what + ": " + rte_strerror(err);
}

std::string port_label(uint16_t port_id) {
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (rte_eth_dev_get_name_by_port(port_id, name) == 0) {
    return "port " + std::to_string(port_id) + " (" + name + ")";
  }
  return "port " + std::to_string(port_id);
}

std::vector<uint8_t> random_key(std::size_t len) {
  std::random_device rd;
  std::vector<uint8_t> key(len);
  for (auto& b : key) {
    b = static_cast<uint8_t>(rd());
  }
  return key;
}

std::vector<uint16_t> round_robin_reta(uint16_t size, uint16_t queues) {
  std::vector<uint16_t> reta(size);
  for (uint16_t i = 0; i < size; ++i) {
    reta[i] = static_cast<uint16_t>(i % queues);
  }
  return reta;
}

// Stops a started port again when open() fails after rte_eth_dev_start.
struct StopOnFailure {
  uint16_t port_id;
  bool armed = false;
  ~StopOnFailure() {
    if (armed) {
      (void)rte_eth_dev_stop(port_id);
    }
  }
};

}  // namespace

void MempoolDeleter::operator()(rte_mempool* p) const noexcept { rte_mempool_free(p); }

void RingDeleter::operator()(rte_ring* r) const noexcept { rte_ring_free(r); }

Result<MempoolPtr> make_mbuf_pool(const std::string& name, uint32_t count, int socket) {
  if (name.size() >= RTE_MEMPOOL_NAMESIZE) {
    return make_error("mbuf pool name '" + name + "' is longer than " +
                      std::to_string(RTE_MEMPOOL_NAMESIZE - 1) + " characters");
  }
  // The per-lcore cache must not exceed count / 1.5 (rte_mempool_create's limit), and a
  // cache larger than a small pool strands its mbufs in idle cores' caches.
  const unsigned cache = std::min<unsigned>(256, count / 8);
  rte_mempool* p =
      rte_pktmbuf_pool_create(name.c_str(), count, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (p == nullptr) {
    const int err = rte_errno;
    return make_error(dpdk_error("rte_pktmbuf_pool_create '" + name + "' with " +
                                     std::to_string(count) + " mbufs on socket " +
                                     std::to_string(socket),
                                 err) +
                      (err == EEXIST ? " (pool names are process-wide: pick a unique one)"
                                     : " (raise the EAL -m memory or use fewer mbufs)"));
  }
  return MempoolPtr(p);
}

Result<RingPtr> make_spsc_ring(const std::string& name, uint32_t size, int socket) {
  if (name.size() >= RTE_RING_NAMESIZE) {
    return make_error("ring name '" + name + "' is longer than " +
                      std::to_string(RTE_RING_NAMESIZE - 1) + " characters");
  }
  if (size == 0 || size > RTE_RING_SZ_MASK) {
    return make_error("ring '" + name + "': size " + std::to_string(size) + " is outside 1.." +
                      std::to_string(RTE_RING_SZ_MASK));
  }
  // RING_F_EXACT_SZ: the ring holds `size` entries; its memory is the next power of two.
  rte_ring* r =
      rte_ring_create(name.c_str(), size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
  if (r == nullptr) {
    const int err = rte_errno;
    return make_error(
        dpdk_error("rte_ring_create '" + name + "' of " + std::to_string(size) + " entries", err) +
        (err == EEXIST ? " (ring names are process-wide: pick a unique one)" : ""));
  }
  return RingPtr(r);
}

Result<std::unique_ptr<Port>> Port::open(const PortSetup& setup) {
  const uint16_t port_id = setup.port_id;
  if (rte_eth_dev_is_valid_port(port_id) == 0) {
    return make_error("port " + std::to_string(port_id) +
                      " does not exist (see find_port, or the EAL --vdev / -a options)");
  }
  const std::string label = port_label(port_id);
  if (setup.pool == nullptr) {
    return make_error(label + ": no mbuf pool given for its rx queues");
  }
  if (setup.rx_queues == 0 || setup.tx_queues == 0) {
    return make_error(label + ": needs at least one rx and one tx queue");
  }

  rte_eth_dev_info dev_info{};
  int rc = rte_eth_dev_info_get(port_id, &dev_info);
  if (rc != 0) {
    return make_error(dpdk_error(label + ": rte_eth_dev_info_get", rc));
  }
  if (setup.rx_queues > dev_info.max_rx_queues || setup.tx_queues > dev_info.max_tx_queues) {
    return make_error(label + ": asked for " + std::to_string(setup.rx_queues) + " rx / " +
                      std::to_string(setup.tx_queues) + " tx queues, the device (" +
                      dev_info.driver_name + ") has at most " +
                      std::to_string(dev_info.max_rx_queues) + " rx / " +
                      std::to_string(dev_info.max_tx_queues) + " tx");
  }

  PortInfo info;
  info.port_id = port_id;
  {
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    if (rte_eth_dev_get_name_by_port(port_id, name) == 0) {
      info.name = name;
    }
  }
  info.driver = dev_info.driver_name != nullptr ? dev_info.driver_name : "";
  info.socket = rte_eth_dev_socket_id(port_id);
  info.rx_queues = setup.rx_queues;
  info.tx_queues = setup.tx_queues;

  rte_eth_conf conf{};
  conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
  conf.txmode.mq_mode = RTE_ETH_MQ_TX_NONE;

  // Hardware RSS: only when the device hashes UDP over IPv4 or IPv6 with the ports, since
  // the flow placement (rss_placement.h) assumes the 4-tuple hash. Packets of no configured
  // type (ARP, ICMP, IP fragments) are not hashed and reach queue 0.
  const uint64_t offered_udp_rss = dev_info.flow_type_rss_offloads & kUdpRssTypes;
  const bool hw_rss =
      !setup.emulated_rss && setup.want_rss && setup.rx_queues > 1 && offered_udp_rss != 0;
  const std::size_t key_len =
      dev_info.hash_key_size != 0 ? dev_info.hash_key_size : kDefaultRssKeyLen;
  std::vector<uint8_t> our_key;
  if (hw_rss) {
    our_key = random_key(key_len);
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = our_key.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key_len);
    conf.rx_adv_conf.rss_conf.rss_hf = offered_udp_rss;
  }

  // Checksum offloads only where the device reports them; the header rewrite computes the
  // rest in software.
  if ((dev_info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    info.rx_ip_checksum = true;
  }
  if ((dev_info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    info.rx_udp_checksum = true;
  }
  if ((dev_info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    info.tx_ip_checksum = true;
  }
  if ((dev_info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    info.tx_udp_checksum = true;
  }
  if (setup.emulated_checksum_offload) {
    // Only on ring ports, whose other end (a test or a benchmark) plays the NIC.
    if (info.driver != "net_ring") {
      return make_error(label + ": emulated checksum offload is for in-process ring ports; " +
                        "the " + info.driver + " driver would send unfinished UDP checksums");
    }
    info.rx_ip_checksum = true;
    info.rx_udp_checksum = true;
    info.tx_udp_checksum = true;
    info.emulated_checksum_offload = true;
  }

  rc = rte_eth_dev_configure(port_id, setup.rx_queues, setup.tx_queues, &conf);
  if (rc != 0 && hw_rss) {
    // Some devices take no custom key at configure time: keep theirs (read back below).
    conf.rx_adv_conf.rss_conf.rss_key = nullptr;
    conf.rx_adv_conf.rss_conf.rss_key_len = 0;
    rc = rte_eth_dev_configure(port_id, setup.rx_queues, setup.tx_queues, &conf);
  }
  if (rc != 0) {
    return make_error(dpdk_error(label + ": rte_eth_dev_configure with " +
                                     std::to_string(setup.rx_queues) + " rx / " +
                                     std::to_string(setup.tx_queues) + " tx queues",
                                 rc));
  }
  // What the next hops' packets may measure (the flows' max_payload). A port that cannot say
  // keeps Ethernet's 1500 (RFC 894).
  if (uint16_t mtu = 0; rte_eth_dev_get_mtu(port_id, &mtu) == 0 && mtu >= RTE_ETHER_MIN_MTU) {
    info.mtu = mtu;
  }

  uint16_t rx_desc = setup.rx_descriptors;
  uint16_t tx_desc = setup.tx_descriptors;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
  if (rc != 0) {
    return make_error(dpdk_error(label + ": rte_eth_dev_adjust_nb_rx_tx_desc", rc));
  }
  const unsigned queue_socket =
      info.socket >= 0 ? static_cast<unsigned>(info.socket) : static_cast<unsigned>(SOCKET_ID_ANY);
  rte_eth_rxconf rxconf = dev_info.default_rxconf;
  rxconf.offloads = conf.rxmode.offloads;
  for (uint16_t q = 0; q < setup.rx_queues; ++q) {
    rc = rte_eth_rx_queue_setup(port_id, q, rx_desc, queue_socket, &rxconf, setup.pool);
    if (rc != 0) {
      return make_error(dpdk_error(label + ": rte_eth_rx_queue_setup queue " + std::to_string(q) +
                                       " with " + std::to_string(rx_desc) + " descriptors",
                                   rc));
    }
  }
  rte_eth_txconf txconf = dev_info.default_txconf;
  txconf.offloads = conf.txmode.offloads;
  for (uint16_t q = 0; q < setup.tx_queues; ++q) {
    rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, queue_socket, &txconf);
    if (rc != 0) {
      return make_error(dpdk_error(label + ": rte_eth_tx_queue_setup queue " + std::to_string(q) +
                                       " with " + std::to_string(tx_desc) + " descriptors",
                                   rc));
    }
  }

  // Devices without promiscuous mode (and ones that are always promiscuous) refuse; the
  // gateway receives its own MAC's traffic regardless.
  (void)rte_eth_promiscuous_enable(port_id);

  rc = rte_eth_dev_start(port_id);
  if (rc != 0) {
    return make_error(dpdk_error(label + ": rte_eth_dev_start", rc));
  }
  StopOnFailure stop_guard{port_id, true};

  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(port_id, &mac) == 0) {
    std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), info.mac.begin());
  }

  if (hw_rss) {
    info.rss = true;
    // The key in use: the device's word over ours (it may have refused or truncated it).
    // Buffer of at least 52 bytes: some drivers copy their full key size whatever we say.
    std::vector<uint8_t> key_buf(std::max<std::size_t>(key_len, 52));
    rte_eth_rss_conf readback{};
    readback.rss_key = key_buf.data();
    readback.rss_key_len = static_cast<uint8_t>(key_len);
    rc = rte_eth_dev_rss_hash_conf_get(port_id, &readback);
    // Some drivers refuse the key at configure time or accept it without applying it
    // (net_null keeps its own): push it once more through the update call.
    const bool key_differs = !std::equal(our_key.begin(), our_key.end(), key_buf.begin());
    if (rc == 0 && key_differs) {
      rte_eth_rss_conf update{};
      update.rss_key = our_key.data();
      update.rss_key_len = static_cast<uint8_t>(key_len);
      update.rss_hf = offered_udp_rss;
      if (rte_eth_dev_rss_hash_update(port_id, &update) == 0) {
        readback = rte_eth_rss_conf{};
        readback.rss_key = key_buf.data();
        readback.rss_key_len = static_cast<uint8_t>(key_len);
        rc = rte_eth_dev_rss_hash_conf_get(port_id, &readback);
      }
    }
    // The hash types in use, as the device reports them (it may apply fewer than asked).
    const uint64_t udp_types = rc == 0 && (readback.rss_hf & kUdpRssTypes) != 0
                                   ? readback.rss_hf & kUdpRssTypes
                                   : offered_udp_rss;
    info.rss_ipv4_udp = (udp_types & RTE_ETH_RSS_NONFRAG_IPV4_UDP) != 0;
    info.rss_ipv6_udp = (udp_types & RTE_ETH_RSS_NONFRAG_IPV6_UDP) != 0;
    if (rc == 0) {
      info.rss_key.assign(key_buf.begin(), key_buf.begin() + static_cast<std::ptrdiff_t>(key_len));
    } else if (conf.rx_adv_conf.rss_conf.rss_key != nullptr) {
      info.rss_key = our_key;
    } else {
      return make_error(dpdk_error(label + ": the device refused our RSS key and " +
                                       "rte_eth_dev_rss_hash_conf_get cannot tell its own",
                                   rc));
    }

    if (dev_info.reta_size != 0) {
      std::vector<uint16_t> reta = round_robin_reta(dev_info.reta_size, setup.rx_queues);
      std::vector<rte_eth_rss_reta_entry64> groups(
          (dev_info.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE);
      for (uint16_t i = 0; i < dev_info.reta_size; ++i) {
        auto& g = groups[i / RTE_ETH_RETA_GROUP_SIZE];
        g.mask |= uint64_t{1} << (i % RTE_ETH_RETA_GROUP_SIZE);
        g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = reta[i];
      }
      rc = rte_eth_dev_rss_reta_update(port_id, groups.data(), dev_info.reta_size);
      if (rc != 0) {
        // Not programmable: ask the device what it uses.
        for (auto& g : groups) {
          g = rte_eth_rss_reta_entry64{};
          g.mask = ~uint64_t{0};
        }
        const int qrc = rte_eth_dev_rss_reta_query(port_id, groups.data(), dev_info.reta_size);
        if (qrc != 0) {
          return make_error(dpdk_error(label + ": rte_eth_dev_rss_reta_update", rc) + ", and " +
                            dpdk_error("rte_eth_dev_rss_reta_query", qrc) +
                            ": cannot tell which rx queue a flow reaches");
        }
        for (uint16_t i = 0; i < dev_info.reta_size; ++i) {
          reta[i] = groups[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
        }
      }
      info.reta = std::move(reta);
    } else {
      // A device that hashes but reports no table size: assume the common default of a
      // 128-entry round-robin table (what ixgbe, igb and i40e program at start).
      info.reta = round_robin_reta(kEmulatedRetaSize, setup.rx_queues);
    }
  } else if (setup.emulated_rss) {
    // The device does not hash; whoever feeds its rx rings places packets with this key and
    // table, exactly as a NIC would.
    info.rss = true;
    info.emulated_rss = true;
    info.rss_ipv4_udp = true;
    info.rss_ipv6_udp = true;
    info.rss_key = random_key(kDefaultRssKeyLen);
    info.reta = round_robin_reta(kEmulatedRetaSize, setup.rx_queues);
  }

  stop_guard.armed = false;
  return std::unique_ptr<Port>(new Port(std::move(info)));
}

Port::~Port() {
  (void)rte_eth_dev_stop(info_.port_id);
  (void)rte_eth_dev_close(info_.port_id);
}

Result<uint16_t> find_port(std::string_view name) {
  const std::string n(name);
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(n.c_str(), &port_id) != 0) {
    std::string known;
    uint16_t p = 0;
    RTE_ETH_FOREACH_DEV(p) {
      char pname[RTE_ETH_NAME_MAX_LEN] = {};
      if (rte_eth_dev_get_name_by_port(p, pname) == 0) {
        known += known.empty() ? "" : ", ";
        known += pname;
      }
    }
    return make_error("no DPDK port named '" + n +
                      "' (ports: " + (known.empty() ? std::string("none") : known) + ")");
  }
  return port_id;
}

Result<std::unique_ptr<RingPort>> make_ring_port(const std::string& name, uint16_t rx_queues,
                                                 uint16_t tx_queues, uint32_t ring_size,
                                                 int socket) {
  // net_ring takes at most RTE_PMD_RING_MAX_{RX,TX}_RINGS rings and names the device
  // "net_ring_<name>"; reconfiguring it later works only with the same (or fewer) queues,
  // since its queue setup indexes the rings given here (drivers/net/ring, DPDK 22.11).
  if (rx_queues == 0 || tx_queues == 0 || rx_queues > RTE_PMD_RING_MAX_RX_RINGS ||
      tx_queues > RTE_PMD_RING_MAX_TX_RINGS) {
    return make_error("ring port '" + name + "': " + std::to_string(rx_queues) + " rx / " +
                      std::to_string(tx_queues) + " tx queues; net_ring takes 1.." +
                      std::to_string(RTE_PMD_RING_MAX_RX_RINGS) + " of each");
  }
  auto port = std::make_unique<RingPort>();
  std::vector<rte_ring*> rx;
  std::vector<rte_ring*> tx;
  for (uint16_t q = 0; q < rx_queues; ++q) {
    auto r = make_spsc_ring(name + "_rx" + std::to_string(q), ring_size, socket);
    if (!r) {
      return r.error();
    }
    rx.push_back(r->get());
    port->rx_rings.push_back(std::move(*r));
  }
  for (uint16_t q = 0; q < tx_queues; ++q) {
    auto r = make_spsc_ring(name + "_tx" + std::to_string(q), ring_size, socket);
    if (!r) {
      return r.error();
    }
    tx.push_back(r->get());
    port->tx_rings.push_back(std::move(*r));
  }
  const unsigned numa = socket >= 0 ? static_cast<unsigned>(socket) : 0;
  const int id = rte_eth_from_rings(name.c_str(), rx.data(), rx_queues, tx.data(), tx_queues, numa);
  if (id < 0) {
    return make_error(dpdk_error("rte_eth_from_rings '" + name + "'", rte_errno) +
                      " (is the name unique and at most " +
                      std::to_string(RTE_RING_NAMESIZE - 1 - std::strlen("net_ring_")) +
                      " characters?)");
  }
  port->port_id = static_cast<uint16_t>(id);
  return port;
}

}  // namespace srtpgate::dp::detail
