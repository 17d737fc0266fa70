#include "kdf.h"

#include <array>

#include "srtpgate/secret.h"

namespace srtpgate::srtp::detail {

void derive_key(crypto::Engine& engine, std::span<const uint8_t> master_key,
                std::span<const uint8_t> master_salt, KdfLabel label, std::span<uint8_t> out) {
  // RFC 3711 §4.3.1: key_id = label || r with r = 0 (key_derivation_rate 0), x = key_id XOR
  // master_salt, both 112 bits; the PRF input block is x * 2^16. The label sits in the 8th
  // byte of the 14-byte field (48 bits of r follow it). A 12-byte GCM salt is left-aligned
  // and padded with zeros (RFC 7714 §11).
  std::array<uint8_t, 16> iv{};
  for (std::size_t i = 0; i < master_salt.size() && i < 14; ++i) {
    iv[i] = master_salt[i];
  }
  iv[7] ^= static_cast<uint8_t>(label);
  engine.ctr_keystream(master_key, iv.data(), out);
  secure_zero(iv.data(), iv.size());
}

}  // namespace srtpgate::srtp::detail
