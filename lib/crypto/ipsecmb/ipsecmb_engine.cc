// The fast-path backend: Intel IPsec-MB 1.3 job managers, driven directly (no cryptodev).
//
// AES-CM + HMAC-SHA1: HMAC-SHA1 is multi-buffer. On the AVX-512 manager it has 16 lanes and a
// job completes only when 16 are in flight or on a flush, which then costs as much as 16 jobs.
// The SSE manager hashes with SHA-NI (2 lanes) and is cheaper for a handful of packets. So a
// burst is split: whole groups of 16 go to the wide manager, the remainder to the SHA-NI one.
// AES-GCM is single-buffer and goes through the direct API of the auto-selected manager.
#include <intel-ipsec-mb.h>

#include <cstring>
#include <new>

#include "engine.h"
#include "srtpgate/secret.h"

namespace srtpgate::crypto {

namespace {

struct ImbMgrDeleter {
  void operator()(IMB_MGR* m) const noexcept { free_mb_mgr(m); }
};
using ImbMgrPtr = std::unique_ptr<IMB_MGR, ImbMgrDeleter>;

class CtrHmacKey final : public KeyContext {
 public:
  alignas(64) uint32_t enc_keys[4 * 15];  // AES-256 has 15 round keys
  alignas(64) uint32_t dec_keys[4 * 15];
  alignas(64) uint8_t ipad[32];  // SHA-1 state after (key XOR ipad), RFC 2104
  alignas(64) uint8_t opad[32];
  uint64_t key_len = 0;
  ~CtrHmacKey() override {
    secure_zero(enc_keys, sizeof enc_keys);
    secure_zero(dec_keys, sizeof dec_keys);
    secure_zero(ipad, sizeof ipad);
    secure_zero(opad, sizeof opad);
  }
};

class GcmKey final : public KeyContext {
 public:
  alignas(64) struct gcm_key_data data;
  uint64_t key_len = 0;
  ~GcmKey() override { secure_zero(&data, sizeof data); }
};

// The HMAC job returns 12 bytes at least (IPsec-MB 1.3 rejects 10); SRTP keeps 10 or 4.
constexpr uint64_t kHmacOutLen = 12;
constexpr uint32_t kWideLanes = 16;
// Measured on the AVX-512 manager (Xeon, 2.1 GHz, 172-byte packets): flushing 8 jobs costs
// about 190 ns a packet, the SHA-NI manager about 230; below 8 the flush cost dominates.
constexpr uint32_t kMinWideFlush = 8;

class IpsecMbEngine final : public Engine {
 public:
  IpsecMbEngine(ImbMgrPtr wide, ImbMgrPtr narrow, IMB_ARCH arch)
      : wide_(std::move(wide)), narrow_(std::move(narrow)), arch_(arch) {}

  ~IpsecMbEngine() override { secure_zero(&gcm_ctx_, sizeof gcm_ctx_); }

  Backend backend() const noexcept override { return Backend::ipsecmb; }

  std::unique_ptr<KeyContext> make_ctr_hmac_key(std::span<const uint8_t> enc_key,
                                                std::span<const uint8_t> auth_key) override {
    auto k = std::make_unique<CtrHmacKey>();
    k->key_len = enc_key.size();
    if (enc_key.size() == 16) {
      IMB_AES_KEYEXP_128(wide_.get(), enc_key.data(), k->enc_keys, k->dec_keys);
    } else if (enc_key.size() == 32) {
      IMB_AES_KEYEXP_256(wide_.get(), enc_key.data(), k->enc_keys, k->dec_keys);
    } else {
      return nullptr;
    }
    // RFC 2104: precompute the inner and outer SHA-1 states once per key.
    if (auth_key.size() > 64) {
      return nullptr;
    }
    alignas(16) uint8_t block[64];
    for (uint8_t pad : {uint8_t{0x36}, uint8_t{0x5c}}) {
      std::memset(block, pad, sizeof block);
      for (std::size_t i = 0; i < auth_key.size(); ++i) {
        block[i] ^= auth_key[i];
      }
      IMB_SHA1_ONE_BLOCK(wide_.get(), block, pad == 0x36 ? k->ipad : k->opad);
    }
    secure_zero(block, sizeof block);
    return k;
  }

  std::unique_ptr<KeyContext> make_gcm_key(std::span<const uint8_t> key) override {
    auto k = std::make_unique<GcmKey>();
    k->key_len = key.size();
    if (key.size() == 16) {
      IMB_AES128_GCM_PRE(wide_.get(), key.data(), &k->data);
    } else if (key.size() == 32) {
      IMB_AES256_GCM_PRE(wide_.get(), key.data(), &k->data);
    } else {
      return nullptr;
    }
    return k;
  }

  void ctr_keystream(std::span<const uint8_t> key, const uint8_t iv[16],
                     std::span<uint8_t> out) override {
    CtrHmacKey k;
    if (key.size() == 16) {
      IMB_AES_KEYEXP_128(wide_.get(), key.data(), k.enc_keys, k.dec_keys);
    } else {
      IMB_AES_KEYEXP_256(wide_.get(), key.data(), k.enc_keys, k.dec_keys);
    }
    std::memset(out.data(), 0, out.size());
    IMB_MGR* m = wide_.get();
    IMB_JOB* job = IMB_GET_NEXT_JOB(m);
    fill_cipher(job, k.enc_keys, key.size(), out.data(), static_cast<uint32_t>(out.size()), iv,
                IMB_DIR_ENCRYPT);
    job->hash_alg = IMB_AUTH_NULL;
    job->chain_order = IMB_ORDER_CIPHER_HASH;
    job = IMB_SUBMIT_JOB(m);
    while (job == nullptr && (job = IMB_FLUSH_JOB(m)) == nullptr) {
    }
  }

  void encrypt_then_mac(std::span<CtrHmacOp> ops) noexcept override {
    run(ops, Kind::encrypt_then_mac);
  }
  void mac(std::span<CtrHmacOp> ops) noexcept override { run(ops, Kind::mac); }
  void ctr(std::span<CtrHmacOp> ops) noexcept override {
    // Counter mode is synchronous on every manager; the wide one has VAES.
    drive(wide_.get(), ops, Kind::ctr);
  }

  void gcm_seal(std::span<GcmOp> ops) noexcept override {
    IMB_MGR* m = wide_.get();
    for (GcmOp& op : ops) {
      const auto* k = static_cast<const GcmKey*>(op.key);
      if (k->key_len == 16) {
        IMB_AES128_GCM_ENC(m, &k->data, &gcm_ctx_, op.data, op.data, op.len, op.iv, op.aad,
                           op.aad_len, op.tag, 16);
      } else {
        IMB_AES256_GCM_ENC(m, &k->data, &gcm_ctx_, op.data, op.data, op.len, op.iv, op.aad,
                           op.aad_len, op.tag, 16);
      }
      op.ok = true;
    }
  }

  void gcm_open(std::span<GcmOp> ops) noexcept override {
    IMB_MGR* m = wide_.get();
    alignas(16) uint8_t tag[16];
    for (GcmOp& op : ops) {
      const auto* k = static_cast<const GcmKey*>(op.key);
      std::memset(tag, 0, sizeof tag);
      if (k->key_len == 16) {
        IMB_AES128_GCM_DEC(m, &k->data, &gcm_ctx_, op.data, op.data, op.len, op.iv, op.aad,
                           op.aad_len, tag, 16);
      } else {
        IMB_AES256_GCM_DEC(m, &k->data, &gcm_ctx_, op.data, op.data, op.len, op.iv, op.aad,
                           op.aad_len, tag, 16);
      }
      op.ok = constant_time_equal(tag, op.tag, 16);
    }
  }

 private:
  enum class Kind { encrypt_then_mac, mac, ctr };

  static void fill_cipher(IMB_JOB* job, const void* enc_keys, uint64_t key_len, uint8_t* data,
                          uint32_t len, const uint8_t* iv, IMB_CIPHER_DIRECTION dir) noexcept {
    job->enc_keys = enc_keys;
    job->dec_keys = enc_keys;  // counter mode only ever encrypts the counter
    job->key_len_in_bytes = key_len;
    job->src = data;
    job->dst = data;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = len;
    job->iv = iv;
    job->iv_len_in_bytes = 16;
    job->cipher_mode = IMB_CIPHER_CNTR;
    job->cipher_direction = dir;
  }

  static void fill(IMB_JOB* job, const CtrHmacOp& op, Kind kind) noexcept {
    const auto* k = static_cast<const CtrHmacKey*>(op.key);
    const bool cipher = kind != Kind::mac && op.cipher_len != 0;
    const bool hash = kind != Kind::ctr;
    if (cipher) {
      fill_cipher(job, k->enc_keys, k->key_len, op.cipher, op.cipher_len, op.iv,
                  IMB_DIR_ENCRYPT);
    } else {
      job->cipher_mode = IMB_CIPHER_NULL;
      job->cipher_direction = IMB_DIR_ENCRYPT;
      job->src = op.auth;
      job->dst = op.cipher;
      job->msg_len_to_cipher_in_bytes = 0;
      job->cipher_start_src_offset_in_bytes = 0;
    }
    if (hash) {
      // The hash reads from job->src; with a cipher, src is the ciphered region, so express
      // the authenticated region as an offset from it (it starts at or before the cipher).
      job->hash_alg = IMB_AUTH_HMAC_SHA_1;
      job->hash_start_src_offset_in_bytes = 0;
      job->msg_len_to_hash_in_bytes = op.auth_len;
      job->auth_tag_output = op.tag;
      job->auth_tag_output_len_in_bytes = kHmacOutLen;
      job->u.HMAC._hashed_auth_key_xor_ipad = k->ipad;
      job->u.HMAC._hashed_auth_key_xor_opad = k->opad;
      if (cipher) {
        job->src = op.auth;
        job->dst = op.cipher;
        job->cipher_start_src_offset_in_bytes = static_cast<uint64_t>(op.cipher - op.auth);
      }
    } else {
      job->hash_alg = IMB_AUTH_NULL;
    }
    job->chain_order = IMB_ORDER_CIPHER_HASH;  // RFC 3711 §3.3: encrypt, then authenticate
  }

  void run(std::span<CtrHmacOp> ops, Kind kind) noexcept {
    const std::size_t n = ops.size();
    if (arch_ == IMB_ARCH_AVX512 && narrow_) {
      std::size_t wide_n = n / kWideLanes * kWideLanes;
      if (n - wide_n >= kMinWideFlush) {
        wide_n = n;
      }
      drive(wide_.get(), ops.first(wide_n), kind);
      drive(narrow_.get(), ops.subspan(wide_n), kind);
    } else {
      drive(wide_.get(), ops, kind);
    }
  }

  static void drive(IMB_MGR* m, std::span<CtrHmacOp> ops, Kind kind) noexcept {
    if (ops.empty()) {
      return;
    }
    for (const CtrHmacOp& op : ops) {
      IMB_JOB* job = IMB_GET_NEXT_JOB(m);
      fill(job, op, kind);
      // Completed jobs need no handling: each wrote its own buffers. The SRTP layer has
      // checked every length and offset, so the manager's own job validation is skipped.
      (void)IMB_SUBMIT_JOB_NOCHECK(m);
    }
    while (IMB_FLUSH_JOB(m) != nullptr) {
    }
  }

  ImbMgrPtr wide_;
  ImbMgrPtr narrow_;
  IMB_ARCH arch_;
  alignas(64) struct gcm_context_data gcm_ctx_ {};
};

}  // namespace

Result<std::shared_ptr<Engine>> make_ipsecmb_engine() {
  ImbMgrPtr wide(alloc_mb_mgr(0));
  if (!wide) {
    return make_error("IPsec-MB: alloc_mb_mgr failed (out of memory)");
  }
  IMB_ARCH arch = IMB_ARCH_NONE;
  init_mb_mgr_auto(wide.get(), &arch);
  if (arch == IMB_ARCH_NONE || arch == IMB_ARCH_NOAESNI || imb_get_errno(wide.get()) != 0) {
    return make_error("IPsec-MB: this CPU lacks AES-NI; use the openssl backend");
  }
  ImbMgrPtr narrow;
  if (arch == IMB_ARCH_AVX512) {
    narrow.reset(alloc_mb_mgr(0));
    if (narrow) {
      init_mb_mgr_sse(narrow.get());
      if (imb_get_errno(narrow.get()) != 0) {
        narrow.reset();
      }
    }
  }
  return std::shared_ptr<Engine>(
      std::make_shared<IpsecMbEngine>(std::move(wide), std::move(narrow), arch));
}

}  // namespace srtpgate::crypto
