// The configuration file: the full format, defaults, and errors that name the field at fault.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "config.h"
#include "fake_service.h"
#include "json_codec.h"

namespace srtpgate::app {
namespace {

using testing::kKey;

Json session(const std::string& port = "net_ring0") {
  return Json{{"port", port},
              {"local_addr", "198.18.0.1"},
              {"local_port", 4000},
              {"remote_addr", "198.18.1.1"},
              {"remote_port", 5000},
              {"action", "unprotect"},
              {"inbound", {{"sdes", {{"profile", "AES_CM_128_HMAC_SHA1_80"}, {"key", kKey}}}}},
              {"next_hop",
               {{"port", "net_ring1"},
                {"mac", "02:00:00:00:00:01"},
                {"src_addr", "198.18.2.1"},
                {"dst_addr", "198.18.2.2"},
                {"dst_port", 7000}}}};
}

Json full_config() {
  return Json{
      {"ports",
       {{{"name", "net_ring0"}, {"addresses", {"198.18.0.1", "2001:db8::1"}}, {"rss", true}},
        {{"name", "net_ring1"}, {"addresses", {"198.18.2.1"}}, {"rss", false}}}},
      {"port_range", {30000, 30999}},
      {"stats_interval", 5},
      {"control_socket", "/tmp/x/control.sock"},
      {"flows_per_worker", 1024},
      {"mbufs", 4095},
      {"sessions", {session(), session(), session()}}};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/srtpgate-config-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void expect_error(const Json& config, const std::string& want) {
  auto r = parse_config(config.dump());
  ASSERT_FALSE(r.ok()) << config.dump();
  EXPECT_NE(r.message().find(want), std::string::npos)
      << "error: " << r.message() << "\nwanted: " << want;
  EXPECT_EQ(r.message().find(testing::kKeyB64), std::string::npos);
}

TEST(Config, FullConfiguration) {
  auto r = parse_config(full_config().dump(2));
  ASSERT_TRUE(r.ok()) << r.message();
  const AppConfig& c = r.value();
  ASSERT_EQ(c.ports.size(), 2U);
  EXPECT_EQ(c.ports[0].name, "net_ring0");
  ASSERT_EQ(c.ports[0].addresses.size(), 2U);
  EXPECT_EQ(c.ports[0].addresses[1].to_string(), "2001:db8::1");
  EXPECT_TRUE(c.ports[0].rss);
  EXPECT_FALSE(c.ports[1].rss);
  EXPECT_EQ(c.port_range_first, 30000);
  EXPECT_EQ(c.port_range_last, 30999);
  EXPECT_EQ(c.stats_interval_seconds, 5U);
  EXPECT_EQ(c.control_socket, "/tmp/x/control.sock");
  EXPECT_EQ(c.flows_per_worker, 1024U);
  EXPECT_EQ(c.mbufs, 4095U);
  EXPECT_TRUE(c.certificate_pem.empty());
  ASSERT_EQ(c.sessions.size(), 3U);
  EXPECT_EQ(c.sessions[2].next_hop.dst_port, 7000);
  EXPECT_EQ(c.sessions[0].inbound->sdes->key_params, kKey);
}

TEST(Config, Defaults) {
  auto r = parse_config(R"({"ports":[{"name":"p0","addresses":["10.0.0.1"]}]})");
  ASSERT_TRUE(r.ok()) << r.message();
  const AppConfig& c = r.value();
  const AppConfig d;
  EXPECT_TRUE(c.ports[0].rss);
  EXPECT_EQ(c.port_range_first, d.port_range_first);
  EXPECT_EQ(c.port_range_last, d.port_range_last);
  EXPECT_EQ(c.stats_interval_seconds, d.stats_interval_seconds);
  EXPECT_EQ(c.control_socket, "/run/srtpgate/control.sock");
  EXPECT_EQ(c.flows_per_worker, 65536U);
  EXPECT_EQ(c.mbufs, 16383U);
  EXPECT_TRUE(c.sessions.empty());
}

TEST(Config, LoadReadsCertificatesRelativeToTheFile) {
  TempDir dir;
  dir.write("cert.pem", "-----BEGIN CERTIFICATE-----\nx\n");
  dir.write("key.pem", "-----BEGIN PRIVATE KEY-----\ny\n");
  Json j = full_config();
  j["certificate"] = {{"cert_pem_file", "cert.pem"}, {"key_pem_file", dir.path() + "/key.pem"}};
  auto r = load_config(dir.write("srtpgate.json", j.dump()));
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.value().certificate_pem, "-----BEGIN CERTIFICATE-----\nx\n");
  EXPECT_EQ(r.value().private_key_pem, "-----BEGIN PRIVATE KEY-----\ny\n");
}

TEST(Config, LoadErrors) {
  TempDir dir;
  auto r = load_config(dir.path() + "/missing.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cannot read"), std::string::npos) << r.message();

  Json j = full_config();
  j["certificate"] = {{"cert_pem_file", "nope.pem"}, {"key_pem_file", "nope.pem"}};
  r = load_config(dir.write("c.json", j.dump()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("certificate.cert_pem_file: cannot read"), std::string::npos)
      << r.message();
}

TEST(Config, Errors) {
  auto bad = parse_config("{\"ports\": [");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("not valid JSON"), std::string::npos);
  bad = parse_config("[]");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("must be a JSON object"), std::string::npos);

  auto with = [](auto mutate) {
    Json j = full_config();
    mutate(j);
    return j;
  };
  expect_error(with([](Json& j) { j["workers"] = 2; }), "workers: unknown field");
  expect_error(with([](Json& j) { j.erase("ports"); }), "ports: missing");
  expect_error(with([](Json& j) { j["ports"] = Json::array(); }),
               "ports: must be a non-empty array");
  expect_error(with([](Json& j) { j["ports"][1]["addresses"][0] = "10.0.0.300"; }),
               "ports[1].addresses[0]: '10.0.0.300' is not an IPv4 or IPv6 address");
  expect_error(with([](Json& j) { j["ports"][0]["queues"] = 2; }),
               "ports[0].queues: unknown field");
  expect_error(with([](Json& j) { j["ports"][0].erase("name"); }), "ports[0].name: missing");
  expect_error(with([](Json& j) { j["ports"][1]["name"] = "net_ring0"; }),
               "ports[1].name: 'net_ring0' is configured twice");
  expect_error(with([](Json& j) { j["ports"][0]["addresses"] = Json::array(); }),
               "ports[0].addresses: must be a non-empty array");
  expect_error(with([](Json& j) { j["ports"][0]["rss"] = "yes"; }),
               "ports[0].rss: must be true or false");
  expect_error(with([](Json& j) {
                 j["port_range"] = {20001, 29999};
               }),
               "port_range[0]: 20001 is odd");
  expect_error(with([](Json& j) {
                 j["port_range"] = {30000, 20000};
               }),
               "port_range: first 30000 is above last 20000");
  expect_error(with([](Json& j) {
                 j["port_range"] = {1000, 2000};
               }),
               "port_range[0]: 1000 is outside 1024..65535");
  expect_error(with([](Json& j) {
                 j["port_range"] = {2000, 70000};
               }),
               "port_range[1]: 70000 is outside 1024..65535");
  expect_error(with([](Json& j) { j["port_range"] = 20000; }), "port_range: must be [first, last]");
  expect_error(with([](Json& j) { j["stats_interval"] = "1s"; }),
               "stats_interval: must be an integer");
  expect_error(with([](Json& j) { j["control_socket"] = std::string(200, 'x'); }),
               "control_socket: must be a path");
  expect_error(with([](Json& j) { j["mbufs"] = 0; }), "mbufs: 0 is outside");
  expect_error(with([](Json& j) { j["flows_per_worker"] = -5; }),
               "flows_per_worker: -5 is outside");
  expect_error(with([](Json& j) {
                 j["certificate"] = {{"cert_pem_file", "a.pem"}};
               }),
               "certificate.key_pem_file: missing");
  expect_error(with([](Json& j) {
                 j["certificate"] = {{"cert_pem", "x"}};
               }),
               "certificate.cert_pem: unknown field");
  expect_error(with([](Json& j) { j["sessions"] = Json::object(); }), "sessions: must be an array");
  expect_error(with([](Json& j) { j["sessions"][2]["next_hop"]["mac"] = "02:00:00:00:00"; }),
               "sessions[2].next_hop.mac: '02:00:00:00:00' must be six hex bytes");
  expect_error(with([](Json& j) { j["sessions"][1]["cmd"] = "create"; }),
               "sessions[1].cmd: unknown field");
  expect_error(with([](Json& j) { j["sessions"][0]["inbound"]["sdes"]["key"] = "inline:AAAA"; }),
               "sessions[0].inbound.sdes.key: ");
  expect_error(with([](Json& j) { j["sessions"][1]["port"] = "net_ring7"; }),
               "sessions[1].port: 'net_ring7' is not in ports");
  expect_error(with([](Json& j) { j["sessions"][1]["next_hop"]["port"] = "eth9"; }),
               "sessions[1].next_hop.port: 'eth9' is not in ports");
  expect_error(with([](Json& j) { j["sessions"][0] = 5; }),
               "sessions[0]: must be an object, not number");
}

}  // namespace
}  // namespace srtpgate::app
