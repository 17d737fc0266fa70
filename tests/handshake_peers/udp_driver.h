// Drives one sans-IO Endpoint over a real UDP socket on 127.0.0.1 with the real clock: received
// datagrams go to handle_datagram, handle_timeout runs at next_deadline, poll_datagram output is
// sent. The server role answers ClientHellos through Context::accept until a cookie is valid.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "srtpgate/hs/context.h"
#include "srtpgate/hs/endpoint.h"
#include "srtpgate/result.h"

namespace srtpgate::hs::test {

class UdpDriver {
 public:
  // Binds a UDP socket to 127.0.0.1 on a free port chosen by the kernel.
  static Result<std::unique_ptr<UdpDriver>> bind_loopback();
  ~UdpDriver();
  UdpDriver(const UdpDriver&) = delete;
  UdpDriver& operator=(const UdpDriver&) = delete;

  uint16_t port() const noexcept { return port_; }

  // Client role (a=setup:active): creates the endpoint and sends its ClientHello to the peer.
  Result<void> start_client(Context& context, const EndpointConfig& config, uint16_t peer_port);
  // Server role (a=setup:passive): the endpoint is created by Context::accept once a
  // ClientHello carries a valid cookie.
  void start_server(Context& context, const EndpointConfig& config);

  // Runs the loop until `done()` is true (checked between steps) or `limit` has passed.
  // Returns whether `done()` became true.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

  // The first connected or failed event, once there is one.
  const std::optional<Event>& outcome() const noexcept { return outcome_; }
  // Every event in order (connected, failed, closed).
  const std::vector<Event>& events() const noexcept { return events_; }
  // Every datagram the peer sent us, in arrival order.
  const std::vector<std::vector<uint8_t>>& received() const noexcept { return received_; }
  Endpoint* endpoint() const noexcept { return endpoint_.get(); }
  // Loss on purpose: a datagram for which `drop` returns true is not sent (outgoing) or not
  // handed to the endpoint (incoming). Counts what was dropped.
  void set_drop_outgoing(std::function<bool(const std::vector<uint8_t>&)> drop) {
    drop_outgoing_ = std::move(drop);
  }
  void set_drop_incoming(std::function<bool(const std::vector<uint8_t>&)> drop) {
    drop_incoming_ = std::move(drop);
  }
  int dropped() const noexcept { return dropped_; }
  // HelloVerifyRequests sent by the server role before an endpoint existed.
  int hello_verify_sent() const noexcept { return hello_verify_sent_; }

 private:
  explicit UdpDriver(int fd, uint16_t port) : fd_(fd), port_(port) {}
  void step(TimePoint until);
  void on_datagram(std::vector<uint8_t> datagram, const sockaddr_in& from, TimePoint now);
  void flush();
  void send_to_peer(const std::vector<uint8_t>& datagram);

  int fd_ = -1;
  uint16_t port_ = 0;
  Context* context_ = nullptr;
  EndpointConfig config_;
  std::unique_ptr<Endpoint> endpoint_;
  std::optional<sockaddr_in> peer_;
  std::optional<Event> outcome_;
  std::vector<Event> events_;
  std::vector<std::vector<uint8_t>> received_;
  int hello_verify_sent_ = 0;
  std::function<bool(const std::vector<uint8_t>&)> drop_outgoing_;
  std::function<bool(const std::vector<uint8_t>&)> drop_incoming_;
  int dropped_ = 0;
};

}  // namespace srtpgate::hs::test
