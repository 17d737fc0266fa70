// libFuzzer target: the daemon's configuration file (JSON, docs/control.md). parse_config must
// accept or refuse any text without throwing, and what it accepts must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "config.h"

namespace {

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_config: invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto config = srtpgate::app::parse_config(text);
  if (!config) {
    check(!config.message().empty(), "a refusal says why");
    return 0;
  }
  const auto& c = config.value();
  check(c.port_range_first <= c.port_range_last, "port range ordered");
  for (const auto& p : c.ports) {
    check(!p.name.empty(), "ports have names");
  }
  return 0;
}
