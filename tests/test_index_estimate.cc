// The SRTP packet index estimate (RFC 3711 §3.3.1 and Appendix A) against a formulation of its
// own, and the shortcut the burst kernels take to skip a second estimate (estimate_agrees).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "burst_common.h"

namespace srtpgate::srtp::detail {
namespace {

constexpr uint64_t kMaxIndex = (uint64_t{1} << 48) - 1;

// Appendix A read as "the index congruent to SEQ nearest the top": of the candidates with ROC
// v - 1, v and v + 1, the one at the smallest distance. Two candidates can tie only at distance
// 32768; Appendix A then takes the later one when the top's SEQ is below 32768 and the earlier
// one otherwise. A candidate outside [0, 2^48) means no estimate.
std::optional<uint64_t> nearest(uint64_t top, uint16_t seq) {
  const int64_t v = static_cast<int64_t>(top >> 16);
  const bool low_half = (top & 0xffff) < 32768;
  std::optional<int64_t> best;
  for (int64_t roc = v - 1; roc <= v + 1; ++roc) {
    const int64_t candidate = roc * 65536 + seq;
    const int64_t distance = candidate - static_cast<int64_t>(top);
    if (!best) {
      best = candidate;
      continue;
    }
    const int64_t best_distance = *best - static_cast<int64_t>(top);
    const int64_t a = distance < 0 ? -distance : distance;
    const int64_t b = best_distance < 0 ? -best_distance : best_distance;
    if (a < b || (a == b && low_half)) {
      best = candidate;
    }
  }
  if (*best < 0 || *best > static_cast<int64_t>(kMaxIndex)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(*best);
}

// RFC 3711 Appendix A as written: the top's ROC v and SEQ s_l; v - 1 when SEQ is more than
// 2^15 above s_l (s_l in the lower half), v + 1 when more than 2^15 below (upper half).
std::optional<uint64_t> appendix_a(uint64_t top, uint16_t seq) {
  const int64_t s_l = static_cast<int64_t>(top & 0xffff);
  int64_t v = static_cast<int64_t>(top >> 16);
  if (s_l < 32768) {
    if (seq - s_l > 32768) {
      v -= 1;
    }
  } else if (s_l - 32768 > seq) {
    v += 1;
  }
  if (v < 0 || v > 0xffffffffLL) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(v) << 16 | seq;
}

std::optional<uint64_t> estimate(uint64_t top, uint16_t seq, Status* why = nullptr) {
  const IndexAnchor a{true, top, 0};
  uint64_t index = 0;
  Status status = Status::ok;
  if (!estimate_index(a, seq, index, status)) {
    if (why != nullptr) {
      *why = status;
    }
    return std::nullopt;
  }
  return index;
}

// Tops at the edges that matter: index 0, either side of a SEQ half, either side of a ROC
// change, the last ROC; then seeded random ones.
std::vector<uint64_t> interesting_tops() {
  std::vector<uint64_t> tops;
  for (const uint64_t roc : {uint64_t{0}, uint64_t{1}, uint64_t{0x1234}, uint64_t{0xffffffff}}) {
    for (const uint64_t seq : {0u, 1u, 32766u, 32767u, 32768u, 32769u, 65534u, 65535u}) {
      tops.push_back(roc << 16 | seq);
    }
  }
  std::mt19937_64 rng(20261129);
  for (int i = 0; i < 24; ++i) {
    tops.push_back(rng() & kMaxIndex);
  }
  return tops;
}

TEST(IndexEstimate, IsAppendixAsNearestIndexWithTheSequenceNumber) {
  for (const uint64_t top : interesting_tops()) {
    for (uint32_t seq = 0; seq <= 0xffff; ++seq) {
      const auto s = static_cast<uint16_t>(seq);
      ASSERT_EQ(appendix_a(top, s), nearest(top, s)) << "top " << top << " seq " << seq;
      ASSERT_EQ(estimate(top, s), appendix_a(top, s)) << "top " << top << " seq " << seq;
    }
  }
}

TEST(IndexEstimate, SaysWhyThereIsNone) {
  Status why = Status::ok;
  EXPECT_EQ(estimate(10, 65000, &why), std::nullopt);  // before index 0
  EXPECT_EQ(why, Status::replay_old);
  EXPECT_EQ(estimate(kMaxIndex, 5, &why), std::nullopt);  // past 2^48: the ROC would wrap
  EXPECT_EQ(why, Status::key_expired);
}

TEST(IndexEstimate, BeforeTheFirstPacketTheRocIsThePresetOne) {
  const IndexAnchor fresh{false, 0, 7};
  uint64_t index = 0;
  Status why = Status::ok;
  ASSERT_TRUE(estimate_index(fresh, 0xfffe, index, why));
  EXPECT_EQ(index, uint64_t{7} << 16 | 0xfffe);
}

// The burst kernels estimate from a stream's committed top and skip the estimate from its
// provisional top when estimate_agrees says the two agree. Every such claim must hold; and the
// bound must be tight, or the shortcut would skip splits (a wider bound fails this test).
TEST(IndexEstimate, AgreementClaimsHold) {
  std::mt19937_64 rng(7714);
  uint64_t claims = 0;
  uint64_t disagreements_just_outside = 0;
  for (const uint64_t top : interesting_tops()) {
    std::vector<int64_t> offsets = {0,      1,      -1,    32766, 32767, 32768, 32769,
                                    -32767, -32768, 65535, 65536, 65537, -65536};
    for (int i = 0; i < 6; ++i) {
      offsets.push_back(static_cast<int64_t>(rng() % 200000) - 100000);
    }
    for (const int64_t offset : offsets) {
      const int64_t other_signed = static_cast<int64_t>(top) + offset;
      if (other_signed < 0 || other_signed > static_cast<int64_t>(kMaxIndex)) {
        continue;
      }
      const uint64_t other = static_cast<uint64_t>(other_signed);
      const IndexAnchor other_anchor{true, other, 0};
      for (uint32_t seq = 0; seq <= 0xffff; ++seq) {
        const auto from_top = estimate(top, static_cast<uint16_t>(seq));
        if (!from_top) {
          continue;
        }
        const auto from_other = estimate(other, static_cast<uint16_t>(seq));
        if (estimate_agrees(other_anchor, *from_top)) {
          ++claims;
          ASSERT_EQ(from_other, from_top) << "top " << top << " other " << other << " seq " << seq;
        } else if (from_other != from_top &&
                   (*from_top - other == 32768 || other - *from_top == 32768)) {
          ++disagreements_just_outside;
        }
      }
    }
  }
  EXPECT_GT(claims, 1000000u);
  EXPECT_GT(disagreements_just_outside, 0u);  // distance 32768 is really outside
}

}  // namespace
}  // namespace srtpgate::srtp::detail
