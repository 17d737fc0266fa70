// The reference backend: OpenSSL 3.0 EVP, one packet at a time. Slower than IPsec-MB but an
// independent implementation of the same primitives, used to check the fast path.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>

#include "engine.h"
#include "srtpgate/secret.h"

namespace srtpgate::crypto {

namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};
struct MacDeleter {
  void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;
using MacPtr = std::unique_ptr<EVP_MAC, MacDeleter>;

const EVP_CIPHER* ctr_cipher(std::size_t key_len) {
  return key_len == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr();
}

// EVP contexts keep the expanded keys; EVP_CIPHER_CTX_free and EVP_MAC_CTX_free cleanse them.
class CtrHmacKey final : public KeyContext {
 public:
  CipherCtxPtr cipher;
  MacCtxPtr hmac;
};

class GcmKey final : public KeyContext {
 public:
  CipherCtxPtr cipher;
};

class OpenSslEngine final : public Engine {
 public:
  explicit OpenSslEngine(MacPtr hmac) : hmac_(std::move(hmac)) {}

  Backend backend() const noexcept override { return Backend::openssl; }

  std::unique_ptr<KeyContext> make_ctr_hmac_key(std::span<const uint8_t> enc_key,
                                                std::span<const uint8_t> auth_key) override {
    auto k = std::make_unique<CtrHmacKey>();
    k->cipher.reset(EVP_CIPHER_CTX_new());
    k->hmac.reset(EVP_MAC_CTX_new(hmac_.get()));
    if (!k->cipher || !k->hmac ||
        EVP_EncryptInit_ex(k->cipher.get(), ctr_cipher(enc_key.size()), nullptr, enc_key.data(),
                           nullptr) != 1) {
      return nullptr;
    }
    char digest[] = "SHA1";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    if (EVP_MAC_init(k->hmac.get(), auth_key.data(), auth_key.size(), params) != 1) {
      return nullptr;
    }
    return k;
  }

  std::unique_ptr<KeyContext> make_gcm_key(std::span<const uint8_t> key) override {
    auto k = std::make_unique<GcmKey>();
    k->cipher.reset(EVP_CIPHER_CTX_new());
    const EVP_CIPHER* c = key.size() == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
    if (!k->cipher || EVP_CipherInit_ex(k->cipher.get(), c, nullptr, key.data(), nullptr, 1) != 1) {
      return nullptr;
    }
    return k;
  }

  void ctr_keystream(std::span<const uint8_t> key, const uint8_t iv[16],
                     std::span<uint8_t> out) override {
    CipherCtxPtr c(EVP_CIPHER_CTX_new());
    std::memset(out.data(), 0, out.size());
    int len = 0;
    if (!c || EVP_EncryptInit_ex(c.get(), ctr_cipher(key.size()), nullptr, key.data(), iv) != 1 ||
        EVP_EncryptUpdate(c.get(), out.data(), &len, out.data(), static_cast<int>(out.size())) !=
            1) {
      // Leave a keystream that cannot match anything real rather than zeros.
      std::memset(out.data(), 0xff, out.size());
    }
  }

  void encrypt_then_mac(std::span<CtrHmacOp> ops) noexcept override {
    for (CtrHmacOp& op : ops) {
      cipher(op);
      hash(op);
    }
  }
  void mac(std::span<CtrHmacOp> ops) noexcept override {
    for (CtrHmacOp& op : ops) {
      hash(op);
    }
  }
  void ctr(std::span<CtrHmacOp> ops) noexcept override {
    for (CtrHmacOp& op : ops) {
      cipher(op);
    }
  }

  void gcm_seal(std::span<GcmOp> ops) noexcept override {
    for (GcmOp& op : ops) {
      op.ok = gcm(op, true);
    }
  }
  void gcm_open(std::span<GcmOp> ops) noexcept override {
    for (GcmOp& op : ops) {
      op.ok = gcm(op, false);
    }
  }

 private:
  static void cipher(const CtrHmacOp& op) noexcept {
    auto* c = static_cast<const CtrHmacKey*>(op.key)->cipher.get();
    int len = 0;
    if (op.cipher_len == 0) {
      return;
    }
    EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, op.iv);
    EVP_EncryptUpdate(c, op.cipher, &len, op.cipher, static_cast<int>(op.cipher_len));
  }

  static void hash(const CtrHmacOp& op) noexcept {
    auto* m = static_cast<const CtrHmacKey*>(op.key)->hmac.get();
    std::size_t out = 0;
    // A NULL key re-initialises with the key already set (OpenSSL 3.0 HMAC provider).
    if (EVP_MAC_init(m, nullptr, 0, nullptr) == 1 && EVP_MAC_update(m, op.auth, op.auth_len) == 1) {
      EVP_MAC_final(m, op.tag, &out, 20);
    }
  }

  static bool gcm(const GcmOp& op, bool seal) noexcept {
    auto* c = static_cast<const GcmKey*>(op.key)->cipher.get();
    int len = 0;
    if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, op.iv, seal ? 1 : 0) != 1) {
      return false;
    }
    if (op.aad_len != 0 &&
        EVP_CipherUpdate(c, nullptr, &len, op.aad, static_cast<int>(op.aad_len)) != 1) {
      return false;
    }
    if (op.len != 0 && EVP_CipherUpdate(c, op.data, &len, op.data, static_cast<int>(op.len)) != 1) {
      return false;
    }
    if (!seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, op.tag) != 1) {
      return false;
    }
    uint8_t tail[16];
    if (EVP_CipherFinal_ex(c, tail, &len) != 1) {
      return false;  // open: the tag did not verify (OpenSSL compares in constant time)
    }
    if (seal) {
      return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, op.tag) == 1;
    }
    return true;
  }

  MacPtr hmac_;
};

}  // namespace

Result<std::shared_ptr<Engine>> make_openssl_engine() {
  MacPtr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!hmac) {
    return make_error("OpenSSL: HMAC is not available from the default provider");
  }
  return std::shared_ptr<Engine>(std::make_shared<OpenSslEngine>(std::move(hmac)));
}

}  // namespace srtpgate::crypto
