// Helpers for the dataplane tests that check traffic against Debian's libsrtp2: a flow's key
// with the peer's libsrtp2 session, a flow spec of the harness's addresses, and RTP to send.
#pragma once

#include <memory>

#include "../libsrtp_oracle.h"
#include "../packet_builders.h"
#include "dp_harness.h"

namespace srtpgate::dp::testing {

struct Leg {
  srtp::MasterKey key;
  std::unique_ptr<oracle::LibsrtpOracle> lib;  // the peer's libsrtp2 session
};

// A key and the libsrtp2 session of the peer that uses it (outbound: it protects what we get).
inline Leg make_leg(testutil::Rng& rng, srtp::Profile p, bool peer_protects) {
  Leg l{testutil::random_key(rng, p), nullptr};
  oracle::OracleConfig c;
  c.profile = p;
  c.outbound = peer_protects;
  auto lib = oracle::LibsrtpOracle::create(c, oracle::OracleKey{testutil::key_salt_of(l.key), {}});
  EXPECT_TRUE(lib) << lib.message();
  l.lib = std::move(lib.value());
  return l;
}

inline FlowSpec spec_for(Harness& h, unsigned n, Action a) {
  FlowSpec s;
  s.key = h.key(n);
  s.action = a;
  s.next_hop = h.next_hop(n);
  return s;
}

inline Bytes rtp(testutil::Rng& rng, uint32_t ssrc, uint16_t seq, uint32_t payload = 160) {
  return testutil::build_rtp(rng, ssrc, seq, seq * 160u, testutil::random_shape(rng, payload));
}

}  // namespace srtpgate::dp::testing
