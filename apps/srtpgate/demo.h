// --demo: the daemon with a built-in workload, for the README's one-line run. A generator on the
// main lcore protects RTP with the sample capture's SDES key (srtp::Session, sender side) and
// feeds it to an in-process ring port; the daemon's unprotect session decrypts it on a worker
// and forwards plain RTP to net_null0. Every packet is fresh SRTP, so the counters show real
// authentication and decryption, not replays (a looping capture would be all replays after the
// first pass: RFC 3711 §3.3.2). --demo-capture PATH replays a capture through net_pcap instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config.h"
#include "srtpgate/dp/dataplane.h"
#include "srtpgate/result.h"

namespace srtpgate::app::demo {

// The sample capture's throwaway key (tests/data/README.md) and profile.
inline constexpr const char* kSampleKey = "inline:VNtPRH10gRr5HvSPx2AFa0/dDq/yMLi8dHaAlaNY";

struct Options {
  std::string capture;  // empty: the generator; else a pcap replayed by net_pcap
  uint64_t packets_per_second = 200000;
  unsigned workers = 1;  // tx queues the ring port needs: one per worker + control
};

// The ports (created here if absent: the ring port, net_null0 with no-rx, net_pcap0) and the one
// session. Call after rte_eal_init, before Dataplane::create.
Result<AppConfig> prepare(const Options& options);

// Frees what prepare() made for the demo. Call after the Dataplane is destroyed (its port keeps
// pointers to the rings) and before the EAL is cleaned up.
void release();

// Fresh SRTP into the ring port's rx ring. Call from the main lcore's loop.
class Generator {
 public:
  static Result<std::unique_ptr<Generator>> create(dp::Dataplane& dataplane,
                                                   uint64_t packets_per_second);
  ~Generator();
  // Makes the packets due since the last call (capped per call); returns how many were queued.
  std::size_t run(std::chrono::steady_clock::time_point now) noexcept;
  uint64_t sent() const noexcept { return sent_; }
  uint64_t ring_full() const noexcept { return ring_full_; }

 private:
  struct Impl;
  explicit Generator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  uint64_t sent_ = 0;
  uint64_t ring_full_ = 0;
};

}  // namespace srtpgate::app::demo
