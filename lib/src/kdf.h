// SRTP key derivation (RFC 3711 §4.3; RFC 6188 §4 for AES-256; RFC 7714 §11 for GCM salts).
#pragma once

#include <cstdint>
#include <span>

#include "engine.h"

namespace srtpgate::srtp::detail {

// Labels of RFC 3711 §4.3.2.
enum class KdfLabel : uint8_t {
  rtp_encryption = 0x00,
  rtp_auth = 0x01,
  rtp_salt = 0x02,
  rtcp_encryption = 0x03,
  rtcp_auth = 0x04,
  rtcp_salt = 0x05,
};

// Fills `out` with the PRF output for `label` (key_derivation_rate 0, so r = 0): AES-CM keyed
// with the master key (16 or 32 bytes) over IV = (master_salt XOR label << 48) * 2^16.
// The master salt is 14 bytes, or 12 for the GCM profiles (zero-padded on the right, as
// RFC 7714 §11 and libsrtp do).
void derive_key(crypto::Engine& engine, std::span<const uint8_t> master_key,
                std::span<const uint8_t> master_salt, KdfLabel label, std::span<uint8_t> out);

}  // namespace srtpgate::srtp::detail
