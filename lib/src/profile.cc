#include "srtpgate/profile.h"

#include <cctype>
#include <string>

namespace srtpgate::srtp {

std::string_view name(Profile p) noexcept {
  switch (p) {
    case Profile::aes_cm_128_hmac_sha1_80: return "AES_CM_128_HMAC_SHA1_80";
    case Profile::aes_cm_128_hmac_sha1_32: return "AES_CM_128_HMAC_SHA1_32";
    case Profile::aes_256_cm_hmac_sha1_80: return "AES_256_CM_HMAC_SHA1_80";
    case Profile::aes_256_cm_hmac_sha1_32: return "AES_256_CM_HMAC_SHA1_32";
    case Profile::aead_aes_128_gcm: return "AEAD_AES_128_GCM";
    case Profile::aead_aes_256_gcm: return "AEAD_AES_256_GCM";
  }
  return "unknown";
}

namespace {

bool iequal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// DTLS-SRTP protection profile names (RFC 5764 §4.1.2, RFC 7714 §14.2); RFC 6188 has none.
std::string_view dtls_name(Profile p) noexcept {
  switch (p) {
    case Profile::aes_cm_128_hmac_sha1_80: return "SRTP_AES128_CM_HMAC_SHA1_80";
    case Profile::aes_cm_128_hmac_sha1_32: return "SRTP_AES128_CM_HMAC_SHA1_32";
    case Profile::aead_aes_128_gcm: return "SRTP_AEAD_AES_128_GCM";
    case Profile::aead_aes_256_gcm: return "SRTP_AEAD_AES_256_GCM";
    default: return {};
  }
}

}  // namespace

std::optional<Profile> profile_from_name(std::string_view text) noexcept {
  for (Profile p : kAllProfiles) {
    if (iequal(text, name(p)) || (!dtls_name(p).empty() && iequal(text, dtls_name(p)))) {
      return p;
    }
  }
  // OpenSSL spells the CM profiles without "HMAC_" (SRTP_AES128_CM_SHA1_80).
  if (iequal(text, "SRTP_AES128_CM_SHA1_80")) {
    return Profile::aes_cm_128_hmac_sha1_80;
  }
  if (iequal(text, "SRTP_AES128_CM_SHA1_32")) {
    return Profile::aes_cm_128_hmac_sha1_32;
  }
  return std::nullopt;
}

}  // namespace srtpgate::srtp
