// A UDP flow (addresses and ports) and the --flow pattern that selects flows.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace srtpgate::app {

struct IpAddress {
  uint8_t version = 0;  // 4 or 6; the first 4 or 16 bytes of `bytes` are used
  std::array<uint8_t, 16> bytes{};

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct Flow {
  IpAddress src;
  IpAddress dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
};

// --flow SRC:PORT-DST:PORT; an empty optional is the wildcard "*".
struct FlowPattern {
  std::optional<IpAddress> src;
  std::optional<uint16_t> src_port;
  std::optional<IpAddress> dst;
  std::optional<uint16_t> dst_port;

  friend bool operator==(const FlowPattern&, const FlowPattern&) = default;
};

// A pattern matches its flow exactly. For RTCP it also matches the flow on both ports + 1, where
// RTCP goes when it is not multiplexed with RTP (RFC 3550 §11), so one --flow covers a stream's
// RTP and RTCP.
inline bool flow_matches(const FlowPattern& pattern, const Flow& flow, bool rtcp) noexcept {
  if ((pattern.src && !(*pattern.src == flow.src)) ||
      (pattern.dst && !(*pattern.dst == flow.dst))) {
    return false;
  }
  const auto port_ok = [](const std::optional<uint16_t>& want, uint16_t got, int shift) {
    return !want || uint32_t{*want} + static_cast<uint32_t>(shift) == got;
  };
  if (port_ok(pattern.src_port, flow.src_port, 0) && port_ok(pattern.dst_port, flow.dst_port, 0)) {
    return true;
  }
  return rtcp && (pattern.src_port || pattern.dst_port) &&
         port_ok(pattern.src_port, flow.src_port, 1) && port_ok(pattern.dst_port, flow.dst_port, 1);
}

}  // namespace srtpgate::app
