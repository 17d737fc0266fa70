#include "telemetry.h"

#include <rte_telemetry.h>

#include <charconv>
#include <cstdlib>
#include <mutex>
#include <string>

namespace srtpgate::app::telemetry {
namespace {

struct Snapshot {
  std::mutex mutex;
  ServiceStats stats;
  std::vector<SessionInfo> sessions;
};

Snapshot& snapshot() {
  static Snapshot s;
  return s;
}

void add_worker(rte_tel_data* d, const dp::WorkerStats& w, bool with_drops) {
  rte_tel_data_add_dict_u64(d, "rx_packets", w.rx_packets);
  rte_tel_data_add_dict_u64(d, "rx_bytes", w.rx_bytes);
  rte_tel_data_add_dict_u64(d, "tx_packets", w.tx_packets);
  rte_tel_data_add_dict_u64(d, "tx_bytes", w.tx_bytes);
  rte_tel_data_add_dict_u64(d, "punted", w.punted);
  rte_tel_data_add_dict_u64(d, "dropped", w.dropped());
  if (with_drops) {
    rte_tel_data_add_dict_u64(d, "polls", w.polls);
    rte_tel_data_add_dict_u64(d, "busy_polls", w.busy_polls);
    rte_tel_data_add_dict_u64(d, "flows", w.flows);
  }
}

// Drops by reason as a nested dict, every reason present (zero included) so scrapers see a
// fixed schema.
void add_drops(rte_tel_data* d, const std::array<uint64_t, dp::kDropCount>& drops) {
  rte_tel_data* c = rte_tel_data_alloc();
  if (c == nullptr) {
    return;
  }
  rte_tel_data_start_dict(c);
  for (std::size_t i = 0; i < dp::kDropCount; ++i) {
    rte_tel_data_add_dict_u64(c, std::string(dp::name(static_cast<dp::Drop>(i))).c_str(), drops[i]);
  }
  rte_tel_data_add_dict_container(d, "drops", c, 0);
}

int cmd_stats(const char*, const char*, rte_tel_data* d) {
  Snapshot& s = snapshot();
  std::lock_guard lock(s.mutex);
  dp::WorkerStats total;
  for (const auto& w : s.stats.workers) {
    total += w;
  }
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "workers", s.stats.workers.size());
  rte_tel_data_add_dict_u64(d, "sessions", s.stats.sessions);
  rte_tel_data_add_dict_u64(d, "handshaking", s.stats.handshaking);
  rte_tel_data_add_dict_u64(d, "punted_stun", s.stats.punted_stun);
  rte_tel_data_add_dict_u64(d, "punted_dtls", s.stats.punted_dtls);
  rte_tel_data_add_dict_u64(d, "punted_other", s.stats.punted_other);
  rte_tel_data_add_dict_u64(d, "dtls_unmatched", s.stats.dtls_unmatched);
  add_worker(d, total, false);
  add_drops(d, total.drops);
  return 0;
}

int cmd_workers(const char*, const char*, rte_tel_data* d) {
  Snapshot& s = snapshot();
  std::lock_guard lock(s.mutex);
  rte_tel_data_start_dict(d);
  for (std::size_t i = 0; i < s.stats.workers.size() && i < RTE_TEL_MAX_DICT_ENTRIES; ++i) {
    rte_tel_data* w = rte_tel_data_alloc();
    if (w == nullptr) {
      return -ENOMEM;
    }
    rte_tel_data_start_dict(w);
    add_worker(w, s.stats.workers[i], true);
    rte_tel_data_add_dict_u64(w, "drops_total", s.stats.workers[i].dropped());
    rte_tel_data_add_dict_container(d, std::to_string(i).c_str(), w, 0);
  }
  return 0;
}

int cmd_sessions(const char*, const char*, rte_tel_data* d) {
  Snapshot& s = snapshot();
  std::lock_guard lock(s.mutex);
  rte_tel_data_start_array(d, RTE_TEL_U64_VAL);
  // A telemetry array holds at most RTE_TEL_MAX_ARRAY_ENTRIES; the control socket lists all.
  for (std::size_t i = 0; i < s.sessions.size() && i < RTE_TEL_MAX_ARRAY_ENTRIES; ++i) {
    rte_tel_data_add_array_u64(d, s.sessions[i].id);
  }
  return 0;
}

int cmd_session(const char*, const char* params, rte_tel_data* d) {
  if (params == nullptr || *params == '\0') {
    return -EINVAL;
  }
  const std::string_view p(params);
  uint64_t id = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), id);
  if (ec != std::errc() || ptr != p.data() + p.size()) {
    return -EINVAL;
  }
  Snapshot& s = snapshot();
  std::lock_guard lock(s.mutex);
  for (const SessionInfo& i : s.sessions) {
    if (i.id != id) {
      continue;
    }
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "id", i.id);
    rte_tel_data_add_dict_string(d, "label", i.label.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
    rte_tel_data_add_dict_string(d, "state", std::string(name(i.state)).c_str());
    if (!i.failure.empty()) {
      rte_tel_data_add_dict_string(d, "failure",
                                   i.failure.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
    }
    rte_tel_data_add_dict_string(d, "action", std::string(dp::name(i.action)).c_str());
    rte_tel_data_add_dict_string(d, "port", i.port.c_str());
    rte_tel_data_add_dict_string(
        d, "local", (i.local_addr.to_string() + ":" + std::to_string(i.local_port)).c_str());
    rte_tel_data_add_dict_string(
        d, "remote", (i.remote_addr.to_string() + ":" + std::to_string(i.remote_port)).c_str());
    if (i.inbound_profile) {
      rte_tel_data_add_dict_string(d, "inbound_profile",
                                   std::string(srtp::name(*i.inbound_profile)).c_str());
    }
    if (i.outbound_profile) {
      rte_tel_data_add_dict_string(d, "outbound_profile",
                                   std::string(srtp::name(*i.outbound_profile)).c_str());
    }
    rte_tel_data_add_dict_u64(d, "worker", i.worker);
    rte_tel_data_add_dict_u64(d, "age_seconds", i.age_seconds);
    rte_tel_data_add_dict_u64(d, "rx_packets", i.counters.rx_packets);
    rte_tel_data_add_dict_u64(d, "rx_bytes", i.counters.rx_bytes);
    rte_tel_data_add_dict_u64(d, "tx_packets", i.counters.tx_packets);
    rte_tel_data_add_dict_u64(d, "tx_bytes", i.counters.tx_bytes);
    rte_tel_data_add_dict_u64(d, "rtcp_packets", i.counters.rtcp_packets);
    add_drops(d, i.counters.drops);
    return 0;
  }
  return -ENOENT;
}

}  // namespace

Result<void> register_commands() {
  struct Cmd {
    const char* name;
    telemetry_cb fn;
    const char* help;
  };
  static constexpr Cmd kCmds[] = {
      {"/srtpgate/stats", cmd_stats, "Totals of all workers and drops by reason. No parameters"},
      {"/srtpgate/workers", cmd_workers, "Counters of each worker. No parameters"},
      {"/srtpgate/sessions", cmd_sessions, "Ids of the sessions. No parameters"},
      {"/srtpgate/session", cmd_session, "One session's state and counters. Parameter: id"},
  };
  for (const Cmd& c : kCmds) {
    if (rte_telemetry_register_cmd(c.name, c.fn, c.help) != 0) {
      return make_error(std::string("telemetry: cannot register ") + c.name);
    }
  }
  return {};
}

void publish(ServiceStats stats, std::vector<SessionInfo> sessions) {
  Snapshot& s = snapshot();
  std::lock_guard lock(s.mutex);
  s.stats = std::move(stats);
  s.sessions = std::move(sessions);
}

}  // namespace srtpgate::app::telemetry
