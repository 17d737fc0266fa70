// Pieces shared by the SRTP and SRTCP burst kernels: IV formation and index estimation.
#pragma once

#include <cstdint>
#include <cstring>

#include "session_impl.h"

namespace srtpgate::srtp::detail {

inline constexpr std::size_t kMaxBurst = Session::kMaxBurst;

// Copies a tag or an MKI. Their lengths are fixed per session but unknown to the compiler,
// and a plain memcpy of a run-time length becomes `rep movs`, which costs more than the rest
// of the per-packet bookkeeping; the common lengths get fixed-size copies.
inline void copy_small(uint8_t* dst, const uint8_t* src, std::size_t n) noexcept {
  switch (n) {
    case 0: return;
    case 4: std::memcpy(dst, src, 4); return;
    case 10: std::memcpy(dst, src, 10); return;
    case 16: std::memcpy(dst, src, 16); return;
    default:
      for (std::size_t i = 0; i < n; ++i) {
        dst[i] = src[i];
      }
  }
}

// RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), 128 bits, where i is
// the 48-bit SRTP packet index or the 31-bit SRTCP index.
inline void ctr_iv(uint8_t iv[16], const std::array<uint8_t, 16>& salt, uint32_t ssrc,
                   uint64_t index) noexcept {
  std::memcpy(iv, salt.data(), 16);  // bytes 14 and 15 of the salt array are zero
  iv[4] ^= static_cast<uint8_t>(ssrc >> 24);
  iv[5] ^= static_cast<uint8_t>(ssrc >> 16);
  iv[6] ^= static_cast<uint8_t>(ssrc >> 8);
  iv[7] ^= static_cast<uint8_t>(ssrc);
  for (int b = 0; b < 6; ++b) {
    iv[13 - b] ^= static_cast<uint8_t>(index >> (8 * b));
  }
}

// RFC 7714 §8.1 (SRTP): IV = (0x0000 || SSRC || ROC || SEQ) XOR salt, 96 bits.
// RFC 7714 §9.1 (SRTCP): IV = (0x0000 || SSRC || 0x0000 || 0 || SRTCP index) XOR salt; the
// same layout with ROC = index >> 16 and SEQ = index & 0xffff.
inline void gcm_iv(uint8_t iv[12], const std::array<uint8_t, 16>& salt, uint32_t ssrc,
                   uint64_t index) noexcept {
  std::memcpy(iv, salt.data(), 12);
  iv[2] ^= static_cast<uint8_t>(ssrc >> 24);
  iv[3] ^= static_cast<uint8_t>(ssrc >> 16);
  iv[4] ^= static_cast<uint8_t>(ssrc >> 8);
  iv[5] ^= static_cast<uint8_t>(ssrc);
  for (int b = 0; b < 6; ++b) {
    iv[11 - b] ^= static_cast<uint8_t>(index >> (8 * b));
  }
}

// RFC 3711 §3.3.1 and Appendix A: the index of a received (or sent) packet from its sequence
// number and the stream's highest index so far. Returns false when the guess falls before
// index 0 (an old packet) or past 2^48 (the ROC would overflow: the key must be replaced).
inline bool estimate_index(const Stream* s, uint16_t seq, uint64_t& index,
                           Status& why) noexcept {
  if (s == nullptr || !s->rtp.started()) {
    const uint64_t roc = (s != nullptr && s->roc_preset) ? s->preset_roc : 0;
    index = (roc << 16) | seq;
    return true;
  }
  const uint64_t top = s->rtp.top();
  const uint32_t s_l = static_cast<uint32_t>(top & 0xffff);
  int64_t v = static_cast<int64_t>(top >> 16);
  if (s_l < 32768) {
    if (static_cast<int32_t>(seq) - static_cast<int32_t>(s_l) > 32768) {
      v -= 1;
    }
  } else if (static_cast<int32_t>(s_l) - 32768 > static_cast<int32_t>(seq)) {
    v += 1;
  }
  if (v < 0) {
    why = Status::replay_old;
    return false;
  }
  if (v > 0xffffffffLL) {
    why = Status::key_expired;
    return false;
  }
  index = (static_cast<uint64_t>(v) << 16) | seq;
  return true;
}

}  // namespace srtpgate::srtp::detail
