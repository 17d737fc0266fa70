// Reading captures (pcap or pcapng, through libpcap) and writing pcap files.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
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
  static Result<CaptureReader> open(const std::string& path);

  [[nodiscard]] int datalink() const noexcept { return pcap_datalink(pcap_.get()); }

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
  // Creates a pcap file (microsecond timestamps) with this link type.
  static Result<CaptureWriter> create(const std::string& path, int datalink, int snaplen);

  void write(const pcap_pkthdr& header, std::span<const uint8_t> bytes) noexcept;
  // Flushes and reports any write error; call once at the end.
  Result<void> finish();

 private:
  CaptureWriter(PcapPtr dead, PcapDumperPtr dumper, std::string path)
      : dead_(std::move(dead)), dumper_(std::move(dumper)), path_(std::move(path)) {}
  PcapPtr dead_;
  PcapDumperPtr dumper_;
  std::string path_;
};

}  // namespace srtpgate::app
