// SRTP protection profiles (RFC 3711, RFC 6188, RFC 7714) and their parameters.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace srtpgate::srtp {

enum class Profile : uint8_t {
  aes_cm_128_hmac_sha1_80,  // RFC 3711 §5 / RFC 4568 §6.2.1
  aes_cm_128_hmac_sha1_32,  // RFC 3711 §5 / RFC 4568 §6.2.2
  aes_256_cm_hmac_sha1_80,  // RFC 6188 §7.1
  aes_256_cm_hmac_sha1_32,  // RFC 6188 §7.2
  aead_aes_128_gcm,         // RFC 7714 §14.1
  aead_aes_256_gcm,         // RFC 7714 §14.2
};

inline constexpr Profile kAllProfiles[] = {
    Profile::aes_cm_128_hmac_sha1_80, Profile::aes_cm_128_hmac_sha1_32,
    Profile::aes_256_cm_hmac_sha1_80, Profile::aes_256_cm_hmac_sha1_32,
    Profile::aead_aes_128_gcm,        Profile::aead_aes_256_gcm,
};

struct ProfileParams {
  uint8_t master_key_len;   // also the session encryption key length
  uint8_t master_salt_len;  // 14 for AES-CM, 12 for GCM (RFC 7714 §11)
  uint8_t session_salt_len;
  uint8_t auth_key_len;     // HMAC-SHA1 session key, 0 for AEAD
  uint8_t rtp_tag_len;      // 10 or 4 for HMAC-SHA1, 16 for GCM
  // SRTCP always uses the full 80-bit tag, for the _32 profiles too (RFC 3711 §5.2).
  uint8_t rtcp_tag_len;
  bool aead;
};

constexpr ProfileParams params(Profile p) noexcept {
  switch (p) {
    case Profile::aes_cm_128_hmac_sha1_80: return {16, 14, 14, 20, 10, 10, false};
    case Profile::aes_cm_128_hmac_sha1_32: return {16, 14, 14, 20, 4, 10, false};
    case Profile::aes_256_cm_hmac_sha1_80: return {32, 14, 14, 20, 10, 10, false};
    case Profile::aes_256_cm_hmac_sha1_32: return {32, 14, 14, 20, 4, 10, false};
    case Profile::aead_aes_128_gcm: return {16, 12, 12, 0, 16, 16, true};
    case Profile::aead_aes_256_gcm: return {32, 12, 12, 0, 16, 16, true};
  }
  return {};
}

// The name used in SDP a=crypto (RFC 4568, RFC 6188, RFC 7714 §14), e.g.
// "AES_CM_128_HMAC_SHA1_80".
std::string_view name(Profile p) noexcept;

// Accepts the SDES names above and the DTLS-SRTP names of RFC 5764 / RFC 7714
// ("SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AEAD_AES_128_GCM", ...), case-insensitively.
std::optional<Profile> profile_from_name(std::string_view name) noexcept;

}  // namespace srtpgate::srtp
