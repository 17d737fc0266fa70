// The control protocol: one JSON request per line in, one JSON response per line out
// (docs/control.md). Pure: no sockets, no DPDK; the daemon feeds it lines from its Unix socket.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "session_service.h"

namespace srtpgate::app {

// The longest request line accepted, newline excluded; a longer one gets an error response.
// A transport may stop reading a line at this size plus one and hand over what it has.
inline constexpr std::size_t kMaxRequestBytes = std::size_t{64} * 1024;
// The deepest nesting of objects and arrays accepted in a request (the real ones nest three
// deep); a deeper one is refused before it is parsed, so nothing that walks it recurses far.
inline constexpr std::size_t kMaxRequestDepth = 32;

// Handles one request line and returns one response line (without the trailing newline).
// A malformed or invalid request gets {"ok":false,"error":"..."} naming the problem and changes
// nothing. Never throws; never puts key material in a response.
std::string handle_request(SessionService& service, std::string_view line);

}  // namespace srtpgate::app
