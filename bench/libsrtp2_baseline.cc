#include "libsrtp2_baseline.h"

#include <arpa/inet.h>

#include "bench_packets.h"

#include <cstring>

namespace srtpgate::bench {
namespace {

bool set_rtp_policy(srtp::Profile profile, srtp_crypto_policy_t& rtp, srtp_crypto_policy_t& rtcp) {
  using srtp::Profile;
  switch (profile) {
    case Profile::aes_cm_128_hmac_sha1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);
      return true;
    case Profile::aes_cm_128_hmac_sha1_32:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&rtp);
      // RFC 3711 §5.2: SRTCP keeps the 80-bit tag.
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);
      return true;
    case Profile::aes_256_cm_hmac_sha1_80:
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtcp);
      return true;
    case Profile::aes_256_cm_hmac_sha1_32:
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&rtp);
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtcp);
      return true;
    case Profile::aead_aes_128_gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtcp);
      return true;
    case Profile::aead_aes_256_gcm:
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtp);
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtcp);
      return true;
  }
  return false;
}

bool ensure_srtp_init(std::string& error) {
  static const srtp_err_status_t status = srtp_init();
  if (status != srtp_err_status_ok) {
    error = "srtp_init failed with libsrtp2 error " + std::to_string(status);
    return false;
  }
  return true;
}

}  // namespace

bool Libsrtp2Baseline::init(srtp::Profile profile, std::span<const uint8_t> key_salt,
                            bool outbound, std::string& error) {
  profile_ = profile;
  key_salt_.assign(key_salt.begin(), key_salt.end());
  outbound_ = outbound;
  return reset(error);
}

bool Libsrtp2Baseline::reset(std::string& error) {
  // Starting a lap over only needs the stream's replay state gone: drop the stream (the next
  // packet makes a new one from the ssrc_any template) rather than rebuild the session, whose
  // key set-up and fresh memory would leave the next bursts on cold caches.
  if (session_) {
    srtp_remove_stream(session_.get(), htonl(kSsrc));
    return true;
  }
  if (!ensure_srtp_init(error)) {
    return false;
  }
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  if (!set_rtp_policy(profile_, policy.rtp, policy.rtcp)) {
    error = "libsrtp2 has no policy for this profile";
    return false;
  }
  policy.ssrc.type = outbound_ ? ssrc_any_outbound : ssrc_any_inbound;
  policy.key = key_salt_.data();  // copied by srtp_create()
  policy.window_size = 128;
  policy.allow_repeat_tx = 0;
  policy.next = nullptr;
  srtp_t session = nullptr;
  const srtp_err_status_t status = srtp_create(&session, &policy);
  if (status != srtp_err_status_ok) {
    error = "srtp_create failed with libsrtp2 error " + std::to_string(status);
    return false;
  }
  session_.reset(session);
  return true;
}

}  // namespace srtpgate::bench
