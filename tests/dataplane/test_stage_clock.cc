// The stage clock (DataplaneConfig::stage_clock): where a worker's time goes, stage by stage of
// its burst. Off, it counts nothing; on, every burst is counted once, every stage a burst
// passes through gets its time, the time of a stage lands under that stage's name, and the
// stages add up to no more than the time the worker ran.
#include <gtest/gtest.h>
#include <rte_cycles.h>

#include "dp_harness.h"
#include "libsrtp_legs.h"

namespace srtpgate::dp::testing {
namespace {

using srtp::Profile;
using testutil::Rng;

uint64_t cycles(const StageCycles& s, Stage stage) {
  return s.cycles[static_cast<std::size_t>(stage)];
}

// `packets` RTP packets of one flow: SRTP from the peer for an unprotect flow, plain RTP for a
// protect flow.
void send_rtp(Harness& h, const FlowSpec& flow, Leg* peer, Rng& rng, uint16_t first_seq,
              unsigned packets) {
  for (unsigned i = 0; i < packets; ++i) {
    Bytes p = rtp(rng, 0x5151, static_cast<uint16_t>(first_seq + i));
    if (peer != nullptr) {
      ASSERT_EQ(peer->lib->protect_rtp(p), srtp_err_status_ok);
    }
    ASSERT_TRUE(h.send(flow.key, p));
  }
}

struct Flows {
  Leg peer;      // protects what the unprotect flow receives
  Leg receiver;  // unprotects what the protect flow sends
  FlowSpec unprotect;
  FlowSpec protect;
};

Flows install_two_flows(Harness& h, Rng& rng) {
  Flows f{make_leg(rng, Profile::aes_cm_128_hmac_sha1_80, true),
          make_leg(rng, Profile::aead_aes_128_gcm, false), spec_for(h, 1, Action::unprotect),
          spec_for(h, 2, Action::protect)};
  f.unprotect.inbound = LegKey{Profile::aes_cm_128_hmac_sha1_80, f.peer.key};
  f.protect.outbound = LegKey{Profile::aead_aes_128_gcm, f.receiver.key};
  EXPECT_TRUE(h.dp().install(f.unprotect));
  EXPECT_TRUE(h.dp().install(f.protect));
  h.dp().wait_applied();
  return f;
}

TEST(StageClock, OffCountsNothing) {
  Harness h(Harness::Options{});
  ASSERT_TRUE(h.ok());
  Rng rng(7);
  Flows f = install_two_flows(h, rng);
  send_rtp(h, f.unprotect, &f.peer, rng, 1, 40);
  send_rtp(h, f.protect, nullptr, rng, 1, 40);
  h.run();
  ASSERT_EQ(h.collect().size(), 80u);
  const StageCycles s = h.dp().worker_stats(0).stages;
  for (std::size_t i = 0; i < kStageCount; ++i) {
    EXPECT_EQ(s.cycles[i], 0u) << name(static_cast<Stage>(i));
  }
  EXPECT_EQ(s.bursts, 0u);
  EXPECT_EQ(s.packets, 0u);
  EXPECT_EQ(s.tsc_hz, 0u);
}

TEST(StageClock, EachStageGetsItsOwnTime) {
  Harness::Options o;
  o.stage_clock = true;
  Harness h(o);
  ASSERT_TRUE(h.ok());
  Rng rng(3711);
  Flows f = install_two_flows(h, rng);
  const WorkerStats start = h.dp().worker_stats(0);

  // 20 bursts of 32 to unprotect, then 20 to protect: the SRTP library's time is hundreds of
  // cycles a packet, and a stage a burst does not use costs it one TSC read. Only the polls
  // are timed, not the making of the packets.
  send_rtp(h, f.unprotect, &f.peer, rng, 1, 640);
  uint64_t t0 = rte_rdtsc();
  h.run();
  uint64_t elapsed = rte_rdtsc() - t0;
  const WorkerStats after_unprotect = h.dp().worker_stats(0);
  send_rtp(h, f.protect, nullptr, rng, 1, 640);
  t0 = rte_rdtsc();
  h.run();
  elapsed += rte_rdtsc() - t0;
  const WorkerStats end = h.dp().worker_stats(0);
  ASSERT_EQ(h.collect().size(), 1280u);
  ASSERT_EQ(end.dropped(), 0u);

  const StageCycles& a = start.stages;
  const StageCycles& b = after_unprotect.stages;
  const StageCycles& c = end.stages;
  EXPECT_EQ(c.tsc_hz, rte_get_tsc_hz());
  // Every burst that brought packets is counted once, with its packets.
  EXPECT_EQ(c.bursts - a.bursts, end.busy_polls - start.busy_polls);
  EXPECT_EQ(c.bursts - a.bursts, 40u);
  EXPECT_EQ(c.packets - a.packets, 1280u);
  EXPECT_EQ(c.packets - a.packets, end.rx_packets - start.rx_packets);

  uint64_t total = 0;
  for (std::size_t i = 0; i < kStageCount; ++i) {
    const auto stage = static_cast<Stage>(i);
    // Every stage ran in both halves.
    EXPECT_GT(cycles(b, stage), cycles(a, stage)) << name(stage);
    EXPECT_GT(cycles(c, stage), cycles(b, stage)) << name(stage);
    total += cycles(c, stage) - cycles(a, stage);
  }
  // The laps cover the worker's bursts once each: no more than the time it all took.
  EXPECT_LE(total, elapsed);
  // The library's time lands under its own stage's name.
  const uint64_t unprotect_first = cycles(b, Stage::unprotect) - cycles(a, Stage::unprotect);
  const uint64_t protect_first = cycles(b, Stage::protect) - cycles(a, Stage::protect);
  const uint64_t unprotect_then = cycles(c, Stage::unprotect) - cycles(b, Stage::unprotect);
  const uint64_t protect_then = cycles(c, Stage::protect) - cycles(b, Stage::protect);
  EXPECT_GT(unprotect_first, 4 * protect_first);
  EXPECT_GT(protect_then, 4 * unprotect_then);
  // The whole dataplane's sum carries the clock too.
  const StageCycles total_stats = h.dp().total_stats().stages;
  EXPECT_EQ(total_stats.packets, c.packets);
  EXPECT_EQ(total_stats.tsc_hz, c.tsc_hz);
}

// A burst with nothing for the fast path (frames of an EtherType nobody handles) ends after
// classify: its time is classify's, and no later stage is touched at all.
TEST(StageClock, ABurstThatEndsInClassifyIsClassifysAlone) {
  Harness::Options o;
  o.stage_clock = true;
  Harness h(o);
  ASSERT_TRUE(h.ok());
  const WorkerStats start = h.dp().worker_stats(0);
  Bytes frame(60, 0);
  frame[0] = 0x02;   // destination MAC
  frame[12] = 0x88;  // EtherType 0x88B5, local experimental
  frame[13] = 0xb5;
  for (unsigned i = 0; i < 320; ++i) {
    ASSERT_TRUE(h.inject(h.raw_frame(frame), 0));
  }
  h.run();
  const WorkerStats end = h.dp().worker_stats(0);
  EXPECT_EQ(end.drops[static_cast<std::size_t>(Drop::not_ip)] -
                start.drops[static_cast<std::size_t>(Drop::not_ip)],
            320u);
  EXPECT_EQ(end.stages.bursts - start.stages.bursts, 10u);
  EXPECT_GT(cycles(end.stages, Stage::classify), cycles(start.stages, Stage::classify));
  for (Stage later : {Stage::lookup, Stage::prepare, Stage::unprotect, Stage::protect,
                      Stage::rewrite, Stage::transmit}) {
    EXPECT_EQ(cycles(end.stages, later), cycles(start.stages, later)) << name(later);
  }
}

TEST(StageClock, StagesHaveNames) {
  EXPECT_EQ(name(Stage::classify), "classify");
  EXPECT_EQ(name(Stage::lookup), "lookup");
  EXPECT_EQ(name(Stage::prepare), "prepare");
  EXPECT_EQ(name(Stage::unprotect), "unprotect");
  EXPECT_EQ(name(Stage::protect), "protect");
  EXPECT_EQ(name(Stage::rewrite), "rewrite");
  EXPECT_EQ(name(Stage::transmit), "transmit");
}

}  // namespace
}  // namespace srtpgate::dp::testing
