// Reads a capture, decrypts or encrypts the RTP/RTCP each key selects in bursts, writes the result.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "frame_parser.h"
#include "key_options.h"
#include "srtpgate/packet.h"
#include "srtpgate/result.h"

namespace srtpgate::app {

struct KeyCounts {
  uint64_t rtp_ok = 0;
  uint64_t rtcp_ok = 0;
  uint64_t failed = 0;
};

struct Summary {
  Mode mode = Mode::decrypt;
  bool keep_failed = false;
  uint64_t frames_read = 0;
  uint64_t frames_written = 0;
  uint64_t rtp_ok = 0;
  uint64_t rtcp_ok = 0;
  std::array<uint64_t, srtp::kStatusCount> rtp_failed{};
  std::array<uint64_t, srtp::kStatusCount> rtcp_failed{};
  std::array<uint64_t, kPassReasonCount> passed{};
  std::vector<KeyCounts> per_key;  // in Options::keys order
  // Why reading IN stopped before its end (a truncated last record: the capture was cut short),
  // or empty. Everything read before it was processed and written: a failure all the same.
  std::string read_error;

  [[nodiscard]] uint64_t failed_total() const noexcept;
  [[nodiscard]] uint64_t passed_total() const noexcept;
};

// Runs the whole file. Errors are set-up and I/O failures (unreadable input, unsupported link
// type, a session that cannot be created, OUT that is IN, a failed write); a read error part-way
// through IN is Summary::read_error instead; per-packet outcomes go into the Summary.
Result<Summary> process_capture(const Options& options);

// The human-readable summary ("name: count" lines) that srtpgate-pcap prints to stderr.
void print_summary(std::FILE* out, const Options& options, const Summary& summary);

}  // namespace srtpgate::app
