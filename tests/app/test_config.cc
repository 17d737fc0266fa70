// The configuration file: the full format, defaults, and errors that name the field at fault.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "config.h"
#include "fake_service.h"
#include "json_codec.h"
#include "temp_dir.h"

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
      {"stage_clock", true},
      {"sessions", {session(), session(), session()}}};
}

using testing::TempDir;

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
  EXPECT_TRUE(c.stage_clock);
  EXPECT_TRUE(c.certificate_pem.empty());
  ASSERT_EQ(c.sessions.size(), 3U);
  EXPECT_EQ(c.sessions[2].next_hop.dst_port, 7000);
  EXPECT_EQ(c.sessions[0].inbound->sdes->key_params.view(), kKey);
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
  EXPECT_FALSE(c.stage_clock);
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
  EXPECT_EQ(r.value().private_key_pem.view(), "-----BEGIN PRIVATE KEY-----\ny\n");
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

// Each named file that is not a usable PEM file is refused, naming the file: before the fix, a
// directory or an empty file read as "" and the daemon generated a certificate instead.
TEST(Config, LoadRefusesCertificateFilesThatCannotBeUsed) {
  TempDir dir;
  const std::string good = dir.write("good.pem", "-----BEGIN CERTIFICATE-----\nx\n");
  const std::string empty = dir.write("empty.pem", "");
  const std::string large = dir.write("large.pem", "");
  ASSERT_EQ(::truncate(large.c_str(), (1 << 20) + 1), 0);  // sparse: nothing is written
  std::filesystem::create_directory(dir.path() + "/folder.pem");
  struct Case {
    std::string cert;
    std::string key;
    std::string want;
  };
  const Case cases[] = {
      {dir.path() + "/folder.pem", good,
       "certificate.cert_pem_file: cannot read '" + dir.path() + "/folder.pem': it is a directory"},
      {"folder.pem", good,
       "certificate.cert_pem_file: cannot read '" + dir.path() + "/folder.pem': it is a directory"},
      {empty, good, "certificate.cert_pem_file: '" + empty + "' is empty"},
      {good, empty, "certificate.key_pem_file: '" + empty + "' is empty"},
      {good, large,
       "certificate.key_pem_file: cannot read '" + large + "': larger than 1048576 bytes"},
      {"/dev/zero", good, "certificate.cert_pem_file: cannot read '/dev/zero': not a regular file"},
  };
  for (const Case& c : cases) {
    Json j = full_config();
    j["certificate"] = {{"cert_pem_file", c.cert}, {"key_pem_file", c.key}};
    auto r = load_config(dir.write("c.json", j.dump()));
    ASSERT_FALSE(r.ok()) << c.cert << " " << c.key;
    EXPECT_NE(r.message().find(c.want), std::string::npos)
        << "error: " << r.message() << "\nwanted: " << c.want;
  }

  auto r = load_config(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cannot read '" + dir.path() + "': it is a directory"),
            std::string::npos)
      << r.message();
}

// A FIFO is refused at once; before the fix the open waited for a writer for ever.
TEST(Config, LoadRefusesAFifoWithoutWaiting) {
  TempDir dir;
  const std::string fifo = dir.path() + "/cert.pem";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Json j = full_config();
  j["certificate"] = {{"cert_pem_file", fifo}, {"key_pem_file", fifo}};
  auto r = load_config(dir.write("c.json", j.dump()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cannot read '" + fifo + "': not a regular file"), std::string::npos)
      << r.message();
}

// The configuration itself, named by the operator, may come from a pipe (`--config /dev/stdin`,
// `--config <(generate)`: keys never on disk), read to its end however slowly it is written;
// a device is read up to the limit and no further.
TEST(Config, LoadReadsTheConfigurationFromAPipeAndBoundsADevice) {
  TempDir dir;
  const std::string fifo = dir.path() + "/c.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string text = full_config().dump();
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // load_config waits for it
    const int fd = testing::open_fifo_writer(fifo);
    if (fd < 0) return;
    const std::size_t half = text.size() / 2;
    EXPECT_EQ(::write(fd, text.data(), half), static_cast<ssize_t>(half));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(::write(fd, text.data() + half, text.size() - half),
              static_cast<ssize_t>(text.size() - half));
    ::close(fd);
  });
  auto r = load_config(fifo);
  writer.join();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->ports.size(), full_config()["ports"].size());
  auto zero = load_config("/dev/zero");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.message().find("larger than"), std::string::npos) << zero.message();
}

TEST(Config, CertificatePathsAreRelativeToTheConfigurationsFolder) {
  using detail::resolve_config_relative;
  EXPECT_EQ(resolve_config_relative("/etc/srtpgate/x.json", "cert.pem"), "/etc/srtpgate/cert.pem");
  EXPECT_EQ(resolve_config_relative("/etc/srtpgate/x.json", "/k/cert.pem"), "/k/cert.pem");
  EXPECT_EQ(resolve_config_relative("/x.json", "cert.pem"), "/cert.pem");
  EXPECT_EQ(resolve_config_relative("/x.json", "tls/cert.pem"), "/tls/cert.pem");
  EXPECT_EQ(resolve_config_relative("x.json", "cert.pem"), "cert.pem");
  EXPECT_EQ(resolve_config_relative("conf/x.json", "cert.pem"), "conf/cert.pem");
  EXPECT_EQ(resolve_config_relative("", "cert.pem"), "cert.pem");
}

// nlohmann keeps the last of repeated members; the configuration refuses them instead, naming the
// member, at any depth.
TEST(Config, DuplicateMembersAreRefused) {
  const std::string ports = full_config()["ports"].dump();
  const std::string s = session().dump();
  auto expect = [](const std::string& text, const std::string& want) {
    auto r = parse_config(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.message().find(want), std::string::npos)
        << "error: " << r.message() << "\nwanted: " << want;
    EXPECT_EQ(r.message().find(testing::kKeyB64), std::string::npos) << r.message();
  };
  ASSERT_TRUE(parse_config(R"({"ports":)" + ports + R"(,"sessions":[)" + s + "]}").ok());
  expect(R"({"ports":)" + ports + R"(,"sessions":[)" + s + R"(],"sessions":[)" + s + "]}",
         "sessions: duplicate field");
  expect(R"({"stats_interval":1,"ports":)" + ports + R"(,"stats_interval":2})",
         "stats_interval: duplicate field");

  // The second session's SDES object names "key" twice.
  std::string twice = s;
  const std::string key = std::string(R"("key":")") + kKey + "\"";
  const auto at = twice.find(key);
  ASSERT_NE(at, std::string::npos) << twice;
  twice.insert(at, key + ",");
  expect(R"({"ports":)" + ports + R"(,"sessions":[)" + s + "," + twice + "]}",
         "sessions[1].inbound.sdes.key: duplicate field");
  expect(R"({"ports":[{"name":"p","addresses":["10.0.0.1","10.0.0.2"],"rss":true,"rss":false}]})",
         "ports[0].rss: duplicate field");

  // A member named twice in different objects is fine.
  EXPECT_TRUE(parse_config(R"({"ports":)" + ports + R"(,"sessions":[)" + s + "," + s + "]}").ok());
}

// Nesting is limited before the document is built, so a file of brackets cannot take memory
// out of proportion to its size; the limit is far above what a configuration needs.
TEST(Config, DeepNestingIsRefused) {
  auto nested = [](std::size_t depth) {
    return R"({"ports":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  auto r = parse_config(nested(kMaxJsonDepth + 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "the configuration nests objects and arrays deeper than 64 levels");
  r = parse_config(nested(std::size_t{1} << 20));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("deeper than 64 levels"), std::string::npos) << r.message();
  r = parse_config(nested(kMaxJsonDepth));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("ports[0]: must be an object"), std::string::npos) << r.message();
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
  expect_error(with([](Json& j) { j["stage_clock"] = 1; }),
               "stage_clock: must be true or false, not number");
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
