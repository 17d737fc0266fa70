// A worker lcore: its flows, its queues, its counters, and one iteration of its loop.
// Internal to dataplane/. The path of one packet through poll_once() is in docs/architecture.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "flow_table.h"
#include "header_rewrite.h"
#include "srtpgate/crypto.h"
#include "srtpgate/dp/counters.h"
#include "srtpgate/dp/flow.h"
#include "srtpgate/session.h"

struct rte_mbuf;
struct rte_ring;

namespace srtpgate::dp::detail {

// A counter with one writer: the owner adds with a plain load and store (no locked
// read-modify-write on the fast path); any thread may read it at any time.
class Counter {
 public:
  void add(uint64_t n) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// A packet writes the first four (rx and tx packets and bytes); the drops are rare.
struct FlowCounters {
  Counter rx_packets;
  Counter rx_bytes;
  Counter tx_packets;
  Counter tx_bytes;
  Counter rtcp_packets;
  Counter drops[kDropCount];
};

// A flow as its worker sees it. The control thread builds it (keys derived, sessions bound to
// the worker's engine), hands it over in an install message, and frees it once the worker hands
// it back after removal. Between the two only the worker touches it, except the counters.
// With a million flows every line a packet touches is a miss: a packet reads line 0 (what to do,
// the sessions, and the counters it writes) and the egress template's line, nothing else.
struct alignas(64) Flow {
  Action action = Action::unprotect;
  // How the egress UDP checksum is made: by the egress port (offload), from the payload's sum
  // known at ingress (forward), or by summing the payload.
  UdpChecksum tx_udp_checksum = UdpChecksum::software;
  uint16_t tx_port = 0;
  // The largest UDP payload the egress port's MTU carries under this flow's IP and UDP headers.
  uint16_t max_payload = 0xffff;
  std::unique_ptr<srtp::Session> inbound;   // unprotect, transcrypt
  std::unique_ptr<srtp::Session> outbound;  // protect, transcrypt
  // Written by the worker, read by anyone; the packet and byte counters end line 0.
  FlowCounters counters;
  alignas(64) EgressTemplate egress;  // one line with an IPv4 next hop (header_rewrite.h)
  FlowKey key;  // the control thread's; the flow table's slot holds the copy lookups compare
};
static_assert(offsetof(Flow, counters) + offsetof(FlowCounters, rtcp_packets) <= 64,
              "a packet's part of a flow, with the counters it writes, must fit one line");

FlowStats snapshot(const FlowCounters& c) noexcept;

// Messages from the control thread to a worker, answered on the way back with the same object.
enum class MessageKind : uint8_t { install, remove, rekey };
struct ControlMessage {
  MessageKind kind = MessageKind::install;
  FlowKey key;
  // install: the new flow. remove: the flow the worker let go of (answer).
  Flow* flow = nullptr;
  // rekey: sessions holding the new keys; they come back holding the old ones.
  std::unique_ptr<srtp::Session> inbound;
  std::unique_ptr<srtp::Session> outbound;
  bool ok = false;  // the worker's answer
};

struct WorkerCounters {
  Counter rx_packets;
  Counter rx_bytes;
  Counter tx_packets;
  Counter tx_bytes;
  Counter punted;
  Counter polls;
  Counter busy_polls;
  Counter flows_added;
  Counter flows_removed;
  Counter messages;
  Counter drops[kDropCount];
  // The stage clock's (Setup::stage_clock): written only while it is on.
  Counter stage_cycles[kStageCount];
  Counter stage_bursts;
  Counter stage_packets;
};

struct RxQueue {
  uint16_t port_id;
  uint16_t queue;
};

class Worker {
 public:
  static constexpr unsigned kMaxBurst = 64;

  struct Setup {
    unsigned index = 0;
    uint16_t tx_queue = 0;  // the worker's own tx queue on every port
    uint16_t burst = 32;
    bool stage_clock = false;  // DataplaneConfig::stage_clock
    std::vector<RxQueue> rx;
    std::unique_ptr<FlowTable> table;
    std::shared_ptr<crypto::Engine> engine;
    rte_ring* control_in = nullptr;   // ControlMessage* from the control thread
    rte_ring* control_out = nullptr;  // answers
    rte_ring* punt = nullptr;         // rte_mbuf* to the control thread (mbuf->port: from where)
  };

  explicit Worker(Setup setup);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Apply pending control messages, then one burst from each rx queue. Returns packets received.
  std::size_t poll_once() noexcept;
  // Loops on poll_once() until `stop` is set; for rte_eal_remote_launch.
  void run(const std::atomic<bool>& stop) noexcept;

  WorkerStats stats() const noexcept;
  // The control thread calls mark_launched() before rte_eal_remote_launch and, after
  // rte_eal_wait_lcore, wait_finished() before it touches what the worker used.
  void mark_launched() noexcept { launched_.store(true, std::memory_order_release); }
  void wait_finished() const noexcept {
    while (!finished_.load(std::memory_order_acquire)) {
    }
  }
  const std::shared_ptr<crypto::Engine>& engine() const noexcept { return setup_.engine; }

 private:
  void apply_messages() noexcept;
  void apply(ControlMessage& m) noexcept;
  void process(rte_mbuf** pkts, unsigned n, uint16_t port_id) noexcept;
  void transmit(rte_mbuf** out, Flow** out_flow, const uint16_t* out_len,
                unsigned nout) noexcept;

  Setup setup_;
  std::atomic<bool> launched_{false};
  std::atomic<bool> finished_{false};
  alignas(64) WorkerCounters counters_;
};

}  // namespace srtpgate::dp::detail
