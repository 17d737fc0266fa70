#include "capture_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include "text.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace srtpgate::app {

namespace {

// The precision to read a capture at. A pcap file states its own in its magic number
// (pcap-savefile(5): 0xa1b2c3d4 microseconds, 0xa1b23c4d nanoseconds, in the writer's byte
// order; libpcap also reads Kuznetzov's 0xa1b2cd34, microseconds). Anything else gets
// nanoseconds: libpcap scales every time stamp to the precision asked for
// (pcap_open_offline(3PCAP)), and nanoseconds lose nothing of a pcapng if_tsresol of 6 or 9.
int precision_to_read(std::FILE* f) noexcept {
  const int fd = fileno(f);
  const off_t at = fd < 0 ? -1 : lseek(fd, 0, SEEK_CUR);
  std::array<uint8_t, 4> m{};
  // pread leaves the offset where libpcap starts reading; a pipe cannot be peeked (ESPIPE).
  if (at < 0 || pread(fd, m.data(), m.size(), at) != static_cast<ssize_t>(m.size())) {
    return PCAP_TSTAMP_PRECISION_NANO;
  }
  const uint32_t le = m[0] | uint32_t{m[1]} << 8 | uint32_t{m[2]} << 16 | uint32_t{m[3]} << 24;
  const uint32_t be = uint32_t{m[0]} << 24 | uint32_t{m[1]} << 16 | uint32_t{m[2]} << 8 | m[3];
  for (const uint32_t magic : {le, be}) {
    if (magic == 0xa1b2c3d4 || magic == 0xa1b2cd34) {
      return PCAP_TSTAMP_PRECISION_MICRO;
    }
  }
  return PCAP_TSTAMP_PRECISION_NANO;
}

}  // namespace

Result<CaptureReader> CaptureReader::open(const std::string& path) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return make_error(cat("cannot read capture ", quoted(path), ": ", std::strerror(errno)));
  }
  char err[PCAP_ERRBUF_SIZE] = {};
  PcapPtr p(
      pcap_fopen_offline_with_tstamp_precision(f, static_cast<u_int>(precision_to_read(f)), err));
  if (!p) {
    // Still ours: libpcap closes the stream from pcap_close() only, and never stdin.
    if (f != stdin) {
      std::fclose(f);
    }
    return make_error(cat("cannot read capture ", quoted(path), ": ", err));
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
    return make_error(cat("reading ", quoted(path_), ": ", pcap_geterr(pcap_.get())));
  }
  return std::optional<CapturedFrame>{CapturedFrame{*header, {data, header->caplen}}};
}

Result<CaptureWriter> CaptureWriter::create(const std::string& path, int datalink, int snaplen,
                                            int precision) {
  std::FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return make_error(cat("cannot create ", quoted(path), ": ", std::strerror(errno)));
  }
  return create(f, path, datalink, snaplen, precision);
}

Result<CaptureWriter> CaptureWriter::create(std::FILE* stream, const std::string& name,
                                            int datalink, int snaplen, int precision) {
  PcapPtr dead(
      pcap_open_dead_with_tstamp_precision(datalink, snaplen, static_cast<u_int>(precision)));
  if (!dead) {
    std::fclose(stream);
    return make_error(cat("libpcap cannot write link type ", std::to_string(datalink)));
  }
  // The file header's magic number follows the precision of `dead` (pcap_dump_open(3PCAP)).
  PcapDumperPtr dumper(pcap_dump_fopen(dead.get(), stream));
  if (!dumper) {
    // Not closed here: libpcap closes the stream on some of its failures and not on others.
    return make_error(cat("cannot create ", quoted(name), ": ", pcap_geterr(dead.get())));
  }
  return CaptureWriter(std::move(dead), std::move(dumper), name);
}

void CaptureWriter::write(const pcap_pkthdr& header, std::span<const uint8_t> bytes) noexcept {
  pcap_pkthdr h = header;
  h.caplen = static_cast<bpf_u_int32>(bytes.size());
  pcap_dump(reinterpret_cast<u_char*>(dumper_.get()), &h, bytes.data());
  // pcap_dump(3PCAP) returns nothing; a failed fwrite sets the stream's error flag, and errno
  // still holds the cause only right after it.
  if (write_errno_ == 0 && std::ferror(pcap_dump_file(dumper_.get())) != 0) {
    write_errno_ = errno != 0 ? errno : EIO;
  }
}

Result<void> CaptureWriter::finish() {
  if (!dumper_) {
    return make_error(cat("writing ", quoted(name_), ": already closed"));
  }
  // pcap_dump_close() is fclose() of this stream with its result ignored (libpcap sf-pcap.c:
  // "XXX should check return from fclose() too"), and NFS reports delayed write errors only at
  // close(2); so close the stream here and keep every result.
  std::FILE* f = pcap_dump_file(dumper_.release());
  int err = write_errno_;
  if (std::fflush(f) != 0 && err == 0) {
    err = errno;
  }
  if (std::ferror(f) != 0 && err == 0) {
    err = EIO;  // a failure no write() saw; its errno is gone
  }
  if (std::fclose(f) != 0 && err == 0) {
    err = errno;
  }
  if (err != 0) {
    return make_error(cat("writing ", quoted(name_), " failed: ", std::strerror(err)));
  }
  return {};
}

Result<void> refuse_same_file(const std::string& in_path, const std::string& out_path) {
  const auto regular_file = [](const std::string& path, int std_fd, struct stat& st) {
    const int rc = path == "-" ? fstat(std_fd, &st) : stat(path.c_str(), &st);
    return rc == 0 && S_ISREG(st.st_mode);
  };
  struct stat in {};
  struct stat out {};
  const bool same =
      (in_path == out_path && in_path != "-") ||
      (regular_file(in_path, STDIN_FILENO, in) && regular_file(out_path, STDOUT_FILENO, out) &&
       in.st_dev == out.st_dev && in.st_ino == out.st_ino);
  if (same) {
    return make_error(cat("OUT ", quoted(out_path), " is the input file ", quoted(in_path),
                          "; writing OUT would destroy IN before it is read: name another OUT"));
  }
  return {};
}

}  // namespace srtpgate::app
