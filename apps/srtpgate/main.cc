// srtpgate: the SRTP media gateway daemon.
//
//   srtpgate [EAL args] -- [--config FILE] [--control PATH] [--stats-interval SEC]
//                          [--workers N] [--demo [--demo-capture PCAP] [--demo-rate PPS]]
//
// The main lcore runs the control plane (control socket, DTLS-SRTP, punted packets, telemetry
// snapshot, statistics); every other lcore runs a dataplane worker. Exceptions are used only
// while starting; once the loop runs, errors are values and log lines.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_pdump.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "control_protocol.h"
#include "control_socket.h"
#include "dataplane_service.h"
#include "demo.h"
#include "log.h"
#include "srtpgate/dp/dataplane.h"
#include "srtpgate/dp/eal.h"
#include "srtpgate/hs/certificate.h"
#include "srtpgate/hs/context.h"
#include "telemetry.h"

namespace srtpgate::app {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int /*sig*/) { g_stop.store(true, std::memory_order_relaxed); }

struct Options {
  std::string config_path;
  std::string control_path;
  std::optional<unsigned> stats_interval;
  std::optional<unsigned> workers;
  bool demo = false;
  std::string demo_capture;
  uint64_t demo_rate = 200000;
};

constexpr const char* kUsage =
    "usage: srtpgate [EAL args] -- [--config FILE] [--control PATH] [--stats-interval SEC]\n"
    "                [--workers N] [--demo [--demo-capture PCAP] [--demo-rate PPS]]\n";

unsigned long parse_number(std::string_view opt, const char* text, unsigned long max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v > max) {
    throw std::runtime_error(std::string(opt) + ": '" + text + "' is not a number up to " +
                             std::to_string(max));
  }
  return v;
}

Options parse_options(const std::vector<char*>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= args.size()) {
        throw std::runtime_error(std::string(a) + " needs a value\n" + kUsage);
      }
      return args[++i];
    };
    if (a == "--config") {
      o.config_path = value();
    } else if (a == "--control") {
      o.control_path = value();
    } else if (a == "--stats-interval") {
      o.stats_interval = static_cast<unsigned>(parse_number(a, value(), 86400));
    } else if (a == "--workers") {
      o.workers = static_cast<unsigned>(parse_number(a, value(), 64));
    } else if (a == "--demo") {
      o.demo = true;
    } else if (a == "--demo-capture") {
      o.demo_capture = value();
    } else if (a == "--demo-rate") {
      o.demo_rate = parse_number(a, value(), 100000000);
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      throw std::runtime_error("unknown option " + std::string(a) + "\n" + kUsage);
    }
  }
  if (o.demo && !o.config_path.empty()) {
    throw std::runtime_error("give --config or --demo, not both\n" + std::string(kUsage));
  }
  if (!o.demo && o.config_path.empty()) {
    throw std::runtime_error("give --config FILE (or --demo)\n" + std::string(kUsage));
  }
  return o;
}

template <typename T>
T must(Result<T> r, std::string_view what) {
  if (!r) {
    throw std::runtime_error(std::string(what) + ": " + r.message());
  }
  return std::move(r.value());
}

void must(Result<void> r, std::string_view what) {
  if (!r) {
    throw std::runtime_error(std::string(what) + ": " + r.message());
  }
}

// Who does a port's checksums: on a port without offload the workers sum every packet, a
// cost an operator sizing a server should know of (docs/performance.md).
const char* checksum_work(const dp::PortDescription& p) {
  if (p.rx_udp_checksum && p.tx_udp_checksum) {
    return "UDP checksums offloaded to the NIC";
  }
  if (p.rx_udp_checksum || p.tx_udp_checksum) {
    return p.tx_udp_checksum ? "UDP checksums: sent ones offloaded, received ones in software"
                             : "UDP checksums: received ones offloaded, sent ones in software";
  }
  return "UDP checksums in software (no offload)";
}

// Drops by reason, only those that happened: "replay 12, auth_failure 3" or "none".
std::string drops_text(const std::array<uint64_t, dp::kDropCount>& drops) {
  std::string s;
  for (std::size_t i = 0; i < dp::kDropCount; ++i) {
    if (drops[i] == 0) {
      continue;
    }
    if (!s.empty()) {
      s += ", ";
    }
    s += std::string(dp::name(static_cast<dp::Drop>(i))) + " " + std::to_string(drops[i]);
  }
  return s.empty() ? "none" : s;
}

class StatsPrinter {
 public:
  void prime(const ServiceStats& st, Clock::time_point now) {
    last_ = st;
    last_time_ = now;
  }
  void print(const ServiceStats& st, Clock::time_point now, const demo::Generator* gen) {
    const double secs =
        last_.workers.empty() ? 0.0 : std::chrono::duration<double>(now - last_time_).count();
    std::string line;
    dp::WorkerStats total;
    for (std::size_t w = 0; w < st.workers.size(); ++w) {
      const dp::WorkerStats& cur = st.workers[w];
      total += cur;
      uint64_t rx = 0;
      uint64_t tx = 0;
      if (secs > 0 && w < last_.workers.size()) {
        rx = static_cast<uint64_t>((cur.rx_packets - last_.workers[w].rx_packets) / secs);
        tx = static_cast<uint64_t>((cur.tx_packets - last_.workers[w].tx_packets) / secs);
      }
      line += "worker " + std::to_string(w) + ": rx " + std::to_string(rx) + " pps, tx " +
              std::to_string(tx) + " pps; ";
    }
    line += "sessions " + std::to_string(st.sessions) + "; drops: " + drops_text(total.drops);
    if (gen != nullptr) {
      line += "; generator sent " + std::to_string(gen->sent());
    }
    SG_LOG(INFO, "%s\n", line.c_str());
    last_ = st;
    last_time_ = now;
  }

 private:
  ServiceStats last_;
  Clock::time_point last_time_{};
};

int run(int argc, char** argv) {
  // EAL arguments before "--", ours after: split here so EAL's getopt never sees ours.
  std::vector<std::string> eal_args{argv[0]};
  std::vector<char*> app_args;
  int i = 1;
  for (; i < argc && std::string_view(argv[i]) != "--"; ++i) {
    eal_args.emplace_back(argv[i]);
  }
  for (++i; i < argc; ++i) {
    app_args.push_back(argv[i]);
  }
  Options opt = parse_options(app_args);

  auto eal = must(dp::Eal::init(eal_args), "EAL");
  (void)log_type();
  if (rte_pdump_init() != 0) {
    SG_LOG(WARNING, "rte_pdump_init failed: dpdk-dumpcap will not see our ports\n");
  }

  const unsigned worker_lcores = rte_lcore_count() - 1;
  const unsigned workers = opt.workers.value_or(worker_lcores);
  if (workers == 0 || workers > worker_lcores) {
    throw std::runtime_error("the EAL has " + std::to_string(worker_lcores) +
                             " worker lcores and " + std::to_string(workers) +
                             " workers are needed: give the EAL more lcores (e.g. -l 0-1)");
  }

  AppConfig config;
  if (opt.demo) {
    demo::Options d;
    d.capture = opt.demo_capture;
    d.packets_per_second = opt.demo_rate;
    d.workers = workers;
    config = must(demo::prepare(d), "demo");
    config.control_socket = "/tmp/srtpgate-demo/control.sock";
  } else {
    config = must(load_config(opt.config_path), opt.config_path);
  }
  if (!opt.control_path.empty()) {
    config.control_socket = opt.control_path;
  }
  if (opt.stats_interval) {
    config.stats_interval_seconds = *opt.stats_interval;
  }

  hs::Certificate cert =
      config.certificate_pem.empty()
          ? must(hs::Certificate::generate("srtpgate"), "certificate")
          : must(hs::Certificate::from_pem(config.certificate_pem, config.private_key_pem.view()),
                 "certificate");
  config.private_key_pem = {};  // wiped: the key is OpenSSL's from here on
  auto context = must(hs::Context::create(std::move(cert)), "DTLS context");

  dp::DataplaneConfig dpc;
  for (const PortSpec& p : config.ports) {
    dp::PortConfig pc;
    pc.name = p.name;
    pc.rss = p.rss;
    dpc.ports.push_back(pc);
  }
  dpc.workers = workers;
  dpc.launch_workers = true;
  dpc.mbufs = config.mbufs;
  dpc.flows_per_worker = config.flows_per_worker;
  dpc.stage_clock = config.stage_clock;
  auto dataplane = must(dp::Dataplane::create(dpc), "dataplane");
  for (const dp::PortDescription& p : dataplane->describe_ports()) {
    SG_LOG(INFO, "port %s (%s): %u rx / %u tx queues, RSS %s, MTU %u, %s\n", p.name.c_str(),
           p.driver.c_str(), unsigned{p.rx_queues}, unsigned{p.tx_queues}, p.rss ? "on" : "off",
           unsigned{p.mtu}, checksum_work(p));
  }

  ServiceConfig sc;
  sc.ports = config.ports;
  sc.port_range_first = config.port_range_first;
  sc.port_range_last = config.port_range_last;
  auto service = must(DataplaneService::create(*dataplane, *context, sc), "service");
  for (std::size_t s = 0; s < config.sessions.size(); ++s) {
    auto info = must(service->create(config.sessions[s]), "sessions[" + std::to_string(s) + "]");
    SG_LOG(INFO, "session %llu from the configuration: %s\n",
           static_cast<unsigned long long>(info.id), info.label.c_str());
  }
  config.sessions.clear();  // their SDES keys are wiped; the dataplane has its own copies

  auto control = must(ControlSocket::open(config.control_socket,
                                          [&](std::string_view line) -> std::string {
                                            try {
                                              return handle_request(*service, line);
                                            } catch (...) {
                                              return R"({"ok":false,"error":"internal error"})";
                                            }
                                          }),
                      "control socket");
  must(telemetry::register_commands(), "telemetry");

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::unique_ptr<demo::Generator> generator;
  if (opt.demo && opt.demo_capture.empty()) {
    generator = must(demo::Generator::create(*dataplane, opt.demo_rate), "demo generator");
  }
  SG_LOG(INFO, "srtpgate running: %u worker(s), %zu port(s), control socket %s\n", workers,
         config.ports.size(), config.control_socket.c_str());
  if (opt.demo) {
    SG_LOG(INFO,
           "demo: %s, decrypted by worker 0 (AES_CM_128_HMAC_SHA1_80, the sample key) and sent "
           "as plain RTP to net_null0. Statistics every %u s; stop with Ctrl-C.\n",
           opt.demo_capture.empty()
               ? ("fresh SRTP generated on the main lcore at up to " +
                  std::to_string(opt.demo_rate) + " packets/s into an in-process ring port")
                     .c_str()
               : ("replaying " + opt.demo_capture +
                  " through net_pcap0 (after the first pass "
                  "every packet is a replay and is dropped as such)")
                     .c_str(),
           config.stats_interval_seconds);
  }

  // --- The event loop: no exceptions from here on. ---
  StatsPrinter printer;
  const auto interval = std::chrono::seconds(config.stats_interval_seconds);
  printer.prime(service->stats(), Clock::now());  // rates are over one interval, not since 0
  auto next_stats = Clock::now() + interval;
  auto next_snapshot = Clock::now();
  while (!g_stop.load(std::memory_order_relaxed)) {
    control->service(generator ? 0 : 1);
    auto now = Clock::now();
    if (generator) {
      generator->run(now);
    }
    service->poll(now);
    if (now >= next_snapshot) {
      telemetry::publish(service->stats(), service->list());
      next_snapshot = now + std::chrono::milliseconds(100);
    }
    if (config.stats_interval_seconds > 0 && now >= next_stats) {
      printer.print(service->stats(), now, generator.get());
      next_stats = now + interval;
    }
    if (generator) {
      rte_delay_us_sleep(200);  // the generator's ring holds 4096: 200 us is ~40 packets
    }
  }

  SG_LOG(INFO, "signal received: stopping\n");
  control->stop_accepting();
  service->close_all(Clock::now());
  dataplane->stop();
  service->poll(Clock::now());
  const ServiceStats st = service->stats();
  telemetry::publish(st, service->list());
  dp::WorkerStats total;
  for (const auto& w : st.workers) {
    total += w;
  }
  SG_LOG(INFO,
         "final counters: rx %llu packets, tx %llu packets, punted %llu, dropped %llu (%s), "
         "sessions %llu\n",
         static_cast<unsigned long long>(total.rx_packets),
         static_cast<unsigned long long>(total.tx_packets),
         static_cast<unsigned long long>(total.punted),
         static_cast<unsigned long long>(total.dropped()), drops_text(total.drops).c_str(),
         static_cast<unsigned long long>(st.sessions));

  generator.reset();
  control.reset();
  service.reset();
  dataplane.reset();
  demo::release();
  context.reset();
  rte_pdump_uninit();
  eal.reset();
  return 0;
}

}  // namespace
}  // namespace srtpgate::app

int main(int argc, char** argv) {
  try {
    return srtpgate::app::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "srtpgate: %s\n", e.what());
    return 1;
  }
}
