// The IPsec-MB backend against the OpenSSL backend on the same random traffic: random profiles,
// MKIs, rekeys, burst sizes, packet sizes, sequence jumps, short buffers and malformed input on
// the way out; loss, duplicates, replays, bit flips and truncation on the way in. Both must give
// the same status for every packet and the same bytes for every packet that passed, and what
// passed on the way in must be what went out.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <iterator>
#include <string>
#include <vector>

#include "packet_builders.h"
#include "srtpgate/session.h"

namespace srtpgate::srtp {
namespace {

using testutil::Bytes;
using testutil::ExactBuffer;
using testutil::Rng;
using testutil::chance;
using testutil::uniform;

constexpr uint64_t kSeed = 0xd1ff'e2e0'7a1c'0005ull;
constexpr uint64_t kMinPackets = 100000;

struct Sent {
  uint32_t id = 0;
  bool rtcp = false;
  Bytes plain;
  Bytes wire;
};

enum class Kind : uint8_t { original, duplicate, flipped, truncated, history };

struct Delivery {
  const Sent* src = nullptr;
  Kind kind = Kind::original;
  Bytes bytes;
};

struct Tally {
  uint64_t count = 0;
  std::string first;
  void add(const std::string& what) {
    if (count++ == 0) first = what;
  }
};

void fill(Rng& rng, uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 8) {
    const uint64_t r = rng();
    for (std::size_t k = 0; k < 8 && i + k < n; ++k) p[i + k] = static_cast<uint8_t>(r >> (8 * k));
  }
}

class DifferentialRun {
 public:
  explicit DifferentialRun(uint64_t seed) : rng_(seed) {
    mb_ = testutil::engine_for(crypto::Backend::ipsecmb);
    os_ = testutil::engine_for(crypto::Backend::openssl);
  }

  void run() {
    ASSERT_TRUE(mb_ && os_);
    while (packets_ < kMinPackets) {
      epoch();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  uint64_t packets_ = 0;
  uint64_t epochs_ = 0;
  std::array<uint64_t, kStatusCount> protect_status_{};
  std::array<uint64_t, kStatusCount> unprotect_status_{};
  uint64_t originals_ = 0;
  uint64_t originals_ok_ = 0;
  Tally status_mismatch_, byte_mismatch_, wrong_plain_, forged_ok_, twice_ok_, odd_status_;

 private:
  struct Side {
    std::unique_ptr<Session> tx, rx;
  };
  struct Ssrc {
    uint32_t ssrc;
    uint64_t next;
  };

  void epoch() {
    ++epochs_;
    profile_ = kAllProfiles[rng_() % std::size(kAllProfiles)];
    const std::size_t mki_len = chance(rng_, 30) ? uniform(rng_, 1, 4) : 0;
    auto new_key = [&] {
      Bytes mki(mki_len);
      fill(rng_, mki.data(), mki.size());
      return testutil::random_key(rng_, profile_, mki);
    };
    std::vector<MasterKey> keys = {new_key()};
    if (mki_len > 0) {
      keys.push_back(new_key());
      while (keys[1].mki == keys[0].mki) keys[1] = new_key();
    }
    SessionConfig c;
    static constexpr uint32_t kWindows[] = {64, 128, 256, 1024};
    c.replay_window = kWindows[rng_() % 4];
    c.max_streams = 8;
    c.allow_repeat_tx = chance(rng_, 20);
    for (Side* s : {&mb_side_, &os_side_}) {
      const auto& engine = s == &mb_side_ ? mb_ : os_;
      s->tx = testutil::make_session(engine, profile_, Direction::outbound, keys[0], c);
      s->rx = testutil::make_session(engine, profile_, Direction::inbound, keys[0], c);
      ASSERT_TRUE(s->tx && s->rx);
      for (std::size_t k = 1; k < keys.size(); ++k) {
        ASSERT_TRUE(s->tx->add_key(keys[k]));
        ASSERT_TRUE(s->rx->add_key(keys[k]));
      }
    }
    ssrcs_.clear();
    const uint32_t n_ssrc = uniform(rng_, 1, 4);
    for (uint32_t i = 0; i < n_ssrc; ++i) {
      Ssrc s{static_cast<uint32_t>(rng_()), rng_() % 65536};
      if (chance(rng_, 30)) {
        const uint32_t roc = uniform(rng_, 1, 1000);
        s.next += uint64_t{roc} << 16;
        for (Side* side : {&mb_side_, &os_side_}) {
          ASSERT_TRUE(side->tx->set_roc(s.ssrc, roc));
          ASSERT_TRUE(side->rx->set_roc(s.ssrc, roc));
        }
      }
      ssrcs_.push_back(s);
    }
    history_.clear();
    sent_.clear();
    const uint32_t bursts = uniform(rng_, 20, 60);
    for (uint32_t b = 0; b < bursts; ++b) {
      if (chance(rng_, 3)) {
        // A rekey on both ends between bursts (RFC 3711 §3.3.1: the index carries on).
        keys.assign(1, new_key());
        for (Side* side : {&mb_side_, &os_side_}) {
          ASSERT_TRUE(side->tx->rekey(keys[0]));
          ASSERT_TRUE(side->rx->rekey(keys[0]));
        }
      } else if (keys.size() > 1 && chance(rng_, 5)) {
        const auto& mki = keys[rng_() % keys.size()].mki;
        ASSERT_TRUE(mb_side_.tx->set_active_key(mki));
        ASSERT_TRUE(os_side_.tx->set_active_key(mki));
      }
      burst(chance(rng_, 15));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  std::string label(const Sent& s) const {
    return std::string(name(profile_)) + (s.rtcp ? " RTCP" : " RTP") + " packet " +
           std::to_string(s.id) + " (epoch " + std::to_string(epochs_) + ", plain " +
           testutil::hex(s.plain) + ")";
  }

  Bytes make_plain(bool rtcp) {
    Ssrc& s = ssrcs_[rng_() % ssrcs_.size()];
    Bytes p;
    if (rtcp) {
      p = testutil::build_rtcp(rng_, s.ssrc);
    } else {
      uint64_t idx;
      const uint32_t r = uniform(rng_, 0, 99);
      if (r < 85) {
        idx = s.next++;
      } else if (r < 90) {
        idx = s.next > 300 ? s.next - uniform(rng_, 1, 300) : s.next++;  // a resend or a replay
      } else if (r < 95) {
        s.next += uniform(rng_, 1, 3000);
        idx = s.next++;
      } else {
        idx = s.next + uniform(rng_, 1, 20);
      }
      const uint32_t payload = chance(rng_, 50) ? uniform(rng_, 0, 200) : uniform(rng_, 0, 1400);
      testutil::RtpShape shape = testutil::random_shape(rng_, 0);
      shape.payload_len = payload;
      shape.padding = payload > 0 && chance(rng_, 10);
      p = testutil::build_rtp(rng_, s.ssrc, static_cast<uint16_t>(idx), 0, shape);
    }
    if (chance(rng_, 3)) {  // malformed on purpose
      if (chance(rng_, 50)) {
        p.resize(uniform(rng_, 0, rtcp ? 7 : 11));
      } else {
        p[0] ^= 0xc0;  // version 1
      }
    }
    return p;
  }

  void burst(bool rtcp) {
    const std::size_t n = uniform(rng_, 1, 100);
    std::vector<Sent> out(n);
    std::vector<ExactBuffer> bm, bo;
    bm.reserve(n);
    bo.reserve(n);
    std::vector<PacketView> vm, vo;
    const std::size_t overhead = rtcp ? mb_side_.tx->rtcp_overhead() : mb_side_.tx->rtp_overhead();
    for (std::size_t i = 0; i < n; ++i) {
      out[i].id = next_id_++;
      out[i].rtcp = rtcp;
      out[i].plain = make_plain(rtcp);
      const std::size_t cap =
          out[i].plain.size() + (chance(rng_, 5) ? rng_() % overhead : overhead);
      bm.emplace_back(out[i].plain, cap);
      bo.emplace_back(out[i].plain, cap);
      vm.push_back(bm.back().view());
      vo.push_back(bo.back().view());
    }
    std::vector<Status> sm(n, Status::count_), so(n, Status::count_);
    const std::size_t okm =
        rtcp ? mb_side_.tx->protect_rtcp(vm, sm) : mb_side_.tx->protect_rtp(vm, sm);
    const std::size_t oko =
        rtcp ? os_side_.tx->protect_rtcp(vo, so) : os_side_.tx->protect_rtp(vo, so);
    EXPECT_EQ(okm, oko);
    packets_ += n;
    std::vector<const Sent*> passed;
    for (std::size_t i = 0; i < n; ++i) {
      ++protect_status_[static_cast<std::size_t>(sm[i])];
      if (sm[i] != so[i]) {
        status_mismatch_.add("protect: ipsecmb " + std::string(name(sm[i])) + ", openssl " +
                             std::string(name(so[i])) + " on " + label(out[i]));
        continue;
      }
      if (sm[i] != Status::ok) continue;
      if (vm[i].len != vo[i].len || !std::equal(vm[i].data, vm[i].data + vm[i].len, vo[i].data)) {
        byte_mismatch_.add("protect: " + label(out[i]) + ": ipsecmb " +
                           testutil::hex(vm[i].data, vm[i].len) + " vs openssl " +
                           testutil::hex(vo[i].data, vo[i].len));
        continue;
      }
      out[i].wire.assign(vm[i].data, vm[i].data + vm[i].len);
      sent_.push_back(std::move(out[i]));
      passed.push_back(&sent_.back());
    }

    // The way in: loss, duplicates, flips, truncation, replays of older bursts, reordering.
    std::vector<Delivery> in;
    for (const Sent* s : passed) {
      if (chance(rng_, 4)) continue;
      in.push_back({s, Kind::original, s->wire});
      if (chance(rng_, 5)) in.push_back({s, Kind::duplicate, s->wire});
      if (chance(rng_, 5)) {
        Bytes f = s->wire;
        f[rng_() % f.size()] ^= static_cast<uint8_t>(1u << (rng_() % 8));
        in.push_back({s, Kind::flipped, f});
      }
      if (chance(rng_, 3)) {
        Bytes t(s->wire.begin(),
                s->wire.begin() + static_cast<std::ptrdiff_t>(rng_() % s->wire.size()));
        in.push_back({s, Kind::truncated, t});
      }
    }
    for (int k = 0; k < 3 && !history_.empty(); ++k) {
      if (chance(rng_, 30)) {
        const Sent* h = history_[rng_() % history_.size()];
        if (h->rtcp == rtcp) in.push_back({h, Kind::history, h->wire});
      }
    }
    for (std::size_t i = 0; i + 1 < in.size(); ++i) {
      if (chance(rng_, 15)) {
        const std::size_t j = std::min(in.size() - 1, i + uniform(rng_, 1, 8));
        std::rotate(in.begin() + static_cast<std::ptrdiff_t>(i),
                    in.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    in.begin() + static_cast<std::ptrdiff_t>(j) + 1);
      }
    }
    unprotect(in, rtcp);
    for (const Sent* s : passed) {
      history_.push_back(s);
      if (history_.size() > 256) history_.pop_front();
    }
  }

  void unprotect(const std::vector<Delivery>& in, bool rtcp) {
    const std::size_t n = in.size();
    std::vector<ExactBuffer> bm, bo;
    bm.reserve(n);
    bo.reserve(n);
    std::vector<PacketView> vm, vo;
    for (const auto& d : in) {
      bm.emplace_back(d.bytes, d.bytes.size());
      bo.emplace_back(d.bytes, d.bytes.size());
      vm.push_back(bm.back().view());
      vo.push_back(bo.back().view());
    }
    std::vector<Status> sm(n, Status::count_), so(n, Status::count_);
    if (rtcp) {
      mb_side_.rx->unprotect_rtcp(vm, sm);
      os_side_.rx->unprotect_rtcp(vo, so);
    } else {
      mb_side_.rx->unprotect_rtp(vm, sm);
      os_side_.rx->unprotect_rtp(vo, so);
    }
    for (std::size_t i = 0; i < n; ++i) {
      const Delivery& d = in[i];
      ++unprotect_status_[static_cast<std::size_t>(sm[i])];
      if (sm[i] != so[i]) {
        status_mismatch_.add("unprotect: ipsecmb " + std::string(name(sm[i])) + ", openssl " +
                             std::string(name(so[i])) + " on " + label(*d.src) + " kind " +
                             std::to_string(static_cast<int>(d.kind)) + " bytes " +
                             testutil::hex(d.bytes));
        continue;
      }
      if (d.kind == Kind::original) {
        ++originals_;
        if (sm[i] == Status::ok) {
          ++originals_ok_;
        } else if (sm[i] != Status::replay_old && sm[i] != Status::replay_duplicate) {
          odd_status_.add(std::string(name(sm[i])) + " on an untouched " + label(*d.src));
        }
      }
      if (sm[i] != Status::ok) continue;
      if (d.kind == Kind::flipped || d.kind == Kind::truncated) {
        forged_ok_.add("a " + std::string(d.kind == Kind::flipped ? "flipped" : "truncated") +
                       " copy passed: " + label(*d.src) + " bytes " + testutil::hex(d.bytes));
        continue;
      }
      if (vm[i].len != vo[i].len || !std::equal(vm[i].data, vm[i].data + vm[i].len, vo[i].data)) {
        byte_mismatch_.add("unprotect: " + label(*d.src));
        continue;
      }
      if (vm[i].len != d.src->plain.size() ||
          !std::equal(d.src->plain.begin(), d.src->plain.end(), vm[i].data)) {
        wrong_plain_.add(label(*d.src) + ": " +
                         testutil::first_difference(d.src->plain, vm[i].data, vm[i].len));
      }
      if (++accepted_[d.src->id] > 1) {
        twice_ok_.add("accepted twice: " + label(*d.src));
      }
    }
  }

  Rng rng_;
  std::shared_ptr<crypto::Engine> mb_, os_;
  Profile profile_{};
  Side mb_side_, os_side_;
  std::vector<Ssrc> ssrcs_;
  std::deque<Sent> sent_;  // stable addresses for the history
  std::deque<const Sent*> history_;
  std::vector<uint8_t> accepted_ = std::vector<uint8_t>(1u << 22);
  uint32_t next_id_ = 0;
};

TEST(Differential, IpsecMbAndOpensslAgreeOnRandomTraffic) {
  std::printf("[ differential ] seed 0x%016llx\n", static_cast<unsigned long long>(kSeed));
  ::testing::Test::RecordProperty("seed", std::to_string(kSeed));
  auto run = std::make_unique<DifferentialRun>(kSeed);
  run->run();
  std::printf("[ differential ] %llu packets out in %llu epochs\n",
              static_cast<unsigned long long>(run->packets_),
              static_cast<unsigned long long>(run->epochs_));
  for (std::size_t s = 0; s < kStatusCount; ++s) {
    if (run->protect_status_[s] + run->unprotect_status_[s] > 0) {
      std::printf("[ differential ]   %-17s protect %7llu  unprotect %7llu\n",
                  std::string(name(static_cast<Status>(s))).c_str(),
                  static_cast<unsigned long long>(run->protect_status_[s]),
                  static_cast<unsigned long long>(run->unprotect_status_[s]));
    }
  }
  ASSERT_GE(run->packets_, kMinPackets);
  EXPECT_EQ(run->status_mismatch_.count, 0u) << run->status_mismatch_.first;
  EXPECT_EQ(run->byte_mismatch_.count, 0u) << run->byte_mismatch_.first;
  EXPECT_EQ(run->wrong_plain_.count, 0u) << run->wrong_plain_.first;
  EXPECT_EQ(run->forged_ok_.count, 0u) << run->forged_ok_.first;
  EXPECT_EQ(run->twice_ok_.count, 0u) << run->twice_ok_.first;
  EXPECT_EQ(run->odd_status_.count, 0u) << run->odd_status_.first;
  // The traffic must mostly pass, or the comparison above says little.
  EXPECT_GT(run->originals_ok_ * 100, run->originals_ * 85)
      << run->originals_ok_ << " of " << run->originals_ << " untouched packets passed";
  for (Status s : {Status::ok, Status::malformed, Status::no_tailroom}) {
    EXPECT_GT(run->protect_status_[static_cast<std::size_t>(s)], 0u) << name(s);
  }
  for (Status s : {Status::ok, Status::auth_failure, Status::replay_duplicate, Status::malformed}) {
    EXPECT_GT(run->unprotect_status_[static_cast<std::size_t>(s)], 0u) << name(s);
  }
}

}  // namespace
}  // namespace srtpgate::srtp
