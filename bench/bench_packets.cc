#include "bench_packets.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <utility>

#include "libsrtp2_baseline.h"

namespace srtpgate::bench {
namespace {

std::size_t slot_stride(std::size_t packet_len) {
  return (packet_len + kTailroom + 63) / 64 * 64;
}

}  // namespace

std::vector<uint8_t> master_key_salt(srtp::Profile profile) {
  const srtp::ProfileParams p = srtp::params(profile);
  std::vector<uint8_t> key_salt(std::size_t{p.master_key_len} + p.master_salt_len);
  for (std::size_t i = 0; i < key_salt.size(); ++i) {
    key_salt[i] = static_cast<uint8_t>(i * 7 + 3);
  }
  return key_salt;
}

AlignedBytes aligned_bytes(std::size_t n) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64));
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  std::memset(p, 0, n);
  return AlignedBytes(p);
}

void write_rtp_packet(uint8_t* out, uint16_t seq, std::size_t payload_len) {
  const uint32_t timestamp = uint32_t{seq} * 160;
  out[0] = 0x80;  // V=2, no padding, no extension, no CSRC
  out[1] = 0;     // PT 0 (PCMU), no marker
  set_seq(out, seq);
  out[4] = static_cast<uint8_t>(timestamp >> 24);
  out[5] = static_cast<uint8_t>(timestamp >> 16);
  out[6] = static_cast<uint8_t>(timestamp >> 8);
  out[7] = static_cast<uint8_t>(timestamp);
  out[8] = static_cast<uint8_t>(kSsrc >> 24);
  out[9] = static_cast<uint8_t>(kSsrc >> 16);
  out[10] = static_cast<uint8_t>(kSsrc >> 8);
  out[11] = static_cast<uint8_t>(kSsrc);
  for (std::size_t i = 0; i < payload_len; ++i) {
    out[kRtpHeaderLen + i] = static_cast<uint8_t>(0xd5 ^ i);
  }
}

BurstBuffers::BurstBuffers(std::size_t burst, std::size_t payload_len)
    : burst_(burst),
      payload_len_(payload_len),
      stride_(slot_stride(kRtpHeaderLen + payload_len)),
      bytes_(aligned_bytes(burst * stride_)),
      views_(burst) {
  for (std::size_t i = 0; i < burst_; ++i) {
    uint8_t* slot = bytes_.get() + i * stride_;
    write_rtp_packet(slot, static_cast<uint16_t>(kFirstSeq + i), payload_len_);
    views_[i] = {slot, static_cast<uint32_t>(plain_len()), static_cast<uint32_t>(stride_)};
  }
}

const PacketRing& PacketRing::get(srtp::Profile profile, std::size_t payload_len) {
  static std::map<std::pair<srtp::Profile, std::size_t>, std::unique_ptr<PacketRing>> rings;
  auto& ring = rings[{profile, payload_len}];
  if (!ring) {
    ring.reset(new PacketRing(profile, payload_len));
  }
  return *ring;
}

PacketRing::PacketRing(srtp::Profile profile, std::size_t payload_len) {
  const std::size_t plain_len = kRtpHeaderLen + payload_len;
  stride_ = slot_stride(plain_len);
  bytes_ = aligned_bytes(kRingPackets * stride_);
  Libsrtp2Baseline sender;
  std::string error;
  if (!sender.init(profile, master_key_salt(profile), /*outbound=*/true, error)) {
    std::fprintf(stderr, "srtpgate-bench: cannot build the packet ring: %s\n", error.c_str());
    std::abort();
  }
  for (std::size_t i = 0; i < kRingPackets; ++i) {
    uint8_t* slot = bytes_.get() + i * stride_;
    write_rtp_packet(slot, static_cast<uint16_t>(kFirstSeq + i), payload_len);
    srtp::PacketView view{slot, static_cast<uint32_t>(plain_len), static_cast<uint32_t>(stride_)};
    if (sender.protect({&view, 1}) != 1) {
      std::fprintf(stderr, "srtpgate-bench: libsrtp2 failed to protect ring packet %zu: error %d\n",
                   i, static_cast<int>(sender.last_error()));
      std::abort();
    }
    srtp_len_ = view.len;
  }
}

void PacketRing::copy_into(std::size_t first, BurstBuffers& buffers) const noexcept {
  srtp::PacketView* views = buffers.data();
  const uint8_t* src = bytes_.get() + first * stride_;
  for (std::size_t i = 0; i < buffers.burst(); ++i) {
    std::memcpy(views[i].data, src, srtp_len_);
    views[i].len = static_cast<uint32_t>(srtp_len_);
    src += stride_;
  }
}

}  // namespace srtpgate::bench
