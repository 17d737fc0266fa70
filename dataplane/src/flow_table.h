// A worker's flow table: FlowKey -> flow pointer. Written and read by the worker thread only
// (created and destroyed by the control thread while no worker uses it). Internal to dataplane/.
//
// Open addressing with linear probing over 64-byte slots that hold the whole key, the value and
// the key's hash: a lookup reads one cache line (two when its run crosses a line), and a burst
// starts every line's load before it compares the first. DPDK's rte_hash, used before, keeps
// buckets of signatures apart from a key store, so every hit reads two lines from two places,
// and it compares 40-byte keys with memcmp: 34 / 42 / 120 ns per key at 1 / 10k / 1M flows in
// bursts of 32, against this table's figures in bench/flow_lookup_bench.cc (docs/performance.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "srtpgate/dp/flow.h"
#include "srtpgate/result.h"

namespace srtpgate::dp::detail {

// MemAvailable from /proc/meminfo: what can be allocated without swapping. SIZE_MAX when it
// cannot be read (the mapping and its faulting-in then decide). FlowTable::create refuses a
// table larger than this when the EAL has no hugepages.
std::size_t available_memory_bytes() noexcept;

// A hash of flow keys under secret round keys (AES rounds, flow_table.cc), for every table of
// flows whose keys a peer chooses in part (its address and port): which keys collide depends on
// the secret, so no one can compute keys that pile up on one slot or bucket.
class KeyedFlowHash {
 public:
  // Keys from getrandom(); nullopt if it failed.
  static std::optional<KeyedFlowHash> random() noexcept;
  uint32_t operator()(const FlowKey& key) const noexcept;

 private:
  std::array<uint64_t, 10> round_keys_{};
};

class FlowTable {
 public:
  static constexpr unsigned kMaxLookup = 64;

  // Memory (64 bytes a slot, at least 1.5 slots a flow, rounded up to a power of two) comes
  // from DPDK on `socket` when the EAL has hugepages, else from an anonymous mapping on
  // transparent huge pages, faulted in here; `name` labels it.
  static Result<std::unique_ptr<FlowTable>> create(const std::string& name, uint32_t capacity,
                                                   int socket);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // false when the key is present already or the table holds `capacity` flows.
  bool add(const FlowKey& key, void* value) noexcept;
  // The value removed, or nullptr if the key was absent.
  void* remove(const FlowKey& key) noexcept;
  void* find(const FlowKey& key) const noexcept;
  // values[i] = the value of *keys[i] or nullptr; n <= kMaxLookup.
  void lookup_bulk(const FlowKey* const* keys, unsigned n, void** values) const noexcept;
  uint32_t size() const noexcept { return size_; }
  // The hash that picks a key's slot (its home is hash & (slots - 1)): keyed with a secret
  // drawn at creation. Public for the tests.
  uint32_t hash(const FlowKey& key) const noexcept { return hash_(key); }
  uint32_t capacity() const noexcept { return capacity_; }
  std::size_t memory_bytes() const noexcept;

 private:
  struct alignas(64) Slot {
    FlowKey key;
    void* value;    // nullptr: the slot is empty
    uint32_t hash;  // of key; the slot's home is hash & mask_
    uint32_t unused;
  };
  static_assert(sizeof(Slot) == 64);

  FlowTable(Slot* slots, bool mapped, uint32_t mask, uint32_t capacity, const KeyedFlowHash& hash)
      : slots_(slots), mapped_(mapped), mask_(mask), capacity_(capacity), hash_(hash) {}
  // The slot holding `key`, or the empty slot ending its probe run.
  uint32_t probe(const FlowKey& key, uint32_t h) const noexcept;

  Slot* slots_;
  bool mapped_;  // slots_ is an anonymous mapping (EAL without hugepages), not DPDK memory
  uint32_t mask_;
  uint32_t capacity_;
  uint32_t size_ = 0;
  KeyedFlowHash hash_;
};

}  // namespace srtpgate::dp::detail
