// Two of the worker's per-packet stages on their own, over a burst of 32 frames already in
// cache, each beside DPDK 22.11's own way of doing the same work in the same run:
//  - classify: parse Ethernet, IPv4 and UDP, verify the IPv4 header checksum, demultiplex the
//    payload (RFC 7983) and fill the flow key, as `Worker::process` does for SRTP to unprotect
//    (its UDP checksum waits for the flow lookup). Baseline: `rte_net_get_ptype` (DPDK's
//    software parser, which only names the layers) plus `rte_ipv4_cksum` over the header.
//  - rewrite: write a flow's Ethernet, IPv4 and UDP headers in front of a payload with both
//    checksums computed in software, as on a port without offload. Baseline: the same headers
//    copied, lengths set, then `rte_ipv4_cksum` and `rte_ipv4_udptcp_cksum`.
// The dataplane bench measures the whole worker; these isolate the parts that are ours, where
// the host's noise hides a change of a few nanoseconds in the whole.
#include <benchmark/benchmark.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_net.h>
#include <rte_udp.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "frame_classifier.h"
#include "header_rewrite.h"

namespace srtpgate::dp::detail {
namespace {

constexpr unsigned kBurst = 32;
constexpr uint16_t kRtpBytes = 172;  // G.711, 20 ms, 12-byte RTP header
constexpr uint16_t kHeadroom = 128;  // RTE_PKTMBUF_HEADROOM
constexpr uint16_t kBufBytes = 2048;

EgressTemplate make_template() {
  NextHop hop;
  hop.dst_mac = {0x02, 0, 0, 0, 0, 0x02};
  hop.src_addr = IpAddress::parse("198.18.0.1").value();
  hop.dst_addr = IpAddress::parse("198.19.0.2").value();
  hop.src_port = 5004;
  hop.dst_port = 40000;
  return build_egress_template(hop, {0x02, 0, 0, 0, 0, 0x01}).value();
}

// 32 buffers laid out as a mempool's mbufs are (2 KiB of data behind 128 bytes of headroom),
// each holding one IPv4/UDP frame with a 172-byte RTP packet and valid checksums.
struct Frames {
  Frames() : mem(kBurst * (kHeadroom + kBufBytes)), mbufs(kBurst) {
    const EgressTemplate t = make_template();
    for (unsigned k = 0; k < kBurst; ++k) {
      uint8_t* buf = mem.data() + k * (kHeadroom + kBufBytes);
      uint8_t* payload = buf + kHeadroom + t.len;
      for (unsigned b = 0; b < kRtpBytes; ++b) payload[b] = static_cast<uint8_t>(b * 7 + k);
      payload[0] = 0x80;  // RTP version 2
      payload[1] = 0;     // PT 0 (PCMU)
      frame[k] = write_egress_headers(t, payload, kRtpBytes, UdpChecksum::software);
      len[k] = t.len + kRtpBytes;
      rte_mbuf& m = mbufs[k];
      std::memset(&m, 0, sizeof(m));
      m.buf_addr = buf;
      m.buf_len = kHeadroom + kBufBytes;
      m.data_off = kHeadroom;
      m.data_len = static_cast<uint16_t>(len[k]);
      m.pkt_len = len[k];
      m.nb_segs = 1;
    }
  }
  std::vector<uint8_t> mem;
  std::vector<rte_mbuf> mbufs;  // views of the same frames for DPDK's parser
  std::array<uint8_t*, kBurst> frame{};
  std::array<uint32_t, kBurst> len{};
};

void bm_classify(benchmark::State& state) {
  Frames f;
  ParsedFrame out[kBurst];
  for (auto _ : state) {
    for (unsigned k = 0; k < kBurst; ++k) {
      classify_frame(f.frame[k], f.len[k], 0, ChecksumHint::unknown, ChecksumHint::deferred,
                     out[k]);
    }
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  // What was timed must be the whole answer: RTP, and what the general parser alone says.
  for (unsigned k = 0; k < kBurst; ++k) {
    ParsedFrame general;
    classify_frame_general(f.frame[k], f.len[k], 0, ChecksumHint::unknown,
                           ChecksumHint::deferred, general);
    if (out[k].kind != FrameKind::rtp || general.kind != FrameKind::rtp ||
        out[k].payload_offset != general.payload_offset ||
        out[k].payload_len != general.payload_len ||
        std::memcmp(&out[k].key, &general.key, sizeof(general.key)) != 0) {
      state.SkipWithError("a frame did not classify as the general parser does");
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
}

// After a rewrite every frame must carry valid IPv4 and UDP checksums: the general parser with
// no hints verifies both in software.
bool checksums_valid(const Frames& f, benchmark::State& state) {
  for (unsigned k = 0; k < kBurst; ++k) {
    ParsedFrame p;
    classify_frame_general(f.frame[k], f.len[k], 0, ChecksumHint::unknown,
                           ChecksumHint::unknown, p);
    if (p.kind != FrameKind::rtp) {
      state.SkipWithError("a rewritten frame does not verify");
      return false;
    }
  }
  return true;
}
BENCHMARK(bm_classify)->Name("classify/srtpgate");

void bm_classify_dpdk(benchmark::State& state) {
  Frames f;
  uint32_t ptype[kBurst];
  uint16_t ip_sum[kBurst];
  for (auto _ : state) {
    for (unsigned k = 0; k < kBurst; ++k) {
      rte_net_hdr_lens lens;
      ptype[k] = rte_net_get_ptype(&f.mbufs[k], &lens, RTE_PTYPE_ALL_MASK);
      const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(f.frame[k] + lens.l2_len);
      ip_sum[k] = rte_ipv4_cksum(ip);
    }
    benchmark::DoNotOptimize(ptype);
    benchmark::DoNotOptimize(ip_sum);
    benchmark::ClobberMemory();
  }
  for (uint32_t p : ptype) {
    if ((p & RTE_PTYPE_L4_MASK) != RTE_PTYPE_L4_UDP) state.SkipWithError("not parsed as UDP");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
}
BENCHMARK(bm_classify_dpdk)->Name("classify/dpdk_ptype_ipv4_cksum");

void bm_rewrite(benchmark::State& state) {
  Frames f;
  const EgressTemplate t = make_template();
  uint8_t* out[kBurst];
  for (auto _ : state) {
    for (unsigned k = 0; k < kBurst; ++k) {
      out[k] = write_egress_headers(t, f.frame[k] + t.len, kRtpBytes, UdpChecksum::software);
    }
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  checksums_valid(f, state);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
}
BENCHMARK(bm_rewrite)->Name("rewrite/srtpgate");

void bm_rewrite_dpdk(benchmark::State& state) {
  Frames f;
  const EgressTemplate t = make_template();
  for (auto _ : state) {
    for (unsigned k = 0; k < kBurst; ++k) {
      uint8_t* frame = f.frame[k];
      std::memcpy(frame, t.bytes.data(), 42);
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame + 14);
      auto* udp = reinterpret_cast<rte_udp_hdr*>(frame + 34);
      ip->total_length = rte_cpu_to_be_16(20 + 8 + kRtpBytes);
      udp->dgram_len = rte_cpu_to_be_16(8 + kRtpBytes);
      ip->hdr_checksum = 0;
      ip->hdr_checksum = rte_ipv4_cksum(ip);
      udp->dgram_cksum = 0;
      udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    }
    benchmark::ClobberMemory();
  }
  checksums_valid(f, state);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
}
BENCHMARK(bm_rewrite_dpdk)->Name("rewrite/dpdk_cksum");

}  // namespace
}  // namespace srtpgate::dp::detail

BENCHMARK_MAIN();
