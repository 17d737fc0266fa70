// A scratch folder under /tmp for the files a test writes (configurations, certificates),
// removed with everything in it when the test ends.
#pragma once

#include <fcntl.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace srtpgate::app::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/srtpgate-test-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::filesystem::remove_all(path_);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `text` to the file `name` in the folder; returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Opens the FIFO at `path` for writing once a reader has it open, in blocking mode; -1 if no
// reader came within 3 s. Non-blocking until then (ENXIO), so a reader that never comes fails
// the test instead of hanging it.
inline int open_fifo_writer(const std::string& path) {
  int fd = -1;
  for (int i = 0; i < 300 && fd < 0; ++i) {
    fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (fd >= 0) ::fcntl(fd, F_SETFL, 0);
  return fd;
}

}  // namespace srtpgate::app::testing
