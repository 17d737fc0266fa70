// EAL start-up and clean-up.
#include "srtpgate/dp/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>

namespace srtpgate::dp {

Result<std::unique_ptr<Eal>> Eal::init(const std::vector<std::string>& args) {
  // rte_eal_init may reorder argv and keeps pointers into it for the process's life.
  static std::vector<std::string> kept;
  static std::vector<char*> argv;
  if (!kept.empty()) {
    return make_error("the DPDK EAL is already initialised in this process");
  }
  kept = args;
  argv.clear();
  for (auto& a : kept) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const int n = rte_eal_init(static_cast<int>(kept.size()), argv.data());
  if (n < 0) {
    return make_error(std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno));
  }
  return std::unique_ptr<Eal>(new Eal(n));
}

Eal::~Eal() { rte_eal_cleanup(); }

}  // namespace srtpgate::dp
