// Which rx queue a flow's packets reach: the Toeplitz hash a NIC computes (Microsoft RSS
// specification) over the IPv4/IPv6 source and destination addresses and UDP ports, with the
// port's key and redirection table. Internal to dataplane/.
#pragma once

#include <cstdint>

#include "port.h"
#include "srtpgate/dp/flow.h"

namespace srtpgate::dp::detail {

// The 32-bit Toeplitz hash of a packet of this flow as the NIC sees it (source = remote,
// destination = local), with the L4 ports included (RSS types IPV4_UDP / IPV6_UDP).
uint32_t flow_rss_hash(const FlowKey& key, const uint8_t* rss_key,
                       std::size_t rss_key_len) noexcept;

// The rx queue of `port` that receives this flow: reta[hash % reta size] with RSS for the flow's
// address family, else 0.
uint16_t flow_rx_queue(const PortInfo& port, const FlowKey& key) noexcept;

}  // namespace srtpgate::dp::detail
