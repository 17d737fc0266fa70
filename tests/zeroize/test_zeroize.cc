// Keys are zeroized when a session, a stream or a dataplane-free SRTP session is destroyed:
// this binary replaces the global operator delete, and before any heap block goes back to the
// allocator it searches the block for the session keys (RFC 3711 §4.3) of the sessions under
// test. Expanded AES key schedules start with the key itself, so a key context that was not
// wiped still holds it. Works with every backend; a separate binary, because replacing
// operator delete applies to the whole process.
#include <gtest/gtest.h>

// The replacements below pair malloc with free by design; GCC cannot see that through inlining.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "kdf.h"
#include "srtpgate/crypto.h"
#include "srtpgate/master_key.h"
#include "srtpgate/session.h"

namespace {

// The byte patterns to look for (fixed storage: operator delete must not allocate).
struct Needles {
  uint8_t bytes[8][32];
  std::size_t len[8];
  std::atomic<int> count{0};
  std::atomic<int> hits{0};
};
Needles g_needles;

bool contains(const uint8_t* hay, std::size_t n, const uint8_t* needle, std::size_t len) {
  if (len == 0 || n < len) return false;
  for (std::size_t i = 0; i + len <= n; ++i) {
    if (hay[i] == needle[0] && std::memcmp(hay + i, needle, len) == 0) return true;
  }
  return false;
}

void inspect(void* p, std::size_t n) {
  const int count = g_needles.count.load();
  for (int k = 0; k < count; ++k) {
    if (contains(static_cast<const uint8_t*>(p), n, g_needles.bytes[k], g_needles.len[k])) {
      g_needles.hits.fetch_add(1);
    }
  }
}

}  // namespace

// Sized deletes tell the block's size; unsized ones are looked up with malloc_usable_size.
#include <malloc.h>
void operator delete(void* p) noexcept {
  if (p != nullptr) inspect(p, malloc_usable_size(p));
  std::free(p);
}
void operator delete(void* p, std::size_t n) noexcept {
  if (p != nullptr) inspect(p, n);
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  if (p != nullptr) inspect(p, malloc_usable_size(p));
  std::free(p);
}
void operator delete(void* p, std::size_t n, std::align_val_t) noexcept {
  if (p != nullptr) inspect(p, n);
  std::free(p);
}
void* operator new(std::size_t n, std::align_val_t a) {
  void* p = std::aligned_alloc(static_cast<std::size_t>(a),
                               (n + static_cast<std::size_t>(a) - 1) / static_cast<std::size_t>(a) *
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

void watch(std::span<const uint8_t> bytes) {
  const int k = g_needles.count.load();
  std::memcpy(g_needles.bytes[k], bytes.data(), bytes.size());
  g_needles.len[k] = bytes.size();
  g_needles.count.store(k + 1);
}

class Zeroize : public ::testing::TestWithParam<std::tuple<crypto::Backend, Profile>> {};

TEST_P(Zeroize, DestroyedSessionsLeaveNoSessionKeyInFreedMemory) {
  const auto [backend, profile] = GetParam();
  auto engine = crypto::make_engine(backend);
  ASSERT_TRUE(engine) << engine.message();
  const auto pp = params(profile);
  std::vector<uint8_t> ks(std::size_t{pp.master_key_len} + pp.master_salt_len);
  for (std::size_t i = 0; i < ks.size(); ++i) ks[i] = static_cast<uint8_t>(0xA0 + i * 7);
  auto key = MasterKey::from_concatenated(profile, ks);
  ASSERT_TRUE(key);
  // The session encryption keys this master key derives (RFC 3711 §4.3.1).
  std::vector<uint8_t> rtp_key(pp.master_key_len);
  std::vector<uint8_t> rtcp_key(pp.master_key_len);
  detail::derive_key(*engine.value(), key->key.span(), key->salt.span(),
                     detail::KdfLabel::rtp_encryption, rtp_key);
  detail::derive_key(*engine.value(), key->key.span(), key->salt.span(),
                     detail::KdfLabel::rtcp_encryption, rtcp_key);
  g_needles.count = 0;
  g_needles.hits = 0;
  watch(rtp_key);
  watch(rtcp_key);
  watch(key->key.span());
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
  const int hits = g_needles.hits.load();
  g_needles.count = 0;
  EXPECT_EQ(hits, 0) << "a freed heap block still held a key";
}

// The check itself must be able to fail: a block freed with a key in it is found.
TEST(ZeroizeSelfCheck, AnUnwipedBlockIsFound) {
  g_needles.count = 0;
  g_needles.hits = 0;
  const uint8_t secret[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  watch(secret);
  auto* block = new uint8_t[64];
  std::memcpy(block + 20, secret, sizeof secret);
  delete[] block;
  const int hits = g_needles.hits.load();
  g_needles.count = 0;
  EXPECT_EQ(hits, 1);
}

INSTANTIATE_TEST_SUITE_P(
    AllBackendsAndProfiles, Zeroize,
    ::testing::Combine(::testing::Values(crypto::Backend::ipsecmb, crypto::Backend::openssl),
                       ::testing::ValuesIn(kAllProfiles)));

}  // namespace
}  // namespace srtpgate::srtp
