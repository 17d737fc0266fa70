// srtpgate-bench: SRTP protect and unprotect of RTP bursts, every profile, three payload sizes,
// four burst sizes, and for each case the same packets through
//   srtpgate_*          the batch API on the IPsec-MB engine (the product),
//   srtpgate_openssl_*  the batch API on the OpenSSL reference engine,
//   libsrtp2_*          Debian's libsrtp2, one packet per call,
//   ceiling_*           the raw IPsec-MB jobs with no SRTP logic on the init_mb_mgr_auto
//                       manager (see ceiling.h), the reference for the targets,
//   ceiling_sse_*       the same jobs on the SSE (SHA-NI) manager, better for small bursts,
//   ceiling_burst_*     AES-CM profiles only: the automatic manager through the IPsec-MB 1.3
//                       cipher and hash burst API (unchained, unchecked), the higher ceiling,
// plus memcpy_baseline, the ring-to-buffer copy every unprotect case pays identically.
// Names are OPERATION/PROFILE/PAYLOAD/BURST; items_per_second is packets per second.
// `bench/summary` turns a run into the ratio table.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "bench_packets.h"
#include "ceiling.h"
#include "libsrtp2_baseline.h"
#include "srtpgate/crypto.h"
#include "srtpgate/master_key.h"
#include "srtpgate/packet.h"
#include "srtpgate/profile.h"
#include "srtpgate/session.h"

namespace srtpgate::bench {
namespace {

constexpr std::size_t kPayloads[] = {40, 160, 1200};
constexpr std::size_t kBursts[] = {1, 8, 32, 64};
static_assert(kMaxBurst <= srtp::Session::kMaxBurst);

struct Case {
  srtp::Profile profile;
  std::size_t payload;
  std::size_t burst;
};

// srtpgate through its public API. The backend is chosen once, as an application would.
template <crypto::Backend kBackend>
class SrtpgateImpl {
 public:
  bool init(srtp::Profile profile, bool outbound, std::string& error) {
    auto engine = crypto::make_engine(kBackend);
    if (!engine) {
      error = "make_engine: " + engine.message();
      return false;
    }
    engine_ = std::move(engine.value());
    auto key = srtp::MasterKey::from_concatenated(profile, master_key_salt(profile));
    if (!key) {
      error = "MasterKey::from_concatenated: " + key.message();
      return false;
    }
    key_ = std::move(key.value());
    config_.profile = profile;
    config_.direction = outbound ? srtp::Direction::outbound : srtp::Direction::inbound;
    config_.replay_window = 128;
    config_.max_streams = 16;
    config_.accept_new_ssrcs = true;
    config_.allow_repeat_tx = false;
    return reset(error);
  }

  bool reset(std::string& error) {
    // A lap starts over by dropping the stream (its replay state), as libsrtp2's baseline
    // does; rebuilding the session would leave the next bursts on cold caches.
    if (session_) {
      if (auto removed = session_->remove_stream(kSsrc); !removed) {
        error = "remove_stream: " + removed.message();
        return false;
      }
      return true;
    }
    auto session = srtp::Session::create(engine_, config_, key_);
    if (!session) {
      error = "Session::create: " + session.message();
      return false;
    }
    session_ = std::move(session.value());
    return true;
  }

  std::size_t protect(std::span<srtp::PacketView> packets) noexcept {
    return session_->protect_rtp(packets, {status_.data(), packets.size()});
  }
  std::size_t unprotect(std::span<srtp::PacketView> packets) noexcept {
    return session_->unprotect_rtp(packets, {status_.data(), packets.size()});
  }
  std::string last_error() const {
    for (const srtp::Status s : status_) {
      if (s != srtp::Status::ok) {
        return "srtpgate packet status " + std::string(srtp::name(s));
      }
    }
    return "srtpgate reported fewer ok packets than statuses say";
  }

 private:
  std::shared_ptr<crypto::Engine> engine_;
  srtp::MasterKey key_;
  srtp::SessionConfig config_;
  std::unique_ptr<srtp::Session> session_;
  std::array<srtp::Status, kMaxBurst> status_{};
};

class Libsrtp2Impl {
 public:
  bool init(srtp::Profile profile, bool outbound, std::string& error) {
    return baseline_.init(profile, master_key_salt(profile), outbound, error);
  }
  bool reset(std::string& error) { return baseline_.reset(error); }
  std::size_t protect(std::span<srtp::PacketView> p) noexcept { return baseline_.protect(p); }
  std::size_t unprotect(std::span<srtp::PacketView> p) noexcept { return baseline_.unprotect(p); }
  std::string last_error() const {
    return "libsrtp2 error " + std::to_string(static_cast<int>(baseline_.last_error()));
  }

 private:
  Libsrtp2Baseline baseline_;
};

template <ImbManager kManager>
class CeilingImpl {
 public:
  bool init(srtp::Profile profile, bool /*outbound*/, std::string& error) {
    return ceiling_.init(profile, kManager, error);
  }
  bool reset(std::string& error) { return ceiling_.reset(error); }
  std::size_t protect(std::span<srtp::PacketView> p) noexcept { return ceiling_.protect(p); }
  std::size_t unprotect(std::span<srtp::PacketView> p) noexcept { return ceiling_.unprotect(p); }
  std::string last_error() const { return ceiling_.last_error(); }

 private:
  IpsecMbCeiling ceiling_;
};

// Protect: each iteration protects the next `burst` packets of one stream, so every index is
// new and no implementation needs allow_repeat_tx.
template <typename Impl>
void bm_protect(benchmark::State& state, Case c) {
  auto impl = std::make_unique<Impl>();
  std::string error;
  if (!impl->init(c.profile, /*outbound=*/true, error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  BurstBuffers buffers(c.burst, c.payload);
  uint16_t seq = kFirstSeq;
  for (auto _ : state) {
    buffers.next_plaintext(seq);
    if (impl->protect(buffers.views()) != c.burst) {
      error = impl->last_error();
      state.SkipWithError(error.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.burst));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.burst * c.payload));
}

// Unprotect: each iteration copies the next `burst` packets of the pre-protected ring into the
// working buffers and unprotects them. After a lap of the ring the receiver starts over on a
// fresh session (outside the timed region; the replay window would reject a second lap).
template <typename Impl>
void bm_unprotect(benchmark::State& state, Case c) {
  const PacketRing& ring = PacketRing::get(c.profile, c.payload);
  auto impl = std::make_unique<Impl>();
  std::string error;
  if (!impl->init(c.profile, /*outbound=*/false, error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  BurstBuffers buffers(c.burst, c.payload);
  std::size_t next = 0;
  for (auto _ : state) {
    if (next == kRingPackets) {
      state.PauseTiming();
      const bool ok = impl->reset(error);
      next = 0;
      state.ResumeTiming();
      if (!ok) {
        state.SkipWithError(error.c_str());
        break;
      }
    }
    ring.copy_into(next, buffers);
    next += c.burst;
    if (impl->unprotect(buffers.views()) != c.burst) {
      error = impl->last_error();
      state.SkipWithError(error.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.burst));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.burst * c.payload));
}

// The copy the unprotect cases include, alone: subtract it to see the unprotect cost proper.
void bm_memcpy_baseline(benchmark::State& state, Case c) {
  const PacketRing& ring = PacketRing::get(c.profile, c.payload);
  BurstBuffers buffers(c.burst, c.payload);
  std::size_t next = 0;
  for (auto _ : state) {
    if (next == kRingPackets) {
      next = 0;
    }
    ring.copy_into(next, buffers);
    next += c.burst;
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.burst));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.burst * c.payload));
}

std::string case_name(const char* op, const Case& c) {
  return std::string(op) + "/" + std::string(srtp::name(c.profile)) + "/" +
         std::to_string(c.payload) + "/" + std::to_string(c.burst);
}

template <typename Fn>
void add(const char* op, const Case& c, Fn fn) {
  benchmark::RegisterBenchmark(case_name(op, c).c_str(), fn, c);
}

// The implementations of one case are registered next to each other so that they run close
// together in time: on a shared machine the ratios are steadier than the absolute numbers.
void register_all() {
  using crypto::Backend;
  for (const srtp::Profile profile : srtp::kAllProfiles) {
    for (const std::size_t payload : kPayloads) {
      for (const std::size_t burst : kBursts) {
        const Case c{profile, payload, burst};
        add("srtpgate_protect", c, bm_protect<SrtpgateImpl<Backend::ipsecmb>>);
        add("srtpgate_openssl_protect", c, bm_protect<SrtpgateImpl<Backend::openssl>>);
        add("libsrtp2_protect", c, bm_protect<Libsrtp2Impl>);
        add("ceiling_protect", c, bm_protect<CeilingImpl<ImbManager::automatic>>);
        add("ceiling_sse_protect", c, bm_protect<CeilingImpl<ImbManager::sse>>);
        if (!srtp::params(profile).aead) {
          add("ceiling_burst_protect", c,
              bm_protect<CeilingImpl<ImbManager::automatic_burst_api>>);
        }
        add("srtpgate_unprotect", c, bm_unprotect<SrtpgateImpl<Backend::ipsecmb>>);
        add("srtpgate_openssl_unprotect", c, bm_unprotect<SrtpgateImpl<Backend::openssl>>);
        add("libsrtp2_unprotect", c, bm_unprotect<Libsrtp2Impl>);
        add("ceiling_unprotect", c, bm_unprotect<CeilingImpl<ImbManager::automatic>>);
        add("ceiling_sse_unprotect", c, bm_unprotect<CeilingImpl<ImbManager::sse>>);
        if (!srtp::params(profile).aead) {
          add("ceiling_burst_unprotect", c,
              bm_unprotect<CeilingImpl<ImbManager::automatic_burst_api>>);
        }
        add("memcpy_baseline", c, bm_memcpy_baseline);
      }
    }
  }
}

}  // namespace
}  // namespace srtpgate::bench

int main(int argc, char** argv) {
  srtpgate::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
