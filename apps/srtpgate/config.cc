#include "config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "json_codec.h"

namespace srtpgate::app {
namespace {

// Certificates and keys are PEM text of a few kilobytes; anything much larger is a wrong path.
constexpr std::size_t kMaxPemBytes = 1 << 20;
// sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
constexpr std::size_t kMaxSocketPath = 107;

Result<std::string> read_file(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error("cannot read '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return make_error("cannot read '" + path + "'");
  }
  std::string s = std::move(text).str();
  if (s.size() > limit) {
    return make_error("'" + path + "' is larger than " + std::to_string(limit) + " bytes");
  }
  return s;
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (base_dir.empty() || path.empty() || path.front() == '/') {
    return path;
  }
  return base_dir + "/" + path;
}

std::string index_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Result<std::vector<PortSpec>> parse_ports(const Json& j) {
  if (!j.is_array() || j.empty()) {
    return make_error("ports: must be a non-empty array of port objects");
  }
  std::vector<PortSpec> ports;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string path = index_path("ports", i);
    const Json& p = j[i];
    if (auto ok = check_members(p, path, {"name", "addresses", "rss"}); !ok) {
      return ok.error();
    }
    PortSpec spec;
    auto name = p.find("name");
    if (name == p.end()) {
      return make_error(path + ".name: missing (required)");
    }
    auto n = get_string(*name, path + ".name");
    if (!n) {
      return n.error();
    }
    spec.name = n.value();
    if (spec.name.empty()) {
      return make_error(path + ".name: must not be empty");
    }
    for (const PortSpec& other : ports) {
      if (other.name == spec.name) {
        return make_error(path + ".name: '" + spec.name + "' is configured twice");
      }
    }
    auto addrs = p.find("addresses");
    if (addrs == p.end()) {
      return make_error(path + ".addresses: missing (required)");
    }
    if (!addrs->is_array() || addrs->empty()) {
      return make_error(path + ".addresses: must be a non-empty array of IP addresses");
    }
    for (std::size_t k = 0; k < addrs->size(); ++k) {
      const std::string apath = index_path(path + ".addresses", k);
      auto text = get_string((*addrs)[k], apath);
      if (!text) {
        return text.error();
      }
      auto a = dp::IpAddress::parse(text.value());
      if (!a) {
        return make_error(apath + ": '" + text.value().substr(0, 64) +
                          "' is not an IPv4 or IPv6 address");
      }
      spec.addresses.push_back(a.value());
    }
    if (auto rss = p.find("rss"); rss != p.end()) {
      auto b = get_bool(*rss, path + ".rss");
      if (!b) {
        return b.error();
      }
      spec.rss = b.value();
    }
    ports.push_back(std::move(spec));
  }
  return ports;
}

bool has_port(const std::vector<PortSpec>& ports, const std::string& name) {
  for (const PortSpec& p : ports) {
    if (p.name == name) {
      return true;
    }
  }
  return false;
}

Result<AppConfig> parse(std::string_view text, const std::string& base_dir) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return make_error("the configuration is not valid JSON");
  }
  if (!j.is_object()) {
    return make_error(std::string("the configuration must be a JSON object, not ") + j.type_name());
  }
  if (auto ok = check_members(j, "",
                              {"ports", "port_range", "stats_interval", "control_socket",
                               "certificate", "flows_per_worker", "mbufs", "sessions"});
      !ok) {
    return ok.error();
  }
  AppConfig config;

  auto ports = j.find("ports");
  if (ports == j.end()) {
    return make_error("ports: missing (required)");
  }
  auto parsed_ports = parse_ports(*ports);
  if (!parsed_ports) {
    return parsed_ports.error();
  }
  config.ports = std::move(parsed_ports.value());

  if (auto range = j.find("port_range"); range != j.end()) {
    if (!range->is_array() || range->size() != 2) {
      return make_error("port_range: must be [first, last], e.g. [20000, 29999]");
    }
    auto first = get_unsigned((*range)[0], "port_range[0]", 1024, 65535);
    if (!first) {
      return first.error();
    }
    auto last = get_unsigned((*range)[1], "port_range[1]", 1024, 65535);
    if (!last) {
      return last.error();
    }
    // RTP takes the even port and RTCP the odd one after it (RFC 3550 §11).
    if (first.value() % 2 != 0) {
      return make_error("port_range[0]: " + std::to_string(first.value()) +
                        " is odd; RTP ports start even");
    }
    if (first.value() > last.value()) {
      return make_error("port_range: first " + std::to_string(first.value()) + " is above last " +
                        std::to_string(last.value()));
    }
    config.port_range_first = static_cast<uint16_t>(first.value());
    config.port_range_last = static_cast<uint16_t>(last.value());
  }

  if (auto it = j.find("stats_interval"); it != j.end()) {
    auto v = get_unsigned(*it, "stats_interval", 0, 86400);
    if (!v) {
      return v.error();
    }
    config.stats_interval_seconds = static_cast<unsigned>(v.value());
  }
  if (auto it = j.find("control_socket"); it != j.end()) {
    auto v = get_string(*it, "control_socket");
    if (!v) {
      return v.error();
    }
    if (v.value().empty() || v.value().size() > kMaxSocketPath) {
      return make_error("control_socket: must be a path of 1.." + std::to_string(kMaxSocketPath) +
                        " bytes");
    }
    config.control_socket = v.value();
  }
  if (auto it = j.find("certificate"); it != j.end()) {
    if (auto ok = check_members(*it, "certificate", {"cert_pem_file", "key_pem_file"}); !ok) {
      return ok.error();
    }
    std::string* targets[] = {&config.certificate_pem, &config.private_key_pem};
    const char* names[] = {"cert_pem_file", "key_pem_file"};
    std::string files[2];
    for (int i = 0; i < 2; ++i) {
      const std::string path = std::string("certificate.") + names[i];
      auto f = it->find(names[i]);
      if (f == it->end()) {
        return make_error(path + ": missing (required with certificate)");
      }
      auto file = get_string(*f, path);
      if (!file) {
        return file.error();
      }
      files[i] = file.value();
    }
    for (int i = 0; i < 2; ++i) {
      auto pem = read_file(resolve(base_dir, files[i]), kMaxPemBytes);
      if (!pem) {
        return make_error(std::string("certificate.") + names[i] + ": " + pem.message());
      }
      *targets[i] = std::move(pem.value());
    }
  }
  if (auto it = j.find("flows_per_worker"); it != j.end()) {
    auto v = get_unsigned(*it, "flows_per_worker", 1, UINT32_MAX);
    if (!v) {
      return v.error();
    }
    config.flows_per_worker = static_cast<uint32_t>(v.value());
  }
  if (auto it = j.find("mbufs"); it != j.end()) {
    auto v = get_unsigned(*it, "mbufs", 1, UINT32_MAX);
    if (!v) {
      return v.error();
    }
    config.mbufs = static_cast<uint32_t>(v.value());
  }
  if (auto it = j.find("sessions"); it != j.end()) {
    if (!it->is_array()) {
      return make_error(std::string("sessions: must be an array of session objects, not ") +
                        it->type_name());
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string path = index_path("sessions", i);
      auto s = session_request_from_json((*it)[i], path);
      if (!s) {
        return s.error();
      }
      if (!has_port(config.ports, s.value().port)) {
        return make_error(path + ".port: '" + s.value().port + "' is not in ports");
      }
      if (!s.value().next_hop.port.empty() && !has_port(config.ports, s.value().next_hop.port)) {
        return make_error(path + ".next_hop.port: '" + s.value().next_hop.port +
                          "' is not in ports");
      }
      config.sessions.push_back(std::move(s.value()));
    }
  }
  return config;
}

}  // namespace

Result<AppConfig> parse_config(std::string_view json_text) {
  try {
    return parse(json_text, "");
  } catch (const std::exception&) {
    return make_error("the configuration could not be read (internal error)");
  }
}

Result<AppConfig> load_config(const std::string& path) {
  try {
    auto text = read_file(path, 64 << 20);
    if (!text) {
      return text.error();
    }
    // Certificate paths are relative to the configuration file, like include paths.
    auto slash = path.rfind('/');
    return parse(text.value(), slash == std::string::npos ? "" : path.substr(0, slash));
  } catch (const std::exception&) {
    return make_error(path + ": could not be read (internal error)");
  }
}

}  // namespace srtpgate::app
