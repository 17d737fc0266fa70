// Session set-up and the control-path operations; the burst kernels are in srtp_burst.cc and
// srtcp_burst.cc.
#include <openssl/rand.h>

#include <algorithm>
#include <string>

#include "byte_order.h"
#include "kdf.h"
#include "prefetch.h"
#include "session_impl.h"
#include "srtpgate/secret.h"

namespace srtpgate::srtp {

namespace detail {

DerivedKey::~DerivedKey() {
  secure_zero(rtp_salt.data(), rtp_salt.size());
  secure_zero(rtcp_salt.data(), rtcp_salt.size());
}

Result<std::unique_ptr<DerivedKey>> SessionImpl::derive(const MasterKey& key) const {
  auto checked = MasterKey::from_bytes(config.profile, key.key.span(), key.salt.span());
  if (!checked) {
    return checked.error();
  }
  if (key.mki.size() > kMaxMkiLen) {
    return make_error("MKI longer than " + std::to_string(kMaxMkiLen) + " bytes");
  }
  auto dk = std::make_unique<DerivedKey>();
  dk->mki = key.mki;
  dk->srtp_limit = std::min(key.lifetime, kMaxSrtpLifetime);
  dk->srtcp_limit = std::min(key.lifetime, kMaxSrtcpLifetime);

  // RFC 3711 §4.3.2 labels; RFC 7714 §11 for GCM (no auth key, 12-byte salt).
  SecretBytes<32> enc;
  SecretBytes<20> auth;
  std::array<uint8_t, 32> buf{};
  auto make = [&](KdfLabel enc_label, KdfLabel auth_label, KdfLabel salt_label,
                  std::array<uint8_t, 16>& salt) -> std::unique_ptr<crypto::KeyContext> {
    derive_key(*engine, key.key.span(), key.salt.span(), enc_label,
               std::span<uint8_t>(buf.data(), pp.master_key_len));
    enc.assign(std::span<const uint8_t>(buf.data(), pp.master_key_len));
    derive_key(*engine, key.key.span(), key.salt.span(), salt_label,
               std::span<uint8_t>(salt.data(), pp.session_salt_len));
    if (pp.aead) {
      return engine->make_gcm_key(enc.span());
    }
    derive_key(*engine, key.key.span(), key.salt.span(), auth_label,
               std::span<uint8_t>(buf.data(), pp.auth_key_len));
    auth.assign(std::span<const uint8_t>(buf.data(), pp.auth_key_len));
    return engine->make_ctr_hmac_key(enc.span(), auth.span());
  };
  dk->rtp = make(KdfLabel::rtp_encryption, KdfLabel::rtp_auth, KdfLabel::rtp_salt, dk->rtp_salt);
  dk->rtcp =
      make(KdfLabel::rtcp_encryption, KdfLabel::rtcp_auth, KdfLabel::rtcp_salt, dk->rtcp_salt);
  secure_zero(buf.data(), buf.size());
  if (dk->rtp) {
    dk->rtp_hot = dk->rtp->hot();
  }
  if (!dk->rtp || !dk->rtcp) {
    return make_error("the crypto backend could not set up the session keys");
  }
  return dk;
}

}  // namespace detail

using detail::SessionImpl;

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<crypto::Engine> engine,
                                                 const SessionConfig& config,
                                                 const MasterKey& key) {
  if (!engine) {
    return make_error("no crypto engine given");
  }
  if (config.replay_window < 64 || config.replay_window > 32768) {
    return make_error("replay_window must be 64..32768 packets, got " +
                      std::to_string(config.replay_window));
  }
  if (config.max_streams < 1 || config.max_streams > 65536) {
    return make_error("max_streams must be 1..65536, got " + std::to_string(config.max_streams));
  }
  uint64_t seed = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) {
    return make_error("no randomness for the SSRC table seed");
  }
  std::unique_ptr<Session> session(new SessionImpl(std::move(engine), config, seed));
  SessionImpl& impl = session->impl();
  auto dk = impl.derive(key);
  if (!dk) {
    return dk.error();
  }
  impl.mki_len = key.mki.size();
  impl.keys.push_back(std::move(dk.value()));
  impl.set_active(0);
  return session;
}

// Sessions are SessionImpl objects, over-aligned (cache lines, see its layout), made by
// create() only and freed the way they were allocated.
void* Session::operator new(std::size_t bytes, std::align_val_t alignment) {
  return ::operator new(bytes, alignment);
}
void Session::operator delete(void* p, std::align_val_t alignment) noexcept {
  ::operator delete(p, alignment);
}
void Session::operator delete(Session* session, std::destroying_delete_t) noexcept {
  SessionImpl* impl = &session->impl();
  impl->~SessionImpl();
  ::operator delete(impl, std::align_val_t{alignof(SessionImpl)});
}

SessionImpl& Session::impl() noexcept { return static_cast<SessionImpl&>(*this); }
const SessionImpl& Session::impl() const noexcept {
  return static_cast<const SessionImpl&>(*this);
}

namespace {

template <typename Chunk>
std::size_t run_chunks(SessionImpl& s, std::span<PacketView> pkts, std::span<Status> st,
                       Chunk chunk, std::array<uint64_t, kStatusCount>& counters) noexcept {
  std::size_t ok = 0;
  const std::size_t n = std::min(pkts.size(), st.size());
  for (std::size_t off = 0; off < n; off += Session::kMaxBurst) {
    const std::size_t m = std::min(Session::kMaxBurst, n - off);
    const std::size_t chunk_ok = chunk(s, pkts.subspan(off, m), st.subspan(off, m));
    ok += chunk_ok;
    // Successes in one add; failures one by one (rare, and no chain of increments on one
    // counter in the common case).
    counters[static_cast<std::size_t>(Status::ok)] += chunk_ok;
    if (chunk_ok != m) {
      for (std::size_t i = off; i < off + m; ++i) {
        if (st[i] != Status::ok) {
          ++counters[static_cast<std::size_t>(st[i])];
        }
      }
    }
  }
  return ok;
}

// Bursts across many sessions: a packet's session state is a chain of dependent loads (the
// session, its active key and stream slot, the stream and the key's expanded form), and
// with a million sessions every link is a cache miss. Walking the chunk once per link, starting
// every packet's load before the first one is needed, overlaps the misses of all packets instead
// of paying them one after another (the staged prefetching of VPP's nodes and of rte_hash's bulk
// lookup). Only loads are started; nothing is decided here.
void prefetch_session_state(SessionImpl* const* impls, std::span<const PacketView> pkts) noexcept {
  const std::size_t m = pkts.size();
  uint32_t ssrc[Session::kMaxBurst];
  // Stage 1: the sessions themselves: the lines a packet reads (profile, configuration, stream
  // table, keys) and writes (its counters); not the rest (session_impl.h).
  for (std::size_t i = 0; i < m; ++i) {
    if (i != 0 && impls[i] == impls[i - 1]) {
      continue;
    }
    const auto* impl = reinterpret_cast<const uint8_t*>(impls[i]);
    for (std::size_t off = 0; off < detail::kSessionHotBytes; off += 64) {
      srtpgate::detail::prefetch_line(impl + off);
    }
  }
  // Stage 2: the active key's SRTP line, and the slot the packet's SSRC hashes to (RFC 3550
  // §5.1: bytes 8..11 of the header; a packet too short for it is rejected later, whatever is
  // prefetched).
  for (std::size_t i = 0; i < m; ++i) {
    ssrc[i] = pkts[i].len >= 12 && pkts[i].capacity >= 12 ? load_be32(pkts[i].data + 8) : 0;
    impls[i]->streams.prefetch_slot(ssrc[i]);
    srtpgate::detail::prefetch_line(impls[i]->active_key);
  }
  // Stage 3: the stream with its replay window, and the bytes of the key's expanded form that a
  // packet reads (named in the key's SRTP line, engine.h).
  for (std::size_t i = 0; i < m; ++i) {
    SessionImpl& s = *impls[i];
    s.streams.prefetch_stream(ssrc[i]);
    crypto::prefetch(s.active_key->rtp_hot);
  }
}

// Bursts across sessions: the same chunking and counting as run_chunks, with each packet
// counted in its own session's stats. A chunk whose packets all belong to one session (one call
// with a busy stream, or a gateway's only call) takes the single-session kernel, which hoists
// the session's values out of the loop; the result is the same either way.
template <typename Chunk, typename OneChunk, typename ImplOf>
std::size_t run_multi_chunks(std::span<Session* const> sessions, std::span<PacketView> pkts,
                             std::span<Status> st, Chunk chunk, OneChunk one_session,
                             ImplOf impl) noexcept {
  std::size_t ok = 0;
  const std::size_t n = std::min({sessions.size(), pkts.size(), st.size()});
  SessionImpl* impls[Session::kMaxBurst];
  for (std::size_t off = 0; off < n; off += Session::kMaxBurst) {
    const std::size_t m = std::min(Session::kMaxBurst, n - off);
    bool uniform = true;
    for (std::size_t i = 0; i < m; ++i) {
      impls[i] = impl(sessions[off + i]);
      uniform &= impls[i] == impls[0];
    }
    const auto p = pkts.subspan(off, m);
    const auto s = st.subspan(off, m);
    if (!uniform) {
      prefetch_session_state(impls, p);
    }
    if (uniform) {
      const std::size_t chunk_ok = one_session(*impls[0], p, s);
      ok += chunk_ok;
      auto& counters = impls[0]->stats.rtp;
      counters[static_cast<std::size_t>(Status::ok)] += chunk_ok;
      if (chunk_ok != m) {
        for (std::size_t i = 0; i < m; ++i) {
          if (s[i] != Status::ok) {
            ++counters[static_cast<std::size_t>(s[i])];
          }
        }
      }
      continue;
    }
    ok += chunk(impls, p, s);
    for (std::size_t i = 0; i < m; ++i) {
      ++impls[i]->stats.rtp[static_cast<std::size_t>(s[i])];
    }
  }
  return ok;
}

}  // namespace

std::size_t Session::protect_rtp(std::span<PacketView> p, std::span<Status> st) noexcept {
  return run_chunks(impl(), p, st, detail::protect_rtp_chunk, impl().stats.rtp);
}
std::size_t Session::unprotect_rtp(std::span<PacketView> p, std::span<Status> st) noexcept {
  return run_chunks(impl(), p, st, detail::unprotect_rtp_chunk, impl().stats.rtp);
}
std::size_t Session::protect_rtcp(std::span<PacketView> p, std::span<Status> st) noexcept {
  return run_chunks(impl(), p, st, detail::protect_rtcp_chunk, impl().stats.rtcp);
}
std::size_t Session::unprotect_rtcp(std::span<PacketView> p, std::span<Status> st) noexcept {
  return run_chunks(impl(), p, st, detail::unprotect_rtcp_chunk, impl().stats.rtcp);
}

std::size_t protect_rtp_burst(std::span<Session* const> sessions, std::span<PacketView> packets,
                              std::span<Status> status) noexcept {
  return run_multi_chunks(sessions, packets, status, detail::protect_rtp_multi_chunk,
                          detail::protect_rtp_chunk,
                          [](Session* s) noexcept { return &s->impl(); });
}
std::size_t unprotect_rtp_burst(std::span<Session* const> sessions, std::span<PacketView> packets,
                                std::span<Status> status) noexcept {
  return run_multi_chunks(sessions, packets, status, detail::unprotect_rtp_multi_chunk,
                          detail::unprotect_rtp_chunk,
                          [](Session* s) noexcept { return &s->impl(); });
}

std::size_t Session::rtp_overhead() const noexcept {
  return impl().mki_len + impl().pp.rtp_tag_len;
}
std::size_t Session::rtcp_overhead() const noexcept {
  return impl().mki_len + impl().pp.rtcp_tag_len + 4;
}

Result<void> Session::add_key(const MasterKey& key) {
  SessionImpl& s = impl();
  if (s.mki_len == 0 || key.mki.size() != s.mki_len) {
    return make_error("add_key needs an MKI of the session's MKI length (" +
                      std::to_string(s.mki_len) + " bytes); use rekey() without MKIs");
  }
  if (s.keys.size() >= SessionImpl::kMaxKeys) {
    return make_error("a session holds at most " + std::to_string(SessionImpl::kMaxKeys) +
                      " master keys");
  }
  if (s.key_by_mki(key.mki.data()) != nullptr) {
    return make_error("a key with this MKI is already installed");
  }
  auto dk = s.derive(key);
  if (!dk) {
    return dk.error();
  }
  s.keys.push_back(std::move(dk.value()));
  return {};
}

Result<void> Session::set_active_key(std::span<const uint8_t> mki) {
  SessionImpl& s = impl();
  for (std::size_t i = 0; i < s.keys.size(); ++i) {
    if (std::equal(mki.begin(), mki.end(), s.keys[i]->mki.begin(), s.keys[i]->mki.end())) {
      s.set_active(static_cast<uint32_t>(i));
      return {};
    }
  }
  return make_error("no key with this MKI");
}

Result<void> Session::remove_key(std::span<const uint8_t> mki) {
  SessionImpl& s = impl();
  for (std::size_t i = 0; i < s.keys.size(); ++i) {
    if (std::equal(mki.begin(), mki.end(), s.keys[i]->mki.begin(), s.keys[i]->mki.end())) {
      if (i == s.active) {
        return make_error("the active key cannot be removed; activate another first");
      }
      s.keys.erase(s.keys.begin() + static_cast<std::ptrdiff_t>(i));
      if (s.active > i) {
        s.set_active(s.active - 1);  // the same key, one place down
      }
      return {};
    }
  }
  return make_error("no key with this MKI");
}

Result<void> Session::rekey(const MasterKey& key) {
  SessionImpl& s = impl();
  auto dk = s.derive(key);
  if (!dk) {
    return dk.error();
  }
  s.keys.clear();  // DerivedKey and KeyContext destructors zeroize
  s.keys.push_back(std::move(dk.value()));
  s.set_active(0);
  s.mki_len = key.mki.size();
  return {};
}

std::vector<KeyUsage> Session::key_usage() const {
  std::vector<KeyUsage> out;
  for (std::size_t i = 0; i < impl().keys.size(); ++i) {
    const auto& k = *impl().keys[i];
    KeyUsage u;
    u.mki = k.mki;
    u.srtp_packets = k.srtp_packets;
    u.srtp_limit = k.srtp_limit;
    u.srtcp_packets = k.srtcp_packets;
    u.srtcp_limit = k.srtcp_limit;
    u.active = i == impl().active;
    const auto soft = [](uint64_t used, uint64_t limit) {
      const uint64_t margin = std::min<uint64_t>(limit / 16, uint64_t{1} << 16);
      return used + margin >= limit;
    };
    u.soft_limit = soft(k.srtp_packets, k.srtp_limit) || soft(k.srtcp_packets, k.srtcp_limit);
    u.expired = k.srtp_packets >= k.srtp_limit || k.srtcp_packets >= k.srtcp_limit;
    out.push_back(std::move(u));
  }
  return out;
}

Result<void> Session::add_stream(uint32_t ssrc) {
  auto& t = impl().streams;
  if (t.find(ssrc) != nullptr) {
    return make_error("SSRC " + std::to_string(ssrc) + " already has a stream");
  }
  if (t.insert(ssrc) == nullptr) {
    return make_error("the session's stream cap (" + std::to_string(impl().config.max_streams) +
                      ") is reached");
  }
  ++impl().stats.streams_created;
  return {};
}

Result<void> Session::set_roc(uint32_t ssrc, uint32_t roc) {
  auto& t = impl().streams;
  detail::Stream* s = t.find(ssrc);
  if (s == nullptr) {
    s = t.insert(ssrc);
    if (s == nullptr) {
      return make_error("the session's stream cap (" + std::to_string(impl().config.max_streams) +
                        ") is reached");
    }
    ++impl().stats.streams_created;
  }
  if (s->rtp.started()) {
    // Keep the sequence number and window; move them to the new ROC (RFC 3711 §3.3.1).
    const uint64_t seq = s->rtp.top() & 0xffff;
    s->rtp.reset();
    s->rtp.commit((uint64_t{roc} << 16) | seq);
  } else {
    s->preset_roc = roc;
  }
  return {};
}

std::optional<uint32_t> Session::roc(uint32_t ssrc) const {
  const detail::Stream* s = impl().streams.find(ssrc);
  if (s == nullptr) {
    return std::nullopt;
  }
  if (!s->rtp.started()) {
    return s->preset_roc;
  }
  return static_cast<uint32_t>(s->rtp.top() >> 16);
}

Result<void> Session::remove_stream(uint32_t ssrc) {
  if (!impl().streams.remove(ssrc)) {
    return make_error("no stream for SSRC " + std::to_string(ssrc));
  }
  return {};
}

Result<void> Session::bind_engine(std::shared_ptr<crypto::Engine> engine) {
  if (!engine) {
    return make_error("no crypto engine given");
  }
  if (engine->backend() != impl().engine->backend()) {
    return make_error("the session's keys were expanded for the " +
                      std::string(crypto::name(impl().engine->backend())) +
                      " backend and cannot be used by a " +
                      std::string(crypto::name(engine->backend())) + " engine");
  }
  impl().engine = engine.get();
  impl().engine_owner = std::move(engine);
  return {};
}

bool Session::swap_keys(Session& other) noexcept {
  SessionImpl& a = impl();
  SessionImpl& b = other.impl();
  // Expanded keys are backend objects (the reason bind_engine checks the backend too).
  if (a.config.profile != b.config.profile || a.engine->backend() != b.engine->backend()) {
    return false;
  }
  // Vectors swap their buffers: nothing is allocated, copied or freed on the worker.
  std::swap(a.keys, b.keys);
  std::swap(a.active, b.active);
  std::swap(a.active_key, b.active_key);
  std::swap(a.mki_len, b.mki_len);
  return true;
}

std::size_t Session::stream_count() const noexcept { return impl().streams.size(); }
const SessionConfig& Session::config() const noexcept { return impl().config; }
const SessionStats& Session::stats() const noexcept { return impl().stats; }
crypto::Backend Session::backend() const noexcept { return impl().engine->backend(); }

}  // namespace srtpgate::srtp
