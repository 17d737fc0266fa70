// Per-SSRC stream state of one session and the SSRC index over it. All memory is reserved at
// creation; lookups, inserts and removals never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "prefetch.h"
#include "replay_window.h"

namespace srtpgate::srtp::detail {

// An SRTP packet reads the fields up to `rtcp` (prefetch_stream relies on the order).
struct Stream {
  uint32_t ssrc = 0;
  // set_roc() before the first packet: the ROC to assume until a packet sets the sequence.
  bool roc_preset = false;
  uint32_t preset_roc = 0;
  // SRTP: the window's top is the highest packet index i = 2^16 * ROC + SEQ (RFC 3711 §3.3.1).
  ReplayWindow rtp;
  // SRTCP: the highest received SRTCP index (inbound) ...
  ReplayWindow rtcp;
  // ... and the next index to send (outbound, RFC 3711 §3.3.2: starts at 0, 31 bits).
  uint32_t rtcp_next_index = 0;
};

class StreamTable {
 public:
  StreamTable(uint32_t max_streams, uint32_t replay_window, uint64_t hash_seed);

  Stream* find(uint32_t ssrc) noexcept {
    uint32_t slot = home(ssrc);
    for (;;) {
      const uint32_t idx = slots_[slot].stream_plus_one;
      if (idx == 0) {
        return nullptr;
      }
      if (slots_[slot].ssrc == ssrc) {
        return &streams_[idx - 1];
      }
      slot = (slot + 1) & slot_mask_;
    }
  }
  const Stream* find(uint32_t ssrc) const noexcept {
    return const_cast<StreamTable*>(this)->find(ssrc);
  }
  bool full() const noexcept { return free_.empty(); }
  // Two stages of the prefetching that bursts across many sessions do (session.cc): the slot
  // an SSRC hashes to; then, once that slot has arrived, the stream it names and the stream's
  // SRTP replay window. Only the home slot is looked at: a prefetch may miss, never mislead.
  void prefetch_slot(uint32_t ssrc) const noexcept {
    srtpgate::detail::prefetch_line(&slots_[home(ssrc)]);
  }
  void prefetch_stream(uint32_t ssrc) const noexcept {
    const Slot& slot = slots_[home(ssrc)];
    if (slot.stream_plus_one != 0 && slot.ssrc == ssrc) {
      const std::size_t idx = slot.stream_plus_one - 1;
      srtpgate::detail::prefetch_line(&streams_[idx]);
      const auto* stream = reinterpret_cast<const uint8_t*>(&streams_[idx]);
      srtpgate::detail::prefetch_line(stream + offsetof(Stream, rtcp) - 1);  // SRTP's part
      srtpgate::detail::prefetch_line(window_words_.get() + idx * words_per_stream_);
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
  uint32_t home(uint32_t ssrc) const noexcept {
    // Multiplicative hash with a per-session odd multiplier, so a peer cannot aim collisions.
    return static_cast<uint32_t>((uint64_t{ssrc} * seed_) >> 32) & slot_mask_;
  }

  // What a packet reads first, in 40 bytes (plain arrays: a vector's size is not needed), so
  // that the session's part a packet reads fits two cache lines (session_impl.h).
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<Stream[]> streams_;
  std::unique_ptr<uint64_t[]> window_words_;
  uint64_t seed_;
  uint32_t words_per_stream_;  // SRTP and SRTCP windows
  uint32_t slot_mask_;
  std::vector<uint32_t> free_;  // free stream indices, used as a stack
  uint32_t size_ = 0;
};

}  // namespace srtpgate::srtp::detail
