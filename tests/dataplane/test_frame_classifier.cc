// Tests of classify_frame: every kind over IPv4/IPv6 with and without a VLAN tag, every drop
// reason the classifier produces, every truncation of valid frames, and a fixed-seed mutation
// loop. Frames are built here with an independent RFC 1071 checksum, and each classified frame
// lives in its own exactly-sized heap buffer so ASan catches any read past `len`.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "frame_classifier.h"
#include "srtpgate/dp/counters.h"
#include "srtpgate/dp/flow.h"

namespace srtpgate::dp::detail {
namespace {

using Bytes = std::vector<uint8_t>;

// RFC 1071 §4.1, written over big-endian 16-bit words, independent of the code under test.
uint32_t ref_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  }
  if (n % 2 != 0) {
    sum += static_cast<uint32_t>(p[n - 1] << 8);
  }
  return sum;
}

uint16_t ref_complement(uint32_t sum) {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(~sum);
}

void put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}
uint16_t get16(const Bytes& b, size_t off) {
  return static_cast<uint16_t>(b[off] << 8 | b[off + 1]);
}

constexpr std::array<uint8_t, 16> kV4Src = {198, 18, 1, 1};
constexpr std::array<uint8_t, 16> kV4Dst = {198, 18, 0, 1};
constexpr std::array<uint8_t, 16> kV6Src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                            0,    0,    0,    0,    0, 0, 0, 2};
constexpr std::array<uint8_t, 16> kV6Dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                            0,    0,    0,    0,    0, 0, 0, 1};
constexpr uint16_t kSrcPort = 5000;
constexpr uint16_t kDstPort = 4000;
constexpr uint16_t kPortId = 3;

struct Spec {
  int ip_version = 4;
  bool vlan = false;
  uint16_t tci = 0x2064;  // PCP 1, VLAN 100
  uint8_t proto = 17;
  Bytes payload;             // UDP payload, or the whole L4 part when proto != 17
  bool udp_checksum = true;  // false: send 0
  size_t ipv4_options = 0;   // bytes of IPv4 options (multiple of 4)
};

struct Layout {
  size_t l3 = 0;
  size_t l4 = 0;
};

Layout layout_of(const Spec& s) {
  Layout l;
  l.l3 = s.vlan ? 18 : 14;
  l.l4 = l.l3 + (s.ip_version == 4 ? 20 + s.ipv4_options : 40);
  return l;
}

// Recomputes the IPv4 header checksum of a frame laid out as `l`.
void fix_ipv4_checksum(Bytes& f, const Layout& l) {
  const size_t ihl = static_cast<size_t>(f[l.l3] & 0x0f) * 4;
  put16(f, l.l3 + 10, 0);
  put16(f, l.l3 + 10, ref_complement(ref_sum(&f[l.l3], ihl)));
}

// RFC 768 / RFC 8200 §8.1 pseudo-header + UDP header + payload, by the UDP length field.
uint16_t ref_udp_checksum(const Bytes& f, const Layout& l, int ip_version) {
  const uint16_t udp_len = get16(f, l.l4 + 4);
  uint32_t sum = ip_version == 4 ? ref_sum(&f[l.l3 + 12], 8) : ref_sum(&f[l.l3 + 8], 32);
  sum += 17;
  sum += udp_len;
  Bytes seg(f.begin() + static_cast<ptrdiff_t>(l.l4),
            f.begin() + static_cast<ptrdiff_t>(l.l4 + udp_len));
  seg[6] = 0;
  seg[7] = 0;
  sum = ref_sum(seg.data(), seg.size(), sum);
  const uint16_t c = ref_complement(sum);
  return c == 0 ? 0xffff : c;
}

void fix_udp_checksum(Bytes& f, const Layout& l, int ip_version) {
  put16(f, l.l4 + 6, ref_udp_checksum(f, l, ip_version));
}

Bytes build(const Spec& s) {
  const Layout l = layout_of(s);
  const size_t l4_len = s.proto == 17 ? 8 + s.payload.size() : s.payload.size();
  Bytes f(l.l4 + l4_len, 0);
  const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  const uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(&f[0], dst_mac, 6);
  std::memcpy(&f[6], src_mac, 6);
  size_t et = 12;
  if (s.vlan) {
    put16(f, 12, 0x8100);
    put16(f, 14, s.tci);
    et = 16;
  }
  uint8_t* ip = &f[l.l3];
  if (s.ip_version == 4) {
    put16(f, et, 0x0800);
    ip[0] = static_cast<uint8_t>(0x40 | (5 + s.ipv4_options / 4));
    put16(f, l.l3 + 2, static_cast<uint16_t>(l.l4 - l.l3 + l4_len));
    put16(f, l.l3 + 4, 0x1234);  // ID
    ip[8] = 64;
    ip[9] = s.proto;
    std::memcpy(ip + 12, kV4Src.data(), 4);
    std::memcpy(ip + 16, kV4Dst.data(), 4);
    for (size_t i = 0; i < s.ipv4_options; ++i) {
      ip[20 + i] = 1;  // NOP options (RFC 791 §3.1)
    }
    fix_ipv4_checksum(f, l);
  } else {
    put16(f, et, 0x86dd);
    ip[0] = 0x60;
    put16(f, l.l3 + 4, static_cast<uint16_t>(l4_len));
    ip[6] = s.proto;
    ip[7] = 64;
    std::memcpy(ip + 8, kV6Src.data(), 16);
    std::memcpy(ip + 24, kV6Dst.data(), 16);
  }
  if (s.proto == 17) {
    put16(f, l.l4, kSrcPort);
    put16(f, l.l4 + 2, kDstPort);
    put16(f, l.l4 + 4, static_cast<uint16_t>(l4_len));
    std::copy(s.payload.begin(), s.payload.end(), f.begin() + static_cast<ptrdiff_t>(l.l4 + 8));
    if (s.udp_checksum) {
      fix_udp_checksum(f, l, s.ip_version);
    }
  } else {
    std::copy(s.payload.begin(), s.payload.end(), f.begin() + static_cast<ptrdiff_t>(l.l4));
  }
  return f;
}

Bytes rtp_payload(size_t n = 172, uint8_t second = 0x60) {
  Bytes p;
  p.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // V=2 and payload type 96 (or `second`) in front of a filler pattern.
    p.push_back(i == 0 ? uint8_t{0x80} : i == 1 ? second : static_cast<uint8_t>(i * 7 + 3));
  }
  return p;
}
Bytes rtcp_payload() {
  Bytes p = rtp_payload(28, 200);  // SR
  p[2] = 0;
  p[3] = 6;
  return p;
}
Bytes stun_payload() {
  Bytes p(20, 0);
  p[1] = 0x01;  // Binding request
  p[4] = 0x21;  // magic cookie
  p[5] = 0x12;
  p[6] = 0xa4;
  p[7] = 0x42;
  return p;
}
Bytes dtls_payload() {
  Bytes p(13 + 20, 0x5a);
  p[0] = 22;  // handshake
  p[1] = 0xfe;
  p[2] = 0xfd;
  return p;
}
Bytes icmp_echo() {
  Bytes p(16, 0);
  p[0] = 8;
  return p;
}
Bytes icmpv6_echo() {
  Bytes p(16, 0);
  p[0] = 128;
  return p;
}
Bytes arp_frame(bool vlan) {
  Bytes f(vlan ? 46 : 42, 0);
  size_t et = 12;
  if (vlan) {
    put16(f, 12, 0x8100);
    put16(f, 14, 100);
    et = 16;
  }
  std::memset(f.data(), 0xff, 6);
  put16(f, et, 0x0806);
  put16(f, et + 2, 1);       // Ethernet
  put16(f, et + 4, 0x0800);  // IPv4
  f[et + 6] = 6;
  f[et + 7] = 4;
  put16(f, et + 8, 1);  // request
  return f;
}

using Classifier = void (*)(const uint8_t*, uint32_t, uint16_t, ChecksumHint, ChecksumHint,
                           ParsedFrame&) noexcept;

// Classifies a copy of `f` (or its first `n` bytes) held in an exactly-sized heap buffer.
ParsedFrame classify(const Bytes& f, size_t n, ChecksumHint ip = ChecksumHint::unknown,
                     ChecksumHint l4 = ChecksumHint::unknown,
                     Classifier classifier = &classify_frame) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[n]);
  if (n != 0) {
    std::memcpy(buf.get(), f.data(), n);
  }
  ParsedFrame out;
  std::memset(static_cast<void*>(&out), 0xa5,
              sizeof(out));  // the classifier must set every field it reports
  classifier(buf.get(), static_cast<uint32_t>(n), kPortId, ip, l4, out);
  return out;
}
ParsedFrame classify(const Bytes& f, ChecksumHint ip = ChecksumHint::unknown,
                     ChecksumHint l4 = ChecksumHint::unknown) {
  return classify(f, f.size(), ip, l4);
}

std::string describe(const ParsedFrame& p) {
  static const char* const kKinds[] = {"rtp", "rtcp", "stun", "dtls", "control", "drop"};
  std::string s = kKinds[static_cast<int>(p.kind)];
  if (p.kind == FrameKind::drop) {
    s.append("(");
    s.append(name(p.drop));
    s.append(")");
  }
  return s;
}

// --- every kind, IPv4/IPv6 x untagged/tagged ------------------------------------------------

class ClassifyKinds : public ::testing::TestWithParam<std::tuple<int, bool>> {
 protected:
  Spec spec(Bytes payload, uint8_t proto = 17) const {
    Spec s;
    s.ip_version = std::get<0>(GetParam());
    s.vlan = std::get<1>(GetParam());
    s.proto = proto;
    s.payload = std::move(payload);
    return s;
  }
  void expect_udp(const Spec& s, FrameKind kind) const {
    const Bytes f = build(s);
    const ParsedFrame p = classify(f);
    ASSERT_EQ(p.kind, kind) << describe(p);
    const Layout l = layout_of(s);
    EXPECT_EQ(p.ip_version, s.ip_version);
    EXPECT_EQ(p.vlan_tci, s.vlan ? s.tci : 0);
    EXPECT_EQ(p.payload_offset, l.l4 + 8);
    EXPECT_EQ(p.payload_len, s.payload.size());
    EXPECT_EQ(0, std::memcmp(&f[p.payload_offset], s.payload.data(), s.payload.size()));

    FlowKey k;
    std::memset(static_cast<void*>(&k), 0, sizeof(k));
    k.family = static_cast<uint8_t>(s.ip_version);
    k.port_id = kPortId;
    k.vlan = s.vlan ? s.tci & 0x0fff : 0;  // the VID, without the priority bits
    k.local_port = kDstPort;
    k.remote_port = kSrcPort;
    if (s.ip_version == 4) {
      std::memcpy(k.local_addr.data(), kV4Dst.data(), 4);
      std::memcpy(k.remote_addr.data(), kV4Src.data(), 4);
    } else {
      k.local_addr = kV6Dst;
      k.remote_addr = kV6Src;
    }
    EXPECT_EQ(0, std::memcmp(&p.key, &k, sizeof(k)));  // includes reserved and unused bytes
  }
};

TEST_P(ClassifyKinds, Rtp) { expect_udp(spec(rtp_payload()), FrameKind::rtp); }
TEST_P(ClassifyKinds, RtpMinimal) { expect_udp(spec(rtp_payload(12)), FrameKind::rtp); }
TEST_P(ClassifyKinds, RtpOddLength) { expect_udp(spec(rtp_payload(173)), FrameKind::rtp); }
TEST_P(ClassifyKinds, Rtcp) { expect_udp(spec(rtcp_payload()), FrameKind::rtcp); }
TEST_P(ClassifyKinds, RtcpMinimal) { expect_udp(spec(rtp_payload(8, 201)), FrameKind::rtcp); }
TEST_P(ClassifyKinds, Stun) { expect_udp(spec(stun_payload()), FrameKind::stun); }
TEST_P(ClassifyKinds, Dtls) { expect_udp(spec(dtls_payload()), FrameKind::dtls); }

// The flow key carries the tag's VLAN id without its priority bits; a priority tag (VID 0,
// IEEE 802.1Q §9.6) is an untagged frame's key.
TEST_P(ClassifyKinds, FlowKeyHasTheVlanIdAlone) {
  for (const uint16_t tci : {0x0001, 0xe0c8, 0x0ffe, 0x6000}) {  // VID 1, 200 (PCP 7), 4094, 0
    Spec s = spec(rtp_payload());
    s.vlan = true;
    s.tci = tci;
    const ParsedFrame p = classify(build(s));
    ASSERT_EQ(p.kind, FrameKind::rtp) << describe(p);
    EXPECT_EQ(p.vlan_tci, tci);
    EXPECT_EQ(p.key.vlan, tci & 0x0fff) << std::hex << tci;
  }
}

TEST_P(ClassifyKinds, IcmpIsControl) {
  const Spec s = std::get<0>(GetParam()) == 4 ? spec(icmp_echo(), 1) : spec(icmpv6_echo(), 58);
  const ParsedFrame p = classify(build(s));
  EXPECT_EQ(p.kind, FrameKind::control) << describe(p);
  EXPECT_EQ(p.ip_version, s.ip_version);
  EXPECT_EQ(p.vlan_tci, s.vlan ? s.tci : 0);
  EXPECT_EQ(p.key.port_id, kPortId);
}

TEST_P(ClassifyKinds, ArpIsControl) {
  const bool vlan = std::get<1>(GetParam());
  const ParsedFrame p = classify(arp_frame(vlan));
  EXPECT_EQ(p.kind, FrameKind::control) << describe(p);
  EXPECT_EQ(p.ip_version, 0);
  EXPECT_EQ(p.vlan_tci, vlan ? 100 : 0);
}

TEST_P(ClassifyKinds, EthernetPaddingIgnored) {
  Spec s = spec(rtp_payload(12));
  Bytes f = build(s);
  f.resize(f.size() + 30, 0xee);
  const ParsedFrame p = classify(f);
  ASSERT_EQ(p.kind, FrameKind::rtp) << describe(p);
  EXPECT_EQ(p.payload_len, 12);
}

TEST_P(ClassifyKinds, UdpShorterThanIpPayloadUsesUdpLength) {
  // RFC 768: UDP length may be less than the IP payload; the rest is not ours.
  Spec s = spec(rtp_payload(40));
  const Layout l = layout_of(s);
  Bytes f = build(s);
  put16(f, l.l4 + 4, 8 + 20);
  fix_udp_checksum(f, l, s.ip_version);
  const ParsedFrame p = classify(f);
  ASSERT_EQ(p.kind, FrameKind::rtp) << describe(p);
  EXPECT_EQ(p.payload_len, 20);
}

TEST_P(ClassifyKinds, EveryTruncationIsDroppedWithinBounds) {
  const Spec specs[] = {spec(rtp_payload()), spec(rtp_payload(12)), spec(rtcp_payload()),
                        spec(stun_payload()), spec(dtls_payload())};
  for (const Spec& s : specs) {
    const Bytes f = build(s);
    for (size_t n = 0; n < f.size(); ++n) {
      const ParsedFrame p = classify(f, n);
      ASSERT_NE(p.kind, FrameKind::rtp) << "prefix " << n;
      // The IP length no longer fits, so every strict prefix is a drop.
      ASSERT_EQ(p.kind, FrameKind::drop) << "prefix " << n << " " << describe(p);
      const Drop expected = n < layout_of(s).l3 ? Drop::frame_malformed : Drop::ip_malformed;
      ASSERT_EQ(p.drop, expected) << "prefix " << n << " " << describe(p);
    }
  }
  // ICMP and ARP prefixes: within bounds, never fast-path.
  for (const Bytes& f :
       {build(std::get<0>(GetParam()) == 4 ? spec(icmp_echo(), 1) : spec(icmpv6_echo(), 58)),
        arp_frame(std::get<1>(GetParam()))}) {
    for (size_t n = 0; n < f.size(); ++n) {
      const ParsedFrame p = classify(f, n);
      ASSERT_TRUE(p.kind == FrameKind::drop || p.kind == FrameKind::control) << describe(p);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(IpAndVlan, ClassifyKinds,
                         ::testing::Combine(::testing::Values(4, 6), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == 4 ? "IPv4" : "IPv6") +
                                  (std::get<1>(info.param) ? "Vlan" : "Untagged");
                         });

// --- RFC 7983 §7 / RFC 5761 §4 boundaries ---------------------------------------------------

TEST(ClassifyDemux, FirstByteRanges) {
  struct Case {
    uint8_t b0;
    FrameKind kind;
  };
  const Case cases[] = {
      {0, FrameKind::stun},   {3, FrameKind::stun},  {4, FrameKind::drop},  {19, FrameKind::drop},
      {20, FrameKind::dtls},  {63, FrameKind::dtls}, {64, FrameKind::drop}, {79, FrameKind::drop},
      {127, FrameKind::drop}, {128, FrameKind::rtp}, {191, FrameKind::rtp}, {192, FrameKind::drop},
      {255, FrameKind::drop},
  };
  for (const Case& c : cases) {
    Spec s;
    s.payload = rtp_payload(20);
    s.payload[0] = c.b0;
    const ParsedFrame p = classify(build(s));
    EXPECT_EQ(p.kind, c.kind) << "first byte " << int{c.b0} << ": " << describe(p);
    if (c.kind == FrameKind::drop) {
      EXPECT_EQ(p.drop, Drop::unknown_payload) << int{c.b0};
    }
  }
}

TEST(ClassifyDemux, SecondByteSeparatesRtcp) {
  const std::pair<uint8_t, FrameKind> cases[] = {
      {0, FrameKind::rtp},    {96, FrameKind::rtp},   {191, FrameKind::rtp}, {192, FrameKind::rtcp},
      {200, FrameKind::rtcp}, {223, FrameKind::rtcp}, {224, FrameKind::rtp}, {255, FrameKind::rtp},
  };
  for (const auto& [b1, kind] : cases) {
    Spec s;
    s.payload = rtp_payload(20, b1);
    const ParsedFrame p = classify(build(s));
    EXPECT_EQ(p.kind, kind) << "second byte " << int{b1} << ": " << describe(p);
  }
}

TEST(ClassifyDemux, ShortRtpAndRtcp) {
  for (size_t n = 1; n < 12; ++n) {
    Spec s;
    s.payload = rtp_payload(n);
    const ParsedFrame p = classify(build(s));
    EXPECT_EQ(describe(p), "drop(srtp_malformed)") << "RTP payload of " << n;
  }
  for (size_t n = 2; n < 8; ++n) {
    Spec s;
    s.payload = rtp_payload(n, 200);
    const ParsedFrame p = classify(build(s));
    EXPECT_EQ(describe(p), "drop(srtp_malformed)") << "RTCP payload of " << n;
  }
  Spec s;
  s.payload = rtp_payload(11, 200);  // 11 bytes is enough for RTCP, not for RTP
  EXPECT_EQ(describe(classify(build(s))), "rtcp");
}

TEST(ClassifyDemux, Ipv4OptionsAllowed) {
  Spec s;
  s.ipv4_options = 8;
  s.payload = rtp_payload();
  const ParsedFrame p = classify(build(s));
  ASSERT_EQ(p.kind, FrameKind::rtp) << describe(p);
  EXPECT_EQ(p.payload_offset, 14 + 28 + 8);
  EXPECT_EQ(p.key.local_port, kDstPort);
}

// --- every drop reason ----------------------------------------------------------------------

struct DropCase {
  const char* name;
  Drop drop;
  Bytes frame;
};

std::vector<DropCase> drop_cases() {
  std::vector<DropCase> cases;
  auto v4 = [](Bytes payload = rtp_payload()) {
    Spec s;
    s.payload = std::move(payload);
    return s;
  };
  auto v6 = [](Bytes payload = rtp_payload()) {
    Spec s;
    s.ip_version = 6;
    s.payload = std::move(payload);
    return s;
  };
  const Layout l4 = layout_of(v4());  // untagged IPv4: l3 14, l4 34
  const Layout l6 = layout_of(v6());  // untagged IPv6: l3 14, l4 54

  cases.push_back({"empty", Drop::frame_malformed, {}});
  cases.push_back({"13 bytes", Drop::frame_malformed, Bytes(13, 0x11)});
  {
    Bytes f = build(v4());
    put16(f, 12, 0x8100);
    f.resize(17);
    cases.push_back({"vlan tag cut short", Drop::frame_malformed, f});
  }
  {
    Bytes f(14, 0);
    put16(f, 12, 0x86dd);
    cases.push_back({"ipv6 ethertype with nothing after", Drop::ip_malformed, f});
  }
  {
    Bytes f = build(v4());
    put16(f, 12, 0x88cc);  // LLDP
    cases.push_back({"lldp", Drop::not_ip, f});
  }
  {
    Spec s = v4();
    s.vlan = true;
    Bytes f = build(s);
    put16(f, 12, 0x88a8);  // 802.1ad outer tag
    cases.push_back({"qinq 0x88a8 outer", Drop::not_ip, f});
  }
  {
    Spec s = v4();
    s.vlan = true;
    Bytes f = build(s);
    f.insert(f.begin() + 16, {0x81, 0x00, 0x00, 0x05});  // a second 802.1Q tag
    cases.push_back({"two 802.1q tags", Drop::not_ip, f});
  }
  {
    Spec s = v4();
    s.vlan = true;
    Bytes f = build(s);
    f.insert(f.begin() + 16, {0x88, 0xa8, 0x00, 0x05});
    cases.push_back({"802.1q then 802.1ad", Drop::not_ip, f});
  }
  {
    Bytes f = build(v4());
    f[14] = 0x65;  // version 6 in an IPv4 ethertype
    fix_ipv4_checksum(f, l4);
    cases.push_back({"ipv4 bad version", Drop::ip_malformed, f});
  }
  {
    Bytes f = build(v4());
    f[14] = 0x44;  // IHL 4
    cases.push_back({"ipv4 ihl 4", Drop::ip_malformed, f});
  }
  {
    Bytes f = build(v4());
    put16(f, 16, 19);  // total length below IHL*4
    fix_ipv4_checksum(f, l4);
    cases.push_back({"ipv4 total < ihl", Drop::ip_malformed, f});
  }
  {
    Bytes f = build(v4());
    put16(f, 16, static_cast<uint16_t>(get16(f, 16) + 1));  // one byte more than the frame
    fix_ipv4_checksum(f, l4);
    cases.push_back({"ipv4 total > frame", Drop::ip_malformed, f});
  }
  {
    Bytes f = build(v4());
    f.resize(14 + 19);
    cases.push_back({"ipv4 header cut short", Drop::ip_malformed, f});
  }
  {
    Bytes f = build(v4());
    f[14 + 8] = 63;  // TTL changed, checksum not updated
    cases.push_back({"ipv4 checksum", Drop::ip_checksum, f});
  }
  {
    Bytes f = build(v4());
    put16(f, 14 + 6, 0x2000);  // MF
    fix_ipv4_checksum(f, l4);
    cases.push_back({"ipv4 more fragments", Drop::ip_fragment, f});
  }
  {
    Bytes f = build(v4());
    put16(f, 14 + 6, 0x4000 | 0x0001);  // DF + offset 8
    fix_ipv4_checksum(f, l4);
    cases.push_back({"ipv4 fragment offset", Drop::ip_fragment, f});
  }
  {
    Spec s = v4(Bytes(20, 0));
    s.proto = 6;  // TCP
    cases.push_back({"ipv4 tcp", Drop::not_udp, build(s)});
  }
  {
    Spec s = v6(Bytes(20, 0));
    s.proto = 6;
    cases.push_back({"ipv6 tcp", Drop::not_udp, build(s)});
  }
  {
    Spec s = v6(Bytes(16, 0));
    s.proto = 0;  // hop-by-hop options: extension headers are not parsed
    cases.push_back({"ipv6 extension header", Drop::not_udp, build(s)});
  }
  {
    Bytes f = build(v6());
    f[14] = 0x40;
    cases.push_back({"ipv6 bad version", Drop::ip_malformed, f});
  }
  {
    Bytes f = build(v6());
    put16(f, 14 + 4, static_cast<uint16_t>(get16(f, 14 + 4) + 1));
    cases.push_back({"ipv6 payload length > frame", Drop::ip_malformed, f});
  }
  {
    Bytes f = build(v6());
    f.resize(14 + 39);
    cases.push_back({"ipv6 header cut short", Drop::ip_malformed, f});
  }
  {
    // IPv4 payload of 7 bytes: no room for a UDP header.
    Spec s = v4(Bytes(7, 0));
    s.proto = 17;
    Bytes f = build(s);
    f.resize(l4.l4 + 7);
    put16(f, 16, 20 + 7);
    fix_ipv4_checksum(f, l4);
    cases.push_back({"ipv4 udp header cut short", Drop::udp_malformed, f});
  }
  {
    Bytes f = build(v4());
    put16(f, l4.l4 + 4, 7);
    cases.push_back({"ipv4 udp length < 8", Drop::udp_malformed, f});
  }
  {
    Bytes f = build(v4());
    put16(f, l4.l4 + 4, static_cast<uint16_t>(get16(f, l4.l4 + 4) + 1));
    cases.push_back({"ipv4 udp length > ip payload", Drop::udp_malformed, f});
  }
  {
    Bytes f = build(v6());
    put16(f, l6.l4 + 4, static_cast<uint16_t>(get16(f, l6.l4 + 4) + 1));
    cases.push_back({"ipv6 udp length > ip payload", Drop::udp_malformed, f});
  }
  {
    Bytes f = build(v6());
    put16(f, 14 + 4, 0);  // a jumbogram-style zero payload length
    cases.push_back({"ipv6 payload length 0", Drop::udp_malformed, f});
  }
  {
    Bytes f = build(v4());
    f.back() ^= 0x01;
    cases.push_back({"ipv4 udp checksum", Drop::udp_checksum, f});
  }
  {
    Bytes f = build(v6());
    f.back() ^= 0x01;
    cases.push_back({"ipv6 udp checksum", Drop::udp_checksum, f});
  }
  {
    Spec s = v6();
    s.udp_checksum = false;
    cases.push_back({"ipv6 zero udp checksum", Drop::udp_checksum, build(s)});
  }
  cases.push_back({"empty udp payload", Drop::unknown_payload, build(v4(Bytes{}))});
  cases.push_back({"turn channel data", Drop::unknown_payload, build(v4(Bytes(20, 0x40)))});
  cases.push_back({"rtp too short", Drop::srtp_malformed, build(v6(rtp_payload(11)))});
  cases.push_back({"rtcp too short", Drop::srtp_malformed, build(v6(rtp_payload(7, 200)))});
  cases.push_back({"one rtp byte", Drop::srtp_malformed, build(v4(rtp_payload(1)))});
  return cases;
}

TEST(ClassifyDrops, EachCaseHasExactlyItsReason) {
  for (const DropCase& c : drop_cases()) {
    const ParsedFrame p = classify(c.frame);
    EXPECT_EQ(p.kind, FrameKind::drop) << c.name << ": " << describe(p);
    EXPECT_EQ(p.drop, c.drop) << c.name << ": " << describe(p);
    EXPECT_EQ(p.key.port_id, kPortId) << c.name;
    EXPECT_EQ(p.key.reserved, decltype(p.key.reserved){}) << c.name;
  }
}

TEST(ClassifyDrops, EveryClassifierReasonIsCovered) {
  const std::set<Drop> expected = {
      Drop::frame_malformed, Drop::not_ip,         Drop::ip_malformed,  Drop::ip_checksum,
      Drop::ip_fragment,     Drop::not_udp,        Drop::udp_malformed, Drop::udp_checksum,
      Drop::unknown_payload, Drop::srtp_malformed,
  };
  std::set<Drop> covered;
  for (const DropCase& c : drop_cases()) {
    covered.insert(c.drop);
  }
  EXPECT_EQ(covered, expected);
}

// --- checksum hints -------------------------------------------------------------------------

TEST(ClassifyHints, Ipv4HeaderChecksum) {
  Spec s;
  s.payload = rtp_payload();
  Bytes bad = build(s);
  bad[14 + 8] = 1;  // TTL changed without updating the checksum
  EXPECT_EQ(describe(classify(bad)), "drop(ip_checksum)");
  EXPECT_EQ(describe(classify(bad, ChecksumHint::good)), "rtp");
  const Bytes good = build(s);
  EXPECT_EQ(describe(classify(good, ChecksumHint::bad)), "drop(ip_checksum)");
  EXPECT_EQ(describe(classify(good, ChecksumHint::unknown)), "rtp");
}

TEST(ClassifyHints, UdpChecksum) {
  for (int version : {4, 6}) {
    Spec s;
    s.ip_version = version;
    s.payload = rtp_payload();
    Bytes bad = build(s);
    bad.back() ^= 0x80;
    EXPECT_EQ(describe(classify(bad)), "drop(udp_checksum)") << version;
    EXPECT_EQ(describe(classify(bad, ChecksumHint::unknown, ChecksumHint::good)), "rtp") << version;
    const Bytes good = build(s);
    EXPECT_EQ(describe(classify(good, ChecksumHint::unknown, ChecksumHint::bad)),
              "drop(udp_checksum)")
        << version;
  }
}

TEST(ClassifyHints, ZeroUdpChecksum) {
  Spec s;
  s.payload = rtp_payload();
  s.udp_checksum = false;
  EXPECT_EQ(describe(classify(build(s))), "rtp");  // RFC 768: no checksum computed
  s.ip_version = 6;
  // RFC 8200 §8.1: discarded even if the NIC calls it good.
  EXPECT_EQ(describe(classify(build(s))), "drop(udp_checksum)");
  EXPECT_EQ(describe(classify(build(s), ChecksumHint::unknown, ChecksumHint::good)),
            "drop(udp_checksum)");
}

TEST(ClassifyHints, ComputedZeroSentAsAllOnes) {
  // Pick the last payload word so that the checksum computes to 0; it is sent as 0xffff.
  Spec s;
  s.payload = rtp_payload(20);
  s.payload[18] = 0;
  s.payload[19] = 0;
  Bytes f = build(s);
  const Layout l = layout_of(s);
  put16(f, l.l4 + 6, 0);
  uint32_t sum = ref_sum(&f[l.l3 + 12], 8) + 17 + get16(f, l.l4 + 4);
  sum = ref_sum(&f[l.l4], 28, sum);
  const uint16_t folded = static_cast<uint16_t>(~ref_complement(sum));
  put16(f, f.size() - 2, static_cast<uint16_t>(0xffff - folded));
  ASSERT_EQ(ref_complement(ref_sum(&f[l.l4], 28, ref_sum(&f[l.l3 + 12], 8) + 17 + 28)), 0);
  put16(f, l.l4 + 6, 0xffff);
  EXPECT_EQ(describe(classify(f)), "rtp");
}

// --- fixed-seed mutation --------------------------------------------------------------------

// True if a frame the classifier accepted under software checksums verifies with the
// reference implementation (differential check).
bool ref_checksums_ok(const Bytes& f, const ParsedFrame& p) {
  const size_t l3 = get16(f, 12) == 0x8100 ? 18 : 14;
  const size_t l4 = p.payload_offset - 8;
  if (p.ip_version == 4) {
    const size_t ihl = static_cast<size_t>(f[l3] & 0x0f) * 4;
    if (ref_complement(ref_sum(&f[l3], ihl)) != 0) {
      return false;
    }
  }
  const uint16_t cks = get16(f, l4 + 6);
  if (p.ip_version == 4 && cks == 0) {
    return true;
  }
  const uint16_t udp_len = get16(f, l4 + 4);
  uint32_t sum = p.ip_version == 4 ? ref_sum(&f[l3 + 12], 8) : ref_sum(&f[l3 + 8], 32);
  sum += 17 + udp_len;
  sum = ref_sum(&f[l4], udp_len, sum);
  return ref_complement(sum) == 0;
}

// One to four random changes to `base` (a frame built from `spec`): any byte, a header byte, a
// bit of the UDP length or checksum or of the first payload bytes, or a new length; half the
// time the checksums are then repaired so that deeper paths are reached.
Bytes mutated(const Spec& spec, const Bytes& base, std::mt19937& rng) {
  Bytes f = base;
  const Layout l = layout_of(spec);
  const int mutations = 1 + static_cast<int>(rng() % 4);
  for (int m = 0; m < mutations; ++m) {
    switch (rng() % 4) {
      case 0:  // anywhere
        f[rng() % f.size()] = static_cast<uint8_t>(rng());
        break;
      case 1: {  // headers only
        const size_t at = rng() % (l.l4 + 8);
        if (at < f.size()) {
          f[at] = static_cast<uint8_t>(rng());
        }
        break;
      }
      case 2: {  // flip one bit of the UDP length/checksum or the first payload bytes
        const size_t at = rng() % 2 ? l.l4 + 4 + rng() % 4 : l.l4 + 8 + rng() % 2;
        if (at < f.size()) {
          f[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        }
        break;
      }
      default:  // truncate or extend
        if (rng() % 2) {
          f.resize(rng() % (f.size() + 1));
        } else {
          f.resize(f.size() + rng() % 64, static_cast<uint8_t>(rng()));
        }
        break;
    }
    if (f.empty()) {
      break;
    }
  }
  // Half the time repair the checksums so that deeper paths are reached.
  if (rng() % 2 && f.size() >= l.l4 + 8) {
    if (spec.ip_version == 4 && l.l3 + static_cast<size_t>(f[l.l3] & 0x0f) * 4 <= f.size()) {
      fix_ipv4_checksum(f, l);
    }
    if (l.l4 + get16(f, l.l4 + 4) <= f.size() && get16(f, l.l4 + 4) >= 8) {
      fix_udp_checksum(f, l, spec.ip_version);
    }
  }
  return f;
}

TEST(ClassifyFuzz, FixedSeedMutations) {
  std::vector<std::pair<Spec, Bytes>> bases;
  for (int version : {4, 6}) {
    for (bool vlan : {false, true}) {
      for (const Bytes& payload :
           {rtp_payload(), rtp_payload(12), rtcp_payload(), stun_payload(), dtls_payload()}) {
        Spec s;
        s.ip_version = version;
        s.vlan = vlan;
        s.payload = payload;
        bases.emplace_back(s, build(s));
      }
    }
  }
  std::mt19937 rng(20260401);
  constexpr int kFrames = 200000;
  int fast_path = 0;
  for (int i = 0; i < kFrames; ++i) {
    const auto& [spec, base] = bases[rng() % bases.size()];
    const Bytes f = mutated(spec, base, rng);
    const auto ip_hint = static_cast<ChecksumHint>(rng() % 3);
    const auto l4_hint = static_cast<ChecksumHint>(rng() % 3);
    const ParsedFrame p = classify(f, f.size(), ip_hint, l4_hint);

    ASSERT_LE(static_cast<int>(p.kind), static_cast<int>(FrameKind::drop)) << i;
    ASSERT_EQ(p.key.port_id, kPortId) << i;
    ASSERT_EQ(p.key.reserved, decltype(p.key.reserved){}) << i;
    if (p.kind == FrameKind::drop) {
      ASSERT_LT(static_cast<size_t>(p.drop), kDropCount) << i;
      continue;
    }
    if (p.kind == FrameKind::control) {
      continue;
    }
    ++fast_path;
    ASSERT_TRUE(p.ip_version == 4 || p.ip_version == 6) << i;
    ASSERT_EQ(p.key.family, p.ip_version) << i;
    ASSERT_GE(p.payload_len, 1) << i;
    ASSERT_LE(size_t{p.payload_offset} + p.payload_len, f.size()) << i;
    if (p.kind == FrameKind::rtp) {
      ASSERT_GE(p.payload_len, 12) << i;
    }
    if (p.kind == FrameKind::rtcp) {
      ASSERT_GE(p.payload_len, 8) << i;
    }
    if (ip_hint == ChecksumHint::unknown && l4_hint == ChecksumHint::unknown) {
      ASSERT_TRUE(ref_checksums_ok(f, p)) << i << " " << describe(p);
    }
  }
  // The loop must exercise the accepting paths, not only early drops.
  EXPECT_GT(fast_path, kFrames / 10);
}

// classify_frame finishes the common frame (untagged IPv4 without options, UDP, RTP or RTCP) in
// a shortcut and hands everything else to classify_frame_general. The two must agree field for
// field on every input: mutations of frames in and around the shortcut's domain, under every
// pair of checksum hints.
TEST(ClassifyFuzz, ShortcutAgreesWithGeneralParser) {
  std::vector<std::pair<Spec, Bytes>> bases;
  for (const Bytes& payload : {rtp_payload(), rtp_payload(12), rtp_payload(11), rtcp_payload(),
                               rtp_payload(8, 201), stun_payload()}) {
    Spec s;
    s.payload = payload;
    bases.emplace_back(s, build(s));
    s.udp_checksum = false;
    bases.emplace_back(s, build(s));
  }
  Spec options;
  options.payload = rtp_payload();
  options.ipv4_options = 4;
  bases.emplace_back(options, build(options));
  Spec tagged;
  tagged.payload = rtp_payload();
  tagged.vlan = true;
  bases.emplace_back(tagged, build(tagged));

  constexpr ChecksumHint kHints[] = {ChecksumHint::unknown, ChecksumHint::good,
                                     ChecksumHint::bad, ChecksumHint::deferred};
  std::mt19937 rng(20261129);
  constexpr int kFrames = 40000;
  int accepted = 0;
  for (int i = 0; i < kFrames; ++i) {
    const auto& [spec, base] = bases[rng() % bases.size()];
    const Bytes f = rng() % 8 == 0 ? base : mutated(spec, base, rng);
    for (ChecksumHint ip : kHints) {
      for (ChecksumHint l4 : kHints) {
        const ParsedFrame a = classify(f, f.size(), ip, l4);
        const ParsedFrame b = classify(f, f.size(), ip, l4, &classify_frame_general);
        ASSERT_EQ(describe(a), describe(b)) << i;
        ASSERT_EQ(a.ip_version, b.ip_version) << i;
        ASSERT_EQ(a.vlan_tci, b.vlan_tci) << i;
        ASSERT_EQ(a.l3_offset, b.l3_offset) << i;
        ASSERT_EQ(a.payload_offset, b.payload_offset) << i;
        ASSERT_EQ(a.payload_len, b.payload_len) << i;
        ASSERT_EQ(0, std::memcmp(&a.key, &b.key, sizeof(a.key))) << i;
        accepted += a.kind == FrameKind::rtp || a.kind == FrameKind::rtcp;
      }
    }
  }
  // Most comparisons must be of frames the shortcut can take, not of early drops.
  EXPECT_GT(accepted, kFrames * 16 / 10);
}

}  // namespace
}  // namespace srtpgate::dp::detail
