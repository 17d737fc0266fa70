#include "stream_table.h"

#include <bit>

namespace srtpgate::srtp::detail {

StreamTable::StreamTable(uint32_t max_streams, uint32_t replay_window, uint64_t hash_seed)
    : slots_(std::make_unique<Slot[]>(std::bit_ceil(max_streams * 2u))),
      streams_(std::make_unique<Stream[]>(max_streams)),
      window_words_(std::make_unique<uint64_t[]>(
          std::size_t{max_streams} * ReplayWindow::words_for(replay_window) * 2)),
      seed_(hash_seed | 1),
      words_per_stream_(ReplayWindow::words_for(replay_window) * 2),
      slot_mask_(std::bit_ceil(max_streams * 2u) - 1) {
  const uint32_t words = ReplayWindow::words_for(replay_window);
  free_.reserve(max_streams);
  for (uint32_t i = 0; i < max_streams; ++i) {
    uint64_t* base = window_words_.get() + std::size_t{i} * words * 2;
    streams_[i].rtp.attach(base, replay_window);
    streams_[i].rtcp.attach(base + words, replay_window);
    free_.push_back(max_streams - 1 - i);
  }
}

Stream* StreamTable::insert(uint32_t ssrc) noexcept {
  if (free_.empty()) {
    return nullptr;
  }
  const uint32_t idx = free_.back();
  free_.pop_back();  // no allocation: capacity was reserved
  Stream& s = streams_[idx];
  s.ssrc = ssrc;
  s.roc_preset = false;
  s.preset_roc = 0;
  s.rtcp_next_index = 0;
  s.rtp.reset();
  s.rtcp.reset();
  uint32_t slot = home(ssrc);
  while (slots_[slot].stream_plus_one != 0) {
    slot = (slot + 1) & slot_mask_;
  }
  slots_[slot] = Slot{ssrc, idx + 1};
  ++size_;
  return &s;
}

bool StreamTable::remove(uint32_t ssrc) noexcept {
  uint32_t slot = home(ssrc);
  for (;;) {
    if (slots_[slot].stream_plus_one == 0) {
      return false;
    }
    if (slots_[slot].ssrc == ssrc) {
      break;
    }
    slot = (slot + 1) & slot_mask_;
  }
  const uint32_t idx = slots_[slot].stream_plus_one - 1;
  streams_[idx].rtp.reset();
  streams_[idx].rtcp.reset();
  free_.push_back(idx);
  --size_;
  // Backward-shift deletion keeps linear probing free of tombstones.
  uint32_t hole = slot;
  uint32_t next = (slot + 1) & slot_mask_;
  while (slots_[next].stream_plus_one != 0) {
    const uint32_t want = home(slots_[next].ssrc);
    // Move `next` into the hole if its home is not cyclically in (hole, next].
    const bool stays = ((next - want) & slot_mask_) < ((next - hole) & slot_mask_);
    if (!stays) {
      slots_[hole] = slots_[next];
      hole = next;
    }
    next = (next + 1) & slot_mask_;
  }
  slots_[hole] = Slot{};
  return true;
}

}  // namespace srtpgate::srtp::detail
