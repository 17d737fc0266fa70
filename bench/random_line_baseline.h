// The memory baseline of the million-session case (srtpgate-dp-bench): what one cache line of
// session state costs on this machine when no cache holds it.
#pragma once

#include <benchmark/benchmark.h>

namespace srtpgate::bench {

// Reads single bytes from random cache lines of a region as large as a million sessions' state
// (3 GiB, on transparent huge pages as the sessions' heap is), in bursts of 32 independent
// reads all started before the first is used: the most the worker's staged prefetching could
// overlap. Items are lines: 1e9 / items_per_second is the cost of one line.
void bm_random_line(benchmark::State& state);

}  // namespace srtpgate::bench
