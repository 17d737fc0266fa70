#include "datagram_bio.h"

#include <openssl/bio.h>

#include <algorithm>
#include <cstring>

namespace srtpgate::hs::detail {
namespace {

DatagramQueues* queues(BIO* b) noexcept { return static_cast<DatagramQueues*>(BIO_get_data(b)); }

int dgram_create(BIO* b) {
  BIO_set_data(b, nullptr);
  BIO_set_init(b, 0);
  return 1;
}

int dgram_destroy(BIO* b) {
  delete queues(b);
  BIO_set_data(b, nullptr);
  BIO_set_init(b, 0);
  return 1;
}

int dgram_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  DatagramQueues* q = queues(b);
  if (q == nullptr || len < 0) {
    return -1;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  const auto n = static_cast<std::size_t>(len);
  if (n <= q->mtu) {
    q->out.emplace_back(p, p + n);
    return len;
  }
  // OpenSSL 3.0 sizes handshake fragments without the AEAD overhead (explicit nonce and tag) of
  // the epoch-1 records, so a buffered flight can overshoot the MTU by a few bytes. Split it at
  // record boundaries (RFC 6347 §4.1.1: a record never spans datagrams) into datagrams that fit.
  std::vector<std::size_t> ends;
  std::size_t off = 0;
  while (off < n) {
    if (n - off < 13) {
      break;
    }
    const std::size_t rec = 13 + ((std::size_t{p[off + 11]} << 8) | p[off + 12]);
    if (rec > n - off) {
      break;
    }
    off += rec;
    ends.push_back(off);
  }
  if (off != n) {
    q->out.emplace_back(p, p + n);  // not a record sequence: pass it on as it is
    return len;
  }
  std::size_t start = 0;
  std::size_t last = 0;
  for (std::size_t end : ends) {
    if (end - start > q->mtu && last > start) {
      q->out.emplace_back(p + start, p + last);
      start = last;
    }
    last = end;
  }
  q->out.emplace_back(p + start, p + n);
  return len;
}

// One datagram per read. A buffer shorter than the datagram gets its head and the rest is
// discarded, as recvfrom() does; OpenSSL always offers a full record buffer.
int dgram_read(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  DatagramQueues* q = queues(b);
  if (q == nullptr || data == nullptr || len < 0) {
    return -1;
  }
  if (q->in.empty()) {
    BIO_set_retry_read(b);
    return -1;
  }
  std::vector<uint8_t> d = std::move(q->in.front());
  q->in.pop_front();
  const std::size_t n = std::min<std::size_t>(d.size(), static_cast<std::size_t>(len));
  std::memcpy(data, d.data(), n);
  return static_cast<int>(n);
}

long dgram_ctrl(BIO* b, int cmd, long num, void* ptr) {
  (void)num;
  (void)ptr;
  DatagramQueues* q = queues(b);
  if (q == nullptr) {
    return 0;
  }
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return q->in.empty() ? 0 : static_cast<long>(q->in.front().size());
    case BIO_CTRL_WPENDING:
      // Every write is already a whole datagram: nothing of the next one is buffered here, so
      // OpenSSL gets the full MTU for its next record.
      return 0;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
      return q->mtu;
    case BIO_CTRL_DGRAM_SET_MTU:
      return num;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
      // Our MTU already counts UDP payload bytes only.
      return 0;
    case BIO_CTRL_DGRAM_MTU_EXCEEDED:
      return 0;
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
      // OpenSSL tells the BIO its retransmission deadline; the endpoint asks DTLSv1_get_timeout.
      return 1;
    case BIO_CTRL_DGRAM_GET_PEER:
      // Addresses are opaque to us; DTLSv1_listen clears the address when this fails.
      return 0;
    case BIO_CTRL_DGRAM_SET_PEER:
    case BIO_CTRL_DGRAM_SET_CONNECTED:
    case BIO_CTRL_DGRAM_CONNECT:
      return 1;
    case BIO_CTRL_DUP:
      return 1;
    default:
      return 0;
  }
}

BIO_METHOD* make_method() {
  BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "srtpgate datagram");
  if (m == nullptr) {
    return nullptr;
  }
  BIO_meth_set_write(m, dgram_write);
  BIO_meth_set_read(m, dgram_read);
  BIO_meth_set_ctrl(m, dgram_ctrl);
  BIO_meth_set_create(m, dgram_create);
  BIO_meth_set_destroy(m, dgram_destroy);
  return m;
}

// One method for the process, never freed (OpenSSL keeps BIOs pointing at it).
const BIO_METHOD* method() {
  static BIO_METHOD* const m = make_method();
  return m;
}

}  // namespace

BIO* new_datagram_bio(uint16_t mtu) {
  const BIO_METHOD* m = method();
  if (m == nullptr) {
    return nullptr;
  }
  BIO* b = BIO_new(m);
  if (b == nullptr) {
    return nullptr;
  }
  auto* q = new DatagramQueues;
  q->mtu = mtu;
  BIO_set_data(b, q);
  BIO_set_init(b, 1);
  return b;
}

DatagramQueues* state_of(BIO* bio) noexcept { return bio == nullptr ? nullptr : queues(bio); }

bool push_inbound(BIO* bio, std::span<const uint8_t> datagram) {
  DatagramQueues* q = state_of(bio);
  if (q == nullptr || q->in.size() >= q->max_in) {
    return false;
  }
  q->in.emplace_back(datagram.begin(), datagram.end());
  return true;
}

std::optional<std::vector<uint8_t>> pop_outbound(BIO* bio) {
  DatagramQueues* q = state_of(bio);
  if (q == nullptr || q->out.empty()) {
    return std::nullopt;
  }
  std::vector<uint8_t> d = std::move(q->out.front());
  q->out.pop_front();
  return d;
}

}  // namespace srtpgate::hs::detail
