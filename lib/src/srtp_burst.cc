// SRTP protect and unprotect over a burst (RFC 3711 §3.3, §4; RFC 7714 §8).
//
// Stages: parse and check every packet, build one crypto operation per packet, run them all in
// one backend call, then (unprotect) verify tags, commit replay state in packet order, and
// decrypt only what verified.
#include <type_traits>

#include "burst_common.h"
#include "byte_order.h"
#include "rtp_header_inline.h"
#include "srtpgate/secret.h"

namespace srtpgate::srtp::detail {

namespace {

// Which session each packet of a burst belongs to; one kernel template serves both. With one
// session the per-session values are loaded once before the loop and every "has the session
// changed" test folds away, so the single-session path pays nothing for the other. With many,
// packet i is sessions[i]'s, and a kernel skips the packets whose profile is of the other kind
// (they go through the other instantiation).
struct OneSession {
  static constexpr bool kMulti = false;
  SessionImpl* s;
  SessionImpl& of(std::size_t /*i*/) const noexcept { return *s; }
  crypto::Engine& engine() const noexcept { return *s->engine; }
  OneSession after(std::size_t /*n*/) const noexcept { return *this; }
};

struct ManySessions {
  static constexpr bool kMulti = true;
  SessionImpl* const* s;
  SessionImpl& of(std::size_t i) const noexcept { return *s[i]; }
  // All sessions of a burst are bound to one engine (the contract of protect_rtp_burst): the one
  // submission goes to the first's.
  crypto::Engine& engine() const noexcept { return *s[0]->engine; }
  ManySessions after(std::size_t n) const noexcept { return {s + n}; }
};

// The session of the packet at hand and the values a kernel hoists out of it.
struct Current {
  SessionImpl* s = nullptr;
  std::size_t mki_len = 0;
  std::size_t tag_len = 0;

  void enter(SessionImpl& next) noexcept {
    s = &next;
    mki_len = next.mki_len;
    tag_len = next.pp.rtp_tag_len;
  }
  // Multi: moves to packet i's session; false for a packet of the other kind (AEAD or not).
  // `changed` is set when the session changed, so per-session caches can be dropped.
  template <bool kAead, typename Sessions>
  bool visit(const Sessions& sessions, std::size_t i, bool& changed) noexcept {
    changed = false;
    if constexpr (Sessions::kMulti) {
      SessionImpl& next = sessions.of(i);
      if (&next != s) {
        if (next.pp.aead != kAead) {
          return false;
        }
        enter(next);
        changed = true;
      }
    }
    return true;
  }
};

template <bool kAead, typename Sessions>
std::size_t protect(const Sessions& sessions, std::span<PacketView> pkts,
                    std::span<Status> st) noexcept {
  Current cur;
  DerivedKey* key = nullptr;
  if constexpr (!Sessions::kMulti) {
    cur.enter(sessions.of(0));
    key = cur.s->active_key;
  }

  alignas(16) uint8_t iv[kMaxBurst][16];
  uint8_t tags[kMaxBurst][20];
  crypto::CtrHmacOp cm[kMaxBurst];
  crypto::GcmOp gcm[kMaxBurst];
  uint8_t op_pkt[kMaxBurst];
  std::size_t nops = 0;
  Stream* last = nullptr;  // bursts are mostly one SSRC: skip the hash lookup then

  for (std::size_t i = 0; i < pkts.size(); ++i) {
    bool changed = false;
    if (!cur.visit<kAead>(sessions, i, changed)) {
      continue;
    }
    if (changed) {
      key = cur.s->active_key;
      last = nullptr;  // a stream of another session
    }
    SessionImpl& s = *cur.s;
    const std::size_t mki_len = cur.mki_len;
    const std::size_t overhead = mki_len + cur.tag_len;
    PacketView& p = pkts[i];
    if (p.capacity < p.len) {  // before any byte is read: only capacity bytes are the caller's
      st[i] = Status::malformed;
      continue;
    }
    const auto h = rtp::detail::parse_header_inline({p.data, p.len});
    if (!h) {
      st[i] = Status::malformed;
      continue;
    }
    if (p.capacity - p.len < overhead) {
      st[i] = Status::no_tailroom;
      continue;
    }
    if (key->srtp_packets >= key->srtp_limit) {
      st[i] = Status::key_expired;
      continue;
    }
    Status why = Status::ok;
    Stream* str = stream_for(s, h->ssrc, last, why);
    uint64_t index = 0;
    if (str == nullptr || !estimate_index(str, h->sequence, index, why)) {
      st[i] = why;
      continue;
    }
    Status replay = str->rtp.check(index);
    if (replay == Status::replay_duplicate && s.config.allow_repeat_tx) {
      replay = Status::ok;
    }
    if (replay != Status::ok) {
      st[i] = replay;
      continue;
    }
    // The sender's own state moves at once: nothing after this point can fail.
    str->rtp.commit(index);
    ++key->srtp_packets;

    const std::size_t j = nops++;
    op_pkt[j] = static_cast<uint8_t>(i);
    st[i] = Status::ok;
    if constexpr (kAead) {
      gcm_iv(iv[j], key->rtp_salt, h->ssrc, index);
      // RFC 7714 §8.2: AAD is the header; the tag follows the ciphertext.
      gcm[j] = crypto::GcmOp{key->rtp.get(),
                             s.pp.master_key_len,
                             p.data + h->header_len,
                             p.len - h->header_len,
                             h->header_len,
                             p.data,
                             iv[j],
                             p.data + p.len,
                             false};
      // Sealing cannot fail, so the packet is finished here, while it is in cache: the MKI
      // goes after the tag the seal will write.
      if (mki_len != 0) {  // the MKI is not on the key's SRTP line
        copy_small(p.data + p.len + 16, key->mki.data(), mki_len);
      }
      p.len += static_cast<uint32_t>(16 + mki_len);
      s.stats.rtp_bytes += p.len;
    } else {
      ctr_iv(iv[j], key->rtp_salt, h->ssrc, index);
      // RFC 3711 §4.2: authenticate header || encrypted payload || ROC; the ROC sits in the
      // tailroom (where the MKI and tag go) only while the tag is computed.
      store_be32(p.data + p.len, static_cast<uint32_t>(index >> 16));
      cm[j] = crypto::CtrHmacOp{key->rtp.get(),
                                s.pp.master_key_len,
                                p.data + h->header_len,
                                p.len - h->header_len,
                                p.len + 4u,
                                p.data,
                                tags[j],
                                iv[j]};
    }
  }
  if (nops == 0 && Sessions::kMulti) {
    return 0;  // the other kind's pass may be the only one with work: no empty submission
  }

  if constexpr (kAead) {
    sessions.engine().gcm_seal({gcm, nops});
  } else {
    sessions.engine().encrypt_then_mac({cm, nops});
  }

  if constexpr (!kAead) {
    // The active key of a session does not change within a burst, so the MKI to append is
    // found again from the packet's session.
    for (std::size_t j = 0; j < nops; ++j) {
      bool changed = false;
      cur.visit<kAead>(sessions, op_pkt[j], changed);
      if (changed) {
        key = cur.s->active_key;
      }
      PacketView& p = pkts[op_pkt[j]];
      if (cur.mki_len != 0) {
        copy_small(p.data + p.len, key->mki.data(), cur.mki_len);
      }
      copy_small(p.data + p.len + cur.mki_len, tags[j], cur.tag_len);
      p.len += static_cast<uint32_t>(cur.mki_len + cur.tag_len);
      cur.s->stats.rtp_bytes += p.len;
    }
  }
  return nops;
}

// Per-stream index anchors as they would stand if every earlier packet of the burst verified.
// Index estimates use only committed state (a forged packet must not steer the estimate for a
// genuine one); where the provisional anchor would give another answer, the burst is split so
// the earlier packets are verified and committed first (RFC 3711 §3.3.1 is sequential). A
// stream is an SSRC of one session (RFC 3711 §3.2.3): with many sessions in a burst, two of them
// may carry the same SSRC as different streams, so the session is part of the key.
template <bool kMulti>
class ProvisionalAnchors {
 public:
  // The entry for `ssrc` of `s`, created from the committed stream state on first sight.
  IndexAnchor& of(const SessionImpl* s, uint32_t ssrc, const Stream* committed) noexcept {
    if (n_ != 0 && is(last_, s, ssrc)) {
      return anchor_[last_];
    }
    for (std::size_t k = 0; k < n_; ++k) {
      if (is(k, s, ssrc)) {
        last_ = k;
        return anchor_[k];
      }
    }
    last_ = n_++;
    ssrc_[last_] = ssrc;
    if constexpr (kMulti) {
      session_[last_] = s;
    }
    anchor_[last_] = anchor_of(committed);
    return anchor_[last_];
  }

 private:
  bool is(std::size_t k, const SessionImpl* s, uint32_t ssrc) const noexcept {
    if constexpr (kMulti) {
      return ssrc_[k] == ssrc && session_[k] == s;
    } else {
      return ssrc_[k] == ssrc;
    }
  }

  uint32_t ssrc_[kMaxBurst];
  const SessionImpl* session_[kMulti ? kMaxBurst : 1];
  IndexAnchor anchor_[kMaxBurst];
  std::size_t n_ = 0;
  std::size_t last_ = 0;
};

// Unprotects pkts[0, done) and sets `done` (at least 1): stops early where the burst must be
// split (see ProvisionalAnchors).
template <bool kAead, typename Sessions>
std::size_t unprotect_until_split(const Sessions& sessions, std::span<PacketView> pkts,
                                  std::span<Status> st, std::size_t& done) noexcept {
  Current cur;
  if constexpr (!Sessions::kMulti) {
    cur.enter(sessions.of(0));
  }

  alignas(16) uint8_t iv[kMaxBurst][16];
  uint8_t computed[kMaxBurst][20];
  uint8_t received[kMaxBurst][16];
  crypto::CtrHmacOp cm[kMaxBurst];
  crypto::GcmOp gcm[kMaxBurst];
  uint64_t index[kMaxBurst];
  DerivedKey* keys[kMaxBurst];
  uint32_t ssrc[kMaxBurst];
  uint32_t plain_len[kMaxBurst];
  uint8_t op_pkt[kMaxBurst];
  std::size_t nops = 0;
  const Stream* last = nullptr;
  ProvisionalAnchors<Sessions::kMulti> provisional;

  done = pkts.size();
  for (std::size_t i = 0; i < pkts.size(); ++i) {
    bool changed = false;
    if (!cur.visit<kAead>(sessions, i, changed)) {
      continue;
    }
    if (changed) {
      last = nullptr;  // a stream of another session
    }
    SessionImpl& s = *cur.s;
    const std::size_t mki_len = cur.mki_len;
    const std::size_t tag_len = cur.tag_len;
    const std::size_t trailer = mki_len + tag_len;
    PacketView& p = pkts[i];
    if (p.capacity < p.len) {  // before any byte is read: only capacity bytes are the caller's
      st[i] = Status::malformed;
      continue;
    }
    const auto h = rtp::detail::parse_header_inline({p.data, p.len});
    if (!h || p.len < h->header_len + trailer) {
      st[i] = Status::malformed;
      continue;
    }
    // AES-CM: header | payload | MKI | tag (RFC 3711 §3.1).
    // GCM:    header | payload | tag | MKI (RFC 7714 §8.2, the tag is part of the ciphertext).
    const std::size_t payload_end = p.len - trailer;
    const uint8_t* mki = p.data + (kAead ? payload_end + tag_len : payload_end);
    const uint8_t* tag = p.data + (kAead ? payload_end : payload_end + mki_len);
    DerivedKey* key = mki_len != 0 ? s.key_by_mki(mki) : s.active_key;
    if (key == nullptr) {
      st[i] = Status::unknown_mki;
      continue;
    }
    if (key->srtp_packets >= key->srtp_limit) {
      st[i] = Status::key_expired;
      continue;
    }
    const Stream* str = (last != nullptr && last->ssrc == h->ssrc) ? last : s.streams.find(h->ssrc);
    last = str;
    if (str == nullptr) {
      if (!s.config.accept_new_ssrcs) {
        st[i] = Status::no_stream;
        continue;
      }
      if (s.streams.full()) {
        st[i] = Status::stream_limit;
        continue;
      }
    }
    Status why = Status::ok;
    uint64_t idx = 0;
    const IndexAnchor committed = anchor_of(str);
    const bool estimated = estimate_index(committed, h->sequence, idx, why);
    IndexAnchor& pending = provisional.of(&s, h->ssrc, str);
    // A stream's pending anchor differs from its committed one after its first packet of the
    // burst (and is then started). It counts packets whose tags are not checked yet, so it is
    // only a bound: the anchor of the genuine ones lies between the committed and the pending
    // anchor, and since the estimate rises with the top, where those two agree the genuine
    // anchor agrees too. That holds once the stream has a committed packet. Before, the
    // committed estimate is ROC || SEQ, off that scale (a forged packet could make the pending
    // anchor agree with it where the genuine anchor would not), so the stream's later packets
    // wait for its earlier ones to be verified and committed. A burst in order stays within
    // estimate_agrees' reach.
    // (i > 0 whenever they differ: an earlier packet of this call moved the pending anchor.
    // It is tested anyway, as `done` must not be 0.)
    if (i > 0 && (pending.started != committed.started || pending.top != committed.top)) {
      if (!committed.started) {
        done = i;
        break;
      }
      if (!(estimated && estimate_agrees(pending, idx))) {
        uint64_t pending_idx = 0;
        Status pending_why = Status::ok;
        const bool pending_estimated =
            estimate_index(pending, h->sequence, pending_idx, pending_why);
        if (pending_estimated != estimated || (estimated && pending_idx != idx)) {
          done = i;
          break;
        }
      }
    }
    if (!estimated) {
      st[i] = why;
      continue;
    }
    // Read-only replay check before any crypto work; the commit comes after the tag.
    if (str != nullptr) {
      why = str->rtp.check(idx);
      if (why != Status::ok) {
        st[i] = why;
        continue;
      }
    }

    if (!pending.started || idx > pending.top) {
      pending.started = true;
      pending.top = idx;
    }

    const std::size_t j = nops++;
    op_pkt[j] = static_cast<uint8_t>(i);
    index[j] = idx;
    keys[j] = key;
    ssrc[j] = h->ssrc;
    plain_len[j] = static_cast<uint32_t>(payload_end);
    if constexpr (kAead) {
      gcm_iv(iv[j], key->rtp_salt, h->ssrc, idx);
      gcm[j] = crypto::GcmOp{key->rtp.get(),
                             s.pp.master_key_len,
                             p.data + h->header_len,
                             static_cast<uint32_t>(payload_end - h->header_len),
                             h->header_len,
                             p.data,
                             iv[j],
                             const_cast<uint8_t*>(tag),
                             false};
    } else {
      copy_small(received[j], tag, tag_len);
      // A job that never writes its output must not pass: start from the tag's complement.
      for (std::size_t b = 0; b < tag_len; ++b) {
        computed[j][b] = static_cast<uint8_t>(~received[j][b]);
      }
      ctr_iv(iv[j], key->rtp_salt, h->ssrc, idx);
      // RFC 3711 §4.2: the authenticated portion is header || encrypted payload || ROC. The
      // ROC overwrites the MKI/tag bytes, which were saved above.
      store_be32(p.data + payload_end, static_cast<uint32_t>(idx >> 16));
      cm[j] = crypto::CtrHmacOp{key->rtp.get(),
                                s.pp.master_key_len,
                                p.data + h->header_len,
                                static_cast<uint32_t>(payload_end - h->header_len),
                                static_cast<uint32_t>(payload_end + 4),
                                p.data,
                                computed[j],
                                iv[j]};
    }
  }
  if (nops == 0 && Sessions::kMulti) {
    return 0;  // the other kind's pass may be the only one with work: no empty submission
  }

  if constexpr (kAead) {
    sessions.engine().gcm_open({gcm, nops});
  } else {
    sessions.engine().mac({cm, nops});
  }

  // Verify, then commit in packet order: a later packet of the same burst may be a duplicate
  // of an earlier one, or of a stream the earlier one created.
  crypto::CtrHmacOp decrypt[kMaxBurst];
  std::size_t ndecrypt = 0;
  std::size_t ok = 0;
  Stream* committed = nullptr;
  for (std::size_t j = 0; j < nops; ++j) {
    const std::size_t i = op_pkt[j];
    bool changed = false;
    cur.visit<kAead>(sessions, i, changed);
    if (changed) {
      committed = nullptr;  // a stream of another session
    }
    const bool verified =
        kAead ? gcm[j].ok : srtpgate::detail::tags_equal(computed[j], received[j], cur.tag_len);
    if (!verified) {
      st[i] = Status::auth_failure;
      continue;
    }
    // RFC 3711 §9.2: stage 1 saw the key's count before this burst; earlier packets of the
    // burst may have used up the rest of its lifetime since. Counted only here, after the tag,
    // so no forgery uses it up.
    if (keys[j]->srtp_packets >= keys[j]->srtp_limit) {
      st[i] = Status::key_expired;
      continue;
    }
    SessionImpl& s = *cur.s;
    const Status committed_status =
        commit_verified(s, ssrc[j], index[j], WindowOf::srtp, committed);
    if (committed_status != Status::ok) {
      st[i] = committed_status;
      continue;
    }
    ++keys[j]->srtp_packets;
    st[i] = Status::ok;
    pkts[i].len = plain_len[j];
    s.stats.rtp_bytes += plain_len[j];
    ++ok;
    if constexpr (!kAead) {
      decrypt[ndecrypt++] = cm[j];
    }
  }
  if constexpr (!kAead) {
    sessions.engine().ctr({decrypt, ndecrypt});
  }
  return ok;
}

template <bool kAead, typename Sessions>
std::size_t unprotect(Sessions sessions, std::span<PacketView> pkts,
                      std::span<Status> st) noexcept {
  std::size_t ok = 0;
  while (!pkts.empty()) {
    std::size_t done = 0;
    ok += unprotect_until_split<kAead>(sessions, pkts, st, done);
    pkts = pkts.subspan(done);
    st = st.subspan(done);
    sessions = sessions.after(done);
  }
  return ok;
}

// A burst of many sessions may mix AEAD and AES-CM profiles: each instantiation of a kernel
// handles its kind and skips the other's packets. Sessions are independent, so running one kind
// before the other gives what running them in burst order gives.
template <typename Kernel>
std::size_t both_kinds(SessionImpl* const* sessions, std::size_t n, Kernel kernel) noexcept {
  bool aead = false;
  bool cm = false;
  for (std::size_t i = 0; i < n; ++i) {
    aead |= sessions[i]->pp.aead;
    cm |= !sessions[i]->pp.aead;
  }
  std::size_t ok = 0;
  if (aead) {
    ok += kernel(std::true_type{});
  }
  if (cm) {
    ok += kernel(std::false_type{});
  }
  return ok;
}

}  // namespace

std::size_t protect_rtp_chunk(SessionImpl& s, std::span<PacketView> p,
                              std::span<Status> st) noexcept {
  return s.pp.aead ? protect<true>(OneSession{&s}, p, st) : protect<false>(OneSession{&s}, p, st);
}

std::size_t unprotect_rtp_chunk(SessionImpl& s, std::span<PacketView> p,
                                std::span<Status> st) noexcept {
  return s.pp.aead ? unprotect<true>(OneSession{&s}, p, st)
                   : unprotect<false>(OneSession{&s}, p, st);
}

std::size_t protect_rtp_multi_chunk(SessionImpl* const* sessions, std::span<PacketView> p,
                                    std::span<Status> st) noexcept {
  return both_kinds(sessions, p.size(), [&](auto aead) noexcept {
    return protect<decltype(aead)::value>(ManySessions{sessions}, p, st);
  });
}

std::size_t unprotect_rtp_multi_chunk(SessionImpl* const* sessions, std::span<PacketView> p,
                                      std::span<Status> st) noexcept {
  return both_kinds(sessions, p.size(), [&](auto aead) noexcept {
    return unprotect<decltype(aead)::value>(ManySessions{sessions}, p, st);
  });
}

}  // namespace srtpgate::srtp::detail
