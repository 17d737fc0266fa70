// A minimal SRTP sender for the end-to-end tests: Debian's libsrtp2 (through the test oracle)
// protects COUNT RTP packets under the master key || salt given in hex and sends them over UDP,
// one every 10 ms. Each plain packet it protected is printed as one hex line on stdout, so the
// test can compare what comes out of the gateway with what went in, byte for byte.
//
//   srtpgate-e2e-srtp-send PROFILE KEY_SALT_HEX BIND_ADDR BIND_PORT DST_ADDR DST_PORT SSRC COUNT
//
// Exits 0 when every packet was protected and sent, 1 with a message on stderr otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "libsrtp_oracle.h"
#include "srtpgate/profile.h"

namespace {

constexpr std::size_t kPayloadBytes = 160;  // 20 ms of PCMU
constexpr auto kInterval = std::chrono::milliseconds(10);

int fail(const std::string& message) {
  std::fprintf(stderr, "srtp sender: %s\n", message.c_str());
  return 1;
}

bool parse_hex(std::string_view hex, std::vector<uint8_t>& out) {
  if (hex.size() % 2 != 0) {
    return false;
  }
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const std::string byte(hex.substr(i, 2));
    char* end = nullptr;
    const unsigned long v = std::strtoul(byte.c_str(), &end, 16);
    if (end != byte.c_str() + 2) {
      return false;
    }
    out.push_back(static_cast<uint8_t>(v));
  }
  return true;
}

bool parse_addr(const char* addr, const char* port, sockaddr_in& out) {
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<uint16_t>(std::strtoul(port, nullptr, 10)));
  return inet_pton(AF_INET, addr, &out.sin_addr) == 1;
}

void append_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

// RFC 3550 §5.1 fixed header (V=2, no padding, extension or CSRC, PT 0 = PCMU) and a payload
// that differs in every packet and every byte, so a packet swapped, truncated or altered
// anywhere does not compare equal.
std::vector<uint8_t> plain_rtp(uint32_t ssrc, uint16_t seq, uint32_t timestamp) {
  std::vector<uint8_t> p = {0x80, 0x00, static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq)};
  append_be32(p, timestamp);
  append_be32(p, ssrc);
  for (std::size_t i = 0; i < kPayloadBytes; ++i) {
    p.push_back(static_cast<uint8_t>(std::size_t{seq} * 31 + i * 7 + 1));
  }
  return p;
}

std::string to_hex(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  using srtpgate::oracle::LibsrtpOracle;
  if (argc != 9) {
    return fail("usage: PROFILE KEY_SALT_HEX BIND_ADDR BIND_PORT DST_ADDR DST_PORT SSRC COUNT");
  }
  const auto profile = srtpgate::srtp::profile_from_name(argv[1]);
  if (!profile) {
    return fail(std::string("unknown profile ") + argv[1]);
  }
  srtpgate::oracle::OracleKey key;
  const auto p = srtpgate::srtp::params(*profile);
  if (!parse_hex(argv[2], key.key_salt) ||
      key.key_salt.size() != std::size_t{p.master_key_len} + p.master_salt_len) {
    return fail("the key || salt must be " + std::to_string(p.master_key_len + p.master_salt_len) +
                " bytes in hex");
  }
  sockaddr_in bind_to{};
  sockaddr_in send_to{};
  if (!parse_addr(argv[3], argv[4], bind_to) || !parse_addr(argv[5], argv[6], send_to)) {
    return fail("addresses must be IPv4");
  }
  const auto ssrc = static_cast<uint32_t>(std::strtoul(argv[7], nullptr, 0));
  const auto count = std::strtoul(argv[8], nullptr, 10);

  srtpgate::oracle::OracleConfig config;
  config.profile = *profile;
  config.outbound = true;
  auto oracle = LibsrtpOracle::create(config, key);
  if (!oracle) {
    return fail(oracle.message());
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to) != 0) {
    return fail("cannot bind the UDP socket");
  }
  std::string plain_lines;
  for (unsigned long i = 0; i < count; ++i) {
    const auto seq = static_cast<uint16_t>(1000 + i);
    std::vector<uint8_t> packet = plain_rtp(ssrc, seq, static_cast<uint32_t>(i * 160));
    plain_lines += to_hex(packet) + "\n";
    if (const auto s = (*oracle)->protect_rtp(packet); s != srtp_err_status_ok) {
      close(fd);
      return fail("srtp_protect failed: " + std::to_string(s));
    }
    if (sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&send_to),
               sizeof send_to) != static_cast<ssize_t>(packet.size())) {
      close(fd);
      return fail("sendto failed");
    }
    std::this_thread::sleep_for(kInterval);
  }
  close(fd);
  std::fputs(plain_lines.c_str(), stdout);
  return 0;
}
