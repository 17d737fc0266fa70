// Real DTLS peers (openssl, gnutls) as child processes, and the files they read and write.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "srtpgate/result.h"

namespace srtpgate::hs::test {

// Whether `program` is an executable file on PATH.
bool have_program(const std::string& program);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  static Result<TempDir> create();
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

Result<void> write_file(const std::string& path, const std::string& contents);
std::string read_file(const std::string& path);  // "" when missing

// Runs `sh -c command` and returns its stdout (exit status must be 0).
Result<std::string> run_capture(const std::string& command);

// A UDP port on 127.0.0.1 that was free a moment ago (bound to 0, read back, closed).
Result<uint16_t> free_udp_port();

// `sh -c command` in its own process group with stdout and stderr appended to `output_path`.
// The destructor sends SIGTERM to that group (only the processes this object started) and
// reaps the shell.
class PeerProcess {
 public:
  static Result<std::unique_ptr<PeerProcess>> start(const std::string& command,
                                                    const std::string& output_path);
  ~PeerProcess();
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  std::string output() const { return read_file(output_path_); }
  bool output_contains(const std::string& needle) const;
  // Whether the shell has exited (reaps it when it has).
  bool exited();
  // Waits for `needle` in the output, or for the process to exit, at most `limit`.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds limit);
  void stop();

 private:
  PeerProcess(pid_t pid, std::string output_path)
      : pid_(pid), output_path_(std::move(output_path)) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string output_path_;
};

// The hex after "Keying material: " (openssl) or "Key material: " (gnutls-cli), upper-cased.
std::optional<std::string> printed_keying_material(const std::string& output);

}  // namespace srtpgate::hs::test
