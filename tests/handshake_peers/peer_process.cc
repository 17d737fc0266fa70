#include "peer_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace srtpgate::hs::test {

bool have_program(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

Result<TempDir> TempDir::create() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr ? base : "/tmp") + "/srtpgate-peers-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return make_error("mkdtemp " + templ + ": " + std::strerror(errno));
  }
  return TempDir(templ);
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

Result<void> write_file(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) {
    return make_error("cannot write " + path);
  }
  return {};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> run_capture(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return make_error("popen: " + command);
  }
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) {
    out.append(buf, n);
  }
  const int status = ::pclose(pipe);
  if (status != 0) {
    return make_error("command failed (status " + std::to_string(status) + "): " + command);
  }
  return out;
}

Result<uint16_t> free_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return make_error(std::string("socket: ") + std::strerror(errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return make_error(std::string("bind: ") + std::strerror(errno));
  }
  ::close(fd);
  return static_cast<uint16_t>(ntohs(addr.sin_port));
}

Result<std::unique_ptr<PeerProcess>> PeerProcess::start(const std::string& command,
                                                        const std::string& output_path) {
  const pid_t pid = ::fork();
  if (pid < 0) {
    return make_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    const int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) {
      ::_exit(127);
    }
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before any kill
  return std::unique_ptr<PeerProcess>(new PeerProcess(pid, output_path));
}

bool PeerProcess::output_contains(const std::string& needle) const {
  return output().find(needle) != std::string::npos;
}

bool PeerProcess::exited() {
  if (reaped_) {
    return true;
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
  }
  return reaped_;
}

bool PeerProcess::wait_for_output(const std::string& needle, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (output_contains(needle)) {
      return true;
    }
    if (exited()) {
      return output_contains(needle);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return output_contains(needle);
}

void PeerProcess::stop() {
  if (pid_ <= 0) {
    return;
  }
  // The group this object created: the shell, its `sleep` and `timeout`, which passes the
  // signal on to the peer it runs.
  ::kill(-pid_, SIGTERM);
  if (!reaped_) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
  }
  pid_ = -1;
}

PeerProcess::~PeerProcess() { stop(); }

std::optional<std::string> printed_keying_material(const std::string& output) {
  for (const char* marker : {"Keying material: ", "Key material: "}) {
    const size_t at = output.find(marker);
    if (at == std::string::npos) {
      continue;
    }
    std::string hex;
    for (size_t i = at + std::strlen(marker);
         i < output.size() && std::isxdigit(static_cast<unsigned char>(output[i])) != 0; ++i) {
      hex.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(output[i]))));
    }
    return hex;
  }
  return std::nullopt;
}

}  // namespace srtpgate::hs::test
