// srtpgate-pcap pieces: checksums, hostile frames, option rules, encrypt/decrypt round trips
// over synthetic captures (VLAN, IPv6, Linux cooked SLL/SLL2, raw IP) written with libpcap, the
// command line's exit statuses and messages on bad input and failing output, and keys read from
// files, pipes and stdin (--key-file) against the bundled ffmpeg capture.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "capture_io.h"
#include "checksum.h"
#include "cli.h"
#include "frame_parser.h"
#include "frame_writer.h"
#include "key_options.h"
#include "pipeline.h"
#include "text.h"

namespace srtpgate::app {
namespace {

using Bytes = std::vector<uint8_t>;

// --- An independent frame builder (its own checksum code) -------------------------------------

uint16_t ref_checksum(const Bytes& b) {
  uint32_t s = 0;
  for (std::size_t i = 0; i < b.size(); i += 2) {
    s += (uint32_t{b[i]} << 8) | (i + 1 < b.size() ? b[i + 1] : 0);
  }
  while (s >> 16) {
    s = (s & 0xffff) + (s >> 16);
  }
  return static_cast<uint16_t>(~s);
}

void put16(Bytes& b, std::size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
uint16_t get16(const Bytes& b, std::size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

struct FrameSpec {
  int dlt = DLT_EN10MB;
  int ip = 4;
  bool vlan = false;
  bool zero_udp_checksum = false;
  uint16_t sport = 40000;
  uint16_t dport = 5004;
  uint16_t ipv4_frag = 0;  // flags/offset field
};

Bytes make_frame(const FrameSpec& s, const Bytes& payload) {
  Bytes link;
  const uint16_t etype = s.ip == 4 ? 0x0800 : 0x86DD;
  if (s.dlt == DLT_EN10MB) {
    link = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
    if (s.vlan) {
      link.insert(link.end(), {0x81, 0x00, 0x20, 0x2a});  // PCP 1, VID 42
    }
    link.push_back(static_cast<uint8_t>(etype >> 8));
    link.push_back(static_cast<uint8_t>(etype));
  } else if (s.dlt == DLT_LINUX_SLL) {
    link = {0, 0, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 1, 0, 0};
    link.push_back(static_cast<uint8_t>(etype >> 8));
    link.push_back(static_cast<uint8_t>(etype));
  } else if (s.dlt == DLT_LINUX_SLL2) {
    link = {static_cast<uint8_t>(etype >> 8),
            static_cast<uint8_t>(etype),
            0,
            0,
            0,
            0,
            0,
            3,
            0,
            1,
            0,
            6,
            0x02,
            0,
            0,
            0,
            0,
            1,
            0,
            0};
  }
  Bytes udp(8);
  put16(udp, 0, s.sport);
  put16(udp, 2, s.dport);
  put16(udp, 4, static_cast<uint16_t>(8 + payload.size()));
  udp.insert(udp.end(), payload.begin(), payload.end());
  Bytes ip;
  Bytes pseudo;
  if (s.ip == 4) {
    ip = {0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2};
    put16(ip, 2, static_cast<uint16_t>(20 + udp.size()));
    put16(ip, 6, s.ipv4_frag);
    put16(ip, 10, ref_checksum(ip));
    pseudo = {198, 18, 0, 1, 198, 18, 0, 2, 0, 17, 0, 0};
    put16(pseudo, 10, static_cast<uint16_t>(udp.size()));
  } else {
    ip = Bytes(40);
    ip[0] = 0x60;
    put16(ip, 4, static_cast<uint16_t>(udp.size()));
    ip[6] = 17;
    ip[7] = 64;
    ip[8] = 0x20;  // 2001:db8::1 -> 2001:db8::2
    ip[9] = 0x01;
    ip[10] = 0x0d;
    ip[11] = 0xb8;
    std::copy(ip.begin() + 8, ip.begin() + 24, ip.begin() + 24);
    ip[23] = 1;
    ip[39] = 2;
    pseudo.assign(ip.begin() + 8, ip.begin() + 40);
    pseudo.insert(pseudo.end(), {0, 0, 0, 0, 0, 0, 0, 17});
    put16(pseudo, 34, static_cast<uint16_t>(udp.size()));
  }
  if (!s.zero_udp_checksum || s.ip == 6) {
    Bytes all = pseudo;
    all.insert(all.end(), udp.begin(), udp.end());
    uint16_t c = ref_checksum(all);
    put16(udp, 6, c == 0 ? 0xffff : c);
  }
  Bytes f = link;
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), udp.begin(), udp.end());
  return f;
}

Bytes make_rtp(uint32_t ssrc, uint16_t seq, std::size_t payload_len) {
  Bytes p = {0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  put16(p, 2, seq);
  p[4] = static_cast<uint8_t>(seq >> 4);
  for (int i = 0; i < 4; ++i) {
    p[8 + i] = static_cast<uint8_t>(ssrc >> (24 - 8 * i));
  }
  for (std::size_t i = 0; i < payload_len; ++i) {
    p.push_back(static_cast<uint8_t>(seq * 7 + i));
  }
  return p;
}

Bytes make_rtcp_sr(uint32_t ssrc) {
  Bytes p(28);
  p[0] = 0x80;
  p[1] = 200;
  put16(p, 2, 6);
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = static_cast<uint8_t>(ssrc >> (24 - 8 * i));
  }
  p[27] = 0x42;
  return p;
}

// Checks the IPv4 header checksum and the UDP checksum of a frame with the test's own code.
void expect_checksums_valid(LinkType link, const Bytes& f) {
  auto p = parse_frame(link, f);
  ASSERT_TRUE(p.frame.has_value());
  const ParsedFrame& pf = *p.frame;
  Bytes pseudo;
  const std::size_t udp_len = 8 + pf.payload_len;
  if (pf.ip_version == 4) {
    Bytes h(f.begin() + pf.ip_offset, f.begin() + pf.udp_offset);
    EXPECT_EQ(ref_checksum(h), 0) << "IPv4 header checksum";
    EXPECT_EQ(get16(f, pf.ip_offset + 2), pf.udp_offset - pf.ip_offset + udp_len);
    pseudo.assign(f.begin() + pf.ip_offset + 12, f.begin() + pf.ip_offset + 20);
    pseudo.insert(pseudo.end(), {0, 17, 0, 0});
    put16(pseudo, 10, static_cast<uint16_t>(udp_len));
    if (pf.udp_checksum_zero) {
      return;
    }
  } else {
    EXPECT_EQ(get16(f, pf.ip_offset + 4), udp_len);
    pseudo.assign(f.begin() + pf.ip_offset + 8, f.begin() + pf.ip_offset + 40);
    pseudo.insert(pseudo.end(), {0, 0, 0, 0, 0, 0, 0, 17});
    put16(pseudo, 34, static_cast<uint16_t>(udp_len));
  }
  EXPECT_EQ(f.size(), pf.payload_offset + pf.payload_len);
  pseudo.insert(pseudo.end(), f.begin() + pf.udp_offset, f.begin() + pf.udp_offset + udp_len);
  EXPECT_EQ(ref_checksum(pseudo), 0) << "UDP checksum";
}

// --- Checksum -------------------------------------------------------------------------------

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement), checksum 220d.
  const Bytes b = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internet_checksum(b), 0x220d);
  const Bytes odd = {0x00, 0x01, 0xf2};
  EXPECT_EQ(internet_checksum(odd), static_cast<uint16_t>(~(0x0001 + 0xf200)));
}

// --- Parser ---------------------------------------------------------------------------------

TEST(FrameParser, FindsPayloadOnEveryLinkType) {
  const Bytes rtp = make_rtp(1, 1, 20);
  struct Case {
    int dlt;
    int ip;
    bool vlan;
    LinkType link;
  };
  for (const Case c : {Case{DLT_EN10MB, 4, false, LinkType::ethernet},
                       Case{DLT_EN10MB, 4, true, LinkType::ethernet},
                       Case{DLT_EN10MB, 6, true, LinkType::ethernet},
                       Case{DLT_LINUX_SLL, 4, false, LinkType::linux_sll},
                       Case{DLT_LINUX_SLL2, 6, false, LinkType::linux_sll2},
                       Case{DLT_RAW, 6, false, LinkType::raw_ip}}) {
    FrameSpec s;
    s.dlt = c.dlt;
    s.ip = c.ip;
    s.vlan = c.vlan;
    Bytes f = make_frame(s, rtp);
    ASSERT_EQ(link_type_from_dlt(c.dlt), c.link);
    auto p = parse_frame(c.link, f);
    ASSERT_TRUE(p.frame.has_value()) << c.dlt << " " << name(p.reason);
    EXPECT_EQ(p.frame->payload_len, rtp.size());
    EXPECT_EQ(Bytes(f.begin() + p.frame->payload_offset, f.end()), rtp);
    EXPECT_EQ(p.frame->flow.dst_port, 5004);
    expect_checksums_valid(c.link, f);
    // Every truncation is refused without reading past the end (ASan checks the "without").
    for (std::size_t n = 0; n < f.size(); ++n) {
      Bytes cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_FALSE(parse_frame(c.link, cut).frame.has_value()) << n;
    }
  }
}

TEST(FrameParser, PassReasons) {
  const Bytes rtp = make_rtp(1, 1, 20);
  FrameSpec s;
  s.ipv4_frag = 0x2000;  // MF
  EXPECT_EQ(parse_frame(LinkType::ethernet, make_frame(s, rtp)).reason, PassReason::ip_fragment);
  s.ipv4_frag = 0x0010;  // offset 128
  EXPECT_EQ(parse_frame(LinkType::ethernet, make_frame(s, rtp)).reason, PassReason::ip_fragment);
  s.ipv4_frag = 0x4000;  // DF only: a whole datagram
  EXPECT_TRUE(parse_frame(LinkType::ethernet, make_frame(s, rtp)).frame.has_value());

  Bytes f = make_frame(FrameSpec{}, rtp);
  Bytes qinq = f;  // a second VLAN tag
  qinq.insert(qinq.begin() + 12, {0x81, 0x00, 0x00, 0x01});
  qinq.insert(qinq.begin() + 12, {0x88, 0xa8, 0x00, 0x02});
  EXPECT_EQ(parse_frame(LinkType::ethernet, qinq).reason, PassReason::not_ip);
  Bytes arp = f;
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(parse_frame(LinkType::ethernet, arp).reason, PassReason::not_ip);
  Bytes tcp = f;
  tcp[14 + 9] = 6;
  EXPECT_EQ(parse_frame(LinkType::ethernet, tcp).reason, PassReason::not_udp);
  Bytes long_udp = f;
  put16(long_udp, 14 + 20 + 4, static_cast<uint16_t>(8 + rtp.size() + 1));
  EXPECT_EQ(parse_frame(LinkType::ethernet, long_udp).reason, PassReason::bad_udp);
  Bytes short_udp = f;
  put16(short_udp, 14 + 20 + 4, 7);
  EXPECT_EQ(parse_frame(LinkType::ethernet, short_udp).reason, PassReason::bad_udp);
  Bytes bad_ihl = f;
  bad_ihl[14] = 0x44;
  EXPECT_EQ(parse_frame(LinkType::ethernet, bad_ihl).reason, PassReason::bad_ip);
  Bytes v6_in_v4 = f;
  v6_in_v4[14] = 0x65;
  EXPECT_EQ(parse_frame(LinkType::ethernet, v6_in_v4).reason, PassReason::bad_ip);

  // IPv6 with a Fragment header, and with a destination-options header before UDP.
  FrameSpec s6;
  s6.ip = 6;
  Bytes v6 = make_frame(s6, rtp);
  Bytes frag = v6;
  frag[14 + 6] = 44;
  frag.insert(frag.begin() + 14 + 40, {17, 0, 0, 0, 0, 0, 0, 1});
  put16(frag, 14 + 4, static_cast<uint16_t>(get16(frag, 14 + 4) + 8));
  EXPECT_EQ(parse_frame(LinkType::ethernet, frag).reason, PassReason::ip_fragment);
  Bytes dopt = frag;
  dopt[14 + 6] = 60;
  auto p = parse_frame(LinkType::ethernet, dopt);
  ASSERT_TRUE(p.frame.has_value());
  EXPECT_EQ(p.frame->udp_offset, 14u + 40 + 8);
  Bytes dopt_long = dopt;
  dopt_long[14 + 40 + 1] = 200;  // extension header longer than the datagram
  EXPECT_EQ(parse_frame(LinkType::ethernet, dopt_long).reason, PassReason::bad_ip);
  Bytes jumbo = v6;
  put16(jumbo, 14 + 4, 0);
  EXPECT_EQ(parse_frame(LinkType::ethernet, jumbo).reason, PassReason::unsupported_ip);
}

TEST(FrameParser, RandomBytesNeverEscapeTheFrame) {
  std::mt19937 rng(20240607);
  FrameSpec s6;
  s6.ip = 6;
  s6.vlan = true;
  const Bytes seeds[] = {make_frame(FrameSpec{}, make_rtp(1, 1, 40)),
                         make_frame(s6, make_rtp(1, 1, 40))};
  for (int i = 0; i < 200000; ++i) {
    Bytes f = seeds[i % 2];
    const int flips = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < flips; ++k) {
      f[rng() % 70] = static_cast<uint8_t>(rng());
    }
    f.resize(rng() % (f.size() + 1));
    for (LinkType l : {LinkType::ethernet, LinkType::linux_sll, LinkType::linux_sll2,
                       LinkType::raw_ip, LinkType::ipv4, LinkType::ipv6}) {
      auto p = parse_frame(l, f);
      if (p.frame) {
        ASSERT_LE(p.frame->payload_offset + p.frame->payload_len, f.size());
        ASSERT_EQ(p.frame->payload_offset, p.frame->udp_offset + 8);
        // Rewriting the headers stays inside the frame too.
        Bytes g = f;
        auto n = finish_frame(g, *p.frame, p.frame->payload_len);
        ASSERT_TRUE(n.has_value());
        ASSERT_LE(*n, g.size());
      }
    }
  }
}

TEST(FrameWriter, GrowAndShrinkFixLengthsAndChecksums) {
  for (int ip : {4, 6}) {
    for (bool zero : {false, true}) {
      FrameSpec s;
      s.ip = ip;
      s.vlan = true;
      s.zero_udp_checksum = zero;
      Bytes f = make_frame(s, make_rtp(7, 9, 100));
      auto p = parse_frame(LinkType::ethernet, f);
      ASSERT_TRUE(p.frame.has_value());
      for (uint32_t len : {12u, 99u, 126u, 1000u}) {
        Bytes g = f;
        g.resize(p.frame->payload_offset + len, 0xab);
        auto n = finish_frame(g, *p.frame, len);
        ASSERT_TRUE(n.has_value());
        g.resize(*n);
        expect_checksums_valid(LinkType::ethernet, g);
        if (ip == 4) {
          EXPECT_EQ(get16(g, g.size() - len - 2) == 0, zero) << "IPv4 zero checksum is kept";
        }
      }
      Bytes g = f;
      EXPECT_FALSE(finish_frame(g, *p.frame, 70000).has_value());
      EXPECT_FALSE(finish_frame(g, *p.frame, p.frame->payload_len + 1).has_value());
    }
  }
}

// --- Options --------------------------------------------------------------------------------

constexpr const char* kKey128 = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

Result<Options> parse(std::vector<const char*> args) { return parse_options(args); }

TEST(KeyOptions, ScopeRules) {
  const std::string key_eq = std::string("--key=") + kKey128;
  auto o = parse({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", kKey128, "--ssrc",
                  "0x10", "--key", kKey128, "--flow", "[2001:db8::1]:*-*:5004", "--profile",
                  "SRTP_AES128_CM_HMAC_SHA1_32", key_eq.c_str(), "in", "out"});
  ASSERT_TRUE(o.ok()) << o.message();
  ASSERT_EQ(o->keys.size(), 3u);
  EXPECT_EQ(o->keys[0].ordinal, 2);  // scoped keys first, in order
  EXPECT_EQ(o->keys[0].ssrc, 0x10u);
  EXPECT_EQ(o->keys[1].ordinal, 3);
  EXPECT_EQ(o->keys[1].profile, srtp::Profile::aes_cm_128_hmac_sha1_32);
  ASSERT_TRUE(o->keys[1].flow.has_value());
  EXPECT_EQ(o->keys[1].flow->src->version, 6);
  EXPECT_FALSE(o->keys[1].flow->src_port.has_value());
  EXPECT_FALSE(o->keys[1].flow->dst.has_value());
  EXPECT_EQ(o->keys[1].flow->dst_port, 5004);
  EXPECT_EQ(o->keys[2].ordinal, 1);  // the default key last
  EXPECT_FALSE(o->keys[2].scoped());
  EXPECT_EQ(o->in_path, "in");
  EXPECT_EQ(o->out_path, "out");
}

TEST(KeyOptions, ClearErrors) {
  const auto err = [](std::vector<const char*> a) {
    auto o = parse(a);
    EXPECT_FALSE(o.ok());
    return o.ok() ? std::string() : o.message();
  };
  const char* p[] = {"--profile", "AES_CM_128_HMAC_SHA1_80"};
  EXPECT_NE(err({"decrypt", "--key", kKey128, "a", "b"}).find("--profile"), std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--key", kKey128, "--key", kKey128, "a", "b"})
                .find("same scope as --key #1"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--key", kKey128, "--ssrc", "1", "a", "b"})
                .find("followed by the --key"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--ssrc", "x1", "--key", kKey128, "a", "b"}).find("--ssrc"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--ssrc", "4294967296", "--key", kKey128, "a", "b"})
                .find("32-bit"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--flow", "1.2.3.4:5-::1:6", "--key", kKey128, "a", "b"})
                .find("brackets"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--flow", "1.2.3.4:5-[::1]:6", "--key", kKey128, "a", "b"})
                .find("mixes"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--flow", "1.2.3.4:70000-*:6", "--key", kKey128, "a", "b"})
                .find("port"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", "--profile", "AES_CM_999", "--key", kKey128, "a", "b"}).find("unknown"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", "--profile", "AEAD_AES_256_GCM", "--key", kKey128, "a", "b"})
                .find("--key #1"),
            std::string::npos);
  EXPECT_NE(err({"shred", p[0], p[1], "--key", kKey128, "a", "b"}).find("mode"), std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--key", kKey128, "a"}).find("IN and OUT"),
            std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "a", "b"}).find("no --key"), std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--key"}).find("needs a value"), std::string::npos);
  EXPECT_NE(err({"decrypt", p[0], p[1], "--key", kKey128, "--frobnicate", "a", "b"})
                .find("unknown option"),
            std::string::npos);
  // Key material never appears in a message.
  const std::string m =
      err({"decrypt", "--profile", "AEAD_AES_256_GCM", "--key", kKey128, "a", "b"});
  EXPECT_EQ(m.find("WVNfX19z"), std::string::npos) << m;
}

TEST(KeyOptions, SameScopeKeysWithMkisShareOneSession) {
  const std::string k1 = std::string(kKey128) + "|1:4";
  const std::string k2 = std::string(kKey128) + "|2:4";
  auto o = parse({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", k1.c_str(), "--key",
                  k2.c_str(), "--ssrc", "9", "--key", k1.c_str(), "--ssrc", "9", "--key",
                  k2.c_str(), "a", "b"});
  ASSERT_TRUE(o.ok()) << o.message();
  ASSERT_EQ(o->keys.size(), 2u);
  EXPECT_EQ(o->keys[0].ssrc, 9u);
  EXPECT_EQ(o->keys[0].more_keys.size(), 1u);
  EXPECT_FALSE(o->keys[1].scoped());
  EXPECT_EQ(o->keys[1].more_keys.size(), 1u);
  auto bad = parse({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--ssrc", "9", "--key",
                    k1.c_str(), "--ssrc", "9", "--key", kKey128, "a", "b"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("MKI"), std::string::npos) << bad.message();
}

TEST(Flow, RtcpOnNextPortMatches) {
  auto f = parse_flow("198.18.0.1:4000-198.18.0.2:5004");
  ASSERT_TRUE(f.ok());
  Flow flow;
  flow.src.version = flow.dst.version = 4;
  flow.src.bytes[0] = flow.dst.bytes[0] = 198;
  flow.src.bytes[1] = flow.dst.bytes[1] = 18;
  flow.src.bytes[3] = 1;
  flow.dst.bytes[3] = 2;
  flow.src_port = 4000;
  flow.dst_port = 5004;
  EXPECT_TRUE(flow_matches(*f, flow, false));
  flow.src_port = 4001;
  flow.dst_port = 5005;
  EXPECT_FALSE(flow_matches(*f, flow, false));
  EXPECT_TRUE(flow_matches(*f, flow, true));
  std::swap(flow.src, flow.dst);
  EXPECT_FALSE(flow_matches(*f, flow, true)) << "flows are directional";
}

// --- Round trips through synthetic captures --------------------------------------------------

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/srtpgate-pcap-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& n) const { return path + "/" + n; }
  std::string path;
};

struct Record {
  timeval ts{};
  Bytes bytes;
  uint32_t wire_len = 0;
};

void write_capture(const std::string& path, int dlt, const std::vector<Record>& recs) {
  pcap_t* dead = pcap_open_dead(dlt, 65535);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  ASSERT_NE(d, nullptr);
  for (const Record& r : recs) {
    pcap_pkthdr h{};
    h.ts = r.ts;
    h.caplen = static_cast<bpf_u_int32>(r.bytes.size());
    h.len = r.wire_len != 0 ? r.wire_len : h.caplen;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, r.bytes.data());
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

std::vector<Record> read_capture(const std::string& path, int* dlt = nullptr) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  EXPECT_NE(p, nullptr) << err;
  std::vector<Record> out;
  if (p == nullptr) {
    return out;
  }
  if (dlt != nullptr) {
    *dlt = pcap_datalink(p);
  }
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) {
    out.push_back({h->ts, Bytes(data, data + h->caplen), h->len});
  }
  pcap_close(p);
  return out;
}

Result<Summary> run_tool(const std::vector<std::string>& args) {
  std::vector<const char*> a;
  for (const auto& s : args) {
    a.push_back(s.c_str());
  }
  auto o = parse_options(a);
  if (!o) {
    return o.error();
  }
  return process_capture(*o);
}

constexpr uint32_t kSsrcA = 0x11111111;  // scoped key
constexpr uint32_t kSsrcB = 0x22222222;  // default key
constexpr const char* kKeyA = "inline:HyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq";

struct RoundTripCase {
  const char* label;
  FrameSpec spec;
  const char* profile;
  const char* key_b;
};

class RoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTrip, EncryptThenDecryptRestoresEveryByte) {
  const RoundTripCase& c = GetParam();
  const LinkType link = *link_type_from_dlt(c.spec.dlt);
  TempDir dir;
  std::vector<Record> plain;
  int sec = 1000;
  const auto add = [&](const Bytes& payload, FrameSpec s) {
    plain.push_back({{sec++, 0}, make_frame(s, payload), 0});
  };
  FrameSpec rtcp_spec = c.spec;
  rtcp_spec.dport = static_cast<uint16_t>(c.spec.dport + 1);
  rtcp_spec.sport = static_cast<uint16_t>(c.spec.sport + 1);
  for (uint16_t i = 0; i < 150; ++i) {  // more than one burst of 64
    add(make_rtp(kSsrcA, static_cast<uint16_t>(65500 + i), 160), c.spec);  // wraps: ROC 1
    add(make_rtp(kSsrcB, i, 20 + i), c.spec);
    if (i % 50 == 0) {
      add(make_rtcp_sr(kSsrcA), rtcp_spec);
      add(make_rtcp_sr(kSsrcB), rtcp_spec);
    }
  }
  // Passed through: a fragment, STUN-like bytes, a runt RTP packet, a truncated frame.
  FrameSpec frag = c.spec;
  frag.ipv4_frag = 0x2000;
  const std::size_t n_frag = c.spec.ip == 4 ? 1 : 0;
  if (n_frag != 0) {
    add(make_rtp(kSsrcA, 1, 100), frag);
  }
  add(Bytes{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4}, c.spec);
  add(Bytes{0x80, 0x00, 0x01}, c.spec);
  Record cut = {{sec++, 0}, make_frame(c.spec, make_rtp(kSsrcA, 5, 300)), 0};
  cut.wire_len = static_cast<uint32_t>(cut.bytes.size());
  cut.bytes.resize(cut.bytes.size() - 50);
  plain.push_back(cut);
  const std::size_t n_rtp = 300;
  const std::size_t n_rtcp = 6;
  const std::size_t n_pass = n_frag + 3;

  const std::string in = dir.file("plain.pcap");
  const std::string enc = dir.file("srtp.pcap");
  const std::string dec = dir.file("decrypted.pcap");
  write_capture(in, c.spec.dlt, plain);
  const std::string ssrc_a = std::to_string(kSsrcA);
  std::vector<std::string> keys = {
      "--profile", c.profile, "--key", c.key_b, "--profile", "AES_CM_128_HMAC_SHA1_80",
      "--ssrc",    ssrc_a,    "--key", kKeyA};

  std::vector<std::string> args = {"encrypt"};
  args.insert(args.end(), keys.begin(), keys.end());
  args.insert(args.end(), {in, enc});
  auto s = run_tool(args);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->frames_read, plain.size());
  EXPECT_EQ(s->rtp_ok, n_rtp);
  EXPECT_EQ(s->rtcp_ok, n_rtcp);
  EXPECT_EQ(s->failed_total(), 0u);
  EXPECT_EQ(s->passed_total(), n_pass);
  EXPECT_EQ(s->passed[static_cast<std::size_t>(PassReason::ip_fragment)], n_frag);
  EXPECT_EQ(s->passed[static_cast<std::size_t>(PassReason::truncated)], 1u);
  EXPECT_EQ(s->passed[static_cast<std::size_t>(PassReason::not_rtp)], 2u);
  ASSERT_EQ(s->per_key.size(), 2u);
  EXPECT_EQ(s->per_key[0].rtp_ok, 150u);  // the scoped key (SSRC A) comes first

  int dlt = 0;
  const auto encrypted = read_capture(enc, &dlt);
  EXPECT_EQ(dlt, c.spec.dlt);
  ASSERT_EQ(encrypted.size(), plain.size());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    const auto p = parse_frame(link, plain[i].bytes);
    EXPECT_EQ(encrypted[i].ts.tv_sec, plain[i].ts.tv_sec);
    if (i >= plain.size() - n_pass) {
      EXPECT_EQ(encrypted[i].bytes, plain[i].bytes) << "passed through unchanged";
      EXPECT_EQ(encrypted[i].wire_len,
                plain[i].wire_len ? plain[i].wire_len : plain[i].bytes.size());
      continue;
    }
    ASSERT_TRUE(p.frame.has_value());
    EXPECT_GT(encrypted[i].bytes.size(), plain[i].bytes.size());
    EXPECT_NE(encrypted[i].bytes, plain[i].bytes);
    EXPECT_EQ(encrypted[i].wire_len, encrypted[i].bytes.size());
    expect_checksums_valid(link, encrypted[i].bytes);
  }

  args[0] = "decrypt";
  args[args.size() - 2] = enc;
  args[args.size() - 1] = dec;
  s = run_tool(args);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok, n_rtp);
  EXPECT_EQ(s->rtcp_ok, n_rtcp);
  EXPECT_EQ(s->failed_total(), 0u);
  const auto decrypted = read_capture(dec);
  ASSERT_EQ(decrypted.size(), plain.size());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(decrypted[i].bytes, plain[i].bytes) << c.label << " frame " << i;
  }

  // The OpenSSL backend encrypts to the same bytes and decrypts IPsec-MB's output.
  auto openssl_args = args;
  openssl_args.insert(openssl_args.begin() + 1, {"--backend", "openssl"});
  s = run_tool(openssl_args);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok + s->rtcp_ok, n_rtp + n_rtcp);
  openssl_args[0] = "encrypt";
  openssl_args[openssl_args.size() - 2] = in;
  openssl_args[openssl_args.size() - 1] = dir.file("openssl.pcap");
  s = run_tool(openssl_args);
  ASSERT_TRUE(s.ok()) << s.message();
  const auto by_openssl = read_capture(dir.file("openssl.pcap"));
  ASSERT_EQ(by_openssl.size(), encrypted.size());
  for (std::size_t i = 0; i < encrypted.size(); ++i) {
    EXPECT_EQ(by_openssl[i].bytes, encrypted[i].bytes) << c.label << " frame " << i;
  }

  // Decrypting the same SRTP again with the keys swapped fails every packet by its tag.
  std::vector<std::string> swapped = {
      "decrypt", "--keep-failed", "--profile", c.profile,   "--ssrc",
      ssrc_a,    "--key",         c.key_b,     "--profile", "AES_CM_128_HMAC_SHA1_80",
      "--key",   kKeyA,           enc,         dec};
  s = run_tool(swapped);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok + s->rtcp_ok, 0u);
  EXPECT_EQ(s->rtp_failed[static_cast<std::size_t>(srtp::Status::auth_failure)], n_rtp);
  EXPECT_EQ(s->rtcp_failed[static_cast<std::size_t>(srtp::Status::auth_failure)], n_rtcp);
  const auto kept = read_capture(dec);
  ASSERT_EQ(kept.size(), encrypted.size());
  for (std::size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(kept[i].bytes, encrypted[i].bytes) << "--keep-failed writes the input bytes";
  }
}

FrameSpec spec(int dlt, int ip, bool vlan, bool zero = false) {
  FrameSpec s;
  s.dlt = dlt;
  s.ip = ip;
  s.vlan = vlan;
  s.zero_udp_checksum = zero;
  return s;
}

constexpr const char* kKey256Gcm =
    "inline:PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGs=";
constexpr const char* kKey128Gcm = "inline:XWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGg==";
constexpr const char* kKey256Cm =
    "inline:fIOKkZifpq20u8LJ0Nfe5ezz+gEIDxYdJCsyOUBHTlVcY2pxeH+GjZSboqmwtw==";

INSTANTIATE_TEST_SUITE_P(
    Links, RoundTrip,
    ::testing::Values(
        RoundTripCase{"ethernet_vlan_ipv4", spec(DLT_EN10MB, 4, true), "AEAD_AES_128_GCM",
                      kKey128Gcm},
        RoundTripCase{"ethernet_ipv6", spec(DLT_EN10MB, 6, false), "AEAD_AES_256_GCM", kKey256Gcm},
        RoundTripCase{"ethernet_vlan_ipv6", spec(DLT_EN10MB, 6, true), "AES_256_CM_HMAC_SHA1_80",
                      kKey256Cm},
        RoundTripCase{"sll_ipv4", spec(DLT_LINUX_SLL, 4, false), "AES_CM_128_HMAC_SHA1_32",
                      kKey128},
        RoundTripCase{"sll_ipv4_no_udp_checksum", spec(DLT_LINUX_SLL, 4, false, true),
                      "AEAD_AES_128_GCM", kKey128Gcm},
        RoundTripCase{"sll2_ipv6", spec(DLT_LINUX_SLL2, 6, false), "AES_256_CM_HMAC_SHA1_32",
                      kKey256Cm},
        RoundTripCase{"raw_ipv4", spec(DLT_RAW, 4, false), "AES_CM_128_HMAC_SHA1_80", kKey128}),
    [](const ::testing::TestParamInfo<RoundTripCase>& i) { return std::string(i.param.label); });

TEST(Pipeline, RefusesUnsupportedLinkTypeAndMissingFiles) {
  TempDir dir;
  const std::string in = dir.file("ppp.pcap");
  write_capture(in, DLT_PPP, {{{1, 0}, Bytes{0xff, 0x03, 0x00, 0x21}, 0}});
  auto s = run_tool({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", kKey128, in,
                     dir.file("out.pcap")});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("link type"), std::string::npos) << s.message();
  s = run_tool({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", kKey128,
                dir.file("missing.pcap"), dir.file("out.pcap")});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing.pcap"), std::string::npos) << s.message();
}

TEST(Pipeline, ShortAndForgedSrtpFailsCleanly) {
  TempDir dir;
  std::vector<Record> recs;
  // Headers that claim more than they have, and SRTP shorter than its tag: the library decides.
  for (std::size_t n = 12; n < 40; ++n) {
    Bytes p = make_rtp(0x33333333, static_cast<uint16_t>(n), n - 12);
    recs.push_back({{1, 0}, make_frame(FrameSpec{}, p), 0});
    Bytes cc = p;
    cc[0] = 0x8f;  // 15 CSRCs that are not there
    recs.push_back({{1, 0}, make_frame(FrameSpec{}, cc), 0});
    Bytes rtcp = make_rtcp_sr(0x33333333);
    rtcp.resize(std::min(n, rtcp.size()));
    recs.push_back({{1, 0}, make_frame(FrameSpec{}, rtcp), 0});
  }
  const std::string in = dir.file("junk.pcap");
  write_capture(in, DLT_EN10MB, recs);
  auto s = run_tool(
      {"decrypt", "--profile", "AEAD_AES_128_GCM", "--key", kKey128Gcm, in, dir.file("out.pcap")});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->frames_read, recs.size());
  EXPECT_EQ(s->rtp_ok + s->rtcp_ok, 0u);
  EXPECT_EQ(s->failed_total() + s->passed_total(), recs.size());
  EXPECT_EQ(s->frames_written, s->passed_total());
}

TEST(Pipeline, RekeyedCaptureDecryptsWithBothMkiKeys) {
  TempDir dir;
  const std::string k1 = std::string(kKeyA) + "|1:4";
  const std::string k2 = std::string(kKey128) + "|2:4";
  std::vector<Record> first;
  std::vector<Record> second;
  for (uint16_t i = 0; i < 100; ++i) {
    (i < 60 ? first : second)
        .push_back({{i, 0}, make_frame(FrameSpec{}, make_rtp(kSsrcA, i, 50)), 0});
  }
  first.push_back({{60, 0}, make_frame(FrameSpec{}, make_rtcp_sr(kSsrcA)), 0});
  // The sender rekeyed after 60 packets: the first part under MKI 1, the rest under MKI 2.
  std::vector<Record> srtp;
  for (const auto& [part, key] : {std::pair{&first, k1}, std::pair{&second, k2}}) {
    write_capture(dir.file("part.pcap"), DLT_EN10MB, *part);
    auto s = run_tool({"encrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", key,
                       dir.file("part.pcap"), dir.file("part-srtp.pcap")});
    ASSERT_TRUE(s.ok()) << s.message();
    for (Record& r : read_capture(dir.file("part-srtp.pcap"))) {
      srtp.push_back(std::move(r));
    }
  }
  write_capture(dir.file("rekeyed.pcap"), DLT_EN10MB, srtp);
  auto s = run_tool({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", k1, "--key", k2,
                     dir.file("rekeyed.pcap"), dir.file("out.pcap")});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok, 100u);
  EXPECT_EQ(s->rtcp_ok, 1u);
  EXPECT_EQ(s->failed_total(), 0u);
  const auto out = read_capture(dir.file("out.pcap"));
  ASSERT_EQ(out.size(), 101u);
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].bytes, (i < first.size() ? first[i] : second[i - first.size()]).bytes);
  }
  s = run_tool({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", k1,
                dir.file("rekeyed.pcap"), dir.file("out.pcap")});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok, 60u);
  EXPECT_EQ(s->rtp_failed[static_cast<std::size_t>(srtp::Status::unknown_mki)], 40u);
}

TEST(Pipeline, FlowScopesSelectIpv6RtpAndItsRtcp) {
  TempDir dir;
  FrameSpec rtp = spec(DLT_LINUX_SLL2, 6, false);
  FrameSpec rtcp = rtp;
  rtcp.sport = static_cast<uint16_t>(rtp.sport + 1);
  rtcp.dport = static_cast<uint16_t>(rtp.dport + 1);
  FrameSpec other = rtp;
  other.dport = 6000;
  std::vector<Record> plain;
  for (uint16_t i = 0; i < 20; ++i) {
    plain.push_back({{i, 0}, make_frame(rtp, make_rtp(kSsrcA, i, 40)), 0});
    plain.push_back({{i, 1}, make_frame(other, make_rtp(kSsrcB, i, 40)), 0});
  }
  plain.push_back({{30, 0}, make_frame(rtcp, make_rtcp_sr(kSsrcA)), 0});
  write_capture(dir.file("plain.pcap"), DLT_LINUX_SLL2, plain);
  auto s = run_tool({"encrypt", "--profile", "AEAD_AES_256_GCM", "--flow",
                     "[2001:db8::1]:40000-[2001:db8::2]:5004", "--key", kKey256Gcm,
                     dir.file("plain.pcap"), dir.file("srtp.pcap")});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok, 20u);
  EXPECT_EQ(s->rtcp_ok, 1u) << "RTCP on ports + 1 belongs to the flow";
  EXPECT_EQ(s->passed[static_cast<std::size_t>(PassReason::no_key)], 20u);
  s = run_tool({"decrypt", "--profile", "AEAD_AES_256_GCM", "--flow", "*:*-[2001:db8::2]:5004",
                "--key", kKey256Gcm, dir.file("srtp.pcap"), dir.file("out.pcap")});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok, 20u);
  EXPECT_EQ(s->rtcp_ok, 1u);
  const auto out = read_capture(dir.file("out.pcap"));
  ASSERT_EQ(out.size(), plain.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].bytes, plain[i].bytes) << i;
  }
}

TEST(Pipeline, MutatedSrtpCapturesAreCountedNeverCrash) {
  TempDir dir;
  std::vector<Record> plain;
  FrameSpec v6 = spec(DLT_EN10MB, 6, true);
  for (uint16_t i = 0; i < 100; ++i) {
    plain.push_back({{i, 0}, make_frame(i % 2 ? v6 : FrameSpec{}, make_rtp(kSsrcA, i, i)), 0});
    if (i % 10 == 0) {
      plain.push_back({{i, 1}, make_frame(FrameSpec{}, make_rtcp_sr(kSsrcA)), 0});
    }
  }
  const std::string in = dir.file("plain.pcap");
  const std::string enc = dir.file("srtp.pcap");
  write_capture(in, DLT_EN10MB, plain);
  for (const char* profile : {"AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"}) {
    const char* key = std::string(profile).starts_with("AEAD") ? kKey128Gcm : kKey128;
    auto s = run_tool({"encrypt", "--profile", profile, "--key", key, in, enc});
    ASSERT_TRUE(s.ok()) << s.message();
    const auto good = read_capture(enc);
    std::mt19937 rng(7);
    for (int round = 0; round < 40; ++round) {
      std::vector<Record> bad = good;
      for (Record& r : bad) {
        const int flips = static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
          r.bytes[rng() % r.bytes.size()] = static_cast<uint8_t>(rng());
        }
        if (rng() % 8 == 0) {
          r.bytes.resize(rng() % (r.bytes.size() + 1));
        }
        r.wire_len = 0;
      }
      const std::string mutated = dir.file("mutated.pcap");
      write_capture(mutated, DLT_EN10MB, bad);
      s = run_tool({"decrypt", "--profile", profile, "--key", key, mutated, dir.file("out.pcap")});
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(s->frames_read, bad.size());
      EXPECT_EQ(s->rtp_ok + s->rtcp_ok + s->failed_total() + s->passed_total(), bad.size());
      EXPECT_EQ(s->frames_written, s->rtp_ok + s->rtcp_ok + s->passed_total());
      EXPECT_EQ(read_capture(dir.file("out.pcap")).size(), s->frames_written);
    }
  }
}

// --- The command line: captures cut short, time stamps, OUT that is IN, failing output -------

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::string read_back(std::FILE* f) {
  std::string s;
  if (f == nullptr) {
    return s;
  }
  std::rewind(f);
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) {
    s.append(buf.data(), n);
  }
  std::fclose(f);
  return s;
}

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

// The tool's main() in-process: the exit status and everything it printed.
CliRun run_cli_captured(const std::vector<std::string>& args) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_TRUE(out != nullptr && err != nullptr);
  std::vector<const char*> a;
  for (const auto& s : args) {
    a.push_back(s.c_str());
  }
  CliRun r;
  r.status = run_cli("srtpgate-pcap", a, out, err);
  r.out = read_back(out);
  r.err = read_back(err);
  return r;
}

std::vector<std::string> encrypt_args(const std::string& in, const std::string& out) {
  return {"encrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", kKeyA, in, out};
}

TEST(Cli, CaptureCutShortStillWritesEveryPacketBeforeTheCut) {
  // tcpdump killed mid-write: 100 whole records (more than one burst of 64), then part of one,
  // cut in its data or in its 16-byte record header.
  TempDir dir;
  std::vector<Record> plain;
  for (uint16_t i = 0; i < 101; ++i) {
    plain.push_back({{1000 + i, i}, make_frame(FrameSpec{}, make_rtp(kSsrcA, i, 100)), 0});
  }
  const std::string in = dir.file("cut.pcap");
  const std::string out = dir.file("out.pcap");
  const std::size_t last_record = 24 + 100 * (16 + plain[0].bytes.size());
  for (const std::size_t keep : {std::size_t{16 + 20}, std::size_t{5}}) {
    write_capture(in, DLT_EN10MB, plain);
    std::filesystem::resize_file(in, last_record + keep);
    auto s = run_tool(encrypt_args(in, out));
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->frames_read, 100u);
    EXPECT_EQ(s->rtp_ok, 100u);
    EXPECT_NE(s->read_error.find("truncated"), std::string::npos) << s->read_error;
    const auto written = read_capture(out);
    ASSERT_EQ(written.size(), 100u) << "keep " << keep;
    for (std::size_t i = 0; i < written.size(); ++i) {
      EXPECT_EQ(written[i].ts.tv_sec, plain[i].ts.tv_sec);
      EXPECT_GT(written[i].bytes.size(), plain[i].bytes.size()) << "encrypted " << i;
    }
    // The summary, then the error; exit 1 as usage() says.
    const CliRun r = run_cli_captured(encrypt_args(in, out));
    EXPECT_EQ(r.status, kExitIo) << r.err;
    const auto summary_at = r.err.find("packets written: 100\n");
    const auto error_at = r.err.find("truncated");
    ASSERT_NE(summary_at, std::string::npos) << r.err;
    ASSERT_NE(error_at, std::string::npos) << r.err;
    EXPECT_LT(summary_at, error_at) << r.err;
    EXPECT_EQ(read_capture(out).size(), 100u);
  }
}

// Capture files built byte by byte (pcap-savefile(5), pcapng draft-ietf-opsawg-pcapng §4), so
// that what is checked does not come from libpcap's own writer.
struct RawRecord {
  uint32_t sec = 0;
  uint32_t frac = 0;  // microseconds or nanoseconds, as the magic number says
  Bytes bytes;
};

void put_u16(Bytes& f, uint16_t v, bool big_endian) {
  for (int i = 0; i < 2; ++i) {
    f.push_back(static_cast<uint8_t>(v >> (big_endian ? 8 - 8 * i : 8 * i)));
  }
}

void put_u32(Bytes& f, uint32_t v, bool big_endian) {
  for (int i = 0; i < 4; ++i) {
    f.push_back(static_cast<uint8_t>(v >> (big_endian ? 24 - 8 * i : 8 * i)));
  }
}

constexpr bool kHostBigEndian = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;

Bytes raw_pcap(uint32_t magic, bool big_endian, const std::vector<RawRecord>& recs) {
  Bytes f;
  put_u32(f, magic, big_endian);
  put_u16(f, 2, big_endian);
  put_u16(f, 4, big_endian);
  put_u32(f, 0, big_endian);  // thiszone
  put_u32(f, 0, big_endian);  // sigfigs
  put_u32(f, 65535, big_endian);
  put_u32(f, DLT_EN10MB, big_endian);
  for (const RawRecord& r : recs) {
    put_u32(f, r.sec, big_endian);
    put_u32(f, r.frac, big_endian);
    put_u32(f, static_cast<uint32_t>(r.bytes.size()), big_endian);
    put_u32(f, static_cast<uint32_t>(r.bytes.size()), big_endian);
    f.insert(f.end(), r.bytes.begin(), r.bytes.end());
  }
  return f;
}

// One section, one Ethernet interface with this if_tsresol, Enhanced Packet Blocks with time
// stamps in units of 10^-tsresol s.
Bytes raw_pcapng(uint8_t tsresol, const std::vector<std::pair<uint64_t, Bytes>>& recs) {
  const bool be = kHostBigEndian;
  Bytes f;
  put_u32(f, 0x0A0D0D0A, be);  // Section Header Block
  put_u32(f, 28, be);
  put_u32(f, 0x1A2B3C4D, be);
  put_u16(f, 1, be);
  put_u16(f, 0, be);
  put_u32(f, 0xffffffff, be);  // section length: unknown
  put_u32(f, 0xffffffff, be);
  put_u32(f, 28, be);
  put_u32(f, 1, be);  // Interface Description Block
  put_u32(f, 32, be);
  put_u16(f, DLT_EN10MB, be);
  put_u16(f, 0, be);
  put_u32(f, 65535, be);
  put_u16(f, 9, be);  // if_tsresol
  put_u16(f, 1, be);
  f.insert(f.end(), {tsresol, 0, 0, 0});
  put_u32(f, 0, be);  // opt_endofopt
  put_u32(f, 32, be);
  for (const auto& [ts, bytes] : recs) {
    const auto padded = static_cast<uint32_t>((bytes.size() + 3) / 4 * 4);
    put_u32(f, 6, be);  // Enhanced Packet Block
    put_u32(f, 32 + padded, be);
    put_u32(f, 0, be);
    put_u32(f, static_cast<uint32_t>(ts >> 32), be);
    put_u32(f, static_cast<uint32_t>(ts), be);
    put_u32(f, static_cast<uint32_t>(bytes.size()), be);
    put_u32(f, static_cast<uint32_t>(bytes.size()), be);
    f.insert(f.end(), bytes.begin(), bytes.end());
    f.resize(f.size() + padded - bytes.size(), 0);
    put_u32(f, 32 + padded, be);
  }
  return f;
}

uint32_t host_u32(const Bytes& f, std::size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, f.data() + at, sizeof v);
  return v;
}

// The records of a pcap file libpcap wrote (host byte order); `magic` is its magic number.
std::vector<RawRecord> parse_raw_pcap(const Bytes& f, uint32_t& magic) {
  std::vector<RawRecord> out;
  magic = f.size() >= 24 ? host_u32(f, 0) : 0;
  for (std::size_t at = 24; at + 16 <= f.size();) {
    RawRecord r{host_u32(f, at), host_u32(f, at + 4), {}};
    const uint32_t caplen = host_u32(f, at + 8);
    at += 16;
    if (caplen > f.size() - at) {
      ADD_FAILURE() << "record past the end of the file";
      break;
    }
    r.bytes.assign(f.begin() + static_cast<std::ptrdiff_t>(at),
                   f.begin() + static_cast<std::ptrdiff_t>(at + caplen));
    at += caplen;
    out.push_back(std::move(r));
  }
  return out;
}

TEST(Cli, OutKeepsTheTimeStampsOfIn) {
  TempDir dir;
  const std::string in = dir.file("in");
  const std::string out = dir.file("out.pcap");
  constexpr uint32_t kNsMagic = 0xa1b23c4d;
  constexpr uint32_t kUsMagic = 0xa1b2c3d4;
  std::vector<RawRecord> recs;
  for (uint16_t i = 0; i < 70; ++i) {
    recs.push_back(
        {1700000000u + i, 999999000u + i, make_frame(FrameSpec{}, make_rtp(kSsrcA, i, 40))});
  }
  recs.push_back({1700000100, 1, make_frame(FrameSpec{}, Bytes{0, 1, 2, 3})});  // passed through
  const auto expect_same_time_stamps = [&](uint32_t want_magic, const std::string& label) {
    uint32_t magic = 0;
    const auto got = parse_raw_pcap(read_file(out), magic);
    EXPECT_EQ(magic, want_magic) << label;
    ASSERT_EQ(got.size(), recs.size()) << label;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].sec, recs[i].sec) << label << " " << i;
      EXPECT_EQ(got[i].frac, recs[i].frac) << label << " " << i;
    }
  };

  // Nanosecond pcap, in either byte order: OUT is nanosecond pcap with the same time stamps.
  for (const bool big_endian : {false, true}) {
    write_file(in, raw_pcap(kNsMagic, big_endian, recs));
    auto s = run_tool(encrypt_args(in, out));
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->rtp_ok, 70u);
    expect_same_time_stamps(kNsMagic, big_endian ? "ns big-endian" : "ns little-endian");
  }

  // pcapng with if_tsresol 9 (nanoseconds) or 6: OUT is nanosecond pcap, nothing rounded.
  for (const uint8_t tsresol : {uint8_t{9}, uint8_t{6}}) {
    const uint64_t unit = tsresol == 9 ? 1 : 1000;
    std::vector<std::pair<uint64_t, Bytes>> blocks;
    for (RawRecord& r : recs) {
      r.frac = r.frac / unit * unit;
      blocks.emplace_back((uint64_t{r.sec} * 1000000000 + r.frac) / unit, r.bytes);
    }
    write_file(in, raw_pcapng(tsresol, blocks));
    auto s = run_tool(encrypt_args(in, out));
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->rtp_ok, 70u);
    expect_same_time_stamps(kNsMagic, "pcapng if_tsresol " + std::to_string(tsresol));
  }

  // Microsecond pcap stays microsecond: the same magic number, and a passed-through record is
  // the same byte for byte, its record header included.
  for (RawRecord& r : recs) {
    r.frac = r.frac / 1000;
  }
  const Bytes us = raw_pcap(kUsMagic, kHostBigEndian, recs);
  write_file(in, us);
  auto s = run_tool(encrypt_args(in, out));
  ASSERT_TRUE(s.ok()) << s.message();
  expect_same_time_stamps(kUsMagic, "us");
  const Bytes written = read_file(out);
  const std::size_t last = 16 + recs.back().bytes.size();
  ASSERT_GE(written.size(), last);
  EXPECT_TRUE(std::equal(written.end() - static_cast<std::ptrdiff_t>(last), written.end(),
                         us.end() - static_cast<std::ptrdiff_t>(last)));
}

TEST(Cli, RefusesOutThatIsIn) {
  TempDir dir;
  const std::string in = dir.file("in.pcap");
  std::vector<Record> plain;
  for (uint16_t i = 0; i < 10; ++i) {
    plain.push_back({{i, 0}, make_frame(FrameSpec{}, make_rtp(kSsrcA, i, 100)), 0});
  }
  write_capture(in, DLT_EN10MB, plain);
  const Bytes before = read_file(in);
  std::filesystem::create_hard_link(in, dir.file("hard-link.pcap"));
  std::filesystem::create_symlink(in, dir.file("symlink.pcap"));
  for (const std::string& out :
       {in, dir.file("hard-link.pcap"), dir.file("symlink.pcap"), dir.path + "/./in.pcap"}) {
    auto s = run_tool(encrypt_args(in, out));
    ASSERT_FALSE(s.ok()) << out;
    EXPECT_NE(s.message().find("is the input file"), std::string::npos) << s.message();
    const CliRun r = run_cli_captured(encrypt_args(in, out));
    EXPECT_EQ(r.status, kExitUsage) << r.err;
    EXPECT_NE(r.err.find("is the input file"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(in), before) << "IN was changed through " << out;
  }
  const CliRun r = run_cli_captured(encrypt_args(in, dir.file("out.pcap")));
  EXPECT_EQ(r.status, kExitOk) << r.err;
}

// A stream (fopencookie(3)) that fails as a full disk or quota, or NFS at close, does.
struct FailingSink {
  int fail_write_once = 0;  // errno of the next write, which then succeeds again
  int fail_close = 0;       // errno of close
  std::size_t written = 0;
};

std::FILE* failing_stream(FailingSink& sink) {
  cookie_io_functions_t io{};
  io.write = [](void* c, const char*, std::size_t n) -> ssize_t {
    auto* s = static_cast<FailingSink*>(c);
    if (s->fail_write_once != 0) {
      errno = std::exchange(s->fail_write_once, 0);
      return -1;
    }
    s->written += n;
    return static_cast<ssize_t>(n);
  };
  io.close = [](void* c) {
    auto* s = static_cast<FailingSink*>(c);
    if (s->fail_close != 0) {
      errno = s->fail_close;
      return -1;
    }
    return 0;
  };
  return fopencookie(&sink, "w", io);
}

TEST(CaptureIo, WriteAndCloseErrorsAreReported) {
  const Bytes frame = make_frame(FrameSpec{}, make_rtp(kSsrcA, 1, 1000));
  pcap_pkthdr h{};
  h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
  const auto create = [](FailingSink& sink) {
    return CaptureWriter::create(failing_stream(sink), "sink", DLT_EN10MB, 65535,
                                 PCAP_TSTAMP_PRECISION_MICRO);
  };

  // A write fails once and later ones succeed, so the last flush does too: still an error, with
  // the errno of the failed write, not whatever errno holds by the end.
  FailingSink quota;
  quota.fail_write_once = EDQUOT;
  auto w = create(quota);
  ASSERT_TRUE(w.ok()) << w.message();
  for (int i = 0; i < 50; ++i) {  // 50 kB: several stdio buffers
    w->write(h, frame);
  }
  EXPECT_TRUE(w->failed());
  errno = ENOENT;  // left by some later, unrelated call
  auto r = w->finish();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find(std::strerror(EDQUOT)), std::string::npos) << r.message();

  // NFS reports a delayed write error only at close(2).
  FailingSink nfs;
  nfs.fail_close = EIO;
  w = create(nfs);
  ASSERT_TRUE(w.ok()) << w.message();
  w->write(h, frame);
  EXPECT_FALSE(w->failed());
  r = w->finish();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find(std::strerror(EIO)), std::string::npos) << r.message();
  EXPECT_EQ(nfs.written, 24 + 16 + frame.size());

  FailingSink fine;
  w = create(fine);
  ASSERT_TRUE(w.ok()) << w.message();
  w->write(h, frame);
  EXPECT_TRUE(w->finish().ok());
  EXPECT_FALSE(w->finish().ok()) << "a second finish() is refused";
}

TEST(Cli, OutOnAFullDeviceFails) {
  TempDir dir;
  const std::string in = dir.file("in.pcap");
  std::vector<Record> plain;
  for (uint16_t i = 0; i < 200; ++i) {  // 30 kB: the disk fills part-way, not only at the end
    plain.push_back({{i, 0}, make_frame(FrameSpec{}, make_rtp(kSsrcA, i, 100)), 0});
  }
  for (const std::size_t n : {std::size_t{1}, plain.size()}) {
    write_capture(
        in, DLT_EN10MB,
        std::vector<Record>(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(n)));
    const CliRun r = run_cli_captured(encrypt_args(in, "/dev/full"));
    EXPECT_EQ(r.status, kExitIo) << r.err;
    EXPECT_NE(r.err.find(std::strerror(ENOSPC)), std::string::npos) << r.err;
  }
}

TEST(KeyOptions, FlagsTakeNoValue) {
  for (const char* flag :
       {"--keep-failed=no", "--keep-failed=yes", "--keep-failed=", "--help=no"}) {
    auto o = parse(
        {"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", flag, "--key", kKey128, "a", "b"});
    ASSERT_FALSE(o.ok()) << flag;
    EXPECT_NE(o.message().find("takes no value"), std::string::npos) << o.message();
    const CliRun r = run_cli_captured(
        {"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", flag, "--key", kKey128, "a", "b"});
    EXPECT_EQ(r.status, kExitUsage) << r.err;
  }
  auto o = parse({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--keep-failed", "--key",
                  kKey128, "a", "b"});
  ASSERT_TRUE(o.ok()) << o.message();
  EXPECT_TRUE(o->keep_failed);
}

// Writes a file of exactly these bytes.
std::string write_key_file(const TempDir& dir, const std::string& name, std::string_view text) {
  std::string path = dir.file(name);
  write_file(path, Bytes(text.begin(), text.end()));
  return path;
}

TEST(KeyOptions, MessagesNeverRepeatAKey) {
  const char* p = "AES_CM_128_HMAC_SHA1_80";
  const std::string bare = std::string(kKey128).substr(7);  // the base64 without "inline:"
  const std::string flow_key = std::string("1.2.3.4:5-*:") + kKey128;
  const std::string keep_key = std::string("--keep-failed=") + kKey128;
  const std::string key = kKey128;
  // Key files that hold a key and something wrong: no message may show what the file holds.
  TempDir dir;
  const auto file = [&](const std::string& name, const std::string& text) {
    return write_key_file(dir, name, text);
  };
  const std::string two_lines = file("two-lines", key + "\n" + key + "\n");
  const std::string two_keys = file("two-keys", key + "|" + key + "\n");
  const std::string bare_second = file("bare-second", key + "|" + bare + "\n");
  const std::string big = file("big", key + std::string(kMaxKeyFileSize, '='));
  const std::string spaces = file("spaces", "  " + key + "  \n");
  const std::string aead = file("aead", key + "\n");
  const auto shows_key = [&](const std::string& message) {
    return message.find(bare.substr(0, 8)) != std::string::npos ||
           message.find(bare.substr(bare.size() - 8)) != std::string::npos;
  };
  const std::vector<std::vector<std::string>> mistakes = {
      {"--profile", p, kKey128, "decrypt", "a", "b"},  // --key left out: the key is the "mode"
      {bare, "--profile", p, "--key", kKey128, "a", "b"},
      {"decrypt", "--profile", kKey128, "--key", kKey128, "a", "b"},
      {"decrypt", "--profile", p, "--ssrc", kKey128, "--key", kKey128, "a", "b"},
      {"decrypt", "--profile", p, "--flow", kKey128, "--key", kKey128, "a", "b"},
      {"decrypt", "--profile", p, "--flow", flow_key, "--key", kKey128, "a", "b"},
      {"decrypt", "--profile", p, "--key", kKey128, "--backend", bare, "a", "b"},
      {"decrypt", "--profile", p, "--key", kKey128, keep_key, "a", "b"},
      {"decrypt", "--profile", p, "--key", kKey128, std::string("-") + bare, "a", "b"},
      // The same through --key and --key-file.
      {"decrypt", "--profile", p, "--key", key + "|" + key, "a", "b"},
      {"decrypt", "--profile", p, "--key", key + "|" + bare, "a", "b"},
      {"decrypt", "--profile", p, "--key-file", kKey128, "a", "b"},  // the key in place of PATH
      {"decrypt", "--profile", p, std::string("--key-file=") + kKey128, "a", "b"},
      {"decrypt", "--profile", p, "--key-file", two_lines, "a", "b"},
      {"decrypt", "--profile", p, "--key-file", two_keys, "a", "b"},
      {"decrypt", "--profile", p, "--key-file", bare_second, "a", "b"},
      {"decrypt", "--profile", p, "--key-file", big, "a", "b"},
      {"decrypt", "--profile", p, "--key-file", spaces, "a", "b"},
      {"decrypt", "--profile", "AEAD_AES_256_GCM", "--key-file", aead, "a", "b"},
      {"decrypt", "--profile", p, "--key-file", aead, "--key-file", aead, "a", "b"},
  };
  for (const auto& m : mistakes) {
    std::vector<const char*> a;
    for (const auto& s : m) {
      a.push_back(s.c_str());
    }
    auto o = parse(a);
    ASSERT_FALSE(o.ok()) << m[2] << " " << m[3];
    EXPECT_FALSE(shows_key(o.message())) << o.message();
    const CliRun r = run_cli_captured(m);
    EXPECT_EQ(r.status, kExitUsage) << r.err;
    EXPECT_FALSE(shows_key(r.err)) << r.err;
  }
  // A key in place of IN is not repeated by the I/O error either.
  const CliRun r = run_cli_captured({"decrypt", "--profile", p, "--key", kKey128, kKey128, "b"});
  EXPECT_EQ(r.status, kExitIo) << r.err;
  EXPECT_FALSE(shows_key(r.err)) << r.err;
  // What cannot be a key is still shown, so the message says what was wrong.
  EXPECT_NE(parse({"shred", "--profile", p, "--key", kKey128, "a", "b"}).message().find("'shred'"),
            std::string::npos);
  EXPECT_NE(parse({"decrypt", "--profile", "AES_CM_999", "--key", kKey128, "a", "b"})
                .message()
                .find("'AES_CM_999'"),
            std::string::npos);
  const std::string lifetime = key + "|2^99";
  EXPECT_NE(parse({"decrypt", "--profile", p, "--key", lifetime.c_str(), "a", "b"})
                .message()
                .find("bad lifetime"),
            std::string::npos);
  EXPECT_FALSE(may_be_key("/tmp/captures/call-2024-06-07.pcapng"));
  EXPECT_FALSE(may_be_key("decrpyt"));
  EXPECT_TRUE(may_be_key("INLINE:short"));
  EXPECT_TRUE(may_be_key(bare));
}

// --- Keys from files, pipes and stdin (--key-file) ------------------------------------------

// tests/data/sample-srtp.pcap: SRTP from ffmpeg's own implementation, and its key
// (tests/data/README.md).
constexpr const char* kSample = SRTPGATE_PCAP_SAMPLE;
constexpr const char* kSampleKey = "inline:VNtPRH10gRr5HvSPx2AFa0/dDq/yMLi8dHaAlaNY";

std::vector<std::string> decrypt_sample(const std::string& key_option, const std::string& value,
                                        const std::string& out) {
  return {"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", key_option, value, kSample, out};
}

TEST(KeyFile, DecryptsAndEncryptsLikeKeyWhateverTheLineEnd) {
  TempDir dir;
  const CliRun by_key = run_cli_captured(decrypt_sample("--key", kSampleKey, dir.file("k.pcap")));
  ASSERT_EQ(by_key.status, kExitOk) << by_key.err;
  ASSERT_NE(by_key.err.find("rtp decrypted ok: 100\n"), std::string::npos) << by_key.err;
  const Bytes want = read_file(dir.file("k.pcap"));
  for (const char* end : {"\n", "\r\n", ""}) {
    const std::string path = write_key_file(dir, "sample.key", std::string(kSampleKey) + end);
    const std::string out = dir.file("f.pcap");
    const CliRun r = run_cli_captured(decrypt_sample("--key-file", path, out));
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(r.err, by_key.err) << "the same summary";
    EXPECT_EQ(read_file(out), want);
  }

  // Encrypting gives the same bytes too; --key-file=PATH works like --key=KEY.
  std::vector<Record> plain;
  for (uint16_t i = 0; i < 10; ++i) {
    plain.push_back({{i, 0}, make_frame(FrameSpec{}, make_rtp(kSsrcA, i, 100)), 0});
  }
  write_capture(dir.file("plain.pcap"), DLT_EN10MB, plain);
  const std::string path = write_key_file(dir, "a.key", std::string(kKeyA) + "\r\n");
  auto s = run_tool(encrypt_args(dir.file("plain.pcap"), dir.file("by-key.pcap")));
  ASSERT_TRUE(s.ok()) << s.message();
  s = run_tool({"encrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key-file=" + path,
                dir.file("plain.pcap"), dir.file("by-file.pcap")});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok, 10u);
  EXPECT_EQ(read_file(dir.file("by-file.pcap")), read_file(dir.file("by-key.pcap")));
}

TEST(KeyFile, TakesTheScopeBeforeItAndCountsAsAKey) {
  TempDir dir;
  const char* p = "AES_CM_128_HMAC_SHA1_80";
  const std::string a = write_key_file(dir, "a.key", std::string(kKeyA) + "\n");
  auto o = parse({"decrypt", "--profile", p, "--key", kKey128, "--ssrc", "0x11111111", "--key-file",
                  a.c_str(), "--flow", "1.2.3.4:*-*:5004", "--key-file", a.c_str(), "x", "y"});
  ASSERT_TRUE(o.ok()) << o.message();
  ASSERT_EQ(o->keys.size(), 3u);
  EXPECT_EQ(o->keys[0].ssrc, kSsrcA);
  EXPECT_FALSE(o->keys[0].flow.has_value());
  EXPECT_EQ(o->keys[0].ordinal, 2);
  EXPECT_EQ(o->keys[0].label(), "--key-file #2");
  EXPECT_EQ(srtp::format_sdes_key(o->keys[0].key), kKeyA) << "the file's key";
  EXPECT_FALSE(o->keys[1].ssrc.has_value());
  EXPECT_TRUE(o->keys[1].flow.has_value());
  EXPECT_EQ(o->keys[1].ordinal, 3);
  EXPECT_FALSE(o->keys[2].scoped());
  EXPECT_EQ(o->keys[2].label(), "--key #1");

  // The rules for several keys of one scope: MKIs make them one session, else an error.
  const std::string mki1 = write_key_file(dir, "mki1.key", std::string(kKeyA) + "|1:4\n");
  const std::string k2 = std::string(kKey128) + "|2:4";
  o = parse({"decrypt", "--profile", p, "--key-file", mki1.c_str(), "--key", k2.c_str(), "x", "y"});
  ASSERT_TRUE(o.ok()) << o.message();
  ASSERT_EQ(o->keys.size(), 1u);
  EXPECT_EQ(o->keys[0].more_keys.size(), 1u);
  o = parse({"decrypt", "--profile", p, "--key", kKey128, "--key-file", mki1.c_str(), "x", "y"});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.message().find("--key-file #2 has the same scope as --key #1"), std::string::npos)
      << o.message();
  o = parse({"decrypt", "--key-file", a.c_str(), "x", "y"});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.message().find("--key-file #1 comes before any --profile"), std::string::npos)
      << o.message();

  // Through a capture: SSRC A is encrypted with kKeyA, everything else with kKey128.
  std::vector<Record> plain;
  for (uint16_t i = 0; i < 20; ++i) {
    plain.push_back({{i, 0}, make_frame(FrameSpec{}, make_rtp(i % 2 ? kSsrcA : kSsrcB, i, 60)), 0});
  }
  write_capture(dir.file("plain.pcap"), DLT_EN10MB, plain);
  const std::string ssrc_a = std::to_string(kSsrcA);
  auto s = run_tool({"encrypt", "--profile", p, "--ssrc", ssrc_a, "--key", kKeyA, "--key", kKey128,
                     dir.file("plain.pcap"), dir.file("srtp.pcap")});
  ASSERT_TRUE(s.ok()) << s.message();
  s = run_tool({"decrypt", "--profile", p, "--ssrc", ssrc_a, "--key-file", a, "--key", kKey128,
                dir.file("srtp.pcap"), dir.file("out.pcap")});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rtp_ok, 20u);
  EXPECT_EQ(s->failed_total(), 0u);
  ASSERT_EQ(s->per_key.size(), 2u);
  EXPECT_EQ(s->per_key[0].rtp_ok, 10u) << "the scoped --key-file decrypted SSRC A";
  const auto out = read_capture(dir.file("out.pcap"));
  ASSERT_EQ(out.size(), plain.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].bytes, plain[i].bytes) << i;
  }
}

TEST(KeyFile, RefusalsExitTwoAndNameTheOption) {
  TempDir dir;
  const std::string key = kKey128;
  const std::string bare = key.substr(7);
  const std::string missing = dir.file("missing.key");
  const std::string empty = write_key_file(dir, "empty.key", "");
  const std::string newline = write_key_file(dir, "newline.key", "\r\n");
  const std::string two = write_key_file(dir, "two.key", key + "\n" + key + "\n");
  const std::string blank_after = write_key_file(dir, "blank-after.key", key + "\n\n");
  // A valid key-params line of exactly kMaxKeyFileSize bytes, its LF included (a lifetime of 1
  // with leading zeros), and the same with one byte more.
  const std::string head = key + "|";
  const std::string tail = "1|1:4\n";
  const std::string zeros(kMaxKeyFileSize - head.size() - tail.size(), '0');
  const std::string at_limit = write_key_file(dir, "4096.key", head + zeros + tail);
  const std::string over = write_key_file(dir, "4097.key", head + "0" + zeros + tail);
  ASSERT_EQ(std::filesystem::file_size(at_limit), kMaxKeyFileSize);
  const char* p = "AES_CM_128_HMAC_SHA1_80";
  auto o = parse({"decrypt", "--profile", p, "--key-file", at_limit.c_str(), "x", "y"});
  ASSERT_TRUE(o.ok()) << o.message();
  EXPECT_EQ(o->keys[0].key.lifetime, 1u);

  struct Refusal {
    std::vector<std::string> args;
    std::string says;
  };
  const auto with_key = [&](const std::string& path, const std::string& in = "in.pcap") {
    std::vector<std::string> args = {"decrypt", "--profile", p, "--key", key, "--ssrc", "7"};
    args.insert(args.end(), {"--key-file", path, in, "out.pcap"});
    return args;
  };
  const std::vector<Refusal> refusals = {
      {with_key(missing), "--key-file #2: cannot read '" + missing + "': " + std::strerror(ENOENT)},
      {with_key(dir.path),
       "--key-file #2: cannot read '" + dir.path + "': " + std::strerror(EISDIR)},
      {with_key(empty), "--key-file #2: '" + empty + "' is empty"},
      {with_key(newline), "--key-file #2: '" + newline + "' is empty"},
      {with_key(two), "--key-file #2: '" + two + "' holds more than one line"},
      {with_key(blank_after), "--key-file #2: '" + blank_after + "' holds more than one line"},
      {with_key(over), "--key-file #2: '" + over + "' is larger than 4096 bytes"},
      {with_key("-", "-"), "--key-file #2 reads stdin ('-'), and so does IN '-'"},
      {{"decrypt", "--profile", p, "--key-file", "-", "--ssrc", "1", "--key-file", "-", "a", "b"},
       "--key-file #2 and --key-file #1 both read stdin"},
      {{"decrypt", "--profile", "AEAD_AES_256_GCM", "--key-file", two, "a", "b"},
       "--key-file #1: '" + two + "' holds more than one line"},
      {{"decrypt", "--profile", "AEAD_AES_256_GCM", "--key-file", at_limit, "a", "b"},
       "--key-file #1 (AEAD_AES_256_GCM): SDES key"},
  };
  for (const Refusal& r : refusals) {
    const CliRun run = run_cli_captured(r.args);
    EXPECT_EQ(run.status, kExitUsage) << run.err;
    EXPECT_NE(run.err.find(r.says), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find(bare.substr(0, 8)), std::string::npos) << run.err;
  }
}

// Writes `text` into a pipe or FIFO in two parts, as a slow `vault read` would, the second only
// once the reader has taken the first: a reader that stops after one read(2) gets half a key.
std::thread write_slowly(int fd, std::string text) {
  return std::thread([fd, text = std::move(text)] {
    // A reader that gave up early closed its end: a failed write, not a SIGPIPE that kills the
    // whole test binary (a signal blocked in a thread that exits is dropped).
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    const std::size_t half = text.size() / 2;
    EXPECT_EQ(::write(fd, text.data(), half), static_cast<ssize_t>(half));
    int unread = 0;
    for (int i = 0; i < 5000 && ::ioctl(fd, FIONREAD, &unread) == 0 && unread > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(unread, 0) << "the reader did not read the first part";
    EXPECT_EQ(::write(fd, text.data() + half, text.size() - half),
              static_cast<ssize_t>(text.size() - half));
    ::close(fd);
  });
}

TEST(KeyFile, ReadsPipesFifosAndStdin) {
  TempDir dir;
  const CliRun by_key = run_cli_captured(decrypt_sample("--key", kSampleKey, dir.file("k.pcap")));
  ASSERT_EQ(by_key.status, kExitOk) << by_key.err;

  // A pipe as /dev/fd/N: what the shell gives for --key-file <(vault read ...).
  std::array<int, 2> fds{};
  ASSERT_EQ(::pipe2(fds.data(), O_CLOEXEC), 0);
  std::thread writer = write_slowly(fds[1], std::string(kSampleKey) + "\n");
  const CliRun r = run_cli_captured(
      decrypt_sample("--key-file", "/dev/fd/" + std::to_string(fds[0]), dir.file("p.pcap")));
  writer.join();
  ::close(fds[0]);
  EXPECT_EQ(r.status, kExitOk) << r.err;
  EXPECT_EQ(read_file(dir.file("p.pcap")), read_file(dir.file("k.pcap")));

  // A named pipe.
  const std::string fifo = dir.file("key.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  std::thread fifo_writer([&fifo] {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    write_slowly(fd, std::string(kKeyA) + "\r\n").join();
  });
  auto o = parse(
      {"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key-file", fifo.c_str(), "x", "y"});
  // Should the parser not have opened the FIFO, the writer still waits for a reader in open(2).
  const int unblock = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  fifo_writer.join();
  ::close(unblock);
  ASSERT_TRUE(o.ok()) << o.message();
  EXPECT_EQ(srtp::format_sdes_key(o->keys[0].key), kKeyA);

  // "-": stdin, which stays open for whoever reads it next.
  ASSERT_EQ(::pipe2(fds.data(), O_CLOEXEC), 0);
  const int saved_stdin = ::dup(STDIN_FILENO);
  ASSERT_GE(saved_stdin, 0);
  ASSERT_EQ(::dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  ::close(fds[0]);
  writer = write_slowly(fds[1], std::string(kKeyA) + "\n");
  o = parse({"decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key-file", "-", "x", "y"});
  writer.join();
  const bool stdin_open = ::fcntl(STDIN_FILENO, F_GETFD) != -1;
  ::dup2(saved_stdin, STDIN_FILENO);
  ::close(saved_stdin);
  ASSERT_TRUE(o.ok()) << o.message();
  EXPECT_EQ(srtp::format_sdes_key(o->keys[0].key), kKeyA);
  EXPECT_TRUE(stdin_open);
}

}  // namespace
}  // namespace srtpgate::app
