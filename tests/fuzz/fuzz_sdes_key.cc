// libFuzzer target: RFC 4568 §6.1 key-params from SDP (untrusted signalling) for every profile.
//
// The whole input is the a=crypto key-params text. For each profile it must parse or fail with a
// message; when it parses, the key and salt have the profile's lengths, the MKI is 0..16 bytes,
// the lifetime is 1..2^48, and format_sdes_key() of the result parses back to the same key and
// salt (format writes key || salt only, so the MKI is empty and the lifetime the default).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "srtpgate/master_key.h"
#include "srtpgate/profile.h"

namespace {

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_sdes_key: invariant violated: %s\n", what);
    std::abort();
  }
}

bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace srtpgate::srtp;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (Profile profile : kAllProfiles) {
    auto key = parse_sdes_key(profile, text);
    if (!key) {
      check(!key.message().empty(), "an error without a message");
      continue;
    }
    const auto pp = params(profile);
    check(key->key.size() == pp.master_key_len, "key length differs from the profile");
    check(key->salt.size() == pp.master_salt_len, "salt length differs from the profile");
    check(key->mki.size() <= kMaxMkiLen, "MKI longer than kMaxMkiLen");
    check(key->lifetime >= 1 && key->lifetime <= kMaxSrtpLifetime, "lifetime out of range");

    const std::string formatted = format_sdes_key(key.value());
    auto again = parse_sdes_key(profile, formatted);
    check(again.ok(), "format_sdes_key output does not parse");
    check(same_bytes(again->key.span(), key->key.span()), "round trip changed the key");
    check(same_bytes(again->salt.span(), key->salt.span()), "round trip changed the salt");
    check(again->mki.empty() && again->lifetime == kMaxSrtpLifetime,
          "round trip invented an MKI or lifetime");
  }
  return 0;
}
