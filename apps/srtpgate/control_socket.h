// The control socket: a non-blocking AF_UNIX stream server speaking one request per line
// (docs/control.md). Serviced from the main lcore's event loop with poll(2); no threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "secret_string.h"
#include "srtpgate/result.h"

namespace srtpgate::app {

class ControlSocket {
 public:
  using Handler = std::function<std::string(std::string_view line)>;
  static constexpr std::size_t kMaxClients = 64;
  static constexpr std::size_t kMaxLine = 64 * 1024;
  // A client's answers not yet written: past this, its requests are not read (they wait in the
  // socket, and the kernel stops the client) until it reads what it was sent. One answer may
  // cross the bound, so a client holds at most this plus one answer.
  static constexpr std::size_t kMaxPendingOutput = 1024 * 1024;
  // Bytes read from one client per service() call, so a client that keeps writing cannot keep
  // the control thread (and the rest of its loop) in here.
  static constexpr std::size_t kReadBudget = 64 * 1024;

  // Creates the parent directory if missing, removes a stale socket file (one nobody accepts
  // on), binds and listens with mode 0660. Fails if another process is listening there.
  static Result<std::unique_ptr<ControlSocket>> open(const std::string& path, Handler handler);
  ~ControlSocket();  // closes every connection and unlinks the socket file
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  // Waits up to `timeout_ms` for activity, then accepts, reads, answers each complete line and
  // writes what it can without blocking. A line longer than kMaxLine gets an error response
  // and the connection is closed.
  void service(int timeout_ms) noexcept;
  // Stops accepting new connections (shutdown); the existing ones are still served.
  void stop_accepting() noexcept;
  std::size_t clients() const noexcept { return clients_.size(); }
  // Answers held for all clients, not yet written.
  std::size_t pending_output_bytes() const noexcept;
  const std::string& path() const noexcept { return path_; }

 private:
  struct Client {
    int fd = -1;
    SecretString in;  // requests carry SDES keys: wiped as they are answered, and on close
    std::string out;
    bool closing = false;  // close once `out` is written
  };
  ControlSocket(int fd, std::string path, Handler handler)
      : listen_fd_(fd), path_(std::move(path)), handler_(std::move(handler)) {}
  void accept_clients() noexcept;
  bool read_client(Client& c) noexcept;   // false: close it
  // Answers the complete lines in `c.in` while its answers fit kMaxPendingOutput.
  bool answer_lines(Client& c) noexcept;  // false: close it
  bool write_client(Client& c) noexcept;  // false: close it

  int listen_fd_ = -1;
  std::string path_;
  Handler handler_;
  std::vector<Client> clients_;
};

}  // namespace srtpgate::app
