// Flow table lookups as a worker does them: bursts of 32 keys parsed from packets, looked up in
// one bulk call of the worker's FlowTable, at 1, 10k and 1M installed flows. The keys of a burst
// are random installed flows, so at 1M flows the table misses the cache as with real traffic;
// the keys themselves are read in order, as they would sit in the packets just parsed.
// Baselines in the same run, with the same keys: DPDK's rte_hash (cuckoo, CRC32, the
// parameters the worker used before it had its own table) in bulk calls of 32, one find() per
// key, and std::unordered_map.
#include <benchmark/benchmark.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_memory.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "flow_table.h"
#include "srtpgate/dp/eal.h"
#include "srtpgate/dp/flow.h"

namespace srtpgate::dp::detail {
namespace {

constexpr unsigned kBurst = 32;
// Probe keys in flight: 2^17 keys = 5 MiB, read sequentially and wrapped around.
constexpr std::size_t kProbes = std::size_t{1} << 17;

FlowKey random_key(std::mt19937_64& rng) {
  FlowKey k;
  k.family = 4;
  const uint64_t a = rng();
  const uint64_t b = rng();
  std::memcpy(k.local_addr.data(), &a, 4);
  std::memcpy(k.remote_addr.data(), &b, 4);
  k.local_port = static_cast<uint16_t>(a >> 32);
  k.remote_port = static_cast<uint16_t>(b >> 32);
  return k;
}

struct KeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    // FNV-1a over the key's bytes: a simple, fair byte hash for the std::unordered_map baseline.
    const auto* p = reinterpret_cast<const uint8_t*>(&k);
    uint64_t h = 1469598103934665603ULL;
    for (std::size_t i = 0; i < sizeof(FlowKey); ++i) {
      h = (h ^ p[i]) * 1099511628211ULL;
    }
    return h;
  }
};

// One table per size, built once and shared by all benchmarks of that size.
struct RteHashFree {
  void operator()(rte_hash* h) const noexcept { rte_hash_free(h); }
};

struct Fixture {
  std::unique_ptr<FlowTable> table;
  std::unique_ptr<rte_hash, RteHashFree> rte;
  std::unordered_map<FlowKey, void*, KeyHash> map;
  std::vector<FlowKey> probes;  // random installed keys in lookup order
};

// Freed by main() before the EAL is cleaned up: the tables live in DPDK's memory.
std::map<uint32_t, std::unique_ptr<Fixture>> g_fixtures;

Fixture& fixture(uint32_t flows) {
  auto& slot = g_fixtures[flows];
  if (slot) {
    return *slot;
  }
  slot = std::make_unique<Fixture>();
  std::mt19937_64 rng(flows);
  std::vector<FlowKey> keys;
  keys.reserve(flows);
  auto t = FlowTable::create("bench_ft_" + std::to_string(flows), flows, SOCKET_ID_ANY);
  if (!t) {
    std::fprintf(stderr, "%s\n", t.message().c_str());
    std::abort();
  }
  slot->table = std::move(*t);
  const std::string rte_name = "bench_rh_" + std::to_string(flows);
  rte_hash_parameters params{};
  params.name = rte_name.c_str();
  params.entries = std::max<uint32_t>(8, flows + flows / 4);
  params.key_len = sizeof(FlowKey);
  params.hash_func = rte_hash_crc;
  params.socket_id = SOCKET_ID_ANY;
  slot->rte.reset(rte_hash_create(&params));
  if (!slot->rte) {
    std::fprintf(stderr, "rte_hash_create failed for %u flows\n", flows);
    std::abort();
  }
  while (keys.size() < flows) {
    const FlowKey k = random_key(rng);
    // Any distinct non-null pointer: the slot the key is about to take (reserved above).
    void* value = keys.data() + keys.size();
    if (slot->table->add(k, value)) {
      (void)rte_hash_add_key_data(slot->rte.get(), &k, value);
      slot->map.emplace(k, value);
      keys.push_back(k);
    }
  }
  slot->probes.resize(kProbes);
  std::uniform_int_distribution<std::size_t> pick(0, keys.size() - 1);
  for (auto& p : slot->probes) {
    p = keys[pick(rng)];
  }
  return *slot;
}

void bm_lookup_bulk32(benchmark::State& state) {
  Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  std::array<const FlowKey*, kBurst> ptrs{};
  std::array<void*, kBurst> values{};
  std::size_t at = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      ptrs[i] = &f.probes[at + i];
    }
    f.table->lookup_bulk(ptrs.data(), kBurst, values.data());
    benchmark::DoNotOptimize(values.data());
    benchmark::ClobberMemory();
    at = (at + kBurst) % kProbes;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

void bm_rte_hash_bulk32(benchmark::State& state) {
  Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  std::array<const void*, kBurst> ptrs{};
  std::array<void*, kBurst> values{};
  std::size_t at = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      ptrs[i] = &f.probes[at + i];
    }
    uint64_t hits = 0;
    (void)rte_hash_lookup_bulk_data(f.rte.get(), ptrs.data(), kBurst, &hits, values.data());
    benchmark::DoNotOptimize(hits);
    benchmark::DoNotOptimize(values.data());
    benchmark::ClobberMemory();
    at = (at + kBurst) % kProbes;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

void bm_find(benchmark::State& state) {
  Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  std::size_t at = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      benchmark::DoNotOptimize(f.table->find(f.probes[at + i]));
    }
    at = (at + kBurst) % kProbes;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

void bm_unordered_map_find(benchmark::State& state) {
  Fixture& f = fixture(static_cast<uint32_t>(state.range(0)));
  std::size_t at = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      auto it = f.map.find(f.probes[at + i]);
      benchmark::DoNotOptimize(it->second);
    }
    at = (at + kBurst) % kProbes;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

BENCHMARK(bm_lookup_bulk32)->Arg(1)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(bm_rte_hash_bulk32)->Arg(1)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(bm_find)->Arg(1)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(bm_unordered_map_find)->Arg(1)->Arg(10'000)->Arg(1'000'000);

}  // namespace
}  // namespace srtpgate::dp::detail

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  // One lcore, no hugepages or PCI: the table lives in DPDK's heap as in the gateway.
  // (--no-huge implies legacy memory, which DPDK 22.11 refuses together with --in-memory.)
  const std::vector<std::string> args = {"srtpgate-flow-lookup-bench",
                                         "--no-huge",
                                         "--no-pci",
                                         "--no-shconf",
                                         "-m",
                                         "1536",
                                         "-l",
                                         "0",
                                         "--log-level",
                                         "lib.eal:error"};
  auto eal = srtpgate::dp::Eal::init(args);
  if (!eal) {
    std::fprintf(stderr, "EAL: %s\n", eal.message().c_str());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  srtpgate::dp::detail::g_fixtures.clear();
  benchmark::Shutdown();
  return 0;
}
