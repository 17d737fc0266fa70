#include "key_options.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "srtpgate/secret.h"
#include "text.h"

namespace srtpgate::app {

namespace {

std::optional<uint16_t> parse_port(std::string_view s) noexcept {
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(v);
}

// "ADDR:PORT" with ADDR = a.b.c.d | [v6] | *, PORT = number | *.
Result<void> parse_endpoint(std::string_view s, std::optional<IpAddress>& addr,
                            std::optional<uint16_t>& port) {
  std::string_view host;
  std::string_view port_text;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return make_error(cat(quoted(s), " is not [IPV6]:PORT"));
    }
    host = s.substr(1, close - 1);
    port_text = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error(cat(quoted(s), " has no :PORT"));
    }
    host = s.substr(0, colon);
    port_text = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return make_error(cat(quoted(s), ": write IPv6 addresses in brackets, [::1]:5004"));
    }
  }
  if (host == "*") {
    addr.reset();
  } else {
    const std::string h(host);
    IpAddress a;
    if (inet_pton(AF_INET, h.c_str(), a.bytes.data()) == 1) {
      a.version = 4;
    } else if (inet_pton(AF_INET6, h.c_str(), a.bytes.data()) == 1) {
      a.version = 6;
    } else {
      return make_error(cat(quoted(h), " is not an IPv4 or IPv6 address (or *)"));
    }
    addr = a;
  }
  if (port_text == "*") {
    port.reset();
  } else if (auto p = parse_port(port_text)) {
    port = *p;
  } else {
    return make_error(cat(quoted(port_text), " is not a port 0..65535 (or *)"));
  }
  return {};
}

// The text of a --key-file. Its buffer is allocated once at full size, so no reallocation leaves
// a copy behind, and it is wiped before it is freed.
class KeyText {
 public:
  KeyText() = default;
  KeyText(const KeyText&) = delete;
  KeyText& operator=(const KeyText&) = delete;
  ~KeyText() { secure_zero(buf_.data(), buf_.size()); }

  std::span<char> allocate(std::size_t n) {
    secure_zero(buf_.data(), buf_.size());
    buf_ = std::vector<char>(n);
    return buf_;
  }

 private:
  std::vector<char> buf_;
};

// Reads the key-params line of a --key-file into `text` and returns it without its line end.
// Messages name the option and the path, never what the file holds.
Result<std::string_view> read_key_file(std::string_view path, const std::string& label,
                                       KeyText& text) {
  const bool from_stdin = path == "-";
  const std::string shown = from_stdin ? std::string("stdin") : quoted(path);
  // O_NOCTTY: PATH may be a terminal, which must not become our controlling one.
  const int fd = from_stdin ? STDIN_FILENO
                            : ::open(std::string(path).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return make_error(cat(label, ": cannot read ", shown, ": ", std::strerror(errno)));
  }
  // One byte more than allowed tells a file of exactly kMaxKeyFileSize from a larger one. A pipe
  // may return the text in pieces: read until end of file or the buffer is full.
  const std::span<char> buf = text.allocate(kMaxKeyFileSize + 1);
  std::size_t n = 0;
  int read_errno = 0;
  while (n < buf.size()) {
    const ssize_t r = ::read(fd, buf.data() + n, buf.size() - n);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      read_errno = errno;
      break;
    }
    if (r == 0) {
      break;
    }
    n += static_cast<std::size_t>(r);
  }
  if (!from_stdin) {
    ::close(fd);
  }
  if (read_errno != 0) {
    return make_error(cat(label, ": cannot read ", shown, ": ", std::strerror(read_errno)));
  }
  if (n > kMaxKeyFileSize) {
    return make_error(cat(label, ": ", shown, " is larger than ", std::to_string(kMaxKeyFileSize),
                          " bytes; a key file holds one line of key-params"));
  }
  std::string_view line(buf.data(), n);
  if (line.ends_with('\n')) {
    line.remove_suffix(1);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
  }
  if (line.empty()) {
    return make_error(cat(label, ": ", shown, " is empty; it must hold one line of key-params"));
  }
  if (line.find('\n') != std::string_view::npos) {
    return make_error(
        cat(label, ": ", shown, " holds more than one line; give each key its own --key-file"));
  }
  return line;
}

// A --key or --key-file with the profile and scope given before it, kept until every argument
// is checked.
struct KeyArg {
  srtp::Profile profile;
  std::string_view value;  // the key-params of --key, the path of --key-file
  bool from_file;
  std::optional<uint32_t> ssrc;
  std::optional<FlowPattern> flow;
  int ordinal;
};

// Reads and parses one key, then adds it to `scoped` or `default_key`, or to the session of an
// earlier key of the same scope.
Result<void> add_key(const KeyArg& arg, std::vector<KeySpec>& scoped,
                     std::optional<KeySpec>& default_key) {
  KeySpec spec;
  spec.profile = arg.profile;
  spec.ssrc = arg.ssrc;
  spec.flow = arg.flow;
  spec.ordinal = arg.ordinal;
  spec.from_file = arg.from_file;
  const std::string label = spec.label();
  KeyText text;
  std::string_view params = arg.value;
  if (arg.from_file) {
    auto line = read_key_file(arg.value, label, text);
    if (!line) {
      return line.error();
    }
    params = *line;
  }
  auto key = srtp::parse_sdes_key(arg.profile, params);
  if (!key) {
    return make_error(cat(label, " (", std::string(srtp::name(arg.profile)),
                          "): ", key.message()));  // it never quotes the text (lib/)
  }
  spec.key = std::move(*key);
  KeySpec* same_scope = default_key && !spec.scoped() ? &*default_key : nullptr;
  for (KeySpec& k : scoped) {
    if (spec.scoped() && k.ssrc == spec.ssrc && k.flow == spec.flow) {
      same_scope = &k;
    }
  }
  if (same_scope == nullptr) {
    if (spec.scoped()) {
      scoped.push_back(std::move(spec));
    } else {
      default_key = std::move(spec);
    }
  } else if (same_scope->key.mki.empty() || spec.key.mki.empty() ||
             same_scope->profile != spec.profile) {
    return make_error(cat(label, " has the same scope as ", same_scope->label(),
                          spec.scoped() ? "" : " (no --ssrc or --flow)",
                          "; scope them apart, or give both an MKI (inline:KEY|MKI:LEN) and "
                          "one profile to make them master keys of one session"));
  } else {
    same_scope->more_keys.push_back(std::move(spec.key));
  }
  return {};
}

}  // namespace

std::string KeySpec::label() const {
  return cat(from_file ? "--key-file #" : "--key #", std::to_string(ordinal));
}

std::optional<uint32_t> parse_ssrc(std::string_view s) noexcept {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

Result<FlowPattern> parse_flow(std::string_view text) {
  // The separator is the '-' after the first endpoint's port; IPv6 addresses contain no '-'.
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    return make_error(cat("--flow ", quoted(text), " is not SRC:PORT-DST:PORT"));
  }
  FlowPattern f;
  if (auto r = parse_endpoint(text.substr(0, dash), f.src, f.src_port); !r) {
    return make_error(cat("--flow source ", r.message()));
  }
  if (auto r = parse_endpoint(text.substr(dash + 1), f.dst, f.dst_port); !r) {
    return make_error(cat("--flow destination ", r.message()));
  }
  if (f.src && f.dst && f.src->version != f.dst->version) {
    return make_error(cat("--flow ", quoted(text), " mixes IPv4 and IPv6"));
  }
  return f;
}

std::string usage(std::string_view program) {
  if (const auto slash = program.rfind('/'); slash != std::string_view::npos) {
    program.remove_prefix(slash + 1);
  }
  const std::string p(program);
  return cat(
      "Usage: ", p, " decrypt|encrypt KEYS... [OPTIONS] IN OUT\n",
      "  KEYS: --profile NAME [--ssrc N] [--flow SRC:PORT-DST:PORT] --key KEY, repeated;\n"
      "        --key-file PATH may stand for any --key KEY\n"
      "\n"
      "Decrypts an SRTP/SRTCP capture into plain RTP/RTCP that Wireshark plays, or encrypts plain\n"
      "RTP/RTCP. IN is pcap or pcapng: Ethernet (at most one VLAN tag), Linux cooked SLL/SLL2 or\n"
      "raw IP; IPv4/IPv6; UDP. OUT is pcap with IN's link type and exact timestamps (a\n"
      "microsecond pcap file stays microsecond; nanosecond pcap, pcapng and IN from a pipe give\n"
      "nanosecond pcap); it must not be IN. IP and UDP lengths and checksums are fixed up. RTP\n"
      "and RTCP are told apart as in RFC 5761 §4 (second byte 192..223 is RTCP). IN or OUT \"-\"\n"
      "is stdin or stdout.\n"
      "\n"
      "Keys:\n"
      "  --profile NAME   AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32,\n"
      "                   AES_256_CM_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32, AEAD_AES_128_GCM,\n"
      "                   AEAD_AES_256_GCM (or the DTLS-SRTP names, SRTP_AES128_CM_...).\n"
      "                   Applies to every --key after it, until the next --profile.\n"
      "  --key KEY        RFC 4568 key-params: inline:BASE64(key||salt)[|LIFETIME][|MKI:LEN].\n"
      "                   Each --key is one SRTP session (up to 1024 SSRCs). Any local user\n"
      "                   can read a command line (ps, /proc): prefer --key-file for real keys.\n"
      "  --key-file PATH  The same as --key, KEY read from PATH: one line (one final LF or CRLF\n"
      "                   is dropped), at most 4096 bytes. PATH may be a pipe, as in\n"
      "                   --key-file <(vault read ...), or \"-\" for stdin when IN is not \"-\".\n"
      "                   It counts as a --key in the numbering (#N in messages) and the rules.\n"
      "  --ssrc N         Scopes the NEXT --key to packets of this SSRC (the RTP SSRC, or the\n"
      "                   sender SSRC of an RTCP packet). Decimal or 0x hex.\n"
      "  --flow SRC:PORT-DST:PORT\n"
      "                   Scopes the NEXT --key to UDP packets from SRC:PORT to DST:PORT; RTCP\n"
      "                   on both ports + 1 (RFC 3550 §11) matches too. IPv6 as [addr]:port;\n"
      "                   any address or port may be '*'.\n"
      "  Rules: --ssrc and --flow come before the --key they scope and apply to that key only\n"
      "  (given both, a packet must match both). Scoped keys are tried in command-line order;\n"
      "  the first match wins. An unscoped --key is the default for every packet no scoped key\n"
      "  matches. Several --key of the same scope (or several unscoped) must each have an MKI\n"
      "  (inline:KEY|MKI:LEN): they become one session's master keys, chosen per packet by MKI\n"
      "  (encrypt uses the first). RTP/RTCP that no key selects, and everything that is not\n"
      "  UDP RTP/RTCP (IPv4 and IPv6 fragments included), is copied unchanged and counted.\n"
      "\n"
      "Options:\n"
      "  --keep-failed    Write packets that fail to decrypt/encrypt unchanged (default: drop).\n"
      "                   A flag: it takes no =VALUE.\n"
      "  --backend B      ipsecmb (default) or openssl.\n"
      "  -h, --help       This text.\n"
      "\n"
      "A summary goes to stderr. Exit status: 0 every selected packet was processed; 1 I/O or\n"
      "set-up error; 2 bad arguments; 3 some packets failed (counted by reason in the summary).\n"
      "IN that ends in a truncated record (a capture cut short) exits 1 after the packets before\n"
      "it are processed and written and the summary is printed; the error follows the summary.\n"
      "\n"
      "Example: two calls, one key each, matched by SSRC and by flow:\n  ",
      p,
      " decrypt --profile AES_CM_128_HMAC_SHA1_80 \\\n"
      "      --ssrc 0x1234abcd --key inline:KEY1 \\\n"
      "      --flow 198.18.0.1:*-198.18.0.2:5004 --key-file call2.key call.pcapng call-rtp.pcap\n");
}

Result<Options> parse_options(std::span<const char* const> args) {
  Options o;
  std::optional<srtp::Profile> profile;
  std::optional<uint32_t> pending_ssrc;
  std::optional<FlowPattern> pending_flow;
  // Views into `args`, not copies: a word out of place may be a key.
  std::vector<std::string_view> positional;
  std::vector<std::size_t> positional_at;  // their argument numbers, for messages
  std::vector<KeyArg> key_args;
  int key_ordinal = 0;
  int stdin_key = 0;  // the ordinal of --key-file -

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i] != nullptr ? args[i] : "";
    std::string_view value;
    bool has_inline_value = false;
    if (arg.starts_with("--") && arg.find('=') != std::string_view::npos) {
      const auto eq = arg.find('=');
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline_value = true;
    }
    const auto take_value = [&]() -> Result<std::string_view> {
      if (has_inline_value) {
        return value;
      }
      if (i + 1 >= args.size() || args[i + 1] == nullptr) {
        return make_error(cat(arg, " needs a value"));
      }
      return std::string_view(args[++i]);
    };

    // Flags take no value: "--keep-failed=no" must not turn keep-failed on.
    const bool flag = arg == "-h" || arg == "--help" || arg == "--keep-failed";
    if (flag && has_inline_value) {
      return make_error(cat(arg, " takes no value (give ", arg, " alone, or leave it out)"));
    }
    if (arg == "-h" || arg == "--help") {
      Options help;
      help.help = true;
      return help;
    }
    if (arg == "--profile") {
      auto v = take_value();
      if (!v) {
        return v.error();
      }
      profile = srtp::profile_from_name(*v);
      if (!profile) {
        return make_error(cat("--profile ", quoted(*v),
                              " is unknown; try AES_CM_128_HMAC_SHA1_80 or AEAD_AES_128_GCM"));
      }
    } else if (arg == "--ssrc") {
      auto v = take_value();
      if (!v) {
        return v.error();
      }
      if (pending_ssrc) {
        return make_error("two --ssrc before one --key; give each --key its own --ssrc");
      }
      pending_ssrc = parse_ssrc(*v);
      if (!pending_ssrc) {
        return make_error(cat("--ssrc ", quoted(*v), " is not a 32-bit number"));
      }
    } else if (arg == "--flow") {
      auto v = take_value();
      if (!v) {
        return v.error();
      }
      if (pending_flow) {
        return make_error("two --flow before one --key; give each --key its own --flow");
      }
      auto f = parse_flow(*v);
      if (!f) {
        return f.error();
      }
      pending_flow = *f;
    } else if (arg == "--key" || arg == "--key-file") {
      auto v = take_value();
      if (!v) {
        return v.error();
      }
      ++key_ordinal;
      const bool from_file = arg == "--key-file";
      const std::string label = cat(arg, " #", std::to_string(key_ordinal));
      if (!profile) {
        return make_error(cat(label, " comes before any --profile; put --profile NAME first"));
      }
      if (from_file && *v == "-") {
        if (stdin_key != 0) {
          return make_error(cat(label, " and --key-file #", std::to_string(stdin_key),
                                " both read stdin ('-'); stdin holds one key"));
        }
        stdin_key = key_ordinal;
      }
      key_args.push_back({*profile, *v, from_file, pending_ssrc, pending_flow, key_ordinal});
      pending_ssrc.reset();
      pending_flow.reset();
    } else if (arg == "--keep-failed") {
      o.keep_failed = true;
    } else if (arg == "--backend") {
      auto v = take_value();
      if (!v) {
        return v.error();
      }
      if (*v == "ipsecmb") {
        o.backend = crypto::Backend::ipsecmb;
      } else if (*v == "openssl") {
        o.backend = crypto::Backend::openssl;
      } else {
        return make_error(cat("--backend ", quoted(*v), ": use ipsecmb or openssl"));
      }
    } else if (arg.size() > 1 && arg.front() == '-') {
      return make_error(cat("unknown option ", quoted(arg)));
    } else {
      positional.emplace_back(arg);
      positional_at.push_back(i + 1);
    }
  }

  if (pending_ssrc || pending_flow) {
    return make_error("--ssrc/--flow must be followed by the --key it scopes");
  }
  if (positional.empty()) {
    return make_error("missing mode: decrypt or encrypt");
  }
  if (positional[0] == "decrypt") {
    o.mode = Mode::decrypt;
  } else if (positional[0] == "encrypt") {
    o.mode = Mode::encrypt;
  } else {
    // The first word that is not an option may be a key that lost its --key: never repeat it.
    return make_error(cat("unknown mode ", quoted(positional[0]), " (argument ",
                          std::to_string(positional_at[0]), "): use decrypt or encrypt"));
  }
  if (positional.size() != 3) {
    return make_error(cat("expected IN and OUT capture files after the mode, got ",
                          std::to_string(positional.size() - 1), " file argument(s)"));
  }
  o.in_path = positional[1];
  o.out_path = positional[2];
  if (key_ordinal == 0) {
    return make_error("no --key or --key-file given");
  }
  if (stdin_key != 0 && o.in_path == "-") {
    return make_error(cat("--key-file #", std::to_string(stdin_key),
                          " reads stdin ('-'), and so does IN '-'; put the key in a file or a "
                          "pipe, as in --key-file <(command)"));
  }
  std::optional<KeySpec> default_key;
  for (const KeyArg& k : key_args) {
    if (auto r = add_key(k, o.keys, default_key); !r) {
      return r.error();
    }
  }
  if (default_key) {
    o.keys.push_back(std::move(*default_key));
  }
  return o;
}

}  // namespace srtpgate::app
