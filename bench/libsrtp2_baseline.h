// Debian's libsrtp2 as the baseline: one srtp_t, one packet per call (libsrtp2 has no batch
// API, so a burst is a loop).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <srtp2/srtp.h>

#include "srtpgate/packet.h"
#include "srtpgate/profile.h"

namespace srtpgate::bench {

struct SrtpDeleter {
  void operator()(srtp_ctx_t* s) const noexcept { srtp_dealloc(s); }
};
using SrtpPtr = std::unique_ptr<srtp_ctx_t, SrtpDeleter>;

class Libsrtp2Baseline {
 public:
  // Calls srtp_init() once per process. Outbound sessions use ssrc_any_outbound, inbound ones
  // ssrc_any_inbound; replay window 128, no repeated transmissions (as srtpgate is set up).
  // On failure returns false and says why in `error`.
  bool init(srtp::Profile profile, std::span<const uint8_t> key_salt, bool outbound,
            std::string& error);
  // Drops the session and creates it again: forgets every stream and its replay state.
  bool reset(std::string& error);

  // One srtp_protect / srtp_unprotect per packet; returns how many succeeded and leaves the
  // libsrtp2 error of the last failure in last_error().
  std::size_t protect(std::span<srtp::PacketView> packets) noexcept {
    std::size_t ok = 0;
    for (auto& p : packets) {
      int len = static_cast<int>(p.len);
      const srtp_err_status_t st = srtp_protect(session_.get(), p.data, &len);
      ok += st == srtp_err_status_ok;
      last_error_ = st == srtp_err_status_ok ? last_error_ : st;
      p.len = static_cast<uint32_t>(len);
    }
    return ok;
  }
  std::size_t unprotect(std::span<srtp::PacketView> packets) noexcept {
    std::size_t ok = 0;
    for (auto& p : packets) {
      int len = static_cast<int>(p.len);
      const srtp_err_status_t st = srtp_unprotect(session_.get(), p.data, &len);
      ok += st == srtp_err_status_ok;
      last_error_ = st == srtp_err_status_ok ? last_error_ : st;
      p.len = static_cast<uint32_t>(len);
    }
    return ok;
  }
  srtp_err_status_t last_error() const noexcept { return last_error_; }

 private:
  srtp::Profile profile_ = srtp::Profile::aes_cm_128_hmac_sha1_80;
  std::vector<uint8_t> key_salt_;
  bool outbound_ = true;
  SrtpPtr session_;
  srtp_err_status_t last_error_ = srtp_err_status_ok;
};

}  // namespace srtpgate::bench
