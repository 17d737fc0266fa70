// Master keys: from raw bytes, and from the SDES key-params form of RFC 4568 §6.1.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "srtpgate/profile.h"
#include "srtpgate/result.h"
#include "srtpgate/secret.h"

namespace srtpgate::srtp {

// Key lifetimes of RFC 3711 §9.2: at most 2^48 SRTP and 2^31 SRTCP packets per master key.
inline constexpr uint64_t kMaxSrtpLifetime = uint64_t{1} << 48;
inline constexpr uint64_t kMaxSrtcpLifetime = uint64_t{1} << 31;
inline constexpr std::size_t kMaxMkiLen = 16;

// One master key and salt (RFC 3711 §8.1), with its optional MKI and lifetime.
// Copies are zeroized like the original; keep as few as you can.
struct MasterKey {
  SecretBytes<32> key;
  SecretBytes<14> salt;
  std::vector<uint8_t> mki;  // empty: no MKI; RFC 4568 allows 1 to 128 bytes, we allow 1 to 16
  uint64_t lifetime = kMaxSrtpLifetime;  // SRTP packets; SRTCP is capped at kMaxSrtcpLifetime

  // Checks the key and salt lengths against the profile.
  static Result<MasterKey> from_bytes(Profile profile, std::span<const uint8_t> key,
                                      std::span<const uint8_t> salt);
  // Takes key || salt as one buffer (the SDES and DTLS-SRTP concatenation).
  static Result<MasterKey> from_concatenated(Profile profile, std::span<const uint8_t> key_salt);
};

// Keys for both directions of one call, as a handshake or signalling hands them to the SRTP
// layer: `outbound` protects what we send, `inbound` unprotects what we receive.
struct KeyMaterial {
  Profile profile = Profile::aes_cm_128_hmac_sha1_80;
  MasterKey outbound;
  MasterKey inbound;
};

// Parses RFC 4568 §6.1 key-params: "inline:BASE64[|LIFETIME][|MKI:LENGTH]", where LIFETIME is
// decimal or "2^N" and MKI is a decimal value stored big-endian in LENGTH bytes (1..16).
// The "inline:" prefix may be omitted. Fails with a message naming the field at fault.
Result<MasterKey> parse_sdes_key(Profile profile, std::string_view key_params);

// Formats key || salt as "inline:BASE64" (for tests and tools that hand keys to peers).
std::string format_sdes_key(const MasterKey& key);

}  // namespace srtpgate::srtp
