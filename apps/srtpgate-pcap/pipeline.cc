#include "pipeline.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>

#include "capture_io.h"
#include "frame_writer.h"
#include "srtpgate/rtp.h"
#include "srtpgate/session.h"
#include "text.h"

namespace srtpgate::app {

namespace {

constexpr std::size_t kBurst = srtp::Session::kMaxBurst;
// Room after the payload for what protect adds: MKI (<= 16) + tag (<= 16) + SRTCP index (4).
constexpr uint32_t kTailroom = 64;
// Output snap length: large enough for any IP datagram plus link header, whatever IN said.
constexpr int kOutSnaplen = 262144;
// Sessions track a handful of SSRCs per key; a capture of a conference may have more.
constexpr uint32_t kMaxStreams = 1024;
// Captures can reorder (several capture points, multi-queue NICs); take a wide window.
constexpr uint32_t kReplayWindow = 1024;

enum class Kind : uint8_t { pass, rtp, rtcp };

struct Slot {
  pcap_pkthdr header{};
  std::vector<uint8_t> frame;          // the captured bytes, then tailroom
  uint32_t frame_len = 0;              // captured length
  std::vector<uint8_t> original_tail;  // captured bytes from the payload on, for --keep-failed
  ParsedFrame parsed;
  Kind kind = Kind::pass;
  PassReason reason = PassReason::not_ip;
  std::size_t key = 0;
  srtp::Status status = srtp::Status::ok;
  srtp::PacketView view;
};

class Processor {
 public:
  Processor(const Options& options, LinkType link,
            std::vector<std::unique_ptr<srtp::Session>> sessions, Summary& summary)
      : options_(options), link_(link), sessions_(std::move(sessions)), summary_(summary) {}

  void load(Slot& s, const CapturedFrame& f) {
    s.header = f.header;
    s.frame_len = static_cast<uint32_t>(f.bytes.size());
    if (s.frame.size() < f.bytes.size() + kTailroom) {
      s.frame.resize(f.bytes.size() + kTailroom);
    }
    std::copy(f.bytes.begin(), f.bytes.end(), s.frame.begin());
    classify(s);
  }

  void run_burst(std::span<Slot> slots, CaptureWriter& out) {
    for (std::size_t k = 0; k < sessions_.size(); ++k) {
      crypt(slots, k, Kind::rtp);
      crypt(slots, k, Kind::rtcp);
    }
    for (Slot& s : slots) {
      emit(s, out);
    }
  }

 private:
  void classify(Slot& s) {
    s.kind = Kind::pass;
    const ParseOutcome p = parse_frame(link_, {s.frame.data(), s.frame_len});
    if (!p.frame) {
      s.reason = p.reason;
      return;
    }
    s.parsed = *p.frame;
    const std::span<const uint8_t> payload(s.frame.data() + s.parsed.payload_offset,
                                           s.parsed.payload_len);
    std::optional<uint32_t> ssrc;
    const bool rtcp = rtp::looks_like_rtcp(payload);
    if (rtcp) {
      ssrc = rtcp::sender_ssrc(payload);
    } else if (auto h = rtp::parse_header(payload)) {
      ssrc = h->ssrc;
    }
    if (!ssrc) {
      s.reason = PassReason::not_rtp;
      return;
    }
    const auto& keys = options_.keys;
    const auto match = std::find_if(keys.begin(), keys.end(), [&](const KeySpec& k) {
      return (!k.ssrc || *k.ssrc == *ssrc) &&
             (!k.flow || flow_matches(*k.flow, s.parsed.flow, rtcp));
    });
    if (match == keys.end()) {
      s.reason = PassReason::no_key;
      return;
    }
    s.kind = rtcp ? Kind::rtcp : Kind::rtp;
    s.key = static_cast<std::size_t>(match - keys.begin());
    s.original_tail.assign(s.frame.begin() + s.parsed.payload_offset,
                           s.frame.begin() + s.frame_len);
    // Never let protect grow the datagram past what its 16-bit length fields can say.
    const uint32_t room = static_cast<uint32_t>(s.frame.size()) - s.parsed.payload_offset;
    s.view = {s.frame.data() + s.parsed.payload_offset, s.parsed.payload_len,
              std::min(room, max_payload_len(s.parsed))};
  }

  // One call of the batch API for the packets of one key and kind in this burst, in capture order.
  void crypt(std::span<Slot> slots, std::size_t key, Kind kind) {
    std::array<srtp::PacketView, kBurst> views;
    std::array<srtp::Status, kBurst> status;
    std::array<Slot*, kBurst> owner{};
    std::size_t n = 0;
    for (Slot& s : slots) {
      if (s.kind == kind && s.key == key && n < kBurst) {
        views[n] = s.view;
        owner[n++] = &s;
      }
    }
    if (n == 0) {
      return;
    }
    srtp::Session& session = *sessions_[key];
    const std::span<srtp::PacketView> v(views.data(), n);
    const std::span<srtp::Status> st(status.data(), n);
    const bool rtp = kind == Kind::rtp;
    if (options_.mode == Mode::decrypt && rtp) {
      session.unprotect_rtp(v, st);
    } else if (options_.mode == Mode::decrypt) {
      session.unprotect_rtcp(v, st);
    } else if (rtp) {
      session.protect_rtp(v, st);
    } else {
      session.protect_rtcp(v, st);
    }
    for (std::size_t i = 0; i < n; ++i) {
      owner[i]->view = views[i];
      owner[i]->status = status[i];
    }
  }

  void emit(Slot& s, CaptureWriter& out) {
    if (s.kind == Kind::pass) {
      ++summary_.passed[static_cast<std::size_t>(s.reason)];
      out.write(s.header, {s.frame.data(), s.frame_len});
      ++summary_.frames_written;
      return;
    }
    const bool rtp = s.kind == Kind::rtp;
    KeyCounts& per_key = summary_.per_key[s.key];
    std::optional<uint32_t> new_len;
    if (s.status == srtp::Status::ok && s.view.len <= s.view.capacity) {
      new_len = finish_frame({s.frame.data(), s.frame.size()}, s.parsed, s.view.len);
      if (!new_len) {
        s.status = srtp::Status::malformed;  // cannot happen: capacity was bounded above
      }
    }
    if (s.status == srtp::Status::ok) {
      ++(rtp ? summary_.rtp_ok : summary_.rtcp_ok);
      ++(rtp ? per_key.rtp_ok : per_key.rtcp_ok);
      pcap_pkthdr h = s.header;
      h.len = *new_len;
      out.write(h, {s.frame.data(), *new_len});
      ++summary_.frames_written;
      return;
    }
    const std::size_t reason = std::min(static_cast<std::size_t>(s.status), srtp::kStatusCount - 1);
    ++(rtp ? summary_.rtp_failed : summary_.rtcp_failed)[reason];
    ++per_key.failed;
    if (options_.keep_failed) {
      // The library may have changed the bytes before it gave up (RFC 7714 AEAD open).
      std::copy(s.original_tail.begin(), s.original_tail.end(),
                s.frame.begin() + s.parsed.payload_offset);
      out.write(s.header, {s.frame.data(), s.frame_len});
      ++summary_.frames_written;
    }
  }

  const Options& options_;
  LinkType link_;
  std::vector<std::unique_ptr<srtp::Session>> sessions_;
  Summary& summary_;
};

std::string_view verb(Mode m) { return m == Mode::decrypt ? "decrypted" : "encrypted"; }

}  // namespace

uint64_t Summary::failed_total() const noexcept {
  return std::accumulate(rtp_failed.begin(), rtp_failed.end(), uint64_t{0}) +
         std::accumulate(rtcp_failed.begin(), rtcp_failed.end(), uint64_t{0});
}

uint64_t Summary::passed_total() const noexcept {
  return std::accumulate(passed.begin(), passed.end(), uint64_t{0});
}

Result<Summary> process_capture(const Options& options) {
  if (auto r = refuse_same_file(options.in_path, options.out_path); !r) {
    return r.error();
  }
  auto reader = CaptureReader::open(options.in_path);
  if (!reader) {
    return reader.error();
  }
  const int dlt = reader->datalink();
  const auto link = link_type_from_dlt(dlt);
  if (!link) {
    const char* n = pcap_datalink_val_to_name(dlt);
    return make_error(cat(quoted(options.in_path), " has link type ", std::to_string(dlt), " (",
                          (n != nullptr ? n : "unknown"),
                          "); supported: EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6"));
  }

  auto engine = crypto::make_engine(options.backend);
  if (!engine) {
    return make_error(
        cat("crypto engine ", std::string(crypto::name(options.backend)), ": ", engine.message()));
  }
  std::vector<std::unique_ptr<srtp::Session>> sessions;
  for (const KeySpec& k : options.keys) {
    srtp::SessionConfig config;
    config.profile = k.profile;
    config.direction =
        options.mode == Mode::decrypt ? srtp::Direction::inbound : srtp::Direction::outbound;
    config.replay_window = kReplayWindow;
    config.max_streams = k.ssrc ? 1 : kMaxStreams;
    config.accept_new_ssrcs = true;
    // A capture may hold the same packet twice (seen on two interfaces); encrypt it twice.
    config.allow_repeat_tx = true;
    auto session = srtp::Session::create(*engine, config, k.key);
    if (!session) {
      return make_error(cat(k.label(), ": ", session.message()));
    }
    for (const srtp::MasterKey& more : k.more_keys) {
      if (auto r = (*session)->add_key(more); !r) {
        return make_error(cat(k.label(), " (extra MKI key): ", r.message()));
      }
    }
    sessions.push_back(std::move(*session));
  }

  // OUT keeps IN's time stamps: the same precision, so the same values (header.ts is copied).
  auto writer =
      CaptureWriter::create(options.out_path, dlt, kOutSnaplen, reader->tstamp_precision());
  if (!writer) {
    return writer.error();
  }

  Summary summary;
  summary.mode = options.mode;
  summary.keep_failed = options.keep_failed;
  summary.per_key.resize(options.keys.size());
  Processor processor(options, *link, std::move(sessions), summary);
  std::vector<Slot> slots(kBurst);
  bool done = false;
  while (!done && !writer->failed()) {
    std::size_t n = 0;
    while (n < kBurst) {
      auto f = reader->next();
      if (!f) {
        // A capture cut short (tcpdump killed mid-write) ends in a truncated record; the frames
        // before it, including those of this burst, are still processed and written.
        summary.read_error =
            cat(f.message(), " (after packet ", std::to_string(summary.frames_read),
                "; the packets before it were processed)");
        done = true;
        break;
      }
      if (!f->has_value()) {
        done = true;
        break;
      }
      ++summary.frames_read;
      processor.load(slots[n++], **f);
    }
    processor.run_burst({slots.data(), n}, *writer);
  }
  if (auto r = writer->finish(); !r) {
    return r.error();
  }
  return summary;
}

void print_summary(std::FILE* out, const Options& options, const Summary& s) {
  const auto v = verb(s.mode);
  const auto u = [](uint64_t x) { return static_cast<unsigned long long>(x); };
  std::fprintf(out, "srtpgate-pcap %s summary\n", s.mode == Mode::decrypt ? "decrypt" : "encrypt");
  std::fprintf(out, "  packets read: %llu\n", u(s.frames_read));
  std::fprintf(out, "  rtp %.*s ok: %llu\n", static_cast<int>(v.size()), v.data(), u(s.rtp_ok));
  std::fprintf(out, "  rtcp %.*s ok: %llu\n", static_cast<int>(v.size()), v.data(), u(s.rtcp_ok));
  std::fprintf(out, "  failed: %llu (%s)\n", u(s.failed_total()),
               s.keep_failed ? "written unchanged" : "dropped");
  for (std::size_t i = 0; i < srtp::kStatusCount; ++i) {
    const auto n = srtp::name(static_cast<srtp::Status>(i));
    if (s.rtp_failed[i] != 0) {
      std::fprintf(out, "    rtp %.*s: %llu\n", static_cast<int>(n.size()), n.data(),
                   u(s.rtp_failed[i]));
    }
    if (s.rtcp_failed[i] != 0) {
      std::fprintf(out, "    rtcp %.*s: %llu\n", static_cast<int>(n.size()), n.data(),
                   u(s.rtcp_failed[i]));
    }
  }
  std::fprintf(out, "  passed through: %llu\n", u(s.passed_total()));
  for (std::size_t i = 0; i < kPassReasonCount; ++i) {
    if (s.passed[i] != 0) {
      const auto n = name(static_cast<PassReason>(i));
      std::fprintf(out, "    %.*s: %llu\n", static_cast<int>(n.size()), n.data(), u(s.passed[i]));
    }
  }
  std::fprintf(out, "  packets written: %llu\n", u(s.frames_written));
  for (std::size_t i = 0; i < s.per_key.size() && i < options.keys.size(); ++i) {
    const KeyCounts& k = s.per_key[i];
    std::fprintf(out, "  key #%d: rtp ok %llu, rtcp ok %llu, failed %llu\n",
                 options.keys[i].ordinal, u(k.rtp_ok), u(k.rtcp_ok), u(k.failed));
  }
}

}  // namespace srtpgate::app
