// Published test vectors, run on every crypto backend: RFC 3711 Appendix B.2 (AES-CM keystream)
// and B.3 (key derivation), RFC 6188 §7.2 (AES-256 key derivation), RFC 7714 §16 and §17
// (AES-GCM for SRTP and SRTCP). The vectors live in data files under tests/vectors/, each of
// which names the RFC section it was copied from.
//
// RFC 7714 gives session keys, not master keys, so its vectors cannot go through Session (no
// master key derives to them). Instead the test forms the IV (§8.1, §9.1) and the AAD (§8.2,
// §9.2, §9.3) from the packet on its own and checks them against the RFC, then runs the GCM
// primitive of the engine with them and checks ciphertext, tag and the assembled packet.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "burst_common.h"
#include "engine.h"
#include "kdf.h"
#include "srtpgate/crypto.h"
#include "srtpgate/result.h"

namespace srtpgate {
namespace {

using Bytes = std::vector<uint8_t>;

// --- The data file format ----------------------------------------------------------------
// "name = value" lines; a line starting with white space continues the value above it; a blank
// line ends a record; lines starting with '#' are comments. Hex values may contain spaces.

struct VectorRecord {
  std::string file;
  int line = 0;  // where the record starts, for failure messages
  std::map<std::string, std::string> fields;

  std::string where() const { return file + ":" + std::to_string(line); }
  bool has(const std::string& name) const { return fields.count(name) != 0; }

  const std::string& text(const std::string& name) const {
    static const std::string kEmpty;
    auto it = fields.find(name);
    if (it == fields.end()) {
      ADD_FAILURE() << where() << ": record has no field '" << name << "'";
      return kEmpty;
    }
    return it->second;
  }

  // Decodes a hex field; a missing field, an odd digit count or a non-hex character fails the
  // running test (a typo in a data file must never read as a shorter, passing vector).
  Bytes bytes(const std::string& name) const {
    const std::string& s = text(name);
    Bytes out;
    int high = -1;
    for (char c : s) {
      if (c == ' ' || c == '\t') {
        continue;
      }
      int v = -1;
      if (c >= '0' && c <= '9') {
        v = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v = c - 'A' + 10;
      }
      if (v < 0) {
        ADD_FAILURE() << where() << ": field '" << name << "' has a non-hex character '" << c
                      << "'";
        return {};
      }
      if (high < 0) {
        high = v;
      } else {
        out.push_back(static_cast<uint8_t>(high << 4 | v));
        high = -1;
      }
    }
    if (high >= 0) {
      ADD_FAILURE() << where() << ": field '" << name << "' has an odd number of hex digits";
      return {};
    }
    return out;
  }

  // A big-endian integer of at most 4 octets.
  uint32_t u32(const std::string& name) const {
    Bytes b = bytes(name);
    if (b.empty() || b.size() > 4) {
      ADD_FAILURE() << where() << ": field '" << name << "' is not 1 to 4 octets";
      return 0;
    }
    uint32_t v = 0;
    for (uint8_t x : b) {
      v = v << 8 | x;
    }
    return v;
  }
};

std::string trim(std::string_view s) {
  std::size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) {
    return {};
  }
  std::size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

Result<std::vector<VectorRecord>> load_vectors(const std::string& name) {
  const std::string path = std::string(SRTPGATE_TEST_DATA_DIR) + "/" + name;
  std::ifstream in(path);
  if (!in) {
    return make_error("cannot open test vector file " + path);
  }
  std::vector<VectorRecord> records;
  VectorRecord cur;
  std::string last;
  std::string line;
  int lineno = 0;
  auto flush = [&] {
    if (!cur.fields.empty()) {
      records.push_back(std::move(cur));
    }
    cur = VectorRecord{};
    last.clear();
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line[0] == '#') {
      continue;
    }
    if (trim(line).empty()) {
      flush();
      continue;
    }
    const std::string where = path + ":" + std::to_string(lineno);
    if (line[0] == ' ' || line[0] == '\t') {
      if (last.empty()) {
        return make_error(where + ": continuation line with no field above it");
      }
      std::string& value = cur.fields[last];
      value.push_back(' ');
      value.append(trim(line));
      continue;
    }
    std::size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return make_error(where + ": expected 'name = value'");
    }
    std::string key = trim(std::string_view(line).substr(0, eq));
    if (key.empty() || cur.fields.count(key) != 0) {
      return make_error(where + ": empty or repeated field name '" + key + "'");
    }
    if (cur.fields.empty()) {
      cur.file = name;
      cur.line = lineno;
    }
    cur.fields[key] = trim(std::string_view(line).substr(eq + 1));
    last = key;
  }
  flush();
  return records;
}

// Loads a file and insists on the number of records it is known to hold, so that a truncated
// or emptied file fails instead of passing with nothing checked.
std::vector<VectorRecord> load_exactly(const std::string& name, std::size_t expected) {
  auto r = load_vectors(name);
  if (!r) {
    ADD_FAILURE() << r.message();
    return {};
  }
  EXPECT_EQ(r->size(), expected) << name << ": unexpected number of records";
  return std::move(r.value());
}

std::string hex(std::span<const uint8_t> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += kDigits[x >> 4];
    s += kDigits[x & 15];
  }
  return s;
}

// Compares as hex strings so that a failure prints both values in full.
#define EXPECT_BYTES_EQ(actual, expected) EXPECT_EQ(hex(actual), hex(expected))

// --- The fixture: one engine per backend -------------------------------------------------

class VectorTest : public ::testing::TestWithParam<crypto::Backend> {
 protected:
  void SetUp() override {
    auto e = crypto::make_engine(GetParam());
    ASSERT_TRUE(e) << "backend " << crypto::name(GetParam()) << ": " << e.message();
    engine_ = std::move(e.value());
    ASSERT_NE(engine_, nullptr);
    ASSERT_EQ(engine_->backend(), GetParam());
  }
  crypto::Engine& engine() { return *engine_; }

 private:
  std::shared_ptr<crypto::Engine> engine_;
};

// --- RFC 3711 Appendix B.2: AES-CM keystream ---------------------------------------------

// The index of `counter` from `iv`, both 16-octet big-endian counter blocks; the RFC's blocks
// differ only in their low 64 bits.
uint64_t block_index(const Bytes& iv, const Bytes& counter) {
  EXPECT_EQ(iv.size(), 16u);
  EXPECT_EQ(counter.size(), 16u);
  if (iv.size() != 16 || counter.size() != 16) {
    return 0;
  }
  uint64_t a = 0;
  uint64_t b = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(iv[i], counter[i]) << "counter and iv differ in their high 64 bits";
    a = a << 8 | iv[8 + i];
    b = b << 8 | counter[8 + i];
  }
  EXPECT_GE(b, a);
  return b - a;
}

TEST_P(VectorTest, Rfc3711AesCmKeystream) {
  const auto records = load_exactly("rfc3711_b2_aes_cm_keystream.txt", 6);
  ASSERT_FALSE(records.empty());
  // All rows belong to one segment, and its first row is the block at the offset itself.
  const Bytes offset = records.front().bytes("iv");
  EXPECT_BYTES_EQ(records.front().bytes("counter"), offset);
  for (const auto& r : records) {
    SCOPED_TRACE(r.where());
    const Bytes key = r.bytes("key");
    const Bytes iv = r.bytes("iv");
    EXPECT_BYTES_EQ(iv, offset);
    const Bytes expected = r.bytes("keystream");
    ASSERT_EQ(key.size(), 16u);
    ASSERT_EQ(iv.size(), 16u);
    ASSERT_EQ(expected.size(), 16u);
    const uint64_t index = block_index(iv, r.bytes("counter"));
    // The RFC's segment is 65282 blocks; no record may point past it.
    ASSERT_LT(index, 65282u);

    // The whole segment up to this block, in one call, as the KDF and the RFC produce it.
    Bytes out((index + 1) * 16, 0xa5);
    engine().ctr_keystream(key, iv.data(), out);
    EXPECT_BYTES_EQ(std::span(out).subspan(index * 16, 16), expected);
  }
}

TEST_P(VectorTest, Rfc3711AesCmKeystreamFullSegmentInOneCall) {
  // The RFC states the segment length (1044512 octets = 65282 blocks); its last printed block
  // must come out of one call that asks for the whole segment.
  const auto records = load_exactly("rfc3711_b2_aes_cm_keystream.txt", 6);
  ASSERT_FALSE(records.empty());
  const auto& last = records.back();
  const Bytes key = last.bytes("key");
  const Bytes iv = last.bytes("iv");
  ASSERT_EQ(key.size(), 16u);
  ASSERT_EQ(iv.size(), 16u);
  ASSERT_EQ(block_index(iv, last.bytes("counter")), 65281u);
  Bytes out(1044512, 0);
  engine().ctr_keystream(key, iv.data(), out);
  for (const auto& r : records) {
    SCOPED_TRACE(r.where());
    const uint64_t index = block_index(iv, r.bytes("counter"));
    EXPECT_BYTES_EQ(std::span(out).subspan(index * 16, 16), r.bytes("keystream"));
  }
}

// --- RFC 3711 Appendix B.3 and RFC 6188 §7.2: key derivation ------------------------------

void check_kdf_file(crypto::Engine& engine, const std::string& file, std::size_t count,
                    std::size_t master_key_len) {
  const auto records = load_exactly(file, count);
  for (const auto& r : records) {
    SCOPED_TRACE(r.where());
    const Bytes master_key = r.bytes("master_key");
    const Bytes master_salt = r.bytes("master_salt");
    const Bytes label = r.bytes("label");
    const Bytes expected = r.bytes("output");
    ASSERT_EQ(master_key.size(), master_key_len);
    ASSERT_EQ(master_salt.size(), 14u);
    ASSERT_EQ(label.size(), 1u);
    ASSERT_LE(label[0], 5) << "not an RFC 3711 §4.3.2 label";
    ASSERT_FALSE(expected.empty());

    Bytes out(expected.size(), 0xa5);
    srtp::detail::derive_key(engine, master_key, master_salt,
                             static_cast<srtp::detail::KdfLabel>(label[0]), out);
    EXPECT_BYTES_EQ(out, expected);

    // The PRF input block the RFC prints (B.3 only): the keystream from it is the key.
    if (r.has("prf_input")) {
      const Bytes prf_input = r.bytes("prf_input");
      ASSERT_EQ(prf_input.size(), 16u);
      Bytes direct(expected.size(), 0x5a);
      engine.ctr_keystream(master_key, prf_input.data(), direct);
      EXPECT_BYTES_EQ(direct, expected);
    }
    // The untruncated AES output the RFC prints for the salt (B.3 only).
    if (r.has("prf_output")) {
      const Bytes prf_output = r.bytes("prf_output");
      ASSERT_EQ(prf_output.size(), 16u);
      Bytes full(16, 0xa5);
      srtp::detail::derive_key(engine, master_key, master_salt,
                               static_cast<srtp::detail::KdfLabel>(label[0]), full);
      EXPECT_BYTES_EQ(full, prf_output);
    }
  }
}

TEST_P(VectorTest, Rfc3711Kdf) { check_kdf_file(engine(), "rfc3711_b3_kdf.txt", 3, 16); }

TEST_P(VectorTest, Rfc6188Kdf) { check_kdf_file(engine(), "rfc6188_kdf_aes256.txt", 3, 32); }

// --- RFC 7714 §16 and §17: AES-GCM --------------------------------------------------------

constexpr std::size_t kGcmIvLen = 12;
constexpr std::size_t kGcmTagLen = 16;

struct GcmVector {
  std::string where;
  bool rtcp = false;
  bool encrypt = false;
  Bytes key, salt, packet, iv, aad, plaintext, ciphertext, tag, protected_packet;
  uint32_t roc = 0;          // SRTP
  uint32_t srtcp_index = 0;  // SRTCP
};

std::vector<GcmVector> load_gcm_vectors() {
  std::vector<GcmVector> out;
  for (const auto& r : load_exactly("rfc7714_aes_gcm.txt", 8)) {
    GcmVector v;
    v.where = r.where() + " (" + r.text("section") + ")";
    const std::string& kind = r.text("kind");
    EXPECT_TRUE(kind == "srtp" || kind == "srtcp") << v.where << ": kind '" << kind << "'";
    v.rtcp = kind == "srtcp";
    const std::string& enc = r.text("encrypt");
    EXPECT_TRUE(enc == "0" || enc == "1") << v.where;
    v.encrypt = enc == "1";
    v.key = r.bytes("key");
    v.salt = r.bytes("salt");
    v.packet = r.bytes("packet");
    v.iv = r.bytes("iv");
    v.aad = r.bytes("aad");
    v.plaintext = r.bytes("plaintext");
    v.ciphertext = r.bytes("ciphertext");
    v.tag = r.bytes("tag");
    v.protected_packet = r.bytes("protected");
    if (v.rtcp) {
      v.srtcp_index = r.u32("srtcp_index");
      EXPECT_EQ(v.srtcp_index >> 31, 0u) << v.where << ": the SRTCP index is 31 bits";
    } else {
      v.roc = r.u32("roc");
    }
    EXPECT_TRUE(v.key.size() == 16 || v.key.size() == 32) << v.where;
    EXPECT_EQ(v.salt.size(), 12u) << v.where;
    EXPECT_EQ(v.iv.size(), kGcmIvLen) << v.where;
    EXPECT_EQ(v.tag.size(), kGcmTagLen) << v.where;
    EXPECT_EQ(v.plaintext.size(), v.ciphertext.size()) << v.where;
    EXPECT_EQ(v.plaintext.empty(), !v.encrypt) << v.where;
    out.push_back(std::move(v));
  }
  return out;
}

void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

Bytes concat(std::initializer_list<std::span<const uint8_t>> parts) {
  Bytes out;
  for (auto p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// RFC 3550 §5.1: the header SRTP leaves in the clear (fixed part, CSRCs, extension).
std::size_t rtp_header_len(const Bytes& pkt) {
  EXPECT_GE(pkt.size(), 12u);
  if (pkt.size() < 12) {
    return 0;
  }
  std::size_t len = 12 + 4 * std::size_t{pkt[0] & 0x0fu};
  if ((pkt[0] & 0x10) != 0) {
    EXPECT_GE(pkt.size(), len + 4);
    len += 4 + 4 * (std::size_t{pkt[len + 2]} << 8 | pkt[len + 3]);
  }
  EXPECT_LE(len, pkt.size());
  return len;
}

// RFC 7714 §8.1 (SRTP) and §9.1 (SRTCP): the IV is the salt XOR
//   00 00 || SSRC || ROC || SEQ             (SRTP)
//   00 00 || SSRC || 00 00 || 0 || index    (SRTCP, the index right-justified in 32 bits)
// with the SSRC and SEQ read from the packet itself.
Bytes form_iv(const GcmVector& v) {
  Bytes iv(kGcmIvLen, 0);
  if (v.rtcp) {
    EXPECT_GE(v.packet.size(), 8u);
    std::copy(v.packet.begin() + 4, v.packet.begin() + 8, iv.begin() + 2);  // sender SSRC
    store_be32(iv.data() + 8, v.srtcp_index & 0x7fffffffu);
  } else {
    EXPECT_GE(v.packet.size(), 12u);
    std::copy(v.packet.begin() + 8, v.packet.begin() + 12, iv.begin() + 2);  // SSRC
    store_be32(iv.data() + 6, v.roc);
    iv[10] = v.packet[2];  // SEQ
    iv[11] = v.packet[3];
  }
  for (std::size_t i = 0; i < kGcmIvLen && i < v.salt.size(); ++i) {
    iv[i] ^= v.salt[i];
  }
  return iv;
}

// The ESRTCP word of RFC 3711 §3.4 / RFC 7714 §9: E flag || 31-bit SRTCP index.
std::array<uint8_t, 4> esrtcp_word(const GcmVector& v) {
  std::array<uint8_t, 4> w{};
  store_be32(w.data(), (v.encrypt ? 0x80000000u : 0u) | (v.srtcp_index & 0x7fffffffu));
  return w;
}

// RFC 7714 §8.2 (SRTP: the header; with the NULL cipher the whole packet, §16.1.3),
// §9.2 (SRTCP encrypted: the first 8 octets and the ESRTCP word) and §9.3 (SRTCP tagged only:
// the whole packet and the ESRTCP word).
Bytes form_aad(const GcmVector& v) {
  if (v.rtcp) {
    const auto w = esrtcp_word(v);
    const std::size_t head = v.encrypt ? 8 : v.packet.size();
    return concat({std::span(v.packet).first(head), w});
  }
  const std::size_t head = v.encrypt ? rtp_header_len(v.packet) : v.packet.size();
  return Bytes(v.packet.begin(), v.packet.begin() + static_cast<std::ptrdiff_t>(head));
}

// The octets GCM encrypts: the payload (SRTP) or everything after the first 8 octets (SRTCP).
Bytes form_plaintext(const GcmVector& v) {
  if (!v.encrypt) {
    return {};
  }
  const std::size_t head = v.rtcp ? 8 : rtp_header_len(v.packet);
  return Bytes(v.packet.begin() + static_cast<std::ptrdiff_t>(head), v.packet.end());
}

// The packet on the wire (RFC 7714 §8, §9, §17 intro): clear part || ciphertext || tag, and for
// SRTCP the ESRTCP word after the tag.
Bytes form_protected(const GcmVector& v, std::span<const uint8_t> ciphertext,
                     std::span<const uint8_t> tag) {
  if (v.rtcp) {
    const auto w = esrtcp_word(v);
    const std::size_t head = v.encrypt ? 8 : v.packet.size();
    return concat({std::span(v.packet).first(head), ciphertext, tag, w});
  }
  const std::size_t head = v.encrypt ? rtp_header_len(v.packet) : v.packet.size();
  return concat({std::span(v.packet).first(head), ciphertext, tag});
}

TEST_P(VectorTest, Rfc7714GcmIvAadAndPacketLayout) {
  for (const auto& v : load_gcm_vectors()) {
    SCOPED_TRACE(v.where);
    EXPECT_BYTES_EQ(form_iv(v), v.iv);
    EXPECT_BYTES_EQ(form_aad(v), v.aad);
    EXPECT_BYTES_EQ(form_plaintext(v), v.plaintext);
    EXPECT_BYTES_EQ(form_protected(v, v.ciphertext, v.tag), v.protected_packet);
  }
}

// The library's own IV formation (lib/src/burst_common.h), not the test's, against the IVs
// RFC 7714 prints: SRTP §8.1 from SSRC, ROC and SEQ; SRTCP §9.1 from SSRC and the index.
TEST_P(VectorTest, Rfc7714IvFromTheLibrary) {
  for (const auto& v : load_gcm_vectors()) {
    SCOPED_TRACE(v.where);
    std::array<uint8_t, 16> salt{};
    ASSERT_EQ(v.salt.size(), 12u);
    std::copy(v.salt.begin(), v.salt.end(), salt.begin());
    const std::size_t at = v.rtcp ? 4 : 8;
    const uint32_t ssrc = (uint32_t{v.packet[at]} << 24) | (uint32_t{v.packet[at + 1]} << 16) |
                          (uint32_t{v.packet[at + 2]} << 8) | v.packet[at + 3];
    const uint64_t index = v.rtcp ? (v.srtcp_index & 0x7fffffffu)
                                  : ((uint64_t{v.roc} << 16) | (uint64_t{v.packet[2]} << 8) |
                                     v.packet[3]);
    uint8_t iv[12];
    srtp::detail::gcm_iv(iv, salt, ssrc, index);
    EXPECT_BYTES_EQ(Bytes(iv, iv + 12), v.iv);
  }
}

struct GcmCase {
  std::unique_ptr<crypto::KeyContext> key;
  Bytes data;  // one spare octet so that data() is never null for the tagging-only vectors
  Bytes aad;
  Bytes iv;
  std::array<uint8_t, kGcmTagLen> tag{};
};

crypto::GcmOp make_op(GcmCase& c, std::size_t len, std::size_t key_bytes) {
  crypto::GcmOp op{};
  op.key = c.key.get();
  op.key_bytes = static_cast<uint32_t>(key_bytes);
  op.data = c.data.data();
  op.len = static_cast<uint32_t>(len);
  op.aad_len = static_cast<uint32_t>(c.aad.size());
  op.aad = c.aad.data();
  op.iv = c.iv.data();
  op.tag = c.tag.data();
  op.ok = false;
  return op;
}

// Seals with the IV and AAD the test formed itself (checked against the RFC above), so a match
// here means the engine and the packet construction agree with the RFC end to end.
TEST_P(VectorTest, Rfc7714GcmSeal) {
  for (const auto& v : load_gcm_vectors()) {
    SCOPED_TRACE(v.where);
    GcmCase c;
    c.key = engine().make_gcm_key(v.key);
    ASSERT_NE(c.key, nullptr);
    const Bytes pt = form_plaintext(v);
    c.data = pt;
    c.data.push_back(0);
    c.aad = form_aad(v);
    c.iv = form_iv(v);
    c.tag.fill(0xee);
    crypto::GcmOp op = make_op(c, pt.size(), v.key.size());
    engine().gcm_seal(std::span(&op, 1));
    const auto ct = std::span(c.data).first(pt.size());
    EXPECT_BYTES_EQ(ct, v.ciphertext);
    EXPECT_BYTES_EQ(c.tag, v.tag);
    EXPECT_BYTES_EQ(form_protected(v, ct, c.tag), v.protected_packet);
  }
}

TEST_P(VectorTest, Rfc7714GcmOpen) {
  for (const auto& v : load_gcm_vectors()) {
    SCOPED_TRACE(v.where);
    GcmCase c;
    c.key = engine().make_gcm_key(v.key);
    ASSERT_NE(c.key, nullptr);
    c.data = v.ciphertext;
    c.data.push_back(0);
    c.aad = v.aad;
    c.iv = v.iv;
    ASSERT_EQ(v.tag.size(), kGcmTagLen);
    std::copy(v.tag.begin(), v.tag.end(), c.tag.begin());
    crypto::GcmOp op = make_op(c, v.ciphertext.size(), v.key.size());
    engine().gcm_open(std::span(&op, 1));
    EXPECT_TRUE(op.ok) << "the RFC's tag did not verify";
    EXPECT_BYTES_EQ(std::span(c.data).first(v.ciphertext.size()), v.plaintext);
  }
}

// Every vector in one burst (mixed key sizes, SRTP and SRTCP, with and without payload): the
// backends batch their jobs, and a batch must give each operation its own answer.
TEST_P(VectorTest, Rfc7714GcmOneBurst) {
  const auto vectors = load_gcm_vectors();
  ASSERT_FALSE(vectors.empty());
  std::vector<GcmCase> cases(vectors.size());
  std::vector<crypto::GcmOp> ops;
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    cases[i].key = engine().make_gcm_key(vectors[i].key);
    ASSERT_NE(cases[i].key, nullptr);
    cases[i].data = vectors[i].plaintext;
    cases[i].data.push_back(0);
    cases[i].aad = vectors[i].aad;
    cases[i].iv = vectors[i].iv;
    ops.push_back(make_op(cases[i], vectors[i].plaintext.size(), vectors[i].key.size()));
  }
  engine().gcm_seal(ops);
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    SCOPED_TRACE(vectors[i].where);
    EXPECT_BYTES_EQ(std::span(cases[i].data).first(vectors[i].ciphertext.size()),
                    vectors[i].ciphertext);
    EXPECT_BYTES_EQ(cases[i].tag, vectors[i].tag);
    ops[i].ok = false;
  }
  engine().gcm_open(ops);
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    SCOPED_TRACE(vectors[i].where);
    EXPECT_TRUE(ops[i].ok);
    EXPECT_BYTES_EQ(std::span(cases[i].data).first(vectors[i].plaintext.size()),
                    vectors[i].plaintext);
  }
}

// One changed octet anywhere GCM covers (ciphertext, tag, AAD, IV) must fail the tag check.
TEST_P(VectorTest, Rfc7714GcmOpenRejectsTampering) {
  enum class Where { ciphertext, tag, aad, iv };
  for (const auto& v : load_gcm_vectors()) {
    SCOPED_TRACE(v.where);
    auto key = engine().make_gcm_key(v.key);
    ASSERT_NE(key, nullptr);
    for (Where where : {Where::ciphertext, Where::tag, Where::aad, Where::iv}) {
      std::size_t span_len = 0;
      switch (where) {
        case Where::ciphertext:
          span_len = v.ciphertext.size();
          break;
        case Where::tag:
          span_len = kGcmTagLen;
          break;
        case Where::aad:
          span_len = v.aad.size();
          break;
        case Where::iv:
          span_len = kGcmIvLen;
          break;
      }
      if (span_len == 0) {
        continue;  // the tagging-only vectors have no ciphertext
      }
      for (std::size_t pos : {std::size_t{0}, span_len / 2, span_len - 1}) {
        static constexpr const char* kNames[] = {"ciphertext", "tag", "aad", "iv"};
        SCOPED_TRACE(std::string("tampered ") + kNames[static_cast<int>(where)] + " octet " +
                     std::to_string(pos));
        GcmCase c;
        c.data = v.ciphertext;
        c.data.push_back(0);
        c.aad = v.aad;
        c.iv = v.iv;
        std::copy(v.tag.begin(), v.tag.end(), c.tag.begin());
        switch (where) {
          case Where::ciphertext:
            c.data[pos] ^= 0x01;
            break;
          case Where::tag:
            c.tag[pos] ^= 0x80;
            break;
          case Where::aad:
            c.aad[pos] ^= 0x01;
            break;
          case Where::iv:
            c.iv[pos] ^= 0x01;
            break;
        }
        crypto::GcmOp op = make_op(c, v.ciphertext.size(), v.key.size());
        op.key = key.get();
        op.ok = true;  // the engine must write false, not leave what it found
        engine().gcm_open(std::span(&op, 1));
        EXPECT_FALSE(op.ok) << "a tampered packet verified";
      }
    }
    // The same key, untampered, still verifies: the failures above are the tampering's.
    GcmCase c;
    c.data = v.ciphertext;
    c.data.push_back(0);
    c.aad = v.aad;
    c.iv = v.iv;
    std::copy(v.tag.begin(), v.tag.end(), c.tag.begin());
    crypto::GcmOp op = make_op(c, v.ciphertext.size(), v.key.size());
    op.key = key.get();
    engine().gcm_open(std::span(&op, 1));
    EXPECT_TRUE(op.ok);
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, VectorTest,
                         ::testing::Values(crypto::Backend::ipsecmb, crypto::Backend::openssl),
                         [](const ::testing::TestParamInfo<crypto::Backend>& info) {
                           return std::string(crypto::name(info.param));
                         });

}  // namespace
}  // namespace srtpgate
