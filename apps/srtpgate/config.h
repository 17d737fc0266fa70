// The daemon's configuration file (JSON), read once at start-up. Its format is documented in
// docs/control.md next to the control protocol, whose session objects it shares.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "secret_string.h"
#include "session_service.h"
#include "srtpgate/dp/flow.h"
#include "srtpgate/result.h"

namespace srtpgate::app {

struct PortSpec {
  std::string name;                     // DPDK device name (created with --vdev or a PCI address)
  std::vector<dp::IpAddress> addresses; // ours on this port: ARP/NDP answered, sessions bound
  bool rss = true;
};

struct AppConfig {
  std::vector<PortSpec> ports;
  uint16_t port_range_first = 20000;  // local UDP ports the engine allocates (even numbers)
  uint16_t port_range_last = 29999;
  unsigned stats_interval_seconds = 1;  // 0: no periodic statistics line
  std::string control_socket = "/run/srtpgate/control.sock";
  std::string certificate_pem;  // empty: generate an ECDSA P-256 certificate at start
  SecretString private_key_pem;
  uint32_t flows_per_worker = 65536;
  uint32_t mbufs = 16383;
  bool stage_clock = false;              // dp::DataplaneConfig::stage_clock
  std::vector<SessionRequest> sessions;  // installed at start
};

// Parses the JSON text. Fails with a message naming the field at fault ("ports[1].addresses[0]:
// '10.0.0.300' is not an IPv4 or IPv6 address"); never throws.
Result<AppConfig> parse_config(std::string_view json_text);
// Reads and parses the file at `path`; certificate files are read relative to its folder. Fails
// on anything but a regular file, and on a certificate or key file that is empty.
Result<AppConfig> load_config(const std::string& path);

namespace detail {
// `file` as named in the configuration at `config_path`: a relative path is taken relative to the
// configuration's folder ("/etc/srtpgate/cert.pem" for "cert.pem" in "/etc/srtpgate/x.json",
// "/cert.pem" for one in "/x.json"), or to the working directory if `config_path` has no '/'.
std::string resolve_config_relative(const std::string& config_path, const std::string& file);
}  // namespace detail

}  // namespace srtpgate::app
