// Per-SSRC stream state of one session and the SSRC index over it. All memory is reserved at
// creation; lookups, inserts and removals never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

#include "prefetch.h"
#include "replay_window.h"

namespace srtpgate::srtp::detail {

// A stream's SRTP state. Its replay window's words follow it in the same record
// (StreamTable), so with the default 128-packet window an SRTP packet reads one cache line of
// stream state: 32 bytes here, 32 of window.
struct Stream {
  uint32_t ssrc = 0;
  // set_roc() before the first packet: the ROC to assume until a packet sets the index.
  uint32_t preset_roc = 0;
  // The window's top is the highest packet index i = 2^16 * ROC + SEQ (RFC 3711 §3.3.1).
  ReplayWindow rtp;
};
// Each state takes this many bytes at the head of its record; its window's words follow.
inline constexpr std::size_t kStreamStateBytes = 32;
static_assert(sizeof(Stream) == kStreamStateBytes,
              "a stream's SRTP state and a 128-packet window share a line");

// A stream's SRTCP state, in a record of its own beside the SRTP one (a few RTCP packets a
// second per call read it).
struct RtcpStream {
  // Inbound: the highest received SRTCP index ...
  ReplayWindow window;
  // ... outbound: the next index to send (RFC 3711 §3.3.2: starts at 0, 31 bits).
  uint32_t next_index = 0;
};
static_assert(sizeof(RtcpStream) <= kStreamStateBytes);
// Records are reused without running destructors (StreamTable).
static_assert(std::is_trivially_destructible_v<Stream> &&
              std::is_trivially_destructible_v<RtcpStream>);

class StreamTable {
 public:
  StreamTable(uint32_t max_streams, uint32_t replay_window, uint64_t hash_seed);

  // The stream of `ssrc`, or nullptr. A session's packets mostly come from one SSRC: the stream
  // found last is checked first, without reading the slots (a cache line fewer per packet
  // across a million sessions).
  Stream* find(uint32_t ssrc) noexcept {
    if (const uint32_t recent = recent_for(ssrc); recent != 0) {
      return stream_at(recent - 1);
    }
    const uint32_t idx = find_slot(ssrc);
    if (idx != 0) {
      recent_ssrc_ = ssrc;
      recent_plus_one_ = idx;
      return stream_at(idx - 1);
    }
    return nullptr;
  }
  const Stream* find(uint32_t ssrc) const noexcept {
    const uint32_t idx = find_slot(ssrc);
    return idx != 0 ? stream_at(idx - 1) : nullptr;
  }
  // The SRTCP record beside a stream.
  RtcpStream& rtcp(Stream& s) noexcept {
    std::byte* srtcp_half = reinterpret_cast<std::byte*>(&s) + half_;
    return *std::launder(reinterpret_cast<RtcpStream*>(srtcp_half));
  }
  const RtcpStream& rtcp(const Stream& s) const noexcept {
    return const_cast<StreamTable*>(this)->rtcp(const_cast<Stream&>(s));
  }
  bool full() const noexcept { return free_count_ == 0; }
  // Two stages of the prefetching that bursts across many sessions do (session.cc): the
  // stream found last if it is the SSRC's, or else the slot the SSRC hashes to; then, once
  // that slot has arrived, the line with the stream it names and (up to a 192-packet window)
  // all of its SRTP replay window. Only the home slot is looked at: a prefetch may miss,
  // never mislead.
  void prefetch_slot(uint32_t ssrc) const noexcept {
    if (const uint32_t recent = recent_for(ssrc); recent != 0) {
      srtpgate::detail::prefetch_line(record(recent - 1));
    } else {
      srtpgate::detail::prefetch_line(&slots_[home(ssrc)]);
    }
  }
  void prefetch_stream(uint32_t ssrc) const noexcept {
    if (recent_for(ssrc) != 0) {
      return;  // started by prefetch_slot
    }
    const Slot& slot = slots_[home(ssrc)];
    if (slot.stream_plus_one != 0 && slot.ssrc == ssrc) {
      srtpgate::detail::prefetch_line(record(slot.stream_plus_one - 1));
    }
  }
  // nullptr when full. The stream starts with empty windows.
  Stream* insert(uint32_t ssrc) noexcept;
  bool remove(uint32_t ssrc) noexcept;
  uint32_t size() const noexcept { return size_; }

 private:
  struct Slot {
    uint32_t ssrc = 0;
    uint32_t stream_plus_one = 0;  // 0: empty
  };
  // The stream found last, as its index plus one, if it is `ssrc`'s; else 0.
  uint32_t recent_for(uint32_t ssrc) const noexcept {
    return recent_ssrc_ == ssrc ? recent_plus_one_ : 0;
  }
  // The stream index plus one of `ssrc`'s slot; 0 when it has none.
  uint32_t find_slot(uint32_t ssrc) const noexcept {
    uint32_t slot = home(ssrc);
    for (;;) {
      const uint32_t idx = slots_[slot].stream_plus_one;
      if (idx == 0 || slots_[slot].ssrc == ssrc) {
        return idx;
      }
      slot = (slot + 1) & slot_mask_;
    }
  }
  uint32_t home(uint32_t ssrc) const noexcept {
    // Multiplicative hash with a per-session odd multiplier, so a peer cannot aim collisions.
    return static_cast<uint32_t>((uint64_t{ssrc} * seed_) >> 32) & slot_mask_;
  }

  // One line of records: the storage is new[]'d in these, so that every record is aligned.
  struct alignas(64) Line {
    std::byte bytes[64];
  };
  std::byte* record(std::size_t idx) const noexcept {
    return reinterpret_cast<std::byte*>(records_.get()) + idx * 2 * half_;
  }
  Stream* stream_at(std::size_t idx) const noexcept {
    return std::launder(reinterpret_cast<Stream*>(record(idx)));
  }

  // What a packet reads, in 40 bytes (plain arrays: a vector's size is not needed), so that
  // the session's part a packet reads fits two cache lines (session_impl.h).
  std::unique_ptr<Slot[]> slots_;
  // Stream i: the Stream and its SRTP window words in `half_` bytes (a multiple of 64), then
  // the RtcpStream and its SRTCP window words in as many.
  std::unique_ptr<Line[]> records_;
  uint64_t seed_;
  uint32_t half_;
  uint32_t slot_mask_;
  // The stream found last: its SSRC and index plus one (0: none).
  uint32_t recent_ssrc_ = 0;
  uint32_t recent_plus_one_ = 0;
  std::unique_ptr<uint32_t[]> free_;  // free stream indices, used as a stack
  uint32_t free_count_ = 0;
  uint32_t size_ = 0;
};

}  // namespace srtpgate::srtp::detail
