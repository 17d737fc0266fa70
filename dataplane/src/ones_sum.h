// The Internet checksum's one's-complement sum (RFC 1071) over a buffer, wide words at a time.
// Internal to dataplane/.
//
// On ports without checksum offload this sum runs over every payload, and it is the worker's
// largest cost after the crypto itself. DPDK 22.11's rte_raw_cksum is written one 16-bit word
// per step (GCC vectorises it about as well as the SSE2 body below). RFC 1071 §2 (B, C): the
// sum may be taken over wider words and folded at the end, in either byte order, with the same
// result. Two bodies:
//  - AVX-512BW, chosen at run time where the CPU has it, for 64 bytes and more: 64 bytes per
//    step, and the last partial step is a masked load, so a 172-byte packet is three steps and
//    no scalar tail;
//  - SSE2 (every x86-64): 16 bytes per step, then 8/4/2/1-byte tails.
// The choice is one flag read once at start-up; each call is a predicted branch and a direct
// call, never an indirect one. srtpgate-checksum-bench measures all of them against
// rte_raw_cksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define SRTPGATE_ONES_SUM_AVX512 1
#endif

namespace srtpgate::dp::detail {

// Folds a sum of 16-bit words (any width) to 16 bits, end-around carries included.
inline uint16_t fold_ones_sum(uint64_t s) noexcept {
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// Returns the same 16-bit value as rte_raw_cksum(p, n): the folded, non-complemented sum of the
// buffer's 16-bit words in memory order (an odd last byte is padded with zero, RFC 1071 §4.1).
// Portable body: SSE2 on x86-64, plain 32-bit words elsewhere.
inline uint16_t ones_sum_portable(const uint8_t* p, std::size_t n) noexcept {
  uint64_t s = 0;
#if defined(__SSE2__)
  // Eight 16-bit words per step, each widened to 32 bits and added lane-wise. A lane of `a` or
  // `b` gains at most 0xffff per 16 bytes and the two are added at the end, so no 32-bit lane
  // overflows below 512 KiB: far above a frame.
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
  s = uint64_t{lanes[0]} + lanes[1] + lanes[2] + lanes[3];
#else
  while (n >= 16) {
    uint32_t w[4];
    std::memcpy(w, p, 16);
    s += uint64_t{w[0]} + w[1] + w[2] + w[3];
    p += 16;
    n -= 16;
  }
#endif
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
  return fold_ones_sum(s);
}

#if defined(SRTPGATE_ONES_SUM_AVX512)
// AVX-512BW body. Each 32-bit lane gains at most 0xffff per 64 bytes in each accumulator,
// and 2 * 0xffff once they are added, so no lane overflows below 2 MiB. The masked load of
// the tail reads only the buffer's bytes (masked-off bytes are neither read nor faulted on)
// and zero-fills the rest, which is RFC 1071's padding of an odd last byte.
// GCC 12's AVX-512 intrinsics start some results from a deliberately undefined register
// (_mm512_undefined_epi32) and then warn about it; the warning is about the header, not us.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only group; clang warns that it does not know it
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Up to this many bytes the sixteen 32-bit lanes add up in 32 bits (see the reduction below).
inline constexpr std::size_t kOnesSumNarrowReduceMax = 2048 * 64;

__attribute__((target("avx512f,avx512bw"))) inline uint16_t ones_sum_avx512(
    const uint8_t* p, std::size_t n) noexcept {
  const std::size_t total = n;
  const __m512i low_words = _mm512_set1_epi32(0xffff);
  // Low and high words go to separate accumulators: two independent add chains per step.
  __m512i lo_acc = _mm512_setzero_si512();
  __m512i hi_acc = _mm512_setzero_si512();
  while (n >= 64) {
    const __m512i v = _mm512_loadu_si512(p);
    lo_acc = _mm512_add_epi32(lo_acc, _mm512_and_si512(v, low_words));
    hi_acc = _mm512_add_epi32(hi_acc, _mm512_srli_epi32(v, 16));
    p += 64;
    n -= 64;
  }
  if (n != 0) {
    const __mmask64 tail = (uint64_t{1} << n) - 1;
    const __m512i v = _mm512_maskz_loadu_epi8(tail, p);
    lo_acc = _mm512_add_epi32(lo_acc, _mm512_and_si512(v, low_words));
    hi_acc = _mm512_add_epi32(hi_acc, _mm512_srli_epi32(v, 16));
  }
  const __m512i acc = _mm512_add_epi32(lo_acc, hi_acc);
  if (total <= kOnesSumNarrowReduceMax) {
    // At most 2048 steps (every frame): a lane holds at most 2 * 0xffff per step, so the
    // sixteen add up to at most 32 * 0xffff * 2048 < 2^32, and the reduction stays in 32-bit
    // lanes: halve the vector three times, then add the last two lanes.
    const __m256i s8 =
        _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_srli_epi64(s4, 32));
    auto s = static_cast<uint32_t>(_mm_cvtsi128_si32(s4));
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
  }
  // Longer: sixteen lanes to one 64-bit sum: widen the two halves to 64-bit lanes first, so the
  // reduction cannot overflow whatever the length.
  const __m512i lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(acc));
  const __m512i hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(acc, 1));
  return fold_ones_sum(static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi))));
}
#pragma GCC diagnostic pop

inline bool cpu_has_avx512bw() noexcept {
  __builtin_cpu_init();  // may run in a static initializer, before libgcc's own
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
inline const bool kOnesSumAvx512 = cpu_has_avx512bw();
#endif

// Returns the same 16-bit value as rte_raw_cksum(p, n); see ones_sum_portable.
inline uint16_t ones_sum(const uint8_t* p, std::size_t n) noexcept {
#if defined(SRTPGATE_ONES_SUM_AVX512)
  if (kOnesSumAvx512 && n >= 64) {  // below a full step the SSE2 body is faster (the bench)
    return ones_sum_avx512(p, n);
  }
#endif
  return ones_sum_portable(p, n);
}

}  // namespace srtpgate::dp::detail
