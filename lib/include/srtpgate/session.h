// An SRTP session: one direction of one call's media under one set of master keys (RFC 3711 §3.2),
// carrying any number of SSRCs (BUNDLE) up to a cap. Protects or unprotects RTP and RTCP in bursts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <vector>

#include "srtpgate/crypto.h"
#include "srtpgate/master_key.h"
#include "srtpgate/packet.h"
#include "srtpgate/profile.h"
#include "srtpgate/result.h"

namespace srtpgate::srtp {

enum class Direction : uint8_t { outbound, inbound };

struct SessionConfig {
  Profile profile = Profile::aes_cm_128_hmac_sha1_80;
  Direction direction = Direction::outbound;
  // Replay window in packets, 64..32768 (RFC 3711 §3.3.2 asks for at least 64). SRTCP uses the
  // same size.
  uint32_t replay_window = 128;
  // SSRCs this session will track, 1..65536. Memory for them is reserved at creation, so the
  // packet path never allocates; a new SSRC past the cap gets Status::stream_limit.
  uint32_t max_streams = 16;
  // Inbound: a packet from an SSRC that is not yet known creates a stream once it authenticates
  // (libsrtp's ssrc_any_inbound). When false, only SSRCs added with add_stream() are accepted.
  bool accept_new_ssrcs = true;
  // Outbound: allow protecting the same packet index twice (retransmission of the same packet).
  bool allow_repeat_tx = false;
};

// Counters of one session, by outcome. Written only by the thread that runs the session.
// rtp_bytes and rtp[Status::ok] come first: they are all that a packet that succeeds writes,
// and the session keeps them in the cache lines its packets read anyway.
struct SessionStats {
  uint64_t rtp_bytes = 0;   // bytes of packets with Status::ok, as they left the call
  std::array<uint64_t, kStatusCount> rtp{};   // packets by Status
  uint64_t rtcp_bytes = 0;
  std::array<uint64_t, kStatusCount> rtcp{};
  uint64_t streams_created = 0;
};

// How much of one master key's lifetime is used (RFC 3711 §9.2).
struct KeyUsage {
  std::vector<uint8_t> mki;
  uint64_t srtp_packets = 0;
  uint64_t srtp_limit = 0;
  uint64_t srtcp_packets = 0;
  uint64_t srtcp_limit = 0;
  bool active = false;      // outbound: the key that protects now
  bool soft_limit = false;  // less than 1/16 of the lifetime (or 2^16 packets) left: rekey now
  bool expired = false;
};

namespace detail {
struct SessionImpl;
}

class Session {
 public:
  // Processes at most this many packets per internal stage; longer spans are done in chunks.
  static constexpr std::size_t kMaxBurst = 64;

  // Derives the session keys (RFC 3711 §4.3) with the engine's backend. The engine must be used
  // only by the thread that runs this session. Fails on an invalid config or key.
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<crypto::Engine> engine,
                                                 const SessionConfig& config,
                                                 const MasterKey& key);
  // `delete session` (as std::unique_ptr does) destroys the whole session and zeroizes every
  // derived key.
  static void operator delete(Session* session, std::destroying_delete_t) noexcept;
  ~Session() = default;  // nothing: the destroying delete above destroys the session's state
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // --- The batch API. In place; one status per packet; returns how many got Status::ok. ------
  // `status` must be at least as long as `packets`. Never allocates, throws, or reads or writes
  // outside [data, data + capacity). Replay state is committed only for packets that verified.
  std::size_t protect_rtp(std::span<PacketView> packets, std::span<Status> status) noexcept;
  std::size_t unprotect_rtp(std::span<PacketView> packets, std::span<Status> status) noexcept;
  std::size_t protect_rtcp(std::span<PacketView> packets, std::span<Status> status) noexcept;
  std::size_t unprotect_rtcp(std::span<PacketView> packets, std::span<Status> status) noexcept;

  // Bytes protect adds at most (MKI + tag, + 4 for the SRTCP index); the tailroom to leave.
  std::size_t rtp_overhead() const noexcept;
  std::size_t rtcp_overhead() const noexcept;

  // --- Master keys (control path). ---------------------------------------------------------
  // With MKIs, a session holds several master keys: inbound picks one by the packet's MKI;
  // outbound protects with the active one. All keys of a session have MKIs of one length.
  Result<void> add_key(const MasterKey& key);
  Result<void> set_active_key(std::span<const uint8_t> mki);
  Result<void> remove_key(std::span<const uint8_t> mki);
  // Replaces every key with this one. Streams keep their ROC, sequence and replay state, so a
  // rekeyed call continues without a glitch (RFC 3711 §3.3.1: the index is not reset).
  Result<void> rekey(const MasterKey& key);
  std::vector<KeyUsage> key_usage() const;

  // --- Streams (control path). -------------------------------------------------------------
  // Adds a stream for an SSRC ahead of its first packet.
  Result<void> add_stream(uint32_t ssrc);
  // Sets the rollover counter (RFC 3711 §3.3.1) of a stream, creating it if needed; the next
  // packet's sequence number then sets the highest sequence. A call moved between gateways
  // resumes with the ROC read by roc() on the old one.
  Result<void> set_roc(uint32_t ssrc, uint32_t roc);
  std::optional<uint32_t> roc(uint32_t ssrc) const;
  Result<void> remove_stream(uint32_t ssrc);
  std::size_t stream_count() const noexcept;

  // --- Handing a session to the thread that runs it (control path). ----------------------
  // A gateway derives keys on its control thread, with that thread's engine, then gives the
  // session to a worker: this rebinds it to the worker's engine. Fails unless `engine` has the
  // same backend (the expanded keys are shared by engines of one backend on one machine).
  Result<void> bind_engine(std::shared_ptr<crypto::Engine> engine);
  // Exchanges every master key (with its MKI, usage counts and which one is active) with
  // `other`; streams, ROC and replay state stay where they are. This is how a worker applies a
  // rekey prepared on the control thread without deriving or allocating anything: `other`
  // leaves with the old keys, to be destroyed (zeroized) by the control thread. Returns false,
  // changing nothing, unless both sessions have the same profile and backend.
  bool swap_keys(Session& other) noexcept;

  const SessionConfig& config() const noexcept;
  const SessionStats& stats() const noexcept;
  crypto::Backend backend() const noexcept;

 private:
  // The cross-session bursts below run the kernels on each session's inside.
  friend std::size_t protect_rtp_burst(std::span<Session* const> sessions,
                                       std::span<PacketView> packets,
                                       std::span<Status> status) noexcept;
  friend std::size_t unprotect_rtp_burst(std::span<Session* const> sessions,
                                         std::span<PacketView> packets,
                                         std::span<Status> status) noexcept;

  // A Session is the public face of the object that holds its state (detail::SessionImpl, which
  // derives from it): no pointer to follow, so with a million sessions a packet's session costs
  // no cache line of its own.
  friend struct detail::SessionImpl;
  static void* operator new(std::size_t bytes, std::align_val_t alignment);
  static void operator delete(void* p, std::align_val_t alignment) noexcept;  // a failed create
  Session() = default;
  detail::SessionImpl& impl() noexcept;
  const detail::SessionImpl& impl() const noexcept;
};

// --- Bursts across sessions (the fast path of a gateway worker). -----------------------------
// A burst whose packets belong to many sessions: sessions[i] is packet i's session (entries may
// repeat, in any order). Every crypto operation of the burst goes to the backend in one
// submission, so a burst of 32 packets of 32 calls costs about what 32 packets of one call do.
// The outcome of each packet, every session's replay state, streams, key usage and stats are
// exactly those of calling each session's own protect_rtp/unprotect_rtp with its packets in
// burst order. All sessions must be bound to the same engine, and sessions.size() must equal
// packets.size() and be at most status.size(). Returns how many got Status::ok.
std::size_t protect_rtp_burst(std::span<Session* const> sessions, std::span<PacketView> packets,
                              std::span<Status> status) noexcept;
std::size_t unprotect_rtp_burst(std::span<Session* const> sessions, std::span<PacketView> packets,
                                std::span<Status> status) noexcept;

}  // namespace srtpgate::srtp
