#include "control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "srtpgate/secret.h"

namespace srtpgate::app {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

// True when something accepts connections on `path` (a live daemon): then we must not unlink it.
bool someone_listens(const sockaddr_un& addr) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return live;
}

bool ours_or_roots(const struct stat& st) { return st.st_uid == ::geteuid() || st.st_uid == 0; }

// Whoever can write the socket's folder can replace the socket with their own and read the
// requests sent to it, keys included: a folder another user made in /tmp, say. The folder must
// be a directory owned by us or root, and writable by no one else unless it is sticky like /tmp
// itself (then only the owner of a name may remove or rename it). A symbolic link to it counts
// only if we or root own the link (as /var/run -> /run), since its owner could point it
// elsewhere later. Only this folder is checked, not the ones above it (docs/control.md).
Result<void> folder_only_we_control(const std::string& folder) {
  struct stat st {};
  if (::lstat(folder.c_str(), &st) != 0) {
    return make_error("control socket folder " + folder + ": " + errno_text(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    if (!ours_or_roots(st)) {
      return make_error("control socket folder " + folder + " is a symbolic link of uid " +
                        std::to_string(st.st_uid) + ", who could point it elsewhere");
    }
    if (::stat(folder.c_str(), &st) != 0) {
      return make_error("control socket folder " + folder + ": " + errno_text(errno));
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error("control socket folder " + folder + " is not a directory");
  }
  if (!ours_or_roots(st)) {
    return make_error("control socket folder " + folder + " belongs to uid " +
                      std::to_string(st.st_uid) + ", not to us or root: its owner could " +
                      "replace the socket; choose another path");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return make_error("control socket folder " + folder +
                      " is writable by others and not sticky: they could replace the socket");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<ControlSocket>> ControlSocket::open(const std::string& path,
                                                           Handler handler) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return make_error("control socket path must be 1.." +
                      std::to_string(sizeof(addr.sun_path) - 1) + " bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    if (std::filesystem::create_directories(parent, ec) && !ec) {
      // Made by us: writable by us only, whatever the umask (a umask of 002 would otherwise
      // leave it group-writable, which the check below refuses).
      ::chmod(parent.c_str(), 0755);
    }
    if (ec) {
      return make_error("cannot create " + parent.string() + ": " + ec.message());
    }
  }
  if (auto safe = folder_only_we_control(parent.empty() ? "." : parent.string()); !safe) {
    return safe.error();
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(path + " exists and is not a socket");
    }
    if (someone_listens(addr)) {
      return make_error(path + ": another process is serving this control socket");
    }
    ::unlink(path.c_str());  // stale, left by a daemon that did not exit cleanly
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return make_error("socket: " + errno_text(errno));
  }
  // Bind under a restrictive umask so the socket is never reachable with wider permissions.
  const mode_t old_mask = ::umask(0117);
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) {
    ::close(fd);
    return make_error("bind " + path + ": " + errno_text(bind_errno));
  }
  ::chmod(path.c_str(), 0660);
  if (::listen(fd, 16) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return make_error("listen " + path + ": " + errno_text(e));
  }
  return std::unique_ptr<ControlSocket>(new ControlSocket(fd, path, std::move(handler)));
}

ControlSocket::~ControlSocket() {
  for (Client& c : clients_) {
    ::close(c.fd);
  }
  // The file is ours only while we listen: after stop_accepting() a daemon started meanwhile
  // may have bound the same path.
  stop_accepting();
}

void ControlSocket::stop_accepting() noexcept {
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(path_.c_str());
  }
}

void ControlSocket::accept_clients() noexcept {
  while (true) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;  // EAGAIN, or a connection that went away before we took it
    }
    if (clients_.size() >= kMaxClients) {
      static constexpr char kBusy[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";
      (void)!::write(fd, kBusy, sizeof(kBusy) - 1);
      ::close(fd);
      continue;
    }
    try {
      clients_.push_back(Client{fd, {}, {}, false});
    } catch (...) {
      ::close(fd);
      return;
    }
  }
}

std::size_t ControlSocket::pending_output_bytes() const noexcept {
  std::size_t total = 0;
  for (const Client& c : clients_) {
    total += c.out.size();
  }
  return total;
}

bool ControlSocket::answer_lines(Client& c) noexcept {
  try {
    std::size_t start = 0;
    std::size_t nl;
    while (c.out.size() <= kMaxPendingOutput &&
           (nl = c.in.view().find('\n', start)) != std::string_view::npos) {
      std::string_view line(c.in.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      if (line.size() > kMaxLine) {
        c.out += "{\"ok\":false,\"error\":\"request line longer than 65536 bytes\"}\n";
        c.closing = true;
        c.in.clear();
        return true;
      }
      if (!line.empty()) {
        c.out += handler_(line);
        c.out += '\n';
      }
      start = nl + 1;
    }
    c.in.erase_front(start);
    // Only a line without its newline yet can be too long here: complete ones waiting for the
    // client to read its answers are not.
    if (c.in.size() > kMaxLine && c.in.view().find('\n') == std::string_view::npos) {
      c.out += "{\"ok\":false,\"error\":\"request line longer than 65536 bytes\"}\n";
      c.closing = true;
      c.in.clear();
    }
    return true;
  } catch (...) {
    return false;
  }
}

bool ControlSocket::read_client(Client& c) noexcept {
  char buf[16384];
  for (std::size_t budget = kReadBudget; budget != 0 && c.out.size() <= kMaxPendingOutput;) {
    const ssize_t n = ::read(c.fd, buf, std::min(sizeof(buf), budget));
    if (n == 0) {
      return !c.out.empty() ? (c.closing = true) : false;  // peer closed; flush answers first
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    budget -= static_cast<std::size_t>(n);
    bool stored = true;
    try {
      c.in.append(std::string_view(buf, static_cast<std::size_t>(n)));
    } catch (...) {
      stored = false;
    }
    secure_zero(buf, static_cast<std::size_t>(n));  // a stack copy of requests, keys and all
    if (!stored) {
      return false;
    }
    if (!answer_lines(c)) {
      return false;
    }
    if (c.closing) {
      return true;
    }
  }
  return true;
}

bool ControlSocket::write_client(Client& c) noexcept {
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return true;
      }
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  return !c.closing;
}

void ControlSocket::service(int timeout_ms) noexcept {
  pollfd fds[kMaxClients + 1];
  nfds_t n = 0;
  if (listen_fd_ >= 0) {
    fds[n++] = pollfd{listen_fd_, POLLIN, 0};
  }
  for (const Client& c : clients_) {
    const bool reading = !c.closing && c.out.size() <= kMaxPendingOutput;
    const int events = (reading ? POLLIN : 0) | (c.out.empty() ? 0 : POLLOUT);
    fds[n++] = pollfd{c.fd, static_cast<short>(events), 0};
  }
  if (n == 0) {
    return;
  }
  const int ready = ::poll(fds, n, timeout_ms);
  if (ready <= 0) {
    return;
  }
  nfds_t i = 0;
  if (listen_fd_ >= 0) {
    ++i;
  }
  const std::size_t existing = clients_.size();
  for (std::size_t k = 0; k < existing; ++k, ++i) {
    Client& c = clients_[k];
    bool alive = true;
    if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
      alive = read_client(c);
    }
    if (alive && !c.out.empty()) {
      alive = write_client(c);
      // Requests held back while the answers piled up: answer them now that there is room.
      if (alive && !c.closing && !c.in.empty()) {
        alive = answer_lines(c);
      }
    } else if (alive && c.closing) {
      alive = false;
    }
    if (!alive) {
      ::close(c.fd);
      c.fd = -1;
    }
  }
  std::erase_if(clients_, [](const Client& c) { return c.fd < 0; });
  if (listen_fd_ >= 0 && (fds[0].revents & POLLIN)) {
    accept_clients();
  }
}

}  // namespace srtpgate::app
