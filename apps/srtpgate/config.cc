#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "json_codec.h"

namespace srtpgate::app {
namespace detail {

std::string resolve_config_relative(const std::string& config_path, const std::string& file) {
  if (file.empty() || file.front() == '/') {
    return file;
  }
  auto slash = config_path.rfind('/');
  if (slash == std::string::npos) {
    return file;  // the configuration is in the working directory, and so is the file
  }
  // Up to and including the slash, so a configuration at "/x.json" gives "/" and not "".
  return config_path.substr(0, slash + 1) + file;
}

}  // namespace detail

namespace {

// Certificates and keys are PEM text of a few kilobytes; anything much larger is a wrong path.
constexpr std::size_t kMaxPemBytes = 1 << 20;
constexpr std::size_t kMaxConfigBytes = 64 << 20;
// sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
constexpr std::size_t kMaxSocketPath = 107;

struct UniqueFd {
  explicit UniqueFd(int f) : fd(f) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  int fd;
};

// What read_file accepts besides a regular file.
enum class Source : uint8_t {
  regular_file,  // certificates and keys: a path in the configuration
  or_stream,     // the configuration itself, named by the operator: also a pipe or a device, so
                 // `--config /dev/stdin` and `--config <(generate)` keep keys off disk
};

// The whole of a file of at most `limit` bytes. What the path names is checked on the open
// descriptor before anything is read: a directory would read as "" (an empty certificate means
// "generate one"), and a FIFO named in the configuration would wait for ever. From a stream at
// most limit + 1 bytes are read, so /dev/zero is refused too. The text (a private key, SDES
// keys) is wiped when it goes, and so is each smaller block it outgrows on the way.
Result<SecretString> read_file(const std::string& path, std::size_t limit,
                               Source source = Source::regular_file) {
  auto fail = [&path](const std::string& why) {
    return make_error("cannot read '" + path + "': " + why);
  };
  // O_NONBLOCK so that opening a FIFO does not wait for a writer; it is refused below anyway.
  UniqueFd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (f.fd < 0) {
    return fail(std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    return fail(std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    return fail("it is a directory");
  }
  const bool stream = source == Source::or_stream && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode));
  if (!S_ISREG(st.st_mode) && !stream) {
    return fail("not a regular file");
  }
  if (S_ISFIFO(st.st_mode) && stream) {
    // Opened again to wait for its writer: without one, a non-blocking FIFO reads as empty.
    UniqueFd blocking{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
    if (blocking.fd < 0) {
      return fail(std::strerror(errno));
    }
    std::swap(f.fd, blocking.fd);
  } else if (stream && ::fcntl(f.fd, F_SETFL, 0) != 0) {
    return fail(std::strerror(errno));
  }
  const std::string too_large = "larger than " + std::to_string(limit) + " bytes";
  if (!stream && static_cast<uint64_t>(st.st_size) > limit) {
    return fail(too_large);
  }
  // The file may grow after fstat; reading up to one byte past the limit notices that.
  const std::size_t expected = stream ? std::size_t{4096} : static_cast<std::size_t>(st.st_size);
  SecretString text;
  text.resize(std::min(expected, limit) + 1);
  std::size_t used = 0;
  for (;;) {
    if (used == text.size()) {
      if (used > limit) {
        return fail(too_large);
      }
      text.resize(std::min(text.size() * 2, limit + 1));
    }
    const ssize_t n = ::read(f.fd, text.data() + used, text.size() - used);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(std::strerror(errno));
    }
    used += static_cast<std::size_t>(n);
  }
  text.resize(used);
  return text;
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

// `config_path` is the file the text came from, for certificate paths relative to it; empty for
// text from elsewhere.
Result<AppConfig> parse(std::string_view text, const std::string& config_path) {
  // A member given twice is refused: "last one wins" would let a typo go unnoticed. The parsed
  // text wipes its strings when it goes, SDES keys among them.
  auto parsed = parse_json(text, "the configuration");
  if (!parsed) {
    return parsed.error();
  }
  const Json& j = parsed.value().json();
  if (!j.is_object()) {
    return make_error(std::string("the configuration must be a JSON object, not ") + j.type_name());
  }
  if (auto ok =
          check_members(j, "",
                        {"ports", "port_range", "stats_interval", "control_socket", "certificate",
                         "flows_per_worker", "mbufs", "stage_clock", "sessions"});
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
      const std::string file = detail::resolve_config_relative(config_path, files[i]);
      auto pem = read_file(file, kMaxPemBytes);
      if (!pem) {
        return make_error(std::string("certificate.") + names[i] + ": " + pem.message());
      }
      // An empty certificate_pem means "generate one": a file that was named must not do that.
      if (pem.value().empty()) {
        return make_error(std::string("certificate.") + names[i] + ": '" + file +
                          "' is empty; expected PEM text");
      }
      if (i == 0) {
        config.certificate_pem = pem.value().view();
      } else {
        config.private_key_pem = std::move(pem.value());
      }
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
  if (auto it = j.find("stage_clock"); it != j.end()) {
    auto v = get_bool(*it, "stage_clock");
    if (!v) {
      return v.error();
    }
    config.stage_clock = v.value();
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
    auto text = read_file(path, kMaxConfigBytes, Source::or_stream);
    if (!text) {
      return text.error();
    }
    return parse(text.value().view(), path);
  } catch (const std::exception&) {
    return make_error(path + ": could not be read (internal error)");
  }
}

}  // namespace srtpgate::app
