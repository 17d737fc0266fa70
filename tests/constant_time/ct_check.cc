// Checks that tag and secret comparisons never branch or index memory on the bytes they compare,
// the way BoringSSL's constant-time validation and ctgrind do: the inputs are marked undefined
// for Valgrind's memcheck, which then reports any conditional jump or address that depends on
// them. Only the final result may depend on them; it is marked defined before it is used.
//
//   valgrind --error-exitcode=1 ct_check            must pass
//   valgrind --error-exitcode=1 ct_check --naive    must fail (proves the check can fail)
#include <valgrind/memcheck.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "srtpgate/secret.h"
#include "tag_compare.h"

namespace {

// An early-exit comparison, the kind the checks must catch.
[[gnu::noinline]] bool naive_equal(const uint8_t* a, const uint8_t* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

[[gnu::noinline]] bool fast_path_equal(const uint8_t* a, const uint8_t* b, std::size_t n) {
  return srtpgate::detail::tags_equal(a, b, n);
}

[[gnu::noinline]] bool public_equal(const uint8_t* a, const uint8_t* b, std::size_t n) {
  return srtpgate::constant_time_equal(a, b, n);
}

}  // namespace

int main(int argc, char** argv) {
  const bool naive = argc > 1 && std::strcmp(argv[1], "--naive") == 0;
  uint8_t a[32];
  uint8_t b[32];
  int mismatches = 0;
  // Every tag length the profiles use (4, 10, 16), the SRTCP one, and odd lengths for the
  // generic loop; equal and unequal inputs, differing first, in the middle and last.
  for (std::size_t n : {4u, 10u, 16u, 7u, 20u, 32u}) {
    for (int where = -1; where < 3; ++where) {
      for (std::size_t i = 0; i < sizeof a; ++i) {
        a[i] = b[i] = static_cast<uint8_t>(i * 37 + n);
      }
      if (where >= 0) {
        b[where == 0 ? 0 : where == 1 ? n / 2 : n - 1] ^= 0x40;
      }
      VALGRIND_MAKE_MEM_UNDEFINED(a, n);
      VALGRIND_MAKE_MEM_UNDEFINED(b, n);
      bool results[2];
      if (naive) {
        results[0] = results[1] = naive_equal(a, b, n);
      } else {
        results[0] = fast_path_equal(a, b, n);
        results[1] = public_equal(a, b, n);
      }
      VALGRIND_MAKE_MEM_DEFINED(results, sizeof results);
      VALGRIND_MAKE_MEM_DEFINED(a, sizeof a);
      VALGRIND_MAKE_MEM_DEFINED(b, sizeof b);
      const bool expect = where < 0;
      mismatches += (results[0] != expect) + (results[1] != expect);
    }
  }
  if (mismatches != 0) {
    std::fprintf(stderr, "%d comparisons gave the wrong answer\n", mismatches);
    return 1;
  }
  return 0;
}
