// Pieces shared by the SRTP and SRTCP burst kernels: IV formation and index estimation.
#pragma once

#include <cstdint>
#include <cstring>

#include "byte_order.h"
#include "session_impl.h"
#include "tag_compare.h"

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
// the 48-bit SRTP packet index or the 31-bit SRTCP index. Built as two big-endian words:
// SSRC lands in bytes 4..7 and i in bytes 8..13.
inline void ctr_iv(uint8_t iv[16], const std::array<uint8_t, 16>& salt, uint32_t ssrc,
                   uint64_t index) noexcept {
  store_be64(iv, load_be64(salt.data()) ^ uint64_t{ssrc});
  store_be64(iv + 8, load_be64(salt.data() + 8) ^ (index << 16));  // salt bytes 14, 15 are 0
}

// RFC 7714 §8.1 (SRTP): IV = (0x0000 || SSRC || ROC || SEQ) XOR salt, 96 bits.
// RFC 7714 §9.1 (SRTCP): IV = (0x0000 || SSRC || 0x0000 || 0 || SRTCP index) XOR salt; the
// same layout with ROC = index >> 16 and SEQ = index & 0xffff. SSRC lands in bytes 2..5 and
// the 48-bit index in bytes 6..11.
inline void gcm_iv(uint8_t iv[12], const std::array<uint8_t, 16>& salt, uint32_t ssrc,
                   uint64_t index) noexcept {
  store_be64(iv, load_be64(salt.data()) ^ ((uint64_t{ssrc} << 16) | (index >> 32)));
  store_be32(iv + 8, load_be32(salt.data() + 8) ^ static_cast<uint32_t>(index));
}

// The stream a packet belongs to, created on first use within the cap: at once for outbound
// packets, and inbound only once the packet has authenticated (RFC 3711 §3.2.3 leaves stream
// creation to policy; creating it before would let a forgery use up the cap). `why` says why
// there is none. The stream last returned is tried first: bursts are mostly one SSRC.
inline Stream* stream_for(SessionImpl& s, uint32_t ssrc, Stream*& last, Status& why) noexcept {
  if (last != nullptr && last->ssrc == ssrc) {
    return last;
  }
  Stream* str = s.streams.find(ssrc);
  if (str == nullptr) {
    if (!s.config.accept_new_ssrcs) {
      why = Status::no_stream;
      return nullptr;
    }
    str = s.streams.insert(ssrc);
    if (str == nullptr) {
      why = Status::stream_limit;
      return nullptr;
    }
    ++s.stats.streams_created;
  }
  last = str;
  return str;
}

// Unprotect, after a packet's tag verified: its stream (created now if new), the replay check
// again (an earlier packet of the same burst may have carried the same index), and the commit
// into the stream's SRTP or SRTCP window. Status::ok means the window moved; `last` is then
// the packet's stream.
enum class WindowOf : bool { srtp, srtcp };
inline Status commit_verified(SessionImpl& s, uint32_t ssrc, uint64_t index, WindowOf which,
                              Stream*& last) noexcept {
  Status why = Status::ok;
  Stream* str = stream_for(s, ssrc, last, why);
  if (str == nullptr) {
    return why;
  }
  ReplayWindow& w = which == WindowOf::srtp ? str->rtp : s.streams.rtcp(*str).window;
  why = w.check(index);
  if (why == Status::ok) {
    w.commit(index);
  }
  return why;
}

// Where a stream's index stands for the estimate: its highest index, or (before the first
// packet) the ROC to assume.
// A plain aggregate: the burst kernels keep arrays of them, which must not be zeroed per burst.
struct IndexAnchor {
  bool started;
  uint64_t top;
  uint32_t preset_roc;
};

inline IndexAnchor anchor_of(const Stream* s) noexcept {
  IndexAnchor a{false, 0, 0};
  if (s != nullptr) {
    a.started = s->rtp.started();
    a.top = s->rtp.top();
    a.preset_roc = s->preset_roc;
  }
  return a;
}

// RFC 3711 §3.3.1 and Appendix A: the index of a received (or sent) packet from its sequence
// number and the stream's highest index so far. Returns false when the guess falls before
// index 0 (an old packet) or past 2^48 (the ROC would overflow: the key must be replaced).
// Appendix A chooses among ROC - 1, ROC and ROC + 1 by comparing SEQ with the top's SEQ (s_l);
// what it picks is the index congruent to SEQ nearest the top, and at the one tie (distance
// 2^15) the later index when s_l < 2^15, else the earlier. That is computed here directly, as
// the top plus the signed 16-bit difference of the two SEQs, without Appendix A's branches
// (tests/test_index_estimate.cc checks the two agree for every SEQ).
inline bool estimate_index(const IndexAnchor& a, uint16_t seq, uint64_t& index,
                           Status& why) noexcept {
  if (!a.started) {
    index = (uint64_t{a.preset_roc} << 16) | seq;
    return true;
  }
  const auto top_seq = static_cast<uint16_t>(a.top);
  int64_t delta = static_cast<int16_t>(static_cast<uint16_t>(seq - top_seq));
  if (delta == -32768 && top_seq < 32768) {
    delta = 32768;
  }
  const int64_t guess = static_cast<int64_t>(a.top) + delta;  // a.top < 2^48: no overflow
  if (guess < 0) {
    why = Status::replay_old;
    return false;
  }
  if (guess > int64_t{0xffffffffffff}) {
    why = Status::key_expired;
    return false;
  }
  index = static_cast<uint64_t>(guess);
  return true;
}

// Whether estimate_index from `a` (started) would give `index`, an estimate from another top for
// the same SEQ, without estimating again. RFC 3711 Appendix A picks the one index congruent to
// SEQ (mod 2^16) in a window of 2^16 around the top: [top - 32767, top + 32768] when the top's
// SEQ is below 32768, [top - 32768, top + 32767] otherwise. Both hold [top - 32767,
// top + 32767], so an index that close to `a.top` is the one `a` picks. Farther away the answer
// may still agree; this says only when it must.
inline bool estimate_agrees(const IndexAnchor& a, uint64_t index) noexcept {
  return index - a.top + 32767 <= 2 * 32767;
}

inline bool estimate_index(const Stream* s, uint16_t seq, uint64_t& index, Status& why) noexcept {
  return estimate_index(anchor_of(s), seq, index, why);
}

}  // namespace srtpgate::srtp::detail
