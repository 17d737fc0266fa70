// JSON forms of the control plane's values (docs/control.md): session requests in, session
// information and statistics out. Shared by the control protocol and the configuration file.
// Pure: no sockets, no DPDK. Decoders are strict (an unknown member is an error) and never
// throw; every error message starts with the path of the member at fault ("inbound.sdes.key:
// ..."). Encoders never emit key material.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "session_service.h"
#include "srtpgate/dp/counters.h"
#include "srtpgate/result.h"

namespace srtpgate::app {

// Insertion-ordered, so responses read in a sensible order ("ok" first, then "id", ...).
using Json = nlohmann::ordered_json;

// "a.b" from "a" and "b"; "b" when the prefix is empty. Array elements are "a[2]".
std::string json_path(std::string_view prefix, std::string_view member);

// The deepest nesting of objects and arrays parse_json accepts; a configuration nests six deep.
inline constexpr std::size_t kMaxJsonDepth = 64;

// A document parsed by parse_json. Requests and the configuration carry SDES keys, so every
// string value in it is wiped before the tree is freed (member names are not: none is secret).
class SecretJson {
 public:
  explicit SecretJson(Json json) noexcept : json_(std::move(json)) {}
  SecretJson(SecretJson&& other) noexcept : json_(std::move(other.json_)) {}
  SecretJson& operator=(SecretJson&&) = delete;
  ~SecretJson();
  const Json& json() const noexcept { return json_; }

 private:
  Json json_;
};

// Parses JSON text, refusing an object that names a member twice: nlohmann keeps the last of
// them silently, so a repeated "key" or "sessions" would replace the first unnoticed. Linear in
// the text's size; nesting is limited so that its memory is too. Never throws on bad input;
// fails with "<what> is not valid JSON", "<what> nests objects and arrays deeper than 64 levels"
// or "<path>: duplicate field" (the path as in the decoders' messages, e.g. "inbound.sdes.key").
// Valid JSON leaves no copy of the text in freed memory; text that is not valid JSON may
// (nlohmann's error message quotes the token at fault before the error reaches us).
Result<SecretJson> parse_json(std::string_view text, std::string_view what);

// "02:00:00:00:00:01" (also '-' separated, either case) <-> bytes.
Result<std::array<uint8_t, 6>> parse_mac(std::string_view text);
std::string format_mac(const std::array<uint8_t, 6>& mac);

// Decoders. `path` is the JSON path of `j` itself, used as the prefix of error messages; empty
// for a top-level object. `extra_members` are names the caller handles itself (e.g. "cmd",
// "tag") and that are not errors.
Result<SdesLeg> sdes_leg_from_json(const Json& j, const std::string& path);
Result<DtlsLeg> dtls_leg_from_json(const Json& j, const std::string& path);
Result<LegSpec> leg_spec_from_json(const Json& j, const std::string& path);
Result<NextHopSpec> next_hop_from_json(const Json& j, const std::string& path);
Result<SessionRequest> session_request_from_json(
    const Json& j, const std::string& path, std::span<const std::string_view> extra_members = {});

// Encoders. Drop reasons are keyed by dp::name(Drop), every reason present (zero included).
Json to_json(const SessionInfo& info);
Json to_json(const dp::FlowStats& stats);
Json to_json(const dp::WorkerStats& stats);
Json to_json(const ServiceStats& stats);
Json to_json(const dp::PortDescription& port);

// Small typed readers used by the decoders, exposed for the protocol and config parsers. Each
// fails with "<path>: must be ..." when the member has the wrong type or range.
Result<std::string> get_string(const Json& j, const std::string& path);
Result<uint64_t> get_unsigned(const Json& j, const std::string& path, uint64_t min, uint64_t max);
Result<bool> get_bool(const Json& j, const std::string& path);
// Fails with "<path>.<name>: unknown field" for the first member of `j` not in `allowed`.
Result<void> check_members(const Json& j, const std::string& path,
                           std::initializer_list<std::string_view> allowed,
                           std::span<const std::string_view> extra = {});

}  // namespace srtpgate::app
