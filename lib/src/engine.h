// The interface between the SRTP logic and a crypto backend. Internal to lib/.
//
// The SRTP layer turns a burst into an array of operations; a backend runs the whole array in
// one call (one virtual call per burst, never per packet) and must not allocate or throw.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "prefetch.h"
#include "srtpgate/crypto.h"

namespace srtpgate::crypto {

// A backend's expanded form of one session key (AES key schedule with HMAC ipad/opad digests,
// or GCM key and hash tables). Zeroized by its destructor.
class KeyContext {
 public:
  virtual ~KeyContext() = default;

  // The bytes the fast path reads (round keys, HMAC states, GHASH powers), as at most two
  // ranges the backend names once, at key set-up. The session keeps a copy beside its key
  // (DerivedKey), so that the bursts across many sessions prefetch them (session.cc) without
  // reading this object's own first line, which the fast path never needs.
  struct HotBytes {
    const uint8_t* first = nullptr;
    const uint8_t* second = nullptr;
    uint32_t first_bytes = 0;
    uint32_t second_bytes = 0;
  };
  const HotBytes& hot() const noexcept { return hot_; }

 protected:
  void set_hot(const void* first, std::size_t bytes, const void* second = nullptr,
               std::size_t second_bytes = 0) noexcept {
    hot_ = HotBytes{static_cast<const uint8_t*>(first), static_cast<const uint8_t*>(second),
                    clamp(bytes), second ? clamp(second_bytes) : 0};
  }

 private:
  static constexpr std::size_t kMaxHotBytes = 1024;
  static uint32_t clamp(std::size_t n) noexcept {
    return static_cast<uint32_t>(n < kMaxHotBytes ? n : kMaxHotBytes);
  }
  HotBytes hot_;
};

// Every cache line that [p, p + bytes) touches. A range need not start on a line: IPsec-MB's
// GHASH powers begin 240 bytes into the key, and stepping 64 bytes from there would leave the
// last, partial line (the powers every packet uses) to a miss inside the cipher.
inline void prefetch_lines(const uint8_t* p, uint32_t bytes) noexcept {
  if (bytes == 0) {
    return;
  }
  const auto first = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63};
  const auto last = (reinterpret_cast<uintptr_t>(p) + bytes - 1) & ~uintptr_t{63};
  for (uintptr_t line = first; line <= last; line += 64) {
    srtpgate::detail::prefetch_line(reinterpret_cast<const void*>(line));
  }
}

// Starts loading a key's hot bytes: one stage of the prefetching of bursts across sessions.
inline void prefetch(const KeyContext::HotBytes& h) noexcept {
  prefetch_lines(h.first, h.first_bytes);
  prefetch_lines(h.second, h.second_bytes);
}

// AES-CM encryption (RFC 3711 §4.1.1) and HMAC-SHA1 (RFC 3711 §4.2.1) of one packet.
// Plain aggregates without member initialisers: the burst kernels keep arrays of them on the
// stack, and zeroing those on every burst would cost more than filling them.
struct CtrHmacOp {
  const KeyContext* key;
  uint32_t key_bytes;  // 16 or 32, from the profile: the engine need not read it from `key`
  uint8_t* cipher;  // encrypted or decrypted in place
  uint32_t cipher_len;
  uint32_t auth_len;
  const uint8_t* auth;  // authenticated bytes, contiguous
  uint8_t* tag;         // 20 bytes of scratch; the leading tag bytes are the SRTP tag
  const uint8_t* iv;    // 16-byte counter block
};

// AES-GCM (RFC 7714 §8, §9) of one packet.
struct GcmOp {
  const KeyContext* key;
  uint32_t key_bytes;  // 16 or 32, as in CtrHmacOp
  uint8_t* data;  // plaintext or ciphertext, in place (tag not included)
  uint32_t len;
  uint32_t aad_len;
  const uint8_t* aad;
  const uint8_t* iv;  // 12 bytes
  uint8_t* tag;       // seal: 16 bytes out; open: the received 16 bytes
  bool ok;            // open: the tag verified
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual Backend backend() const noexcept = 0;

  // Control path: key set-up. `enc_key` is 16 or 32 bytes; `auth_key` is 20 bytes.
  virtual std::unique_ptr<KeyContext> make_ctr_hmac_key(std::span<const uint8_t> enc_key,
                                                        std::span<const uint8_t> auth_key) = 0;
  virtual std::unique_ptr<KeyContext> make_gcm_key(std::span<const uint8_t> key) = 0;
  // Control path: AES-CM keystream for the key derivation PRF (RFC 3711 §4.3.3).
  virtual void ctr_keystream(std::span<const uint8_t> key, const uint8_t iv[16],
                             std::span<uint8_t> out) = 0;

  // Fast path: encrypt then MAC (protect), MAC only, and counter mode only (unprotect: the tag
  // is checked before anything is decrypted).
  virtual void encrypt_then_mac(std::span<CtrHmacOp> ops) noexcept = 0;
  virtual void mac(std::span<CtrHmacOp> ops) noexcept = 0;
  virtual void ctr(std::span<CtrHmacOp> ops) noexcept = 0;
  virtual void gcm_seal(std::span<GcmOp> ops) noexcept = 0;
  virtual void gcm_open(std::span<GcmOp> ops) noexcept = 0;
};

Result<std::shared_ptr<Engine>> make_ipsecmb_engine();
Result<std::shared_ptr<Engine>> make_openssl_engine();

}  // namespace srtpgate::crypto
