#include "stream_table.h"

#include <bit>
#include <new>

namespace srtpgate::srtp::detail {

namespace {

// Bytes of one half of a stream's record: the state, then its window's words, in whole lines.
uint32_t half_record_bytes(uint32_t replay_window) {
  const uint32_t bytes = kStreamStateBytes + ReplayWindow::words_for(replay_window) * 8;
  return (bytes + 63) / 64 * 64;
}

}  // namespace

StreamTable::StreamTable(uint32_t max_streams, uint32_t replay_window, uint64_t hash_seed)
    : slots_(std::make_unique<Slot[]>(std::bit_ceil(max_streams * 2u))),
      records_(std::make_unique<Line[]>(std::size_t{max_streams} * 2 *
                                        half_record_bytes(replay_window) / 64)),
      seed_(hash_seed | 1),
      half_(half_record_bytes(replay_window)),
      slot_mask_(std::bit_ceil(max_streams * 2u) - 1),
      free_(std::make_unique<uint32_t[]>(max_streams)) {
  for (uint32_t i = 0; i < max_streams; ++i) {
    std::byte* srtp = record(i);
    std::byte* srtcp = srtp + half_;
    auto* s = new (srtp) Stream{};
    auto* r = new (srtcp) RtcpStream{};
    s->rtp.attach(reinterpret_cast<uint64_t*>(srtp + kStreamStateBytes), replay_window);
    r->window.attach(reinterpret_cast<uint64_t*>(srtcp + kStreamStateBytes), replay_window);
    free_[free_count_++] = max_streams - 1 - i;
  }
}

Stream* StreamTable::insert(uint32_t ssrc) noexcept {
  if (free_count_ == 0) {
    return nullptr;
  }
  const uint32_t idx = free_[--free_count_];
  Stream& s = *stream_at(idx);
  s.ssrc = ssrc;
  s.preset_roc = 0;
  s.rtp.reset();
  rtcp(s).next_index = 0;
  rtcp(s).window.reset();
  uint32_t slot = home(ssrc);
  while (slots_[slot].stream_plus_one != 0) {
    slot = (slot + 1) & slot_mask_;
  }
  slots_[slot] = Slot{ssrc, idx + 1};
  recent_ssrc_ = ssrc;
  recent_plus_one_ = idx + 1;
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
  stream_at(idx)->rtp.reset();
  rtcp(*stream_at(idx)).window.reset();
  free_[free_count_++] = idx;
  if (recent_plus_one_ == idx + 1) {
    recent_plus_one_ = 0;
  }
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
