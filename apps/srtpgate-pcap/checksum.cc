#include "checksum.h"

namespace srtpgate::app {

namespace {

uint64_t sum_words(std::span<const uint8_t> b, uint64_t sum) noexcept {
  std::size_t i = 0;
  for (; i + 1 < b.size(); i += 2) {
    sum += (uint32_t{b[i]} << 8) | b[i + 1];
  }
  if (i < b.size()) {
    sum += uint32_t{b[i]} << 8;
  }
  return sum;
}

uint16_t fold(uint64_t sum) noexcept {
  while ((sum >> 16) != 0) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(~sum & 0xffff);
}

}  // namespace

uint16_t internet_checksum(std::span<const uint8_t> bytes, uint64_t initial) noexcept {
  return fold(sum_words(bytes, initial));
}

uint16_t udp_checksum(const IpAddress& src, const IpAddress& dst,
                      std::span<const uint8_t> datagram) noexcept {
  const std::size_t addr_len = src.version == 6 ? 16 : 4;
  uint64_t sum = sum_words({src.bytes.data(), addr_len}, 0);
  sum = sum_words({dst.bytes.data(), addr_len}, sum);
  sum += 17;  // next header / protocol: UDP
  sum += datagram.size();
  const uint16_t c = fold(sum_words(datagram, sum));
  return c == 0 ? 0xffff : c;
}

}  // namespace srtpgate::app
