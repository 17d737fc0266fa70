// The worker's flow table (flow_table.h): linear probing with backward-shift deletion, so a
// table that has seen a million installs and removals has no tombstones to walk.
#include "flow_table.h"

#include <immintrin.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <sys/mman.h>
#include <sys/random.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace srtpgate::dp::detail {

static_assert(sizeof(FlowKey) == 48 && alignof(FlowKey) == 8);
constexpr unsigned kKeyWords = sizeof(FlowKey) / 8;

namespace {

uint64_t word(const FlowKey& k, unsigned i) noexcept {
  uint64_t w;
  std::memcpy(&w, reinterpret_cast<const uint8_t*>(&k) + 8 * i, 8);
  return w;
}

bool same_key(const FlowKey& a, const FlowKey& b) noexcept {
  uint64_t diff = 0;
  for (unsigned i = 0; i < kKeyWords; ++i) {
    diff |= word(a, i) ^ word(b, i);
  }
  return diff == 0;
}

}  // namespace

std::size_t available_memory_bytes() noexcept {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) {
    return SIZE_MAX;
  }
  std::size_t kib = 0;
  char line[128];
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f) != nullptr) {
    found = std::sscanf(line, "MemAvailable: %zu kB", &kib) == 1;
  }
  std::fclose(f);
  return found ? kib * 1024 : SIZE_MAX;
}

Result<std::unique_ptr<FlowTable>> FlowTable::create(const std::string& name, uint32_t capacity,
                                                     int socket) {
  constexpr uint32_t kMaxCapacity = 1u << 28;
  if (capacity == 0 || capacity > kMaxCapacity) {
    return make_error("flow table '" + name + "': capacity " + std::to_string(capacity) +
                      " is outside 1.." + std::to_string(kMaxCapacity));
  }
  // Secret hash keys: which keys share a probe run depends on them, so a peer choosing
  // addresses and ports cannot aim at one.
  const std::optional<KeyedFlowHash> hash = KeyedFlowHash::random();
  if (!hash) {
    return make_error("flow table '" + name + "': no random hash key from getrandom()");
  }
  // At most two thirds full: a miss then probes about five slots on average (Knuth's
  // 1/2 (1 + 1/(1 - a)^2)), nearly all in one or two cache lines.
  const uint64_t slots = std::bit_ceil(std::max<uint64_t>(16, uint64_t{capacity} * 3 / 2));
  const std::size_t bytes = slots * sizeof(Slot);
  // Every lookup of a large table misses the TLB unless the table sits on huge pages. With
  // hugepages DPDK's memory has them, on the port's socket. Without (--no-huge, virtual ports),
  // DPDK's memory is a shared mapping that transparent huge pages do not cover, so the table
  // is an anonymous mapping instead, where they do (MADV_HUGEPAGE; best effort).
  const bool mapped = rte_eal_has_hugepages() == 0;
  const std::string wanted = "flow table '" + name + "': no memory for " +
                             std::to_string(capacity) + " flows (" +
                             std::to_string(bytes >> 20) + " MiB)";
  Slot* mem = nullptr;
  if (mapped) {
    // Faulting in more than the machine has free would wake the OOM killer, not fail.
    if (bytes > available_memory_bytes()) {
      return make_error(wanted + ": more than the memory available; lower the capacity");
    }
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      return make_error(wanted + ": lower the capacity");
    }
    (void)madvise(m, bytes, MADV_HUGEPAGE);
    // The kernel hands out anonymous memory on first write, so a mapping this size can succeed
    // and the process be killed later, when flows fill it. Fault it all in now: a table that
    // cannot be had fails here, and no lookup ever waits for a page fault.
    if (madvise(m, bytes, MADV_POPULATE_WRITE) != 0) {
      if (errno != EINVAL) {  // EINVAL: a kernel before 5.14, which has no populate
        munmap(m, bytes);
        return make_error(wanted + ": lower the capacity");
      }
      std::memset(m, 0, bytes);
    }
    mem = static_cast<Slot*>(m);  // zero-filled by the kernel
  } else {
    mem = static_cast<Slot*>(rte_zmalloc_socket(name.c_str(), bytes, alignof(Slot), socket));
    if (mem == nullptr) {
      return make_error(wanted + ": raise the EAL -m memory or lower the capacity");
    }
  }
  return std::unique_ptr<FlowTable>(
      new FlowTable(mem, mapped, static_cast<uint32_t>(slots - 1), capacity, *hash));
}

FlowTable::~FlowTable() {
  if (mapped_) {
    munmap(slots_, memory_bytes());
  } else {
    rte_free(slots_);
  }
}

std::size_t FlowTable::memory_bytes() const noexcept {
  return (std::size_t{mask_} + 1) * sizeof(Slot);
}

std::optional<KeyedFlowHash> KeyedFlowHash::random() noexcept {
  KeyedFlowHash h;
  const auto want = static_cast<ssize_t>(sizeof h.round_keys_);
  if (getrandom(h.round_keys_.data(), sizeof h.round_keys_, 0) != want) {
    return std::nullopt;
  }
  return h;
}

// AES rounds keyed with the secret round keys, the way Go's runtime hashes map keys:
// the key's 48 bytes are folded into the state 16 at a time, an AES round (SubBytes, a
// non-linear step) between them and two after the last. A seeded CRC32-C, used before, is
// affine over GF(2): two keys collided under every seed if they collided under one, so anyone
// choosing addresses and ports could compute keys for one probe run offline. Here which keys
// collide depends on the secret, and nothing a peer sees reveals it. AES-NI is there on every
// CPU the SRTP library runs on (IPsec-MB needs it).
__attribute__((target("aes"))) uint32_t KeyedFlowHash::operator()(
    const FlowKey& key) const noexcept {
  const auto* k = reinterpret_cast<const uint8_t*>(&key);
  const auto round_key = [this](unsigned r) {
    return _mm_set_epi64x(static_cast<int64_t>(round_keys_[2 * r + 1]),
                          static_cast<int64_t>(round_keys_[2 * r]));
  };
  __m128i x = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k)), round_key(0));
  x = _mm_aesenc_si128(x, round_key(1));
  x = _mm_xor_si128(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(k + 16)));
  x = _mm_aesenc_si128(x, round_key(2));
  x = _mm_xor_si128(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(k + 32)));
  x = _mm_aesenc_si128(x, round_key(3));
  x = _mm_aesenc_si128(x, round_key(4));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(x));
}

uint32_t FlowTable::probe(const FlowKey& key, uint32_t h) const noexcept {
  uint32_t i = h & mask_;
  while (slots_[i].value != nullptr && (slots_[i].hash != h || !same_key(slots_[i].key, key))) {
    i = (i + 1) & mask_;
  }
  return i;
}

bool FlowTable::add(const FlowKey& key, void* value) noexcept {
  if (value == nullptr || size_ >= capacity_) {
    return false;
  }
  const uint32_t h = hash(key);
  const uint32_t i = probe(key, h);
  if (slots_[i].value != nullptr) {
    return false;  // present already
  }
  slots_[i].key = key;
  slots_[i].hash = h;
  slots_[i].value = value;
  ++size_;
  return true;
}

void* FlowTable::remove(const FlowKey& key) noexcept {
  uint32_t hole = probe(key, hash(key));
  void* value = slots_[hole].value;
  if (value == nullptr) {
    return nullptr;
  }
  --size_;
  // Backward-shift deletion: pull later members of the run back into the hole unless their
  // home lies cyclically in (hole, next], where they already are as early as they can be.
  uint32_t next = (hole + 1) & mask_;
  while (slots_[next].value != nullptr) {
    const uint32_t home = slots_[next].hash & mask_;
    if (((next - home) & mask_) >= ((next - hole) & mask_)) {
      slots_[hole] = slots_[next];
      hole = next;
    }
    next = (next + 1) & mask_;
  }
  slots_[hole].value = nullptr;
  return value;
}

void* FlowTable::find(const FlowKey& key) const noexcept {
  return slots_[probe(key, hash(key))].value;
}

void FlowTable::lookup_bulk(const FlowKey* const* keys, unsigned n, void** values) const noexcept {
  n = std::min(n, kMaxLookup);
  uint32_t h[kMaxLookup];
  // Stage 1: every key's home line starts loading before any is compared.
  for (unsigned i = 0; i < n; ++i) {
    h[i] = hash(*keys[i]);
    rte_prefetch0(&slots_[h[i] & mask_]);
  }
  // Stage 2: probe.
  for (unsigned i = 0; i < n; ++i) {
    values[i] = slots_[probe(*keys[i], h[i])].value;
  }
}

}  // namespace srtpgate::dp::detail
