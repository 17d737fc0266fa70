// The worker's flow table: one-key operations, its capacity promise, a million flows, and bulk
// lookups mixing hits and misses.
#include <gtest/gtest.h>
#include <nmmintrin.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include <array>
#include <cinttypes>
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
#include "srtpgate/dp/flow.h"

namespace srtpgate::dp::detail {
namespace {

// A distinct IPv4 flow per index: remote 198.18.0.0/15 address and port from the index.
FlowKey key_of(uint32_t i, uint16_t port_id = 0) {
  FlowKey k;
  k.family = 4;
  k.port_id = port_id;
  k.local_addr = {198, 18, 0, 1};
  k.local_port = 4000;
  k.remote_addr = {198, static_cast<uint8_t>(18 + ((i >> 24) & 1)), static_cast<uint8_t>(i >> 16),
                   static_cast<uint8_t>(i >> 8)};
  k.remote_port = static_cast<uint16_t>(1024 + (i & 0xff) * 64 + ((i >> 25) & 63));
  return k;
}

// A distinct non-null pointer per index (the table never dereferences its values).
void* value_of(uint32_t i) {
  static std::vector<char> slab(2'000'000);
  return &slab.at(i);
}

// CRC32-C over the key's five 8-byte words from `seed`: the table's hash before it was keyed.
uint32_t crc32c_of(const FlowKey& k, uint32_t seed) {
  uint64_t h = seed;
  for (unsigned i = 0; i < 5; ++i) {
    uint64_t w;
    std::memcpy(&w, reinterpret_cast<const uint8_t*>(&k) + 8 * i, 8);
    h = _mm_crc32_u64(h, w);
  }
  return static_cast<uint32_t>(h);
}

// What a peer choosing its address and port (48 bits) can do offline: find keys that collide.
// Under a seeded CRC32-C they collide under every seed (CRC is affine over GF(2)), so a seed kept
// secret would not stop them sharing one probe run. Under the table's keyed hash, which keys
// collide depends on the secret: the pairs found collide in no table beyond chance.
TEST(FlowTable, KeysCollidingUnderCrcDoNotCollideUnderTheSecretHash) {
  std::mt19937_64 rng(3);
  std::unordered_map<uint32_t, FlowKey> by_crc;
  std::vector<std::pair<FlowKey, FlowKey>> pairs;
  while (pairs.size() < 8) {
    FlowKey k = key_of(0);
    const uint64_t r = rng();
    k.remote_addr = {static_cast<uint8_t>(r), static_cast<uint8_t>(r >> 8),
                     static_cast<uint8_t>(r >> 16), static_cast<uint8_t>(r >> 24)};
    k.remote_port = static_cast<uint16_t>(r >> 32);
    const auto [it, fresh] = by_crc.emplace(crc32c_of(k, 0), k);
    if (!fresh && std::memcmp(&it->second, &k, sizeof k) != 0) {
      pairs.emplace_back(it->second, k);
    }
  }
  std::vector<std::unique_ptr<FlowTable>> tables;
  for (int i = 0; i < 4; ++i) {
    auto t = FlowTable::create("ft_hash" + std::to_string(i), 16, SOCKET_ID_ANY);
    ASSERT_TRUE(t) << t.message();
    tables.push_back(std::move(t.value()));
  }
  unsigned colliding = 0;
  for (const auto& [a, b] : pairs) {
    // The test's premise: a CRC collision holds for any seed.
    for (const uint32_t seed : {0x1234567u, 0xdeadbeefu}) {
      ASSERT_EQ(crc32c_of(a, seed), crc32c_of(b, seed));
    }
    for (const auto& t : tables) {
      colliding += t->hash(a) == t->hash(b);
    }
  }
  EXPECT_EQ(colliding, 0u) << "of " << pairs.size() * tables.size() << " pairs and tables";
}

// A key's home slot in `t`: hash & mask (flow_table.h), the mask from the table's size in
// 64-byte slots.
uint32_t mask_of(const FlowTable& t) { return static_cast<uint32_t>(t.memory_bytes() / 64 - 1); }
uint32_t slot_of(const FlowTable& t, const FlowKey& k) { return t.hash(k) & mask_of(t); }

// A flow from remote address and port chosen at random, as a peer searching for collisions does.
FlowKey random_key(std::mt19937_64& rng) {
  FlowKey k = key_of(0);
  const uint64_t r = rng();
  k.remote_addr = {static_cast<uint8_t>(r), static_cast<uint8_t>(r >> 8),
                   static_cast<uint8_t>(r >> 16), static_cast<uint8_t>(r >> 24)};
  k.remote_port = static_cast<uint16_t>(r >> 32);
  return k;
}

// Two tables created with the same capacity (1024 slots).
std::pair<std::unique_ptr<FlowTable>, std::unique_ptr<FlowTable>> two_tables(
    const std::string& name) {
  auto a = FlowTable::create(name + "_a", 600, SOCKET_ID_ANY);
  auto b = FlowTable::create(name + "_b", 600, SOCKET_ID_ANY);
  EXPECT_TRUE(a) << a.message();
  EXPECT_TRUE(b) << b.message();
  if (!a || !b) {
    return {};
  }
  EXPECT_EQ(mask_of(**a), 1023u);
  EXPECT_EQ(mask_of(**b), 1023u);
  return {std::move(a.value()), std::move(b.value())};
}

// Every table draws its own secret: the same flow's home slots in two tables agree only as
// often as chance has it (1 in 1024). A key fixed in the code, or shared between tables, would
// put every flow in the same slot of both, and what a peer learns of one table would hold for
// every table of every gateway.
TEST(FlowTable, EachTableHashesTheSameFlowsDifferently) {
  auto [a, b] = two_tables("ft_seed");
  ASSERT_TRUE(a && b);
  constexpr uint32_t kKeys = 100'000;
  uint32_t same_slot = 0;
  uint32_t same_hash = 0;
  for (uint32_t i = 0; i < kKeys; ++i) {
    const FlowKey k = key_of(i);
    same_slot += slot_of(*a, k) == slot_of(*b, k);
    same_hash += a->hash(k) == b->hash(k);
  }
  // Binomial(100000, 1/1024): mean 97.7, standard deviation 9.9; these bounds are 6 of them.
  EXPECT_GE(same_slot, 38u) << "of " << kKeys;
  EXPECT_LE(same_slot, 158u) << "of " << kKeys;
  // Equal 32-bit hashes: 100000 / 2^32 expected.
  EXPECT_LE(same_hash, 2u) << "of " << kKeys;
}

// A peer that found, offline, keys sharing one home slot of a table (by knowing or guessing its
// key) has gained nothing against another table: there those keys spread like any keys.
TEST(FlowTable, KeysCollidingInOneTableSpreadInAnother) {
  auto [a, b] = two_tables("ft_spread");
  ASSERT_TRUE(a && b);
  std::mt19937_64 rng(5);
  std::vector<FlowKey> piled;  // all at home in slot 0 of table a
  while (piled.size() < 64) {
    const FlowKey k = random_key(rng);
    if (slot_of(*a, k) == 0) {
      piled.push_back(k);
    }
  }
  std::map<uint32_t, unsigned> in_b;
  for (const FlowKey& k : piled) {
    ++in_b[slot_of(*b, k)];
  }
  // Pairs sharing a slot of b: C(64, 2) / 1024 = 1.97 expected, nearly Poisson; more than 12 is
  // less likely than 1 in 10^7. All 2016 pairs if b's hash were a's.
  unsigned pairs = 0;
  for (const auto& [slot, n] : in_b) {
    pairs += n * (n - 1) / 2;
  }
  EXPECT_LE(pairs, 12u) << "of " << piled.size() * (piled.size() - 1) / 2 << " pairs, in "
                        << in_b.size() << " slots";
}

TEST(FlowTable, AddFindRemove) {
  auto t = FlowTable::create("ft_basic", 16, SOCKET_ID_ANY);
  ASSERT_TRUE(t) << t.message();
  FlowTable& table = **t;
  EXPECT_EQ(table.capacity(), 16u);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(key_of(1)), nullptr);

  EXPECT_TRUE(table.add(key_of(1), value_of(1)));
  EXPECT_TRUE(table.add(key_of(2), value_of(2)));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find(key_of(1)), value_of(1));
  EXPECT_EQ(table.find(key_of(2)), value_of(2));
  // Same addresses, another DPDK port: another flow.
  EXPECT_EQ(table.find(key_of(1, 1)), nullptr);

  EXPECT_EQ(table.remove(key_of(1)), value_of(1));
  EXPECT_EQ(table.find(key_of(1)), nullptr);
  EXPECT_EQ(table.remove(key_of(1)), nullptr);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.find(key_of(2)), value_of(2));
}

TEST(FlowTable, DuplicateAddFailsAndKeepsTheFirstValue) {
  auto t = FlowTable::create("ft_dup", 16, SOCKET_ID_ANY);
  ASSERT_TRUE(t) << t.message();
  EXPECT_TRUE((*t)->add(key_of(5), value_of(5)));
  EXPECT_FALSE((*t)->add(key_of(5), value_of(6)));
  EXPECT_EQ((*t)->find(key_of(5)), value_of(5));
  EXPECT_EQ((*t)->size(), 1u);
}

TEST(FlowTable, FullAtCapacityAndFreesOnRemove) {
  for (const uint32_t capacity : {1u, 8u, 100u}) {
    auto t = FlowTable::create("ft_full" + std::to_string(capacity), capacity, SOCKET_ID_ANY);
    ASSERT_TRUE(t) << t.message();
    FlowTable& table = **t;
    for (uint32_t i = 0; i < capacity; ++i) {
      ASSERT_TRUE(table.add(key_of(i), value_of(i))) << i << " of " << capacity;
    }
    EXPECT_EQ(table.size(), capacity);
    EXPECT_FALSE(table.add(key_of(capacity), value_of(capacity)));
    EXPECT_EQ(table.find(key_of(capacity)), nullptr);
    EXPECT_EQ(table.remove(key_of(0)), value_of(0));
    EXPECT_TRUE(table.add(key_of(capacity), value_of(capacity)));
    EXPECT_EQ(table.find(key_of(capacity)), value_of(capacity));
  }
}

TEST(FlowTable, RejectsBadParameters) {
  auto zero = FlowTable::create("ft_zero", 0, SOCKET_ID_ANY);
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.message().find("capacity 0"), std::string::npos) << zero.message();
  auto huge = FlowTable::create("ft_huge", UINT32_MAX, SOCKET_ID_ANY);
  EXPECT_FALSE(huge);
}

// A table larger than the memory there is fails with advice, not later with the OOM killer:
// with hugepages the EAL's -m limits it, without them what the host has available.
TEST(FlowTable, RefusesMoreThanTheMemoryThereIs) {
  constexpr uint64_t kTooBigBytes = (uint64_t{1} << 29) * 64;  // 1 << 28 flows: 32 GiB
  if (rte_eal_has_hugepages() == 0 && available_memory_bytes() > kTooBigBytes) {
    GTEST_SKIP() << "this host has " << (available_memory_bytes() >> 30)
                 << " GiB available, so the largest table (32 GiB) fits and is not refused; "
                    "the refusal is tested on hosts with less";
  }
  auto too_big = FlowTable::create("ft_too_big", 1u << 28, SOCKET_ID_ANY);
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.message().find("no memory for"), std::string::npos) << too_big.message();
  EXPECT_NE(too_big.message().find(rte_eal_has_hugepages() ? "-m" : "lower the capacity"),
            std::string::npos)
      << too_big.message();
}

// Random installs and removals against std::map as the model: every find agrees, and removing
// from the middle of probe runs (backward shift) never loses a later member of the run. The
// table is kept two thirds full, so runs are long enough to exercise the shift.
TEST(FlowTable, AgreesWithAModelThroughRandomChurn) {
  constexpr uint32_t kCapacity = 4096;
  auto t = FlowTable::create("ft_churn", kCapacity, SOCKET_ID_ANY);
  ASSERT_TRUE(t) << t.message();
  FlowTable& table = **t;
  std::map<uint32_t, void*> model;
  std::mt19937 rng(11);
  for (int step = 0; step < 400000; ++step) {
    const uint32_t id = rng() % (kCapacity * 2);
    if (rng() % 2 == 0) {
      const bool added = table.add(key_of(id), value_of(id));
      const bool expect = model.count(id) == 0 && model.size() < kCapacity;
      ASSERT_EQ(added, expect) << "step " << step;
      if (added) model[id] = value_of(id);
    } else {
      void* removed = table.remove(key_of(id));
      auto it = model.find(id);
      ASSERT_EQ(removed, it == model.end() ? nullptr : it->second) << "step " << step;
      if (it != model.end()) model.erase(it);
    }
    if (step % 1000 == 0) {
      for (uint32_t probe = 0; probe < kCapacity * 2; ++probe) {
        auto it = model.find(probe);
        ASSERT_EQ(table.find(key_of(probe)), it == model.end() ? nullptr : it->second)
            << "step " << step << " flow " << probe;
      }
    }
  }
  EXPECT_EQ(table.size(), model.size());
}

TEST(FlowTable, LookupBulkMixesHitsAndMisses) {
  auto t = FlowTable::create("ft_bulk", 1024, SOCKET_ID_ANY);
  ASSERT_TRUE(t) << t.message();
  FlowTable& table = **t;
  for (uint32_t i = 0; i < 1024; i += 2) {
    ASSERT_TRUE(table.add(key_of(i), value_of(i)));
  }
  for (const unsigned n : {1u, 7u, 32u, FlowTable::kMaxLookup}) {
    std::vector<FlowKey> keys;
    for (unsigned j = 0; j < n; ++j) {
      keys.push_back(key_of(j * 3));  // even indices hit, odd ones miss
    }
    std::vector<const FlowKey*> ptrs;
    ptrs.reserve(keys.size());
    for (const auto& k : keys) {
      ptrs.push_back(&k);
    }
    char junk = 0;
    std::vector<void*> values(n, &junk);  // a miss must overwrite it with nullptr
    table.lookup_bulk(ptrs.data(), n, values.data());
    for (unsigned j = 0; j < n; ++j) {
      const uint32_t i = j * 3;
      EXPECT_EQ(values[j], i % 2 == 0 ? value_of(i) : nullptr) << "burst " << n << " key " << j;
    }
  }
  table.lookup_bulk(nullptr, 0, nullptr);  // an empty burst is fine
}

size_t heap_bytes_in_use() {
  size_t total = 0;
  for (unsigned s = 0; s < rte_socket_count(); ++s) {
    rte_malloc_socket_stats stats{};
    if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &stats) == 0) {
      total += stats.heap_allocsz_bytes;
    }
  }
  return total;
}

TEST(FlowTable, AMillionFlows) {
  constexpr uint32_t kFlows = 1'000'000;
  const size_t before = heap_bytes_in_use();
  auto t = FlowTable::create("ft_million", kFlows, SOCKET_ID_ANY);
  ASSERT_TRUE(t) << t.message();
  FlowTable& table = **t;
  const size_t after = heap_bytes_in_use();
  std::printf("[ info     ] flow table for %u flows uses %.1f MiB of DPDK memory\n", kFlows,
              static_cast<double>(after - before) / (1024.0 * 1024.0));
  RecordProperty("flow_table_1M_bytes", std::to_string(after - before));

  for (uint32_t i = 0; i < kFlows; ++i) {
    ASSERT_TRUE(table.add(key_of(i), value_of(i))) << "flow " << i;
  }
  EXPECT_EQ(table.size(), kFlows);
  EXPECT_FALSE(table.add(key_of(kFlows), value_of(kFlows)));

  std::array<FlowKey, FlowTable::kMaxLookup> keys;
  std::array<const FlowKey*, FlowTable::kMaxLookup> ptrs;
  std::array<void*, FlowTable::kMaxLookup> values;
  for (uint32_t base = 0; base < kFlows; base += FlowTable::kMaxLookup) {
    const unsigned n = std::min<uint32_t>(FlowTable::kMaxLookup, kFlows - base);
    for (unsigned j = 0; j < n; ++j) {
      keys[j] = key_of(base + j);
      ptrs[j] = &keys[j];
    }
    table.lookup_bulk(ptrs.data(), n, values.data());
    for (unsigned j = 0; j < n; ++j) {
      ASSERT_EQ(values[j], value_of(base + j)) << "flow " << base + j;
    }
  }
  for (uint32_t i = 0; i < kFlows; ++i) {
    ASSERT_EQ(table.remove(key_of(i)), value_of(i)) << "flow " << i;
  }
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(key_of(0)), nullptr);
}

}  // namespace
}  // namespace srtpgate::dp::detail
