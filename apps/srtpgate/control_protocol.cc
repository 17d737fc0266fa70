#include "control_protocol.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "json_codec.h"

#ifndef SRTPGATE_VERSION
#define SRTPGATE_VERSION "0.1.0"
#endif

namespace srtpgate::app {
namespace {

constexpr int kProtocolVersion = 1;
// Members of every request, handled here rather than by the commands.
constexpr std::string_view kEnvelope[] = {"cmd", "tag"};

using Handler = Result<Json> (*)(SessionService&, const Json&);

struct Command {
  std::string_view name;
  Handler handler;
  std::string_view help;
};

Result<uint64_t> get_id(const Json& req) {
  auto it = req.find("id");
  if (it == req.end()) {
    return make_error("id: missing (required)");
  }
  return get_unsigned(*it, "id", 0, UINT64_MAX);
}

// For commands without fields of their own.
Result<Json> no_fields(const Json& req) {
  auto ok = check_members(req, "", {}, kEnvelope);
  if (!ok) {
    return ok.error();
  }
  return Json::object();
}

Result<Json> cmd_create(SessionService& service, const Json& req) {
  auto request = session_request_from_json(req, "", kEnvelope);
  if (!request) {
    return request.error();
  }
  auto info = service.create(request.value());
  if (!info) {
    return info.error();
  }
  return Json{{"session", to_json(info.value())}};
}

Result<Json> cmd_delete(SessionService& service, const Json& req) {
  auto members = check_members(req, "", {"id"}, kEnvelope);
  if (!members) {
    return members.error();
  }
  auto id = get_id(req);
  if (!id) {
    return id.error();
  }
  auto removed = service.remove(id.value());
  if (!removed) {
    return removed.error();
  }
  return Json{{"id", id.value()}};
}

Result<Json> cmd_list(SessionService& service, const Json& req) {
  auto none = no_fields(req);
  if (!none) {
    return none;
  }
  Json sessions = Json::array();
  for (const SessionInfo& info : service.list()) {
    sessions.push_back(to_json(info));
  }
  return Json{{"sessions", std::move(sessions)}};
}

Result<Json> cmd_show(SessionService& service, const Json& req) {
  auto members = check_members(req, "", {"id"}, kEnvelope);
  if (!members) {
    return members.error();
  }
  auto id = get_id(req);
  if (!id) {
    return id.error();
  }
  auto info = service.show(id.value());
  if (!info) {
    return info.error();
  }
  return Json{{"session", to_json(info.value())}};
}

Result<Json> cmd_rekey(SessionService& service, const Json& req) {
  auto members = check_members(req, "", {"id", "inbound", "outbound"}, kEnvelope);
  if (!members) {
    return members.error();
  }
  auto id = get_id(req);
  if (!id) {
    return id.error();
  }
  std::optional<SdesLeg> inbound;
  std::optional<SdesLeg> outbound;
  if (auto it = req.find("inbound"); it != req.end()) {
    auto leg = sdes_leg_from_json(*it, "inbound");
    if (!leg) {
      return leg.error();
    }
    inbound = std::move(leg.value());
  }
  if (auto it = req.find("outbound"); it != req.end()) {
    auto leg = sdes_leg_from_json(*it, "outbound");
    if (!leg) {
      return leg.error();
    }
    outbound = std::move(leg.value());
  }
  if (!inbound && !outbound) {
    return make_error("rekey needs 'inbound', 'outbound' or both");
  }
  auto done = service.rekey(id.value(), inbound, outbound);
  if (!done) {
    return done.error();
  }
  return Json{{"id", id.value()}};
}

Result<Json> cmd_stats(SessionService& service, const Json& req) {
  auto none = no_fields(req);
  if (!none) {
    return none;
  }
  return Json{{"stats", to_json(service.stats())}};
}

Result<Json> cmd_ports(SessionService& service, const Json& req) {
  auto none = no_fields(req);
  if (!none) {
    return none;
  }
  Json ports = Json::array();
  for (const dp::PortDescription& p : service.ports()) {
    ports.push_back(to_json(p));
  }
  return Json{{"ports", std::move(ports)}};
}

Result<Json> cmd_version(SessionService& /*service*/, const Json& req) {
  auto none = no_fields(req);
  if (!none) {
    return none;
  }
  return Json{{"version", SRTPGATE_VERSION}, {"protocol", kProtocolVersion}};
}

Result<Json> cmd_help(SessionService& service, const Json& req);

constexpr Command kCommands[] = {
    {"create", cmd_create,
     "create a session: port, local_addr, [local_port], remote_addr, remote_port, action, "
     "[inbound], [outbound], next_hop, [replay_window], [max_streams], [label]"},
    {"delete", cmd_delete, "delete a session: id"},
    {"list", cmd_list, "list all sessions"},
    {"show", cmd_show, "show one session: id"},
    {"rekey", cmd_rekey, "new SDES keys: id, [inbound], [outbound] as {profile, key}"},
    {"stats", cmd_stats, "dataplane and control-thread counters"},
    {"ports", cmd_ports, "the ports: driver, queues, RSS, MTU, checksum offloads"},
    {"ping", cmd_version, "liveness check; answers like version"},
    {"version", cmd_version, "daemon and protocol version"},
    {"help", cmd_help, "this list"},
};

Result<Json> cmd_help(SessionService& /*service*/, const Json& req) {
  auto none = no_fields(req);
  if (!none) {
    return none;
  }
  Json commands = Json::object();
  for (const Command& c : kCommands) {
    commands[std::string(c.name)] = std::string(c.help);
  }
  return Json{{"commands", std::move(commands)}};
}

// Every SDES key string in the request (any string member named "key", at any depth), and its
// base64 part, so a response can be checked for them before it leaves. Views into `j`: a copy
// would be one more to wipe.
void collect_secrets(const Json& j, std::vector<std::string_view>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "key" && v.is_string()) {
        const std::string_view s = v.get_ref<const std::string&>();
        out.push_back(s);
        std::string_view b64 = s;
        if (b64.starts_with("inline:")) {
          b64.remove_prefix(7);
        }
        out.push_back(b64.substr(0, b64.find('|')));
      } else {
        collect_secrets(v, out);
      }
    }
  } else if (j.is_array()) {
    for (const Json& v : j) {
      collect_secrets(v, out);
    }
  }
}

// The deepest nesting of objects and arrays in a JSON text, counted outside strings; stops
// counting once past kMaxRequestDepth. Malformed text is the parser's to reject.
std::size_t nesting_depth(std::string_view text) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size() && deepest <= kMaxRequestDepth; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, a quote included
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string error_response(const std::string& message, const Json* tag) {
  Json r = Json::object();
  r["ok"] = false;
  if (tag != nullptr) {
    r["tag"] = *tag;
  }
  r["error"] = message;
  return dump(r);
}

std::string handle(SessionService& service, std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.size() > kMaxRequestBytes) {
    return error_response("request too long (" + std::to_string(line.size()) +
                              " bytes; the limit is " + std::to_string(kMaxRequestBytes) + ")",
                          nullptr);
  }
  if (line.find_first_not_of(" \t") == std::string_view::npos) {
    return error_response("empty request: send one JSON object per line", nullptr);
  }
  // Refused before parsing: collect_secrets below walks the request recursively, and a line of
  // 64 KiB can nest 32k deep, past the control thread's stack.
  if (nesting_depth(line) > kMaxRequestDepth) {
    return error_response("request nests objects and arrays deeper than " +
                              std::to_string(kMaxRequestDepth) + " levels",
                          nullptr);
  }
  // A member given twice is refused, not resolved: which of two keys the user meant is unknown.
  // The parsed request wipes its strings when it goes, keys among them.
  auto parsed = parse_json(line, "request");
  if (!parsed) {
    return error_response(parsed.message(), nullptr);
  }
  const Json& req = parsed.value().json();
  if (!req.is_object()) {
    return error_response(std::string("request must be a JSON object, not ") + req.type_name(),
                          nullptr);
  }
  const Json* tag = nullptr;
  if (auto it = req.find("tag"); it != req.end()) {
    if (!it->is_string() && !it->is_number()) {
      return error_response(
          std::string("tag: must be a string or a number, not ") + it->type_name(), nullptr);
    }
    tag = &*it;
  }
  auto it = req.find("cmd");
  if (it == req.end()) {
    return error_response(R"(cmd: missing (required; try {"cmd":"help"}))", tag);
  }
  if (!it->is_string()) {
    return error_response(std::string("cmd: must be a string, not ") + it->type_name(), tag);
  }
  const auto& cmd = it->get_ref<const std::string&>();
  const Command* command = nullptr;
  for (const Command& c : kCommands) {
    if (c.name == cmd) {
      command = &c;
    }
  }
  if (command == nullptr) {
    std::string shown = cmd.substr(0, 32);
    for (char& c : shown) {
      if (c < 0x20 || c > 0x7e) {
        c = '?';
      }
    }
    return error_response("unknown cmd '" + shown + R"(' (try {"cmd":"help"}))", tag);
  }

  auto body = command->handler(service, req);
  std::string out;
  if (body) {
    Json r = Json::object();
    r["ok"] = true;
    if (tag != nullptr) {
      r["tag"] = *tag;
    }
    for (auto& [k, v] : body.value().items()) {
      r[k] = std::move(v);
    }
    out = dump(r);
  } else {
    out = error_response(body.message(), tag);
  }

  std::vector<std::string_view> secrets;
  collect_secrets(req, secrets);
  for (std::string_view s : secrets) {
    // Short fragments ("", "1") would match by chance; a key's base64 is 22 characters or more.
    if (s.size() >= 8 && out.find(s) != std::string::npos) {
      return error_response(
          std::string(command->name) + ": the response would have contained key material; withheld",
          nullptr);
    }
  }
  return out;
}

}  // namespace

std::string handle_request(SessionService& service, std::string_view line) {
  try {
    return handle(service, line);
  } catch (const std::exception&) {
    // The exception's text may quote the request; keep it out of the response.
    return R"({"ok":false,"error":"internal error"})";
  } catch (...) {
    return R"({"ok":false,"error":"internal error"})";
  }
}

}  // namespace srtpgate::app
