// libFuzzer target: the daemon's control protocol (docs/control.md), one request line per input
// against a service that accepts everything, so the fuzzer reaches every command's parser.
//
// Invariants: handle_request never throws, always returns exactly one line of JSON whose "ok"
// is a boolean, and never echoes the key params of a request (the test keys below are planted
// in the seeds; the backstop in control_protocol.cc must keep them out of any response).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "../app/fake_service.h"
#include "control_protocol.h"

namespace {

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_control_protocol: invariant violated: %s\n", what);
    std::abort();
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
  check(response.find(srtpgate::app::testing::kKeyB64) == std::string::npos, "no key echoed");
  check(response.find(srtpgate::app::testing::kKey2B64) == std::string::npos, "no key echoed");
  return 0;
}
