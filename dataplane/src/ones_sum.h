// The Internet checksum's one's-complement sum (RFC 1071) over a buffer, 16 bytes at a time.
// Internal to dataplane/.
//
// DPDK 22.11's rte_raw_cksum adds one 16-bit word per step; over a 172-byte RTP packet that was
// the largest cost of the worker after the crypto itself (it runs twice per packet on ports
// without checksum offload: verify on rx, compute on tx). RFC 1071 §2 (B, C): the sum may be
// taken over wider words and folded at the end, in either byte order, with the same result;
// SSE2 (every x86-64) adds eight words at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace srtpgate::dp::detail {

#if defined(__SSE2__)
// Eight 16-bit words per step: each widened to 32 bits and added lane-wise. A lane gains at
// most 0xffff per 16 bytes, so 32-bit lanes cannot overflow below 1 MiB: far above a frame.
inline uint64_t ones_sum_wide(const uint8_t*& p, std::size_t& n) noexcept {
  const __m128i zero = _mm_setzero_si128();
  __m128i a = zero;
  __m128i b = zero;
  while (n >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    a = _mm_add_epi32(a, _mm_unpacklo_epi16(v, zero));
    b = _mm_add_epi32(b, _mm_unpackhi_epi16(v, zero));
    p += 16;
    n -= 16;
  }
  alignas(16) uint32_t lanes[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), _mm_add_epi32(a, b));
  return uint64_t{lanes[0]} + lanes[1] + lanes[2] + lanes[3];
}
#else
inline uint64_t ones_sum_wide(const uint8_t*& p, std::size_t& n) noexcept {
  uint64_t s = 0;
  while (n >= 16) {
    uint32_t w[4];
    std::memcpy(w, p, 16);
    s += uint64_t{w[0]} + w[1] + w[2] + w[3];
    p += 16;
    n -= 16;
  }
  return s;
}
#endif

// Returns the same 16-bit value as rte_raw_cksum(p, n): the folded, non-complemented sum of the
// buffer's 16-bit words in memory order (an odd last byte is padded with zero, RFC 1071 §4.1).
inline uint16_t ones_sum(const uint8_t* p, std::size_t n) noexcept {
  uint64_t s = ones_sum_wide(p, n);
  if (n >= 8) {
    uint32_t w[2];
    std::memcpy(w, p, 8);
    s += uint64_t{w[0]} + w[1];
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    s += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    s += w;
    p += 2;
    n -= 2;
  }
  if (n != 0) {
    uint16_t w = 0;
    std::memcpy(&w, p, 1);
    s += w;
  }
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

}  // namespace srtpgate::dp::detail
