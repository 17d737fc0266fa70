#include "replay_window.h"

#include <bit>
#include <cstring>

namespace srtpgate::srtp::detail {

uint32_t ReplayWindow::words_for(uint32_t window) noexcept {
  return std::bit_ceil(window + 64u) / 64u;
}

void ReplayWindow::attach(uint64_t* words, uint32_t window) noexcept {
  words_ = words;
  window_ = window;
  bit_mask_ = uint64_t{words_for(window)} * 64 - 1;
  reset();
}

void ReplayWindow::reset() noexcept {
  std::memset(words_, 0, (bit_mask_ + 1) / 8);
  top_ = 0;
  started_ = false;
}

void ReplayWindow::commit(uint64_t index) noexcept {
  const uint64_t nwords = (bit_mask_ + 1) >> 6;
  const uint64_t word_mask = nwords - 1;
  if (!started_) {
    started_ = true;
    top_ = index;
  } else if (index > top_) {
    if (index - top_ > bit_mask_) {
      std::memset(words_, 0, nwords * 8);
    } else {
      // Words entered for the first time hold only indices older than the window: clear them.
      for (uint64_t w = (top_ >> 6) + 1; w <= (index >> 6); ++w) {
        words_[w & word_mask] = 0;
      }
    }
    top_ = index;
  }
  const uint64_t bit = index & bit_mask_;
  words_[bit >> 6] |= uint64_t{1} << (bit & 63);
}

}  // namespace srtpgate::srtp::detail
