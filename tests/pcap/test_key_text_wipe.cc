// Key text is wiped before its memory is freed: the buffer that held a --key-file's content,
// and parse_options() keeps no copy of an argument that may be a key. While a check runs, this
// binary's operator delete searches every freed block for the key, as base64 text and as the
// key bytes it decodes to. A separate binary, because replacing operator delete applies to the
// whole process (tests/zeroize does the same for lib/).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "key_options.h"

namespace {

constexpr const char* kKey = "inline:HyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq";
// The needles: 16 characters of the base64, and the 16-byte master key it decodes to.
constexpr std::string_view kKeyText("HyYtNDtCSVBXXmVs", 16);
constexpr std::array<uint8_t, 16> kKeyBytes = {0x1f, 0x26, 0x2d, 0x34, 0x3b, 0x42, 0x49, 0x50,
                                               0x57, 0x5e, 0x65, 0x6c, 0x73, 0x7a, 0x81, 0x88};

std::atomic<bool> g_armed{false};
std::atomic<int> g_text_hits{0};
std::atomic<int> g_byte_hits{0};

void inspect(void* p, std::size_t n) noexcept {
  if (!g_armed.load()) {
    return;
  }
  if (memmem(p, n, kKeyText.data(), kKeyText.size()) != nullptr) {
    g_text_hits.fetch_add(1);
  }
  if (memmem(p, n, kKeyBytes.data(), kKeyBytes.size()) != nullptr) {
    g_byte_hits.fetch_add(1);
  }
}

// Counts the freed blocks that still held the key while `f` ran.
struct Hits {
  int text = 0;
  int bytes = 0;
};
template <typename F>
Hits freed_with_key(F f) {
  g_text_hits = 0;
  g_byte_hits = 0;
  g_armed = true;
  f();
  g_armed = false;
  return {g_text_hits.load(), g_byte_hits.load()};
}

// The key file is written with write(2) from the string literal: no stream buffer of this test
// holds the key and frees it.
struct KeyFile {
  explicit KeyFile(const char* line_end) {
    char tmpl[] = "/tmp/srtpgate-pcap-wipe-XXXXXX";
    const int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path = tmpl;
    EXPECT_EQ(::write(fd, kKey, std::strlen(kKey)), static_cast<ssize_t>(std::strlen(kKey)));
    EXPECT_EQ(::write(fd, line_end, std::strlen(line_end)),
              static_cast<ssize_t>(std::strlen(line_end)));
    ::close(fd);
  }
  ~KeyFile() { ::unlink(path.c_str()); }
  std::string path;
};

srtpgate::Result<srtpgate::app::Options> parse(std::vector<const char*> args) {
  return srtpgate::app::parse_options(args);
}

// Frees a heap block that holds `n` bytes of `data`, written through a volatile pointer: the
// compiler may drop plain stores to memory that is about to be freed.
void free_unwiped(const void* data, std::size_t n) {
  auto* block = new uint8_t[n + 16];
  volatile uint8_t* v = block;
  for (std::size_t i = 0; i < n; ++i) {
    v[8 + i] = static_cast<const uint8_t*>(data)[i];
  }
  delete[] block;
}

TEST(KeyTextWipe, TheSearchFindsAKeyThatWasNotWiped) {
  const Hits h = freed_with_key([] {
    free_unwiped(kKey, std::strlen(kKey));
    free_unwiped(kKeyBytes.data(), kKeyBytes.size());
  });
  EXPECT_EQ(h.text, 1);
  EXPECT_EQ(h.bytes, 1);
}

TEST(KeyTextWipe, KeyFileTextIsWipedOnSuccessAndOnError) {
  const KeyFile one_line("\r\n");
  const KeyFile two_lines("\nsecond line\n");
  const char* p = "AES_CM_128_HMAC_SHA1_80";
  const std::vector<std::vector<const char*>> cases = {
      {"decrypt", "--profile", p, "--key-file", one_line.path.c_str(), "a", "b"},
      // The same scope without MKIs: refused after both keys are read and parsed.
      {"decrypt", "--profile", p, "--key-file", one_line.path.c_str(), "--key-file",
       one_line.path.c_str(), "a", "b"},
      {"decrypt", "--profile", "AEAD_AES_128_GCM", "--key-file", one_line.path.c_str(), "a", "b"},
      {"decrypt", "--profile", p, "--key-file", two_lines.path.c_str(), "a", "b"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    bool ok = false;
    const Hits h = freed_with_key([&] { ok = parse(cases[i]).ok(); });
    EXPECT_EQ(ok, i == 0) << "case " << i;
    EXPECT_EQ(h.text, 0) << "case " << i << ": a freed block held the key file's text";
    EXPECT_EQ(h.bytes, 0) << "case " << i << ": a freed block held the decoded key";
  }
}

TEST(KeyTextWipe, ArgumentsThatMayBeKeysAreNotCopied) {
  const char* p = "AES_CM_128_HMAC_SHA1_80";
  const std::vector<std::vector<const char*>> cases = {
      {"decrypt", "--profile", p, "--key", kKey, "a", "b"},
      {"--profile", p, kKey, "decrypt", "a", "b"},  // --key left out: the key is the "mode"
      {"decrypt", "--profile", p, "--key", kKey, "--key", kKey, "a", "b"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    bool ok = false;
    const Hits h = freed_with_key([&] { ok = parse(cases[i]).ok(); });
    EXPECT_EQ(ok, i == 0) << "case " << i;
    EXPECT_EQ(h.text, 0) << "case " << i << ": a freed block held a copy of the key argument";
    EXPECT_EQ(h.bytes, 0) << "case " << i << ": a freed block held the decoded key";
  }
}

}  // namespace

// Sized deletes tell the block's size; unsized ones are looked up with malloc_usable_size.
void operator delete(void* p) noexcept {
  if (p != nullptr) {
    inspect(p, malloc_usable_size(p));
  }
  std::free(p);
}
void operator delete(void* p, std::size_t n) noexcept {
  if (p != nullptr) {
    inspect(p, n);
  }
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  if (p != nullptr) {
    inspect(p, malloc_usable_size(p));
  }
  std::free(p);
}
void operator delete(void* p, std::size_t n, std::align_val_t) noexcept {
  if (p != nullptr) {
    inspect(p, n);
  }
  std::free(p);
}
// Paired with the deletes above: every block comes from malloc.
void* operator new(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}
void* operator new(std::size_t n, std::align_val_t a) {
  const auto align = static_cast<std::size_t>(a);
  void* p = std::aligned_alloc(align, (n + align - 1) / align * align);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}
