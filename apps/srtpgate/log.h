// The daemon's DPDK log type, so its lines go through rte_log with levels like the EAL's own
// (--log-level=srtpgate:debug) and reach whatever sink the EAL was given.
#pragma once

#include <rte_log.h>

namespace srtpgate::app {

// Registered once ("srtpgate", INFO by default); RTE_LOG(INFO, SRTPGATE, ...) uses it.
int log_type() noexcept;

}  // namespace srtpgate::app

#define RTE_LOGTYPE_SRTPGATE ::srtpgate::app::log_type()

#define SG_LOG(level, ...) RTE_LOG(level, SRTPGATE, __VA_ARGS__)
