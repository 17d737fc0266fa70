// The dataplane: ports, worker lcores, their flow tables, and the control thread's handle on
// them. Created and driven by one control thread; workers run on their own lcores (or, for tests
// and benchmarks, are polled by the caller).
//
// How a packet travels and how a flow finds its worker: docs/architecture.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "srtpgate/crypto.h"
#include "srtpgate/dp/counters.h"
#include "srtpgate/dp/flow.h"
#include "srtpgate/dp/port_description.h"
#include "srtpgate/result.h"

struct rte_mbuf;

namespace srtpgate::dp {

struct PortConfig {
  std::string name;  // a DPDK device name: "net_ring0", "net_pcap0", "0000:3b:00.0"
  // RSS: on where the port offers it (auto), or off. A port without RSS gets one rx queue,
  // polled by one worker; with RSS every worker polls its own queue.
  bool rss = true;
  // For in-process ring ports in tests and benchmarks: the sender spreads packets over the rx
  // queues with the same Toeplitz hash a NIC would use, so treat the port as an RSS port.
  bool emulated_rss = false;
  // Tests and benchmarks only, for in-process ring ports: behave as a NIC with checksum
  // offload. Whoever feeds the rx rings marks each mbuf's IPv4 and UDP checksums checked, as a
  // NIC's driver does (RTE_MBUF_F_RX_*_CKSUM_*); the workers leave UDP checksums to the NIC
  // (RTE_MBUF_F_TX_UDP_CKSUM: the pseudo-header's sum in the field, l2_len and l3_len set),
  // and whoever drains the tx rings must finish them before the frames go anywhere (the test
  // harness does; the benchmark frees them). Refused for any other driver, whose frames would
  // leave with unfinished checksums.
  bool emulated_checksum_offload = false;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
};

struct DataplaneConfig {
  std::vector<PortConfig> ports;
  // The lcores that run workers (not the main lcore). Empty with `launch_workers = false`
  // means `workers` workers polled by the caller through poll_worker().
  std::vector<unsigned> worker_lcores;
  unsigned workers = 1;         // used when worker_lcores is empty
  bool launch_workers = true;   // false: tests and benchmarks call poll_worker() themselves
  crypto::Backend backend = crypto::Backend::ipsecmb;
  uint32_t mbufs = 16383;       // per pool; --no-huge machines need small pools
  uint32_t flows_per_worker = 65536;
  uint32_t punt_ring_size = 1024;     // per worker, to the control thread
  uint32_t control_ring_size = 4096;  // per worker, messages from the control thread
  uint16_t burst = 32;
  // Times each stage of every burst with the TSC (WorkerStats::stages): one TSC read at each of
  // a burst's eight stage boundaries, about a cycle a packet each at bursts of 32 on this
  // project's machines. Off, each boundary costs one predicted branch.
  bool stage_clock = false;
};

// A packet the workers punted to the control thread (STUN, DTLS, ARP, ICMP), with where it came
// from. The control thread owns the mbuf and must free or send it.
struct PuntedPacket {
  rte_mbuf* mbuf;
  uint16_t port_id;
};

class Dataplane {
 public:
  // Needs the EAL. Opens and starts the ports, creates pools, rings, flow tables and one crypto
  // engine per worker; launches the workers if asked. Fails with a reason naming the port or
  // resource at fault.
  static Result<std::unique_ptr<Dataplane>> create(const DataplaneConfig& config);
  ~Dataplane();  // stops workers, frees every flow (zeroizing keys), stops and closes ports

  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  // --- Flows (control thread) -----------------------------------------------------------
  // Derives the keys, checks the spec, and sends the flow to the worker that receives its
  // packets. Takes effect within one worker loop iteration. Fails without side effects on a
  // bad spec, a duplicate key, a full table or a full control ring.
  Result<void> install(const FlowSpec& spec);
  // Replaces a leg's master key; ROC and replay state carry over (RFC 3711 §3.3.1).
  Result<void> rekey(const FlowKey& key, std::optional<LegKey> inbound,
                     std::optional<LegKey> outbound);
  Result<void> remove(const FlowKey& key);
  bool contains(const FlowKey& key) const;
  std::size_t flow_count() const noexcept;
  std::optional<FlowStats> flow_stats(const FlowKey& key) const;
  // The worker a flow's packets reach (RSS: the queue the NIC's Toeplitz hash picks).
  unsigned worker_of(const FlowKey& key) const noexcept;

  // Frees flows the workers have let go of and collects their answers. Call it regularly (the
  // daemon's event loop does); install/remove/rekey call it too. Returns how many it reclaimed.
  std::size_t reclaim() noexcept;
  // Blocks until every message sent so far has been applied by its worker (tests, shutdown).
  // With launch_workers = false the caller must be polling the workers.
  void wait_applied();

  // --- Punted packets and control-thread transmit ----------------------------------------
  std::size_t receive_punted(std::span<PuntedPacket> out) noexcept;
  // Sends on the port's control tx queue; takes ownership of every mbuf (frees what the queue
  // refused) and returns how many were queued. A port with no tx queue to spare for the control
  // thread (one per worker only, like net_pcap) sends nothing while workers run on lcores.
  std::size_t send(uint16_t port_id, std::span<rte_mbuf*> mbufs) noexcept;
  // An mbuf from the pool of the port's socket for the control thread to fill.
  rte_mbuf* alloc_mbuf(uint16_t port_id) noexcept;

  // --- Workers ------------------------------------------------------------------------------
  unsigned worker_count() const noexcept;
  WorkerStats worker_stats(unsigned worker) const noexcept;
  WorkerStats total_stats() const noexcept;
  // One loop iteration of a worker: apply control messages, receive a burst on each of its
  // queues, process and transmit. For launch_workers = false. Returns packets received.
  std::size_t poll_worker(unsigned worker) noexcept;
  // Stops the worker lcores (they finish their current burst). Idempotent.
  void stop();

  // --- Ports ----------------------------------------------------------------------------------
  std::optional<uint16_t> port_id(std::string_view name) const noexcept;
  std::vector<uint16_t> port_ids() const;
  std::vector<PortDescription> describe_ports() const;

 private:
  struct Impl;
  explicit Dataplane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace srtpgate::dp
