// A worker's flow table: FlowKey -> flow pointer, on DPDK's cuckoo hash (rte_hash) with CRC32
// hashing. Written and read by the worker thread only (created and destroyed by the control
// thread while no worker uses it), so it is built without rte_hash's multi-writer or
// reader-writer concurrency flags. Internal to dataplane/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "srtpgate/dp/flow.h"
#include "srtpgate/result.h"

struct rte_hash;

namespace srtpgate::dp::detail {

class FlowTable {
 public:
  static constexpr unsigned kMaxLookup = 64;  // rte_hash's RTE_HASH_LOOKUP_BULK_MAX

  static Result<std::unique_ptr<FlowTable>> create(const std::string& name, uint32_t capacity,
                                                   int socket);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // false when the key is present already or the table is full.
  bool add(const FlowKey& key, void* value) noexcept;
  // The value removed, or nullptr if the key was absent.
  void* remove(const FlowKey& key) noexcept;
  void* find(const FlowKey& key) const noexcept;
  // values[i] = the value of *keys[i] or nullptr; n <= kMaxLookup.
  void lookup_bulk(const FlowKey* const* keys, unsigned n, void** values) const noexcept;
  uint32_t size() const noexcept;
  uint32_t capacity() const noexcept { return capacity_; }

 private:
  FlowTable(rte_hash* h, uint32_t capacity) : hash_(h), capacity_(capacity) {}
  rte_hash* hash_;
  uint32_t capacity_;
};

}  // namespace srtpgate::dp::detail
