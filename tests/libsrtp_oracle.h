// Debian's libsrtp2 as the independent oracle the SRTP core is checked against: one libsrtp2
// session (srtp_t) per object, set up from a srtpgate Profile and key || salt bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <srtp2/srtp.h>

#include "srtpgate/profile.h"
#include "srtpgate/result.h"

namespace srtpgate::oracle {

// libsrtp2 keeps no pointer to these after srtp_create(); the oracle zeroizes its copies.
struct OracleKey {
  std::vector<uint8_t> key_salt;  // master key || master salt, as in SDES and DTLS-SRTP
  std::vector<uint8_t> mki;       // empty: no MKI (then it must be the only key)
};

struct OracleConfig {
  srtp::Profile profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
  bool outbound = true;            // ssrc_any_outbound, else ssrc_any_inbound
  unsigned long window_size = 128;  // libsrtp2 accepts 64..0x7fff
  bool allow_repeat_tx = false;
  // When set, the policy names this SSRC (ssrc_specific) instead of a wildcard, so the stream
  // exists before its first packet and srtp_set_stream_roc() can reach it.
  std::optional<uint32_t> ssrc;
};

// srtp_init() once per process (a second call fails); every user of libsrtp2 in the tests
// goes through this.
srtp_err_status_t init_once();

struct SrtpDeleter {
  void operator()(srtp_ctx_t* s) const noexcept { srtp_dealloc(s); }
};
using SrtpPtr = std::unique_ptr<srtp_ctx_t, SrtpDeleter>;

class LibsrtpOracle {
 public:
  // Calls srtp_init() once per process. Fails with libsrtp2's error code in the message.
  static Result<std::unique_ptr<LibsrtpOracle>> create(const OracleConfig& config,
                                                        std::span<const OracleKey> keys);
  static Result<std::unique_ptr<LibsrtpOracle>> create(const OracleConfig& config,
                                                        const OracleKey& key) {
    return create(config, std::span<const OracleKey>(&key, 1));
  }

  // One packet, in the vector: it is resized to the output length (grown first by the trailer
  // libsrtp2 may write). `mki_index` picks the key by its position in `keys` when MKIs are used.
  srtp_err_status_t protect_rtp(std::vector<uint8_t>& packet, unsigned mki_index = 0);
  srtp_err_status_t unprotect_rtp(std::vector<uint8_t>& packet);
  srtp_err_status_t protect_rtcp(std::vector<uint8_t>& packet, unsigned mki_index = 0);
  srtp_err_status_t unprotect_rtcp(std::vector<uint8_t>& packet);

  // srtp_set_stream_roc / srtp_get_stream_roc: the stream must exist (see OracleConfig::ssrc).
  srtp_err_status_t set_roc(uint32_t ssrc, uint32_t roc);
  std::optional<uint32_t> roc(uint32_t ssrc);

  bool uses_mki() const noexcept { return use_mki_; }

 private:
  LibsrtpOracle(SrtpPtr session, bool use_mki) : session_(std::move(session)), use_mki_(use_mki) {}
  SrtpPtr session_;
  bool use_mki_;
};

// Maps the policies the way RFC 3711 §5.2 and libsrtp2 do: SRTCP of the _32 profiles uses the
// 80-bit tag. False for a profile libsrtp2 has no policy for.
bool set_policies(srtp::Profile profile, srtp_crypto_policy_t& rtp, srtp_crypto_policy_t& rtcp);

}  // namespace srtpgate::oracle
