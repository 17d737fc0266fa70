// DPDK telemetry commands of the daemon (read with dpdk-telemetry.py):
//   /srtpgate/stats     totals and drops by reason
//   /srtpgate/workers   one entry per worker
//   /srtpgate/sessions  the session ids
//   /srtpgate/session   ,ID: one session's description and counters (never keys)
//
// The callbacks run on DPDK's telemetry thread, not the main lcore, so they never touch the
// SessionService: the main loop publishes a snapshot and the callbacks read it under a mutex
// (control path only; the workers never take it).
#pragma once

#include <vector>

#include "session_service.h"

namespace srtpgate::app::telemetry {

// Registers the commands; call once after rte_eal_init. Fails only if DPDK refuses a name.
Result<void> register_commands();

// Replaces the snapshot the commands answer from.
void publish(ServiceStats stats, std::vector<SessionInfo> sessions);

}  // namespace srtpgate::app::telemetry
