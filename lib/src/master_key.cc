// RFC 4568 §6.1 key-params and raw master keys.
#include "srtpgate/master_key.h"

#include <openssl/evp.h>

#include <charconv>
#include <string>

namespace srtpgate::srtp {

namespace {

// Messages about the fields after the key never quote them: a field in the wrong place may be a
// key itself ("inline:KEY1|inline:KEY2"), and these messages reach logs and control answers.
constexpr const char* kBadLifetime =
    "SDES key: bad lifetime field (want a packet count N or 2^N with N <= 63)";

std::string len_error(std::string_view what, std::size_t want, std::size_t got, Profile p) {
  return std::string(what) + " must be " + std::to_string(want) + " bytes for " +
         std::string(name(p)) + ", got " + std::to_string(got);
}

// Parses a decimal number that fits in 64 bits; nothing else in the field.
std::optional<uint64_t> parse_decimal(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) {
    return std::nullopt;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

Result<MasterKey> MasterKey::from_bytes(Profile profile, std::span<const uint8_t> key,
                                        std::span<const uint8_t> salt) {
  const ProfileParams pp = params(profile);
  if (key.size() != pp.master_key_len) {
    return make_error(len_error("master key", pp.master_key_len, key.size(), profile));
  }
  if (salt.size() != pp.master_salt_len) {
    return make_error(len_error("master salt", pp.master_salt_len, salt.size(), profile));
  }
  MasterKey mk;
  mk.key.assign(key);
  mk.salt.assign(salt);
  return mk;
}

Result<MasterKey> MasterKey::from_concatenated(Profile profile,
                                               std::span<const uint8_t> key_salt) {
  const ProfileParams pp = params(profile);
  const std::size_t want = std::size_t{pp.master_key_len} + pp.master_salt_len;
  if (key_salt.size() != want) {
    return make_error(len_error("key || salt", want, key_salt.size(), profile));
  }
  return from_bytes(profile, key_salt.first(pp.master_key_len),
                    key_salt.subspan(pp.master_key_len));
}

Result<MasterKey> parse_sdes_key(Profile profile, std::string_view text) {
  constexpr std::string_view kInline = "inline:";
  if (text.substr(0, kInline.size()) == kInline) {
    text.remove_prefix(kInline.size());
  }
  const std::size_t bar = text.find('|');
  const std::string_view b64 = text.substr(0, bar);
  std::string_view rest = bar == std::string_view::npos ? std::string_view{} : text.substr(bar + 1);

  // Base64 of key || salt: at most 46 bytes of key material, so 64 characters is plenty.
  if (b64.empty() || b64.size() > 64 || b64.size() % 4 != 0) {
    return make_error("SDES key: the base64 key||salt has a bad length (" +
                      std::to_string(b64.size()) + " characters)");
  }
  uint8_t decoded[48 + 4];
  const int n = EVP_DecodeBlock(decoded, reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) {
    secure_zero(decoded, sizeof decoded);
    return make_error("SDES key: not valid base64");
  }
  // EVP_DecodeBlock does not strip the bytes that '=' padding stands for.
  std::size_t len = static_cast<std::size_t>(n);
  if (b64.size() >= 1 && b64[b64.size() - 1] == '=') {
    --len;
  }
  if (b64.size() >= 2 && b64[b64.size() - 2] == '=') {
    --len;
  }
  auto key = MasterKey::from_concatenated(profile, std::span<const uint8_t>(decoded, len));
  secure_zero(decoded, sizeof decoded);
  if (!key) {
    return make_error("SDES key: " + key.message());
  }

  // Optional fields: lifetime, then MKI:length (RFC 4568 §6.1). A lifetime is absent when the
  // first field contains ':'.
  int fields = 0;
  while (!rest.empty() || bar != std::string_view::npos) {
    const std::size_t next = rest.find('|');
    const std::string_view field = rest.substr(0, next);
    ++fields;
    if (fields > 2) {
      return make_error("SDES key: too many '|' fields after the key");
    }
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) {
      if (fields != 1) {
        return make_error("SDES key: the lifetime must come before the MKI");
      }
      uint64_t lifetime = 0;
      if (field.substr(0, 2) == "2^") {
        auto exp = parse_decimal(field.substr(2));
        if (!exp || *exp > 63) {
          return make_error(kBadLifetime);
        }
        lifetime = uint64_t{1} << *exp;
      } else {
        auto v = parse_decimal(field);
        if (!v) {
          return make_error(kBadLifetime);
        }
        lifetime = *v;
      }
      if (lifetime == 0) {
        return make_error("SDES key: lifetime must be at least 1 packet");
      }
      key->lifetime = lifetime < kMaxSrtpLifetime ? lifetime : kMaxSrtpLifetime;
    } else {
      auto mki_value = parse_decimal(field.substr(0, colon));
      auto mki_len = parse_decimal(field.substr(colon + 1));
      if (!mki_value || !mki_len || *mki_len < 1 || *mki_len > kMaxMkiLen) {
        return make_error("SDES key: bad MKI field (want VALUE:LENGTH with LENGTH 1.." +
                          std::to_string(kMaxMkiLen) + ")");
      }
      if (*mki_len < 8 && (*mki_value >> (8 * *mki_len)) != 0) {
        return make_error("SDES key: MKI value " + std::to_string(*mki_value) +
                          " does not fit in " + std::to_string(*mki_len) + " bytes");
      }
      key->mki.assign(*mki_len, 0);
      uint64_t v = *mki_value;
      for (std::size_t i = *mki_len; i > 0 && v != 0; --i) {
        key->mki[i - 1] = static_cast<uint8_t>(v & 0xff);
        v >>= 8;
      }
    }
    if (next == std::string_view::npos) {
      break;
    }
    rest = rest.substr(next + 1);
  }
  return key;
}

std::string format_sdes_key(const MasterKey& key) {
  uint8_t raw[46];
  const std::size_t n = key.key.size() + key.salt.size();
  std::copy(key.key.span().begin(), key.key.span().end(), raw);
  std::copy(key.salt.span().begin(), key.salt.span().end(), raw + key.key.size());
  unsigned char out[70];
  const int len = EVP_EncodeBlock(out, raw, static_cast<int>(n));
  secure_zero(raw, sizeof raw);
  std::string s =
      "inline:" + std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
  secure_zero(out, sizeof out);
  return s;
}

}  // namespace srtpgate::srtp
