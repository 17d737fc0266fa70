// A BIO that keeps datagram boundaries, for running DTLS over caller-supplied datagrams.
// OpenSSL 3.0 has no BIO_s_dgram_mem (added in 3.2), and a plain memory BIO merges datagrams,
// which DTLS cannot parse back apart when records are coalesced.
#pragma once

#include <openssl/bio.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

namespace srtpgate::hs::detail {

// The two queues behind one BIO. Owned by the BIO (freed with it); reach it with state_of().
struct DatagramQueues {
  std::deque<std::vector<uint8_t>> in;   // peer -> OpenSSL: each BIO_read returns one
  std::deque<std::vector<uint8_t>> out;  // OpenSSL -> peer: each BIO_write (or flush of the
                                         // handshake buffer BIO above us) is one datagram
  uint16_t mtu = 1200;
  std::size_t max_in = 64;  // inbound datagrams queued at most; more are dropped
};

// A new BIO (reference count 1) with empty queues; nullptr when out of memory.
BIO* new_datagram_bio(uint16_t mtu);
DatagramQueues* state_of(BIO* bio) noexcept;

// Queues a datagram for OpenSSL to read; false (and nothing queued) when the queue is full.
bool push_inbound(BIO* bio, std::span<const uint8_t> datagram);
std::optional<std::vector<uint8_t>> pop_outbound(BIO* bio);

}  // namespace srtpgate::hs::detail
