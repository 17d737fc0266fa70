// The DPDK Environment Abstraction Layer, owned by one object per process.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "srtpgate/result.h"

namespace srtpgate::dp {

class Eal {
 public:
  // rte_eal_init with these arguments (argv[0] included). Fails with DPDK's reason; EAL can be
  // initialised once per process, so a second call fails too.
  static Result<std::unique_ptr<Eal>> init(const std::vector<std::string>& args);
  ~Eal();  // rte_eal_cleanup

  Eal(const Eal&) = delete;
  Eal& operator=(const Eal&) = delete;

  // How many of the arguments rte_eal_init consumed (the application's start after them).
  int consumed() const noexcept { return consumed_; }

 private:
  explicit Eal(int consumed) : consumed_(consumed) {}
  int consumed_;
};

}  // namespace srtpgate::dp
