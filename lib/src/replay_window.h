// Sliding replay window over packet indices (RFC 3711 §3.3.2), as a circular bitmap so that
// windows of up to 32768 packets cost O(1) per packet (the layout of DPDK ipsec_sqn.h and the
// Linux xfrm ESN bitmap). check() is read-only and runs before the tag is verified; commit()
// runs only after it verified, so a forged packet never moves the window.
#pragma once

#include <cstdint>
#include <cstring>

#include "srtpgate/packet.h"

namespace srtpgate::srtp::detail {

class ReplayWindow {
 public:
  // 64-bit words of storage needed for a window of `window` packets: a power of two of at
  // least window + 64 bits, so the word holding the newest index never aliases one in range.
  static uint32_t words_for(uint32_t window) noexcept;

  // `words` must hold words_for(window) zeroed words and outlive the window.
  void attach(uint64_t* words, uint32_t window) noexcept;
  void reset() noexcept;

  bool started() const noexcept { return top_plus_one_ != 0; }
  // The highest index committed; meaningful once started().
  uint64_t top() const noexcept { return top_plus_one_ - 1; }

  Status check(uint64_t index) const noexcept {
    if (index >= top_plus_one_) {  // past the top, or the first packet
      return Status::ok;
    }
    if (top_plus_one_ - 1 - index >= window_) {
      return Status::replay_old;
    }
    const uint64_t bit = index & bit_mask_;
    return (words_[bit >> 6] >> (bit & 63)) & 1 ? Status::replay_duplicate : Status::ok;
  }

  // Call only after check(index) == Status::ok.
  void commit(uint64_t index) noexcept;

 private:
  // 24 bytes, so that a stream's SRTP state and a 128-packet window share one cache line
  // (stream_table.h).
  uint64_t* words_ = nullptr;
  // The highest index committed, plus one; 0 before the first commit. Indices stay below 2^48
  // (SRTP, RFC 3711 §3.3.1) or 2^31 (SRTCP), so the sum never wraps.
  uint64_t top_plus_one_ = 0;
  uint32_t bit_mask_ = 0;  // bits - 1; at most 65535 (a 32768-packet window)
  uint32_t window_ = 0;
};

inline void ReplayWindow::commit(uint64_t index) noexcept {
  const uint64_t nwords = (uint64_t{bit_mask_} + 1) >> 6;
  const uint64_t word_mask = nwords - 1;
  if (index >= top_plus_one_) {  // a new top (always, for the first packet)
    if (top_plus_one_ != 0) {
      const uint64_t top = top_plus_one_ - 1;
      if (index - top > bit_mask_) {
        std::memset(words_, 0, nwords * 8);
      } else {
        // Words entered for the first time hold only indices older than the window: clear them.
        for (uint64_t w = (top >> 6) + 1; w <= (index >> 6); ++w) {
          words_[w & word_mask] = 0;
        }
      }
    }
    top_plus_one_ = index + 1;
  }
  const uint64_t bit = index & bit_mask_;
  words_[bit >> 6] |= uint64_t{1} << (bit & 63);
}

}  // namespace srtpgate::srtp::detail
