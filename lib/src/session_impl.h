// The inside of srtp::Session: derived keys, streams, counters. Internal to lib/.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <vector>

#include "engine.h"
#include "srtpgate/session.h"
#include "stream_table.h"

namespace srtpgate::srtp::detail {

// Session keys derived from one master key (RFC 3711 §4.3), in the backend's expanded form,
// and how much of its lifetime is used (RFC 3711 §9.2). What an SRTP packet reads and writes
// (the SRTP key, salt, limit and count) comes first, in one cache line: with a million sessions
// every line a packet touches is a miss, and from this line the burst prefetches the expanded
// key's hot bytes directly (session.cc).
struct alignas(64) DerivedKey {
  std::unique_ptr<crypto::KeyContext> rtp;
  std::array<uint8_t, 16> rtp_salt{};  // 14 bytes (AES-CM) or 12 (GCM) used; the rest zero
  uint64_t srtp_limit = 0;
  uint64_t srtp_packets = 0;
  crypto::KeyContext::HotBytes rtp_hot;  // rtp->hot()
  // Line 2: the MKI (read only when the session has MKIs) and SRTCP, a few packets per second.
  std::vector<uint8_t> mki;
  std::unique_ptr<crypto::KeyContext> rtcp;
  std::array<uint8_t, 16> rtcp_salt{};
  uint64_t srtcp_limit = 0;
  uint64_t srtcp_packets = 0;

  DerivedKey() = default;
  DerivedKey(const DerivedKey&) = delete;
  DerivedKey& operator=(const DerivedKey&) = delete;
  ~DerivedKey();
};
static_assert(offsetof(DerivedKey, rtp_hot) + sizeof(crypto::KeyContext::HotBytes) <= 64,
              "an SRTP packet's part of a key must fit one cache line");

// Laid out for the burst across many sessions: everything a packet reads, and the two counters
// a successful packet writes, sit in the first kSessionHotBytes (two cache lines); then the
// rest of the counters and what only set-up, tear-down and packets with an MKI use.
// session.cc prefetches the hot lines.
struct alignas(64) SessionImpl final : Session {
  SessionImpl(std::shared_ptr<crypto::Engine> e, const SessionConfig& c, uint64_t seed)
      : engine(e.get()),
        config(c),
        pp(params(c.profile)),
        streams(c.max_streams, c.replay_window, seed),
        engine_owner(std::move(e)) {}
  // The keys' contexts were made by the engine: they go before it, whatever the member order
  // (the layout above puts the engine's owner last, and members die last first).
  ~SessionImpl() { keys.clear(); }
  SessionImpl(const SessionImpl&) = delete;
  SessionImpl& operator=(const SessionImpl&) = delete;

  crypto::Engine* engine;
  SessionConfig config;
  ProfileParams pp;
  StreamTable streams;
  // keys[active]: a packet reaches its key without loading the key list, one dependent cache
  // miss fewer with a million sessions (the list is read by packets with an MKI only).
  DerivedKey* active_key = nullptr;
  std::size_t mki_len = 0;
  // SessionStats starts with rtp_bytes and rtp[Status::ok], which every packet that succeeds
  // writes: they end the hot lines (asserted below). The other counters, written by failures
  // and RTCP, spill into the next lines.
  SessionStats stats;
  // keys[0..n): at most kMaxKeys; `active` protects outbound; inbound without MKI uses active.
  // Only set_active() changes `active` and `active_key`.
  std::vector<std::unique_ptr<DerivedKey>> keys;
  uint32_t active = 0;
  std::shared_ptr<crypto::Engine> engine_owner;

  static constexpr std::size_t kMaxKeys = 16;

  void set_active(uint32_t i) noexcept {
    active = i;
    active_key = keys[i].get();
  }

  // Finds the key named by an MKI in a packet; nullptr if none.
  DerivedKey* key_by_mki(const uint8_t* mki) noexcept {
    for (auto& k : keys) {
      bool same = true;
      for (std::size_t i = 0; i < mki_len; ++i) {
        same &= k->mki[i] == mki[i];
      }
      if (same) {
        return k.get();
      }
    }
    return nullptr;
  }

  Result<std::unique_ptr<DerivedKey>> derive(const MasterKey& key) const;
};
inline constexpr std::size_t kSessionHotBytes = 128;
static_assert(static_cast<std::size_t>(Status::ok) == 0 &&
                  offsetof(SessionImpl, stats) + offsetof(SessionStats, rtp) + sizeof(uint64_t) <=
                      kSessionHotBytes,
              "a packet's part of a session, and the counters it writes, must fit two lines");

// Burst kernels, one chunk of at most Session::kMaxBurst packets each.
std::size_t protect_rtp_chunk(SessionImpl& s, std::span<PacketView> pkts,
                              std::span<Status> st) noexcept;
std::size_t unprotect_rtp_chunk(SessionImpl& s, std::span<PacketView> pkts,
                                std::span<Status> st) noexcept;
// The same kernels over a burst of many sessions: packet i is sessions[i]'s (see
// protect_rtp_burst). They update everything per session except stats.rtp, which the caller
// counts per packet as it does for one session.
std::size_t protect_rtp_multi_chunk(SessionImpl* const* sessions, std::span<PacketView> pkts,
                                    std::span<Status> st) noexcept;
std::size_t unprotect_rtp_multi_chunk(SessionImpl* const* sessions, std::span<PacketView> pkts,
                                      std::span<Status> st) noexcept;
std::size_t protect_rtcp_chunk(SessionImpl& s, std::span<PacketView> pkts,
                               std::span<Status> st) noexcept;
std::size_t unprotect_rtcp_chunk(SessionImpl& s, std::span<PacketView> pkts,
                                 std::span<Status> st) noexcept;

}  // namespace srtpgate::srtp::detail
