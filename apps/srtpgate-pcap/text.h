// Joins message pieces. (Also sidesteps a GCC 12 -Wrestrict false positive on
// `"literal" + std::string(...)` at -O2.) And quotes arguments in messages without ever
// repeating one that may be a key.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace srtpgate::app {

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s.append(std::string_view(parts)), ...);
  return s;
}

// Whether an argument may be key material put in the wrong place: it holds an RFC 4568 §6.1
// "inline:" key-param (what --key takes), or it is a bare base64 token (RFC 4648 §4 or §5
// alphabet) of 16 or more characters, a key pasted without "inline:". Errs towards hiding: a
// message that hides a long path is better than one that shows a key.
inline bool may_be_key(std::string_view s) noexcept {
  constexpr std::string_view kInline = "inline:";
  const auto same_letter = [](char k, char c) {
    return k == std::tolower(static_cast<unsigned char>(c));
  };
  for (std::size_t i = 0; i + kInline.size() <= s.size(); ++i) {
    if (std::ranges::equal(kInline, s.substr(i, kInline.size()), same_letter)) {
      return true;
    }
  }
  const auto in_alphabet = [s](std::string_view extra) {
    return std::all_of(s.begin(), s.end(), [extra](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '=' ||
             extra.find(c) != std::string_view::npos;
    });
  };
  return s.size() >= 16 && (in_alphabet("+/") || in_alphabet("-_"));
}

// An argument for a message: 'text', or a placeholder when it may be a key (see may_be_key), as
// keys must never be printed.
inline std::string quoted(std::string_view s) {
  return may_be_key(s) ? std::string("[not shown: it may be a key]") : cat("'", s, "'");
}

}  // namespace srtpgate::app
