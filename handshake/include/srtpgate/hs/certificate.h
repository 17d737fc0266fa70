// Certificates for DTLS-SRTP and their fingerprints in the SDP form of RFC 8122 §5.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "srtpgate/result.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace srtpgate::hs {

// "sha-256 AB:CD:..." (RFC 8122 §5: hash function name, space, upper-case hex pairs with ':').
struct Fingerprint {
  std::string algorithm;  // "sha-1", "sha-256", "sha-384" or "sha-512"
  std::vector<uint8_t> digest;

  // Accepts the a=fingerprint value (algorithm case-insensitive, hex in either case).
  static Result<Fingerprint> parse(std::string_view sdp_value);
  std::string to_sdp() const;
  bool operator==(const Fingerprint&) const = default;
};

// Digest of the DER form of `cert` with the named hash (RFC 8122 §5).
Result<Fingerprint> fingerprint_of(X509* cert, std::string_view algorithm);

// An X.509 certificate and its private key. Move-only; the key is freed (and cleansed by
// OpenSSL) with the object.
class Certificate {
 public:
  // ECDSA P-256, self-signed, valid from a day ago for 30 days, random serial.
  static Result<Certificate> generate(std::string_view common_name = "srtpgate");
  static Result<Certificate> from_pem(std::string_view cert_pem, std::string_view key_pem);

  Result<Fingerprint> fingerprint(std::string_view algorithm = "sha-256") const;
  X509* x509() const noexcept { return cert_.get(); }
  EVP_PKEY* key() const noexcept { return key_.get(); }
  std::string cert_pem() const;
  // The private key as unencrypted PKCS#8 PEM, for handing to a test peer. Never log it.
  std::string key_pem() const;

 private:
  struct X509Free {
    void operator()(X509* p) const noexcept;
  };
  struct PkeyFree {
    void operator()(EVP_PKEY* p) const noexcept;
  };
  std::unique_ptr<X509, X509Free> cert_;
  std::unique_ptr<EVP_PKEY, PkeyFree> key_;
};

}  // namespace srtpgate::hs
