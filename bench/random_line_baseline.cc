#include "random_line_baseline.h"

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

#include "prefetch.h"

namespace srtpgate::bench {

namespace {

constexpr std::size_t kRegionBytes = std::size_t{3} << 30;
constexpr std::size_t kLineBytes = 64;
constexpr uint64_t kRegionLines = kRegionBytes / kLineBytes;
constexpr unsigned kBurstLines = 32;

// xorshift64* (Vigna): a few instructions per line, so every read goes somewhere new. A table
// of line numbers made in advance would be read again and again, and with a large last-level
// cache its lines would stay cached.
uint64_t next_random(uint64_t& x) noexcept {
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  return x * 0x2545f4914f6cdd1dULL;
}

std::size_t random_line_offset(uint64_t& x) noexcept {
  return static_cast<std::size_t>(((next_random(x) >> 32) * kRegionLines) >> 32) * kLineBytes;
}

}  // namespace

void bm_random_line(benchmark::State& state) {
  void* mapped = mmap(nullptr, kRegionBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) {
    state.SkipWithError("cannot map 3 GiB for the memory baseline");
    return;
  }
  madvise(mapped, kRegionBytes, MADV_HUGEPAGE);
  auto* region = static_cast<volatile uint8_t*>(mapped);
  for (std::size_t off = 0; off < kRegionBytes; off += 4096) {
    region[off] = 1;  // every page present, as the sessions' pages are
  }
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  uint64_t sum = 0;
  uint64_t read = 0;
  std::size_t offsets[kBurstLines];
  for (auto _ : state) {
    for (std::size_t& off : offsets) {
      off = random_line_offset(x);
      srtpgate::detail::prefetch_line(const_cast<const uint8_t*>(region) + off);
    }
    for (std::size_t off : offsets) {
      sum += region[off];
    }
    read += kBurstLines;
  }
  benchmark::DoNotOptimize(sum);
  munmap(mapped, kRegionBytes);
  state.SetItemsProcessed(static_cast<int64_t>(read));
}

}  // namespace srtpgate::bench
