// The replay window against a simple reference model (a set of seen indices), RFC 3711 §3.3.2.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "replay_window.h"

namespace srtpgate::srtp::detail {
namespace {

class Model {
 public:
  explicit Model(uint64_t window) : window_(window) {}
  Status check(uint64_t i) const {
    if (!started_ || i > top_) {
      return Status::ok;
    }
    if (top_ - i >= window_) {
      return Status::replay_old;
    }
    return seen_.count(i) ? Status::replay_duplicate : Status::ok;
  }
  void commit(uint64_t i) {
    started_ = true;
    top_ = std::max(top_, i);
    seen_.insert(i);
  }

 private:
  std::set<uint64_t> seen_;
  uint64_t window_;
  uint64_t top_ = 0;
  bool started_ = false;
};

class ReplayWindowTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(ReplayWindowTest, MatchesReferenceModelUnderRandomReordering) {
  const uint32_t window = GetParam();
  std::vector<uint64_t> words(ReplayWindow::words_for(window));
  ReplayWindow w;
  w.attach(words.data(), window);
  Model m(window);
  std::mt19937_64 rng(0x5eed0000u + window);
  uint64_t next = 1000;
  for (int step = 0; step < 1000000; ++step) {  // six window sizes: six million steps
    // Mostly forward, sometimes big jumps, often late or repeated packets.
    uint64_t i;
    const auto r = rng() % 100;
    if (r < 60) {
      i = next++;
    } else if (r < 62) {
      next += rng() % (3 * window);
      i = next;
    } else {
      const uint64_t back = rng() % (window + window / 2 + 2);
      i = next > back ? next - back : 0;
    }
    const Status got = w.check(i);
    ASSERT_EQ(got, m.check(i)) << "window " << window << " step " << step << " index " << i;
    if (got == Status::ok) {
      w.commit(i);
      m.commit(i);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ReplayWindowTest,
                         ::testing::Values(64u, 65u, 128u, 1000u, 4096u, 32768u));

TEST(ReplayWindow, FirstPacketOpensAndEdgesAreExact) {
  std::vector<uint64_t> words(ReplayWindow::words_for(64));
  ReplayWindow w;
  w.attach(words.data(), 64);
  EXPECT_EQ(w.check(500), Status::ok);
  w.commit(500);
  EXPECT_EQ(w.check(500), Status::replay_duplicate);
  EXPECT_EQ(w.check(437), Status::ok);          // 63 behind: inside
  EXPECT_EQ(w.check(436), Status::replay_old);  // 64 behind: outside
  EXPECT_EQ(w.check(501), Status::ok);
}

}  // namespace
}  // namespace srtpgate::srtp::detail
