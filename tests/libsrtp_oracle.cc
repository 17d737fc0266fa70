#include "libsrtp_oracle.h"

#include <mutex>
#include <string>

#include "srtpgate/secret.h"

namespace srtpgate::oracle {
namespace {

// Room libsrtp2 may write past the packet: tag, MKI and, for SRTCP, the E flag and index.
constexpr std::size_t kTrailerRoom = SRTP_MAX_TRAILER_LEN + 4;


std::string describe(srtp_err_status_t s) { return "libsrtp2 error " + std::to_string(s); }

}  // namespace

bool set_policies(srtp::Profile profile, srtp_crypto_policy_t& rtp, srtp_crypto_policy_t& rtcp) {
  switch (profile) {
    case srtp::Profile::aes_cm_128_hmac_sha1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);
      return true;
    case srtp::Profile::aes_cm_128_hmac_sha1_32:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);  // RFC 3711 §5.2
      return true;
    case srtp::Profile::aes_256_cm_hmac_sha1_80:
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtcp);
      return true;
    case srtp::Profile::aes_256_cm_hmac_sha1_32:
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&rtp);
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtcp);  // RFC 6188 §7.2 keeps §5.2's rule
      return true;
    case srtp::Profile::aead_aes_128_gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtcp);
      return true;
    case srtp::Profile::aead_aes_256_gcm:
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtp);
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtcp);
      return true;
  }
  return false;
}

srtp_err_status_t init_once() {
  static std::once_flag once;
  static srtp_err_status_t status = srtp_err_status_ok;
  std::call_once(once, [] { status = srtp_init(); });
  return status;
}

Result<std::unique_ptr<LibsrtpOracle>> LibsrtpOracle::create(const OracleConfig& config,
                                                              std::span<const OracleKey> keys) {
  if (const auto s = init_once(); s != srtp_err_status_ok) {
    return make_error("srtp_init failed: " + describe(s));
  }
  if (keys.empty() || keys.size() > SRTP_MAX_NUM_MASTER_KEYS) {
    return make_error("libsrtp2 oracle needs 1.." + std::to_string(SRTP_MAX_NUM_MASTER_KEYS) +
                      " keys");
  }
  const bool use_mki = !keys[0].mki.empty();
  const auto pp = srtp::params(config.profile);
  const std::size_t key_salt_len = std::size_t{pp.master_key_len} + pp.master_salt_len;

  srtp_policy_t policy{};
  if (!set_policies(config.profile, policy.rtp, policy.rtcp)) {
    return make_error("libsrtp2 has no policy for this profile");
  }
  if (config.ssrc) {
    policy.ssrc.type = ssrc_specific;
    policy.ssrc.value = *config.ssrc;
  } else {
    policy.ssrc.type = config.outbound ? ssrc_any_outbound : ssrc_any_inbound;
  }
  policy.window_size = config.window_size;
  policy.allow_repeat_tx = config.allow_repeat_tx ? 1 : 0;
  policy.next = nullptr;

  // Copies libsrtp2 reads during srtp_create(); wiped when this function returns.
  std::vector<SecretBytes<64>> key_copies(keys.size());
  std::vector<std::vector<uint8_t>> mki_copies(keys.size());
  std::vector<srtp_master_key_t> master_keys(keys.size());
  std::vector<srtp_master_key_t*> master_key_ptrs(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].key_salt.size() != key_salt_len) {
      return make_error("key || salt must be " + std::to_string(key_salt_len) + " bytes");
    }
    if (keys[i].mki.empty() == use_mki) {
      return make_error("either every key has an MKI or there is exactly one key without one");
    }
    key_copies[i].assign(keys[i].key_salt);
    mki_copies[i] = keys[i].mki;
    master_keys[i].key = key_copies[i].data();
    master_keys[i].mki_id = mki_copies[i].data();
    master_keys[i].mki_size = static_cast<unsigned>(mki_copies[i].size());
    master_key_ptrs[i] = &master_keys[i];
  }
  if (!use_mki && keys.size() != 1) {
    return make_error("several keys need MKIs");
  }
  if (use_mki) {
    policy.key = nullptr;
    policy.keys = master_key_ptrs.data();
    policy.num_master_keys = keys.size();
  } else {
    policy.key = key_copies[0].data();
  }

  srtp_t raw = nullptr;
  if (const auto s = srtp_create(&raw, &policy); s != srtp_err_status_ok) {
    return make_error("srtp_create failed: " + describe(s));
  }
  return std::unique_ptr<LibsrtpOracle>(new LibsrtpOracle(SrtpPtr(raw), use_mki));
}

srtp_err_status_t LibsrtpOracle::protect_rtp(std::vector<uint8_t>& packet, unsigned mki_index) {
  int len = static_cast<int>(packet.size());
  packet.resize(packet.size() + kTrailerRoom);
  const auto s = srtp_protect_mki(session_.get(), packet.data(), &len, use_mki_ ? 1 : 0,
                                  mki_index);
  packet.resize(s == srtp_err_status_ok ? static_cast<std::size_t>(len)
                                        : packet.size() - kTrailerRoom);
  return s;
}

srtp_err_status_t LibsrtpOracle::unprotect_rtp(std::vector<uint8_t>& packet) {
  int len = static_cast<int>(packet.size());
  const auto s = srtp_unprotect_mki(session_.get(), packet.data(), &len, use_mki_ ? 1 : 0);
  if (s == srtp_err_status_ok) {
    packet.resize(static_cast<std::size_t>(len));
  }
  return s;
}

srtp_err_status_t LibsrtpOracle::protect_rtcp(std::vector<uint8_t>& packet, unsigned mki_index) {
  int len = static_cast<int>(packet.size());
  packet.resize(packet.size() + kTrailerRoom);
  const auto s = srtp_protect_rtcp_mki(session_.get(), packet.data(), &len, use_mki_ ? 1 : 0,
                                       mki_index);
  packet.resize(s == srtp_err_status_ok ? static_cast<std::size_t>(len)
                                        : packet.size() - kTrailerRoom);
  return s;
}

srtp_err_status_t LibsrtpOracle::unprotect_rtcp(std::vector<uint8_t>& packet) {
  int len = static_cast<int>(packet.size());
  const auto s = srtp_unprotect_rtcp_mki(session_.get(), packet.data(), &len, use_mki_ ? 1 : 0);
  if (s == srtp_err_status_ok) {
    packet.resize(static_cast<std::size_t>(len));
  }
  return s;
}

srtp_err_status_t LibsrtpOracle::set_roc(uint32_t ssrc, uint32_t roc) {
  return srtp_set_stream_roc(session_.get(), ssrc, roc);
}

std::optional<uint32_t> LibsrtpOracle::roc(uint32_t ssrc) {
  uint32_t r = 0;
  if (srtp_get_stream_roc(session_.get(), ssrc, &r) != srtp_err_status_ok) {
    return std::nullopt;
  }
  return r;
}

}  // namespace srtpgate::oracle
