// libFuzzer target: the dataplane's frame classifier on hostile received frames.
//
// Byte 0 picks the checksum hints (bits 0..1 IP, 2..3 L4: unknown, good, bad, deferred) and the
// port id (bits 4..7); the rest is the frame, copied into a heap block of exactly its length so
// ASan catches any read past it. Checked: the kind and drop reason are defined values; for UDP
// kinds the payload lies inside the frame, after the headers, and the flow key carries the port
// id and a family that matches the IP version; and classify_frame, with its shortcut for the
// common frame, gives what the general parser alone gives, field for field.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "frame_classifier.h"

namespace {

using namespace srtpgate::dp;
using namespace srtpgate::dp::detail;

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_frame_classifier: invariant violated: %s\n", what);
    std::abort();
  }
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
  return 0;
}
