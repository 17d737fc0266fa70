// ThreadSanitizer sees no synchronisation inside code it did not instrument: DPDK's shared
// libraries (ring PMD, mempool). Where an mbuf crosses threads through them, these tell TSan
// what the ring already guarantees: everything written before the hand-over is visible after.
// Compiled to nothing unless the build uses -fsanitize=thread. Internal to dataplane/.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define SRTPGATE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SRTPGATE_TSAN 1
#endif
#endif

#if defined(SRTPGATE_TSAN)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
namespace srtpgate::dp::detail {
inline void tsan_handed_over(void* p) noexcept { __tsan_release(p); }
inline void tsan_taken_over(void* p) noexcept { __tsan_acquire(p); }
}  // namespace srtpgate::dp::detail
#else
namespace srtpgate::dp::detail {
inline void tsan_handed_over(void*) noexcept {}
inline void tsan_taken_over(void*) noexcept {}
}  // namespace srtpgate::dp::detail
#endif
