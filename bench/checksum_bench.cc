// The one's-complement sum (RFC 1071) the worker runs over every payload on ports without
// checksum offload: our AVX-512BW and portable (SSE2) bodies beside DPDK 22.11's rte_raw_cksum,
// the baseline, over the same bytes in the same run. Lengths: an IPv4 header, a G.711 RTP
// packet, a video packet, a full Ethernet payload. The buffer stays in L1, as a packet just
// decrypted does; the offset is odd-aligned to 2 bytes, as a payload behind a 42-byte header is.
#include <benchmark/benchmark.h>
#include <rte_ip.h>

#include <cstdint>
#include <vector>

#include "ones_sum.h"

namespace srtpgate::dp::detail {
namespace {

template <uint16_t (*Sum)(const uint8_t*, std::size_t)>
void bm_sum(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<uint8_t> buf(n + 64);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 131 + 7);
  const uint8_t* p = buf.data() + 42;
  for (auto _ : state) {
    benchmark::DoNotOptimize(p);
    benchmark::DoNotOptimize(Sum(p, n));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));  // sums
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

uint16_t dpdk_raw(const uint8_t* p, std::size_t n) { return rte_raw_cksum(p, n); }

#define SUM_LENGTHS Arg(20)->Arg(40)->Arg(64)->Arg(172)->Arg(1212)->Arg(1472)
BENCHMARK(bm_sum<dpdk_raw>)->Name("rte_raw_cksum")->SUM_LENGTHS;
BENCHMARK(bm_sum<ones_sum_portable>)->Name("ones_sum_portable")->SUM_LENGTHS;
#if defined(SRTPGATE_ONES_SUM_AVX512)
uint16_t avx512_if_present(const uint8_t* p, std::size_t n) {
  return kOnesSumAvx512 ? ones_sum_avx512(p, n) : 0;
}
// Without AVX-512BW the case reports an error, which the report shows as "-", not a time.
void bm_avx512(benchmark::State& state) {
  if (!kOnesSumAvx512) {
    state.SkipWithError("this CPU has no AVX-512BW");
    return;
  }
  bm_sum<avx512_if_present>(state);
}
BENCHMARK(bm_avx512)->Name("ones_sum_avx512")->SUM_LENGTHS;
#endif
BENCHMARK(bm_sum<ones_sum>)->Name("ones_sum_dispatched")->SUM_LENGTHS;

}  // namespace
}  // namespace srtpgate::dp::detail

BENCHMARK_MAIN();
