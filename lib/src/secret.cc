#include "srtpgate/secret.h"

#include <openssl/crypto.h>

namespace srtpgate {

void secure_zero(void* p, std::size_t n) noexcept { OPENSSL_cleanse(p, n); }

bool constant_time_equal(const uint8_t* a, const uint8_t* b, std::size_t n) noexcept {
  // CRYPTO_memcmp touches every byte whatever the contents (OpenSSL's constant-time compare).
  return CRYPTO_memcmp(a, b, n) == 0;
}

}  // namespace srtpgate
