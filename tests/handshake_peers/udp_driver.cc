#include "udp_driver.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace srtpgate::hs::test {

Result<std::unique_ptr<UdpDriver>> UdpDriver::bind_loopback() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return make_error(std::string("socket: ") + std::strerror(errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string why = std::string("bind 127.0.0.1:0: ") + std::strerror(errno);
    ::close(fd);
    return make_error(std::move(why));
  }
  return std::unique_ptr<UdpDriver>(new UdpDriver(fd, ntohs(addr.sin_port)));
}

UdpDriver::~UdpDriver() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Result<void> UdpDriver::start_client(Context& context, const EndpointConfig& config,
                                     uint16_t peer_port) {
  context_ = &context;
  config_ = config;
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  peer.sin_port = htons(peer_port);
  peer_ = peer;
  auto endpoint = context.connect(config, Clock::now());
  if (!endpoint) {
    return endpoint.error();
  }
  endpoint_ = std::move(endpoint.value());
  flush();
  return {};
}

void UdpDriver::start_server(Context& context, const EndpointConfig& config) {
  context_ = &context;
  config_ = config;
}

void UdpDriver::send_to_peer(const std::vector<uint8_t>& datagram) {
  if (!peer_) {
    return;
  }
  if (drop_outgoing_ && drop_outgoing_(datagram)) {
    ++dropped_;
    return;
  }
  // A peer that is not listening yet answers with ICMP port unreachable; the retransmission
  // timer covers that, so send errors are not fatal here.
  (void)::sendto(fd_, datagram.data(), datagram.size(), 0,
                 reinterpret_cast<const sockaddr*>(&*peer_), sizeof(*peer_));
}

void UdpDriver::flush() {
  if (!endpoint_) {
    return;
  }
  while (auto datagram = endpoint_->poll_datagram()) {
    send_to_peer(*datagram);
  }
  while (auto event = endpoint_->poll_event()) {
    if (!outcome_ && (event->kind == EventKind::connected || event->kind == EventKind::failed)) {
      outcome_ = *event;
    }
    events_.push_back(std::move(*event));
  }
  // An event may come with datagrams to send (the server's last flight, an alert).
  while (auto datagram = endpoint_->poll_datagram()) {
    send_to_peer(*datagram);
  }
}

void UdpDriver::on_datagram(std::vector<uint8_t> datagram, const sockaddr_in& from, TimePoint now) {
  if (drop_incoming_ && drop_incoming_(datagram)) {
    ++dropped_;
    return;
  }
  received_.push_back(datagram);
  if (endpoint_) {
    if (peer_ &&
        (from.sin_port != peer_->sin_port || from.sin_addr.s_addr != peer_->sin_addr.s_addr)) {
      return;  // not our peer
    }
    endpoint_->handle_datagram(datagram, now);
    flush();
    return;
  }
  if (context_ == nullptr) {
    return;
  }
  // Server role before the cookie exchange finished: the source bytes are address and port.
  std::array<uint8_t, 6> source{};
  std::memcpy(source.data(), &from.sin_addr.s_addr, 4);
  std::memcpy(source.data() + 4, &from.sin_port, 2);
  Accepted accepted = context_->accept(datagram, source, config_, now);
  peer_ = from;
  if (accepted.reply) {
    ++hello_verify_sent_;
    send_to_peer(*accepted.reply);
  }
  if (accepted.endpoint) {
    endpoint_ = std::move(accepted.endpoint);
    flush();
  }
}

void UdpDriver::step(TimePoint until) {
  TimePoint wake = until;
  if (endpoint_) {
    if (auto deadline = endpoint_->next_deadline()) {
      wake = std::min(wake, *deadline);
    }
  }
  TimePoint now = Clock::now();
  int timeout_ms = 0;
  if (wake > now) {
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
    timeout_ms = static_cast<int>(std::min<int64_t>(wait.count(), 50));
  }
  pollfd pfd{fd_, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, timeout_ms);
  if (ready > 0 && (pfd.revents & POLLIN) != 0) {
    std::array<uint8_t, 65536> buf{};
    for (;;) {
      sockaddr_in from{};
      socklen_t from_len = sizeof(from);
      const ssize_t n =
          ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) {
        break;  // EAGAIN, or ECONNREFUSED from an earlier send
      }
      on_datagram(std::vector<uint8_t>(buf.begin(), buf.begin() + n), from, Clock::now());
    }
  }
  if (endpoint_) {
    if (auto deadline = endpoint_->next_deadline()) {
      now = Clock::now();
      if (now >= *deadline) {
        endpoint_->handle_timeout(now);
        flush();
      }
    }
  }
}

bool UdpDriver::run_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const TimePoint end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= end) {
      return done();
    }
    step(end);
  }
  return true;
}

}  // namespace srtpgate::hs::test
