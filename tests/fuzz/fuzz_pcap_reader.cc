// libFuzzer target: srtpgate-pcap's input side on a hostile capture file.
//
// The input is the capture file itself (pcap or pcapng; libpcap decides). It is written to an
// anonymous in-memory file (memfd) that libpcap opens by its /proc/self/fd path. Then:
//   1. CaptureReader reads every record and parse_frame() parses each frame as every link type
//      the tool reads (not only the file's), checking that what it reports lies inside the frame;
//   2. process_capture() runs the whole tool on it, writing to /dev/null, with the key of
//      tests/data/sample-srtp.pcap so a mutated sample still decrypts. The input length picks
//      decrypt or encrypt (bit 0) and --keep-failed (bit 1), so both paths get inputs.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "capture_io.h"
#include "frame_parser.h"
#include "key_options.h"
#include "pipeline.h"
#include "srtpgate/master_key.h"

namespace {

using namespace srtpgate;
using namespace srtpgate::app;

constexpr std::size_t kMaxRecords = 4096;

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz_pcap_reader: invariant violated: %s\n", what);
    std::abort();
  }
}

constexpr LinkType kLinkTypes[] = {LinkType::ethernet,  LinkType::linux_sll, LinkType::linux_sll2,
                                   LinkType::raw_ip,    LinkType::ipv4,      LinkType::ipv6};

void check_parse(LinkType link, std::span<const uint8_t> frame) {
  const ParseOutcome o = parse_frame(link, frame);
  check(static_cast<std::size_t>(o.reason) < kPassReasonCount, "pass reason out of range");
  if (!o.frame) {
    return;
  }
  const ParsedFrame& f = *o.frame;
  check(f.ip_version == 4 || f.ip_version == 6, "ip_version neither 4 nor 6");
  check(f.ip_offset < f.udp_offset, "UDP header before the IP header");
  check(f.payload_offset == f.udp_offset + 8, "payload not right after the UDP header");
  check(std::size_t{f.payload_offset} + f.payload_len <= frame.size(),
        "UDP payload runs past the captured bytes");
}

KeySpec sample_key() {
  KeySpec k;
  k.profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
  auto key = srtp::parse_sdes_key(k.profile, "inline:VNtPRH10gRr5HvSPx2AFa0/dDq/yMLi8dHaAlaNY");
  check(key.ok(), "sample key does not parse");
  k.key = std::move(key.value());
  k.ordinal = 1;
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const int fd = memfd_create("fuzz-capture", MFD_CLOEXEC);
  check(fd >= 0, "memfd_create failed");
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = write(fd, data + done, size - done);
    check(n > 0, "write to memfd failed");
    done += static_cast<std::size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  if (auto reader = CaptureReader::open(path)) {
    const auto link = link_type_from_dlt(reader->datalink());
    for (std::size_t i = 0; i < kMaxRecords; ++i) {
      auto frame = reader->next();
      if (!frame || !frame.value()) {
        break;
      }
      const CapturedFrame& f = **frame;
      check(f.bytes.size() == f.header.caplen, "frame bytes differ from caplen");
      if (link) {
        check_parse(*link, f.bytes);
      }
      for (LinkType l : kLinkTypes) {
        check_parse(l, f.bytes);
      }
    }
  }

  static const KeySpec key = sample_key();
  Options options;
  options.mode = (size & 1) ? Mode::encrypt : Mode::decrypt;
  options.keep_failed = (size & 2) != 0;
  options.keys.push_back(key);
  options.in_path = path;
  options.out_path = "/dev/null";
  options.backend = crypto::Backend::openssl;
  auto summary = process_capture(options);
  if (summary) {
    check(summary->frames_written <= summary->frames_read, "wrote more frames than it read");
  }
  close(fd);
  return 0;
}
