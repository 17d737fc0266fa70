// Keys are zeroized when a session, a stream or a dataplane-free SRTP session is destroyed:
// before any heap block goes back to the allocator this binary searches it for the secrets of
// the sessions under test. Two allocators are watched: the global operator delete (replaced
// here), which frees srtpgate's own objects such as IPsec-MB key contexts and the derived keys'
// salts, and OpenSSL's (hooked with CRYPTO_set_mem_functions), which frees the EVP contexts of
// the OpenSSL backend. The secrets looked for are computed here, apart from lib/: the master
// key and salt, the session keys and salts (RFC 3711 §4.3) and the HMAC-SHA1 inner and outer
// states (RFC 2104) a backend precomputes from the auth key. Expanded AES key schedules start
// with the key itself, so a key context that was not wiped still holds it. A separate binary,
// because replacing operator delete and OpenSSL's allocator applies to the whole process.

// The replacements below pair malloc with free by design; GCC cannot see that through inlining.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "srtpgate/crypto.h"
#include "srtpgate/master_key.h"
#include "srtpgate/session.h"

namespace {

// Which allocator a block went back through.
enum Freer { kOperatorDelete = 0, kOpenSsl = 1 };

// The byte patterns to look for (fixed storage: the hooks must not allocate).
constexpr int kMaxNeedles = 16;
struct Needles {
  uint8_t bytes[kMaxNeedles][32];
  std::size_t len[kMaxNeedles];
  const char* name[kMaxNeedles];
  std::atomic<int> count{0};
  std::atomic<int> hits[kMaxNeedles][2];
};
Needles g_needles;

bool contains(const uint8_t* hay, std::size_t n, const uint8_t* needle, std::size_t len) {
  if (len == 0 || n < len) return false;
  for (std::size_t i = 0; i + len <= n; ++i) {
    if (hay[i] == needle[0] && std::memcmp(hay + i, needle, len) == 0) return true;
  }
  return false;
}

void inspect(void* p, std::size_t n, Freer freer) {
  const int count = g_needles.count.load();
  for (int k = 0; k < count; ++k) {
    if (contains(static_cast<const uint8_t*>(p), n, g_needles.bytes[k], g_needles.len[k])) {
      g_needles.hits[k][freer].fetch_add(1);
    }
  }
}

// OpenSSL's allocator, replaced: each block carries its requested size in front, so a freed
// block is searched exactly (no stale bytes of an earlier block past its end). OPENSSL_clear_free
// and OPENSSL_cleanse wipe before they call the free hook, so wiped blocks pass.
constexpr std::size_t kHeader = 16;  // keeps malloc's 16-byte alignment
void* openssl_malloc(std::size_t n, const char*, int) {
  auto* h = static_cast<uint8_t*>(std::malloc(n + kHeader));
  if (h == nullptr) return nullptr;
  std::memcpy(h, &n, sizeof n);
  return h + kHeader;
}
std::size_t openssl_size(void* p) {
  std::size_t n = 0;
  std::memcpy(&n, static_cast<uint8_t*>(p) - kHeader, sizeof n);
  return n;
}
void openssl_free(void* p, const char*, int) {
  if (p == nullptr) return;
  inspect(p, openssl_size(p), kOpenSsl);
  std::free(static_cast<uint8_t*>(p) - kHeader);
}
// Never in place: the old block is searched like any other freed block.
void* openssl_realloc(void* p, std::size_t n, const char* file, int line) {
  if (p == nullptr) return openssl_malloc(n, file, line);
  if (n == 0) {
    openssl_free(p, file, line);
    return nullptr;
  }
  void* q = openssl_malloc(n, file, line);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, std::min(n, openssl_size(p)));
  openssl_free(p, file, line);
  return q;
}
// OpenSSL accepts the hooks only before its first allocation; this runs during static
// initialisation, before main. A test checks that it took.
const bool g_openssl_hooked =
    CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) == 1;

}  // namespace

// Sized deletes tell the block's size; unsized ones are looked up with malloc_usable_size.
#include <malloc.h>
void operator delete(void* p) noexcept {
  if (p != nullptr) inspect(p, malloc_usable_size(p), kOperatorDelete);
  std::free(p);
}
void operator delete(void* p, std::size_t n) noexcept {
  if (p != nullptr) inspect(p, n, kOperatorDelete);
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  if (p != nullptr) inspect(p, malloc_usable_size(p), kOperatorDelete);
  std::free(p);
}
void operator delete(void* p, std::size_t n, std::align_val_t) noexcept {
  if (p != nullptr) inspect(p, n, kOperatorDelete);
  std::free(p);
}
void* operator new(std::size_t n, std::align_val_t a) {
  void* p = std::aligned_alloc(static_cast<std::size_t>(a), (n + static_cast<std::size_t>(a) - 1) /
                                                                static_cast<std::size_t>(a) *
                                                                static_cast<std::size_t>(a));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

namespace srtpgate::srtp {
namespace {

void unwatch_all() {
  g_needles.count = 0;
  for (auto& h : g_needles.hits) {
    h[kOperatorDelete] = 0;
    h[kOpenSsl] = 0;
  }
}

void watch(const char* name, std::span<const uint8_t> bytes) {
  const int k = g_needles.count.load();
  ASSERT_LT(k, kMaxNeedles);
  ASSERT_LE(bytes.size(), sizeof g_needles.bytes[k]);
  std::memcpy(g_needles.bytes[k], bytes.data(), bytes.size());
  g_needles.len[k] = bytes.size();
  g_needles.name[k] = name;
  g_needles.count.store(k + 1);
}

// Stops watching and names every secret found, with the allocator that freed it.
std::string found() {
  const int count = g_needles.count.load();
  g_needles.count = 0;
  std::string s;
  for (int k = 0; k < count; ++k) {
    for (const Freer f : {kOperatorDelete, kOpenSsl}) {
      if (const int n = g_needles.hits[k][f].load(); n != 0) {
        s += std::string(g_needles.name[k]) + " in " + std::to_string(n) + " block(s) freed by " +
             (f == kOpenSsl ? "OpenSSL" : "operator delete") + "; ";
      }
    }
  }
  return s;
}

// The AES-CM PRF of RFC 3711 §4.3.1/§4.3.3 with key_derivation_rate 0, written here apart from
// lib/src/kdf.cc: AES-CTR keystream under the master key from IV = (salt XOR label << 48) * 2^16
// (the label in byte 7 of the 14-byte salt). A 12-byte GCM master salt is zero-padded on the
// right (RFC 7714 §11). Checked against RFC 3711 Appendix B.3 below.
bool prf(std::span<const uint8_t> master_key, std::span<const uint8_t> master_salt, uint8_t label,
         std::span<uint8_t> out) {
  uint8_t iv[16] = {};
  std::copy(master_salt.begin(), master_salt.end(), iv);
  iv[7] ^= label;
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  std::fill(out.begin(), out.end(), 0);
  int len = 0;
  const bool ok =
      c != nullptr &&
      EVP_EncryptInit_ex(c, master_key.size() == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr(),
                         nullptr, master_key.data(), iv) == 1 &&
      EVP_EncryptUpdate(c, out.data(), &len, out.data(), static_cast<int>(out.size())) == 1;
  EVP_CIPHER_CTX_free(c);
  return ok;
}

// FIPS 180-4 §6.1.2: the SHA-1 state after compressing one 64-byte block from the initial
// hash value, its five words in host byte order. HMAC-SHA1 backends precompute this for
// (auth key XOR ipad) and (auth key XOR opad) (RFC 2104) and keep it with the key: IPsec-MB's
// IMB_SHA1_ONE_BLOCK writes it in this form, and so does OpenSSL's SHA_CTX (h0..h4).
std::array<uint8_t, 20> sha1_state_after(const uint8_t block[64]) {
  auto rotl = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  uint32_t w[80];
  for (int t = 0; t < 16; ++t) {
    w[t] = uint32_t{block[4 * t]} << 24 | uint32_t{block[4 * t + 1]} << 16 |
           uint32_t{block[4 * t + 2]} << 8 | block[4 * t + 3];
  }
  for (int t = 16; t < 80; ++t) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int t = 0; t < 80; ++t) {
    uint32_t f, k;
    if (t < 20) {
      f = (b & c) | (~b & d), k = 0x5A827999;
    } else if (t < 40) {
      f = b ^ c ^ d, k = 0x6ED9EBA1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
    } else {
      f = b ^ c ^ d, k = 0xCA62C1D6;
    }
    const uint32_t tmp = rotl(a, 5) + f + e + k + w[t];
    e = d, d = c, c = rotl(b, 30), b = a, a = tmp;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  std::array<uint8_t, 20> state;
  std::memcpy(state.data(), h, sizeof h);
  return state;
}

// The HMAC state a backend keeps for `auth_key` and `pad` (0x36 inner, 0x5c outer).
std::array<uint8_t, 20> hmac_state(std::span<const uint8_t> auth_key, uint8_t pad) {
  uint8_t block[64];
  std::memset(block, pad, sizeof block);
  for (std::size_t i = 0; i < auth_key.size(); ++i) block[i] ^= auth_key[i];
  return sha1_state_after(block);
}

std::vector<uint8_t> from_hex(const char* hex) {
  std::vector<uint8_t> out;
  for (std::size_t i = 0; hex[i] != 0 && hex[i + 1] != 0; i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoul(std::string(hex + i, 2), nullptr, 16)));
  }
  return out;
}

// The test's own derivation must be right, or it would look for the wrong bytes.
TEST(ZeroizeSelfCheck, IndependentKdfMatchesRfc3711AppendixB3) {
  const auto master_key = from_hex("E1F97A0D3E018BE0D64FA32C06DE4139");
  const auto master_salt = from_hex("0EC675AD498AFEEBB6960B3AABE6");
  std::vector<uint8_t> enc(16), auth(20), salt(14);
  ASSERT_TRUE(prf(master_key, master_salt, 0x00, enc));
  ASSERT_TRUE(prf(master_key, master_salt, 0x01, auth));
  ASSERT_TRUE(prf(master_key, master_salt, 0x02, salt));
  EXPECT_EQ(enc, from_hex("C61E7A93744F39EE10734AFE3FF7A087"));
  EXPECT_EQ(auth, from_hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"));
  EXPECT_EQ(salt, from_hex("30CBBC08863D8C85D49DB34A9AE1"));
}

// FIPS 180-2 Appendix A.1: SHA-1("abc") is one padded block, a9993e36 4706816a ba3e2571
// 7850c26c 9cd0d89d.
TEST(ZeroizeSelfCheck, Sha1CompressionMatchesFips180Abc) {
  uint8_t block[64] = {'a', 'b', 'c', 0x80};
  block[63] = 24;
  const auto state = sha1_state_after(block);
  uint32_t h[5];
  std::memcpy(h, state.data(), sizeof h);
  EXPECT_EQ(h[0], 0xa9993e36u);
  EXPECT_EQ(h[1], 0x4706816au);
  EXPECT_EQ(h[2], 0xba3e2571u);
  EXPECT_EQ(h[3], 0x7850c26cu);
  EXPECT_EQ(h[4], 0x9cd0d89du);
}

// The OpenSSL hooks are live: without them the OpenSSL backend's contexts go unsearched.
TEST(ZeroizeSelfCheck, OpenSslAllocatorIsHooked) { EXPECT_TRUE(g_openssl_hooked); }

// The check itself must be able to fail: a block freed with a key in it is found, through
// either allocator, and one wiped before it is freed is not.
TEST(ZeroizeSelfCheck, AnUnwipedBlockIsFound) {
  unwatch_all();
  const uint8_t secret[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  watch("secret", secret);
  auto* block = new uint8_t[64];
  std::memcpy(block + 20, secret, sizeof secret);
  delete[] block;
  auto* ossl = static_cast<uint8_t*>(OPENSSL_malloc(64));
  ASSERT_NE(ossl, nullptr);
  std::memcpy(ossl + 40, secret, sizeof secret);
  OPENSSL_free(ossl);
  ossl = static_cast<uint8_t*>(OPENSSL_malloc(64));
  ASSERT_NE(ossl, nullptr);
  std::memcpy(ossl + 40, secret, sizeof secret);
  OPENSSL_clear_free(ossl, 64);
  const int by_delete = g_needles.hits[0][kOperatorDelete].load();
  const int by_openssl = g_needles.hits[0][kOpenSsl].load();
  unwatch_all();
  EXPECT_EQ(by_delete, 1);
  EXPECT_EQ(by_openssl, 1);
}

class Zeroize : public ::testing::TestWithParam<std::tuple<crypto::Backend, Profile>> {};

TEST_P(Zeroize, DestroyedSessionsLeaveNoSecretInFreedMemory) {
  const auto [backend, profile] = GetParam();
  auto engine = crypto::make_engine(backend);
  ASSERT_TRUE(engine) << engine.message();
  const auto pp = params(profile);
  std::vector<uint8_t> ks(std::size_t{pp.master_key_len} + pp.master_salt_len);
  for (std::size_t i = 0; i < ks.size(); ++i) ks[i] = static_cast<uint8_t>(0xA0 + i * 7);
  auto key = MasterKey::from_concatenated(profile, ks);
  ASSERT_TRUE(key);
  // RFC 3711 §4.3.2 labels: RTP encryption, auth, salt 0..2; RTCP 3..5.
  struct Derived {
    uint8_t enc[32], auth[20], salt[14];
    std::array<uint8_t, 20> ipad, opad;
  } d[2];
  for (const int rtcp : {0, 1}) {
    const auto label = static_cast<uint8_t>(3 * rtcp);
    ASSERT_TRUE(prf(key->key.span(), key->salt.span(), label, {d[rtcp].enc, pp.master_key_len}));
    ASSERT_TRUE(prf(key->key.span(), key->salt.span(), static_cast<uint8_t>(label + 1),
                    {d[rtcp].auth, pp.auth_key_len}));
    ASSERT_TRUE(prf(key->key.span(), key->salt.span(), static_cast<uint8_t>(label + 2),
                    {d[rtcp].salt, pp.session_salt_len}));
    d[rtcp].ipad = hmac_state({d[rtcp].auth, pp.auth_key_len}, 0x36);
    d[rtcp].opad = hmac_state({d[rtcp].auth, pp.auth_key_len}, 0x5c);
  }
  unwatch_all();
  watch("master key", key->key.span());
  watch("master salt", key->salt.span());
  for (const int rtcp : {0, 1}) {
    watch(rtcp ? "SRTCP encryption key" : "SRTP encryption key", {d[rtcp].enc, pp.master_key_len});
    // An AES-256 key's first half alone is round key 0, which a decryption key schedule keeps
    // (last) without the second half.
    if (pp.master_key_len == 32) {
      watch(rtcp ? "SRTCP encryption key's first half" : "SRTP encryption key's first half",
            {d[rtcp].enc, 16});
    }
    watch(rtcp ? "SRTCP salt" : "SRTP salt", {d[rtcp].salt, pp.session_salt_len});
    if (!pp.aead) {
      watch(rtcp ? "SRTCP auth key" : "SRTP auth key", {d[rtcp].auth, pp.auth_key_len});
      watch(rtcp ? "SRTCP HMAC inner state" : "SRTP HMAC inner state", d[rtcp].ipad);
      watch(rtcp ? "SRTCP HMAC outer state" : "SRTP HMAC outer state", d[rtcp].opad);
    }
  }
  {
    SessionConfig c;
    c.profile = profile;
    auto s = Session::create(engine.value(), c, key.value());
    ASSERT_TRUE(s) << s.message();
    std::vector<uint8_t> pkt(200, 0);
    pkt[0] = 0x80;
    pkt[11] = 7;
    PacketView v{pkt.data(), 172, static_cast<uint32_t>(pkt.size())};
    Status st{};
    s.value()->protect_rtp({&v, 1}, {&st, 1});
    ASSERT_EQ(st, Status::ok);
    ASSERT_TRUE(s.value()->rekey(key.value()));  // the replaced keys are freed here
    ASSERT_TRUE(s.value()->remove_stream(7));
  }  // and the session's here
  const std::string leaks = found();
  EXPECT_EQ(leaks, "") << "a freed heap block still held a secret";
}

INSTANTIATE_TEST_SUITE_P(AllBackendsAndProfiles, Zeroize,
                         ::testing::Combine(::testing::Values(crypto::Backend::ipsecmb,
                                                              crypto::Backend::openssl),
                                            ::testing::ValuesIn(kAllProfiles)));

}  // namespace
}  // namespace srtpgate::srtp
