// What the batch API works on: views of packets in caller-owned buffers, and per-packet results.
#pragma once

#include <cstdint>
#include <string_view>

namespace srtpgate::srtp {

// A packet in a caller-owned buffer. Protect and unprotect work in place: `len` is updated to the
// new length; `capacity` bounds how far the packet may grow (protect needs tailroom for the tag
// and the MKI: see Session::max_overhead()). Never owned by the library.
struct PacketView {
  uint8_t* data = nullptr;
  uint32_t len = 0;
  uint32_t capacity = 0;
};

// The outcome for one packet. Everything but `ok` means the packet must be dropped; its bytes
// are then unspecified (an AEAD open may have decrypted the payload before the tag check).
enum class Status : uint8_t {
  ok = 0,
  malformed,         // too short, bad version, lengths that do not add up
  auth_failure,      // the tag did not verify
  replay_old,        // older than the replay window
  replay_duplicate,  // inside the window and already seen
  no_stream,         // unknown SSRC on a session that takes only configured SSRCs
  stream_limit,      // a new SSRC would exceed the session's stream cap
  unknown_mki,       // the MKI names no key of this session
  key_expired,       // the master key's packet lifetime is used up (RFC 3711 §9.2)
  no_tailroom,       // protect: the buffer has no room for the tag (and MKI)
  count_            // number of statuses; not a status
};

inline constexpr std::size_t kStatusCount = static_cast<std::size_t>(Status::count_);

std::string_view name(Status s) noexcept;

}  // namespace srtpgate::srtp
