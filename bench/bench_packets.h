// Packets the benchmarks work on: one fixed RTP stream, the working buffers of one burst, and
// a ring of pre-protected packets for the unprotect benchmarks. Shared by every implementation
// so that all of them process exactly the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "srtpgate/packet.h"
#include "srtpgate/profile.h"

namespace srtpgate::bench {

inline constexpr std::size_t kRtpHeaderLen = 12;
inline constexpr uint32_t kSsrc = 0x5eed1234;
inline constexpr uint16_t kFirstSeq = 1000;
// Room after the payload for any tag (16), the IPsec-MB 12-byte HMAC output and libsrtp2's
// SRTP_MAX_TRAILER_LEN, rounded so that every packet starts on a cache line.
inline constexpr std::size_t kTailroom = 64;
// Unprotect replays this many packets and then starts over on fresh receiving sessions (the
// replay window would reject a second lap). Divisible by every burst size.
inline constexpr std::size_t kRingPackets = 1024;
inline constexpr std::size_t kMaxBurst = 64;

// The master key || salt every benchmark uses for `profile` (a fixed pattern, not a secret).
std::vector<uint8_t> master_key_salt(srtp::Profile profile);

struct FreeDeleter {
  void operator()(uint8_t* p) const noexcept { std::free(p); }
};
using AlignedBytes = std::unique_ptr<uint8_t[], FreeDeleter>;
AlignedBytes aligned_bytes(std::size_t n);

// Writes a 12-byte RTP header (V=2, PT 0, our SSRC) and a payload pattern into `out`.
void write_rtp_packet(uint8_t* out, uint16_t seq, std::size_t payload_len);

inline void set_seq(uint8_t* packet, uint16_t seq) noexcept {
  packet[2] = static_cast<uint8_t>(seq >> 8);
  packet[3] = static_cast<uint8_t>(seq);
}

// The working buffers of one burst: `burst` slots of `stride` bytes, each a plaintext packet
// with a `payload_len`-byte payload after construction.
class BurstBuffers {
 public:
  BurstBuffers(std::size_t burst, std::size_t payload_len);

  std::span<srtp::PacketView> views() noexcept { return {views_.data(), burst_}; }
  srtp::PacketView* data() noexcept { return views_.data(); }
  std::size_t burst() const noexcept { return burst_; }
  std::size_t plain_len() const noexcept { return kRtpHeaderLen + payload_len_; }

  // Protect: the next packets of the stream. Re-protecting the previous ciphertext costs the
  // same as protecting fresh plaintext, so only the sequence number and the length are reset.
  void next_plaintext(uint16_t& seq) noexcept {
    for (std::size_t i = 0; i < burst_; ++i) {
      set_seq(views_[i].data, seq++);
      views_[i].len = static_cast<uint32_t>(plain_len());
    }
  }

 private:
  std::size_t burst_;
  std::size_t payload_len_;
  std::size_t stride_;
  AlignedBytes bytes_;
  std::vector<srtp::PacketView> views_;
};

// kRingPackets SRTP packets of one stream with consecutive sequence numbers from kFirstSeq,
// protected by libsrtp2 (so srtpgate is also checked against an independent sender).
class PacketRing {
 public:
  // Built once per (profile, payload) and kept for the life of the process.
  static const PacketRing& get(srtp::Profile profile, std::size_t payload_len);

  // Copies packets [first, first + buffers.burst()) into the working buffers.
  void copy_into(std::size_t first, BurstBuffers& buffers) const noexcept;

  std::size_t srtp_len() const noexcept { return srtp_len_; }

 private:
  PacketRing(srtp::Profile profile, std::size_t payload_len);
  std::size_t srtp_len_ = 0;
  std::size_t stride_ = 0;
  AlignedBytes bytes_;
};

}  // namespace srtpgate::bench
