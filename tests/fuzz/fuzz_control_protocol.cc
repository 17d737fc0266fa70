// libFuzzer target: the daemon's control protocol (docs/control.md), one request line per input
// against a service that accepts everything, so the fuzzer reaches every command's parser.
//
// Invariants: handle_request never throws, always returns exactly one line of JSON whose "ok"
// is a boolean, and never echoes the key params of a request: the value of any "key" field (the
// SDES legs of create and rekey). Text the request also carries in other fields (a label, a
// mistyped profile name) may be echoed like any other input, so it is not held against it; nor
// is a key whose text the response holds anyway (an error message's words and another field's
// echo can spell it): the same request with every key replaced by other bytes is answered too,
// and only text that appears with the key and not without it counts as an echo.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "../app/fake_service.h"
#include "control_protocol.h"

namespace {

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_control_protocol: invariant violated: %s\n", what);
    std::abort();
  }
}

// Every string in the request: values of fields named "key" in one list, the rest (and every
// object key) in the other.
void collect_strings(const nlohmann::json& j, const std::string& field,
                     std::vector<std::string>& keys, std::vector<std::string>& others) {
  if (j.is_string()) {
    (field == "key" ? keys : others).push_back(j.get<std::string>());
  } else if (j.is_object()) {
    for (const auto& [name, value] : j.items()) {
      others.push_back(name);
      collect_strings(value, name, keys, others);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) {
      collect_strings(value, field, keys, others);
    }
  }
}

// The request with the value of every "key" field replaced by '#'s of the same length.
void blank_keys(nlohmann::json& j, const std::string& field) {
  if (j.is_string() && field == "key") {
    j = std::string(j.get_ref<const std::string&>().size(), '#');
  } else if (j.is_object()) {
    for (auto& [name, value] : j.items()) {
      blank_keys(value, name);
    }
  } else if (j.is_array()) {
    for (auto& value : j) {
      blank_keys(value, field);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using srtpgate::app::testing::FakeService;
  static FakeService service;
  service.creates.clear();
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const std::string response = srtpgate::app::handle_request(service, line);
  check(response.find('\n') == std::string::npos, "one line");
  const auto json = nlohmann::json::parse(response, nullptr, false);
  check(!json.is_discarded() && json.is_object(), "a JSON object");
  check(json.contains("ok") && json["ok"].is_boolean(), "an ok field");
  const auto request = nlohmann::json::parse(line, nullptr, false);
  if (request.is_discarded()) {
    return 0;
  }
  std::vector<std::string> keys;
  std::vector<std::string> others;
  collect_strings(request, "", keys, others);
  std::string without_keys;  // the response to the request with its keys blanked, when needed
  bool answered_without_keys = false;
  for (const std::string& key : keys) {
    // The secret part: after "inline:" and before any "|lifetime|mki".
    std::string secret = key.substr(key.rfind(':') == std::string::npos ? 0 : key.rfind(':') + 1);
    secret = secret.substr(0, secret.find('|'));
    if (secret.size() < 12) {
      continue;  // too short to tell an echo from a coincidence
    }
    bool elsewhere = false;
    for (const std::string& o : others) {
      elsewhere |= o.find(secret) != std::string::npos;
    }
    if (!elsewhere && response.find(secret) != std::string::npos) {
      if (!answered_without_keys) {
        nlohmann::json blanked = request;
        blank_keys(blanked, "");
        without_keys = srtpgate::app::handle_request(service, blanked.dump());
        answered_without_keys = true;
      }
      check(without_keys.find(secret) != std::string::npos, "no key echoed");
    }
  }
  return 0;
}
