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
  bit_mask_ = words_for(window) * 64 - 1;
  reset();
}

void ReplayWindow::reset() noexcept {
  std::memset(words_, 0, (std::size_t{bit_mask_} + 1) / 8);
  top_plus_one_ = 0;
}

}  // namespace srtpgate::srtp::detail
