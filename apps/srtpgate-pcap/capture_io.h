// Reading captures (pcap or pcapng, through libpcap) and writing pcap files.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "srtpgate/result.h"

namespace srtpgate::app {

struct PcapCloser {
  void operator()(pcap_t* p) const noexcept { pcap_close(p); }
};
struct PcapDumperCloser {
  void operator()(pcap_dumper_t* d) const noexcept { pcap_dump_close(d); }
};
using PcapPtr = std::unique_ptr<pcap_t, PcapCloser>;
using PcapDumperPtr = std::unique_ptr<pcap_dumper_t, PcapDumperCloser>;

// A frame as libpcap hands it out: `bytes` is valid until the next call to next().
struct CapturedFrame {
  pcap_pkthdr header{};
  std::span<const uint8_t> bytes;
};

class CaptureReader {
 public:
  // Opens IN ("-" is standard input). A pcap file is read at its own time stamp precision (its
  // magic number says which); pcapng (if_tsresol may differ per interface) and input that cannot
  // be peeked at are read at nanoseconds, which also hold microsecond time stamps exactly.
  static Result<CaptureReader> open(const std::string& path);

  [[nodiscard]] int datalink() const noexcept { return pcap_datalink(pcap_.get()); }
  // PCAP_TSTAMP_PRECISION_MICRO or _NANO: the unit of CapturedFrame::header.ts.tv_usec.
  [[nodiscard]] int tstamp_precision() const noexcept {
    return pcap_get_tstamp_precision(pcap_.get());
  }

  // nullopt at the end of the file. A read error (a truncated last record, a corrupt block) is
  // an Error.
  Result<std::optional<CapturedFrame>> next();

 private:
  explicit CaptureReader(PcapPtr p) : pcap_(std::move(p)) {}
  PcapPtr pcap_;
  std::string path_;
};

class CaptureWriter {
 public:
  // Creates OUT ("-" is standard output): pcap with this link type and time stamp precision
  // (PCAP_TSTAMP_PRECISION_MICRO or _NANO; write a reader's frames at its tstamp_precision()).
  static Result<CaptureWriter> create(const std::string& path, int datalink, int snaplen,
                                      int precision);
  // The same on a stream opened for writing, which the writer takes: finish() or the destructor
  // closes it. If create fails, the stream must not be used again (libpcap closes it on some
  // failures and not on others). `name` is for messages.
  static Result<CaptureWriter> create(std::FILE* stream, const std::string& name, int datalink,
                                      int snaplen, int precision);

  void write(const pcap_pkthdr& header, std::span<const uint8_t> bytes) noexcept;
  // True once a write failed: stop early, finish() says why.
  [[nodiscard]] bool failed() const noexcept { return write_errno_ != 0; }
  // Flushes and closes OUT, and reports the first write, flush or close error (NFS reports some
  // write errors only at close(2)). Call once, at the end.
  Result<void> finish();

 private:
  CaptureWriter(PcapPtr dead, PcapDumperPtr dumper, std::string name)
      : dead_(std::move(dead)), dumper_(std::move(dumper)), name_(std::move(name)) {}
  PcapPtr dead_;
  PcapDumperPtr dumper_;
  std::string name_;
  int write_errno_ = 0;  // errno of the first failed write, 0 while none failed
};

// Refuses OUT when it is IN's file: the same name, or, for regular files, the same st_dev and
// st_ino (another path to it, a hard or symbolic link, "-" redirected from it). Creating OUT
// truncates it, which would destroy IN before it is read. An OUT that does not exist is fine.
Result<void> refuse_same_file(const std::string& in_path, const std::string& out_path);

}  // namespace srtpgate::app
