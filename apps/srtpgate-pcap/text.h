// Joins message pieces. (Also sidesteps a GCC 12 -Wrestrict false positive on
// `"literal" + std::string(...)` at -O2.)
#pragma once

#include <string>
#include <string_view>

namespace srtpgate::app {

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s.append(std::string_view(parts)), ...);
  return s;
}

}  // namespace srtpgate::app
