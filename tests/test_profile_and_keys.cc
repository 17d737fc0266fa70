// Profiles, SDES key-params (RFC 4568 §6.1), and the secret helpers.
#include <gtest/gtest.h>

#include "srtpgate/master_key.h"
#include "srtpgate/profile.h"
#include "srtpgate/secret.h"

namespace srtpgate::srtp {
namespace {

TEST(Profile, NamesRoundTripAndDtlsNames) {
  for (Profile p : kAllProfiles) {
    auto back = profile_from_name(name(p));
    ASSERT_TRUE(back.has_value()) << name(p);
    EXPECT_EQ(*back, p);
  }
  EXPECT_EQ(profile_from_name("SRTP_AES128_CM_HMAC_SHA1_80"), Profile::aes_cm_128_hmac_sha1_80);
  EXPECT_EQ(profile_from_name("srtp_aead_aes_256_gcm"), Profile::aead_aes_256_gcm);
  EXPECT_EQ(profile_from_name("SRTP_AES128_CM_SHA1_32"), Profile::aes_cm_128_hmac_sha1_32);
  EXPECT_FALSE(profile_from_name("AES_CM_128_HMAC_SHA1_81").has_value());
  EXPECT_FALSE(profile_from_name("").has_value());
}

TEST(Profile, ParametersFollowTheRfcs) {
  EXPECT_EQ(params(Profile::aes_cm_128_hmac_sha1_32).rtp_tag_len, 4);
  EXPECT_EQ(params(Profile::aes_cm_128_hmac_sha1_32).rtcp_tag_len, 10);  // RFC 3711 §5.2
  EXPECT_EQ(params(Profile::aes_256_cm_hmac_sha1_80).master_key_len, 32);
  EXPECT_EQ(params(Profile::aead_aes_128_gcm).master_salt_len, 12);  // RFC 7714 §11
  EXPECT_TRUE(params(Profile::aead_aes_256_gcm).aead);
}

// RFC 4568 §6.1 example key (its base64 text), 30 bytes of key || salt.
constexpr const char* kRfc4568Key = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

TEST(Sdes, ParsesInlineKeyLifetimeAndMki) {
  auto k = parse_sdes_key(Profile::aes_cm_128_hmac_sha1_80,
                          std::string(kRfc4568Key) + "|2^20|1:4");
  ASSERT_TRUE(k) << k.message();
  EXPECT_EQ(k->key.size(), 16u);
  EXPECT_EQ(k->salt.size(), 14u);
  EXPECT_EQ(k->lifetime, uint64_t{1} << 20);
  EXPECT_EQ(k->mki, (std::vector<uint8_t>{0, 0, 0, 1}));
  // "PS1u" decodes to 0x3d 0x2d 0x6e.
  EXPECT_EQ(k->key.data()[0], 0x3d);
  EXPECT_EQ(k->key.data()[1], 0x2d);
  EXPECT_EQ(k->key.data()[2], 0x6e);
}

TEST(Sdes, MkiWithoutLifetimeAndDecimalLifetime) {
  auto k = parse_sdes_key(Profile::aes_cm_128_hmac_sha1_80, std::string(kRfc4568Key) + "|258:2");
  ASSERT_TRUE(k) << k.message();
  EXPECT_EQ(k->mki, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(k->lifetime, kMaxSrtpLifetime);
  auto d = parse_sdes_key(Profile::aes_cm_128_hmac_sha1_80, std::string(kRfc4568Key) + "|1000");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->lifetime, 1000u);
}

TEST(Sdes, RoundTripsThroughFormat) {
  auto k = parse_sdes_key(Profile::aes_cm_128_hmac_sha1_80, kRfc4568Key);
  ASSERT_TRUE(k);
  EXPECT_EQ(format_sdes_key(*k), kRfc4568Key);
}

TEST(Sdes, RejectsBadInputWithAReason) {
  const Profile p = Profile::aes_cm_128_hmac_sha1_80;
  const std::string good = kRfc4568Key;
  for (const std::string& bad :
       {std::string("inline:"), std::string("inline:!!!!"), good + "|", good + "|2^x",
        good + "|0", good + "|1:0", good + "|1:17", good + "|256:1", good + "|1:4|2^20",
        good + "|2^20|1:4|5", std::string("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0m"),
        std::string("inline:") + std::string(200, 'A')}) {
    auto k = parse_sdes_key(p, bad);
    EXPECT_FALSE(k) << bad;
    if (!k) {
      EXPECT_FALSE(k.message().empty());
    }
  }
  // A 30-byte key is wrong for the AES-256 profile (needs 46).
  EXPECT_FALSE(parse_sdes_key(Profile::aes_256_cm_hmac_sha1_80, good));
  // And right-length keys for GCM are 28 bytes.
  EXPECT_FALSE(parse_sdes_key(Profile::aead_aes_128_gcm, good));
}

// A field after the key may be a second key given by mistake, in either field's place; the
// messages reach logs and control answers, so they never quote it.
TEST(Sdes, MessagesNeverQuoteAFieldThatMayBeAKey) {
  const Profile p = Profile::aes_cm_128_hmac_sha1_80;
  const std::string good = kRfc4568Key;
  const std::string second = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";
  for (const std::string& bad :
       {good + "|inline:" + second, good + "|" + second, good + "|2^20|inline:" + second,
        good + "|2^20|" + second + ":4", good + "|" + second + ":1"}) {
    auto k = parse_sdes_key(p, bad);
    ASSERT_FALSE(k) << bad;
    EXPECT_EQ(k.message().find(second.substr(0, 8)), std::string::npos) << k.message();
  }
}

TEST(Secret, ConstantTimeEqualAndZeroize) {
  const uint8_t a[4] = {1, 2, 3, 4};
  const uint8_t b[4] = {1, 2, 3, 5};
  EXPECT_TRUE(constant_time_equal(a, a, 4));
  EXPECT_FALSE(constant_time_equal(a, b, 4));
  EXPECT_TRUE(constant_time_equal(a, b, 3));
  SecretBytes<8> s(std::span<const uint8_t>(a, 4));
  EXPECT_EQ(s.size(), 4u);
  s.clear();
  EXPECT_EQ(s.size(), 0u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(s.data()[i], 0);
  }
}

}  // namespace
}  // namespace srtpgate::srtp
