// A worker's flow table on rte_hash (DPDK hash library, cuckoo hashing with CRC32).
#include "flow_table.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_ring.h>

#include <algorithm>

namespace srtpgate::dp::detail {

static_assert(FlowTable::kMaxLookup == RTE_HASH_LOOKUP_BULK_MAX);

namespace {

// A cuckoo table cannot always place its last few keys (a full bucket pair with no free
// displacement path), so the table gets 25% more slots than the flows we promise and add()
// enforces the promise by counting.
uint32_t table_entries(uint32_t capacity) {
  const uint64_t padded = uint64_t{capacity} + uint64_t{capacity} / 4;
  // rte_hash needs at least one full bucket (RTE_HASH_BUCKET_ENTRIES = 8).
  return static_cast<uint32_t>(std::clamp<uint64_t>(padded, 8, UINT32_MAX / 2));
}

}  // namespace

Result<std::unique_ptr<FlowTable>> FlowTable::create(const std::string& name, uint32_t capacity,
                                                     int socket) {
  if (capacity == 0 || capacity > UINT32_MAX / 4) {
    return make_error("flow table '" + name + "': capacity " + std::to_string(capacity) +
                      " is outside 1.." + std::to_string(UINT32_MAX / 4));
  }
  // rte_hash_create names its free-slot ring "HT_<name>" and truncates silently past
  // RTE_RING_NAMESIZE, so two long names could collide.
  constexpr std::size_t kMaxName = RTE_RING_NAMESIZE - 1 - 3;
  if (name.empty() || name.size() > kMaxName) {
    return make_error("flow table name '" + name + "' must be 1.." + std::to_string(kMaxName) +
                      " characters");
  }
  rte_hash_parameters params{};
  params.name = name.c_str();
  params.entries = table_entries(capacity);
  params.key_len = sizeof(FlowKey);
  params.hash_func = rte_hash_crc;
  params.hash_func_init_val = 0;
  params.socket_id = socket;
  // No RTE_HASH_EXTRA_FLAGS_*: one thread writes and reads (see flow_table.h).
  params.extra_flag = 0;
  rte_hash* h = rte_hash_create(&params);
  if (h == nullptr) {
    const int err = rte_errno;
    return make_error("flow table '" + name + "': rte_hash_create for " + std::to_string(capacity) +
                      " flows: " + rte_strerror(err) +
                      (err == EEXIST ? " (table names are process-wide: pick a unique one)"
                                     : " (about 85 bytes per flow: raise the EAL -m memory or "
                                       "lower the capacity)"));
  }
  return std::unique_ptr<FlowTable>(new FlowTable(h, capacity));
}

FlowTable::~FlowTable() { rte_hash_free(hash_); }

bool FlowTable::add(const FlowKey& key, void* value) noexcept {
  // rte_hash_add_key_data overwrites an existing key's value; a duplicate install must fail.
  if (rte_hash_lookup(hash_, &key) >= 0) {
    return false;
  }
  if (size() >= capacity_) {
    return false;
  }
  return rte_hash_add_key_data(hash_, &key, value) == 0;
}

void* FlowTable::remove(const FlowKey& key) noexcept {
  void* value = nullptr;
  if (rte_hash_lookup_data(hash_, &key, &value) < 0) {
    return nullptr;
  }
  // Without RW concurrency flags the slot is freed at once; the caller owns `value`.
  (void)rte_hash_del_key(hash_, &key);
  return value;
}

void* FlowTable::find(const FlowKey& key) const noexcept {
  void* value = nullptr;
  if (rte_hash_lookup_data(hash_, &key, &value) < 0) {
    return nullptr;
  }
  return value;
}

void FlowTable::lookup_bulk(const FlowKey* const* keys, unsigned n, void** values) const noexcept {
  if (n == 0) {
    return;
  }
  n = std::min(n, kMaxLookup);
  uint64_t hits = 0;
  // rte_hash writes values only for hits; misses keep whatever was there.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): rte_hash's C signature lacks a const.
  const void** k = const_cast<const void**>(reinterpret_cast<const void* const*>(keys));
  (void)rte_hash_lookup_bulk_data(hash_, k, n, &hits, values);
  for (unsigned i = 0; i < n; ++i) {
    if ((hits & (uint64_t{1} << i)) == 0) {
      values[i] = nullptr;
    }
  }
}

uint32_t FlowTable::size() const noexcept {
  const int32_t n = rte_hash_count(hash_);
  return n < 0 ? 0 : static_cast<uint32_t>(n);
}

}  // namespace srtpgate::dp::detail
