// Constant-time tag comparison for the packet path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace srtpgate::detail {

// Tag comparison in time independent of the contents (no early exit): XOR every byte pair
// and OR the differences. Inline, because a call into libcrypto per packet costs more than the
// comparison; fixed lengths let the compiler use whole words.
inline bool tags_equal(const uint8_t* a, const uint8_t* b, std::size_t n) noexcept {
  uint64_t diff = 0;
  auto word = [&](std::size_t at, std::size_t width) {
    uint64_t x = 0;
    uint64_t y = 0;
    std::memcpy(&x, a + at, width);
    std::memcpy(&y, b + at, width);
    diff |= x ^ y;
  };
  switch (n) {
    case 4: word(0, 4); break;
    case 10: word(0, 8); word(8, 2); break;
    case 16: word(0, 8); word(8, 8); break;
    default:
      for (std::size_t i = 0; i < n; ++i) {
        diff |= static_cast<uint64_t>(a[i] ^ b[i]);
      }
  }
  return diff == 0;
}

}  // namespace srtpgate::detail
