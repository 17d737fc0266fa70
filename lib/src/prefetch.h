// Starting a cache line's load ahead of its use. Internal to lib/.
#pragma once

namespace srtpgate::detail {

// GCC treats __builtin_prefetch as free of side effects, so a function made only of loads and
// prefetches is found "const" and a call to it is dropped as dead code: that silently undid the
// staged prefetching of bursts across sessions. An asm volatile prefetch is always kept
// (DPDK's rte_prefetch0 is written the same way).
inline void prefetch_line(const void* p) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %[p]" : : [p] "m"(*static_cast<const volatile char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

}  // namespace srtpgate::detail
