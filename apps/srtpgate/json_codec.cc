#include "json_codec.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "srtpgate/master_key.h"
#include "srtpgate/profile.h"
#include "srtpgate/secret.h"

// Early return of a failed Result from a function returning another Result type.
#define SG_ASSIGN(lhs, expr)          \
  do {                                \
    auto sg_r_ = (expr);              \
    if (!sg_r_) {                     \
      return sg_r_.error();           \
    }                                 \
    (lhs) = std::move(sg_r_.value()); \
  } while (0)
#define SG_CHECK(expr)      \
  do {                      \
    auto sg_r_ = (expr);    \
    if (!sg_r_) {           \
      return sg_r_.error(); \
    }                       \
  } while (0)

namespace srtpgate::app {

std::string_view name(SessionState s) noexcept {
  switch (s) {
    case SessionState::handshaking:
      return "handshaking";
    case SessionState::active:
      return "active";
    case SessionState::failed:
      return "failed";
  }
  return "unknown";
}

namespace {

// A user-supplied value quoted in an error message, cut short so a message stays one line.
// Never used for key material.
std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 64;
  std::string out = "'";
  for (char c : text.substr(0, kMax)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (text.size() > kMax) {
    out += "...";
  }
  out += "'";
  return out;
}

// A member name in a path: quoted like a value, without the quotes.
std::string shown_name(std::string_view key) {
  std::string shown = quote(key);
  return shown.substr(1, shown.size() - 2);
}

// Every string value in `j`, to its capacity (a short string is stored in the object itself).
void wipe_strings(Json& j) noexcept {
  if (auto* s = j.get_ptr<Json::string_t*>()) {
    secure_zero(s->data(), s->capacity());
  } else if (auto* object = j.get_ptr<Json::object_t*>()) {
    for (auto& member : *object) {
      wipe_strings(member.second);
    }
  } else if (auto* array = j.get_ptr<Json::array_t*>()) {
    for (Json& element : *array) {
      wipe_strings(element);
    }
  }
}

// Builds a document from nlohmann's SAX events, stopping at the first member named twice in one
// object (nlohmann keeps the last of them silently) and at nesting deeper than kMaxJsonDepth.
// Not nlohmann's own parser: the callback that would show it duplicates scans the parent
// container at the end of every object (quadratic in the input), and an ordered_json object
// copies all its members, values and all, each time it grows (a member's const name cannot be
// moved), freeing the old copies unwiped. Here an object's members are gathered first and moved
// into an object of their exact number. Memory: the document, the names of the open objects'
// members and kMaxJsonDepth frames. Having stopped, it keeps letting the parse run to the end
// of the text, which parse_json needs (see there). The text is parse_json's wrapped one: the
// outermost array is not part of the document. Whatever it holds when destroyed is wiped.
class DocumentBuilder {
 public:
  DocumentBuilder() { frames_.reserve(kMaxJsonDepth + 1); }  // never moved: frames hold values
  DocumentBuilder(const DocumentBuilder&) = delete;
  DocumentBuilder& operator=(const DocumentBuilder&) = delete;
  ~DocumentBuilder() {
    for (Frame& f : frames_) {
      for (Json& element : f.elements) {
        wipe_strings(element);
      }
      for (auto& member : f.members) {
        wipe_strings(member.second);
      }
    }
    wipe_strings(document_);
  }

  // The path of the repeated member, once one was found.
  const std::optional<std::string>& duplicate() const { return duplicate_; }
  bool too_deep() const { return too_deep_; }
  // The outermost value, once the parse has ended without either.
  Json& document() { return document_; }

  bool null() { return value(Json(nullptr)); }
  bool boolean(bool v) { return value(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return value(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return value(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t& /*text*/) {
    return value(Json(v));
  }
  // Copied, not moved: the lexer's buffer must keep its size (see parse_json).
  bool string(Json::string_t& v) { return value(Json(v)); }
  bool binary(Json::binary_t& v) { return value(Json(v)); }
  bool start_object(std::size_t /*size*/) { return open(false); }
  bool key(Json::string_t& name) {
    if (stopped()) {
      return true;
    }
    Frame& f = frames_.back();
    if (!f.names.insert(name).second) {
      duplicate_ = path(name);
      return true;
    }
    f.current = name;
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*size*/) { return open(true); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const Json::exception& /*error*/) {
    return false;
  }

 private:
  struct Frame {
    bool array = false;
    std::vector<Json> elements;                         // an array's, so far
    std::vector<std::pair<std::string, Json>> members;  // an object's, so far
    std::unordered_set<std::string> names;              // an object's members' names
    std::string current;                                // the member whose value is being read
  };

  bool stopped() const { return duplicate_ || too_deep_; }

  bool open(bool array) {
    if (stopped()) {
      return true;
    }
    // One more than the limit: the wrapping array is not the document's.
    if (frames_.size() >= kMaxJsonDepth + 1) {
      too_deep_ = true;
      return true;
    }
    frames_.emplace_back();
    frames_.back().array = array;
    return true;
  }

  bool close() {
    if (stopped()) {
      return true;
    }
    Frame& f = frames_.back();
    Json j;
    if (f.array) {
      j = Json::array();
      j.get_ref<Json::array_t&>() = std::move(f.elements);
    } else {
      j = Json::object();
      auto& members = j.get_ref<Json::object_t&>();
      members.reserve(f.members.size());
      for (auto& [name, v] : f.members) {
        members.emplace_back(std::move(name), std::move(v));
      }
    }
    frames_.pop_back();
    return value(std::move(j));
  }

  bool value(Json&& v) {
    if (stopped()) {
      wipe_strings(v);
      return true;
    }
    if (frames_.empty()) {
      document_ = std::move(v);
    } else if (Frame& f = frames_.back(); f.array) {
      f.elements.push_back(std::move(v));
    } else {
      f.members.emplace_back(std::move(f.current), std::move(v));
    }
    return true;
  }

  std::string path(std::string_view name) const {
    std::string out;
    for (std::size_t i = 1; i + 1 < frames_.size(); ++i) {  // from 1: past the wrapping array
      const Frame& f = frames_[i];
      if (f.array) {
        out += '[';
        out += std::to_string(f.elements.size());
        out += ']';
      } else {
        out = json_path(out, shown_name(f.current));
      }
    }
    out = json_path(out, shown_name(name));
    // Up to kMaxJsonDepth long names: the end of the path is the part that helps.
    constexpr std::size_t kMaxShown = 256;
    if (out.size() > kMaxShown) {
      out = "..." + out.substr(out.size() - kMaxShown);
    }
    return out;
  }

  std::vector<Frame> frames_;
  Json document_;
  std::optional<std::string> duplicate_;
  bool too_deep_ = false;
};

Error field_error(const std::string& path, const std::string& what) {
  return make_error(path + ": " + what);
}

std::string profile_names() {
  std::string out;
  for (srtp::Profile p : srtp::kAllProfiles) {
    if (!out.empty()) {
      out += ", ";
    }
    out += srtp::name(p);
  }
  return out;
}

Result<srtp::Profile> get_profile(const Json& j, const std::string& path) {
  std::string text;
  SG_ASSIGN(text, get_string(j, path));
  auto p = srtp::profile_from_name(text);
  if (!p) {
    return field_error(path,
                       "unknown profile " + quote(text) + " (one of " + profile_names() + ")");
  }
  return *p;
}

Result<dp::IpAddress> get_address(const Json& j, const std::string& path) {
  std::string text;
  SG_ASSIGN(text, get_string(j, path));
  auto a = dp::IpAddress::parse(text);
  if (!a) {
    return field_error(path, quote(text) + " is not an IPv4 or IPv6 address");
  }
  return a.value();
}

const Json* member(const Json& j, std::string_view name) {
  auto it = j.find(name);
  return it == j.end() ? nullptr : &*it;
}

Result<const Json*> require(const Json& j, const std::string& path, std::string_view name) {
  const Json* m = member(j, name);
  if (m == nullptr) {
    return field_error(json_path(path, name), "missing (required)");
  }
  return m;
}

Result<void> require_object(const Json& j, const std::string& path) {
  if (!j.is_object()) {
    return field_error(path.empty() ? std::string("request") : path,
                       std::string("must be an object, not ") + j.type_name());
  }
  return {};
}

// RFC 8122 §5: "hash-func SP fingerprint", fingerprint as colon-separated upper-case hex pairs
// (accepted in either case). Checked here for a clear error; the handshake parses it again.
Result<void> check_fingerprint(const std::string& text, const std::string& path) {
  auto space = text.find(' ');
  if (space == std::string::npos) {
    return field_error(path,
                       "must be 'HASH HEX:HEX:...' as in a=fingerprint, e.g. 'sha-256 AB:CD:...'");
  }
  std::string hash = text.substr(0, space);
  std::transform(hash.begin(), hash.end(), hash.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::pair<std::string_view, std::size_t> kHashes[] = {
      {"sha-1", 20}, {"sha-224", 28}, {"sha-256", 32}, {"sha-384", 48}, {"sha-512", 64}};
  std::size_t want = 0;
  for (const auto& [n, len] : kHashes) {
    if (hash == n) {
      want = len;
    }
  }
  if (want == 0) {
    return field_error(
        path, "unsupported hash " + quote(hash) + " (sha-1, sha-224, sha-256, sha-384 or sha-512)");
  }
  std::string_view hex = std::string_view(text).substr(space + 1);
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < hex.size();) {
    if (i + 2 > hex.size() || !std::isxdigit(static_cast<unsigned char>(hex[i])) ||
        !std::isxdigit(static_cast<unsigned char>(hex[i + 1]))) {
      return field_error(path, "the fingerprint must be hex byte pairs separated by ':'");
    }
    ++bytes;
    i += 2;
    if (i < hex.size()) {
      if (hex[i] != ':' || i + 1 == hex.size()) {
        return field_error(path, "the fingerprint must be hex byte pairs separated by ':'");
      }
      ++i;
    }
  }
  if (bytes != want) {
    return field_error(path, "a " + hash + " fingerprint has " + std::to_string(want) +
                                 " bytes, this one has " + std::to_string(bytes));
  }
  return {};
}

Json drops_to_json(const std::array<uint64_t, dp::kDropCount>& drops) {
  Json out = Json::object();
  for (std::size_t i = 0; i < dp::kDropCount; ++i) {
    out[std::string(dp::name(static_cast<dp::Drop>(i)))] = drops[i];
  }
  return out;
}

// The stage clock's counters (dp::StageCycles), present only while it runs.
Json stages_to_json(const dp::StageCycles& s) {
  Json cycles = Json::object();
  for (std::size_t i = 0; i < dp::kStageCount; ++i) {
    cycles[std::string(dp::name(static_cast<dp::Stage>(i)))] = s.cycles[i];
  }
  return Json{{"tsc_hz", s.tsc_hz},
              {"bursts", s.bursts},
              {"packets", s.packets},
              {"cycles", std::move(cycles)}};
}
}  // namespace

std::string json_path(std::string_view prefix, std::string_view member) {
  if (prefix.empty()) {
    return std::string(member);
  }
  std::string out(prefix);
  out += '.';
  out += member;
  return out;
}

SecretJson::~SecretJson() { wipe_strings(json_); }

Result<SecretJson> parse_json(std::string_view text, std::string_view what) {
  // nlohmann's lexer holds the token it is reading in two buffers, as read (for its error
  // messages) and decoded, which grow by reallocation and are freed unwiped; they are reused
  // from one token to the next, so at the end they hold the last token and the rest of longer
  // ones. A key would stay behind in the blocks they outgrow and in the last ones. So the text
  // is parsed as the middle of [PAD,text,PAD], PAD as many spaces as the text has bytes: the
  // first PAD grows both buffers beyond what the text can fill, the second overwrites what the
  // text left in them. The builder lets the parse run to the end; a syntax error stops it, and
  // the text around the error may then stay behind. A BOM is allowed only at the very start,
  // where nlohmann skips it.
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.starts_with(kBom)) {
    text.remove_prefix(kBom.size());
  }
  const std::string pad(text.size(), ' ');
  SecretString wrapped;
  wrapped.reserve(text.size() * 3 + 8);
  for (std::string_view part :
       {std::string_view("[\""), std::string_view(pad), std::string_view("\","), text,
        std::string_view(",\""), std::string_view(pad), std::string_view("\"]")}) {
    wrapped.append(part);
  }

  // SAX errors are reported to the builder, not thrown: a parse exception's message quotes the
  // input, which may hold a key.
  DocumentBuilder builder;
  const bool parsed = Json::sax_parse(wrapped.view(), &builder);
  if (builder.duplicate()) {
    return field_error(*builder.duplicate(), "duplicate field");
  }
  if (builder.too_deep()) {
    return make_error(std::string(what) + " nests objects and arrays deeper than " +
                      std::to_string(kMaxJsonDepth) + " levels");
  }
  // More than one value in the text (`1,2`) makes more than three elements.
  Json& whole = builder.document();
  if (!parsed || !whole.is_array() || whole.size() != 3) {
    return make_error(std::string(what) + " is not valid JSON");
  }
  return SecretJson(std::move(whole[1]));
}

Result<std::array<uint8_t, 6>> parse_mac(std::string_view text) {
  std::array<uint8_t, 6> mac{};
  if (text.size() != 17) {
    return make_error("must be six hex bytes like '02:00:00:00:00:01'");
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  const char sep = text[2];
  if (sep != ':' && sep != '-') {
    return make_error("must be six hex bytes like '02:00:00:00:00:01'");
  }
  for (std::size_t i = 0; i < 6; ++i) {
    int hi = nibble(text[i * 3]);
    int lo = nibble(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != sep)) {
      return make_error("must be six hex bytes like '02:00:00:00:00:01'");
    }
    mac[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return mac;
}

std::string format_mac(const std::array<uint8_t, 6>& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    if (i > 0) {
      out += ':';
    }
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

Result<std::string> get_string(const Json& j, const std::string& path) {
  if (!j.is_string()) {
    return field_error(path, std::string("must be a string, not ") + j.type_name());
  }
  return j.get<std::string>();
}

Result<uint64_t> get_unsigned(const Json& j, const std::string& path, uint64_t min, uint64_t max) {
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (!j.is_number_integer()) {
    return field_error(path, "must be an integer in " + range + ", not " +
                                 (j.is_number() ? std::string("a fraction") : j.type_name()));
  }
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v >= min && v <= max) {
      return v;
    }
    return field_error(path, std::to_string(v) + " is outside " + range);
  }
  return field_error(path, std::to_string(j.get<int64_t>()) + " is outside " + range);
}

Result<bool> get_bool(const Json& j, const std::string& path) {
  if (!j.is_boolean()) {
    return field_error(path, std::string("must be true or false, not ") + j.type_name());
  }
  return j.get<bool>();
}

Result<void> check_members(const Json& j, const std::string& path,
                           std::initializer_list<std::string_view> allowed,
                           std::span<const std::string_view> extra) {
  SG_CHECK(require_object(j, path));
  for (const auto& [key, value] : j.items()) {
    bool known = std::find(allowed.begin(), allowed.end(), key) != allowed.end() ||
                 std::find(extra.begin(), extra.end(), key) != extra.end();
    if (!known) {
      return field_error(json_path(path, shown_name(key)), "unknown field");
    }
  }
  return {};
}

Result<SdesLeg> sdes_leg_from_json(const Json& j, const std::string& path) {
  SG_CHECK(check_members(j, path, {"profile", "key"}));
  SdesLeg leg;
  const Json* m = nullptr;
  SG_ASSIGN(m, require(j, path, "profile"));
  SG_ASSIGN(leg.profile, get_profile(*m, json_path(path, "profile")));
  SG_ASSIGN(m, require(j, path, "key"));
  const std::string key_path = json_path(path, "key");
  if (!m->is_string()) {
    return field_error(key_path, std::string("must be a string, not ") + m->type_name());
  }
  leg.key_params = SecretString(m->get_ref<const std::string&>());
  // Decoded here only to reject a bad key before anything changes; the lib's messages name the
  // part at fault (length, base64, lifetime, MKI) without the base64 itself.
  auto key = srtp::parse_sdes_key(leg.profile, leg.key_params.view());
  if (!key) {
    std::string msg = key.message();
    constexpr std::string_view kPrefix = "SDES key: ";
    if (msg.starts_with(kPrefix)) {
      msg.erase(0, kPrefix.size());
    }
    return field_error(key_path, msg);
  }
  return leg;
}

Result<DtlsLeg> dtls_leg_from_json(const Json& j, const std::string& path) {
  SG_CHECK(check_members(j, path, {"setup", "fingerprint", "profiles"}));
  DtlsLeg leg;
  const Json* m = nullptr;
  SG_ASSIGN(m, require(j, path, "setup"));
  std::string setup;
  SG_ASSIGN(setup, get_string(*m, json_path(path, "setup")));
  if (setup == "active") {
    leg.active = true;
  } else if (setup == "passive") {
    leg.active = false;
  } else {
    return field_error(json_path(path, "setup"),
                       quote(setup) + " must be 'active' (we are the DTLS client) or 'passive'");
  }
  SG_ASSIGN(m, require(j, path, "fingerprint"));
  SG_ASSIGN(leg.peer_fingerprint, get_string(*m, json_path(path, "fingerprint")));
  SG_CHECK(check_fingerprint(leg.peer_fingerprint, json_path(path, "fingerprint")));
  if (const Json* p = member(j, "profiles")) {
    const std::string ppath = json_path(path, "profiles");
    if (!p->is_array()) {
      return field_error(ppath,
                         std::string("must be an array of profile names, not ") + p->type_name());
    }
    for (std::size_t i = 0; i < p->size(); ++i) {
      srtp::Profile prof{};
      SG_ASSIGN(prof, get_profile((*p)[i], ppath + "[" + std::to_string(i) + "]"));
      if (std::find(leg.profiles.begin(), leg.profiles.end(), prof) != leg.profiles.end()) {
        return field_error(ppath + "[" + std::to_string(i) + "]",
                           std::string(srtp::name(prof)) + " is listed twice");
      }
      leg.profiles.push_back(prof);
    }
  }
  return leg;
}

Result<LegSpec> leg_spec_from_json(const Json& j, const std::string& path) {
  SG_CHECK(check_members(j, path, {"sdes", "dtls"}));
  LegSpec leg;
  const Json* sdes = member(j, "sdes");
  const Json* dtls = member(j, "dtls");
  if ((sdes == nullptr) == (dtls == nullptr)) {
    return field_error(path, "needs exactly one of 'sdes' or 'dtls'");
  }
  if (sdes != nullptr) {
    SdesLeg s;
    SG_ASSIGN(s, sdes_leg_from_json(*sdes, json_path(path, "sdes")));
    leg.sdes = std::move(s);
  } else {
    DtlsLeg d;
    SG_ASSIGN(d, dtls_leg_from_json(*dtls, json_path(path, "dtls")));
    leg.dtls = std::move(d);
  }
  return leg;
}

Result<NextHopSpec> next_hop_from_json(const Json& j, const std::string& path) {
  SG_CHECK(check_members(j, path,
                         {"port", "mac", "src_addr", "src_port", "dst_addr", "dst_port", "vlan"}));
  NextHopSpec nh;
  const Json* m = nullptr;
  if ((m = member(j, "port")) != nullptr) {
    SG_ASSIGN(nh.port, get_string(*m, json_path(path, "port")));
  }
  SG_ASSIGN(m, require(j, path, "mac"));
  std::string mac;
  SG_ASSIGN(mac, get_string(*m, json_path(path, "mac")));
  auto parsed = parse_mac(mac);
  if (!parsed) {
    return field_error(json_path(path, "mac"), quote(mac) + " " + parsed.message());
  }
  nh.mac = parsed.value();
  SG_ASSIGN(m, require(j, path, "src_addr"));
  SG_ASSIGN(nh.src_addr, get_address(*m, json_path(path, "src_addr")));
  if ((m = member(j, "src_port")) != nullptr) {
    uint64_t v = 0;
    SG_ASSIGN(v, get_unsigned(*m, json_path(path, "src_port"), 0, 65535));
    nh.src_port = static_cast<uint16_t>(v);
  }
  SG_ASSIGN(m, require(j, path, "dst_addr"));
  SG_ASSIGN(nh.dst_addr, get_address(*m, json_path(path, "dst_addr")));
  if (nh.dst_addr.family != nh.src_addr.family) {
    return field_error(json_path(path, "dst_addr"), "IPv" + std::to_string(nh.dst_addr.family) +
                                                        ", but src_addr is IPv" +
                                                        std::to_string(nh.src_addr.family));
  }
  SG_ASSIGN(m, require(j, path, "dst_port"));
  uint64_t v = 0;
  SG_ASSIGN(v, get_unsigned(*m, json_path(path, "dst_port"), 1, 65535));
  nh.dst_port = static_cast<uint16_t>(v);
  if ((m = member(j, "vlan")) != nullptr) {
    SG_ASSIGN(v, get_unsigned(*m, json_path(path, "vlan"), 0, 4094));
    nh.vlan = static_cast<uint16_t>(v);
  }
  return nh;
}

Result<SessionRequest> session_request_from_json(const Json& j, const std::string& path,
                                                 std::span<const std::string_view> extra_members) {
  SG_CHECK(check_members(
      j, path,
      {"port", "vlan", "local_addr", "local_port", "remote_addr", "remote_port", "action",
       "inbound", "outbound", "next_hop", "replay_window", "max_streams", "label"},
      extra_members));
  SessionRequest r;
  const Json* m = nullptr;
  uint64_t v = 0;
  SG_ASSIGN(m, require(j, path, "port"));
  SG_ASSIGN(r.port, get_string(*m, json_path(path, "port")));
  if (r.port.empty()) {
    return field_error(json_path(path, "port"), "must name a port");
  }
  if ((m = member(j, "vlan")) != nullptr) {
    SG_ASSIGN(v, get_unsigned(*m, json_path(path, "vlan"), 0, 4094));  // IEEE 802.1Q §9.6
    r.vlan = static_cast<uint16_t>(v);
  }
  SG_ASSIGN(m, require(j, path, "local_addr"));
  SG_ASSIGN(r.local_addr, get_address(*m, json_path(path, "local_addr")));
  if ((m = member(j, "local_port")) != nullptr) {
    SG_ASSIGN(v, get_unsigned(*m, json_path(path, "local_port"), 0, 65535));
    r.local_port = static_cast<uint16_t>(v);
  }
  SG_ASSIGN(m, require(j, path, "remote_addr"));
  SG_ASSIGN(r.remote_addr, get_address(*m, json_path(path, "remote_addr")));
  if (r.remote_addr.family != r.local_addr.family) {
    return field_error(json_path(path, "remote_addr"),
                       "IPv" + std::to_string(r.remote_addr.family) + ", but local_addr is IPv" +
                           std::to_string(r.local_addr.family));
  }
  SG_ASSIGN(m, require(j, path, "remote_port"));
  SG_ASSIGN(v, get_unsigned(*m, json_path(path, "remote_port"), 1, 65535));
  r.remote_port = static_cast<uint16_t>(v);

  SG_ASSIGN(m, require(j, path, "action"));
  std::string action;
  SG_ASSIGN(action, get_string(*m, json_path(path, "action")));
  auto a = dp::action_from_name(action);
  if (!a) {
    return field_error(
        json_path(path, "action"),
        "unknown action " + quote(action) + " (unprotect, protect, transcrypt or forward)");
  }
  r.action = *a;
  const bool wants_inbound =
      r.action == dp::Action::unprotect || r.action == dp::Action::transcrypt;
  const bool wants_outbound = r.action == dp::Action::protect || r.action == dp::Action::transcrypt;
  const Json* in = member(j, "inbound");
  const Json* out = member(j, "outbound");
  if (wants_inbound && in == nullptr) {
    return field_error(json_path(path, "inbound"), "missing (required for " + action + ")");
  }
  if (!wants_inbound && in != nullptr) {
    return field_error(json_path(path, "inbound"), "not allowed for " + action);
  }
  if (wants_outbound && out == nullptr) {
    return field_error(json_path(path, "outbound"), "missing (required for " + action + ")");
  }
  if (!wants_outbound && out != nullptr) {
    return field_error(json_path(path, "outbound"), "not allowed for " + action);
  }
  if (in != nullptr) {
    LegSpec leg;
    SG_ASSIGN(leg, leg_spec_from_json(*in, json_path(path, "inbound")));
    r.inbound = std::move(leg);
  }
  if (out != nullptr) {
    LegSpec leg;
    SG_ASSIGN(leg, leg_spec_from_json(*out, json_path(path, "outbound")));
    r.outbound = std::move(leg);
  }
  SG_ASSIGN(m, require(j, path, "next_hop"));
  SG_ASSIGN(r.next_hop, next_hop_from_json(*m, json_path(path, "next_hop")));
  if ((m = member(j, "replay_window")) != nullptr) {
    // RFC 3711 §3.3.2 asks for at least 64; the upper bound is the dataplane's.
    SG_ASSIGN(v, get_unsigned(*m, json_path(path, "replay_window"), 64, 32768));
    r.replay_window = static_cast<uint32_t>(v);
  }
  if ((m = member(j, "max_streams")) != nullptr) {
    SG_ASSIGN(v, get_unsigned(*m, json_path(path, "max_streams"), 1, 1024));
    r.max_streams = static_cast<uint32_t>(v);
  }
  if ((m = member(j, "label")) != nullptr) {
    SG_ASSIGN(r.label, get_string(*m, json_path(path, "label")));
    if (r.label.size() > 256) {
      return field_error(json_path(path, "label"), "longer than 256 bytes");
    }
  }
  return r;
}

Json to_json(const dp::FlowStats& stats) {
  uint64_t dropped = 0;
  for (uint64_t d : stats.drops) {
    dropped += d;
  }
  return Json{{"rx_packets", stats.rx_packets},     {"rx_bytes", stats.rx_bytes},
              {"tx_packets", stats.tx_packets},     {"tx_bytes", stats.tx_bytes},
              {"rtcp_packets", stats.rtcp_packets}, {"dropped", dropped},
              {"drops", drops_to_json(stats.drops)}};
}

Json to_json(const dp::WorkerStats& stats) {
  Json j{{"rx_packets", stats.rx_packets},
         {"rx_bytes", stats.rx_bytes},
         {"tx_packets", stats.tx_packets},
         {"tx_bytes", stats.tx_bytes},
         {"punted", stats.punted},
         {"polls", stats.polls},
         {"busy_polls", stats.busy_polls},
         {"flows", stats.flows},
         {"messages", stats.messages},
         {"dropped", stats.dropped()},
         {"drops", drops_to_json(stats.drops)}};
  if (stats.stages.tsc_hz != 0) {
    j["stages"] = stages_to_json(stats.stages);
  }
  return j;
}

Json to_json(const SessionInfo& info) {
  Json j = Json::object();
  j["id"] = info.id;
  j["label"] = info.label;
  j["state"] = std::string(name(info.state));
  if (!info.failure.empty()) {
    j["failure"] = info.failure;
  }
  j["port"] = info.port;
  j["vlan"] = info.vlan;
  j["local_addr"] = info.local_addr.to_string();
  j["local_port"] = info.local_port;
  j["remote_addr"] = info.remote_addr.to_string();
  j["remote_port"] = info.remote_port;
  j["action"] = std::string(dp::name(info.action));
  if (info.inbound_profile) {
    j["inbound_profile"] = std::string(srtp::name(*info.inbound_profile));
  }
  if (info.outbound_profile) {
    j["outbound_profile"] = std::string(srtp::name(*info.outbound_profile));
  }
  if (!info.fingerprint.empty()) {
    j["fingerprint"] = info.fingerprint;
  }
  j["worker"] = info.worker;
  j["age_seconds"] = info.age_seconds;
  j["counters"] = to_json(info.counters);
  return j;
}

Json to_json(const ServiceStats& stats) {
  dp::WorkerStats total;
  Json workers = Json::array();
  for (const dp::WorkerStats& w : stats.workers) {
    total += w;
    workers.push_back(to_json(w));
  }
  return Json{{"sessions", stats.sessions},
              {"handshaking", stats.handshaking},
              {"punted_stun", stats.punted_stun},
              {"punted_dtls", stats.punted_dtls},
              {"punted_other", stats.punted_other},
              {"dtls_unmatched", stats.dtls_unmatched},
              {"total", to_json(total)},
              {"workers", std::move(workers)}};
}

Json to_json(const dp::PortDescription& port) {
  return Json{{"name", port.name},
              {"port_id", port.port_id},
              {"driver", port.driver},
              {"rx_queues", port.rx_queues},
              {"tx_queues", port.tx_queues},
              {"rss", port.rss},
              {"mtu", port.mtu},
              {"checksum_offload",
               {{"rx_ipv4", port.rx_ip_checksum},
                {"rx_udp", port.rx_udp_checksum},
                {"tx_udp", port.tx_udp_checksum}}}};
}

}  // namespace srtpgate::app
