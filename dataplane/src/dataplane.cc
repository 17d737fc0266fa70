// The control thread's side of the dataplane: ports, workers and their rings, and the life of a
// flow from install (keys derived here, never on a worker) to retirement (freed here, once its
// worker has let go of it).
#include "srtpgate/dp/dataplane.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "flow_table.h"
#include "header_rewrite.h"
#include "port.h"
#include "rss_placement.h"
#include "tsan_annotations.h"
#include "worker.h"

namespace srtpgate::dp {

namespace {

// Rings, tables and pools have process-wide names; several dataplanes may live in one process
// (tests), one after another or side by side.
std::atomic<unsigned> g_instance{0};

constexpr uint16_t kMaxVlanId = 4094;  // 4095 is reserved (IEEE 802.1Q §9.6)

// Unused address bytes and the reserved bytes take part in the table's hash: make them zero.
FlowKey canonical(FlowKey k) noexcept {
  if (k.family == 4) {
    std::fill(k.local_addr.begin() + 4, k.local_addr.end(), 0);
    std::fill(k.remote_addr.begin() + 4, k.remote_addr.end(), 0);
  }
  k.reserved = {};
  return k;
}

}  // namespace

struct Dataplane::Impl {
  struct WorkerSlot {
    detail::RingPtr control_in;
    detail::RingPtr control_out;
    detail::RingPtr punt;
    std::unique_ptr<detail::Worker> worker;
    unsigned lcore = 0;
    uint32_t outstanding = 0;  // messages sent and not yet answered
    uint32_t flows = 0;        // flows installed or being installed
    bool running = false;      // launched on its lcore and not yet waited for
  };
  struct LiveFlow {
    std::unique_ptr<detail::Flow> flow;
    unsigned worker = 0;
  };

  DataplaneConfig config;
  unsigned instance = 0;
  detail::MempoolPtr pool;
  std::vector<std::unique_ptr<detail::Port>> ports;  // closed before the pool is freed
  std::vector<WorkerSlot> workers;
  std::shared_ptr<crypto::Engine> control_engine;  // derives keys on the control thread
  // Keyed like the workers' tables (an unkeyed hash of peer-chosen keys could be flooded);
  // given its keys in create().
  std::unordered_map<FlowKey, LiveFlow, detail::KeyedFlowHash> flows;
  std::unordered_map<detail::Flow*, std::unique_ptr<detail::Flow>> retiring;
  std::atomic<bool> stop{false};
  bool launched = false;

  const detail::PortInfo* port_info(uint16_t port_id) const noexcept {
    for (const auto& p : ports) {
      if (p->info().port_id == port_id) {
        return &p->info();
      }
    }
    return nullptr;
  }

  unsigned worker_of(const FlowKey& key) const noexcept {
    const unsigned n = static_cast<unsigned>(workers.size());
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const detail::PortInfo& info = ports[i]->info();
      if (info.port_id != key.port_id) {
        continue;
      }
      if (info.rss) {
        return detail::flow_rx_queue(info, key) % n;
      }
      return static_cast<unsigned>(i % n);  // the worker that polls this port's only queue
    }
    return 0;
  }

  Result<std::unique_ptr<srtp::Session>> make_session(const LegKey& leg, srtp::Direction dir,
                                                      const FlowSpec& spec, unsigned w) {
    srtp::SessionConfig c;
    c.profile = leg.profile;
    c.direction = dir;
    c.replay_window = spec.replay_window;
    c.max_streams = spec.max_streams;
    auto s = srtp::Session::create(control_engine, c, leg.key);
    if (!s) {
      return s.error();
    }
    auto bound = s.value()->bind_engine(workers[w].worker->engine());
    if (!bound) {
      return bound.error();
    }
    return std::move(s.value());
  }

  Result<std::unique_ptr<detail::Flow>> build_flow(const FlowSpec& spec, unsigned w) {
    const bool wants_in = spec.action == Action::unprotect || spec.action == Action::transcrypt;
    const bool wants_out = spec.action == Action::protect || spec.action == Action::transcrypt;
    const std::string action(name(spec.action));
    if (wants_in != spec.inbound.has_value()) {
      return make_error(wants_in ? "a " + action + " flow needs an inbound key"
                                 : "a " + action + " flow takes no inbound key");
    }
    if (wants_out != spec.outbound.has_value()) {
      return make_error(wants_out ? "a " + action + " flow needs an outbound key"
                                  : "a " + action + " flow takes no outbound key");
    }
    if (spec.key.family != 4 && spec.key.family != 6) {
      return make_error("the flow key's address family must be 4 or 6");
    }
    if (spec.key.vlan > kMaxVlanId) {
      return make_error("the flow key's VLAN id " + std::to_string(spec.key.vlan) +
                        " is out of range; use 0 for untagged or 1..4094");
    }
    if (port_info(spec.key.port_id) == nullptr) {
      return make_error("port " + std::to_string(spec.key.port_id) +
                        " is not a port of this dataplane");
    }
    const detail::PortInfo* egress = port_info(spec.next_hop.port_id);
    if (egress == nullptr) {
      return make_error("next hop port " + std::to_string(spec.next_hop.port_id) +
                        " is not a port of this dataplane");
    }
    auto tmpl = detail::build_egress_template(spec.next_hop, egress->mac);
    if (!tmpl) {
      return make_error("next hop: " + tmpl.message());
    }
    auto f = std::make_unique<detail::Flow>();
    f->key = canonical(spec.key);
    f->action = spec.action;
    f->tx_port = spec.next_hop.port_id;
    f->tx_udp_checksum = egress->tx_udp_checksum          ? detail::UdpChecksum::offload
                         : spec.action == Action::forward ? detail::UdpChecksum::software_known_sum
                                                          : detail::UdpChecksum::software;
    f->egress = tmpl.value();
    // RFC 791 / RFC 8200 §5: the MTU counts the IP header; the UDP header is 8 bytes.
    const unsigned headers = f->egress.l3_len + 8u;
    f->max_payload = static_cast<uint16_t>(egress->mtu > headers ? egress->mtu - headers : 0);
    if (wants_in) {
      auto s = make_session(*spec.inbound, srtp::Direction::inbound, spec, w);
      if (!s) {
        return make_error("inbound key: " + s.message());
      }
      f->inbound = std::move(s.value());
    }
    if (wants_out) {
      auto s = make_session(*spec.outbound, srtp::Direction::outbound, spec, w);
      if (!s) {
        return make_error("outbound key: " + s.message());
      }
      f->outbound = std::move(s.value());
    }
    return f;
  }

  // Hands a message to worker `w`, waiting for room if the worker is behind.
  Result<void> send(unsigned w, std::unique_ptr<detail::ControlMessage> msg) {
    WorkerSlot& slot = workers[w];
    const uint32_t capacity = rte_ring_get_capacity(slot.control_in.get());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (slot.outstanding >= capacity) {
      reclaim();
      if (slot.outstanding < capacity) {
        break;
      }
      if (!launched) {
        slot.worker->poll_once();  // the caller polls the workers: make progress ourselves
      } else if (std::chrono::steady_clock::now() > deadline) {
        return make_error("worker " + std::to_string(w) +
                          " is not taking control messages (ring full for 200 ms)");
      } else {
        std::this_thread::yield();
      }
    }
    if (rte_ring_sp_enqueue(slot.control_in.get(), msg.get()) != 0) {
      return make_error("the control ring of worker " + std::to_string(w) + " is full");
    }
    msg.release();  // owned by the ring until the answer comes back
    ++slot.outstanding;
    return {};
  }

  std::size_t reclaim() noexcept {
    std::size_t freed = 0;
    for (WorkerSlot& slot : workers) {
      void* answers[64];
      unsigned n = 0;
      while ((n = rte_ring_sc_dequeue_burst(slot.control_out.get(), answers, 64, nullptr)) != 0) {
        for (unsigned i = 0; i < n; ++i) {
          std::unique_ptr<detail::ControlMessage> m(
              static_cast<detail::ControlMessage*>(answers[i]));
          --slot.outstanding;
          switch (m->kind) {
            case detail::MessageKind::install:
              if (!m->ok) {
                // The worker's table refused it (full, or the key is there already): forget
                // the flow as if it had never been installed.
                auto it = flows.find(m->key);
                if (it != flows.end() && it->second.flow.get() == m->flow) {
                  --slot.flows;
                  flows.erase(it);
                  ++freed;
                }
              }
              break;
            case detail::MessageKind::remove:
              if (m->flow != nullptr && retiring.erase(m->flow) != 0) {
                ++freed;
              }
              break;
            case detail::MessageKind::rekey:
              break;  // the sessions in the message hold the old keys; freeing them zeroizes
          }
        }
      }
    }
    return freed;
  }
};

Dataplane::Dataplane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Dataplane>> Dataplane::create(const DataplaneConfig& config) {
  auto impl = std::make_unique<Impl>();
  const std::optional<detail::KeyedFlowHash> flow_hash = detail::KeyedFlowHash::random();
  if (!flow_hash) {
    return make_error("no random hash key from getrandom()");
  }
  impl->flows = decltype(impl->flows)(64, *flow_hash);
  impl->config = config;
  impl->instance = g_instance.fetch_add(1);
  const std::string prefix = "sg" + std::to_string(impl->instance) + "_";
  if (config.ports.empty()) {
    return make_error("the dataplane needs at least one port");
  }
  if (config.ports.size() > 32) {
    return make_error("at most 32 ports");
  }
  std::vector<unsigned> lcores = config.worker_lcores;
  const unsigned nworkers = lcores.empty() ? config.workers : static_cast<unsigned>(lcores.size());
  if (nworkers == 0 || nworkers > 64) {
    return make_error("the dataplane needs 1 to 64 workers");
  }
  if (config.launch_workers && lcores.empty()) {
    unsigned lc = rte_get_next_lcore(-1, 1, 0);
    while (lc < RTE_MAX_LCORE && lcores.size() < nworkers) {
      lcores.push_back(lc);
      lc = rte_get_next_lcore(lc, 1, 0);
    }
    if (lcores.size() < nworkers) {
      return make_error("EAL has " + std::to_string(lcores.size()) + " worker lcores, " +
                        std::to_string(nworkers) +
                        " workers asked for (give more with -l/--lcores)");
    }
  }
  for (std::size_t i = 0; i < lcores.size(); ++i) {
    const unsigned lc = lcores[i];
    if (lc == rte_get_main_lcore() || !rte_lcore_is_enabled(lc)) {
      return make_error("lcore " + std::to_string(lc) +
                        " is not an enabled worker lcore (the main lcore runs the control thread)");
    }
    if (std::find(lcores.begin(), lcores.begin() + static_cast<std::ptrdiff_t>(i), lc) !=
        lcores.begin() + static_cast<std::ptrdiff_t>(i)) {
      return make_error("lcore " + std::to_string(lc) + " is given to two workers");
    }
  }

  auto pool =
      detail::make_mbuf_pool(prefix + "mbufs", config.mbufs, static_cast<int>(rte_socket_id()));
  if (!pool) {
    return pool.error();
  }
  impl->pool = std::move(pool.value());

  for (const PortConfig& pc : config.ports) {
    auto id = detail::find_port(pc.name);
    if (!id) {
      return id.error();
    }
    rte_eth_dev_info dev{};
    if (rte_eth_dev_info_get(id.value(), &dev) != 0) {
      return make_error("port " + pc.name + ": cannot read its device information");
    }
    detail::PortSetup setup;
    setup.port_id = id.value();
    const bool spread = (pc.rss || pc.emulated_rss) && nworkers > 1;
    // net_af_packet opens one kernel socket per queue pair when it is probed, and the kernel
    // spreads received packets over all of them (PACKET_FANOUT) whatever we configure: every
    // one of its rx queues must be read, or the packets hashed to the others are lost.
    const bool kernel_fanout = std::string_view(dev.driver_name) == "net_af_packet";
    setup.rx_queues = spread          ? static_cast<uint16_t>(nworkers)
                      : kernel_fanout ? dev.max_rx_queues
                                      : uint16_t{1};
    // One tx queue per worker, so workers never share one, and one more for the control thread
    // where the device has it. A device with exactly one per worker (net_pcap has one) shares
    // the last with the control thread, which then transmits on it only while workers are
    // polled by the caller (see send()).
    if (dev.max_tx_queues < nworkers) {
      return make_error("port " + pc.name + " has " + std::to_string(dev.max_tx_queues) +
                        " tx queues; each of the " + std::to_string(nworkers) +
                        " workers needs its own");
    }
    setup.tx_queues = static_cast<uint16_t>(std::min<unsigned>(nworkers + 1, dev.max_tx_queues));
    setup.rx_descriptors = pc.rx_descriptors;
    setup.tx_descriptors = pc.tx_descriptors;
    setup.want_rss = pc.rss;
    setup.emulated_rss = pc.emulated_rss;
    setup.emulated_checksum_offload = pc.emulated_checksum_offload;
    setup.pool = impl->pool.get();
    auto port = detail::Port::open(setup);
    if (!port) {
      return make_error("port " + pc.name + ": " + port.message());
    }
    impl->ports.push_back(std::move(port.value()));
  }

  auto control_engine = crypto::make_engine(config.backend);
  if (!control_engine) {
    return control_engine.error();
  }
  impl->control_engine = control_engine.value();

  impl->workers.resize(nworkers);
  for (unsigned w = 0; w < nworkers; ++w) {
    const std::string wp = prefix + "w" + std::to_string(w) + "_";
    const int socket = lcores.empty() ? static_cast<int>(rte_socket_id())
                                      : static_cast<int>(rte_lcore_to_socket_id(lcores[w]));
    auto in = detail::make_spsc_ring(wp + "ctl", config.control_ring_size, socket);
    auto out = detail::make_spsc_ring(wp + "ans", config.control_ring_size, socket);
    auto punt = detail::make_spsc_ring(wp + "punt", config.punt_ring_size, socket);
    if (!in || !out || !punt) {
      return make_error("worker rings: " + (!in    ? in.message()
                                            : !out ? out.message()
                                                   : punt.message()));
    }
    auto table = detail::FlowTable::create(wp + "flows", config.flows_per_worker, socket);
    if (!table) {
      return make_error("flow table of worker " + std::to_string(w) + ": " + table.message());
    }
    auto engine = crypto::make_engine(config.backend);
    if (!engine) {
      return engine.error();
    }
    detail::Worker::Setup s;
    s.index = w;
    s.tx_queue = static_cast<uint16_t>(w);
    s.burst = config.burst;
    s.stage_clock = config.stage_clock;
    for (std::size_t i = 0; i < impl->ports.size(); ++i) {
      const detail::PortInfo& info = impl->ports[i]->info();
      if (info.rss) {
        // The queue a flow's packets reach decides its worker (worker_of).
        s.rx.push_back({info.port_id, static_cast<uint16_t>(w % info.rx_queues)});
      } else if (i % nworkers == w) {
        // Without RSS one worker owns the port and reads all of its queues.
        for (uint16_t q = 0; q < info.rx_queues; ++q) {
          s.rx.push_back({info.port_id, q});
        }
      }
    }
    s.table = std::move(table.value());
    s.engine = engine.value();
    s.control_in = in.value().get();
    s.control_out = out.value().get();
    s.punt = punt.value().get();
    Impl::WorkerSlot& slot = impl->workers[w];
    slot.control_in = std::move(in.value());
    slot.control_out = std::move(out.value());
    slot.punt = std::move(punt.value());
    slot.worker = std::make_unique<detail::Worker>(std::move(s));
    slot.lcore = lcores.empty() ? 0 : lcores[w];
  }

  auto dp = std::unique_ptr<Dataplane>(new Dataplane(std::move(impl)));
  if (config.launch_workers) {
    for (auto& slot : dp->impl_->workers) {
      slot.worker->mark_launched();
      const int rc = rte_eal_remote_launch(
          [](void* arg) -> int {
            auto* self = static_cast<Impl*>(arg);
            const unsigned me = rte_lcore_id();
            for (auto& sl : self->workers) {
              if (sl.lcore == me) {
                sl.worker->run(self->stop);
                return 0;  // touch nothing after run(): the control thread may free it all
              }
            }
            return 0;
          },
          dp->impl_.get(), slot.lcore);
      if (rc != 0) {
        dp->stop();  // waits for the workers launched before this one, and only for them
        return make_error("cannot launch a worker on lcore " + std::to_string(slot.lcore) +
                          " (is it busy?)");
      }
      slot.running = true;
      dp->impl_->launched = true;
    }
  }
  return dp;
}

Dataplane::~Dataplane() {
  stop();
  impl_->reclaim();
  // Workers are stopped: nothing touches the flows, tables or rings any more.
  for (auto& slot : impl_->workers) {
    void* m = nullptr;
    while (rte_ring_sc_dequeue(slot.control_in.get(), &m) == 0) {
      std::unique_ptr<detail::ControlMessage> msg(static_cast<detail::ControlMessage*>(m));
      if (msg->kind == detail::MessageKind::install) {
        msg->flow = nullptr;  // still owned by `flows`
      }
    }
    while (rte_ring_sc_dequeue(slot.punt.get(), &m) == 0) {
      rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    }
  }
  impl_->flows.clear();
  impl_->retiring.clear();
  impl_->workers.clear();
  impl_->ports.clear();
  impl_->pool.reset();
}

void Dataplane::stop() {
  impl_->stop.store(true);
  if (impl_->launched) {
    // Only workers that did start: one whose launch failed never finishes, and waiting for it
    // would hang.
    for (auto& slot : impl_->workers) {
      if (slot.running) {
        rte_eal_wait_lcore(slot.lcore);
        slot.worker->wait_finished();
        slot.running = false;
      }
    }
    impl_->launched = false;
  }
}

Result<void> Dataplane::install(const FlowSpec& spec) {
  impl_->reclaim();
  const FlowKey key = canonical(spec.key);
  if (impl_->flows.contains(key)) {
    return make_error("a flow is already installed for " + to_string(key));
  }
  const unsigned w = impl_->worker_of(key);
  Impl::WorkerSlot& slot = impl_->workers[w];
  if (slot.flows >= impl_->config.flows_per_worker) {
    return make_error("the flow table of worker " + std::to_string(w) + " is full (" +
                      std::to_string(impl_->config.flows_per_worker) + " flows)");
  }
  auto flow = impl_->build_flow(spec, w);
  if (!flow) {
    return flow.error();
  }
  auto msg = std::make_unique<detail::ControlMessage>();
  msg->kind = detail::MessageKind::install;
  msg->key = key;
  msg->flow = flow.value().get();
  auto sent = impl_->send(w, std::move(msg));
  if (!sent) {
    return sent;
  }
  ++slot.flows;
  impl_->flows.emplace(key, Impl::LiveFlow{std::move(flow.value()), w});
  return {};
}

Result<void> Dataplane::remove(const FlowKey& k) {
  impl_->reclaim();
  const FlowKey key = canonical(k);
  auto it = impl_->flows.find(key);
  if (it == impl_->flows.end()) {
    return make_error("no flow is installed for " + to_string(key));
  }
  const unsigned w = it->second.worker;
  auto msg = std::make_unique<detail::ControlMessage>();
  msg->kind = detail::MessageKind::remove;
  msg->key = key;
  auto sent = impl_->send(w, std::move(msg));
  if (!sent) {
    return sent;
  }
  --impl_->workers[w].flows;
  detail::Flow* raw = it->second.flow.get();
  impl_->retiring.emplace(raw, std::move(it->second.flow));
  impl_->flows.erase(it);
  return {};
}

Result<void> Dataplane::rekey(const FlowKey& k, std::optional<LegKey> inbound,
                              std::optional<LegKey> outbound) {
  impl_->reclaim();
  const FlowKey key = canonical(k);
  auto it = impl_->flows.find(key);
  if (it == impl_->flows.end()) {
    return make_error("no flow is installed for " + to_string(key));
  }
  if (!inbound && !outbound) {
    return make_error("rekey needs an inbound or an outbound key");
  }
  detail::Flow& f = *it->second.flow;
  const unsigned w = it->second.worker;
  auto msg = std::make_unique<detail::ControlMessage>();
  msg->kind = detail::MessageKind::rekey;
  msg->key = key;
  // A session's config never changes after creation, so reading it here races with nothing.
  const auto prepare = [&](const std::optional<LegKey>& leg, srtp::Session* live,
                           const char* which) -> Result<std::unique_ptr<srtp::Session>> {
    if (live == nullptr) {
      return make_error(std::string("this flow has no ") + which + " leg to rekey");
    }
    if (leg->profile != live->config().profile) {
      return make_error(std::string("the ") + which + " leg uses " +
                        std::string(srtp::name(live->config().profile)) +
                        "; changing the profile needs a new flow (remove, then install)");
    }
    auto s = srtp::Session::create(impl_->control_engine, live->config(), leg->key);
    if (!s) {
      return make_error(std::string(which) + " key: " + s.message());
    }
    auto bound = s.value()->bind_engine(impl_->workers[w].worker->engine());
    if (!bound) {
      return bound.error();
    }
    return std::move(s.value());
  };
  if (inbound) {
    auto s = prepare(inbound, f.inbound.get(), "inbound");
    if (!s) {
      return s.error();
    }
    msg->inbound = std::move(s.value());
  }
  if (outbound) {
    auto s = prepare(outbound, f.outbound.get(), "outbound");
    if (!s) {
      return s.error();
    }
    msg->outbound = std::move(s.value());
  }
  return impl_->send(w, std::move(msg));
}

bool Dataplane::contains(const FlowKey& key) const { return impl_->flows.contains(canonical(key)); }

std::size_t Dataplane::flow_count() const noexcept { return impl_->flows.size(); }

std::optional<FlowStats> Dataplane::flow_stats(const FlowKey& key) const {
  auto it = impl_->flows.find(canonical(key));
  if (it == impl_->flows.end()) {
    return std::nullopt;
  }
  return detail::snapshot(it->second.flow->counters);
}

unsigned Dataplane::worker_of(const FlowKey& key) const noexcept {
  return impl_->worker_of(canonical(key));
}

std::size_t Dataplane::reclaim() noexcept { return impl_->reclaim(); }

void Dataplane::wait_applied() {
  for (;;) {
    impl_->reclaim();
    bool pending = false;
    for (auto& slot : impl_->workers) {
      if (slot.outstanding != 0) {
        pending = true;
        if (!impl_->launched) {
          slot.worker->poll_once();
        }
      }
    }
    if (!pending) {
      return;
    }
    if (impl_->launched) {
      std::this_thread::yield();
    }
  }
}

std::size_t Dataplane::receive_punted(std::span<PuntedPacket> out) noexcept {
  std::size_t n = 0;
  for (auto& slot : impl_->workers) {
    while (n < out.size()) {
      void* m = nullptr;
      if (rte_ring_sc_dequeue(slot.punt.get(), &m) != 0) {
        break;
      }
      auto* mbuf = static_cast<rte_mbuf*>(m);
      detail::tsan_taken_over(mbuf);
      out[n++] = PuntedPacket{mbuf, mbuf->port};
    }
  }
  return n;
}

std::size_t Dataplane::send(uint16_t port_id, std::span<rte_mbuf*> mbufs) noexcept {
  if (mbufs.empty()) {
    return 0;
  }
  if (impl_->port_info(port_id) == nullptr) {
    rte_pktmbuf_free_bulk(mbufs.data(), static_cast<unsigned>(mbufs.size()));
    return 0;
  }
  auto queue = static_cast<uint16_t>(impl_->workers.size());  // the control thread's own
  if (queue >= impl_->port_info(port_id)->tx_queues) {
    if (impl_->launched) {  // shared with a running worker: never touch it from here
      rte_pktmbuf_free_bulk(mbufs.data(), static_cast<unsigned>(mbufs.size()));
      return 0;
    }
    queue = static_cast<uint16_t>(queue - 1);
  }
  const uint16_t sent =
      rte_eth_tx_burst(port_id, queue, mbufs.data(), static_cast<uint16_t>(mbufs.size()));
  if (sent != mbufs.size()) {
    rte_pktmbuf_free_bulk(mbufs.data() + sent, static_cast<unsigned>(mbufs.size() - sent));
  }
  return sent;
}

rte_mbuf* Dataplane::alloc_mbuf(uint16_t /*port_id*/) noexcept {
  return rte_pktmbuf_alloc(impl_->pool.get());
}

unsigned Dataplane::worker_count() const noexcept {
  return static_cast<unsigned>(impl_->workers.size());
}

WorkerStats Dataplane::worker_stats(unsigned worker) const noexcept {
  if (worker >= impl_->workers.size()) {
    return {};
  }
  return impl_->workers[worker].worker->stats();
}

WorkerStats Dataplane::total_stats() const noexcept {
  WorkerStats total;
  for (const auto& slot : impl_->workers) {
    total += slot.worker->stats();
  }
  return total;
}

std::size_t Dataplane::poll_worker(unsigned worker) noexcept {
  if (impl_->launched || worker >= impl_->workers.size()) {
    return 0;  // launched workers run on their own lcores
  }
  return impl_->workers[worker].worker->poll_once();
}

std::optional<uint16_t> Dataplane::port_id(std::string_view name) const noexcept {
  for (const auto& p : impl_->ports) {
    if (p->info().name == name) {
      return p->info().port_id;
    }
  }
  return std::nullopt;
}

std::vector<uint16_t> Dataplane::port_ids() const {
  std::vector<uint16_t> ids;
  for (const auto& p : impl_->ports) {
    ids.push_back(p->info().port_id);
  }
  return ids;
}

std::vector<PortDescription> Dataplane::describe_ports() const {
  std::vector<PortDescription> out;
  for (const auto& p : impl_->ports) {
    const detail::PortInfo& i = p->info();
    PortDescription d;
    d.port_id = i.port_id;
    d.name = i.name;
    d.driver = i.driver;
    d.rx_queues = i.rx_queues;
    d.tx_queues = i.tx_queues;
    d.rss = i.rss;
    d.mtu = i.mtu;
    d.rx_ip_checksum = i.rx_ip_checksum;
    d.rx_udp_checksum = i.rx_udp_checksum;
    d.tx_udp_checksum = i.tx_udp_checksum;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace srtpgate::dp
