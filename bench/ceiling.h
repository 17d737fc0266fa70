// The raw IPsec-MB ceiling: the crypto jobs an SRTP burst needs, with no SRTP logic around them
// (no header parsing, no stream lookup, no replay window, no ROC, no tag check). srtpgate can at
// best approach it; the benchmarks report srtpgate as a percentage of it.
//
// AES-CM + HMAC-SHA1: chained jobs (IMB_CIPHER_CNTR with a 16-byte counter block,
// IMB_AUTH_HMAC_SHA_1 with precomputed ipad/opad digests, 12-byte tag over header + payload + 4
// bytes) submitted as one burst on the init_mb_mgr_auto manager and flushed at the end of it.
// Protect is IMB_ORDER_CIPHER_HASH, unprotect IMB_ORDER_HASH_CIPHER in the decrypt direction.
// AES-GCM: the single-buffer direct API, 12-byte IV, AAD = the 12-byte RTP header, 16-byte tag.
//
// A second recipe for AES-CM + HMAC-SHA1 uses the IPsec-MB 1.3 synchronous burst API instead
// (IMB_SUBMIT_CIPHER_BURST_NOCHECK for the counter mode, IMB_SUBMIT_HASH_BURST_NOCHECK for the
// HMAC, one call each per burst): fewer checks and no chaining, so it is the higher ceiling.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <intel-ipsec-mb.h>

#include "bench_packets.h"
#include "srtpgate/packet.h"
#include "srtpgate/profile.h"

namespace srtpgate::bench {

struct ImbMgrDeleter {
  void operator()(IMB_MGR* m) const noexcept { free_mb_mgr(m); }
};
using ImbMgrPtr = std::unique_ptr<IMB_MGR, ImbMgrDeleter>;

// Which IPsec-MB manager runs the jobs. `automatic` (init_mb_mgr_auto: AVX512 here, 16 HMAC
// lanes) is the ceiling the targets refer to; `sse` (SHA-NI, 2 lanes) is the better manager for
// small bursts, so an engine that adapts can beat the automatic ceiling there.
// `automatic_burst_api` is the automatic manager driven through the burst API (GCM unchanged).
enum class ImbManager : uint8_t { automatic, sse, automatic_burst_api };

class IpsecMbCeiling {
 public:
  // Session keys are fixed patterns: the ceiling's output is never checked, only timed.
  bool init(srtp::Profile profile, ImbManager manager, std::string& error);
  bool reset(std::string& /*error*/) noexcept { return true; }

  // Return how many jobs completed (the whole burst unless IPsec-MB rejected a job).
  std::size_t protect(std::span<srtp::PacketView> packets) noexcept;
  std::size_t unprotect(std::span<srtp::PacketView> packets) noexcept;
  std::string last_error() const;

 private:
  std::size_t ctr_hmac(std::span<srtp::PacketView> packets, bool encrypt) noexcept;
  std::size_t ctr_hmac_burst_api(std::span<srtp::PacketView> packets, bool encrypt) noexcept;
  std::size_t gcm(std::span<srtp::PacketView> packets, bool encrypt) noexcept;

  srtp::ProfileParams params_{};
  bool burst_api_ = false;
  ImbMgrPtr mgr_;
  IMB_ERR last_error_ = static_cast<IMB_ERR>(0);
  alignas(64) std::array<uint8_t, 16 * 15> enc_keys_{};
  alignas(64) std::array<uint8_t, 16 * 15> dec_keys_{};
  alignas(64) std::array<uint8_t, 32> ipad_{};
  alignas(64) std::array<uint8_t, 32> opad_{};
  alignas(64) gcm_key_data gcm_key_{};
  alignas(64) gcm_context_data gcm_ctx_{};
  std::array<uint8_t, 16> salt_{};  // 14 or 12 bytes of salt, then zeros
  alignas(16) std::array<std::array<uint8_t, 16>, kMaxBurst> iv_{};
  std::array<std::array<uint8_t, 20>, kMaxBurst> tag_scratch_{};
  std::array<IMB_JOB, kMaxBurst> jobs_{};  // the burst API's job array
};

}  // namespace srtpgate::bench
