// RTP/RTCP parsing: CSRCs, RFC 8285 extensions, padding, compound RTCP; every length checked.
#include <gtest/gtest.h>

#include <vector>

#include "srtpgate/rtp.h"

namespace srtpgate {
namespace {

std::vector<uint8_t> rtp_packet(uint8_t cc, bool ext, uint16_t profile,
                                std::vector<uint8_t> ext_data, std::size_t payload,
                                uint8_t padding) {
  const auto first = static_cast<uint8_t>(0x80 | (padding ? 0x20 : 0) | (ext ? 0x10 : 0) | cc);
  std::vector<uint8_t> p = {first, 0x60, 0x12, 0x34, 0, 0, 0, 1, 0xca, 0xfe, 0xba, 0xbe};
  for (uint8_t i = 0; i < cc; ++i) {
    p.insert(p.end(), {0, 0, 0, i});
  }
  if (ext) {
    while (ext_data.size() % 4) {
      ext_data.push_back(0);
    }
    const auto words = static_cast<uint16_t>(ext_data.size() / 4);
    p.insert(p.end(), {static_cast<uint8_t>(profile >> 8), static_cast<uint8_t>(profile),
                       static_cast<uint8_t>(words >> 8), static_cast<uint8_t>(words)});
    p.insert(p.end(), ext_data.begin(), ext_data.end());
  }
  p.insert(p.end(), payload, 0x55);
  if (padding) {
    p.insert(p.end(), padding - 1, 0);
    p.push_back(padding);
  }
  return p;
}

TEST(RtpParse, FixedCsrcAndExtension) {
  auto p = rtp_packet(3, true, 0xBEDE, {0x10, 0xaa, 0x21, 0xbb, 0xcc}, 20, 0);
  auto h = rtp::parse_header(p);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->csrc_count, 3);
  EXPECT_EQ(h->sequence, 0x1234);
  EXPECT_EQ(h->ssrc, 0xcafebabeu);
  EXPECT_EQ(h->extension_profile, 0xBEDE);
  EXPECT_EQ(h->extension_len, 8);
  EXPECT_EQ(h->header_len, 12 + 12 + 4 + 8);
  EXPECT_TRUE(rtp::extension_elements_valid(p, *h));
  auto pl = rtp::payload_of(p, *h);
  ASSERT_TRUE(pl);
  EXPECT_EQ(pl->len, 20u);
}

TEST(RtpParse, EveryTruncationOfAValidHeaderIsRejected) {
  auto p = rtp_packet(15, true, 0x1000, {1, 2, 0xaa, 0xbb, 2, 1, 0xcc}, 0, 0);
  auto h = rtp::parse_header(p);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->header_len, p.size());
  for (std::size_t n = 0; n < p.size(); ++n) {
    // Copy into an exact-size buffer so a sanitizer sees any overread.
    std::vector<uint8_t> cut(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(rtp::parse_header(cut)) << n;
  }
}

TEST(RtpParse, RejectsBadVersionAndExtensionOverrun) {
  auto p = rtp_packet(0, false, 0, {}, 4, 0);
  p[0] = 0x40;
  EXPECT_FALSE(rtp::parse_header(p));
  auto q = rtp_packet(0, true, 0xBEDE, {0x10, 1}, 0, 0);
  q[15] = 200;  // extension length in words runs past the buffer
  EXPECT_FALSE(rtp::parse_header(q));
}

// An extension length of 2^14 words or more is 65536 bytes or more: it must be measured as it
// is, not in 16 bits (where 0x4000 words would read as an empty extension and 0x4001 as one
// word), and a header that long is rejected even where the buffer holds it.
TEST(RtpParse, ExtensionLengthsPast16BitsAreRejected) {
  for (const uint16_t words : {uint16_t{0x4000}, uint16_t{0x4001}, uint16_t{0xffff}}) {
    for (const std::size_t size : {std::size_t{64}, std::size_t{300000}}) {
      std::vector<uint8_t> p = rtp_packet(0, true, 0xBEDE, {}, 0, 0);
      p[14] = static_cast<uint8_t>(words >> 8);
      p[15] = static_cast<uint8_t>(words);
      p.resize(size, 0);
      EXPECT_FALSE(rtp::parse_header(p)) << words << " words, " << size << " bytes";
    }
  }
  // The longest header that fits 16 bits still parses: 16 + 4 * 16379 = 65532 bytes.
  std::vector<uint8_t> p = rtp_packet(0, true, 0xBEDE, {}, 0, 0);
  p[14] = 0x3f;
  p[15] = 0xfb;
  p.resize(70000, 0);
  const auto h = rtp::parse_header(p);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header_len, 65532);
  EXPECT_EQ(h->extension_len, 65516);
}

TEST(RtpParse, ExtensionElementOverrunsAreCaught) {
  // One-byte form: ID 1, L = 15 (16 bytes) but only 3 bytes follow.
  auto p = rtp_packet(0, true, 0xBEDE, {0x1f, 1, 2, 3}, 0, 0);
  auto h = rtp::parse_header(p);
  ASSERT_TRUE(h);
  EXPECT_FALSE(rtp::extension_elements_valid(p, *h));
  // Two-byte form: length 9 with 2 bytes of data.
  auto q = rtp_packet(0, true, 0x1000, {5, 9, 1, 2}, 0, 0);
  auto hq = rtp::parse_header(q);
  ASSERT_TRUE(hq);
  EXPECT_FALSE(rtp::extension_elements_valid(q, *hq));
  // Padding bytes and the ID 15 stop marker are fine.
  auto r = rtp_packet(0, true, 0xBEDE, {0, 0, 0x10, 7, 0xf0}, 0, 0);
  auto hr = rtp::parse_header(r);
  ASSERT_TRUE(hr);
  EXPECT_TRUE(rtp::extension_elements_valid(r, *hr));
}

TEST(RtpParse, Padding) {
  auto p = rtp_packet(0, false, 0, {}, 10, 4);
  auto h = rtp::parse_header(p);
  ASSERT_TRUE(h);
  auto pl = rtp::payload_of(p, *h);
  ASSERT_TRUE(pl);
  EXPECT_EQ(pl->len, 10u);
  EXPECT_EQ(pl->padding_len, 4);
  p.back() = 15;  // more padding than payload
  EXPECT_FALSE(rtp::payload_of(p, *h));
  p.back() = 0;
  EXPECT_FALSE(rtp::payload_of(p, *h));
}

TEST(RtcpParse, CompoundAndDemux) {
  // SR (28 bytes: header, SSRC, 20 bytes sender info) + SDES with one CNAME chunk (12 bytes).
  std::vector<uint8_t> c = {0x80, 200, 0, 6, 1, 2, 3, 4};
  c.insert(c.end(), 20, 0);
  c.insert(c.end(), {0x81, 202, 0, 2, 1, 2, 3, 4, 1, 1, 'x', 0});
  auto n = rtcp::validate_compound(c);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(rtcp::sender_ssrc(c), 0x01020304u);
  EXPECT_TRUE(rtp::looks_like_rtcp(c));
  auto rtp_pkt = rtp_packet(0, false, 0, {}, 4, 0);
  EXPECT_FALSE(rtp::looks_like_rtcp(rtp_pkt));
  // Length fields that do not add up.
  auto bad = c;
  bad[3] = 7;
  EXPECT_FALSE(rtcp::validate_compound(bad));
  bad = c;
  bad.pop_back();
  EXPECT_FALSE(rtcp::validate_compound(bad));
  // Padding only on the last packet.
  bad = c;
  bad[0] |= 0x20;
  EXPECT_FALSE(rtcp::validate_compound(bad));
  EXPECT_FALSE(rtcp::validate_compound({}));
}

}  // namespace
}  // namespace srtpgate
