#include "srtpgate/hs/certificate.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "ssl_util.h"

namespace srtpgate::hs {
namespace {

const EVP_MD* digest_for(std::string_view algorithm) {
  std::string a;
  for (char c : algorithm) {
    a.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (a == "sha-1") {
    return EVP_sha1();
  }
  if (a == "sha-256") {
    return EVP_sha256();
  }
  if (a == "sha-384") {
    return EVP_sha384();
  }
  if (a == "sha-512") {
    return EVP_sha512();
  }
  return nullptr;
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) {
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

}  // namespace

Result<Fingerprint> Fingerprint::parse(std::string_view sdp_value) {
  const auto first = sdp_value.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return make_error("fingerprint: empty value; expected e.g. \"sha-256 AB:CD:...\"");
  }
  sdp_value.remove_prefix(first);
  const auto space = sdp_value.find_first_of(" \t");
  if (space == std::string_view::npos) {
    return make_error("fingerprint: no space between hash name and hex digest (RFC 8122 §5)");
  }
  Fingerprint fp;
  fp.algorithm = lower(sdp_value.substr(0, space));
  const EVP_MD* md = digest_for(fp.algorithm);
  if (md == nullptr) {
    return make_error("fingerprint: unsupported hash \"" + fp.algorithm +
                      "\"; use sha-1, sha-256, sha-384 or sha-512");
  }
  std::string_view hex = sdp_value.substr(space);
  hex.remove_prefix(std::min(hex.find_first_not_of(" \t"), hex.size()));
  while (!hex.empty() &&
         (hex.back() == ' ' || hex.back() == '\t' || hex.back() == '\r' || hex.back() == '\n')) {
    hex.remove_suffix(1);
  }
  std::size_t i = 0;
  while (i < hex.size()) {
    if (i + 2 > hex.size()) {
      return make_error("fingerprint: odd number of hex digits");
    }
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return make_error("fingerprint: \"" + std::string(hex.substr(i, 2)) + "\" is not hex");
    }
    fp.digest.push_back(static_cast<uint8_t>(hi * 16 + lo));
    i += 2;
    if (i < hex.size()) {
      if (hex[i] != ':') {
        return make_error("fingerprint: hex pairs must be separated by ':' (RFC 8122 §5)");
      }
      ++i;
      if (i == hex.size()) {
        return make_error("fingerprint: trailing ':'");
      }
    }
  }
  const auto want = static_cast<std::size_t>(EVP_MD_get_size(md));
  if (fp.digest.size() != want) {
    return make_error("fingerprint: " + fp.algorithm + " needs " + std::to_string(want) +
                      " bytes, got " + std::to_string(fp.digest.size()));
  }
  return fp;
}

std::string Fingerprint::to_sdp() const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s = algorithm;
  s.push_back(' ');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    if (i != 0) {
      s.push_back(':');
    }
    s.push_back(kHex[digest[i] >> 4]);
    s.push_back(kHex[digest[i] & 0xf]);
  }
  return s;
}

Result<Fingerprint> fingerprint_of(X509* cert, std::string_view algorithm) {
  if (cert == nullptr) {
    return make_error("fingerprint: no certificate");
  }
  const EVP_MD* md = digest_for(algorithm);
  if (md == nullptr) {
    return make_error("fingerprint: unsupported hash \"" + std::string(algorithm) +
                      "\"; use sha-1, sha-256, sha-384 or sha-512");
  }
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, md, buf, &len) != 1) {
    return make_error("fingerprint: X509_digest failed: " + detail::openssl_errors());
  }
  Fingerprint fp;
  fp.algorithm = lower(algorithm);
  fp.digest.assign(buf, buf + len);
  return fp;
}

void Certificate::X509Free::operator()(X509* p) const noexcept { X509_free(p); }
void Certificate::PkeyFree::operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }

Result<Certificate> Certificate::generate(std::string_view common_name) {
  Certificate c;
  c.key_.reset(EVP_EC_gen("P-256"));
  if (!c.key_) {
    return make_error("certificate: P-256 key generation failed: " + detail::openssl_errors());
  }
  c.cert_.reset(X509_new());
  if (!c.cert_) {
    return make_error("certificate: out of memory");
  }
  X509* x = c.cert_.get();
  // A random positive 127-bit serial (RFC 5280 §4.1.2.2: at most 20 bytes, positive).
  BnPtr serial(BN_new());
  const std::string cn(common_name);
  X509_NAME* name = X509_get_subject_name(x);
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x)) == nullptr ||
      X509_set_version(x, X509_VERSION_3) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(x), -24L * 3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x), 30L * 24 * 3600) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, c.key_.get()) != 1 ||
      X509_sign(x, c.key_.get(), EVP_sha256()) <= 0) {
    return make_error("certificate: building the self-signed certificate failed: " +
                      detail::openssl_errors());
  }
  return c;
}

Result<Certificate> Certificate::from_pem(std::string_view cert_pem, std::string_view key_pem) {
  Certificate c;
  BioPtr cb(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  BioPtr kb(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  if (!cb || !kb) {
    return make_error("certificate: out of memory");
  }
  c.cert_.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!c.cert_) {
    return make_error("certificate: no PEM certificate could be read: " + detail::openssl_errors());
  }
  c.key_.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!c.key_) {
    return make_error(
        "certificate: no PEM private key could be read (encrypted keys are not "
        "supported): " +
        detail::openssl_errors());
  }
  if (X509_check_private_key(c.cert_.get(), c.key_.get()) != 1) {
    ERR_clear_error();
    return make_error("certificate: the private key does not match the certificate");
  }
  return c;
}

Result<Fingerprint> Certificate::fingerprint(std::string_view algorithm) const {
  return fingerprint_of(cert_.get(), algorithm);
}

std::string Certificate::cert_pem() const {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!b || !cert_ || PEM_write_bio_X509(b.get(), cert_.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string Certificate::key_pem() const {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!b || !key_ ||
      PEM_write_bio_PrivateKey(b.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  std::string pem(data, static_cast<std::size_t>(n));
  OPENSSL_cleanse(data, static_cast<std::size_t>(n));
  return pem;
}

}  // namespace srtpgate::hs
