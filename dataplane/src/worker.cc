// One worker's loop: control messages between bursts, then per burst the stages of
// docs/architecture.md: classify, punt, look up, one crypto submission per direction, rewrite,
// transmit. Nothing here allocates, locks, throws, or does a locked read-modify-write.
#include "worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <algorithm>

#include "frame_classifier.h"
#include "ones_sum.h"
#include "tsan_annotations.h"
#include "uninit_array.h"

namespace srtpgate::dp::detail {

namespace {

Drop drop_of(srtp::Status s) noexcept {
  switch (s) {
    case srtp::Status::auth_failure: return Drop::auth_failure;
    case srtp::Status::replay_old:
    case srtp::Status::replay_duplicate: return Drop::replay;
    case srtp::Status::no_stream:
    case srtp::Status::stream_limit: return Drop::stream_limit;
    case srtp::Status::unknown_mki: return Drop::unknown_mki;
    case srtp::Status::key_expired: return Drop::key_expired;
    case srtp::Status::no_tailroom: return Drop::no_tailroom;
    default: return Drop::srtp_malformed;
  }
}

ChecksumHint ip_hint(uint64_t ol) noexcept {
  switch (ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD: return ChecksumHint::good;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD: return ChecksumHint::bad;
    default: return ChecksumHint::unknown;
  }
}

// Without a NIC's verdict the UDP checksum is checked after the flow lookup, and only where it
// protects something: SRTP and SRTCP to unprotect carry an authentication tag over everything
// the checksum covers that matters (RFC 3711 §3.4); a corrupted address or port leads to no flow
// or to a key that fails the tag. Either way the damaged datagram is discarded and counted, as
// RFC 1122 §4.1.3.4 requires; only the counter differs.
// RTE_MBUF_F_RX_L4_CKSUM_NONE (GOOD and BAD both set) says the data is intact but the checksum
// field is not its checksum: virtio-net's VIRTIO_NET_HDR_F_NEEDS_CSUM, a local sender that left
// the sum to an offload and put only the pseudo-header's sum in the field. The data is accepted
// as good; the field must not be checked, nor used to derive a payload's sum (l4_field_valid).
ChecksumHint l4_hint(uint64_t ol) noexcept {
  switch (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
    case RTE_MBUF_F_RX_L4_CKSUM_NONE: return ChecksumHint::good;
    case RTE_MBUF_F_RX_L4_CKSUM_BAD: return ChecksumHint::bad;
    default: return ChecksumHint::deferred;
  }
}

bool l4_unchecked(uint64_t ol) noexcept {
  return (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN;
}

bool l4_field_valid(uint64_t ol) noexcept {
  return (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_NONE;
}

// The stage clock (Setup::stage_clock): each lap adds the TSC cycles since the last one to a
// stage's counter. Off, a lap is one predicted branch.
class StageLaps {
 public:
  StageLaps(bool on, WorkerCounters& counters) noexcept
      : on_(on), counters_(counters), last_(on ? rte_rdtsc() : 0) {}
  void lap(Stage s) noexcept {
    if (on_) {
      const uint64_t now = rte_rdtsc();
      counters_.stage_cycles[static_cast<std::size_t>(s)].add(now - last_);
      last_ = now;
    }
  }

 private:
  bool on_;
  WorkerCounters& counters_;
  uint64_t last_;
};

}  // namespace

FlowStats snapshot(const FlowCounters& c) noexcept {
  FlowStats s;
  s.rx_packets = c.rx_packets.get();
  s.rx_bytes = c.rx_bytes.get();
  s.tx_packets = c.tx_packets.get();
  s.tx_bytes = c.tx_bytes.get();
  s.rtcp_packets = c.rtcp_packets.get();
  for (std::size_t i = 0; i < kDropCount; ++i) {
    s.drops[i] = c.drops[i].get();
  }
  return s;
}

Worker::Worker(Setup setup) : setup_(std::move(setup)) {
  setup_.burst = std::clamp<uint16_t>(setup_.burst, 1, kMaxBurst);
}

Worker::~Worker() = default;

WorkerStats Worker::stats() const noexcept {
  WorkerStats s;
  s.rx_packets = counters_.rx_packets.get();
  s.rx_bytes = counters_.rx_bytes.get();
  s.tx_packets = counters_.tx_packets.get();
  s.tx_bytes = counters_.tx_bytes.get();
  s.punted = counters_.punted.get();
  s.polls = counters_.polls.get();
  s.busy_polls = counters_.busy_polls.get();
  // The two counters are read one after the other while the worker may apply messages: an
  // add and a remove in between could make `removed` pass the `added` read first, and the
  // difference wrap to about 2^64. Removed is read first, and the difference held at 0.
  const uint64_t removed = counters_.flows_removed.get();
  const uint64_t added = counters_.flows_added.get();
  s.flows = added >= removed ? added - removed : 0;
  s.messages = counters_.messages.get();
  for (std::size_t i = 0; i < kDropCount; ++i) {
    s.drops[i] = counters_.drops[i].get();
  }
  for (std::size_t i = 0; i < kStageCount; ++i) {
    s.stages.cycles[i] = counters_.stage_cycles[i].get();
  }
  s.stages.bursts = counters_.stage_bursts.get();
  s.stages.packets = counters_.stage_packets.get();
  s.stages.tsc_hz = setup_.stage_clock ? rte_get_tsc_hz() : 0;
  return s;
}

void Worker::apply(ControlMessage& m) noexcept {
  FlowTable& table = *setup_.table;
  switch (m.kind) {
    case MessageKind::install:
      m.ok = table.add(m.key, m.flow);
      if (m.ok) {
        counters_.flows_added.add(1);
      }
      break;
    case MessageKind::remove:
      m.flow = static_cast<Flow*>(table.remove(m.key));
      m.ok = m.flow != nullptr;
      if (m.ok) {
        counters_.flows_removed.add(1);
      }
      break;
    case MessageKind::rekey: {
      // The control thread derived the new keys; swapping them in moves no stream state, so
      // the ROC and replay window carry over (RFC 3711 §3.3.1) and no packet waits.
      auto* f = static_cast<Flow*>(table.find(m.key));
      m.ok = f != nullptr;
      if (m.ok && m.inbound) {
        m.ok = f->inbound && f->inbound->swap_keys(*m.inbound);
      }
      if (m.ok && m.outbound) {
        m.ok = f->outbound && f->outbound->swap_keys(*m.outbound);
      }
      break;
    }
  }
}

void Worker::apply_messages() noexcept {
  // Answers go back on a ring as large as the one messages come in on, and the control thread
  // never has more messages outstanding than that: an answer always finds room.
  void* msgs[32];
  const unsigned n = rte_ring_sc_dequeue_burst(setup_.control_in, msgs, 32, nullptr);
  if (n == 0) {
    return;
  }
  for (unsigned i = 0; i < n; ++i) {
    apply(*static_cast<ControlMessage*>(msgs[i]));
  }
  rte_ring_sp_enqueue_burst(setup_.control_out, msgs, n, nullptr);
  counters_.messages.add(n);
}

std::size_t Worker::poll_once() noexcept {
  apply_messages();
  counters_.polls.add(1);
  std::size_t total = 0;
  rte_mbuf* pkts[kMaxBurst];
  for (const RxQueue& q : setup_.rx) {
    const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, setup_.burst);
    for (uint16_t i = 0; i < n; ++i) {
      tsan_taken_over(pkts[i]);
    }
    if (n != 0) {
      process(pkts, n, q.port_id);
      total += n;
    }
  }
  if (total != 0) {
    counters_.busy_polls.add(1);
  }
  return total;
}

void Worker::run(const std::atomic<bool>& stop) noexcept {
  // EAL's launch and wait synchronise too, but inside librte_eal where ThreadSanitizer cannot
  // see it; these two make the hand-over explicit.
  (void)launched_.load(std::memory_order_acquire);
  while (!stop.load(std::memory_order_relaxed)) {
    if (poll_once() == 0) {
      rte_pause();
    }
  }
  finished_.store(true, std::memory_order_release);
}

void Worker::process(rte_mbuf** pkts, unsigned n, uint16_t port_id) noexcept {
  StageLaps clock(setup_.stage_clock, counters_);
  if (setup_.stage_clock) {
    counters_.stage_bursts.add(1);
    counters_.stage_packets.add(n);
  }
  // --- Stage 1: classify. Drops are counted and freed at once; STUN, DTLS, ARP and ICMP go to
  // the control thread; RTP and RTCP stay. --------------------------------------------------
  UninitArray<ParsedFrame, kMaxBurst> pf;
  const FlowKey* keys[kMaxBurst];
  rte_mbuf* fast[kMaxBurst];
  rte_mbuf* punt[kMaxBurst];
  unsigned nfast = 0;
  unsigned npunt = 0;
  uint64_t rx_bytes = 0;
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    // Not every PMD stamps the port (ring ports do not); the control thread relies on it.
    m->port = port_id;
    rx_bytes += m->pkt_len;
    ParsedFrame& p = pf[nfast];
    if (m->nb_segs != 1) {
      // Chained mbufs only come from jumbo frames; RTP never needs them.
      p.kind = FrameKind::drop;
      p.drop = Drop::frame_malformed;
    } else {
      classify_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, port_id,
                     ip_hint(m->ol_flags), l4_hint(m->ol_flags), p);
      // The UDP checksum of RTP and RTCP waits for the flow lookup (stage 3); what goes to the
      // control thread is checked here.
      if ((p.kind == FrameKind::stun || p.kind == FrameKind::dtls) && l4_unchecked(m->ol_flags) &&
          !udp_checksum_ok(rte_pktmbuf_mtod(m, const uint8_t*), p)) {
        p.kind = FrameKind::drop;
        p.drop = Drop::udp_checksum;
      }
    }
    switch (p.kind) {
      case FrameKind::rtp:
      case FrameKind::rtcp:
        keys[nfast] = &p.key;
        fast[nfast++] = m;
        break;
      case FrameKind::stun:
      case FrameKind::dtls:
      case FrameKind::control:
        punt[npunt++] = m;
        break;
      case FrameKind::drop:
        counters_.drops[static_cast<std::size_t>(p.drop)].add(1);
        rte_pktmbuf_free(m);
        break;
    }
  }
  counters_.rx_packets.add(n);
  counters_.rx_bytes.add(rx_bytes);

  if (npunt != 0) {
    for (unsigned i = 0; i < npunt; ++i) {
      tsan_handed_over(punt[i]);
    }
    const unsigned queued =
        rte_ring_sp_enqueue_burst(setup_.punt, reinterpret_cast<void**>(punt), npunt, nullptr);
    counters_.punted.add(queued);
    if (queued != npunt) {
      counters_.drops[static_cast<std::size_t>(Drop::punt_full)].add(npunt - queued);
      rte_pktmbuf_free_bulk(punt + queued, npunt - queued);
    }
  }
  clock.lap(Stage::classify);
  if (nfast == 0) {
    return;
  }

  // --- Stage 2: look up every flow in one bulk call. ------------------------------------------
  void* found[kMaxBurst];
  setup_.table->lookup_bulk(keys, nfast, found);
  // With many flows each one is a cache miss, and so is every link behind it: start the flows
  // (line 0, with the counters that are written, and the egress line) for the whole burst, then
  // the sessions they point to, before the first is used. The library stages the rest
  // (session.cc).
  for (unsigned j = 0; j < nfast; ++j) {
    if (found[j] != nullptr) {
      const auto* f = static_cast<const Flow*>(found[j]);
      rte_prefetch0(f);
      rte_prefetch0(&f->egress);  // all of an IPv4 template (header_rewrite.h)
    }
  }
  for (unsigned j = 0; j < nfast; ++j) {
    if (found[j] != nullptr) {
      const auto* f = static_cast<const Flow*>(found[j]);
      rte_prefetch0(f->inbound ? f->inbound.get() : f->outbound.get());
    }
  }
  clock.lap(Stage::lookup);

  // --- Stage 3: crypto. All RTP to unprotect (unprotect and the first half of transcrypt)
  // goes to the library in one submission, then all RTP to protect; RTCP, a few packets per
  // second per call, goes one packet at a time. ----------------------------------------------
  Flow* flow[kMaxBurst];
  UninitArray<srtp::PacketView, kMaxBurst> view;
  bool alive[kMaxBurst];
  srtp::Session* sess[kMaxBurst];
  UninitArray<srtp::PacketView, kMaxBurst> batch;
  srtp::Status status[kMaxBurst];
  uint8_t slot[kMaxBurst];
  uint16_t payload_sum[kMaxBurst];  // forward flows only
  unsigned nbatch = 0;
  unsigned nprotect = 0;  // RTP of protect and transcrypt flows: the second submission

  const auto drop = [&](unsigned j, Drop why) {
    alive[j] = false;
    counters_.drops[static_cast<std::size_t>(why)].add(1);
    if (flow[j] != nullptr) {
      flow[j]->counters.drops[static_cast<std::size_t>(why)].add(1);
    }
  };

  for (unsigned j = 0; j < nfast; ++j) {
    Flow* f = static_cast<Flow*>(found[j]);
    flow[j] = f;
    alive[j] = true;
    if (f == nullptr) {
      drop(j, Drop::no_session);
      continue;
    }
    // Counted received before any drop, so a flow's rx_packets is its tx_packets plus its drops.
    f->counters.rx_packets.add(1);
    f->counters.rx_bytes.add(pf[j].payload_len);
    rte_mbuf* m = fast[j];
    uint8_t* payload = rte_pktmbuf_mtod(m, uint8_t*) + pf[j].payload_offset;
    const auto* buf = static_cast<uint8_t*>(m->buf_addr);
    // The egress headers go in front of the payload; RX headroom plus the ingress headers
    // always leave room, but a driver's odd data offset must not let us write before the buffer.
    if (payload - buf < f->egress.len) {
      drop(j, Drop::frame_malformed);
      continue;
    }
    const bool srtp_in = f->action == Action::unprotect || f->action == Action::transcrypt;
    if (!srtp_in) {
      const auto* frame = rte_pktmbuf_mtod(m, const uint8_t*);
      if (l4_unchecked(m->ol_flags) && !udp_checksum_ok(frame, pf[j])) {
        drop(j, Drop::udp_checksum);
        continue;
      }
      // A forwarded payload leaves as it came: its sum for the egress UDP checksum is read
      // from the verified ingress checksum, and stage 4 does not read the payload again.
      if (f->tx_udp_checksum == UdpChecksum::software_known_sum) {
        payload_sum[j] = l4_field_valid(m->ol_flags)
                             ? payload_sum_of_verified(frame, pf[j])
                             : ones_sum(payload, pf[j].payload_len);
      }
    }
    // Built once in registers and copied to both arrays: reading view[j] back as one 16-byte
    // load right after its two 8-byte stores stalled on store forwarding (a quarter of this
    // function's time at one session).
    const srtp::PacketView v{payload, pf[j].payload_len,
                             static_cast<uint32_t>(buf + m->buf_len - payload)};
    view[j] = v;
    if (pf[j].kind == FrameKind::rtcp) {
      f->counters.rtcp_packets.add(1);
      srtp::Status st = srtp::Status::ok;
      if (f->inbound && (f->action == Action::unprotect || f->action == Action::transcrypt)) {
        f->inbound->unprotect_rtcp({&view[j], 1}, {&st, 1});
      }
      if (st == srtp::Status::ok && f->outbound &&
          (f->action == Action::protect || f->action == Action::transcrypt)) {
        f->outbound->protect_rtcp({&view[j], 1}, {&st, 1});
      }
      if (st != srtp::Status::ok) {
        drop(j, drop_of(st));
      }
      continue;
    }
    if (f->action == Action::unprotect || f->action == Action::transcrypt) {
      sess[nbatch] = f->inbound.get();
      batch[nbatch] = v;
      slot[nbatch++] = static_cast<uint8_t>(j);
    }
    nprotect += f->action == Action::protect || f->action == Action::transcrypt;
  }
  clock.lap(Stage::prepare);
  // A batch's outcome goes back to its packets: a drop with its reason, or the new view.
  const auto take_results = [&] {
    for (unsigned b = 0; b < nbatch; ++b) {
      const unsigned j = slot[b];
      if (status[b] != srtp::Status::ok) {
        drop(j, drop_of(status[b]));
      } else {
        view[j] = batch[b];
      }
    }
  };
  if (nbatch != 0) {
    srtp::unprotect_rtp_burst({sess, nbatch}, {batch.data(), nbatch}, {status, nbatch});
    take_results();
  }
  clock.lap(Stage::unprotect);
  nbatch = 0;
  if (nprotect != 0) {  // a burst only to unprotect skips the pass
    for (unsigned j = 0; j < nfast; ++j) {
      if (alive[j] && pf[j].kind == FrameKind::rtp &&
          (flow[j]->action == Action::protect || flow[j]->action == Action::transcrypt)) {
        sess[nbatch] = flow[j]->outbound.get();
        batch[nbatch] = view[j];
        slot[nbatch++] = static_cast<uint8_t>(j);
      }
    }
  }
  clock.lap(Stage::prepare);
  if (nbatch != 0) {
    srtp::protect_rtp_burst({sess, nbatch}, {batch.data(), nbatch}, {status, nbatch});
    take_results();
  }
  clock.lap(Stage::protect);

  // --- Stage 4: rewrite to the next hop, then one tx burst per egress port. A transmitted
  // mbuf belongs to the driver at once, so everything the counters need is taken before. ----
  rte_mbuf* out[kMaxBurst];
  Flow* out_flow[kMaxBurst];
  uint16_t out_len[kMaxBurst];  // payload bytes
  unsigned nout = 0;
  for (unsigned j = 0; j < nfast; ++j) {
    rte_mbuf* m = fast[j];
    if (!alive[j]) {
      rte_pktmbuf_free(m);
      continue;
    }
    Flow* f = flow[j];
    const EgressTemplate& e = f->egress;
    const auto len = static_cast<uint16_t>(view[j].len);
    // Protect adds a tag and an IPv4-to-IPv6 next hop 20 header bytes: a packet that no longer
    // fits the egress MTU would leave with DF set and vanish further on, uncounted.
    if (len > f->max_payload) {
      drop(j, Drop::mtu_exceeded);
      rte_pktmbuf_free(m);
      continue;
    }
    const UdpChecksum mode = f->tx_udp_checksum;
    uint8_t* frame = write_egress_headers(
        e, view[j].data, len, mode, mode == UdpChecksum::software_known_sum ? payload_sum[j] : 0);
    m->data_off = static_cast<uint16_t>(frame - static_cast<uint8_t*>(m->buf_addr));
    m->data_len = static_cast<uint16_t>(e.len + len);
    m->pkt_len = m->data_len;
    // The receive flags go, but not the two that say whose buffer this is: an mbuf a driver
    // attached to an external buffer (mlx5's multi-packet rx queues) is freed through that
    // buffer's owner only while RTE_MBUF_F_EXTERNAL is set (rte_pktmbuf_prefree_seg).
    const uint64_t kept = m->ol_flags & (RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT);
    if (mode == UdpChecksum::offload) {
      m->ol_flags = kept | RTE_MBUF_F_TX_UDP_CKSUM |
                    (e.ip_version == 4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6);
      // The lengths in one store of the whole tx_offload word: l2_len and l3_len are
      // bit-fields of it, and setting them one by one reads the word back right after a
      // one-byte store, a store-forwarding stall that cost a quarter of this function's time.
      m->tx_offload = rte_mbuf_tx_offload(e.l2_len, e.l3_len, 0, 0, 0, 0, 0);
    } else {
      m->ol_flags = kept;
    }
    out[nout] = m;
    out_flow[nout] = f;
    out_len[nout++] = len;
  }
  clock.lap(Stage::rewrite);
  transmit(out, out_flow, out_len, nout);
  clock.lap(Stage::transmit);
}

void Worker::transmit(rte_mbuf** out, Flow** out_flow, const uint16_t* out_len,
                      unsigned nout) noexcept {
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  // Sends `count` packets on `port`; packet c of the group is packet member(c) of the burst.
  const auto send = [&](uint16_t port, rte_mbuf** group, unsigned count, auto member) {
    for (unsigned c = 0; c < count; ++c) {
      tsan_handed_over(group[c]);
    }
    const uint16_t sent = rte_eth_tx_burst(port, setup_.tx_queue, group, count);
    for (unsigned c = 0; c < count; ++c) {
      const unsigned k = member(c);
      Flow* f = out_flow[k];
      if (c < sent) {
        f->counters.tx_packets.add(1);
        f->counters.tx_bytes.add(out_len[k]);
        tx_bytes += out_len[k] + f->egress.len;
      } else {
        f->counters.drops[static_cast<std::size_t>(Drop::tx_full)].add(1);
      }
    }
    tx_packets += sent;
    if (sent != count) {
      counters_.drops[static_cast<std::size_t>(Drop::tx_full)].add(count - sent);
      rte_pktmbuf_free_bulk(group + sent, count - sent);
    }
  };

  // Almost always every packet of a burst leaves by one port: the burst then goes as it is.
  bool one_port = true;
  for (unsigned k = 1; k < nout; ++k) {
    one_port &= out_flow[k]->tx_port == out_flow[0]->tx_port;
  }
  if (one_port) {
    if (nout != 0) {
      send(out_flow[0]->tx_port, out, nout, [](unsigned c) { return c; });
    }
  } else {
    rte_mbuf* group[kMaxBurst];
    uint8_t member[kMaxBurst];
    bool done[kMaxBurst] = {};
    for (unsigned first = 0; first < nout; ++first) {
      if (done[first]) {
        continue;
      }
      // Gather this port's packets in burst order.
      const uint16_t port = out_flow[first]->tx_port;
      unsigned count = 0;
      for (unsigned k = first; k < nout; ++k) {
        if (!done[k] && out_flow[k]->tx_port == port) {
          done[k] = true;
          member[count] = static_cast<uint8_t>(k);
          group[count++] = out[k];
        }
      }
      send(port, group, count, [&member](unsigned c) { return unsigned{member[c]}; });
    }
  }
  counters_.tx_packets.add(tx_packets);
  counters_.tx_bytes.add(tx_bytes);
}

}  // namespace srtpgate::dp::detail
