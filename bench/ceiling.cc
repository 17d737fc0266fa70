#include "ceiling.h"

#include <algorithm>
#include <cstring>

namespace srtpgate::bench {
namespace {

// RFC 3711 §4.1.1 / RFC 7714 §8.1 IV: salt XOR (SSRC, index). The ceiling still builds one per
// packet because any real engine must; it takes ROC = 0. `salt` is zero-padded to 16 bytes.
inline void make_iv(const std::array<uint8_t, 16>& salt, const uint8_t* rtp, bool aead,
                    uint8_t* iv) noexcept {
  std::memcpy(iv, salt.data(), 16);
  // AES-CM: SSRC at bytes 4..7, SEQ at 12..13; GCM: SSRC at 2..5, SEQ at 10..11.
  const std::size_t ssrc_at = aead ? 2 : 4;
  const std::size_t seq_at = aead ? 10 : 12;
  for (std::size_t i = 0; i < 4; ++i) {
    iv[ssrc_at + i] ^= rtp[8 + i];
  }
  iv[seq_at] ^= rtp[2];
  iv[seq_at + 1] ^= rtp[3];
}

}  // namespace

bool IpsecMbCeiling::init(srtp::Profile profile, ImbManager manager, std::string& error) {
  params_ = srtp::params(profile);
  burst_api_ = manager == ImbManager::automatic_burst_api;
  mgr_.reset(alloc_mb_mgr(0));
  if (!mgr_) {
    error = "alloc_mb_mgr failed";
    return false;
  }
  if (manager == ImbManager::sse) {
    init_mb_mgr_sse(mgr_.get());
  } else {
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(mgr_.get(), &arch);
  }
  if (imb_get_errno(mgr_.get()) != 0) {
    error = std::string("IPsec-MB manager init failed: ") +
            imb_get_strerror(imb_get_errno(mgr_.get()));
    return false;
  }
  std::array<uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(0x40 + i);
  }
  salt_ = {};
  for (std::size_t i = 0; i < params_.session_salt_len; ++i) {
    salt_[i] = static_cast<uint8_t>(0x90 + i);
  }
  if (params_.aead) {
    if (params_.master_key_len == 16) {
      IMB_AES128_GCM_PRE(mgr_.get(), key.data(), &gcm_key_);
    } else {
      IMB_AES256_GCM_PRE(mgr_.get(), key.data(), &gcm_key_);
    }
    return true;
  }
  if (params_.master_key_len == 16) {
    IMB_AES_KEYEXP_128(mgr_.get(), key.data(), enc_keys_.data(), dec_keys_.data());
  } else {
    IMB_AES_KEYEXP_256(mgr_.get(), key.data(), enc_keys_.data(), dec_keys_.data());
  }
  // RFC 2104 with a 20-byte key: one block of key ^ ipad and of key ^ opad, hashed once.
  std::array<uint8_t, 64> block{};
  for (std::size_t i = 0; i < block.size(); ++i) {
    block[i] = static_cast<uint8_t>((i < 20 ? 0xa0 + i : 0) ^ 0x36);
  }
  IMB_SHA1_ONE_BLOCK(mgr_.get(), block.data(), ipad_.data());
  for (std::size_t i = 0; i < block.size(); ++i) {
    block[i] = static_cast<uint8_t>((i < 20 ? 0xa0 + i : 0) ^ 0x5c);
  }
  IMB_SHA1_ONE_BLOCK(mgr_.get(), block.data(), opad_.data());
  return true;
}

std::string IpsecMbCeiling::last_error() const {
  return std::string("IPsec-MB job failed: ") + imb_get_strerror(last_error_);
}

std::size_t IpsecMbCeiling::protect(std::span<srtp::PacketView> packets) noexcept {
  if (params_.aead) {
    return gcm(packets, true);
  }
  return burst_api_ ? ctr_hmac_burst_api(packets, true) : ctr_hmac(packets, true);
}

std::size_t IpsecMbCeiling::unprotect(std::span<srtp::PacketView> packets) noexcept {
  if (params_.aead) {
    return gcm(packets, false);
  }
  return burst_api_ ? ctr_hmac_burst_api(packets, false) : ctr_hmac(packets, false);
}

std::size_t IpsecMbCeiling::ctr_hmac(std::span<srtp::PacketView> packets, bool encrypt) noexcept {
  IMB_MGR* mgr = mgr_.get();
  std::size_t done = 0;
  auto complete = [&](const IMB_JOB* job) {
    if (job->status == IMB_STATUS_COMPLETED) {
      ++done;
    } else {
      last_error_ = static_cast<IMB_ERR>(imb_get_errno(mgr));
    }
  };
  // Staged like an engine would: every IV first, then one tight loop of submissions.
  for (std::size_t i = 0; i < packets.size(); ++i) {
    make_iv(salt_, packets[i].data, false, iv_[i].data());
  }
  for (std::size_t i = 0; i < packets.size(); ++i) {
    srtp::PacketView& p = packets[i];
    const uint32_t payload_len =
        encrypt ? p.len - kRtpHeaderLen : p.len - kRtpHeaderLen - params_.rtp_tag_len;
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
    job->cipher_mode = IMB_CIPHER_CNTR;
    job->hash_alg = IMB_AUTH_HMAC_SHA_1;
    job->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    job->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    job->key_len_in_bytes = params_.master_key_len;
    job->enc_keys = enc_keys_.data();
    job->dec_keys = enc_keys_.data();  // counter mode decrypts with the encryption schedule
    job->src = p.data;
    job->dst = p.data + kRtpHeaderLen;
    job->cipher_start_src_offset_in_bytes = kRtpHeaderLen;
    job->msg_len_to_cipher_in_bytes = payload_len;
    job->iv = iv_[i].data();
    job->iv_len_in_bytes = 16;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = kRtpHeaderLen + payload_len + 4;  // header, payload, ROC
    job->auth_tag_output = encrypt ? p.data + kRtpHeaderLen + payload_len : tag_scratch_[i].data();
    job->auth_tag_output_len_in_bytes = 12;  // 10 is rejected; the SRTP tag is the first 10 or 4
    job->u.HMAC._hashed_auth_key_xor_ipad = ipad_.data();
    job->u.HMAC._hashed_auth_key_xor_opad = opad_.data();
    if (encrypt) {
      p.len += params_.rtp_tag_len;
    } else {
      p.len -= params_.rtp_tag_len;
    }
    job = IMB_SUBMIT_JOB(mgr);
    if (job != nullptr) {
      complete(job);
    }
  }
  while (IMB_JOB* job = IMB_FLUSH_JOB(mgr)) {
    complete(job);
  }
  return done;
}

std::size_t IpsecMbCeiling::ctr_hmac_burst_api(std::span<srtp::PacketView> packets,
                                               bool encrypt) noexcept {
  IMB_MGR* mgr = mgr_.get();
  const auto n = static_cast<uint32_t>(packets.size());
  const IMB_KEY_SIZE_BYTES key_size =
      params_.master_key_len == 16 ? IMB_KEY_128_BYTES : IMB_KEY_256_BYTES;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    make_iv(salt_, packets[i].data, false, iv_[i].data());
  }
  // Protect encrypts then authenticates (RFC 3711 §3.3); unprotect authenticates then decrypts.
  // Counter mode is the same operation both ways, so both use the encrypt direction.
  auto cipher = [&] {
    for (uint32_t i = 0; i < n; ++i) {
      const srtp::PacketView& p = packets[i];
      const uint32_t payload_len =
          encrypt ? p.len - kRtpHeaderLen : p.len - kRtpHeaderLen - params_.rtp_tag_len;
      IMB_JOB& job = jobs_[i];
      job.enc_keys = enc_keys_.data();
      job.dec_keys = enc_keys_.data();
      job.key_len_in_bytes = params_.master_key_len;
      job.src = p.data + kRtpHeaderLen;
      job.dst = p.data + kRtpHeaderLen;
      job.cipher_start_src_offset_in_bytes = 0;
      job.msg_len_to_cipher_in_bytes = payload_len;
      job.iv = iv_[i].data();
      job.iv_len_in_bytes = 16;
      job.cipher_mode = IMB_CIPHER_CNTR;
      job.cipher_direction = IMB_DIR_ENCRYPT;
    }
    return IMB_SUBMIT_CIPHER_BURST_NOCHECK(mgr, jobs_.data(), n, IMB_CIPHER_CNTR, IMB_DIR_ENCRYPT,
                                           key_size);
  };
  auto hash = [&] {
    for (uint32_t i = 0; i < n; ++i) {
      const srtp::PacketView& p = packets[i];
      const uint32_t payload_len =
          encrypt ? p.len - kRtpHeaderLen : p.len - kRtpHeaderLen - params_.rtp_tag_len;
      IMB_JOB& job = jobs_[i];
      job.src = p.data;
      job.hash_start_src_offset_in_bytes = 0;
      job.msg_len_to_hash_in_bytes = kRtpHeaderLen + payload_len + 4;
      job.auth_tag_output =
          encrypt ? p.data + kRtpHeaderLen + payload_len : tag_scratch_[i].data();
      job.auth_tag_output_len_in_bytes = 12;
      job.u.HMAC._hashed_auth_key_xor_ipad = ipad_.data();
      job.u.HMAC._hashed_auth_key_xor_opad = opad_.data();
      job.hash_alg = IMB_AUTH_HMAC_SHA_1;
    }
    return IMB_SUBMIT_HASH_BURST_NOCHECK(mgr, jobs_.data(), n, IMB_AUTH_HMAC_SHA_1);
  };
  // Two statements: the order of the calls matters and a function's arguments are unordered.
  const uint32_t first = encrypt ? cipher() : hash();
  const uint32_t second = encrypt ? hash() : cipher();
  const uint32_t done = std::min(first, second);
  for (srtp::PacketView& p : packets) {
    p.len = encrypt ? p.len + params_.rtp_tag_len : p.len - params_.rtp_tag_len;
  }
  return done;
}

std::size_t IpsecMbCeiling::gcm(std::span<srtp::PacketView> packets, bool encrypt) noexcept {
  IMB_MGR* mgr = mgr_.get();
  for (std::size_t i = 0; i < packets.size(); ++i) {
    make_iv(salt_, packets[i].data, true, iv_[i].data());
  }
  for (std::size_t i = 0; i < packets.size(); ++i) {
    srtp::PacketView& p = packets[i];
    uint8_t* payload = p.data + kRtpHeaderLen;
    if (encrypt) {
      const uint64_t len = p.len - kRtpHeaderLen;
      if (params_.master_key_len == 16) {
        IMB_AES128_GCM_ENC(mgr, &gcm_key_, &gcm_ctx_, payload, payload, len, iv_[i].data(), p.data,
                           kRtpHeaderLen, payload + len, 16);
      } else {
        IMB_AES256_GCM_ENC(mgr, &gcm_key_, &gcm_ctx_, payload, payload, len, iv_[i].data(), p.data,
                           kRtpHeaderLen, payload + len, 16);
      }
      p.len += 16;
    } else {
      const uint64_t len = p.len - kRtpHeaderLen - 16;
      if (params_.master_key_len == 16) {
        IMB_AES128_GCM_DEC(mgr, &gcm_key_, &gcm_ctx_, payload, payload, len, iv_[i].data(), p.data,
                           kRtpHeaderLen, tag_scratch_[i].data(), 16);
      } else {
        IMB_AES256_GCM_DEC(mgr, &gcm_key_, &gcm_ctx_, payload, payload, len, iv_[i].data(), p.data,
                           kRtpHeaderLen, tag_scratch_[i].data(), 16);
      }
      p.len -= 16;
    }
  }
  return packets.size();
}

}  // namespace srtpgate::bench
