// Tests of the egress header templates: validation messages, the exact header bytes, a round trip
// through classify_frame, checksums against an independent RFC 1071 implementation, and the
// offload pseudo-header sum against DPDK's rte_ipv4_phdr_cksum / rte_ipv6_phdr_cksum.
#include <gtest/gtest.h>
#include <rte_ip.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "frame_classifier.h"
#include "header_rewrite.h"
#include "ones_sum.h"
#include "srtpgate/dp/counters.h"
#include "srtpgate/dp/flow.h"

namespace srtpgate::dp::detail {
namespace {

using Bytes = std::vector<uint8_t>;

// RFC 1071 §4.1 over big-endian 16-bit words, independent of the code under test.
uint32_t ref_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  }
  if (n % 2 != 0) {
    sum += static_cast<uint32_t>(p[n - 1] << 8);
  }
  return sum;
}
uint16_t ref_fold(uint32_t sum) {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.family = 4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}
IpAddress v6(uint8_t last) {
  IpAddress ip;
  ip.family = 6;
  ip.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, last};
  return ip;
}

constexpr std::array<uint8_t, 6> kSrcMac = {0x02, 0x00, 0x5e, 0x10, 0x20, 0x30};
constexpr std::array<uint8_t, 6> kDstMac = {0x02, 0x00, 0x5e, 0x40, 0x50, 0x60};

NextHop make_hop(int family, uint16_t vlan) {
  NextHop h;
  h.port_id = 1;
  h.dst_mac = kDstMac;
  h.src_addr = family == 4 ? v4(203, 0, 113, 7) : v6(7);
  h.dst_addr = family == 4 ? v4(198, 51, 100, 9) : v6(9);
  h.src_port = 40000;
  h.dst_port = 5004;
  h.vlan_id = vlan;
  return h;
}

// n >= 2: V=2, payload type 96, then a filler pattern.
Bytes rtp_payload(size_t n) {
  Bytes p;
  p.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    p.push_back(i == 0 ? uint8_t{0x80} : i == 1 ? uint8_t{0x60} : static_cast<uint8_t>(i * 13 + 5));
  }
  return p;
}

// A packet buffer with headroom for the template; the written frame ends exactly at the end of
// the heap allocation so ASan sees any overrun by the classifier.
struct Packet {
  std::unique_ptr<uint8_t[]> buf;
  uint8_t* frame = nullptr;
  size_t len = 0;
};

constexpr size_t kHeadroom = 128;

Packet write(const EgressTemplate& t, const Bytes& payload, UdpChecksum mode) {
  Packet pkt;
  pkt.buf.reset(new uint8_t[kHeadroom + payload.size()]);
  std::memset(pkt.buf.get(), 0xcc, kHeadroom);
  std::memcpy(pkt.buf.get() + kHeadroom, payload.data(), payload.size());
  pkt.frame = write_egress_headers(t, pkt.buf.get() + kHeadroom,
                                   static_cast<uint16_t>(payload.size()), mode);
  pkt.len = t.len + payload.size();
  return pkt;
}

// --- validation -----------------------------------------------------------------------------

TEST(EgressTemplate, RejectsInvalidNextHops) {
  struct Case {
    const char* name;
    NextHop hop;
    const char* word;  // the message must name what is wrong
  };
  std::vector<Case> cases;
  {
    NextHop h = make_hop(4, 0);
    h.dst_addr = v6(1);
    cases.push_back({"mixed families", h, "family"});
  }
  {
    NextHop h = make_hop(6, 0);
    h.dst_addr = v4(1, 2, 3, 4);
    cases.push_back({"mixed families 6/4", h, "family"});
  }
  {
    NextHop h = make_hop(4, 0);
    h.src_addr.family = 5;
    h.dst_addr.family = 5;
    cases.push_back({"family 5", h, "IPv4 or IPv6"});
  }
  {
    NextHop h = make_hop(4, 4095);
    cases.push_back({"vlan 4095", h, "VLAN"});
  }
  {
    NextHop h = make_hop(6, 0xffff);
    cases.push_back({"vlan 65535", h, "VLAN"});
  }
  {
    NextHop h = make_hop(4, 0);
    h.src_port = 0;
    cases.push_back({"src port 0", h, "source UDP port"});
  }
  {
    NextHop h = make_hop(6, 0);
    h.dst_port = 0;
    cases.push_back({"dst port 0", h, "destination UDP port"});
  }
  {
    NextHop h = make_hop(4, 10);
    h.dst_mac = {};
    cases.push_back({"zero mac", h, "MAC"});
  }
  for (const Case& c : cases) {
    const Result<EgressTemplate> r = build_egress_template(c.hop, kSrcMac);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.message().find(c.word), std::string::npos) << c.name << ": " << r.message();
    EXPECT_NE(r.message().find("next hop"), std::string::npos) << r.message();
  }
}

TEST(EgressTemplate, AcceptsVlanBounds) {
  for (uint16_t vlan : {0, 1, 4094}) {
    const Result<EgressTemplate> r = build_egress_template(make_hop(4, vlan), kSrcMac);
    ASSERT_TRUE(r.ok()) << vlan << ": " << r.message();
    EXPECT_EQ(r->len, vlan == 0 ? 42 : 46);
  }
}

// --- IPv4/IPv6 x untagged/tagged ------------------------------------------------------------

class Rewrite : public ::testing::TestWithParam<std::tuple<int, uint16_t>> {
 protected:
  int family() const { return std::get<0>(GetParam()); }
  uint16_t vlan() const { return std::get<1>(GetParam()); }
  NextHop hop() const { return make_hop(family(), vlan()); }
  EgressTemplate tmpl() const {
    Result<EgressTemplate> r = build_egress_template(hop(), kSrcMac);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? r.value() : EgressTemplate{};
  }
};

TEST_P(Rewrite, TemplateLayout) {
  const EgressTemplate t = tmpl();
  const size_t l2 = vlan() != 0 ? 18 : 14;
  const size_t l3 = family() == 4 ? 20 : 40;
  EXPECT_EQ(t.l2_len, l2);
  EXPECT_EQ(t.l3_len, l3);
  EXPECT_EQ(t.len, l2 + l3 + 8);
  EXPECT_EQ(t.ip_version, family());

  const Bytes payload = rtp_payload(100);
  const Packet pkt = write(t, payload, UdpChecksum::software);
  const uint8_t* f = pkt.frame;
  EXPECT_EQ(f, pkt.buf.get() + kHeadroom - t.len);
  EXPECT_EQ(0, std::memcmp(f, kDstMac.data(), 6));
  EXPECT_EQ(0, std::memcmp(f + 6, kSrcMac.data(), 6));
  if (vlan() != 0) {
    EXPECT_EQ(get16(f + 12), 0x8100);
    EXPECT_EQ(get16(f + 14), vlan());  // PCP 0, DEI 0
  }
  EXPECT_EQ(get16(f + l2 - 2), family() == 4 ? 0x0800 : 0x86dd);
  const uint8_t* ip = f + l2;
  const uint8_t* udp = ip + l3;
  if (family() == 4) {
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(ip[1], 0);
    EXPECT_EQ(get16(ip + 2), 20 + 8 + 100);
    EXPECT_EQ(get16(ip + 4), 0);       // ID
    EXPECT_EQ(get16(ip + 6), 0x4000);  // DF
    EXPECT_EQ(ip[8], 64);
    EXPECT_EQ(ip[9], 17);
    EXPECT_EQ(0, std::memcmp(ip + 12, hop().src_addr.bytes.data(), 4));
    EXPECT_EQ(0, std::memcmp(ip + 16, hop().dst_addr.bytes.data(), 4));
  } else {
    EXPECT_EQ(ip[0], 0x60);
    EXPECT_EQ(ip[1], 0);
    EXPECT_EQ(get16(ip + 2), 0);  // flow label
    EXPECT_EQ(get16(ip + 4), 8 + 100);
    EXPECT_EQ(ip[6], 17);
    EXPECT_EQ(ip[7], 64);
    EXPECT_EQ(0, std::memcmp(ip + 8, hop().src_addr.bytes.data(), 16));
    EXPECT_EQ(0, std::memcmp(ip + 24, hop().dst_addr.bytes.data(), 16));
  }
  EXPECT_EQ(get16(udp), 40000);
  EXPECT_EQ(get16(udp + 2), 5004);
  EXPECT_EQ(get16(udp + 4), 8 + 100);
  EXPECT_EQ(0, std::memcmp(udp + 8, payload.data(), payload.size()));
}

TEST_P(Rewrite, RoundTripThroughClassifier) {
  const EgressTemplate t = tmpl();
  for (size_t n : {12, 13, 20, 172, 173, 1200, 1400}) {
    const Bytes payload = rtp_payload(n);
    const Packet pkt = write(t, payload, UdpChecksum::software);
    ParsedFrame p;
    classify_frame(pkt.frame, static_cast<uint32_t>(pkt.len), 7, ChecksumHint::unknown,
                   ChecksumHint::unknown, p);
    ASSERT_EQ(p.kind, FrameKind::rtp)
        << n << " " << (p.kind == FrameKind::drop ? std::string(name(p.drop)) : std::string("?"));
    EXPECT_EQ(p.ip_version, family());
    EXPECT_EQ(p.vlan_tci, vlan());
    EXPECT_EQ(p.payload_offset, t.len);
    EXPECT_EQ(p.payload_len, n);
    EXPECT_EQ(0, std::memcmp(pkt.frame + p.payload_offset, payload.data(), n));
    // The receiver's view: our next hop's address is its local address.
    EXPECT_EQ(p.key.port_id, 7);
    EXPECT_EQ(p.key.family, family());
    EXPECT_EQ(p.key.local_port, 5004);
    EXPECT_EQ(p.key.remote_port, 40000);
    EXPECT_EQ(p.key.local_addr, hop().dst_addr.bytes);
    EXPECT_EQ(p.key.remote_addr, hop().src_addr.bytes);
    EXPECT_EQ(p.key.reserved, decltype(p.key.reserved){});
  }
}

TEST_P(Rewrite, ChecksumsMatchReferenceForEveryLength) {
  const EgressTemplate t = tmpl();
  const size_t l3 = t.l3_len;
  for (size_t n = 1; n <= 1500; n += (n < 64 ? 1 : 37)) {
    Bytes payload = rtp_payload(n);
    const Packet pkt = write(t, payload, UdpChecksum::software);
    const uint8_t* ip = pkt.frame + t.l2_len;
    const uint8_t* udp = ip + l3;
    if (family() == 4) {
      // RFC 791 §3.1: the header, checksum included, sums to all ones.
      ASSERT_EQ(ref_fold(ref_sum(ip, 20)), 0xffff) << n;
    }
    // RFC 768 / RFC 8200 §8.1: recompute with the checksum field zeroed and compare.
    Bytes seg(udp, udp + 8 + n);
    seg[6] = seg[7] = 0;
    uint32_t sum = family() == 4 ? ref_sum(ip + 12, 8) : ref_sum(ip + 8, 32);
    sum += 17 + static_cast<uint32_t>(8 + n);
    sum = ref_sum(seg.data(), seg.size(), sum);
    uint16_t expected = static_cast<uint16_t>(~ref_fold(sum));
    if (expected == 0) {
      expected = 0xffff;
    }
    ASSERT_EQ(get16(udp + 6), expected) << n;
  }
}

TEST_P(Rewrite, ComputedZeroIsSentAsAllOnes) {
  const EgressTemplate t = tmpl();
  // Choose the last payload word so the RFC 768 checksum computes to zero.
  Bytes payload = rtp_payload(40);
  payload[38] = payload[39] = 0;
  const Packet first = write(t, payload, UdpChecksum::software);
  const uint8_t* ip = first.frame + t.l2_len;
  uint32_t sum = family() == 4 ? ref_sum(ip + 12, 8) : ref_sum(ip + 8, 32);
  sum += 17 + 48;
  Bytes seg(ip + t.l3_len, ip + t.l3_len + 48);
  seg[6] = seg[7] = 0;
  const uint16_t folded = ref_fold(ref_sum(seg.data(), seg.size(), sum));
  const auto word = static_cast<uint16_t>(0xffff - folded);
  payload[38] = static_cast<uint8_t>(word >> 8);
  payload[39] = static_cast<uint8_t>(word);
  const Packet pkt = write(t, payload, UdpChecksum::software);
  const uint8_t* udp = pkt.frame + t.l2_len + t.l3_len;
  EXPECT_EQ(get16(udp + 6), 0xffff);
  ParsedFrame p;
  classify_frame(pkt.frame, static_cast<uint32_t>(pkt.len), 0, ChecksumHint::unknown,
                 ChecksumHint::unknown, p);
  EXPECT_EQ(p.kind, FrameKind::rtp);
}

TEST_P(Rewrite, OffloadWritesDpdkPseudoHeaderSum) {
  const EgressTemplate t = tmpl();
  for (size_t n : {12, 13, 160, 1200}) {
    const Bytes payload = rtp_payload(n);
    const Packet pkt = write(t, payload, UdpChecksum::offload);
    const uint8_t* ip = pkt.frame + t.l2_len;
    uint8_t* udp = pkt.frame + t.l2_len + t.l3_len;
    uint16_t written;
    std::memcpy(&written, udp + 6, 2);
    uint16_t dpdk;
    if (family() == 4) {
      rte_ipv4_hdr h;
      std::memcpy(&h, ip, sizeof(h));
      dpdk = rte_ipv4_phdr_cksum(&h, 0);
      ASSERT_EQ(ref_fold(ref_sum(ip, 20)), 0xffff) << n;  // IPv4 header checksum is still ours
    } else {
      rte_ipv6_hdr h;
      std::memcpy(&h, ip, sizeof(h));
      dpdk = rte_ipv6_phdr_cksum(&h, 0);
    }
    EXPECT_EQ(written, dpdk) << n;

    // What the NIC does next (sum the UDP header and payload over the seeded field and
    // complement) must give the software checksum.
    const Packet sw = write(t, payload, UdpChecksum::software);
    const uint8_t* sw_udp = sw.frame + t.l2_len + t.l3_len;
    uint16_t nic = static_cast<uint16_t>(~ref_fold(ref_sum(udp, 8 + n)));
    if (nic == 0) {
      nic = 0xffff;
    }
    EXPECT_EQ(nic, get16(sw_udp + 6)) << n;
  }
}

TEST_P(Rewrite, TemplateIsReusableAcrossPackets) {
  // The fast path writes the same template over and over; earlier writes must not leak.
  const EgressTemplate t = tmpl();
  const Bytes a = rtp_payload(1400);
  const Bytes b = rtp_payload(20);
  const Packet pa = write(t, a, UdpChecksum::software);
  const Packet pb = write(t, b, UdpChecksum::software);
  const Packet pb2 = write(t, b, UdpChecksum::software);
  EXPECT_EQ(0, std::memcmp(pb.frame, pb2.frame, pb.len));
  ParsedFrame p;
  classify_frame(pb.frame, static_cast<uint32_t>(pb.len), 0, ChecksumHint::unknown,
                 ChecksumHint::unknown, p);
  EXPECT_EQ(p.kind, FrameKind::rtp);
  EXPECT_EQ(p.payload_len, 20);
  (void)pa;
}

// A forwarded payload: its sum is read from the verified ingress checksum
// (payload_sum_of_verified), and the egress frame written with it must be byte for byte the one
// written by summing the payload. Ingress in either family (this suite's template is the egress),
// every length class, random bytes and the payloads whose sum is one of the two zeros, and an
// IPv4 ingress without a checksum (zero, RFC 768).
TEST_P(Rewrite, ForwardedPayloadSumFromIngressChecksumGivesTheSameFrame) {
  const EgressTemplate out = tmpl();
  std::mt19937 rng(1624);
  for (int in_family : {4, 6}) {
    NextHop in_hop = make_hop(in_family, 0);
    in_hop.src_port = 5006;
    in_hop.dst_port = 49170;
    const Result<EgressTemplate> in = build_egress_template(in_hop, kDstMac);
    ASSERT_TRUE(in.ok()) << in.message();
    // Random bytes, all 0x00 after the RTP bytes, all 0xff, and random bytes with one word set
    // so that the payload sums to a zero.
    for (int fill = 0; fill < 4; ++fill) {
      for (size_t n = 12; n <= 1500; n += (n < 80 ? 1 : 29)) {
        Bytes payload = rtp_payload(n);
        for (size_t i = 2; i < n; ++i) {
          payload[i] = fill == 1 ? 0x00 : fill == 2 ? 0xff : static_cast<uint8_t>(rng());
        }
        if (fill == 3) {
          const size_t word = n % 2 == 0 ? n - 2 : n - 3;  // a whole 16-bit word
          payload[word] = payload[word + 1] = 0;
          const auto w = static_cast<uint16_t>(0xffff - rte_raw_cksum(payload.data(), n));
          std::memcpy(&payload[word], &w, 2);
          ASSERT_EQ(rte_raw_cksum(payload.data(), n) % 0xffff, 0);
        }
        for (bool no_checksum : {false, true}) {
          if (no_checksum && in_family == 6) continue;  // RFC 8200 §8.1: IPv6 must have one
          SCOPED_TRACE(::testing::Message() << "ingress IPv" << in_family << " fill " << fill
                                            << " length " << n << " no checksum " << no_checksum);
          const Packet rx = write(in.value(), payload, UdpChecksum::software);
          if (no_checksum) {
            rx.frame[in.value().len - 2] = rx.frame[in.value().len - 1] = 0;
          }
          ParsedFrame p;
          classify_frame(rx.frame, static_cast<uint32_t>(rx.len), 3, ChecksumHint::unknown,
                         ChecksumHint::unknown, p);
          ASSERT_EQ(p.kind, FrameKind::rtp);
          const uint16_t sum = payload_sum_of_verified(rx.frame, p);
          // Congruent modulo 0xffff to DPDK's sum of the payload: equal, or the other zero.
          const uint16_t dpdk = rte_raw_cksum(payload.data(), n);
          ASSERT_TRUE(sum == dpdk || (sum % 0xffff == 0 && dpdk % 0xffff == 0))
              << std::hex << sum << " " << dpdk;

          const Packet want = write(out, payload, UdpChecksum::software);
          Packet got;
          got.buf.reset(new uint8_t[kHeadroom + n]);
          std::memcpy(got.buf.get() + kHeadroom, payload.data(), n);
          got.frame = write_egress_headers(out, got.buf.get() + kHeadroom, static_cast<uint16_t>(n),
                                           UdpChecksum::software_known_sum, sum);
          ASSERT_EQ(0, std::memcmp(got.frame, want.frame, want.len));
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(IpAndVlan, Rewrite,
                         ::testing::Combine(::testing::Values(4, 6),
                                            ::testing::Values(uint16_t{0}, uint16_t{100},
                                                              uint16_t{4094})),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == 4 ? "IPv4" : "IPv6") +
                                  "Vlan" + std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace srtpgate::dp::detail

namespace srtpgate::dp::detail {
namespace {

using SumFn = uint16_t (*)(const uint8_t*, std::size_t);

// Each body of the wide-word sum must equal DPDK's 16-bit one for every length and alignment
// (RFC 1071 §2), including 0xffff words, whose carries the folding must keep.
void expect_equals_dpdk(SumFn sum) {
  std::mt19937 rng(99);
  std::vector<uint8_t> buf(2048 + 16);
  for (int round = 0; round < 20; ++round) {
    for (auto& b : buf) b = static_cast<uint8_t>(round == 0 ? 0xff : rng());
    for (std::size_t off = 0; off < 8; ++off) {
      for (std::size_t n = 0; n <= 1600; n += (n < 160 ? 1 : 7)) {
        ASSERT_EQ(sum(buf.data() + off, n), rte_raw_cksum(buf.data() + off, n))
            << "offset " << off << " length " << n << " round " << round;
      }
    }
  }
}

// The sum reads the buffer and nothing after it: the buffer ends where an inaccessible page
// starts, so a read past its end faults (a masked tail load must not).
void expect_reads_only_the_buffer(SumFn sum) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto* base = static_cast<uint8_t*>(map);
  ASSERT_EQ(mprotect(base + page, page, PROT_NONE), 0);
  for (std::size_t i = 0; i < page; ++i) base[i] = static_cast<uint8_t>(i * 7 + 1);
  for (std::size_t n = 0; n <= 300; ++n) {
    const uint8_t* p = base + page - n;
    EXPECT_EQ(sum(p, n), rte_raw_cksum(p, n)) << "length " << n;
  }
  munmap(map, 2 * page);
}

TEST(OnesSum, DispatchedEqualsDpdkRawChecksumForEveryLengthAndAlignment) {
  expect_equals_dpdk(&ones_sum);
}

TEST(OnesSum, PortableEqualsDpdkRawChecksumForEveryLengthAndAlignment) {
  expect_equals_dpdk(&ones_sum_portable);
}

TEST(OnesSum, PortableReadsOnlyTheBuffer) { expect_reads_only_the_buffer(&ones_sum_portable); }

#if defined(SRTPGATE_ONES_SUM_AVX512)
TEST(OnesSum, Avx512EqualsDpdkRawChecksumForEveryLengthAndAlignment) {
  if (!kOnesSumAvx512) GTEST_SKIP() << "this CPU has no AVX-512BW";
  expect_equals_dpdk(&ones_sum_avx512);
}

TEST(OnesSum, Avx512ReadsOnlyTheBuffer) {
  if (!kOnesSumAvx512) GTEST_SKIP() << "this CPU has no AVX-512BW";
  expect_reads_only_the_buffer(&ones_sum_avx512);
}
#endif

// Sums longer than any frame, all-ones words first (the largest lane values): either side of
// the length up to which the AVX-512 body reduces in 32 bits, against a 64-bit reference
// (rte_raw_cksum's 32-bit accumulator overflows at these lengths).
TEST(OnesSum, LongBuffersEitherSideOfTheNarrowReduction) {
  std::mt19937 rng(4);
  const std::size_t limit = 2048 * 64;
  std::vector<uint8_t> buf(3 * limit + 7);
  for (int round = 0; round < 2; ++round) {
    for (auto& b : buf) b = static_cast<uint8_t>(round == 0 ? 0xff : rng());
    for (std::size_t n : {limit - 64, limit - 1, limit, limit + 1, limit + 64, 3 * limit + 7}) {
      uint64_t ref = 0;
      for (std::size_t i = 0; i + 1 < n; i += 2) {
        ref += static_cast<uint16_t>(buf[i] | buf[i + 1] << 8);  // memory order, as DPDK's
      }
      if (n % 2 != 0) ref += buf[n - 1];
      while (ref >> 16) ref = (ref & 0xffff) + (ref >> 16);
      EXPECT_EQ(ones_sum(buf.data(), n), ref) << "length " << n << " round " << round;
      EXPECT_EQ(ones_sum_portable(buf.data(), n), ref) << "length " << n << " round " << round;
#if defined(SRTPGATE_ONES_SUM_AVX512)
      if (kOnesSumAvx512) {
        EXPECT_EQ(ones_sum_avx512(buf.data(), n), ref) << "length " << n << " round " << round;
      }
#endif
    }
  }
}

}  // namespace
}  // namespace srtpgate::dp::detail
