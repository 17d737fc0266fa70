// Bursts across sessions (protect_rtp_burst, unprotect_rtp_burst) against each session's own
// batch calls, and the hand-over operations a gateway worker uses with them (bind_engine,
// swap_keys). Every test runs over both crypto backends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "packet_builders.h"
#include "srtpgate/session.h"

namespace srtpgate::srtp {
namespace {

using testutil::Bytes;
using testutil::chance;
using testutil::Rng;
using testutil::uniform;

constexpr std::size_t kSlack = 64;  // tailroom past the largest overhead (MKI 4 + tag 16 + 4)

// One session of the mix: its profile and the policy that makes some failure reachable.
struct Spec {
  Profile profile;
  std::size_t mki_len = 0;    // 0: no MKI; else two keys, the sender switches between them
  uint32_t max_streams = 16;  // inbound; outbound has tx_max_streams
  bool accept_new = true;     // inbound: false adds all but the last SSRC up front
  bool repeat_tx = false;
  uint64_t lifetime = kMaxSrtpLifetime;
  std::vector<uint32_t> ssrcs;
  uint32_t preset_roc = 0;  // set_roc on the first SSRC, on both ends
  uint32_t tx_max_streams = 16;
};

// Twelve sessions over every profile: without and with MKIs (1, 2, 4 bytes), stream caps
// smaller than the SSRC count (one inbound, one outbound), a closed SSRC set, repeated
// transmission, a short key lifetime, and one SSRC (0x5555) that six sessions carry as six
// different streams.
std::vector<Spec> mix() {
  const uint32_t shared = 0x5555;
  return {
      {Profile::aes_cm_128_hmac_sha1_80,
       0,
       16,
       true,
       false,
       kMaxSrtpLifetime,
       {shared, 0x100, 0x101},
       0},
      {Profile::aes_cm_128_hmac_sha1_32, 2, 16, true, false, kMaxSrtpLifetime, {0x200, shared}, 3},
      {Profile::aes_256_cm_hmac_sha1_80,
       0,
       2,
       true,
       false,
       kMaxSrtpLifetime,
       {0x300, 0x301, 0x302},
       0},
      {Profile::aead_aes_128_gcm, 0, 16, true, false, kMaxSrtpLifetime, {shared, 0x400}, 0},
      {Profile::aead_aes_256_gcm, 4, 16, true, false, kMaxSrtpLifetime, {0x500, 0x501}, 0},
      {Profile::aes_cm_128_hmac_sha1_80,
       0,
       16,
       false,
       false,
       kMaxSrtpLifetime,
       {0x600, shared, 0x602},
       0},
      {Profile::aes_256_cm_hmac_sha1_32, 1, 16, true, false, 25, {0x700}, 0},
      {Profile::aead_aes_128_gcm, 0, 16, true, true, kMaxSrtpLifetime, {0x800, shared}, 0},
      {Profile::aes_cm_128_hmac_sha1_80, 0, 16, true, true, kMaxSrtpLifetime, {0x900, shared}, 0},
      {Profile::aead_aes_256_gcm,
       0,
       16,
       true,
       false,
       kMaxSrtpLifetime,
       {0xa00, 0xa01, 0xa02, 0xa03},
       1,
       3},
      {Profile::aes_cm_128_hmac_sha1_32, 0, 16, true, false, kMaxSrtpLifetime, {0xb00, shared}, 0},
      {Profile::aead_aes_128_gcm, 2, 16, true, false, kMaxSrtpLifetime, {0xc00}, 0xfffe},
  };
}

// The keys of one spec: one, or two with MKIs of the spec's length.
std::vector<MasterKey> keys_of(Rng& rng, const Spec& sp, uint64_t lifetime) {
  std::vector<MasterKey> keys;
  const std::size_t n = sp.mki_len == 0 ? 1 : 2;
  for (std::size_t k = 0; k < n; ++k) {
    Bytes mki(sp.mki_len);
    for (std::size_t b = 0; b < mki.size(); ++b) {
      mki[b] = static_cast<uint8_t>(0xa0 + k * 7 + b);
    }
    keys.push_back(testutil::random_key(rng, sp.profile, mki));
    keys.back().lifetime = lifetime;
  }
  return keys;
}

std::unique_ptr<Session> build(const std::shared_ptr<crypto::Engine>& engine, const Spec& sp,
                               Direction dir, const std::vector<MasterKey>& keys) {
  SessionConfig c;
  c.max_streams = dir == Direction::inbound ? sp.max_streams : sp.tx_max_streams;
  c.accept_new_ssrcs = dir == Direction::outbound || sp.accept_new;
  c.allow_repeat_tx = sp.repeat_tx;
  auto s = testutil::make_session(engine, sp.profile, dir, keys[0], c);
  if (!s) {
    return nullptr;
  }
  for (std::size_t k = 1; k < keys.size(); ++k) {
    EXPECT_TRUE(s->add_key(keys[k]));
  }
  if (dir == Direction::inbound && !sp.accept_new) {
    for (std::size_t i = 0; i + 1 < sp.ssrcs.size(); ++i) {
      EXPECT_TRUE(s->add_stream(sp.ssrcs[i]));
    }
  }
  if (sp.preset_roc != 0) {
    EXPECT_TRUE(s->set_roc(sp.ssrcs[0], sp.preset_roc));
  }
  return s;
}

// One packet of a burst: whose it is, its bytes and the room it has.
struct Item {
  std::size_t session;
  Bytes bytes;
  std::size_t capacity;
};

struct Outcome {
  std::vector<Status> status;
  std::vector<Bytes> out;  // the buffer up to the packet's length afterwards (or before, if
                           // longer: a failed packet's bytes are compared as they were left)
  std::vector<uint32_t> len;
};

// The burst through the cross-session API, in one call.
Outcome run_burst(const std::vector<std::unique_ptr<Session>>& sessions,
                  const std::vector<Item>& items, bool protect) {
  std::vector<testutil::ExactBuffer> bufs;
  bufs.reserve(items.size());
  std::vector<PacketView> views;
  std::vector<Session*> owners;
  for (const Item& it : items) {
    bufs.emplace_back(it.bytes, it.capacity);
    views.push_back(bufs.back().view());
    owners.push_back(sessions[it.session].get());
  }
  Outcome o;
  o.status.assign(items.size(), Status::count_);
  const std::size_t ok = protect ? protect_rtp_burst(owners, views, o.status)
                                 : unprotect_rtp_burst(owners, views, o.status);
  EXPECT_EQ(ok, static_cast<std::size_t>(std::count(o.status.begin(), o.status.end(), Status::ok)));
  for (std::size_t i = 0; i < items.size(); ++i) {
    o.out.emplace_back(views[i].data,
                       views[i].data + std::max<std::size_t>(views[i].len, items[i].bytes.size()));
    o.len.push_back(views[i].len);
  }
  return o;
}

// The same burst the reference way: each session's own call with its packets in burst order.
Outcome run_per_session(const std::vector<std::unique_ptr<Session>>& sessions,
                        const std::vector<Item>& items, bool protect) {
  Outcome o;
  o.status.assign(items.size(), Status::count_);
  o.out.resize(items.size());
  o.len.resize(items.size());
  for (std::size_t s = 0; s < sessions.size(); ++s) {
    std::vector<std::size_t> mine;
    std::vector<testutil::ExactBuffer> bufs;
    bufs.reserve(items.size());
    std::vector<PacketView> views;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].session == s) {
        mine.push_back(i);
        bufs.emplace_back(items[i].bytes, items[i].capacity);
        views.push_back(bufs.back().view());
      }
    }
    if (mine.empty()) {
      continue;
    }
    std::vector<Status> st(mine.size(), Status::count_);
    if (protect) {
      sessions[s]->protect_rtp(views, st);
    } else {
      sessions[s]->unprotect_rtp(views, st);
    }
    for (std::size_t k = 0; k < mine.size(); ++k) {
      o.status[mine[k]] = st[k];
      o.out[mine[k]] =
          Bytes(views[k].data,
                views[k].data + std::max<std::size_t>(views[k].len, items[mine[k]].bytes.size()));
      o.len[mine[k]] = views[k].len;
    }
  }
  return o;
}

void expect_same_outcome(const Outcome& burst, const Outcome& ref, const std::vector<Item>& items,
                         const std::string& where) {
  ASSERT_EQ(burst.status.size(), ref.status.size());
  for (std::size_t i = 0; i < ref.status.size(); ++i) {
    ASSERT_EQ(burst.status[i], ref.status[i])
        << where << " packet " << i << " of session " << items[i].session;
    ASSERT_EQ(burst.len[i], ref.len[i]) << where << " packet " << i;
    if (ref.status[i] != Status::ok) {
      // A failed packet's bytes are not part of the contract: AES-CM unprotect has put the ROC
      // over its tag and GCM open has run over its payload if the failure was found after the
      // crypto stage, which depends on how the burst was cut into passes, not on the outcome.
      continue;
    }
    ASSERT_EQ(burst.out[i], ref.out[i])
        << where << " packet " << i << " of session " << items[i].session << " (" << ref.len[i]
        << " bytes out): "
        << testutil::first_difference(ref.out[i], burst.out[i].data(), burst.out[i].size());
  }
}

void expect_same_state(const Session& a, const Session& b, const Spec& sp,
                       const std::string& where) {
  EXPECT_EQ(a.stats().rtp, b.stats().rtp) << where;
  EXPECT_EQ(a.stats().rtp_bytes, b.stats().rtp_bytes) << where;
  EXPECT_EQ(a.stats().streams_created, b.stats().streams_created) << where;
  EXPECT_EQ(a.stream_count(), b.stream_count()) << where;
  for (uint32_t ssrc : sp.ssrcs) {
    EXPECT_EQ(a.roc(ssrc), b.roc(ssrc)) << where << " SSRC " << ssrc;
  }
  const auto ua = a.key_usage();
  const auto ub = b.key_usage();
  ASSERT_EQ(ua.size(), ub.size()) << where;
  for (std::size_t k = 0; k < ua.size(); ++k) {
    EXPECT_EQ(ua[k].mki, ub[k].mki) << where;
    EXPECT_EQ(ua[k].srtp_packets, ub[k].srtp_packets) << where << " key " << k;
    EXPECT_EQ(ua[k].active, ub[k].active) << where;
    EXPECT_EQ(ua[k].expired, ub[k].expired) << where;
  }
}

// Where a stream of the plaintext generator stands.
struct TxStream {
  std::size_t session;
  uint32_t ssrc;
  uint16_t seq;
};

class MultiSessionBurstTest : public ::testing::TestWithParam<crypto::Backend> {
 protected:
  void SetUp() override {
    engine_ = testutil::engine_for(GetParam());
    ASSERT_TRUE(engine_);
  }
  void differential(uint64_t seed);
  std::shared_ptr<crypto::Engine> engine_;
};

// The differential test: rounds of mixed bursts, each run once through the cross-session API
// and once through per-session calls on twin sessions, protect side then unprotect side.
//
// Outbound bursts carry repeats, old sequence numbers, malformed and tail-less buffers, stream
// caps and a key running out. Inbound bursts carry what the mixed outbound bursts produced,
// interleaved and reordered across sessions, with sequence wraps and ROC changes, jumps that
// force the burst to be split (RFC 3711 §3.3.1 estimates), and in the other rounds replays,
// forged tags, truncations, packets handed to the wrong session and unknown SSRCs.
//
// The faults are placed where a session's own batch call gives the same answer however its
// burst is cut into passes: a forged packet's status is decided before the tag (replay, stream
// cap) only against the state at the start of a pass, so forgeries go on streams that already
// exist, not right after big jumps, and replays repeat only the previous round's packets.
void MultiSessionBurstTest::differential(uint64_t seed) {
  Rng rng(seed);
  const std::vector<Spec> specs = mix();
  const std::size_t n = specs.size();
  std::vector<std::vector<MasterKey>> keys;
  for (const Spec& sp : specs) {
    keys.push_back(keys_of(rng, sp, sp.lifetime));
  }
  std::vector<std::unique_ptr<Session>> tx_multi, tx_ref, rx_multi, rx_ref;
  for (std::size_t s = 0; s < n; ++s) {
    tx_multi.push_back(build(engine_, specs[s], Direction::outbound, keys[s]));
    tx_ref.push_back(build(engine_, specs[s], Direction::outbound, keys[s]));
    rx_multi.push_back(build(engine_, specs[s], Direction::inbound, keys[s]));
    rx_ref.push_back(build(engine_, specs[s], Direction::inbound, keys[s]));
    ASSERT_TRUE(tx_multi.back() && tx_ref.back() && rx_multi.back() && rx_ref.back());
  }

  std::vector<TxStream> streams;
  for (std::size_t s = 0; s < n; ++s) {
    for (uint32_t ssrc : specs[s].ssrcs) {
      // Half the streams start just before a wrap, so the ROC moves within a few rounds.
      const uint16_t seq = chance(rng, 50) ? static_cast<uint16_t>(uniform(rng, 65500, 65530))
                                           : static_cast<uint16_t>(uniform(rng, 0, 60000));
      streams.push_back({s, ssrc, seq});
    }
  }

  std::vector<Item> previous_delivered;  // the last round's inbound packets, for replays
  std::map<std::pair<std::size_t, uint32_t>, bool> rx_known;  // streams some packet created
  std::size_t jumpy_in = 0;
  std::size_t total_in = 0;
  std::map<Status, std::size_t> seen_in, seen_out;

  for (int round = 0; round < 40; ++round) {
    const bool jumpy = round % 3 == 1;
    const std::string where = "round " + std::to_string(round);

    // --- Outbound: plaintext packets per stream, merged across sessions. ----------------------
    std::vector<std::vector<Item>> per_stream(streams.size());
    for (std::size_t k = 0; k < streams.size(); ++k) {
      TxStream& ts = streams[k];
      const uint32_t count = uniform(rng, 0, 5);
      for (uint32_t c = 0; c < count; ++c) {
        uint16_t seq = ts.seq;
        if (jumpy && chance(rng, 15)) {
          // Far ahead, but less than 2^15: RFC 3711 §3.3.1 takes it as the same or next ROC.
          seq = static_cast<uint16_t>(seq + uniform(rng, 20000, 32000));
        } else {
          seq = static_cast<uint16_t>(seq + uniform(rng, 1, 3));
        }
        ts.seq = seq;
        const Bytes plain = testutil::build_rtp(rng, ts.ssrc, seq, rng(),
                                                testutil::random_shape(rng, uniform(rng, 0, 200)));
        per_stream[k].push_back({ts.session, plain, plain.size() + kSlack});
      }
    }
    std::vector<Item> out_items;
    {
      std::vector<std::size_t> cursor(streams.size(), 0);
      std::size_t left = 0;
      for (const auto& v : per_stream) left += v.size();
      while (left > 0) {
        const std::size_t k = uniform(rng, 0, static_cast<uint32_t>(streams.size() - 1));
        if (cursor[k] < per_stream[k].size()) {
          out_items.push_back(per_stream[k][cursor[k]++]);
          --left;
        }
      }
    }
    if (!jumpy) {
      // Outbound faults: a repeated packet (replay_duplicate unless repeats are allowed),
      // a truncated header, no tailroom, and an old sequence number.
      const std::size_t faults = uniform(rng, 0, 6);
      for (std::size_t f = 0; f < faults && !out_items.empty(); ++f) {
        const std::size_t at = uniform(rng, 0, static_cast<uint32_t>(out_items.size() - 1));
        Item it = out_items[uniform(rng, 0, static_cast<uint32_t>(out_items.size() - 1))];
        if (it.bytes.size() < 12) {
          continue;  // an earlier fault's packet
        }
        switch (uniform(rng, 0, 3)) {
          case 0:
            break;  // the same packet again
          case 1:
            it.bytes.resize(uniform(rng, 0, 11));
            it.capacity = it.bytes.size() + kSlack;
            break;
          case 2:
            it.capacity = it.bytes.size() + uniform(rng, 0, 3);
            break;
          case 3:
            testutil::put_be16(&it.bytes[2],
                               static_cast<uint16_t>(testutil::get_be16(&it.bytes[2]) - 300));
            break;
        }
        out_items.insert(out_items.begin() + static_cast<std::ptrdiff_t>(at), it);
      }
    }
    // MKI sessions: the sender activates its other key now and then.
    for (std::size_t s = 0; s < n; ++s) {
      if (keys[s].size() > 1 && chance(rng, 30)) {
        const auto& mki = keys[s][uniform(rng, 0, 1)].mki;
        ASSERT_TRUE(tx_multi[s]->set_active_key(mki));
        ASSERT_TRUE(tx_ref[s]->set_active_key(mki));
      }
    }
    const Outcome out_multi = run_burst(tx_multi, out_items, true);
    const Outcome out_ref = run_per_session(tx_ref, out_items, true);
    expect_same_outcome(out_multi, out_ref, out_items, where + " protect");
    if (HasFatalFailure()) return;
    for (Status st : out_multi.status) ++seen_out[st];

    // --- Inbound: what left, reordered, with faults. -------------------------------------------
    std::vector<Item> in_items;
    for (std::size_t i = 0; i < out_items.size(); ++i) {
      if (out_multi.status[i] != Status::ok || chance(rng, 5)) {
        continue;  // not sent, or lost
      }
      Bytes b(out_multi.out[i].begin(), out_multi.out[i].begin() + out_multi.len[i]);
      in_items.push_back({out_items[i].session, std::move(b), out_multi.len[i] + kSlack});
    }
    // Reordering within the burst, across and within sessions.
    for (std::size_t i = 1; i < in_items.size(); ++i) {
      if (chance(rng, 20)) {
        std::swap(in_items[i - 1], in_items[i]);
      }
    }
    if (!jumpy) {
      const std::size_t faults = uniform(rng, 0, 10);
      for (std::size_t f = 0; f < faults; ++f) {
        const std::size_t at =
            in_items.empty() ? 0 : uniform(rng, 0, static_cast<uint32_t>(in_items.size()));
        Item it;
        switch (uniform(rng, 0, 5)) {
          case 0: {  // a replay of the last round
            if (previous_delivered.empty()) continue;
            it = previous_delivered[uniform(rng, 0,
                                            static_cast<uint32_t>(previous_delivered.size() - 1))];
            break;
          }
          case 1:    // a forged tag on a replay of the last round: the replay check comes first
          case 2: {  // a forged tag or payload on a packet of a stream that already exists
            if (previous_delivered.empty()) continue;
            it = previous_delivered[uniform(rng, 0,
                                            static_cast<uint32_t>(previous_delivered.size() - 1))];
            if (it.bytes.size() < 13) continue;
            const uint32_t ssrc = testutil::get_be32(&it.bytes[8]);
            if (!rx_known[{it.session, ssrc}]) continue;
            if (f % 2 == 0) {
              // Fresh index: the estimate moves it past the window, so only the tag can fail.
              testutil::put_be16(&it.bytes[2],
                                 static_cast<uint16_t>(testutil::get_be16(&it.bytes[2]) + 1000));
            }
            it.bytes[uniform(rng, 12, static_cast<uint32_t>(it.bytes.size() - 1))] ^= 0x10;
            break;
          }
          case 3: {  // truncated: below header + MKI + tag, or just shorter
            if (previous_delivered.empty()) continue;
            it = previous_delivered[uniform(rng, 0,
                                            static_cast<uint32_t>(previous_delivered.size() - 1))];
            if (it.bytes.size() < 13 || !rx_known[{it.session, testutil::get_be32(&it.bytes[8])}]) {
              continue;
            }
            it.bytes.resize(uniform(rng, 0, 20));
            break;
          }
          case 4: {  // handed to a session that does not hold the key, on an SSRC it lacks
            if (in_items.empty()) continue;
            it = in_items[uniform(rng, 0, static_cast<uint32_t>(in_items.size() - 1))];
            if (it.bytes.size() < 12) continue;
            const uint32_t ssrc = testutil::get_be32(&it.bytes[8]);
            const std::size_t to = uniform(rng, 0, static_cast<uint32_t>(n - 1));
            const Spec& t = specs[to];
            if (to == it.session || t.max_streams < 16 ||
                std::find(t.ssrcs.begin(), t.ssrcs.end(), ssrc) != t.ssrcs.end()) {
              continue;
            }
            it.session = to;
            break;
          }
          case 5: {  // an SSRC the closed session does not take, under its own key
            Bytes plain = testutil::build_rtp(rng, specs[5].ssrcs.back(), 7, 0,
                                              testutil::random_shape(rng, 30));
            plain.resize(plain.size() + 10);  // a tag's worth; no_stream comes before the tag
            it = {5, plain, 0};
            break;
          }
        }
        it.capacity = it.bytes.size() + kSlack;
        in_items.insert(
            in_items.begin() + static_cast<std::ptrdiff_t>(std::min(at, in_items.size())), it);
      }
    } else {
      jumpy_in += in_items.size();
    }
    total_in += in_items.size();
    const Outcome in_multi = run_burst(rx_multi, in_items, false);
    const Outcome in_ref = run_per_session(rx_ref, in_items, false);
    expect_same_outcome(in_multi, in_ref, in_items, where + " unprotect");
    if (HasFatalFailure()) return;
    for (std::size_t i = 0; i < in_items.size(); ++i) {
      ++seen_in[in_multi.status[i]];
      if (in_multi.status[i] == Status::ok) {
        rx_known[{in_items[i].session, testutil::get_be32(&in_items[i].bytes[8])}] = true;
      }
    }
    previous_delivered = in_items;

    for (std::size_t s = 0; s < n; ++s) {
      expect_same_state(*tx_multi[s], *tx_ref[s], specs[s],
                        where + " tx session " + std::to_string(s));
      expect_same_state(*rx_multi[s], *rx_ref[s], specs[s],
                        where + " rx session " + std::to_string(s));
    }
    if (HasFailure()) return;
  }

  // The mix reached what it was built to reach.
  for (Status st : {Status::ok, Status::malformed, Status::replay_duplicate, Status::replay_old,
                    Status::no_tailroom, Status::stream_limit, Status::key_expired}) {
    EXPECT_GT(seen_out[st], 0u) << "protect never gave " << name(st);
  }
  for (Status st : {Status::ok, Status::malformed, Status::auth_failure, Status::replay_duplicate,
                    Status::replay_old, Status::no_stream, Status::stream_limit}) {
    EXPECT_GT(seen_in[st], 0u) << "unprotect never gave " << name(st);
  }
  // Some ROC moved past its start on every kind of profile.
  std::size_t wrapped = 0;
  for (const TxStream& ts : streams) {
    const auto roc = rx_multi[ts.session]->roc(ts.ssrc);
    wrapped += roc && *roc > specs[ts.session].preset_roc;
  }
  EXPECT_GT(wrapped, 4u);
  EXPECT_GT(total_in, 500u);
  EXPECT_GT(jumpy_in, 0u);
}

TEST_P(MultiSessionBurstTest, DifferentialAgainstPerSessionCalls) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    differential(seed);
    if (HasFailure()) {
      return;
    }
  }
}

// Bursts longer than Session::kMaxBurst, all of one session and of many, round trip.
TEST_P(MultiSessionBurstTest, RoundTripThroughTheCrossSessionApi) {
  Rng rng(77);
  const std::vector<Spec> specs = mix();
  std::vector<std::unique_ptr<Session>> tx, rx;
  for (const Spec& sp : specs) {
    auto k = keys_of(rng, sp, kMaxSrtpLifetime);
    Spec open = sp;
    open.accept_new = true;
    open.max_streams = 16;
    open.tx_max_streams = 16;
    open.preset_roc = 0;
    tx.push_back(build(engine_, open, Direction::outbound, k));
    rx.push_back(build(engine_, open, Direction::inbound, k));
  }
  std::map<std::pair<std::size_t, uint32_t>, uint16_t> seq;
  for (int round = 0; round < 4; ++round) {
    std::vector<Item> items;
    std::vector<Bytes> plain;
    const std::size_t count = round == 0 ? 200 : uniform(rng, 1, 100);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t s =
          round == 1 ? 3 : uniform(rng, 0, static_cast<uint32_t>(specs.size() - 1));
      const uint32_t ssrc =
          specs[s].ssrcs[uniform(rng, 0, static_cast<uint32_t>(specs[s].ssrcs.size() - 1))];
      const uint16_t q = seq[{s, ssrc}]++;
      plain.push_back(testutil::build_rtp(rng, ssrc, q, 0, testutil::random_shape(rng, 100)));
      items.push_back({s, plain.back(), plain.back().size() + kSlack});
    }
    const Outcome sealed = run_burst(tx, items, true);
    for (std::size_t i = 0; i < items.size(); ++i) {
      ASSERT_EQ(sealed.status[i], Status::ok) << i;
      ASSERT_EQ(sealed.len[i], plain[i].size() + tx[items[i].session]->rtp_overhead());
      items[i].bytes.assign(sealed.out[i].begin(), sealed.out[i].begin() + sealed.len[i]);
    }
    const Outcome opened = run_burst(rx, items, false);
    for (std::size_t i = 0; i < items.size(); ++i) {
      ASSERT_EQ(opened.status[i], Status::ok) << i;
      ASSERT_EQ(Bytes(opened.out[i].begin(), opened.out[i].begin() + opened.len[i]), plain[i]) << i;
    }
  }
  for (std::size_t s = 0; s < specs.size(); ++s) {
    EXPECT_EQ(tx[s]->stats().rtp[0], rx[s]->stats().rtp[0]);
    EXPECT_EQ(rx[s]->stats().rtp_bytes + rx[s]->stats().rtp[0] * tx[s]->rtp_overhead(),
              tx[s]->stats().rtp_bytes);
  }
}

TEST_P(MultiSessionBurstTest, EmptyBurst) {
  std::vector<Session*> none;
  std::vector<PacketView> no_packets;
  std::vector<Status> no_status;
  EXPECT_EQ(protect_rtp_burst(none, no_packets, no_status), 0u);
  EXPECT_EQ(unprotect_rtp_burst(none, no_packets, no_status), 0u);
}

crypto::Backend other(crypto::Backend b) {
  return b == crypto::Backend::ipsecmb ? crypto::Backend::openssl : crypto::Backend::ipsecmb;
}

TEST_P(MultiSessionBurstTest, BindEngineNeedsTheSameBackend) {
  Rng rng(9);
  for (Profile p : kAllProfiles) {
    const MasterKey key = testutil::random_key(rng, p, {1, 2});
    auto control = testutil::engine_for(GetParam());
    auto worker = testutil::engine_for(GetParam());
    auto foreign = testutil::engine_for(other(GetParam()));
    auto moved = testutil::make_session(control, p, Direction::outbound, key);
    auto stay = testutil::make_session(worker, p, Direction::outbound, key);
    auto rx = testutil::make_session(worker, p, Direction::inbound, key);
    ASSERT_TRUE(moved && stay && rx);

    const auto wrong = moved->bind_engine(foreign);
    ASSERT_FALSE(wrong);
    EXPECT_NE(wrong.message().find(std::string(crypto::name(other(GetParam())))), std::string::npos)
        << wrong.message();
    EXPECT_FALSE(moved->bind_engine(nullptr));
    EXPECT_EQ(moved->backend(), GetParam());

    ASSERT_TRUE(moved->bind_engine(worker));
    control.reset();  // the session now holds the worker's engine; the control one may go
    for (uint16_t seq = 65530; seq != 6; ++seq) {
      Bytes a = testutil::build_rtp(rng, 0x77, seq, 0, testutil::random_shape(rng, 80));
      Bytes b = a;
      const Bytes plain = a;
      ASSERT_EQ(testutil::run_one(*moved, testutil::Op::protect_rtp, a), Status::ok);
      ASSERT_EQ(testutil::run_one(*stay, testutil::Op::protect_rtp, b), Status::ok);
      ASSERT_EQ(a, b) << name(p) << " seq " << seq;
      // The rebound session in a cross-session burst with a session of the worker's engine.
      Session* owners[] = {rx.get()};
      testutil::ExactBuffer buf(a, a.size());
      Status st = Status::count_;
      ASSERT_EQ(unprotect_rtp_burst(owners, {&buf.view(), 1}, {&st, 1}), 1u);
      ASSERT_EQ(buf.bytes(), plain);
    }
    EXPECT_EQ(moved->roc(0x77), 1u);
  }
}

TEST_P(MultiSessionBurstTest, SwapKeysNeedsTheSameProfile) {
  Rng rng(11);
  auto a = testutil::make_session(engine_, Profile::aes_cm_128_hmac_sha1_80, Direction::inbound,
                                  testutil::random_key(rng, Profile::aes_cm_128_hmac_sha1_80));
  auto b = testutil::make_session(engine_, Profile::aes_cm_128_hmac_sha1_32, Direction::inbound,
                                  testutil::random_key(rng, Profile::aes_cm_128_hmac_sha1_32, {9}));
  const auto before_a = a->key_usage();
  const auto before_b = b->key_usage();
  EXPECT_FALSE(a->swap_keys(*b));
  EXPECT_FALSE(b->swap_keys(*a));
  EXPECT_EQ(a->key_usage()[0].mki, before_a[0].mki);
  EXPECT_EQ(b->key_usage()[0].mki, before_b[0].mki);
  EXPECT_EQ(a->rtp_overhead(), 10u);
  EXPECT_EQ(b->rtp_overhead(), 5u);

  // Same profile, other backend: the expanded keys would be the wrong backend's objects.
  auto foreign = testutil::make_session(
      testutil::engine_for(other(GetParam())), Profile::aes_cm_128_hmac_sha1_80, Direction::inbound,
      testutil::random_key(rng, Profile::aes_cm_128_hmac_sha1_80, {1}));
  EXPECT_FALSE(a->swap_keys(*foreign));
  EXPECT_EQ(a->rtp_overhead(), 10u);
  EXPECT_EQ(foreign->rtp_overhead(), 11u);
}

// A worker applies a rekey prepared on the control thread: the inbound session swaps in the
// new key (here also moving from no MKI to an MKI) in the middle of a stream that is about to
// wrap, and keeps the ROC (RFC 3711 §3.3.1: the index is not reset by a rekey).
TEST_P(MultiSessionBurstTest, SwapKeysKeepsStreamsAndHandsBackTheOldKey) {
  Rng rng(13);
  for (Profile p : kAllProfiles) {
    const MasterKey old_key = testutil::random_key(rng, p);
    const MasterKey new_key = testutil::random_key(rng, p, {0xbe, 0xef});
    auto tx = testutil::make_session(engine_, p, Direction::outbound, old_key);
    auto rx = testutil::make_session(engine_, p, Direction::inbound, old_key);
    auto control = testutil::engine_for(GetParam());
    auto staged = testutil::make_session(control, p, Direction::inbound, new_key);
    ASSERT_TRUE(tx && rx && staged);
    ASSERT_TRUE(tx->set_roc(0x42, 5));
    ASSERT_TRUE(rx->set_roc(0x42, 5));

    Bytes kept_old;  // a packet under the old key, for `staged` afterwards
    for (uint16_t seq = 65525; seq != 0; ++seq) {
      Bytes pkt = testutil::build_rtp(rng, 0x42, seq, 0, testutil::random_shape(rng, 60));
      ASSERT_EQ(testutil::run_one(*tx, testutil::Op::protect_rtp, pkt), Status::ok);
      kept_old = pkt;
      Session* owners[] = {rx.get()};
      testutil::ExactBuffer buf(pkt, pkt.size());
      Status st = Status::count_;
      unprotect_rtp_burst(owners, {&buf.view(), 1}, {&st, 1});
      ASSERT_EQ(st, Status::ok);
    }
    const uint64_t old_used = rx->key_usage()[0].srtp_packets;
    EXPECT_EQ(old_used, 11u);

    ASSERT_TRUE(rx->swap_keys(*staged));
    ASSERT_TRUE(tx->rekey(new_key));
    EXPECT_EQ(rx->rtp_overhead(), tx->rtp_overhead());
    EXPECT_EQ(rx->roc(0x42), 5u);
    ASSERT_EQ(rx->key_usage().size(), 1u);
    EXPECT_EQ(rx->key_usage()[0].mki, new_key.mki);
    EXPECT_EQ(rx->key_usage()[0].srtp_packets, 0u);
    EXPECT_EQ(staged->key_usage()[0].srtp_packets, old_used);
    EXPECT_TRUE(staged->key_usage()[0].mki.empty());

    // A replay under the old key is now an unknown MKI's packet (the new key has one).
    Bytes replay = kept_old;
    EXPECT_NE(testutil::run_one(*rx, testutil::Op::unprotect_rtp, replay), Status::ok);
    for (uint16_t seq = 0; seq < 8; ++seq) {
      Bytes pkt = testutil::build_rtp(rng, 0x42, seq, 0, testutil::random_shape(rng, 60));
      const Bytes plain = pkt;
      ASSERT_EQ(testutil::run_one(*tx, testutil::Op::protect_rtp, pkt), Status::ok);
      ASSERT_EQ(testutil::run_one(*rx, testutil::Op::unprotect_rtp, pkt), Status::ok) << seq;
      ASSERT_EQ(pkt, plain);
    }
    EXPECT_EQ(rx->roc(0x42), 6u);  // the wrap after the swap moved the ROC on
    EXPECT_EQ(rx->key_usage()[0].srtp_packets, 8u);

    // `other` left with the old key: it opens the old key's packets (its own streams are new,
    // so it takes the ROC from set_roc).
    ASSERT_TRUE(staged->set_roc(0x42, 5));
    EXPECT_EQ(testutil::run_one(*staged, testutil::Op::unprotect_rtp, kept_old), Status::ok);
    EXPECT_EQ(staged->key_usage()[0].srtp_packets, old_used + 1);
    EXPECT_EQ(staged->stream_count(), 1u);
    EXPECT_EQ(rx->stream_count(), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, MultiSessionBurstTest,
                         ::testing::Values(crypto::Backend::ipsecmb, crypto::Backend::openssl),
                         [](const auto& info) { return std::string(crypto::name(info.param)); });

}  // namespace
}  // namespace srtpgate::srtp
