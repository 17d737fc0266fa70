// Inbound SRTCP with the E flag clear (RFC 3711 §3.4: authenticated, not encrypted; RFC 7714
// §9.3 for GCM), made by Debian's libsrtp2 with an authentication-only RTCP policy.
#include <gtest/gtest.h>
#include <srtp2/srtp.h>

#include <cstring>
#include <vector>

#include "libsrtp_oracle.h"
#include "srtpgate/session.h"

namespace srtpgate::srtp {
namespace {

void set_policy(Profile p, srtp_crypto_policy_t* rtp, srtp_crypto_policy_t* rtcp) {
  switch (p) {
    case Profile::aes_cm_128_hmac_sha1_80:
    case Profile::aes_cm_128_hmac_sha1_32:  // SRTCP uses the 80-bit tag (RFC 3711 §5.2)
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
      break;
    case Profile::aes_256_cm_hmac_sha1_80:
    case Profile::aes_256_cm_hmac_sha1_32:
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtp);
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
      break;
    case Profile::aead_aes_128_gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp);
      break;
    case Profile::aead_aes_256_gcm:
      srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp);
      srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp);
      break;
  }
}

class SrtcpAuthOnly : public ::testing::TestWithParam<std::tuple<crypto::Backend, Profile>> {};

TEST_P(SrtcpAuthOnly, UnencryptedSrtcpFromLibsrtp2IsAuthenticatedAndKeptInTheClear) {
  const auto [backend, profile] = GetParam();
  const auto pp = params(profile);
  std::vector<uint8_t> key_salt(pp.master_key_len + pp.master_salt_len);
  for (std::size_t i = 0; i < key_salt.size(); ++i) {
    key_salt[i] = static_cast<uint8_t>(0xa5 ^ (i * 13));
  }
  ASSERT_EQ(oracle::init_once(), srtp_err_status_ok);
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  set_policy(profile, &policy.rtp, &policy.rtcp);
  policy.rtcp.sec_serv = sec_serv_auth;  // E flag clear: authenticated only
  policy.ssrc.type = ssrc_any_outbound;
  policy.key = key_salt.data();
  policy.window_size = 128;
  srtp_t sender = nullptr;
  ASSERT_EQ(srtp_create(&sender, &policy), srtp_err_status_ok);

  auto engine = crypto::make_engine(backend);
  ASSERT_TRUE(engine);
  SessionConfig config;
  config.profile = profile;
  config.direction = Direction::inbound;
  auto key = MasterKey::from_concatenated(profile, key_salt);
  ASSERT_TRUE(key);
  auto rx = Session::create(*engine, config, *key);
  ASSERT_TRUE(rx) << rx.message();

  // A receiver report with one report block, and an SDES CNAME.
  const std::vector<uint8_t> plain = {0x81, 201, 0, 7,  0x11, 0x22, 0x33, 0x44, 0xaa, 0xbb,
                                      0xcc, 0xdd, 0,    0,    0,    1,    0,    0,    0x10,
                                      0x00, 0,    0,    0,    0,    0,    0,    0,    0,
                                      0,    0,    0,    0,    0x81, 202,  0,    2,    0x11,
                                      0x22, 0x33, 0x44, 1,    1,    'x',  0};
  for (int n = 0; n < 5; ++n) {
    std::vector<uint8_t> buf(plain);
    buf.resize(plain.size() + 64);
    int len = static_cast<int>(plain.size());
    ASSERT_EQ(srtp_protect_rtcp(sender, buf.data(), &len), srtp_err_status_ok);
    // E flag clear in the E||index word, and the report still readable on the wire.
    const std::size_t e_at = pp.aead ? static_cast<std::size_t>(len) - 4
                                     : static_cast<std::size_t>(len) - pp.rtcp_tag_len - 4;
    ASSERT_EQ(buf[e_at] & 0x80, 0) << "libsrtp2 did not send E=0";
    ASSERT_EQ(0, std::memcmp(buf.data(), plain.data(), plain.size()));

    std::vector<uint8_t> tampered(buf.begin(), buf.begin() + len);
    tampered[20] ^= 1;  // inside the clear report: must fail authentication
    tampered.resize(buf.size());
    PacketView bad{tampered.data(), static_cast<uint32_t>(len),
                   static_cast<uint32_t>(tampered.size())};
    Status st = Status::count_;
    rx.value()->unprotect_rtcp({&bad, 1}, {&st, 1});
    EXPECT_EQ(st, Status::auth_failure);

    PacketView v{buf.data(), static_cast<uint32_t>(len), static_cast<uint32_t>(buf.size())};
    ASSERT_EQ(rx.value()->unprotect_rtcp({&v, 1}, {&st, 1}), 1u) << name(st);
    ASSERT_EQ(v.len, plain.size());
    EXPECT_EQ(0, std::memcmp(buf.data(), plain.data(), plain.size()));
  }
  srtp_dealloc(sender);
}

INSTANTIATE_TEST_SUITE_P(
    AllProfiles, SrtcpAuthOnly,
    ::testing::Combine(::testing::Values(crypto::Backend::ipsecmb, crypto::Backend::openssl),
                       ::testing::ValuesIn(kAllProfiles)),
    [](const auto& info) {
      return std::string(crypto::name(std::get<0>(info.param))) + "_" +
             std::string(name(std::get<1>(info.param)));
    });

}  // namespace
}  // namespace srtpgate::srtp
