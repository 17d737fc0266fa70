#include "srtpgate/packet.h"

namespace srtpgate::srtp {

std::string_view name(Status s) noexcept {
  switch (s) {
    case Status::ok: return "ok";
    case Status::malformed: return "malformed";
    case Status::auth_failure: return "auth_failure";
    case Status::replay_old: return "replay_old";
    case Status::replay_duplicate: return "replay_duplicate";
    case Status::no_stream: return "no_stream";
    case Status::stream_limit: return "stream_limit";
    case Status::unknown_mki: return "unknown_mki";
    case Status::key_expired: return "key_expired";
    case Status::no_tailroom: return "no_tailroom";
    case Status::count_: break;
  }
  return "unknown";
}

}  // namespace srtpgate::srtp
