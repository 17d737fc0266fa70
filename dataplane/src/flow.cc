// Flow descriptions: addresses, keys and action names.
#include "srtpgate/dp/flow.h"

#include <arpa/inet.h>

#include <cstring>

namespace srtpgate::dp {

Result<IpAddress> IpAddress::parse(std::string_view text) {
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = 4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = 6;
    return a;
  }
  return make_error("'" + s + "' is not an IPv4 or IPv6 address");
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

FlowKey make_flow_key(uint16_t port_id, const IpAddress& local, uint16_t local_port,
                      const IpAddress& remote, uint16_t remote_port, uint16_t vlan) noexcept {
  FlowKey k{};  // no padding (48 bytes of fields), and every byte zero: the table hashes them
  k.family = local.family;
  const std::size_t n = local.family == 6 ? 16 : 4;
  std::memcpy(k.local_addr.data(), local.bytes.data(), n);
  std::memcpy(k.remote_addr.data(), remote.bytes.data(), n);
  k.local_port = local_port;
  k.remote_port = remote_port;
  k.port_id = port_id;
  k.vlan = vlan;
  return k;
}

std::string to_string(const FlowKey& key) {
  IpAddress local;
  IpAddress remote;
  local.family = remote.family = key.family;
  local.bytes = key.local_addr;
  remote.bytes = key.remote_addr;
  // Appends rather than operator+ chains: GCC 12 at -O3 warns falsely (-Wrestrict) on those.
  std::string out = "port ";
  const auto endpoint = [&](const IpAddress& a, uint16_t port) {
    if (key.family == 6) {
      out.append("[").append(a.to_string()).append("]");
    } else {
      out.append(a.to_string());
    }
    out.append(":").append(std::to_string(port));
  };
  out.append(std::to_string(key.port_id)).append(" ");
  if (key.vlan != 0) {
    out.append("vlan ").append(std::to_string(key.vlan)).append(" ");
  }
  endpoint(local, key.local_port);
  out.append(" <- ");
  endpoint(remote, key.remote_port);
  return out;
}

namespace {
constexpr std::string_view kActionNames[] = {"unprotect", "protect", "transcrypt", "forward"};
}  // namespace

std::string_view name(Action a) noexcept { return kActionNames[static_cast<std::size_t>(a)]; }

std::optional<Action> action_from_name(std::string_view n) noexcept {
  for (std::size_t i = 0; i < std::size(kActionNames); ++i) {
    if (kActionNames[i] == n) {
      return static_cast<Action>(i);
    }
  }
  return std::nullopt;
}

}  // namespace srtpgate::dp
