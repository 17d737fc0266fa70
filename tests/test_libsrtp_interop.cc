// Bit-exact interop with Debian's libsrtp2, the independent implementation: for every profile
// and both backends, srtpgate's protected bytes equal libsrtp2's for the same input, and each
// side unprotects what the other protected back to the original bytes. RTP runs over three
// sequence-number wraps with loss and reordering inside the window; RTCP uses compound packets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <tuple>
#include <vector>

#include "libsrtp_oracle.h"
#include "packet_builders.h"
#include "srtpgate/rtp.h"
#include "srtpgate/session.h"

namespace srtpgate::srtp {
namespace {

using oracle::LibsrtpOracle;
using oracle::OracleConfig;
using oracle::OracleKey;
using testutil::Bytes;
using testutil::ExactBuffer;
using testutil::Rng;
using testutil::chance;
using testutil::uniform;

constexpr uint64_t kSeed = 0x5a7e11b5'2024'0001ull;
constexpr uint32_t kWindow = 128;

struct Item {
  uint32_t ssrc = 0;
  uint64_t index = 0;   // 2^16 * ROC + SEQ
  bool droppable = false;
  Bytes plain;
  Bytes ours;    // srtpgate's protected bytes
  Bytes theirs;  // libsrtp2's protected bytes
};

// Mismatches are counted and the first one described, so one run shows how widespread a
// failure is without printing thousands of lines.
struct Tally {
  uint64_t count = 0;
  std::string first;
  void add(const std::string& what) {
    if (count++ == 0) first = what;
  }
};

// The packet indices one SSRC sends: a dense run, then jumps of at most 25000 (well inside the
// 2^15 the index estimate of RFC 3711 §3.3.1 tolerates) up to just before each wrap, and a
// dense run across it. Only packets inside dense runs may be lost.
std::vector<std::pair<uint64_t, bool>> schedule(Rng& rng, uint32_t wraps) {
  std::vector<std::pair<uint64_t, bool>> out;
  uint64_t i = uniform(rng, 1000, 20000);
  auto dense = [&](uint32_t n) {
    for (uint32_t k = 0; k < n; ++k) out.emplace_back(i++, k > 0 && k + 1 < n);
  };
  dense(800);
  for (uint64_t w = 1; w <= wraps; ++w) {
    const uint64_t target = (w << 16) - uniform(rng, 100, 300);
    while (target - i > 25000) {
      i += uniform(rng, 15000, 25000);
      out.emplace_back(i++, false);
    }
    i = target;
    dense(600);
  }
  dense(100);
  return out;
}

// Loses about 3% of the droppable packets and moves about 10% up to 6 places later, never past
// a packet of the same SSRC more than 64 indices away, so everything stays inside the window.
std::vector<const Item*> network(Rng& rng, const std::vector<Item>& sent) {
  std::vector<const Item*> out;
  for (const auto& it : sent) {
    if (!(it.droppable && chance(rng, 3))) out.push_back(&it);
  }
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    if (!chance(rng, 10)) continue;
    const std::size_t j = std::min(out.size() - 1, i + uniform(rng, 1, 6));
    bool ok = true;
    for (std::size_t k = i + 1; k <= j; ++k) {
      if (out[k]->ssrc == out[i]->ssrc &&
          (out[k]->index > out[i]->index ? out[k]->index - out[i]->index
                                         : out[i]->index - out[k]->index) >= 64) {
        ok = false;
      }
    }
    if (ok) std::rotate(out.begin() + i, out.begin() + i + 1, out.begin() + j + 1);
  }
  return out;
}

std::string where(const Item& it, bool rtcp) {
  return std::string(rtcp ? "RTCP" : "RTP") + " ssrc=" + std::to_string(it.ssrc) +
         (rtcp ? " n=" : " index=") + std::to_string(it.index) +
         " (roc=" + std::to_string(it.index >> 16) + " seq=" + std::to_string(it.index & 0xffff) +
         ") plain_len=" + std::to_string(it.plain.size());
}

class LibsrtpInterop
    : public ::testing::TestWithParam<std::tuple<crypto::Backend, Profile>> {
 protected:
  void SetUp() override {
    backend_ = std::get<0>(GetParam());
    profile_ = std::get<1>(GetParam());
    engine_ = testutil::engine_for(backend_);
    ASSERT_NE(engine_, nullptr);
    rng_.seed(kSeed ^ (static_cast<uint64_t>(backend_) << 8) ^ static_cast<uint64_t>(profile_));
  }

  std::unique_ptr<Session> ours(Direction d, const MasterKey& k) {
    SessionConfig c;
    c.replay_window = kWindow;
    return testutil::make_session(engine_, profile_, d, k, c);
  }
  std::unique_ptr<LibsrtpOracle> theirs(bool outbound, std::span<const OracleKey> keys,
                                        std::optional<uint32_t> ssrc = std::nullopt) {
    OracleConfig c;
    c.profile = profile_;
    c.outbound = outbound;
    c.window_size = kWindow;
    c.ssrc = ssrc;
    auto o = LibsrtpOracle::create(c, keys);
    EXPECT_TRUE(o) << o.message();
    return o ? std::move(o.value()) : nullptr;
  }

  // Protects `items` on both sides in random bursts (some longer than Session::kMaxBurst) and
  // compares the bytes. `mki_index` is the libsrtp2 key matching srtpgate's active key.
  void protect_all(Session& tx, LibsrtpOracle& ltx, std::vector<Item>& items, bool rtcp,
                   Tally& mismatch, Tally& failure,
                   const std::vector<unsigned>* mki_index = nullptr) {
    std::size_t at = 0;
    while (at < items.size()) {
      const std::size_t n = std::min<std::size_t>(items.size() - at, uniform(rng_, 1, 80));
      std::vector<ExactBuffer> bufs;
      bufs.reserve(n);
      std::vector<PacketView> views;
      for (std::size_t k = 0; k < n; ++k) {
        Item& it = items[at + k];
        const std::size_t overhead = rtcp ? tx.rtcp_overhead() : tx.rtp_overhead();
        bufs.emplace_back(it.plain, it.plain.size() + overhead);
        views.push_back(bufs.back().view());
        it.theirs = it.plain;
        const unsigned mi = mki_index ? (*mki_index)[at + k] : 0;
        const auto ls = rtcp ? ltx.protect_rtcp(it.theirs, mi) : ltx.protect_rtp(it.theirs, mi);
        if (ls != srtp_err_status_ok) {
          failure.add("libsrtp2 protect failed with " + std::to_string(ls) + " on " +
                      where(it, rtcp));
          it.theirs.clear();
        }
      }
      std::vector<Status> st(n, Status::count_);
      const std::size_t good = rtcp ? tx.protect_rtcp(views, st) : tx.protect_rtp(views, st);
      EXPECT_EQ(good, static_cast<std::size_t>(std::count(st.begin(), st.end(), Status::ok)));
      for (std::size_t k = 0; k < n; ++k) {
        Item& it = items[at + k];
        if (st[k] != Status::ok) {
          failure.add("srtpgate protect gave " + std::string(name(st[k])) + " on " +
                      where(it, rtcp));
          continue;
        }
        it.ours.assign(views[k].data, views[k].data + views[k].len);
        if (!it.theirs.empty() && it.ours != it.theirs) {
          mismatch.add(where(it, rtcp) + ": libsrtp2 vs srtpgate " +
                       testutil::first_difference(it.theirs, it.ours.data(), it.ours.size()));
        }
      }
      at += n;
    }
  }

  // Each side unprotects what the other protected, in network order and random bursts.
  void unprotect_all(Session& rx, LibsrtpOracle& lrx, const std::vector<const Item*>& order,
                     bool rtcp, Tally& ours_failed, Tally& theirs_failed,
                     bool oracle_unprotects = true) {
    std::size_t at = 0;
    while (at < order.size()) {
      const std::size_t n = std::min<std::size_t>(order.size() - at, uniform(rng_, 1, 80));
      std::vector<ExactBuffer> bufs;
      bufs.reserve(n);
      std::vector<PacketView> views;
      std::vector<const Item*> which;
      for (std::size_t k = 0; k < n; ++k) {
        const Item& it = *order[at + k];
        // srtpgate gets libsrtp2's bytes, in a block of exactly their length.
        if (!it.theirs.empty()) {
          bufs.emplace_back(it.theirs, it.theirs.size());
          views.push_back(bufs.back().view());
          which.push_back(&it);
        }
        // libsrtp2 gets srtpgate's bytes.
        if (!it.ours.empty() && oracle_unprotects) {
          Bytes b = it.ours;
          const auto ls = rtcp ? lrx.unprotect_rtcp(b) : lrx.unprotect_rtp(b);
          if (ls != srtp_err_status_ok) {
            theirs_failed.add("libsrtp2 unprotect of srtpgate's packet failed with " +
                              std::to_string(ls) + " on " + where(it, rtcp) + "\n  packet " +
                              testutil::hex(it.ours));
          } else if (b != it.plain) {
            theirs_failed.add("libsrtp2 recovered other bytes on " + where(it, rtcp) + ": " +
                              testutil::first_difference(it.plain, b.data(), b.size()));
          }
        }
      }
      std::vector<Status> st(views.size(), Status::count_);
      const std::size_t good = rtcp ? rx.unprotect_rtcp(views, st) : rx.unprotect_rtp(views, st);
      EXPECT_EQ(good, static_cast<std::size_t>(std::count(st.begin(), st.end(), Status::ok)));
      for (std::size_t k = 0; k < views.size(); ++k) {
        const Item& it = *which[k];
        if (st[k] != Status::ok) {
          ours_failed.add("srtpgate unprotect of libsrtp2's packet gave " +
                          std::string(name(st[k])) + " on " + where(it, rtcp) + "\n  packet " +
                          testutil::hex(it.theirs));
        } else if (views[k].len != it.plain.size() ||
                   !std::equal(it.plain.begin(), it.plain.end(), views[k].data)) {
          ours_failed.add("srtpgate recovered other bytes on " + where(it, rtcp) + ": " +
                          testutil::first_difference(it.plain, views[k].data, views[k].len));
        }
      }
      at += n;
    }
  }

  // RFC 3711 §3.4: the SRTCP index "MUST be set to zero before the first SRTCP packet is sent,
  // and MUST be incremented by one ... after each SRTCP packet is sent", so srtpgate's first
  // packet carries index 0. libsrtp2 2.5 increments before sending (srtp_rdb_increment), so its
  // first packet carries index 1. Check srtpgate's index 0, then spend it, so that from here on
  // both number alike and the bytes can be compared exactly.
  void align_srtcp_index(Session& tx, uint32_t ssrc, std::size_t mki_len = 0) {
    Bytes p = testutil::build_rtcp(rng_, ssrc);
    ASSERT_EQ(testutil::run_one(tx, testutil::Op::protect_rtcp, p), Status::ok);
    const auto pp = params(profile_);
    const std::size_t at = p.size() - mki_len - 4 - (pp.aead ? 0 : pp.rtcp_tag_len);
    EXPECT_EQ(testutil::get_be32(&p[at]), 0x80000000u) << "first SRTCP packet: E=1, index 0";
  }

  std::vector<Item> rtp_items(const std::vector<uint32_t>& ssrcs, uint32_t wraps) {
    std::vector<std::deque<std::pair<uint64_t, bool>>> per;
    for (std::size_t s = 0; s < ssrcs.size(); ++s) {
      auto v = schedule(rng_, wraps);
      per.emplace_back(v.begin(), v.end());
    }
    std::vector<Item> items;
    uint32_t counter = static_cast<uint32_t>(rng_() % 1401);
    for (;;) {
      std::vector<std::size_t> live;
      for (std::size_t s = 0; s < per.size(); ++s) {
        if (!per[s].empty()) live.push_back(s);
      }
      if (live.empty()) break;
      const std::size_t s = live[rng_() % live.size()];
      Item it;
      it.ssrc = ssrcs[s];
      it.index = per[s].front().first;
      it.droppable = per[s].front().second;
      per[s].pop_front();
      // Every payload size from 0 to 1400 comes up (the counter runs over all residues).
      const uint32_t payload = counter++ % 1401;
      it.plain = testutil::build_rtp(rng_, it.ssrc, static_cast<uint16_t>(it.index),
                                     static_cast<uint32_t>(it.index * 160),
                                     testutil::random_shape(rng_, payload));
      items.push_back(std::move(it));
    }
    return items;
  }

  std::vector<Item> rtcp_items(const std::vector<uint32_t>& ssrcs, uint32_t per_ssrc) {
    std::vector<Item> items;
    std::vector<uint64_t> n(ssrcs.size(), 0);
    for (uint32_t k = 0; k < per_ssrc * ssrcs.size(); ++k) {
      std::size_t s = rng_() % ssrcs.size();
      while (n[s] == per_ssrc) s = (s + 1) % ssrcs.size();
      Item it;
      it.ssrc = ssrcs[s];
      it.index = n[s]++;
      it.droppable = true;
      it.plain = testutil::build_rtcp(rng_, it.ssrc);
      items.push_back(std::move(it));
    }
    return items;
  }

  crypto::Backend backend_{};
  Profile profile_{};
  std::shared_ptr<crypto::Engine> engine_;
  Rng rng_;
};

TEST_P(LibsrtpInterop, RtpBitExactBothWaysOverThreeWrapsWithLossAndReordering) {
  const MasterKey key = testutil::random_key(rng_, profile_);
  const OracleKey okey{testutil::key_salt_of(key), {}};
  auto tx = ours(Direction::outbound, key);
  auto rx = ours(Direction::inbound, key);
  auto ltx = theirs(true, {&okey, 1});
  auto lrx = theirs(false, {&okey, 1});
  ASSERT_TRUE(tx && rx && ltx && lrx);

  const std::vector<uint32_t> ssrcs = {static_cast<uint32_t>(rng_()),
                                       static_cast<uint32_t>(rng_())};
  std::vector<Item> items = rtp_items(ssrcs, 3);
  std::vector<bool> sizes(1401);
  for (const auto& it : items) {
    const auto h = rtp::parse_header(it.plain);
    ASSERT_TRUE(h.has_value());
    sizes[it.plain.size() - h->header_len] = true;
  }
  ASSERT_EQ(std::count(sizes.begin(), sizes.end(), true), 1401) << "test did not cover every size";

  Tally mismatch, protect_failed, ours_failed, theirs_failed;
  protect_all(*tx, *ltx, items, false, mismatch, protect_failed);
  const auto order = network(rng_, items);
  unprotect_all(*rx, *lrx, order, false, ours_failed, theirs_failed);

  EXPECT_EQ(protect_failed.count, 0u) << protect_failed.first;
  EXPECT_EQ(mismatch.count, 0u) << "of " << items.size() << " packets; first: " << mismatch.first;
  EXPECT_EQ(ours_failed.count, 0u) << "of " << order.size() << "; first: " << ours_failed.first;
  EXPECT_EQ(theirs_failed.count, 0u) << "of " << order.size() << "; first: " << theirs_failed.first;
  for (uint32_t ssrc : ssrcs) {
    EXPECT_EQ(tx->roc(ssrc), std::optional<uint32_t>(3)) << ssrc;
    EXPECT_EQ(rx->roc(ssrc), std::optional<uint32_t>(3)) << ssrc;
    EXPECT_EQ(ltx->roc(ssrc), std::optional<uint32_t>(3)) << ssrc;
    EXPECT_EQ(lrx->roc(ssrc), std::optional<uint32_t>(3)) << ssrc;
  }
  EXPECT_EQ(rx->stream_count(), ssrcs.size());
  EXPECT_EQ(rx->stats().rtp[static_cast<std::size_t>(Status::ok)],
            order.size() - ours_failed.count);
}

TEST_P(LibsrtpInterop, RtcpCompoundBitExactBothWaysWithLossAndReordering) {
  const MasterKey key = testutil::random_key(rng_, profile_);
  const OracleKey okey{testutil::key_salt_of(key), {}};
  auto tx = ours(Direction::outbound, key);
  auto rx = ours(Direction::inbound, key);
  auto ltx = theirs(true, {&okey, 1});
  auto lrx = theirs(false, {&okey, 1});
  ASSERT_TRUE(tx && rx && ltx && lrx);

  const std::vector<uint32_t> ssrcs = {static_cast<uint32_t>(rng_()), static_cast<uint32_t>(rng_()),
                                       static_cast<uint32_t>(rng_())};
  std::vector<Item> items = rtcp_items(ssrcs, 200);
  for (uint32_t ssrc : ssrcs) {
    align_srtcp_index(*tx, ssrc);
  }
  for (const auto& it : items) {
    ASSERT_TRUE(rtcp::validate_compound(it.plain).has_value()) << testutil::hex(it.plain);
  }
  Tally mismatch, protect_failed, ours_failed, theirs_failed;
  protect_all(*tx, *ltx, items, true, mismatch, protect_failed);
  const auto order = network(rng_, items);
  unprotect_all(*rx, *lrx, order, true, ours_failed, theirs_failed);

  EXPECT_EQ(protect_failed.count, 0u) << protect_failed.first;
  EXPECT_EQ(mismatch.count, 0u) << "of " << items.size() << " packets; first: " << mismatch.first;
  EXPECT_EQ(ours_failed.count, 0u) << "of " << order.size() << "; first: " << ours_failed.first;
  EXPECT_EQ(theirs_failed.count, 0u) << "of " << order.size() << "; first: " << theirs_failed.first;
  EXPECT_EQ(rx->stats().rtcp[static_cast<std::size_t>(Status::ok)],
            order.size() - ours_failed.count);
}

// RFC 3711 §3.1 MKI: two keys with 4-byte MKIs; the sender switches keys half way.
TEST_P(LibsrtpInterop, MkiSelectsTheSameKeyOnBothSides) {
  const Bytes mki1 = {0x00, 0x00, 0x00, 0x01};
  const Bytes mki2 = {0xA5, 0x5A, 0x00, 0x02};
  const MasterKey k1 = testutil::random_key(rng_, profile_, mki1);
  const MasterKey k2 = testutil::random_key(rng_, profile_, mki2);
  const OracleKey okeys[] = {{testutil::key_salt_of(k1), mki1}, {testutil::key_salt_of(k2), mki2}};
  auto tx = ours(Direction::outbound, k1);
  auto rx = ours(Direction::inbound, k1);
  ASSERT_TRUE(tx && rx);
  ASSERT_TRUE(tx->add_key(k2));
  ASSERT_TRUE(rx->add_key(k2));
  auto ltx = theirs(true, okeys);
  auto lrx = theirs(false, okeys);
  ASSERT_TRUE(ltx && lrx);

  for (bool rtcp : {false, true}) {
    SCOPED_TRACE(rtcp ? "RTCP" : "RTP");
    const uint32_t ssrc = static_cast<uint32_t>(rng_());
    std::vector<Item> items = rtcp ? rtcp_items({ssrc}, 200) : rtp_items({ssrc}, 0);
    items.resize(std::min<std::size_t>(items.size(), 400));
    if (rtcp) {
      align_srtcp_index(*tx, ssrc, mki1.size());
    }
    const std::size_t half = items.size() / 2;
    std::vector<unsigned> mki_index(items.size(), 0);
    std::fill(mki_index.begin() + half, mki_index.end(), 1u);
    ASSERT_TRUE(tx->set_active_key(mki1));
    std::vector<Item> first(items.begin(), items.begin() + half);
    std::vector<Item> second(items.begin() + half, items.end());
    Tally mismatch, protect_failed, ours_failed, theirs_failed;
    protect_all(*tx, *ltx, first, rtcp, mismatch, protect_failed, &mki_index);
    ASSERT_TRUE(tx->set_active_key(mki2));
    std::vector<unsigned> ones(second.size(), 1u);
    protect_all(*tx, *ltx, second, rtcp, mismatch, protect_failed, &ones);
    items = std::move(first);
    items.insert(items.end(), second.begin(), second.end());
    for (std::size_t i = 0; i < items.size(); ++i) {
      // The MKI sits right before the tag (AES-CM, RFC 3711 §3.1) or at the very end (GCM,
      // RFC 7714 §8): check that both sides put the key's MKI there.
      const Bytes& mki = i < half ? mki1 : mki2;
      const auto& p = items[i].ours;
      const auto pp = params(profile_);
      const std::size_t tag = pp.aead ? 0 : (rtcp ? pp.rtcp_tag_len : pp.rtp_tag_len);
      ASSERT_GE(p.size(), tag + mki.size());
      EXPECT_TRUE(std::equal(mki.begin(), mki.end(), p.end() - tag - mki.size())) << i;
    }
    const auto order = network(rng_, items);
    // libsrtp2 2.5 finds the MKI of an SRTCP packet with the SRTP tag length
    // (srtp_get_session_keys() via srtp_unprotect_rtcp_mki()), 4 bytes for the _32 profiles
    // instead of SRTCP's 10, so it cannot unprotect MKI'd SRTCP of those profiles at all, its
    // own packets included (see DebianLibsrtpCannotReadItsOwnMkiSrtcpFor32BitTags). That
    // direction is left out there; the byte comparison above still covers the format.
    const auto pp = params(profile_);
    const bool oracle_mki_bug = rtcp && !pp.aead && pp.rtp_tag_len != pp.rtcp_tag_len;
    unprotect_all(*rx, *lrx, order, rtcp, ours_failed, theirs_failed, !oracle_mki_bug);
    EXPECT_EQ(protect_failed.count, 0u) << protect_failed.first;
    EXPECT_EQ(mismatch.count, 0u) << "of " << items.size() << "; first: " << mismatch.first;
    EXPECT_EQ(ours_failed.count, 0u) << "of " << order.size() << "; first: " << ours_failed.first;
    EXPECT_EQ(theirs_failed.count, 0u) << "of " << order.size() << "; first: "
                                       << theirs_failed.first;
  }
  const auto usage = rx->key_usage();
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_GT(usage[0].srtp_packets, 0u);
  EXPECT_GT(usage[1].srtp_packets, 0u);
}

// Session::set_roc and libsrtp2's srtp_set_stream_roc give the same packets, across a wrap.
TEST_P(LibsrtpInterop, SetRocMatchesSrtpSetStreamRoc) {
  for (uint32_t roc : {1u, 77u, 0xFFFFu, 0x12345u}) {
    SCOPED_TRACE("roc " + std::to_string(roc));
    const MasterKey key = testutil::random_key(rng_, profile_);
    const OracleKey okey{testutil::key_salt_of(key), {}};
    const uint32_t ssrc = static_cast<uint32_t>(rng_()) | 1;
    auto tx = ours(Direction::outbound, key);
    auto rx = ours(Direction::inbound, key);
    auto ltx = theirs(true, {&okey, 1}, ssrc);
    auto lrx = theirs(false, {&okey, 1}, ssrc);
    ASSERT_TRUE(tx && rx && ltx && lrx);
    ASSERT_TRUE(tx->set_roc(ssrc, roc));
    ASSERT_TRUE(rx->set_roc(ssrc, roc));
    ASSERT_EQ(ltx->set_roc(ssrc, roc), srtp_err_status_ok);
    ASSERT_EQ(lrx->set_roc(ssrc, roc), srtp_err_status_ok);

    std::vector<Item> items;
    const uint64_t start = (uint64_t{roc} << 16) + 65536 - uniform(rng_, 20, 60);
    for (uint64_t i = start; i < start + 120; ++i) {
      Item it;
      it.ssrc = ssrc;
      it.index = i;
      it.droppable = i != start;
      it.plain = testutil::build_rtp(rng_, ssrc, static_cast<uint16_t>(i), 0,
                                     testutil::random_shape(rng_, uniform(rng_, 0, 200)));
      items.push_back(std::move(it));
    }
    Tally mismatch, protect_failed, ours_failed, theirs_failed;
    protect_all(*tx, *ltx, items, false, mismatch, protect_failed);
    const auto order = network(rng_, items);
    unprotect_all(*rx, *lrx, order, false, ours_failed, theirs_failed);
    EXPECT_EQ(protect_failed.count, 0u) << protect_failed.first;
    EXPECT_EQ(mismatch.count, 0u) << "of " << items.size() << "; first: " << mismatch.first;
    EXPECT_EQ(ours_failed.count, 0u) << "of " << order.size() << "; first: " << ours_failed.first;
    EXPECT_EQ(theirs_failed.count, 0u) << "of " << order.size() << "; first: "
                                       << theirs_failed.first;
    EXPECT_EQ(tx->roc(ssrc), std::optional<uint32_t>(roc + 1));
    EXPECT_EQ(rx->roc(ssrc), std::optional<uint32_t>(roc + 1));
    EXPECT_EQ(ltx->roc(ssrc), std::optional<uint32_t>(roc + 1));
    EXPECT_EQ(lrx->roc(ssrc), std::optional<uint32_t>(roc + 1));
  }
}

// RFC 3711 §3.3.1: each packet's index is estimated from the highest index authenticated so
// far, including the packets before it in the same burst. Two small cases from libsrtp2: a burst
// across a wrap on a fresh stream, and a burst whose second packet is more than 2^15 past the
// stream's state before the burst but less than 2^15 past the first packet of the burst.
TEST_P(LibsrtpInterop, OneBurstCarriesTheIndexForward) {
  struct Case {
    const char* what;
    std::vector<uint16_t> before;  // delivered one by one first
    std::vector<uint16_t> burst;   // then in one burst
  };
  const Case cases[] = {
      {"wrap in the first burst", {}, {65534, 65535, 0, 1}},
      {"wrap in a later burst", {65530}, {65534, 65535, 0, 1}},
      {"two jumps in one burst", {1000}, {30000, 60000}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const MasterKey key = testutil::random_key(rng_, profile_);
    const OracleKey okey{testutil::key_salt_of(key), {}};
    auto rx = ours(Direction::inbound, key);
    auto ltx = theirs(true, {&okey, 1});
    ASSERT_TRUE(rx && ltx);
    const uint32_t ssrc = 0x600d;
    auto make = [&](uint16_t seq) {
      Bytes p = testutil::build_rtp(rng_, ssrc, seq, 0, testutil::random_shape(rng_, 20));
      EXPECT_EQ(ltx->protect_rtp(p), srtp_err_status_ok);
      return p;
    };
    for (uint16_t seq : c.before) {
      Bytes p = make(seq);
      ASSERT_EQ(testutil::run_one(*rx, testutil::Op::unprotect_rtp, p, p.size()), Status::ok);
    }
    std::vector<Bytes> packets;
    for (uint16_t seq : c.burst) packets.push_back(make(seq));
    std::vector<PacketView> views;
    for (auto& p : packets) {
      views.push_back(PacketView{p.data(), static_cast<uint32_t>(p.size()),
                                 static_cast<uint32_t>(p.size())});
    }
    std::vector<Status> st(views.size(), Status::count_);
    rx->unprotect_rtp(views, st);
    for (std::size_t i = 0; i < st.size(); ++i) {
      EXPECT_EQ(st[i], Status::ok) << "seq " << c.burst[i] << " (packet " << i << " of the burst)";
    }
    EXPECT_EQ(rx->roc(ssrc), ltx->roc(ssrc));
  }
}

// Documents the oracle limitation the MKI test works around: if a later libsrtp2 fixes it,
// this fails and the workaround can go.
TEST(LibsrtpOracle, DebianLibsrtpCannotReadItsOwnMkiSrtcpFor32BitTags) {
  Rng rng(kSeed);
  for (Profile profile : {Profile::aes_cm_128_hmac_sha1_32, Profile::aes_256_cm_hmac_sha1_32}) {
    const Bytes mki = {1, 2, 3, 4};
    const MasterKey k = testutil::random_key(rng, profile, mki);
    const OracleKey okey{testutil::key_salt_of(k), mki};
    OracleConfig c;
    c.profile = profile;
    auto ltx = LibsrtpOracle::create(c, okey);
    c.outbound = false;
    auto lrx = LibsrtpOracle::create(c, okey);
    ASSERT_TRUE(ltx && lrx);
    Bytes p = testutil::build_rtcp(rng, 99);
    ASSERT_EQ((*ltx)->protect_rtcp(p), srtp_err_status_ok);
    EXPECT_EQ((*lrx)->unprotect_rtcp(p), srtp_err_status_bad_mki) << name(profile);
  }
}

std::string param_name(const ::testing::TestParamInfo<LibsrtpInterop::ParamType>& info) {
  return std::string(crypto::name(std::get<0>(info.param))) + "_" +
         testutil::profile_label(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllProfiles, LibsrtpInterop,
                         ::testing::Combine(::testing::Values(crypto::Backend::ipsecmb,
                                                              crypto::Backend::openssl),
                                            ::testing::ValuesIn(kAllProfiles)),
                         param_name);

}  // namespace
}  // namespace srtpgate::srtp
