// srtpgate-handshake-bench: full DTLS-SRTP handshakes per second on one core, both ends in this
// process (the srtpgate client against the srtpgate server through their sans-IO API), beside
// the ceiling measured in the same binary: the public-key operations one handshake cannot avoid.
//   handshake_full/PROFILE          one handshake per item; server_share is the server endpoint's
//                                   part of the thread CPU time, server_us its CPU per handshake
//   ceiling_ecdhe_p256              one P-256 ECDHE exchange per item: a fresh keygen and an
//                                   EVP_PKEY_derive on each side
//   ceiling_ecdsa_p256_sign_verify  one ECDSA P-256 (SHA-256) sign plus one verify per item
//   ceiling_handshake_crypto        what one handshake needs: one exchange + two sign/verify
//                                   (ServerKeyExchange and CertificateVerify)
//   handshake_connect_only          a client endpoint and its first ClientHello (no crypto)
//   handshake_cookie_reply          the server's stateless HelloVerifyRequest to a ClientHello
//   openssl_d2i_x509_p256           parsing a P-256 certificate, which each side does once
//   pending_handshake_memory        heap bytes per pending endpoint (mallinfo2), server and client
// The summary at the end prints handshake_full / ceiling_handshake_crypto (medians of three runs in
// random order unless --benchmark_repetitions is given), the target being 70%.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "srtpgate/hs/certificate.h"
#include "srtpgate/hs/context.h"
#include "srtpgate/hs/endpoint.h"
#include "srtpgate/profile.h"

namespace srtpgate::bench {
namespace {

using hs::Clock;
using hs::Context;
using hs::Endpoint;
using hs::EndpointConfig;
using hs::EventKind;
using hs::Role;
using srtp::Profile;
using Nanos = std::chrono::nanoseconds;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// --- the two ends ------------------------------------------------------------------------------

struct Ends {
  std::unique_ptr<Context> client;
  std::unique_ptr<Context> server;
  hs::Fingerprint client_fp;
  hs::Fingerprint server_fp;
};

std::unique_ptr<Context> make_context(std::string_view cn, hs::Fingerprint& fp,
                                      std::string& error) {
  auto cert = hs::Certificate::generate(cn);
  if (!cert) {
    error = "Certificate::generate: " + cert.message();
    return nullptr;
  }
  auto f = cert->fingerprint("sha-256");
  if (!f) {
    error = "fingerprint: " + f.message();
    return nullptr;
  }
  fp = f.value();
  hs::ContextConfig config;
  // Every handshake here comes from "one source" in a tight loop: lift the flood limits.
  config.max_handshakes_per_source_per_second = UINT32_MAX;
  config.max_pending_handshakes = UINT32_MAX;
  auto ctx = Context::create(std::move(cert.value()), config);
  if (!ctx) {
    error = "Context::create: " + ctx.message();
    return nullptr;
  }
  return std::move(ctx.value());
}

std::optional<Ends> make_ends(std::string& error) {
  Ends ends;
  ends.client = make_context("bench-client", ends.client_fp, error);
  if (!ends.client) {
    return std::nullopt;
  }
  ends.server = make_context("bench-server", ends.server_fp, error);
  if (!ends.server) {
    return std::nullopt;
  }
  return ends;
}

EndpointConfig endpoint_config(Role role, const hs::Fingerprint& peer, Profile profile) {
  EndpointConfig c;
  c.role = role;
  c.peer_fingerprint = peer;
  c.profiles = {profile};
  return c;
}

// This thread's CPU time: unlike the wall clock it does not count time the core spent on other
// processes, which matters on a shared machine.
Nanos thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return Nanos(int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec);
}

// Runs `f` and adds the CPU time it took to `acc`: how the server's share is measured.
template <typename F>
auto timed(Nanos& acc, F&& f) {
  const Nanos t0 = thread_cpu_now();
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    acc += thread_cpu_now() - t0;
  } else {
    auto r = f();
    acc += thread_cpu_now() - t0;
    return r;
  }
}

std::array<uint8_t, 8> source_bytes(uint64_t n) {
  std::array<uint8_t, 8> s{};
  for (int i = 0; i < 8; ++i) {
    s[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  }
  return s;
}

// One complete handshake. Datagrams move straight from one end to the other (no loss, so no
// timer ever fires). Returns false with `error` set when it does not complete.
bool full_handshake(Ends& ends, Profile profile, uint64_t n, Nanos& server_time,
                    std::string& error) {
  const auto now = Clock::now();
  const auto source = source_bytes(n);
  const EndpointConfig client_cfg = endpoint_config(Role::client, ends.server_fp, profile);
  const EndpointConfig server_cfg = endpoint_config(Role::server, ends.client_fp, profile);
  auto c = ends.client->connect(client_cfg, now);
  if (!c) {
    error = "connect: " + c.message();
    return false;
  }
  std::unique_ptr<Endpoint> client = std::move(c.value());
  std::unique_ptr<Endpoint> server;
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 32 && !(client_done && server_done); ++round) {
    bool moved = false;
    while (auto d = client->poll_datagram()) {
      moved = true;
      if (!server) {
        hs::Accepted a =
            timed(server_time, [&] { return ends.server->accept(*d, source, server_cfg, now); });
        if (a.reply) {
          client->handle_datagram(*a.reply, now);
        }
        if (a.endpoint) {
          server = std::move(a.endpoint);
        }
      } else {
        timed(server_time, [&] { server->handle_datagram(*d, now); });
      }
    }
    if (server) {
      while (auto d = timed(server_time, [&] { return server->poll_datagram(); })) {
        moved = true;
        client->handle_datagram(*d, now);
      }
    }
    while (auto e = client->poll_event()) {
      if (e->kind != EventKind::connected) {
        error = "client: " + e->reason;
        return false;
      }
      client_done = true;
    }
    if (server) {
      while (auto e = timed(server_time, [&] { return server->poll_event(); })) {
        if (e->kind != EventKind::connected) {
          error = "server: " + e->reason;
          return false;
        }
        server_done = true;
      }
    }
    if (!moved && !(client_done && server_done)) {
      error = "handshake stalled in round " + std::to_string(round);
      return false;
    }
  }
  if (!(client_done && server_done)) {
    error = "handshake did not complete";
    return false;
  }
  timed(server_time, [&] { server.reset(); });
  return true;
}

void handshake_full(benchmark::State& state, Profile profile) {
  std::string error;
  auto ends = make_ends(error);
  if (!ends) {
    state.SkipWithError(error.c_str());
    return;
  }
  Nanos server_time{0};
  uint64_t n = 0;
  const Nanos t0 = thread_cpu_now();
  for (auto _ : state) {
    if (!full_handshake(*ends, profile, n++, server_time, error)) {
      state.SkipWithError(error.c_str());
      return;
    }
  }
  const Nanos total = thread_cpu_now() - t0;
  state.SetItemsProcessed(state.iterations());
  const auto it = static_cast<double>(state.iterations());
  state.counters["server_us"] = static_cast<double>(server_time.count()) / 1e3 / (it > 0 ? it : 1);
  state.counters["server_share"] =
      static_cast<double>(server_time.count()) / static_cast<double>(total.count());
}

// Where the time goes outside the public-key operations: creating a client endpoint (SSL_new,
// its first ClientHello) and the server's stateless cookie answer to a ClientHello.
void handshake_connect_only(benchmark::State& state) {
  std::string error;
  auto ends = make_ends(error);
  if (!ends) {
    state.SkipWithError(error.c_str());
    return;
  }
  const EndpointConfig cfg =
      endpoint_config(Role::client, ends->server_fp, Profile::aead_aes_128_gcm);
  for (auto _ : state) {
    auto c = ends->client->connect(cfg, Clock::now());
    if (!c || !c.value()->poll_datagram()) {
      state.SkipWithError("connect produced no ClientHello");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void handshake_cookie_reply(benchmark::State& state) {
  std::string error;
  auto ends = make_ends(error);
  if (!ends) {
    state.SkipWithError(error.c_str());
    return;
  }
  const auto now = Clock::now();
  const EndpointConfig client_cfg =
      endpoint_config(Role::client, ends->server_fp, Profile::aead_aes_128_gcm);
  const EndpointConfig server_cfg =
      endpoint_config(Role::server, ends->client_fp, Profile::aead_aes_128_gcm);
  auto c = ends->client->connect(client_cfg, now);
  auto hello = c ? c.value()->poll_datagram() : std::nullopt;
  if (!hello) {
    state.SkipWithError("no ClientHello");
    return;
  }
  uint64_t n = 0;
  for (auto _ : state) {
    hs::Accepted a = ends->server->accept(*hello, source_bytes(n++), server_cfg, now);
    if (!a.reply) {
      state.SkipWithError(("no HelloVerifyRequest: " + a.dropped).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// --- the ceiling -------------------------------------------------------------------------------

PkeyPtr p256_keygen() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    return nullptr;
  }
  return PkeyPtr(key);
}

bool derive(EVP_PKEY* ours, EVP_PKEY* theirs, std::array<uint8_t, 32>& secret) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ours, nullptr));
  size_t len = secret.size();
  return ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
         EVP_PKEY_derive_set_peer(ctx.get(), theirs) == 1 &&
         EVP_PKEY_derive(ctx.get(), secret.data(), &len) == 1 && len == secret.size();
}

// One exchange: both sides generate a fresh key and derive the shared secret.
bool ecdhe_exchange() {
  PkeyPtr a = p256_keygen();
  PkeyPtr b = p256_keygen();
  std::array<uint8_t, 32> sa{};
  std::array<uint8_t, 32> sb{};
  if (!a || !b || !derive(a.get(), b.get(), sa) || !derive(b.get(), a.get(), sb)) {
    return false;
  }
  benchmark::DoNotOptimize(sa);
  return sa == sb;
}

// One ECDSA P-256 signature over a ServerKeyExchange-sized message and its verification.
bool sign_verify(EVP_PKEY* key, const std::array<uint8_t, 130>& message) {
  std::array<uint8_t, 80> sig{};
  size_t sig_len = sig.size();
  MdCtxPtr s(EVP_MD_CTX_new());
  if (!s ||
      EVP_DigestSignInit_ex(s.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) != 1 ||
      EVP_DigestSign(s.get(), sig.data(), &sig_len, message.data(), message.size()) != 1) {
    return false;
  }
  MdCtxPtr v(EVP_MD_CTX_new());
  return v &&
         EVP_DigestVerifyInit_ex(v.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) == 1 &&
         EVP_DigestVerify(v.get(), sig.data(), sig_len, message.data(), message.size()) == 1;
}

void ceiling_ecdhe_p256(benchmark::State& state) {
  for (auto _ : state) {
    if (!ecdhe_exchange()) {
      state.SkipWithError("P-256 ECDHE failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void ceiling_ecdsa_p256_sign_verify(benchmark::State& state) {
  PkeyPtr key = p256_keygen();
  std::array<uint8_t, 130> message{};
  message.fill(0x5a);
  for (auto _ : state) {
    if (!key || !sign_verify(key.get(), message)) {
      state.SkipWithError("ECDSA P-256 failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// Not a ceiling but an explanation: each side parses the peer's certificate (d2i_X509), and in
// OpenSSL 3.0 decoding its public key goes through the provider decoders.
void openssl_d2i_x509_p256(benchmark::State& state) {
  auto cert = hs::Certificate::generate("bench-parse");
  unsigned char* der = nullptr;
  const int len = cert ? i2d_X509(cert->x509(), &der) : -1;
  if (len <= 0) {
    state.SkipWithError("i2d_X509 failed");
    return;
  }
  for (auto _ : state) {
    const unsigned char* p = der;
    X509* x = d2i_X509(nullptr, &p, len);
    EVP_PKEY* key = x != nullptr ? X509_get0_pubkey(x) : nullptr;
    if (key == nullptr) {
      X509_free(x);
      state.SkipWithError("d2i_X509 failed");
      break;
    }
    X509_free(x);
  }
  OPENSSL_free(der);
  state.SetItemsProcessed(state.iterations());
}

// A DTLS 1.2 ECDHE_ECDSA handshake with mutual authentication does one ECDHE exchange (a keygen
// and a derive on each side), signs twice (ServerKeyExchange, CertificateVerify) and verifies
// twice. Self-signed leaves are pinned by fingerprint, so no certificate signature is checked.
void ceiling_handshake_crypto(benchmark::State& state) {
  PkeyPtr server_key = p256_keygen();
  PkeyPtr client_key = p256_keygen();
  std::array<uint8_t, 130> message{};
  message.fill(0xa5);
  for (auto _ : state) {
    if (!server_key || !client_key || !ecdhe_exchange() ||
        !sign_verify(server_key.get(), message) || !sign_verify(client_key.get(), message)) {
      state.SkipWithError("handshake crypto failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// --- memory per pending handshake -------------------------------------------------------------

size_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

constexpr size_t kPending = 1000;

void pending_handshake_memory(benchmark::State& state) {
  std::string error;
  auto ends = make_ends(error);
  if (!ends) {
    state.SkipWithError(error.c_str());
    return;
  }
  const Profile profile = Profile::aead_aes_128_gcm;
  const EndpointConfig client_cfg = endpoint_config(Role::client, ends->server_fp, profile);
  const EndpointConfig server_cfg = endpoint_config(Role::server, ends->client_fp, profile);
  double server_bytes = 0;
  double client_bytes = 0;
  for (auto _ : state) {
    const auto now = Clock::now();
    std::vector<std::unique_ptr<Endpoint>> clients;
    std::vector<std::unique_ptr<Endpoint>> servers;
    std::vector<std::vector<uint8_t>> hellos;
    clients.reserve(kPending);
    servers.reserve(kPending);
    hellos.reserve(kPending);

    // Client endpoints that have queued their first ClientHello.
    const size_t c0 = heap_in_use();
    for (size_t i = 0; i < kPending; ++i) {
      auto c = ends->client->connect(client_cfg, now);
      if (!c) {
        state.SkipWithError(("connect: " + c.message()).c_str());
        return;
      }
      clients.push_back(std::move(c.value()));
    }
    const size_t c1 = heap_in_use();

    // The cookie round trip happens outside the measurement; it keeps no server state.
    for (size_t i = 0; i < kPending; ++i) {
      auto ch1 = clients[i]->poll_datagram();
      hs::Accepted a =
          ch1 ? ends->server->accept(*ch1, source_bytes(i), server_cfg, now) : hs::Accepted{};
      if (!a.reply) {
        state.SkipWithError(("no HelloVerifyRequest: " + a.dropped).c_str());
        return;
      }
      clients[i]->handle_datagram(*a.reply, now);
      auto ch2 = clients[i]->poll_datagram();
      if (!ch2) {
        state.SkipWithError("no second ClientHello");
        return;
      }
      hellos.push_back(std::move(*ch2));
    }

    // Server endpoints that accepted a ClientHello with a valid cookie and sent their flight;
    // they now wait for the client's second flight.
    const size_t s0 = heap_in_use();
    for (size_t i = 0; i < kPending; ++i) {
      hs::Accepted a = ends->server->accept(hellos[i], source_bytes(i), server_cfg, now);
      if (!a.endpoint) {
        state.SkipWithError(("no endpoint: " + a.dropped).c_str());
        return;
      }
      while (auto d = a.endpoint->poll_datagram()) {
        benchmark::DoNotOptimize(d->data());
      }
      servers.push_back(std::move(a.endpoint));
    }
    const size_t s1 = heap_in_use();
    server_bytes = static_cast<double>(s1 - s0) / kPending;
    client_bytes = static_cast<double>(c1 - c0) / kPending;
  }
  state.counters["server_bytes_per_pending"] = server_bytes;
  state.counters["client_bytes_per_pending"] = client_bytes;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kPending));
}

// --- registration and the summary -------------------------------------------------------------

constexpr Profile kProfiles[] = {Profile::aes_cm_128_hmac_sha1_80, Profile::aes_cm_128_hmac_sha1_32,
                                 Profile::aead_aes_128_gcm, Profile::aead_aes_256_gcm};

// Keeps each run's counters so main() can print the ratio measured in this run.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    // With repetitions the median wins over single runs; without, the last run is kept.
    for (const Run& r : runs) {
      if (r.error_occurred) {
        continue;
      }
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !median) {
        continue;
      }
      const std::string name = r.run_name.str();
      if (!median && has_median_.count(name) != 0) {
        continue;
      }
      if (median) {
        has_median_.insert(name);
      }
      auto& m = results_[name];
      for (const auto& [counter_name, counter] : r.counters) {
        m[counter_name] = counter.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  const std::map<std::string, std::map<std::string, double>>& results() const { return results_; }

 private:
  std::map<std::string, std::map<std::string, double>> results_;
  std::set<std::string> has_median_;
};

double find(const std::map<std::string, std::map<std::string, double>>& results,
            const std::string& prefix, const std::string& counter) {
  for (const auto& [name, counters] : results) {
    if (name.rfind(prefix, 0) == 0) {
      auto it = counters.find(counter);
      if (it != counters.end()) {
        return it->second;
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace srtpgate::bench

int main(int argc, char** argv) {
  using namespace srtpgate::bench;
  for (Profile p : kProfiles) {
    benchmark::RegisterBenchmark(("handshake_full/" + std::string(srtpgate::srtp::name(p))).c_str(),
                                 handshake_full, p)
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(1.0);
  }
  benchmark::RegisterBenchmark("handshake_connect_only", handshake_connect_only)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("handshake_cookie_reply", handshake_cookie_reply)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("ceiling_ecdhe_p256", ceiling_ecdhe_p256)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("ceiling_ecdsa_p256_sign_verify", ceiling_ecdsa_p256_sign_verify)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("ceiling_handshake_crypto", ceiling_handshake_crypto)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("openssl_d2i_x509_p256", openssl_d2i_x509_p256)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("pending_handshake_memory", pending_handshake_memory)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1);

  // The ceiling and the handshakes are compared within one run; on a shared machine the load
  // drifts, so by default each case runs three times in random order and the medians are
  // compared. Any --benchmark_repetitions given on the command line wins.
  std::vector<char*> args(argv, argv + argc);
  bool has_repetitions = false;
  for (int i = 1; i < argc; ++i) {
    has_repetitions =
        has_repetitions || std::string_view(argv[i]).starts_with("--benchmark_repetitions");
  }
  static char repetitions_arg[] = "--benchmark_repetitions=3";
  static char interleave_arg[] = "--benchmark_enable_random_interleaving=true";
  if (!has_repetitions) {
    args.push_back(repetitions_arg);
    args.push_back(interleave_arg);
  }
  int args_count = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&args_count, args.data());
  argc = args_count;
  argv = args.data();
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const auto& r = reporter.results();
  const double ceiling = find(r, "ceiling_handshake_crypto", "items_per_second");
  std::printf(
      "\nsummary (handshakes/s on one core, both ends in process; target >= 70%% of the "
      "ceiling)\n");
  std::printf(
      "  ceiling_handshake_crypto          %10.0f /s  (1 P-256 ECDHE exchange + 2 ECDSA "
      "sign/verify)\n",
      ceiling);
  std::printf("  ceiling_ecdhe_p256                %10.0f /s\n",
              find(r, "ceiling_ecdhe_p256", "items_per_second"));
  std::printf("  ceiling_ecdsa_p256_sign_verify    %10.0f /s\n",
              find(r, "ceiling_ecdsa_p256_sign_verify", "items_per_second"));
  for (Profile p : kProfiles) {
    const std::string name = "handshake_full/" + std::string(srtpgate::srtp::name(p));
    const double hps = find(r, name, "items_per_second");
    if (hps == 0) {
      std::printf("  %-33s        n/a (failed or filtered out)\n", name.c_str());
      continue;
    }
    std::printf("  %-33s %10.0f /s  ratio to ceiling %5.1f%%  server share %4.1f%% (%.0f us)\n",
                name.c_str(), hps, ceiling > 0 ? 100.0 * hps / ceiling : 0.0,
                100.0 * find(r, name, "server_share"), find(r, name, "server_us"));
  }
  std::printf(
      "  handshake_connect_only            %10.0f /s  (client endpoint + first ClientHello)\n",
      find(r, "handshake_connect_only", "items_per_second"));
  std::printf("  handshake_cookie_reply            %10.0f /s  (stateless HelloVerifyRequest)\n",
              find(r, "handshake_cookie_reply", "items_per_second"));
  std::printf(
      "  openssl_d2i_x509_p256             %10.0f /s  (peer certificate parse, twice per "
      "handshake)\n",
      find(r, "openssl_d2i_x509_p256", "items_per_second"));
  const double sb = find(r, "pending_handshake_memory", "server_bytes_per_pending");
  const double cb = find(r, "pending_handshake_memory", "client_bytes_per_pending");
  if (sb > 0 || cb > 0) {
    std::printf(
        "  memory per pending handshake      server %.0f B, client %.0f B (mallinfo2, %zu "
        "endpoints)\n",
        sb, cb, kPending);
  }
  return 0;
}
