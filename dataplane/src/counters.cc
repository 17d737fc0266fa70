// Counter names and sums.
#include "srtpgate/dp/counters.h"

namespace srtpgate::dp {

namespace {
constexpr std::string_view kDropNames[kDropCount] = {
    "frame_malformed", "not_ip",       "ip_malformed",    "ip_checksum", "ip_fragment",
    "not_udp",         "udp_malformed", "udp_checksum",   "unknown_payload", "no_session",
    "srtp_malformed",  "auth_failure", "replay",          "unknown_mki", "key_expired",
    "stream_limit",    "no_tailroom",  "punt_full",       "tx_full",     "mtu_exceeded",
};
constexpr std::string_view kStageNames[kStageCount] = {
    "classify", "lookup", "prepare", "unprotect", "protect", "rewrite", "transmit",
};
}  // namespace

std::string_view name(Drop d) noexcept { return kDropNames[static_cast<std::size_t>(d)]; }
std::string_view name(Stage s) noexcept { return kStageNames[static_cast<std::size_t>(s)]; }

WorkerStats& WorkerStats::operator+=(const WorkerStats& o) noexcept {
  rx_packets += o.rx_packets;
  rx_bytes += o.rx_bytes;
  tx_packets += o.tx_packets;
  tx_bytes += o.tx_bytes;
  punted += o.punted;
  polls += o.polls;
  busy_polls += o.busy_polls;
  flows += o.flows;
  messages += o.messages;
  for (std::size_t i = 0; i < kDropCount; ++i) {
    drops[i] += o.drops[i];
  }
  for (std::size_t i = 0; i < kStageCount; ++i) {
    stages.cycles[i] += o.stages.cycles[i];
  }
  stages.bursts += o.stages.bursts;
  stages.packets += o.stages.packets;
  stages.tsc_hz = stages.tsc_hz != 0 ? stages.tsc_hz : o.stages.tsc_hz;
  return *this;
}

}  // namespace srtpgate::dp
