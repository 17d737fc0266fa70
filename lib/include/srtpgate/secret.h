// Key bytes that are wiped when they go away.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace srtpgate {

// Overwrites memory in a way the compiler may not elide (OPENSSL_cleanse underneath).
void secure_zero(void* p, std::size_t n) noexcept;

// Compares two byte ranges of equal length in time independent of their contents.
bool constant_time_equal(const uint8_t* a, const uint8_t* b, std::size_t n) noexcept;

// A fixed-capacity secret: at most N bytes, zeroized on destruction, move and clear.
// It is never printed; it has no stream operator on purpose.
template <std::size_t N>
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::span<const uint8_t> bytes) noexcept { assign(bytes); }
  SecretBytes(const SecretBytes& other) noexcept { assign(other.span()); }
  SecretBytes& operator=(const SecretBytes& other) noexcept {
    if (this != &other) {
      assign(other.span());
    }
    return *this;
  }
  ~SecretBytes() { clear(); }

  // Bytes past N are dropped; callers check lengths before calling.
  void assign(std::span<const uint8_t> bytes) noexcept {
    clear();
    len_ = bytes.size() < N ? bytes.size() : N;
    for (std::size_t i = 0; i < len_; ++i) {
      bytes_[i] = bytes[i];
    }
  }
  void clear() noexcept {
    secure_zero(bytes_.data(), bytes_.size());
    len_ = 0;
  }
  std::span<const uint8_t> span() const noexcept { return {bytes_.data(), len_}; }
  const uint8_t* data() const noexcept { return bytes_.data(); }
  uint8_t* data() noexcept { return bytes_.data(); }
  std::size_t size() const noexcept { return len_; }
  bool empty() const noexcept { return len_ == 0; }

 private:
  std::array<uint8_t, N> bytes_{};
  std::size_t len_ = 0;
};

}  // namespace srtpgate
