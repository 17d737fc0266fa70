// The fast-path backend: Intel IPsec-MB 1.3 driven directly (no cryptodev).
//
// AES-CM + HMAC-SHA1 use the synchronous burst APIs of IPsec-MB 1.3, which skip the job
// queue: on this Xeon (172-byte packets, burst 32) counter mode costs ~12 ns a packet as a
// cipher burst against ~40 ns as queued jobs, HMAC-SHA1 ~81 ns as a hash burst against ~112.
// HMAC-SHA1 is multi-buffer: on the AVX-512 manager it has 16 lanes, and a burst of fewer
// than 16 costs nearly as much as 16. The SSE manager hashes with SHA-NI at ~190 ns a packet
// whatever the count. So whole groups of 16 (and remainders of 8 or more) go to the AVX-512
// manager, smaller remainders to the SHA-NI one.
// AES-GCM is single-buffer and goes through the direct API of the auto-selected manager.
#include <intel-ipsec-mb.h>

#include <algorithm>
#include <cstring>

#include "engine.h"
#include "srtpgate/secret.h"
#include "tag_compare.h"

namespace srtpgate::crypto {

namespace {

// The expanded encryption key: 11 round keys of 16 bytes for AES-128, 15 for AES-256.
constexpr std::size_t round_key_bytes(uint64_t key_len) noexcept {
  return key_len == 16 ? 16 * 11 : 16 * 15;
}

struct ImbMgrDeleter {
  void operator()(IMB_MGR* m) const noexcept { free_mb_mgr(m); }
};
using ImbMgrPtr = std::unique_ptr<IMB_MGR, ImbMgrDeleter>;

class CtrHmacKey final : public KeyContext {
 public:
  // What a packet reads, in as few lines as the key allows: both HMAC states in one line, then
  // the round keys (176 bytes for AES-128, 240 for AES-256); counter mode never uses the
  // decryption round keys, which come last. The key's size is not stored: the fast path takes
  // it from each op (engine.h).
  alignas(64) uint8_t ipad[32];  // SHA-1 state after (key XOR ipad), RFC 2104
  uint8_t opad[32];
  alignas(64) uint32_t enc_keys[4 * 15];  // AES-256 has 15 round keys
  uint32_t dec_keys[4 * 15];
  ~CtrHmacKey() override {
    secure_zero(enc_keys, sizeof enc_keys);
    secure_zero(dec_keys, sizeof dec_keys);
    secure_zero(ipad, sizeof ipad);
    secure_zero(opad, sizeof opad);
  }
  // The HMAC line and the round keys a `key_len`-byte key uses.
  void name_hot_bytes(std::size_t key_len) noexcept {
    set_hot(ipad, static_cast<std::size_t>(reinterpret_cast<const uint8_t*>(enc_keys) - ipad) +
                      round_key_bytes(key_len));
  }
};

class GcmKey final : public KeyContext {
 public:
  alignas(64) struct gcm_key_data data;
  ~GcmKey() override { secure_zero(&data, sizeof data); }
  // A packet of up to 16 blocks reads the round keys and the GHASH powers H^16..H^1, which the
  // VAES AVX-512 layout keeps at the end of the table (IPsec-MB's HashKey_n defines); longer
  // packets read more powers, over more crypto work. Other managers lay the powers out
  // differently; a prefetch of the wrong lines costs a little and changes nothing.
  void name_hot_bytes(std::size_t key_len) noexcept {
    constexpr std::size_t kPowers = 16;
    const auto& h = data.ghash_keys.vaes_avx512.shifted_hkey;
    set_hot(data.expanded_keys, round_key_bytes(key_len), h + sizeof h - 16 * kPowers,
            16 * kPowers);
  }
};

// The HMAC job returns 12 bytes at least (IPsec-MB 1.3 rejects 10); SRTP keeps 10 or 4.
constexpr uint64_t kHmacOutLen = 12;
constexpr std::size_t kWideLanes = 16;
// A hash burst of 8 on the AVX-512 manager costs about as much a packet as the SHA-NI
// manager (~160-220 against ~190 ns); below 8 the idle lanes dominate.
constexpr std::size_t kMinWideFlush = 8;

class IpsecMbEngine final : public Engine {
 public:
  IpsecMbEngine(ImbMgrPtr wide, ImbMgrPtr narrow)
      : wide_(std::move(wide)), narrow_(std::move(narrow)) {}

  ~IpsecMbEngine() override { secure_zero(&gcm_ctx_, sizeof gcm_ctx_); }

  Backend backend() const noexcept override { return Backend::ipsecmb; }

  std::unique_ptr<KeyContext> make_ctr_hmac_key(std::span<const uint8_t> enc_key,
                                                std::span<const uint8_t> auth_key) override {
    auto k = std::make_unique<CtrHmacKey>();
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
    k->name_hot_bytes(enc_key.size());
    return k;
  }

  std::unique_ptr<KeyContext> make_gcm_key(std::span<const uint8_t> key) override {
    auto k = std::make_unique<GcmKey>();
    if (key.size() == 16) {
      IMB_AES128_GCM_PRE(wide_.get(), key.data(), &k->data);
    } else if (key.size() == 32) {
      IMB_AES256_GCM_PRE(wide_.get(), key.data(), &k->data);
    } else {
      return nullptr;
    }
    k->name_hot_bytes(key.size());
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

  // RFC 3711 §3.3: encrypt, then authenticate the ciphertext.
  void encrypt_then_mac(std::span<CtrHmacOp> ops) noexcept override {
    ctr(ops);
    mac(ops);
  }

  void mac(std::span<CtrHmacOp> ops) noexcept override {
    for (std::size_t off = 0; off < ops.size(); off += kChunk) {
      const auto part = ops.subspan(off, std::min(kChunk, ops.size() - off));
      std::size_t wide_n = part.size() / kWideLanes * kWideLanes;
      if (part.size() - wide_n >= kMinWideFlush || !narrow_) {
        wide_n = part.size();
      }
      hash_burst(wide_.get(), part.first(wide_n));
      hash_burst(narrow_.get(), part.subspan(wide_n));
    }
  }

  void ctr(std::span<CtrHmacOp> ops) noexcept override {
    for (std::size_t off = 0; off < ops.size(); off += kChunk) {
      const auto part = ops.subspan(off, std::min(kChunk, ops.size() - off));
      cipher_burst(part, 16, IMB_KEY_128_BYTES);
      cipher_burst(part, 32, IMB_KEY_256_BYTES);
    }
  }

  void gcm_seal(std::span<GcmOp> ops) noexcept override {
    IMB_MGR* m = wide_.get();
    for (GcmOp& op : ops) {
      const auto* k = static_cast<const GcmKey*>(op.key);
      if (op.key_bytes == 16) {
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
      if (op.key_bytes == 16) {
        IMB_AES128_GCM_DEC(m, &k->data, &gcm_ctx_, op.data, op.data, op.len, op.iv, op.aad,
                           op.aad_len, tag, 16);
      } else {
        IMB_AES256_GCM_DEC(m, &k->data, &gcm_ctx_, op.data, op.data, op.len, op.iv, op.aad,
                           op.aad_len, tag, 16);
      }
      op.ok = srtpgate::detail::tags_equal(tag, op.tag, 16);
    }
  }

 private:
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

  // Synchronous counter-mode burst (IPsec-MB 1.3 cipher burst API) over the ops whose key has
  // `key_len` bytes; empty payloads are skipped. Every op's lengths were checked by the SRTP
  // layer, hence the NOCHECK form.
  void cipher_burst(std::span<CtrHmacOp> ops, uint64_t key_len, IMB_KEY_SIZE_BYTES size) noexcept {
    uint32_t n = 0;
    for (const CtrHmacOp& op : ops) {
      if (op.key_bytes != key_len || op.cipher_len == 0) {
        continue;
      }
      const auto* k = static_cast<const CtrHmacKey*>(op.key);
      fill_cipher(&jobs_[n++], k->enc_keys, key_len, op.cipher, op.cipher_len, op.iv,
                  IMB_DIR_ENCRYPT);
    }
    if (n != 0) {
      IMB_SUBMIT_CIPHER_BURST_NOCHECK(wide_.get(), jobs_, n, IMB_CIPHER_CNTR, IMB_DIR_ENCRYPT,
                                      size);
    }
  }

  // Synchronous HMAC-SHA1 burst (IPsec-MB 1.3 hash burst API). A job that is not run writes
  // no tag, and the caller's tag check then fails (its scratch starts as the complement).
  void hash_burst(IMB_MGR* m, std::span<CtrHmacOp> ops) noexcept {
    if (ops.empty()) {
      return;
    }
    uint32_t n = 0;
    for (const CtrHmacOp& op : ops) {
      const auto* k = static_cast<const CtrHmacKey*>(op.key);
      IMB_JOB& job = jobs_[n++];
      job.src = op.auth;
      job.hash_start_src_offset_in_bytes = 0;
      job.msg_len_to_hash_in_bytes = op.auth_len;
      job.auth_tag_output = op.tag;
      job.auth_tag_output_len_in_bytes = kHmacOutLen;
      job.u.HMAC._hashed_auth_key_xor_ipad = k->ipad;
      job.u.HMAC._hashed_auth_key_xor_opad = k->opad;
      job.hash_alg = IMB_AUTH_HMAC_SHA_1;
    }
    IMB_SUBMIT_HASH_BURST_NOCHECK(m, jobs_, n, IMB_AUTH_HMAC_SHA_1);
  }

  static constexpr std::size_t kChunk = 64;
  IMB_JOB jobs_[kChunk]{};
  ImbMgrPtr wide_;
  ImbMgrPtr narrow_;
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
      std::make_shared<IpsecMbEngine>(std::move(wide), std::move(narrow)));
}

}  // namespace srtpgate::crypto
