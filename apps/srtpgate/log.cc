#include "log.h"

namespace srtpgate::app {

int log_type() noexcept {
  // Before rte_eal_init this still works: rte_log registers into a static table, and a failure
  // (-1 or worse) falls back to the generic user type so no line is lost.
  static const int type = [] {
    const int t = rte_log_register_type_and_pick_level("srtpgate", RTE_LOG_INFO);
    return t < 0 ? static_cast<int>(RTE_LOGTYPE_USER1) : t;
  }();
  return type;
}

}  // namespace srtpgate::app
