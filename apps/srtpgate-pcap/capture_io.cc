#include "capture_io.h"

#include "text.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace srtpgate::app {

Result<CaptureReader> CaptureReader::open(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  PcapPtr p(
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err));
  if (!p) {
    return make_error(cat("cannot read capture '", path, "': ", err));
  }
  CaptureReader r(std::move(p));
  r.path_ = path;
  return r;
}

Result<std::optional<CapturedFrame>> CaptureReader::next() {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(pcap_.get(), &header, &data);
  if (rc == PCAP_ERROR_BREAK) {
    return std::optional<CapturedFrame>{};
  }
  if (rc != 1 || header == nullptr || data == nullptr) {
    return make_error(cat("reading '", path_, "': ", pcap_geterr(pcap_.get())));
  }
  return std::optional<CapturedFrame>{CapturedFrame{*header, {data, header->caplen}}};
}

Result<CaptureWriter> CaptureWriter::create(const std::string& path, int datalink, int snaplen) {
  PcapPtr dead(
      pcap_open_dead_with_tstamp_precision(datalink, snaplen, PCAP_TSTAMP_PRECISION_MICRO));
  if (!dead) {
    return make_error(cat("libpcap cannot write link type ", std::to_string(datalink)));
  }
  PcapDumperPtr dumper(pcap_dump_open(dead.get(), path.c_str()));
  if (!dumper) {
    return make_error(cat("cannot create '", path, "': ", pcap_geterr(dead.get())));
  }
  return CaptureWriter(std::move(dead), std::move(dumper), path);
}

void CaptureWriter::write(const pcap_pkthdr& header, std::span<const uint8_t> bytes) noexcept {
  pcap_pkthdr h = header;
  h.caplen = static_cast<bpf_u_int32>(bytes.size());
  pcap_dump(reinterpret_cast<u_char*>(dumper_.get()), &h, bytes.data());
}

Result<void> CaptureWriter::finish() {
  FILE* f = pcap_dump_file(dumper_.get());
  const bool failed = pcap_dump_flush(dumper_.get()) != 0 || std::ferror(f) != 0;
  const int saved = errno;
  dumper_.reset();
  if (failed) {
    return make_error(cat("writing '", path_, "' failed: ", std::strerror(saved)));
  }
  return {};
}

}  // namespace srtpgate::app
