// The command line of srtpgate-pcap: the mode, the keys and what each key applies to.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flow.h"
#include "srtpgate/crypto.h"
#include "srtpgate/master_key.h"
#include "srtpgate/profile.h"
#include "srtpgate/result.h"

namespace srtpgate::app {

enum class Mode : uint8_t { decrypt, encrypt };

// The most a --key-file may hold. A key-params line is under 100 bytes; the rest leaves room
// for long lifetimes and still refuses a capture or a binary given by mistake.
constexpr std::size_t kMaxKeyFileSize = 4096;

// One --key (or --key-file, which is the same but for where the text comes from) and the scope
// given before it (a key with neither scope is the default key), plus the later keys of the same
// scope, which must all carry MKIs: together they are the master keys of one session (RFC 3711
// §8.1), picked per packet by MKI.
struct KeySpec {
  srtp::Profile profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
  srtp::MasterKey key;
  std::vector<srtp::MasterKey> more_keys;
  std::optional<uint32_t> ssrc;
  std::optional<FlowPattern> flow;
  int ordinal = 0;         // 1 for the first --key or --key-file on the command line
  bool from_file = false;  // given by --key-file

  [[nodiscard]] bool scoped() const noexcept { return ssrc.has_value() || flow.has_value(); }
  // How messages name the key: "--key #2" or "--key-file #2".
  [[nodiscard]] std::string label() const;
};

struct Options {
  Mode mode = Mode::decrypt;
  std::vector<KeySpec> keys;  // scoped keys in command-line order; the default key, if any, last
  std::string in_path;
  std::string out_path;
  crypto::Backend backend = crypto::Backend::ipsecmb;
  bool keep_failed = false;
  bool help = false;  // -h/--help: print usage() and exit 0; nothing else is filled in
};

// Parses the arguments after the program name, then reads each --key-file (PATH, "-" for stdin)
// in command-line order: only once every argument is checked, so that a bad command line leaves
// a pipe or stdin unread. The error message says which argument or key file is wrong and never
// contains key material; every buffer that held a key file's text is wiped before it is freed.
Result<Options> parse_options(std::span<const char* const> args);

std::string usage(std::string_view program);

// "SRC:PORT-DST:PORT": IPv4 dotted quad or [IPv6], each address and port may be "*".
Result<FlowPattern> parse_flow(std::string_view text);

// Decimal or 0x-prefixed hexadecimal, 0..2^32-1.
std::optional<uint32_t> parse_ssrc(std::string_view text) noexcept;

}  // namespace srtpgate::app
