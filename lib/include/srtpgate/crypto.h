// The crypto engine a thread uses: Intel IPsec-MB (the fast path) or OpenSSL EVP (the reference).
#pragma once

#include <memory>
#include <string_view>

#include "srtpgate/result.h"

namespace srtpgate::crypto {

enum class Backend : uint8_t { ipsecmb, openssl };

std::string_view name(Backend b) noexcept;

class Engine;

// An engine belongs to one thread at a time (it owns the IPsec-MB job managers or the OpenSSL
// cipher contexts' scratch). Create one per worker; sessions created with it are used on that
// thread. Fails if the CPU lacks what the backend needs (AES-NI for IPsec-MB).
Result<std::shared_ptr<Engine>> make_engine(Backend backend);

}  // namespace srtpgate::crypto
