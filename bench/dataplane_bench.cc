// srtpgate-dp-bench: packets per second through one worker (rx burst to tx burst) on in-process
// ring ports, every profile, 172-byte and 1212-byte RTP, 1 / 10k / 1M sessions, beside the
// baselines measured in the same run:
//   io_forward        DPDK io-forwarding on the same ports: rx burst, tx burst, nothing else;
//   crypto_only_*     the SRTP core library's own burst rate on the same packets (burst 32);
//   memory_random_line  what a cache line of session state costs when no cache holds it, the
//                     unit of the million-session case (random_line_baseline.h).
// Names: dp_unprotect/PROFILE/RTP_BYTES/SESSIONS, dp_protect/..., crypto_only_{un}protect/
// PROFILE/RTP_BYTES, io_forward/RTP_BYTES. items_per_second is packets per second.
// dp_offload_{un}protect/PROFILE/RTP_BYTES/1 and dp_offload_forward/RTP_BYTES/1: the same worker
// on ports that play a NIC with checksum offload (PortConfig::emulated_checksum_offload), as on
// a server: received frames come marked checked, and the worker leaves each UDP checksum to the
// NIC. The work the NIC then does is not timed, as a NIC's is not on a server.
// paired_{un}protect/PROFILE/RTP_BYTES and paired_offload_{un}protect/PROFILE/RTP_BYTES: one
// session through the worker and the crypto-only loop in alternating blocks of one run, for the
// one-session target's ratio (counters `ratio`, `ratio_p10`, `ratio_p90`, `dp_pps`,
// `crypto_pps`; see bm_paired).
// stages_{un}protect/PROFILE/172 and stages_forward/172: the one-session worker with its stage
// clock on (DataplaneConfig::stage_clock): TSC cycles per packet in each stage of the burst,
// beside the SRTP core's own (see bm_stage_clock).
//
// Only the worker's loop iteration is timed (manual time): the generator that makes and
// enqueues the frames, and the sink that frees what was sent, run between timed sections.
// Every session of a run shares one master key, and each round sends packet index r to every
// flow in a fixed random order, so the flows' replay windows see fresh indices and the table
// and session state are visited as traffic from many calls visits them.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <string_view>
#include <thread>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "header_rewrite.h"
#include "port.h"
#include "random_line_baseline.h"
#include "srtpgate/dp/dataplane.h"
#include "srtpgate/dp/eal.h"
#include "srtpgate/session.h"

namespace srtpgate::bench {
namespace {

using dp::detail::EgressTemplate;
using srtp::Profile;
using Clock = std::chrono::steady_clock;

constexpr unsigned kBurst = 32;
constexpr uint32_t kRtpBytes[] = {172, 1212};  // 12-byte header + G.711 20 ms / video payload
constexpr uint32_t kSessions[] = {1, 10000, 1000000};

dp::IpAddress ipv4(uint32_t host_order) {
  dp::IpAddress a;
  a.family = 4;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

// Flow n: 198.18.0.1:5004 <- 198.19.(n>>8).(n&255):(1024 + n>>16). All in 198.18.0.0/15.
dp::FlowKey flow_key(uint16_t port, uint32_t n) {
  return dp::make_flow_key(port, ipv4(0xC6120001), 5004, ipv4(0xC6130000 | (n & 0xffff)),
                           static_cast<uint16_t>(1024 + (n >> 16)));
}

srtp::MasterKey bench_key(Profile p) {
  const auto pp = srtp::params(p);
  std::vector<uint8_t> ks(std::size_t{pp.master_key_len} + pp.master_salt_len);
  std::iota(ks.begin(), ks.end(), uint8_t{0x40});
  return srtp::MasterKey::from_concatenated(p, ks).value();
}

// Ring ports, a polled one-worker dataplane with `sessions` flows, and the traffic generator.
class Rig {
 public:
  static std::unique_ptr<Rig> make(dp::Action action, Profile profile, uint32_t sessions,
                                   bool checksum_offload, bool stage_clock, std::string& error) {
    auto r = std::unique_ptr<Rig>(new Rig());
    r->action_ = action;
    r->checksum_offload_ = checksum_offload;
    r->profile_ = profile;
    r->sessions_ = sessions;
    static unsigned instance = 0;
    const std::string id = std::to_string(instance++);
    const int socket = static_cast<int>(rte_socket_id());
    auto pool = dp::detail::make_mbuf_pool("bpool" + id, 8191, socket);
    auto in = dp::detail::make_ring_port("bin" + id, 1, 2, 1024, socket);
    auto out = dp::detail::make_ring_port("bout" + id, 1, 2, 1024, socket);
    if (!pool || !in || !out) {
      error = "ring ports: " + (!pool ? pool.message() : !in ? in.message() : out.message());
      return nullptr;
    }
    r->pool_ = std::move(pool.value());
    r->in_ = std::move(in.value());
    r->out_ = std::move(out.value());
    dp::DataplaneConfig c;
    dp::PortConfig pin;
    pin.name = "net_ring_bin" + id;
    pin.emulated_checksum_offload = checksum_offload;
    dp::PortConfig pout;
    pout.name = "net_ring_bout" + id;
    pout.emulated_checksum_offload = checksum_offload;
    c.ports = {pin, pout};
    c.workers = 1;
    c.launch_workers = false;
    c.stage_clock = stage_clock;
    c.mbufs = 4095;
    c.flows_per_worker = std::max<uint32_t>(sessions, 16);
    auto d = dp::Dataplane::create(c);
    if (!d) {
      error = "Dataplane::create: " + d.message();
      return nullptr;
    }
    r->dp_ = std::move(d.value());

    const srtp::MasterKey key = bench_key(profile);
    r->templates_.resize(sessions);
    for (uint32_t n = 0; n < sessions; ++n) {
      dp::FlowSpec s;
      s.key = flow_key(r->in_->port_id, n);
      s.action = action;
      if (action == dp::Action::unprotect) {
        s.inbound = dp::LegKey{profile, key};
      } else if (action == dp::Action::protect) {
        s.outbound = dp::LegKey{profile, key};
      }
      s.replay_window = 64;
      s.max_streams = 1;
      s.next_hop.port_id = r->out_->port_id;
      s.next_hop.dst_mac = {0x02, 0, 0, 0, 0, 2};
      s.next_hop.src_addr = ipv4(0xC6120002);
      s.next_hop.src_port = 6000;
      s.next_hop.dst_addr = ipv4(0xC6120003);
      s.next_hop.dst_port = static_cast<uint16_t>(7000 + n % 1000);
      auto ok = r->dp_->install(s);
      if (!ok) {
        error = "install: " + ok.message();
        return nullptr;
      }
      // The peer's frame headers toward us.
      dp::NextHop peer;
      peer.port_id = r->in_->port_id;
      peer.dst_mac = {0x02, 0, 0, 0, 0, 1};
      peer.src_addr = ipv4(0xC6130000 | (n & 0xffff));
      peer.src_port = static_cast<uint16_t>(1024 + (n >> 16));
      peer.dst_addr = ipv4(0xC6120001);
      peer.dst_port = 5004;
      r->templates_[n] = dp::detail::build_egress_template(peer, {0x02, 0, 0, 0, 0, 3}).value();
    }
    r->dp_->wait_applied();
    r->order_.resize(sessions);
    std::iota(r->order_.begin(), r->order_.end(), 0u);
    std::shuffle(r->order_.begin(), r->order_.end(), std::mt19937(7));

    auto engine = crypto::make_engine(crypto::Backend::ipsecmb);
    srtp::SessionConfig sc;
    sc.profile = profile;
    sc.allow_repeat_tx = true;
    r->sender_ = srtp::Session::create(engine.value(), sc, key).value();
    return r;
  }

  ~Rig() {
    dp_.reset();
    for (auto* p : {in_.get(), out_.get()}) {
      for (auto& ring : p->rx_rings) drain(ring.get());
      for (auto& ring : p->tx_rings) drain(ring.get());
    }
  }

  // Makes the packet of round `round` (sequence number = round), SRTP for unprotect flows.
  void make_packet(uint32_t rtp_bytes, uint64_t round) {
    packet_.assign(rtp_bytes + 64, 0xa5);
    packet_[0] = 0x80;
    packet_[1] = 0;  // PCMU
    packet_[2] = static_cast<uint8_t>(round >> 8);
    packet_[3] = static_cast<uint8_t>(round);
    packet_[8] = 0x12;  // SSRC 0x12345678
    packet_[9] = 0x34;
    packet_[10] = 0x56;
    packet_[11] = 0x78;
    srtp::PacketView v{packet_.data(), rtp_bytes, static_cast<uint32_t>(packet_.size())};
    if (action_ == dp::Action::unprotect) {
      srtp::Status st{};
      sender_->protect_rtp({&v, 1}, {&st, 1});
    }
    packet_len_ = v.len;
  }

  // Enqueues one burst of frames on the ingress port's rx ring.
  bool generate(uint32_t rtp_bytes) {
    rte_mbuf* m[kBurst];
    if (rte_pktmbuf_alloc_bulk(pool_.get(), m, kBurst) != 0) {
      return false;
    }
    for (unsigned k = 0; k < kBurst; ++k) {
      const uint64_t round = position_ / sessions_;
      if (round != packet_round_ || packet_.empty()) {
        make_packet(rtp_bytes, round);
        packet_round_ = round;
      }
      const EgressTemplate& t = templates_[order_[position_ % sessions_]];
      ++position_;
      auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m[k], t.len + packet_len_));
      std::memcpy(d + t.len, packet_.data(), packet_len_);
      dp::detail::write_egress_headers(t, d + t.len, static_cast<uint16_t>(packet_len_),
                                       dp::detail::UdpChecksum::software);
      if (checksum_offload_) {  // what a NIC's driver says of a frame whose sums it checked
        m[k]->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
      }
    }
    return rte_ring_enqueue_bulk(in_->rx_rings[0].get(), reinterpret_cast<void**>(m), kBurst,
                                 nullptr) == kBurst;
  }

  // Frees what the worker transmitted; returns how many.
  unsigned sink() {
    unsigned total = 0;
    for (auto& ring : out_->tx_rings) total += drain(ring.get());
    return total;
  }

  // One burst through the worker: generated and freed untimed, the worker's polls timed.
  // Seconds, or a negative value when the generator ran out of mbufs or ring; adds what went
  // out to `sent`.
  double timed_burst(uint32_t rtp_bytes, uint64_t& sent) {
    if (!generate(rtp_bytes)) return -1.0;
    const auto t0 = Clock::now();
    while (rte_ring_count(rx_ring()) != 0) {
      dp_->poll_worker(0);
    }
    const auto t1 = Clock::now();
    sent += sink();
    return std::chrono::duration<double>(t1 - t0).count();
  }

  // SRTP (unprotect rigs) or RTP of `rtp_bytes` with sequence number `seq` (ROC 0), from the
  // shared sender session: packets made ahead of a timed run.
  std::vector<uint8_t> packet_with_seq(uint32_t rtp_bytes, uint16_t seq) {
    std::vector<uint8_t> p(rtp_bytes + 64, 0xa5);
    p[0] = 0x80;
    p[1] = 0;
    p[2] = static_cast<uint8_t>(seq >> 8);
    p[3] = static_cast<uint8_t>(seq);
    p[8] = 0x12;
    p[9] = 0x34;
    p[10] = 0x56;
    p[11] = 0x78;
    srtp::PacketView v{p.data(), rtp_bytes, static_cast<uint32_t>(p.size())};
    if (action_ == dp::Action::unprotect) {
      srtp::Status st{};
      sender_->protect_rtp({&v, 1}, {&st, 1});
    }
    p.resize(v.len);
    return p;
  }

  // One frame of flow `flow` carrying `payload`, onto the ingress rx ring. False when the pool
  // or the ring is full.
  bool inject(uint32_t flow, const std::vector<uint8_t>& payload) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_.get());
    if (m == nullptr) return false;
    const EgressTemplate& t = templates_[flow];
    const auto len = static_cast<uint16_t>(payload.size());
    auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, t.len + len));
    std::memcpy(d + t.len, payload.data(), len);
    dp::detail::write_egress_headers(t, d + t.len, len, dp::detail::UdpChecksum::software);
    if (rte_ring_sp_enqueue(in_->rx_rings[0].get(), m) != 0) {
      rte_pktmbuf_free(m);
      return false;
    }
    return true;
  }

  // Frees what the worker transmitted, showing each frame to `seen` first; returns how many.
  template <typename Seen>
  unsigned sink_each(Seen&& seen) {
    void* p[64];
    unsigned total = 0;
    for (auto& ring : out_->tx_rings) {
      unsigned n = 0;
      while ((n = rte_ring_dequeue_burst(ring.get(), p, 64, nullptr)) != 0) {
        for (unsigned i = 0; i < n; ++i) seen(static_cast<rte_mbuf*>(p[i]));
        rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(p), n);
        total += n;
      }
    }
    return total;
  }

  dp::Dataplane& dp() { return *dp_; }
  uint16_t in_port() const { return in_->port_id; }
  uint16_t out_port() const { return out_->port_id; }
  rte_ring* rx_ring() { return in_->rx_rings[0].get(); }
  void restart_rounds() { position_ = (position_ / sessions_ + 1) * sessions_; }

 private:
  Rig() = default;
  static unsigned drain(rte_ring* r) {
    void* p[64];
    unsigned total = 0;
    unsigned n = 0;
    while ((n = rte_ring_dequeue_burst(r, p, 64, nullptr)) != 0) {
      rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(p), n);
      total += n;
    }
    return total;
  }

  dp::Action action_ = dp::Action::unprotect;
  bool checksum_offload_ = false;
  Profile profile_ = Profile::aes_cm_128_hmac_sha1_80;
  uint32_t sessions_ = 1;
  dp::detail::MempoolPtr pool_;
  std::unique_ptr<dp::detail::RingPort> in_;
  std::unique_ptr<dp::detail::RingPort> out_;
  std::unique_ptr<dp::Dataplane> dp_;
  std::vector<EgressTemplate> templates_;
  std::vector<uint32_t> order_;
  std::unique_ptr<srtp::Session> sender_;
  std::vector<uint8_t> packet_;
  uint32_t packet_len_ = 0;
  uint64_t packet_round_ = 0;
  uint64_t position_ = 0;
};

// One rig at a time: a million sessions take gigabytes, so the previous rig goes first. Freed
// before the EAL is cleaned up (release_rig()).
std::unique_ptr<Rig> current;
std::tuple<dp::Action, Profile, uint32_t, bool, bool> current_key;

void release_rig() { current.reset(); }

Rig* rig_for(dp::Action action, Profile profile, uint32_t sessions, std::string& error,
             bool checksum_offload = false, bool stage_clock = false) {
  const auto key = std::make_tuple(action, profile, sessions, checksum_offload, stage_clock);
  if (!current || current_key != key) {
    current.reset();
    current = Rig::make(action, profile, sessions, checksum_offload, stage_clock, error);
    current_key = key;
  }
  return current.get();
}

// Empty when every packet the worker received since `before` went out (`sent` of them);
// otherwise what it dropped, by reason.
std::string drops_since(Rig& rig, const dp::WorkerStats& before, uint64_t sent) {
  const dp::WorkerStats after = rig.dp().worker_stats(0);
  const uint64_t dropped = after.dropped() - before.dropped();
  if (dropped == 0 && sent == after.rx_packets - before.rx_packets) return {};
  std::string why = "the worker dropped " + std::to_string(dropped) + " packets:";
  for (std::size_t d = 0; d < dp::kDropCount; ++d) {
    if (after.drops[d] != before.drops[d]) {
      why.append(" ").append(dp::name(static_cast<dp::Drop>(d))).append("=");
      why.append(std::to_string(after.drops[d] - before.drops[d]));
    }
  }
  return why;
}

// Ends a timed run of `rig`: false (and the run marked failed) when the worker dropped any of
// the packets since `before`; otherwise the next run starts on fresh packet indices.
bool finish_run(benchmark::State& state, Rig& rig, const dp::WorkerStats& before, uint64_t sent) {
  const std::string dropped = drops_since(rig, before, sent);
  if (!dropped.empty()) {
    state.SkipWithError(dropped.c_str());
    return false;
  }
  rig.restart_rounds();
  return true;
}

void bm_dataplane(benchmark::State& state, dp::Action action, Profile profile, uint32_t rtp_bytes,
                  uint32_t sessions, bool checksum_offload) {
  std::string error;
  Rig* rig = rig_for(action, profile, sessions, error, checksum_offload);
  if (rig == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  const dp::WorkerStats before = rig->dp().worker_stats(0);
  uint64_t packets = 0;
  for (auto _ : state) {
    const double seconds = rig->timed_burst(rtp_bytes, packets);
    if (seconds < 0) {
      state.SkipWithError("generator: mbuf pool or ring exhausted");
      return;
    }
    state.SetIterationTime(seconds);
  }
  if (!finish_run(state, *rig, before, packets)) return;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

// DPDK io-forwarding on the same ports: what rx and tx cost with no work in between.
void bm_io_forward(benchmark::State& state, uint32_t rtp_bytes) {
  std::string error;
  Rig* rig = rig_for(dp::Action::forward, Profile::aes_cm_128_hmac_sha1_80, 1, error);
  if (rig == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  uint64_t packets = 0;
  rte_mbuf* m[kBurst];
  for (auto _ : state) {
    if (!rig->generate(rtp_bytes)) {
      state.SkipWithError("generator: mbuf pool or ring exhausted");
      return;
    }
    const auto t0 = Clock::now();
    uint16_t n = 0;
    while ((n = rte_eth_rx_burst(rig->in_port(), 0, m, kBurst)) != 0) {
      const uint16_t sent = rte_eth_tx_burst(rig->out_port(), 0, m, n);
      if (sent != n) rte_pktmbuf_free_bulk(m + sent, n - sent);
    }
    const auto t1 = Clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    packets += rig->sink();
  }
  rig->restart_rounds();
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

// The SRTP core library alone on the same packets as the worker, one burst of 32 per call.
class CryptoOnly {
 public:
  CryptoOnly(dp::Action action, Profile profile, uint32_t rtp_bytes)
      : unprotect_(action == dp::Action::unprotect), rtp_bytes_(rtp_bytes) {
    auto engine = crypto::make_engine(crypto::Backend::ipsecmb).value();
    const srtp::MasterKey key = bench_key(profile);
    srtp::SessionConfig tx;
    tx.profile = profile;
    sender_ = srtp::Session::create(engine, tx, key).value();
    srtp::SessionConfig rx = tx;
    rx.direction = unprotect_ ? srtp::Direction::inbound : srtp::Direction::outbound;
    rx.replay_window = 64;
    session_ = srtp::Session::create(engine, rx, key).value();
    bufs_.assign(kBurst, std::vector<uint8_t>(rtp_bytes + 64));
  }

  // Fills a burst of packets (untimed) and times the library's one call on them. Seconds, or a
  // negative value when the library rejected a packet.
  double burst() {
    for (unsigned k = 0; k < kBurst; ++k, ++seq_) {
      auto& b = bufs_[k];
      std::fill(b.begin(), b.end(), 0xa5);
      b[0] = 0x80;
      b[1] = 0;
      b[2] = static_cast<uint8_t>(seq_ >> 8);
      b[3] = static_cast<uint8_t>(seq_);
      b[8] = 0x12;
      views_[k] = srtp::PacketView{b.data(), rtp_bytes_, static_cast<uint32_t>(b.size())};
    }
    if (unprotect_) sender_->protect_rtp(views_, status_);
    const auto t0 = Clock::now();
    const std::size_t ok = unprotect_ ? session_->unprotect_rtp(views_, status_)
                                      : session_->protect_rtp(views_, status_);
    const auto t1 = Clock::now();
    return ok == kBurst ? std::chrono::duration<double>(t1 - t0).count() : -1.0;
  }

 private:
  bool unprotect_;
  uint32_t rtp_bytes_;
  std::unique_ptr<srtp::Session> sender_;
  std::unique_ptr<srtp::Session> session_;
  std::vector<std::vector<uint8_t>> bufs_;
  srtp::PacketView views_[kBurst];
  srtp::Status status_[kBurst];
  uint64_t seq_ = 0;
};

void bm_crypto_only(benchmark::State& state, dp::Action action, Profile profile,
                    uint32_t rtp_bytes) {
  CryptoOnly crypto(action, profile, rtp_bytes);
  uint64_t packets = 0;
  for (auto _ : state) {
    const double seconds = crypto.burst();
    if (seconds < 0) {
      state.SkipWithError("the library rejected a packet");
      return;
    }
    state.SetIterationTime(seconds);
    packets += kBurst;
  }
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

// The one-session target's two sides measured together: kPairBlock bursts through the worker,
// then kPairBlock bursts of the library alone on the same packets (which goes first alternates),
// over and over. This host's speed drifts by a third over seconds, which is about the time
// between a dp_ case and its crypto_only_ case; a pair spans about a millisecond, so a slow spell
// lands on both of its halves. Counters: ratio, the median over the pairs of the worker's rate
// over the library's (both halves move the same packets, so it is the library's time over the
// worker's, each less what the clock itself adds to a timed section); ratio_p10 and ratio_p90,
// its spread; dp_pps and crypto_pps, each side's rate over the whole run.
constexpr unsigned kPairBlock = 64;

// The q-quantile of v, interpolated between the two nearest ranks (the median of an even
// count is the mean of the middle two).
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double at = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(at);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (at - static_cast<double>(lo));
}

// What a timed section costs with nothing in it (the median of many): each burst's time holds
// it once, on both sides of a pair, and it would pull their ratio toward 1.
double empty_section_seconds() {
  std::vector<double> v(1001);
  for (double& x : v) {
    const auto t0 = Clock::now();
    const auto t1 = Clock::now();
    x = std::chrono::duration<double>(t1 - t0).count();
  }
  return quantile(v, 0.5);
}

void bm_paired(benchmark::State& state, dp::Action action, Profile profile, uint32_t rtp_bytes,
               bool checksum_offload) {
  std::string error;
  Rig* rig = rig_for(action, profile, 1, error, checksum_offload);
  if (rig == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  CryptoOnly crypto(action, profile, rtp_bytes);
  const dp::WorkerStats before = rig->dp().worker_stats(0);
  const double clock_cost = kPairBlock * empty_section_seconds();  // per half
  std::vector<double> ratios;
  double dp_seconds = 0;
  double crypto_seconds = 0;
  uint64_t sent = 0;
  bool dp_first = true;
  for (auto _ : state) {
    double d = 0;
    double c = 0;
    for (int half = 0; half < 2; ++half) {
      const bool dp_half = (half == 0) == dp_first;
      for (unsigned k = 0; k < kPairBlock; ++k) {
        const double t = dp_half ? rig->timed_burst(rtp_bytes, sent) : crypto.burst();
        if (t < 0) {
          state.SkipWithError(dp_half ? "generator: mbuf pool or ring exhausted"
                                      : "the library rejected a packet");
          return;
        }
        (dp_half ? d : c) += t;
      }
    }
    dp_first = !dp_first;
    d = std::max(d - clock_cost, 1e-9);
    c = std::max(c - clock_cost, 1e-9);
    ratios.push_back(c / d);
    dp_seconds += d;
    crypto_seconds += c;
    state.SetIterationTime(d + c);
  }
  if (!finish_run(state, *rig, before, sent)) return;
  if (ratios.empty()) return;
  const auto packets = static_cast<double>(ratios.size()) * kPairBlock * kBurst;
  state.counters["ratio"] = quantile(ratios, 0.5);
  state.counters["ratio_p10"] = quantile(ratios, 0.1);
  state.counters["ratio_p90"] = quantile(ratios, 0.9);
  state.counters["dp_pps"] = packets / dp_seconds;
  state.counters["crypto_pps"] = packets / crypto_seconds;
}

// Where one session's packet spends its time in the worker, stage by stage
// (DataplaneConfig::stage_clock), beside the SRTP core's own time for the same packets,
// alternating as in bm_paired. Counters, TSC cycles per packet: one per stage (dp::name(Stage)),
// `worker` (their sum) and `crypto_only`.
void bm_stage_clock(benchmark::State& state, dp::Action action, Profile profile,
                    uint32_t rtp_bytes) {
  std::string error;
  Rig* rig = rig_for(action, profile, 1, error, false, true);
  if (rig == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::unique_ptr<CryptoOnly> crypto;
  if (action != dp::Action::forward)
    crypto = std::make_unique<CryptoOnly>(action, profile, rtp_bytes);
  const dp::WorkerStats before = rig->dp().worker_stats(0);
  double crypto_seconds = 0;
  uint64_t crypto_packets = 0;
  uint64_t sent = 0;
  for (auto _ : state) {
    double d = 0;
    double c = 0;
    for (unsigned k = 0; k < kPairBlock; ++k) {
      const double t = rig->timed_burst(rtp_bytes, sent);
      if (t < 0) {
        state.SkipWithError("generator: mbuf pool or ring exhausted");
        return;
      }
      d += t;
    }
    for (unsigned k = 0; crypto && k < kPairBlock; ++k) {
      const double t = crypto->burst();
      if (t < 0) {
        state.SkipWithError("the library rejected a packet");
        return;
      }
      c += t;
      crypto_packets += kBurst;
    }
    crypto_seconds += c;
    state.SetIterationTime(d + c);
  }
  if (!finish_run(state, *rig, before, sent)) return;
  const dp::StageCycles& a = before.stages;
  const dp::StageCycles b = rig->dp().worker_stats(0).stages;
  const uint64_t packets = b.packets - a.packets;
  if (packets == 0 || b.tsc_hz == 0) {
    state.SkipWithError("the stage clock counted nothing");
    return;
  }
  double worker = 0;
  for (std::size_t i = 0; i < dp::kStageCount; ++i) {
    const double per_packet =
        static_cast<double>(b.cycles[i] - a.cycles[i]) / static_cast<double>(packets);
    state.counters[std::string(dp::name(static_cast<dp::Stage>(i)))] = per_packet;
    worker += per_packet;
  }
  state.counters["worker"] = worker;
  if (crypto_packets != 0) {
    state.counters["crypto_only"] =
        crypto_seconds * static_cast<double>(b.tsc_hz) / static_cast<double>(crypto_packets);
  }
}

std::string profile_name(Profile p) { return std::string(srtp::name(p)); }

void register_all() {
  // Before any rig: the region and a million sessions' heap are not held at once.
  benchmark::RegisterBenchmark("memory_random_line", bm_random_line);
  for (uint32_t bytes : kRtpBytes) {
    benchmark::RegisterBenchmark(("io_forward/" + std::to_string(bytes)).c_str(), bm_io_forward,
                                 bytes)
        ->UseManualTime();
  }
  benchmark::RegisterBenchmark("stages_forward/172", bm_stage_clock, dp::Action::forward,
                               Profile::aes_cm_128_hmac_sha1_80, 172u)
      ->UseManualTime();
  // The worker with no crypto (plain RTP relay): what classify, lookup, rewrite and the
  // checksums cost on their own.
  for (uint32_t bytes : kRtpBytes) {
    for (bool offload : {false, true}) {
      benchmark::RegisterBenchmark(
          ((offload ? "dp_offload_forward/" : "dp_forward/") + std::to_string(bytes) + "/1")
              .c_str(),
          bm_dataplane, dp::Action::forward, Profile::aes_cm_128_hmac_sha1_80, bytes, 1u, offload)
          ->UseManualTime();
    }
  }
  for (Profile p : srtp::kAllProfiles) {
    for (dp::Action a : {dp::Action::unprotect, dp::Action::protect}) {
      const std::string op(dp::name(a));
      for (uint32_t bytes : kRtpBytes) {
        benchmark::RegisterBenchmark(
            ("crypto_only_" + op + "/" + profile_name(p) + "/" + std::to_string(bytes)).c_str(),
            bm_crypto_only, a, p, bytes)
            ->UseManualTime();
      }
      // Protect is measured at one session; unprotect at every table size.
      for (uint32_t sessions : kSessions) {
        if (a == dp::Action::protect && sessions != 1) continue;
        for (uint32_t bytes : kRtpBytes) {
          benchmark::RegisterBenchmark(("dp_" + op + "/" + profile_name(p) + "/" +
                                        std::to_string(bytes) + "/" + std::to_string(sessions))
                                           .c_str(),
                                       bm_dataplane, a, p, bytes, sessions, false)
              ->UseManualTime();
        }
      }
      benchmark::RegisterBenchmark(("stages_" + op + "/" + profile_name(p) + "/172").c_str(),
                                   bm_stage_clock, a, p, 172u)
          ->UseManualTime();
      for (uint32_t bytes : kRtpBytes) {  // the one-session target's own measure (bm_paired)
        for (bool offload : {false, true}) {
          benchmark::RegisterBenchmark((std::string(offload ? "paired_offload_" : "paired_") + op +
                                        "/" + profile_name(p) + "/" + std::to_string(bytes))
                                           .c_str(),
                                       bm_paired, a, p, bytes, offload)
              ->UseManualTime();
        }
      }
      for (uint32_t bytes : kRtpBytes) {  // one session, ports with checksum offload
        benchmark::RegisterBenchmark(
            ("dp_offload_" + op + "/" + profile_name(p) + "/" + std::to_string(bytes) + "/1")
                .c_str(),
            bm_dataplane, a, p, bytes, 1u, true)
            ->UseManualTime();
      }
    }
  }
}

// Keeps items_per_second of each run (the median with repetitions) for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !median) continue;
      std::string name = r.run_name.str();
      const std::string manual = "/manual_time";
      if (name.size() > manual.size() && name.ends_with(manual)) {
        name.resize(name.size() - manual.size());
      }
      if (!median && medians_.count(name) != 0) continue;
      if (median) medians_.insert(name);
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rate_[name] = it->second.value;
      auto paired = r.counters.find("ratio");
      if (paired != r.counters.end()) rate_[name] = paired->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  double rate(const std::string& name) const {
    auto it = rate_.find(name);
    return it == rate_.end() ? 0.0 : it->second;
  }

 private:
  std::map<std::string, double> rate_;
  std::set<std::string> medians_;
};

// With a million sessions a packet's state comes from memory. The time a packet takes above
// one session's, counted in random lines of this machine, against what the 90% target leaves.
void print_memory_bound(const SummaryReporter& r) {
  const double lines_per_second = r.rate("memory_random_line");
  if (lines_per_second == 0.0) return;
  const double line_ns = 1e9 / lines_per_second;
  std::printf("\nA random cache line of 3 GiB, 32 started at once: %.1f ns (memory_random_line)\n",
              line_ns);
  std::printf("%-26s %22s %22s\n", "unprotect, 172 B", "1M - 1 session, ns", "90% target leaves");
  for (Profile p : srtp::kAllProfiles) {
    const std::string dp_name = "dp_unprotect/" + profile_name(p) + "/172/";
    const double one = r.rate(dp_name + "1");
    const double million = r.rate(dp_name + "1000000");
    if (one == 0.0 || million == 0.0) continue;
    const double excess = 1e9 / million - 1e9 / one;
    const double allowed = 1e9 / (0.9 * one) - 1e9 / one;
    std::printf("%-26s %7.0f = %5.1f lines %7.0f = %5.1f lines\n", profile_name(p).c_str(),
                excess, excess / line_ns, allowed, allowed / line_ns);
  }
}

void print_summary(const SummaryReporter& r) {
  std::printf("\nThrough one worker, Mpps (ratio to the same run's baselines)\n");
  std::printf("%-26s %5s %8s %8s %8s %8s %8s  %-22s %-22s\n", "case", "bytes", "1 sess", "10k",
              "1M", "crypto", "io-fwd", "paired 1/crypto >=65%", "1M/1 sess >=90%");
  for (Profile p : srtp::kAllProfiles) {
    for (const char* op : {"unprotect", "protect"}) {
      for (uint32_t bytes : kRtpBytes) {
        const std::string tail = profile_name(p) + "/" + std::to_string(bytes);
        const std::string dp_name = std::string("dp_") + op + "/" + tail + "/";
        const double one = r.rate(dp_name + "1");
        if (one == 0.0) continue;
        const double ten_k = r.rate(dp_name + "10000");
        const double million = r.rate(dp_name + "1000000");
        const double crypto = r.rate(std::string("crypto_only_") + op + "/" + tail);
        const double io = r.rate("io_forward/" + std::to_string(bytes));
        const double paired = r.rate(std::string("paired_") + op + "/" + tail);
        char a[32] = "-";
        char b[32] = "-";
        if (paired > 0) {
          std::snprintf(a, sizeof a, "%5.1f%% %s", 100 * paired,
                        bytes != 172     ? ""
                        : paired >= 0.65 ? "PASS"
                                         : "MISS");
        }
        if (million > 0 && bytes == 172) {
          std::snprintf(b, sizeof b, "%5.1f%% %s", 100 * million / one,
                        million / one >= 0.90 ? "PASS" : "MISS");
        }
        std::printf("%-26s %5u %8.2f %8.2f %8.2f %8.2f %8.2f  %-22s %-22s\n",
                    (std::string(op) + " " + profile_name(p)).c_str(), bytes, one / 1e6,
                    ten_k / 1e6, million / 1e6, crypto / 1e6, io / 1e6, a, b);
      }
    }
  }
  std::printf(
      "Targets (172-byte RTP): one session >= 65%% of the crypto-only rate (the paired_ cases'\n"
      "median ratio); 1M sessions >= 90%% of one session.\n");
  print_memory_bound(r);
}

// --- --mode=latency ---------------------------------------------------------------------------
// Per-packet latency through one worker at 10%, 50% and 90% of its capacity. The worker polls
// on its own thread without pause; the main thread injects one frame at a time at a steady
// rate (TSC-paced), drains what was sent, and stamps both ends: the latency is ring in to ring
// out, i.e. queueing in the rx ring, one poll's classify, lookup, crypto, rewrite, and tx. The
// crypto completes in the burst that submitted it (the library never holds a job back, the
// multi-buffer bound is 0 us), so at low load the latency is one packet's processing.
// Capacity: the same rig flooded (the rx ring kept full) for the same number of packets.
struct LatencyLevel {
  double load = 0;
  double offered_pps = 0;
  uint64_t packets = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

struct LatencyResult {
  std::string profile;
  double capacity_pps = 0;
  std::vector<LatencyLevel> levels;
};

// EAL pins the main thread to its lcore's CPU, and a std::thread inherits that: the second
// thread of these modes is moved to another CPU, or both would share one and the figures would
// measure the scheduler's time slices.
void run_on_another_cpu(std::thread& t) {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) != 0) return;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t other;
  CPU_ZERO(&other);
  for (long c = 0; c < cpus; ++c) {
    if (!CPU_ISSET(c, &mine)) CPU_SET(c, &other);
  }
  if (CPU_COUNT(&other) != 0) {
    pthread_setaffinity_np(t.native_handle(), sizeof other, &other);
  }
}

uint16_t rtp_seq_of(rte_mbuf* m, uint8_t header_len) {
  const auto* d = rte_pktmbuf_mtod(m, const uint8_t*) + header_len;
  return static_cast<uint16_t>((d[2] << 8) | d[3]);
}

LatencyResult measure_latency(Profile profile, uint32_t rtp_bytes) {
  LatencyResult out;
  out.profile = profile_name(profile);
  std::string error;
  constexpr uint32_t kPackets = 65536;  // one sequence-number cycle per run, ROC 0
  constexpr uint32_t kRuns = 4;         // flow 0: capacity; flows 1-3: the loads
  auto rig = Rig::make(dp::Action::unprotect, profile, kRuns, false, false, error);
  if (!rig) {
    std::fprintf(stderr, "latency rig: %s\n", error.c_str());
    return out;
  }
  std::vector<std::vector<uint8_t>> packets(kPackets);
  for (uint32_t i = 0; i < kPackets; ++i) {
    packets[i] = rig->packet_with_seq(rtp_bytes, static_cast<uint16_t>(i));
  }
  const uint8_t header_len = 42;  // Ethernet + IPv4 + UDP of the egress template
  const double hz = static_cast<double>(rte_get_tsc_hz());
  std::vector<uint64_t> sent_at(kPackets);
  std::vector<double> latency;
  latency.reserve(kPackets);

  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop.load(std::memory_order_relaxed)) rig->dp().poll_worker(0);
  });
  run_on_another_cpu(worker);

  // At most this many frames between injection and the sink, so the tx ring (1024) always has
  // room and nothing is dropped; a run also stops if nothing moves for a second.
  constexpr uint32_t kInFlight = 512;
  const auto stalled = [&](uint64_t since) { return rte_rdtsc() - since > hz; };
  // Capacity: keep the rx ring busy; rate = packets out / time.
  {
    uint32_t next = 0;
    uint64_t done = 0;
    const uint64_t t0 = rte_rdtsc();
    uint64_t progress = t0;
    while (done < kPackets && !stalled(progress)) {
      while (next < kPackets && next - done < kInFlight && rig->inject(0, packets[next])) ++next;
      if (const unsigned n = rig->sink_each([](rte_mbuf*) {}); n != 0) {
        done += n;
        progress = rte_rdtsc();
      }
    }
    out.capacity_pps = static_cast<double>(done) * hz / static_cast<double>(rte_rdtsc() - t0);
  }
  const double loads[] = {0.10, 0.50, 0.90};
  for (uint32_t level = 0; level < 3; ++level) {
    LatencyLevel l;
    l.load = loads[level];
    const double gap = hz / (out.capacity_pps * l.load);
    latency.clear();
    uint32_t next = 0;
    uint64_t done = 0;
    const uint64_t start = rte_rdtsc();
    const auto record = [&](rte_mbuf* m) {
      const uint64_t now = rte_rdtsc();
      latency.push_back(static_cast<double>(now - sent_at[rtp_seq_of(m, header_len)]) * 1e6 / hz);
    };
    uint64_t progress = start;
    while (done < kPackets && !stalled(progress)) {
      // Every frame that is due goes now, each stamped as it is enqueued.
      while (next < kPackets && next - done < kInFlight &&
             rte_rdtsc() >= start + static_cast<uint64_t>(static_cast<double>(next) * gap)) {
        sent_at[next] = rte_rdtsc();
        if (!rig->inject(level + 1, packets[next])) break;
        ++next;
      }
      if (const unsigned n = rig->sink_each(record); n != 0) {
        done += n;
        progress = rte_rdtsc();
      }
    }
    l.offered_pps = static_cast<double>(done) * hz / static_cast<double>(rte_rdtsc() - start);
    if (latency.empty()) {
      out.levels.push_back(l);
      continue;
    }
    std::sort(latency.begin(), latency.end());
    const auto at = [&](double q) {
      return latency[std::min<std::size_t>(latency.size() - 1,
                                           static_cast<std::size_t>(q * latency.size()))];
    };
    l.packets = latency.size();
    l.p50_us = at(0.50);
    l.p99_us = at(0.99);
    l.p999_us = at(0.999);
    l.max_us = latency.back();
    out.levels.push_back(l);
  }
  stop = true;
  worker.join();
  const dp::WorkerStats st = rig->dp().worker_stats(0);
  if (st.dropped() != 0) {
    std::fprintf(stderr, "latency run for %s dropped %llu packets\n", out.profile.c_str(),
                 static_cast<unsigned long long>(st.dropped()));
  }
  return out;
}

// --- --mode=scaling ---------------------------------------------------------------------------
// What a second worker gives on this machine: each worker has its own rig (ports, flows, table,
// engine), as RSS partitions flows over cores on a server, and runs the loop of bm_dataplane
// (make a burst, time the worker's poll, free the output) on its own thread. One worker alone,
// then two at once; the rate of a worker is its packets over its timed polls.
struct ScalingResult {
  std::string profile;
  uint32_t sessions = 0;
  double one_worker_pps = 0;
  double two_workers_pps = 0;  // the sum of both
};

double worker_loop(Rig& rig, uint32_t rtp_bytes, double seconds) {
  using namespace std::chrono;
  uint64_t packets = 0;
  double timed = 0;
  const auto until = Clock::now() + duration_cast<Clock::duration>(duration<double>(seconds));
  while (Clock::now() < until) {
    if (!rig.generate(rtp_bytes)) break;
    const auto t0 = Clock::now();
    while (rte_ring_count(rig.rx_ring()) != 0) rig.dp().poll_worker(0);
    timed += duration<double>(Clock::now() - t0).count();
    packets += rig.sink();
  }
  return timed > 0 ? static_cast<double>(packets) / timed : 0.0;
}

ScalingResult measure_scaling(Profile profile, uint32_t rtp_bytes, uint32_t sessions) {
  ScalingResult out;
  out.profile = profile_name(profile);
  out.sessions = sessions;
  std::string error;
  auto a = Rig::make(dp::Action::unprotect, profile, sessions, false, false, error);
  auto b = a ? Rig::make(dp::Action::unprotect, profile, sessions, false, false, error) : nullptr;
  if (!a || !b) {
    std::fprintf(stderr, "scaling rigs: %s\n", error.c_str());
    return out;
  }
  constexpr double kSeconds = 2.0;
  (void)worker_loop(*a, rtp_bytes, 0.2);  // warm up
  out.one_worker_pps = worker_loop(*a, rtp_bytes, kSeconds);
  double rate_b = 0;
  std::thread second([&] { rate_b = worker_loop(*b, rtp_bytes, kSeconds); });
  run_on_another_cpu(second);
  const double rate_a = worker_loop(*a, rtp_bytes, kSeconds);
  second.join();
  out.two_workers_pps = rate_a + rate_b;
  return out;
}

int run_mode(const std::string& mode, const std::string& out_path) {
  std::FILE* f = out_path.empty() ? stdout : std::fopen(out_path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot write %s\n", out_path.c_str());
    return 1;
  }
  const Profile profiles[] = {Profile::aes_cm_128_hmac_sha1_80, Profile::aead_aes_128_gcm};
  std::fprintf(f, "[\n");
  bool first = true;
  int rc = 0;
  if (mode == "latency") {
    for (Profile p : profiles) {
      const LatencyResult r = measure_latency(p, 172);
      for (const auto& l : r.levels) {
        std::fprintf(f,
                     "%s{\"profile\":\"%s\",\"rtp_bytes\":172,\"capacity_pps\":%.0f,"
                     "\"load\":%.2f,\"offered_pps\":%.0f,\"packets\":%llu,\"p50_us\":%.3f,"
                     "\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f}\n",
                     first ? "" : ",", r.profile.c_str(), r.capacity_pps, l.load, l.offered_pps,
                     static_cast<unsigned long long>(l.packets), l.p50_us, l.p99_us, l.p999_us,
                     l.max_us);
        first = false;
      }
    }
  } else if (mode == "scaling") {
    for (Profile p : profiles) {
      for (uint32_t sessions : {1u, 10000u}) {
        const ScalingResult r = measure_scaling(p, 172, sessions);
        std::fprintf(f,
                     "%s{\"profile\":\"%s\",\"rtp_bytes\":172,\"sessions\":%u,"
                     "\"one_worker_pps\":%.0f,\"two_workers_pps\":%.0f}\n",
                     first ? "" : ",", r.profile.c_str(), r.sessions, r.one_worker_pps,
                     r.two_workers_pps);
        first = false;
      }
    }
  } else {
    std::fprintf(stderr, "unknown --mode=%s (latency or scaling)\n", mode.c_str());
    rc = 2;
  }
  std::fprintf(f, "]\n");
  if (f != stdout) std::fclose(f);
  return rc;
}

}  // namespace
}  // namespace srtpgate::bench

// A million sessions are 3 GB of small heap blocks; in 4 KiB pages nearly every one of a
// packet's state lines also costs a page walk. glibc backs its heap with transparent huge
// pages when asked through a tunable, which must be set before the process starts: the bench
// starts itself again with it unless the caller chose tunables of their own. (On a server the
// daemon is started with the same tunable; docs/performance.md shows both.)
void prefer_huge_heap_pages(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) {
    return;
  }
  setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
  execv("/proc/self/exe", argv);
  unsetenv("GLIBC_TUNABLES");  // exec failed: run as we are
}

int main(int argc, char** argv) {
  prefer_huge_heap_pages(argv);
  // --mode=latency|scaling [--out=FILE]: the measurements above instead of the benchmarks.
  std::string mode;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a(argv[i]);
    if (a.starts_with("--mode=")) mode = std::string(a.substr(7));
    if (a.starts_with("--out=")) out_path = std::string(a.substr(6));
  }
  if (mode.empty()) {
    benchmark::Initialize(&argc, argv);
  }
  // One million flows need about 3 GB of heap (sessions) and a few hundred MB of DPDK memory
  // (the flow table); no hugepages, no PCI devices, ring ports only.
  auto eal = srtpgate::dp::Eal::init({"srtpgate-dp-bench", "--no-huge", "--no-pci", "-m", "2048",
                                      "--no-shconf", "--file-prefix",
                                      "sgbench" + std::to_string(getpid()), "--log-level",
                                      "lib.eal:error", "-l", "0"});
  if (!eal) {
    std::fprintf(stderr, "EAL: %s\n", eal.message().c_str());
    return 1;
  }
  if (!mode.empty()) {
    const int rc = srtpgate::bench::run_mode(mode, out_path);
    srtpgate::bench::release_rig();
    return rc;
  }
  srtpgate::bench::register_all();
  srtpgate::bench::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  srtpgate::bench::release_rig();
  srtpgate::bench::print_summary(reporter);
  benchmark::Shutdown();
  return 0;
}
