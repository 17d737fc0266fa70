#include "engine.h"

namespace srtpgate::crypto {

std::string_view name(Backend b) noexcept {
  switch (b) {
    case Backend::ipsecmb: return "ipsecmb";
    case Backend::openssl: return "openssl";
  }
  return "unknown";
}

Result<std::shared_ptr<Engine>> make_engine(Backend backend) {
  return backend == Backend::ipsecmb ? make_ipsecmb_engine() : make_openssl_engine();
}

}  // namespace srtpgate::crypto
