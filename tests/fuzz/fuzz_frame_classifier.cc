// libFuzzer target: the dataplane's frame classifier on hostile received frames.
//
// Byte 0 picks the checksum hints (bits 0..1 IP, 2..3 L4: unknown, good, bad, deferred) and the
// port id (bits 4..7); the rest is the frame, copied into a heap block of exactly its length so
// ASan catches any read past it. Checked: the kind and drop reason are defined values; for UDP
// kinds the payload lies inside the frame, after the headers, and the flow key carries the port
// id and a family that matches the IP version; and classify_frame, with its shortcut for the
// common frame, gives what the general parser alone gives, field for field. Then, with the
// frame's UDP checksum replaced by the right one (computed here, RFC 1071 word by word), the
// checksum verifies and the payload sum read from it (payload_sum_of_verified) equals the
// payload's own sum modulo 0xffff.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "frame_classifier.h"
#include "ones_sum.h"

namespace {

using namespace srtpgate::dp;
using namespace srtpgate::dp::detail;

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_frame_classifier: invariant violated: %s\n", what);
    std::abort();
  }
}

// RFC 1071 §4.1 over big-endian words: a reference independent of ones_sum.h.
uint32_t ref_sum(const uint8_t* p, std::size_t n, uint32_t sum) {
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  }
  if (n % 2 != 0) {
    sum += static_cast<uint32_t>(p[n - 1] << 8);
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return sum;
}

// Writes the right UDP checksum (RFC 768; RFC 8200 §8.1) into a frame classify_frame accepted.
void set_udp_checksum(uint8_t* frame, const ParsedFrame& p) {
  uint8_t* udp = frame + p.payload_offset - 8;
  const uint8_t* ip = frame + p.l3_offset;
  const uint32_t udp_len = p.payload_len + 8u;
  udp[6] = udp[7] = 0;
  uint32_t sum = p.ip_version == 4 ? ref_sum(ip + 12, 8, 0) : ref_sum(ip + 8, 32, 0);
  sum = ref_sum(udp, udp_len, sum + 17 + udp_len);
  uint16_t c = static_cast<uint16_t>(~sum);
  if (c == 0) {
    c = 0xffff;
  }
  udp[6] = static_cast<uint8_t>(c >> 8);
  udp[7] = static_cast<uint8_t>(c);
}

ChecksumHint hint(uint8_t bits) {
  switch (bits & 3) {
    case 1: return ChecksumHint::good;
    case 2: return ChecksumHint::bad;
    case 3: return ChecksumHint::deferred;
    default: return ChecksumHint::unknown;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1 || size > 0xffff) {
    return 0;
  }
  const uint8_t b0 = data[0];
  const uint32_t len = static_cast<uint32_t>(size - 1);
  std::unique_ptr<uint8_t[]> frame(new uint8_t[len == 0 ? 1 : len]);
  if (len != 0) {
    std::memcpy(frame.get(), data + 1, len);
  }
  const uint16_t port_id = b0 >> 4;

  ParsedFrame out{};
  classify_frame(frame.get(), len, port_id, hint(b0), hint(b0 >> 2), out);
  ParsedFrame general{};
  classify_frame_general(frame.get(), len, port_id, hint(b0), hint(b0 >> 2), general);
  check(out.kind == general.kind && out.drop == general.drop &&
            out.ip_version == general.ip_version && out.vlan_tci == general.vlan_tci &&
            out.l3_offset == general.l3_offset && out.payload_offset == general.payload_offset &&
            out.payload_len == general.payload_len &&
            std::memcmp(&out.key, &general.key, sizeof(out.key)) == 0,
        "the common-frame shortcut and the general parser disagree");

  check(static_cast<uint8_t>(out.kind) <= static_cast<uint8_t>(FrameKind::drop),
        "frame kind out of range");
  if (out.kind == FrameKind::drop) {
    check(static_cast<std::size_t>(out.drop) < kDropCount, "drop reason out of range");
    return 0;
  }
  if (out.kind == FrameKind::control) {
    return 0;
  }
  check(out.ip_version == 4 || out.ip_version == 6, "UDP frame with no IP version");
  check(out.payload_offset >= 14 + 20 + 8, "payload before the end of the headers");
  check(std::size_t{out.payload_offset} + out.payload_len <= len,
        "UDP payload runs past the frame");
  check(out.key.port_id == port_id, "flow key with the wrong port id");
  check(out.key.family == out.ip_version, "flow key family differs from the IP version");
  check(out.key.vlan == (out.vlan_tci & 0x0fff), "flow key VLAN differs from the tag's VID");
  // A zero IPv4 checksum (none sent) stays, to cover that case as it came.
  if (out.ip_version == 6 || frame[out.payload_offset - 2] != 0 ||
      frame[out.payload_offset - 1] != 0) {
    set_udp_checksum(frame.get(), out);
  }
  check(udp_checksum_ok(frame.get(), out), "a right UDP checksum does not verify");
  const uint16_t from_checksum = payload_sum_of_verified(frame.get(), out);
  const uint16_t summed = ones_sum(frame.get() + out.payload_offset, out.payload_len);
  check(from_checksum % 0xffff == summed % 0xffff,
        "payload sum from the verified checksum differs from the payload's sum");
  return 0;
}
