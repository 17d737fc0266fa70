// The DPDK tests share one EAL per process: no hugepages, no PCI, small memory, every lcore
// mapped onto the CPUs this machine has (the tests' workers are polled or run on lcores 1..3).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "srtpgate/dp/eal.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::vector<std::string> args = {"srtpgate-dp-tests",
                                         "--no-huge",
                                         "--no-pci",
                                         "-m",
                                         "1536",
                                         "--lcores",
                                         "(0-3)@(0-1)",
                                         "--log-level",
                                         "lib.eal:error",
                                         "--no-shconf",
                                         "--file-prefix",
                                         "sgtest" + std::to_string(getpid())};
  auto eal = srtpgate::dp::Eal::init(args);
  if (!eal) {
    std::fprintf(stderr, "EAL: %s\n", eal.message().c_str());
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  return rc;
}
