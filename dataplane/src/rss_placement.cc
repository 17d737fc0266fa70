// The Toeplitz RSS hash of a UDP flow (Microsoft "RSS Hashing Functions": input is source
// address, destination address, source port, destination port in packet order), computed with
// DPDK's software implementation (rte_thash.h).
#include "rss_placement.h"

#include <rte_ip.h>
#include <rte_thash.h>

#include <algorithm>
#include <cstring>

namespace srtpgate::dp::detail {

namespace {

// rte_softrss reads key words j and j + 1 for every input word j: an IPv6 4-tuple (9 words)
// needs 40 key bytes. Shorter keys are zero-extended, which is what shifting a short key left
// past its end means in the Microsoft pseudocode.
constexpr std::size_t kMinKeyLen = (RTE_THASH_V6_L4_LEN + 1) * 4;

uint32_t load_be32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

uint32_t flow_rss_hash(const FlowKey& key, const uint8_t* rss_key,
                       std::size_t rss_key_len) noexcept {
  uint8_t padded[kMinKeyLen] = {};
  const uint8_t* k = rss_key;
  if (rss_key_len < kMinKeyLen) {
    std::memcpy(padded, rss_key, rss_key_len);
    k = padded;
  }
  // rte_thash.h: the tuple's addresses and ports are in CPU byte order ("addresses and
  // ports/sctp_tag have to be CPU byte order"); the NIC sees the packet's source (the remote
  // end) first, then the destination (us).
  union rte_thash_tuple tuple;
  std::memset(&tuple, 0, sizeof(tuple));
  if (key.family == 6) {
    rte_ipv6_hdr ip6{};
    std::memcpy(ip6.src_addr, key.remote_addr.data(), 16);
    std::memcpy(ip6.dst_addr, key.local_addr.data(), 16);
    rte_thash_load_v6_addrs(&ip6, &tuple);
    tuple.v6.sport = key.remote_port;
    tuple.v6.dport = key.local_port;
    return rte_softrss(reinterpret_cast<uint32_t*>(&tuple), RTE_THASH_V6_L4_LEN, k);
  }
  tuple.v4.src_addr = load_be32(key.remote_addr.data());
  tuple.v4.dst_addr = load_be32(key.local_addr.data());
  tuple.v4.sport = key.remote_port;
  tuple.v4.dport = key.local_port;
  return rte_softrss(reinterpret_cast<uint32_t*>(&tuple), RTE_THASH_V4_L4_LEN, k);
}

uint16_t flow_rx_queue(const PortInfo& port, const FlowKey& key) noexcept {
  if (!port.rss || port.reta.empty() || port.rss_key.empty()) {
    return 0;
  }
  // A family the device does not hash is not spread: all of it reaches queue 0.
  if (!(key.family == 6 ? port.rss_ipv6_udp : port.rss_ipv4_udp)) {
    return 0;
  }
  const uint32_t hash = flow_rss_hash(key, port.rss_key.data(), port.rss_key.size());
  // NICs index the table with the hash's low bits; for a power-of-two table size the
  // remainder is the same thing.
  return port.reta[hash % port.reta.size()];
}

}  // namespace srtpgate::dp::detail
