// SRTCP protect and unprotect over a burst (RFC 3711 §3.4; RFC 7714 §9).
//
// AES-CM: header(8) | encrypted | E+index(4) | MKI | tag; authenticated: all before the MKI.
// GCM:    header(8) | ciphertext | tag(16) | E+index(4) | MKI; AAD: header || E+index.
#include "burst_common.h"
#include "byte_order.h"
#include "srtpgate/rtp.h"
#include "srtpgate/secret.h"

namespace srtpgate::srtp::detail {

namespace {

constexpr uint32_t kEFlag = 0x80000000u;
constexpr uint32_t kMaxSrtcpIndex = 0x7fffffffu;

template <bool kAead>
std::size_t protect(SessionImpl& s, std::span<PacketView> pkts, std::span<Status> st) noexcept {
  DerivedKey& key = *s.active_key;
  const std::size_t mki_len = s.mki_len;
  const std::size_t tag_len = s.pp.rtcp_tag_len;
  const std::size_t overhead = 4 + mki_len + tag_len;

  alignas(16) uint8_t iv[kMaxBurst][16];
  uint8_t tags[kMaxBurst][20];
  uint8_t aad[kMaxBurst][12];
  crypto::CtrHmacOp cm[kMaxBurst];
  crypto::GcmOp gcm[kMaxBurst];
  uint8_t op_pkt[kMaxBurst];
  uint32_t eindex[kMaxBurst];
  std::size_t nops = 0;
  Stream* last = nullptr;

  for (std::size_t i = 0; i < pkts.size(); ++i) {
    PacketView& p = pkts[i];
    const std::span<const uint8_t> bytes{p.data, p.len};
    if (p.capacity < p.len || !rtcp::validate_compound(bytes)) {
      st[i] = Status::malformed;
      continue;
    }
    if (p.capacity - p.len < overhead) {
      st[i] = Status::no_tailroom;
      continue;
    }
    if (key.srtcp_packets >= key.srtcp_limit) {
      st[i] = Status::key_expired;
      continue;
    }
    const uint32_t ssrc = load_be32(p.data + 4);
    Status why = Status::ok;
    Stream* str = stream_for(s, ssrc, last, why);
    if (str == nullptr) {
      st[i] = why;
      continue;
    }
    // RFC 3711 §3.3.2: the 31-bit SRTCP index must not wrap under one master key.
    RtcpStream& rtcp = s.streams.rtcp(*str);
    if (rtcp.next_index > kMaxSrtcpIndex) {
      st[i] = Status::key_expired;
      continue;
    }
    const uint32_t index = rtcp.next_index++;
    ++key.srtcp_packets;

    const std::size_t j = nops++;
    op_pkt[j] = static_cast<uint8_t>(i);
    eindex[j] = kEFlag | index;
    st[i] = Status::ok;
    if constexpr (kAead) {
      gcm_iv(iv[j], key.rtcp_salt, ssrc, index);
      std::memcpy(aad[j], p.data, 8);
      store_be32(aad[j] + 8, eindex[j]);
      gcm[j] = crypto::GcmOp{key.rtcp.get(), s.pp.master_key_len, p.data + 8, p.len - 8, 12u,
                             aad[j], iv[j], p.data + p.len, false};
    } else {
      ctr_iv(iv[j], key.rtcp_salt, ssrc, index);
      store_be32(p.data + p.len, eindex[j]);
      cm[j] = crypto::CtrHmacOp{key.rtcp.get(), s.pp.master_key_len, p.data + 8, p.len - 8,
                                p.len + 4u, p.data, tags[j], iv[j]};
    }
  }

  if constexpr (kAead) {
    s.engine->gcm_seal({gcm, nops});
  } else {
    s.engine->encrypt_then_mac({cm, nops});
  }

  for (std::size_t j = 0; j < nops; ++j) {
    PacketView& p = pkts[op_pkt[j]];
    if constexpr (kAead) {
      store_be32(p.data + p.len + 16, eindex[j]);
      copy_small(p.data + p.len + 20, key.mki.data(), mki_len);
      p.len += static_cast<uint32_t>(20 + mki_len);
    } else {
      copy_small(p.data + p.len + 4, key.mki.data(), mki_len);
      copy_small(p.data + p.len + 4 + mki_len, tags[j], tag_len);
      p.len += static_cast<uint32_t>(overhead);
    }
    s.stats.rtcp_bytes += p.len;
  }
  return nops;
}

template <bool kAead>
std::size_t unprotect(SessionImpl& s, std::span<PacketView> pkts, std::span<Status> st) noexcept {
  const std::size_t mki_len = s.mki_len;
  const std::size_t tag_len = s.pp.rtcp_tag_len;
  const std::size_t trailer = 4 + mki_len + tag_len;

  alignas(16) uint8_t iv[kMaxBurst][16];
  uint8_t computed[kMaxBurst][20];
  uint8_t received[kMaxBurst][16];
  uint8_t aad[kMaxBurst][12];
  crypto::CtrHmacOp cm[kMaxBurst];
  crypto::GcmOp gcm[kMaxBurst];
  uint32_t index[kMaxBurst];
  DerivedKey* keys[kMaxBurst];
  uint32_t ssrc[kMaxBurst];
  uint32_t plain_len[kMaxBurst];
  bool encrypted[kMaxBurst];
  uint8_t op_pkt[kMaxBurst];
  std::size_t nops = 0;

  for (std::size_t i = 0; i < pkts.size(); ++i) {
    PacketView& p = pkts[i];
    if (p.capacity < p.len || p.len < rtcp::kHeaderLen + trailer || (p.data[0] >> 6) != 2) {
      st[i] = Status::malformed;
      continue;
    }
    // Where the fields sit (see the layouts at the top of the file).
    const std::size_t eidx_pos = kAead ? p.len - mki_len - 4 : p.len - tag_len - mki_len - 4;
    const std::size_t mki_pos = kAead ? p.len - mki_len : p.len - tag_len - mki_len;
    const std::size_t tag_pos = kAead ? eidx_pos - tag_len : p.len - tag_len;
    const std::size_t payload_end = kAead ? tag_pos : eidx_pos;
    const uint32_t e_index = load_be32(p.data + eidx_pos);
    DerivedKey* key = mki_len != 0 ? s.key_by_mki(p.data + mki_pos) : s.active_key;
    if (key == nullptr) {
      st[i] = Status::unknown_mki;
      continue;
    }
    if (key->srtcp_packets >= key->srtcp_limit) {
      st[i] = Status::key_expired;
      continue;
    }
    const uint32_t sender = load_be32(p.data + 4);
    const uint32_t idx = e_index & kMaxSrtcpIndex;
    const Stream* str = s.streams.find(sender);
    if (str == nullptr) {
      if (!s.config.accept_new_ssrcs) {
        st[i] = Status::no_stream;
        continue;
      }
      if (s.streams.full()) {
        st[i] = Status::stream_limit;
        continue;
      }
    } else {
      const Status why = s.streams.rtcp(*str).window.check(idx);
      if (why != Status::ok) {
        st[i] = why;
        continue;
      }
    }

    const std::size_t j = nops++;
    op_pkt[j] = static_cast<uint8_t>(i);
    index[j] = idx;
    keys[j] = key;
    ssrc[j] = sender;
    plain_len[j] = static_cast<uint32_t>(payload_end);
    encrypted[j] = (e_index & kEFlag) != 0;
    if constexpr (kAead) {
      gcm_iv(iv[j], key->rtcp_salt, sender, idx);
      std::memcpy(received[j], p.data + tag_pos, 16);
      if (encrypted[j]) {
        std::memcpy(aad[j], p.data, 8);
        store_be32(aad[j] + 8, e_index);
        gcm[j] = crypto::GcmOp{key->rtcp.get(), s.pp.master_key_len, p.data + 8,
                               static_cast<uint32_t>(payload_end - 8), 12u, aad[j], iv[j],
                               received[j], false};
      } else {
        // RFC 7714 §9.3: unencrypted SRTCP authenticates the whole packet and E+index as AAD.
        // Move E+index next to the packet (over the saved tag) so the AAD is contiguous.
        store_be32(p.data + payload_end, e_index);
        gcm[j] = crypto::GcmOp{key->rtcp.get(), s.pp.master_key_len, p.data + payload_end, 0u,
                               static_cast<uint32_t>(payload_end + 4), p.data, iv[j],
                               received[j], false};
      }
    } else {
      copy_small(received[j], p.data + tag_pos, tag_len);
      for (std::size_t b = 0; b < tag_len; ++b) {
        computed[j][b] = static_cast<uint8_t>(~received[j][b]);
      }
      ctr_iv(iv[j], key->rtcp_salt, sender, idx);
      cm[j] = crypto::CtrHmacOp{key->rtcp.get(),
                                s.pp.master_key_len,
                                p.data + 8,
                                static_cast<uint32_t>(payload_end - 8),
                                static_cast<uint32_t>(eidx_pos + 4),
                                p.data,
                                computed[j],
                                iv[j]};
    }
  }

  if constexpr (kAead) {
    s.engine->gcm_open({gcm, nops});
  } else {
    s.engine->mac({cm, nops});
  }

  // Verify, then commit in packet order (see srtp_burst.cc).
  crypto::CtrHmacOp decrypt[kMaxBurst];
  std::size_t ndecrypt = 0;
  std::size_t ok = 0;
  Stream* committed = nullptr;
  for (std::size_t j = 0; j < nops; ++j) {
    const std::size_t i = op_pkt[j];
    const bool verified =
        kAead ? gcm[j].ok : srtpgate::detail::tags_equal(computed[j], received[j], tag_len);
    if (!verified) {
      st[i] = Status::auth_failure;
      continue;
    }
    // RFC 3711 §9.2, per packet: see the same check in srtp_burst.cc.
    if (keys[j]->srtcp_packets >= keys[j]->srtcp_limit) {
      st[i] = Status::key_expired;
      continue;
    }
    const Status committed_status =
        commit_verified(s, ssrc[j], index[j], WindowOf::srtcp, committed);
    if (committed_status != Status::ok) {
      st[i] = committed_status;
      continue;
    }
    ++keys[j]->srtcp_packets;
    st[i] = Status::ok;
    pkts[i].len = plain_len[j];
    s.stats.rtcp_bytes += plain_len[j];
    ++ok;
    if constexpr (!kAead) {
      if (encrypted[j]) {
        decrypt[ndecrypt++] = cm[j];
      }
    }
  }
  if constexpr (!kAead) {
    s.engine->ctr({decrypt, ndecrypt});
  }
  return ok;
}

}  // namespace

std::size_t protect_rtcp_chunk(SessionImpl& s, std::span<PacketView> p,
                               std::span<Status> st) noexcept {
  return s.pp.aead ? protect<true>(s, p, st) : protect<false>(s, p, st);
}

std::size_t unprotect_rtcp_chunk(SessionImpl& s, std::span<PacketView> p,
                                 std::span<Status> st) noexcept {
  return s.pp.aead ? unprotect<true>(s, p, st) : unprotect<false>(s, p, st);
}

}  // namespace srtpgate::srtp::detail
