// srtpgate-ctl: the command-line client of srtpgate's control socket (docs/control.md). Builds
// one JSON request from its arguments, sends it as one line, prints the one-line response.
//
// Exit status: 0 the daemon answered ok, 1 it answered with an error, 2 usage error,
// 3 no valid answer (socket missing or refused, timeout, connection closed, garbled reply).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace srtpgate::app::ctl {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kExitOk = 0;
constexpr int kExitErrorResponse = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kTimeoutMs = 5000;
constexpr std::size_t kMaxResponseBytes = 16 << 20;

constexpr const char* kUsage = R"(usage: srtpgate-ctl [--socket PATH] [--json] COMMAND [ARGS]

commands:
  create --json '{...}'            a session object as in docs/control.md ('-': read stdin)
  create --port P [--port-vlan N] --local ADDR[:PORT] --remote ADDR:PORT --action ACTION
         [--in-sdes PROFILE:inline:KEY | --in-dtls active|passive:FINGERPRINT]
         [--out-sdes PROFILE:inline:KEY | --out-dtls active|passive:FINGERPRINT]
         --next-hop-mac MAC --next-hop-src ADDR[:PORT] --next-hop-dst ADDR:PORT
         [--next-hop-port P] [--vlan N] [--replay-window N] [--max-streams N] [--label L]
         (--port-vlan: the VLAN the media arrives on; --vlan: the next hop's; 0 untagged)
         Keys given here are visible to other local users (ps): for real keys use
         create --json - and rekey with raw -, reading the request from stdin.
  delete ID
  list
  show ID
  rekey ID [--in-sdes PROFILE:inline:KEY] [--out-sdes PROFILE:inline:KEY]
  stats
  ports                            driver, queues, RSS, MTU and checksum offloads of each port
  ping | version | help
  raw '{json}'                     send a request as is ('-': read stdin)

options:
  --socket PATH   the daemon's control socket (default $SRTPGATE_CONTROL_SOCKET,
                  else /run/srtpgate/control.sock)
  --json          print the daemon's response line as is
  -h, --help      this text

IPv6 addresses with a port are written [2001:db8::1]:5000.
Exit status: 0 ok, 1 error response, 2 usage error, 3 no valid answer from the socket.
)";

struct UsageError {
  std::string message;
};

[[noreturn]] void usage_error(const std::string& message) { throw UsageError{message}; }

// Usage errors never quote an argument's value, only an option's name or a command's: a key
// typed in the wrong place (after '=', or where an option or an ID was expected) must not end
// up on the terminal or in a log.
bool is_plain_word(std::string_view text) {
  return !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool is_one_of(std::string_view arg, std::span<const std::string_view> known) {
  return std::find(known.begin(), known.end(), arg) != known.end();
}

// `arg`, found where an option was expected, is not one of `known` (the options that take a
// value). `context` starts the message ("create: "); `position` is the index in argv.
[[noreturn]] void bad_option(std::string_view context, std::string_view arg, std::size_t position,
                             std::span<const std::string_view> known) {
  const std::string where = " (argument " + std::to_string(position) + ")";
  const std::size_t eq = arg.find('=');
  const std::string name(arg.substr(0, eq));
  std::string out(context);
  if (!name.starts_with("-") || !is_plain_word(name)) {
    out += "expected an option" + where + "; the argument is not shown in case it is a key";
  } else if (eq == std::string_view::npos) {
    out += "unknown option '" + name + "'" + where;
  } else if (is_one_of(name, known)) {
    out += "'" + name + "=...'" + where + ": give the value as the next argument, '" + name +
           " VALUE'";
  } else {
    out += "unknown option '" + name + "=...'" + where;
  }
  usage_error(out);
}

uint64_t parse_number(std::string_view text, std::string_view what, uint64_t max) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > max) {
    usage_error(std::string(what) + ": expected a number in 0.." + std::to_string(max));
  }
  return v;
}

// "198.18.0.1", "198.18.0.1:4000", "2001:db8::1", "[2001:db8::1]:4000".
std::pair<std::string, std::optional<uint16_t>> split_host_port(std::string_view text,
                                                                std::string_view what) {
  if (text.starts_with("[")) {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      usage_error(std::string(what) + ": missing ']' after an IPv6 address");
    }
    std::string addr(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) {
      return {addr, std::nullopt};
    }
    if (!rest.starts_with(":")) {
      usage_error(std::string(what) + ": expected ':PORT' after ']'");
    }
    return {addr, static_cast<uint16_t>(parse_number(rest.substr(1), what, 65535))};
  }
  auto colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
    return {std::string(text), std::nullopt};  // no port, or a bare IPv6 address
  }
  return {std::string(text.substr(0, colon)),
          static_cast<uint16_t>(parse_number(text.substr(colon + 1), what, 65535))};
}

// "PROFILE:inline:KEY" -> {"profile":..., "key":...}
Json sdes_arg(std::string_view text, std::string_view what) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    usage_error(std::string(what) + ": expected PROFILE:inline:KEY");
  }
  return Json{{"profile", std::string(text.substr(0, colon))},
              {"key", std::string(text.substr(colon + 1))}};
}

// "active:sha-256 AB:CD:..." -> {"setup":..., "fingerprint":...}
Json dtls_arg(std::string_view text, std::string_view what) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    usage_error(std::string(what) + ": expected active|passive:FINGERPRINT");
  }
  return Json{{"setup", std::string(text.substr(0, colon))},
              {"fingerprint", std::string(text.substr(colon + 1))}};
}

// A SAX pass that stops at the first member named twice in one object. The request is rebuilt
// from the parsed object, where nlohmann keeps only the last of them, so the daemon (which
// refuses repeated members) would never see the repetition.
class DuplicateFinder {
 public:
  // The first repeated member's name, once one was found.
  const std::optional<std::string>& duplicate() const { return duplicate_; }

  bool null() { return true; }
  bool boolean(bool /*value*/) { return true; }
  bool number_integer(Json::number_integer_t /*value*/) { return true; }
  bool number_unsigned(Json::number_unsigned_t /*value*/) { return true; }
  bool number_float(Json::number_float_t /*value*/, const Json::string_t& /*text*/) { return true; }
  bool string(Json::string_t& /*value*/) { return true; }
  bool binary(Json::binary_t& /*value*/) { return true; }
  bool start_object(std::size_t /*size*/) {
    names_.emplace_back();
    return true;
  }
  bool key(Json::string_t& name) {
    if (!names_.back().insert(name).second) {
      duplicate_ = name;
      return false;  // stops the parse
    }
    return true;
  }
  bool end_object() {
    names_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*size*/) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const Json::exception& /*error*/) {
    return false;
  }

 private:
  std::vector<std::unordered_set<std::string>> names_;  // per open object
  std::optional<std::string> duplicate_;
};

Json parse_json_arg(std::string_view text, std::string_view what) {
  std::string input;
  if (text == "-") {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    input = std::string(text);
  }
  DuplicateFinder finder;
  if (!Json::sax_parse(input, &finder) && finder.duplicate()) {
    const std::string& name = *finder.duplicate();
    usage_error(std::string(what) + ": " +
                (is_plain_word(name) ? "'" + name + "'" : std::string("a member")) +
                " is given twice in one object");
  }
  Json j = Json::parse(input, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    usage_error(std::string(what) + ": not a JSON object");
  }
  return j;
}

// Walks a command's arguments: --name VALUE pairs. `first` is the first one's index in argv.
class Args {
 public:
  Args(std::vector<std::string_view> args, std::size_t first)
      : args_(std::move(args)), first_(first) {}
  bool done() const { return i_ >= args_.size(); }
  // The index in argv of the argument next() returns.
  std::size_t position() const { return first_ + i_; }
  // `what` is quoted in the error: a literal or a known option's name, never argument text.
  std::string_view next(std::string_view what) {
    if (done()) {
      usage_error(std::string(what) + ": missing argument");
    }
    return args_[i_++];
  }

 private:
  std::vector<std::string_view> args_;
  std::size_t first_;
  std::size_t i_ = 0;
};

constexpr std::string_view kCreateOptions[] = {
    "--json",          "--port",         "--port-vlan",    "--local",        "--remote",
    "--action",        "--in-sdes",      "--out-sdes",     "--in-dtls",      "--out-dtls",
    "--next-hop-port", "--next-hop-mac", "--next-hop-src", "--next-hop-dst", "--vlan",
    "--replay-window", "--max-streams",  "--label"};
constexpr std::string_view kRekeyOptions[] = {"--in-sdes", "--out-sdes"};

Json build_create(Args& args) {
  Json req = Json::object();
  req["cmd"] = "create";
  Json next_hop = Json::object();
  std::optional<Json> whole;
  bool fields = false;
  while (!args.done()) {
    const std::size_t position = args.position();
    std::string_view opt = args.next("create");
    // Checked before its value is taken, so that an error names an option and never a value.
    if (!is_one_of(opt, kCreateOptions)) {
      bad_option("create: ", opt, position, kCreateOptions);
    }
    if (opt == "--json") {
      whole = parse_json_arg(args.next(opt), opt);
      continue;
    }
    fields = true;
    std::string_view val = args.next(opt);
    if (opt == "--port") {
      req["port"] = std::string(val);
    } else if (opt == "--port-vlan") {
      req["vlan"] = parse_number(val, opt, 4094);
    } else if (opt == "--local") {
      auto [a, p] = split_host_port(val, opt);
      req["local_addr"] = a;
      if (p) {
        req["local_port"] = *p;
      }
    } else if (opt == "--remote") {
      auto [a, p] = split_host_port(val, opt);
      if (!p) {
        usage_error("--remote: needs ADDR:PORT");
      }
      req["remote_addr"] = a;
      req["remote_port"] = *p;
    } else if (opt == "--action") {
      req["action"] = std::string(val);
    } else if (opt == "--in-sdes") {
      req["inbound"] = Json{{"sdes", sdes_arg(val, opt)}};
    } else if (opt == "--out-sdes") {
      req["outbound"] = Json{{"sdes", sdes_arg(val, opt)}};
    } else if (opt == "--in-dtls") {
      req["inbound"] = Json{{"dtls", dtls_arg(val, opt)}};
    } else if (opt == "--out-dtls") {
      req["outbound"] = Json{{"dtls", dtls_arg(val, opt)}};
    } else if (opt == "--next-hop-port") {
      next_hop["port"] = std::string(val);
    } else if (opt == "--next-hop-mac") {
      next_hop["mac"] = std::string(val);
    } else if (opt == "--next-hop-src") {
      auto [a, p] = split_host_port(val, opt);
      next_hop["src_addr"] = a;
      if (p) {
        next_hop["src_port"] = *p;
      }
    } else if (opt == "--next-hop-dst") {
      auto [a, p] = split_host_port(val, opt);
      if (!p) {
        usage_error("--next-hop-dst: needs ADDR:PORT");
      }
      next_hop["dst_addr"] = a;
      next_hop["dst_port"] = *p;
    } else if (opt == "--vlan") {
      next_hop["vlan"] = parse_number(val, opt, 4094);
    } else if (opt == "--replay-window") {
      req["replay_window"] = parse_number(val, opt, UINT32_MAX);
    } else if (opt == "--max-streams") {
      req["max_streams"] = parse_number(val, opt, UINT32_MAX);
    } else if (opt == "--label") {
      req["label"] = std::string(val);
    }
  }
  if (whole) {
    if (fields) {
      usage_error("create: give either --json or the field options, not both");
    }
    Json out = Json::object();
    out["cmd"] = "create";
    for (auto& [k, v] : whole->items()) {
      if (k != "cmd") {
        out[k] = v;
      }
    }
    return out;
  }
  if (!next_hop.empty()) {
    req["next_hop"] = std::move(next_hop);
  }
  // Missing required fields are left for the daemon, whose message names them.
  return req;
}

// `position` is the command's index in argv.
Json build_request(std::string_view cmd, std::size_t position, Args& args) {
  if (cmd == "create") {
    return build_create(args);
  }
  if (cmd == "delete" || cmd == "show") {
    uint64_t id = parse_number(args.next(std::string(cmd) + " ID"), "ID", UINT64_MAX);
    if (!args.done()) {
      usage_error(std::string(cmd) + ": takes only ID");
    }
    return Json{{"cmd", std::string(cmd)}, {"id", id}};
  }
  if (cmd == "rekey") {
    uint64_t id = parse_number(args.next("rekey ID"), "ID", UINT64_MAX);
    Json req{{"cmd", "rekey"}, {"id", id}};
    while (!args.done()) {
      const std::size_t position = args.position();
      std::string_view opt = args.next("rekey");
      if (opt == "--in-sdes") {
        req["inbound"] = sdes_arg(args.next(opt), opt);
      } else if (opt == "--out-sdes") {
        req["outbound"] = sdes_arg(args.next(opt), opt);
      } else {
        bad_option("rekey: ", opt, position, kRekeyOptions);
      }
    }
    if (!req.contains("inbound") && !req.contains("outbound")) {
      usage_error("rekey: give --in-sdes, --out-sdes or both");
    }
    return req;
  }
  if (cmd == "list" || cmd == "stats" || cmd == "ports" || cmd == "ping" || cmd == "version" ||
      cmd == "help") {
    if (!args.done()) {
      usage_error(std::string(cmd) + ": takes no arguments");
    }
    return Json{{"cmd", std::string(cmd)}};
  }
  if (cmd == "raw") {
    Json req = parse_json_arg(args.next("raw"), "raw");
    if (!args.done()) {
      usage_error("raw: takes one JSON object");
    }
    return req;
  }
  if (!is_plain_word(cmd)) {
    usage_error("expected a command (argument " + std::to_string(position) +
                "); the argument is not shown in case it is a key");
  }
  usage_error("unknown command '" + std::string(cmd) + "'");
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Sends one line and reads one line back. Returns the response without its newline, or nullopt
// after printing why on stderr.
std::optional<std::string> send_request(const std::string& socket_path, const std::string& line) {
  auto fail = [&](const std::string& what) -> std::optional<std::string> {
    std::fprintf(stderr, "srtpgate-ctl: %s: %s\n", socket_path.c_str(), what.c_str());
    return std::nullopt;
  };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return fail("socket path is empty or too long");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (s.fd < 0) {
    return fail(std::string("socket: ") + std::strerror(errno));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  auto try_connect = [&] {
    return ::connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  };
  int rc = try_connect();
  // A Unix socket whose listen backlog is full fails at once with EAGAIN and does not complete
  // later (unix(7)): poll would return immediately on the unconnected socket. Try again until
  // the daemon accepts or the time is up.
  while (rc != 0 && errno == EAGAIN) {
    const int left = remaining_ms(deadline);
    if (left == 0) {
      return fail("timed out connecting: the daemon is not accepting connections (backlog full)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(left, 10)));
    rc = try_connect();
  }
  if (rc != 0) {
    if (errno != EINPROGRESS) {
      return fail(std::string("cannot connect: ") + std::strerror(errno));
    }
    pollfd p{s.fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      return fail("timed out connecting");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return fail(std::string("cannot connect: ") + std::strerror(err));
    }
  }
  std::string out = line + "\n";
  std::size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(s.fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno != EAGAIN) {
      return fail(std::string("send: ") + std::strerror(errno));
    }
    pollfd p{s.fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      return fail("timed out sending the request");
    }
  }
  std::string in;
  char buf[4096];
  for (;;) {
    auto nl = in.find('\n');
    if (nl != std::string::npos) {
      in.resize(nl);
      return in;
    }
    if (in.size() > kMaxResponseBytes) {
      return fail("response too long");
    }
    ssize_t n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      in.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      return fail("the daemon closed the connection without a complete response");
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN) {
      return fail(std::string("recv: ") + std::strerror(errno));
    }
    pollfd p{s.fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      return fail("timed out waiting for the response (5 s)");
    }
  }
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) {
    return "";
  }
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string endpoint(const Json& s, const char* addr, const char* port) {
  std::string a = str(s, addr);
  if (a.find(':') != std::string::npos) {
    a = "[" + a + "]";
  }
  return a + ":" + str(s, port);
}

void print_list(const Json& sessions) {
  std::printf("%-6s %-11s %-10s %-10s %-28s %-28s %12s %12s %10s  %s\n", "ID", "STATE", "ACTION",
              "PORT", "LOCAL", "REMOTE", "RX", "TX", "DROPPED", "LABEL");
  for (const Json& s : sessions) {
    const Json counters = s.value("counters", Json::object());
    std::printf("%-6s %-11s %-10s %-10s %-28s %-28s %12s %12s %10s  %s\n", str(s, "id").c_str(),
                str(s, "state").c_str(), str(s, "action").c_str(), str(s, "port").c_str(),
                endpoint(s, "local_addr", "local_port").c_str(),
                endpoint(s, "remote_addr", "remote_port").c_str(),
                str(counters, "rx_packets").c_str(), str(counters, "tx_packets").c_str(),
                str(counters, "dropped").c_str(), str(s, "label").c_str());
  }
}

int print_response(std::string_view cmd, const std::string& line, bool raw) {
  Json r = Json::parse(line, nullptr, false);
  if (r.is_discarded() || !r.is_object() || !r.contains("ok") || !r["ok"].is_boolean()) {
    std::fprintf(stderr, "srtpgate-ctl: the daemon's response is not a protocol response\n");
    if (raw) {
      std::printf("%s\n", line.c_str());
    }
    return kExitUnreachable;
  }
  const bool ok = r["ok"].get<bool>();
  if (raw) {
    std::printf("%s\n", line.c_str());
    return ok ? kExitOk : kExitErrorResponse;
  }
  if (!ok) {
    std::fprintf(stderr, "srtpgate-ctl: error: %s\n", str(r, "error").c_str());
    return kExitErrorResponse;
  }
  r.erase("ok");
  r.erase("tag");
  if (cmd == "list" && r.contains("sessions") && r["sessions"].is_array()) {
    const Json& sessions = r["sessions"];
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      if (!sessions[i].is_object()) {
        std::fprintf(stderr,
                     "srtpgate-ctl: the daemon's response is not a protocol response "
                     "(sessions[%zu] is not an object)\n",
                     i);
        return kExitUnreachable;
      }
    }
    print_list(sessions);
  } else if (r.empty()) {
    std::printf("ok\n");
  } else {
    std::printf("%s\n", r.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
  }
  return kExitOk;
}

int run(int argc, char** argv) {
  std::string socket_path = "/run/srtpgate/control.sock";
  if (const char* env = std::getenv("SRTPGATE_CONTROL_SOCKET"); env != nullptr && *env != '\0') {
    socket_path = env;
  }
  bool raw = false;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--socket") {
      if (i + 1 >= argc) {
        usage_error("--socket: missing PATH");
      }
      socket_path = argv[++i];
    } else if (a.starts_with("--socket=")) {
      socket_path = std::string(a.substr(9));
    } else if (a == "--json") {
      raw = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(kExitOk);
    } else if (a.starts_with("-")) {
      bad_option("", a, static_cast<std::size_t>(i), {});
    } else {
      break;
    }
  }
  if (i >= argc) {
    usage_error("missing COMMAND");
  }
  const auto cmd_position = static_cast<std::size_t>(i);
  std::string_view cmd = argv[i++];
  Args args(std::vector<std::string_view>(argv + i, argv + argc), static_cast<std::size_t>(i));
  Json request = build_request(cmd, cmd_position, args);
  auto response =
      send_request(socket_path, request.dump(-1, ' ', false, Json::error_handler_t::replace));
  if (!response) {
    return kExitUnreachable;
  }
  try {
    return print_response(cmd, *response, raw);
  } catch (const std::exception&) {
    // A reply that parsed but holds a type the printing did not expect; by then the request was
    // sent, so this is no usage error.
    std::fprintf(stderr, "srtpgate-ctl: the daemon's response is not a protocol response\n");
    return kExitUnreachable;
  }
}

}  // namespace
}  // namespace srtpgate::app::ctl

int main(int argc, char** argv) {
  try {
    return srtpgate::app::ctl::run(argc, argv);
  } catch (const srtpgate::app::ctl::UsageError& e) {
    std::fprintf(stderr, "srtpgate-ctl: %s\n(srtpgate-ctl --help for usage)\n", e.message.c_str());
    return srtpgate::app::ctl::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srtpgate-ctl: %s\n", e.what());
    return srtpgate::app::ctl::kExitUsage;
  }
}
