// The control protocol over a fake service: every command, every error path, and that keys never
// leave in a response.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "control_protocol.h"
#include "fake_service.h"
#include "json_codec.h"

namespace srtpgate::app {
namespace {

using testing::FakeService;
using testing::kFingerprint;
using testing::kGcmKey;
using testing::kKey;
using testing::kKey2;
using testing::kKey2B64;
using testing::kKeyB64;

Json sdes_unprotect() {
  return Json::parse(R"({
    "cmd": "create", "port": "net_ring0", "vlan": 100,
    "local_addr": "198.18.0.1", "local_port": 4000,
    "remote_addr": "198.18.1.1", "remote_port": 5000,
    "action": "unprotect",
    "inbound": {"sdes": {"profile": "AES_CM_128_HMAC_SHA1_80", "key": ")" +
                     std::string(kKey) + R"("}},
    "next_hop": {"port": "net_ring1", "mac": "02:00:00:00:00:01", "src_addr": "198.18.2.1",
                 "src_port": 6000, "dst_addr": "198.18.2.2", "dst_port": 7000, "vlan": 12},
    "replay_window": 256, "max_streams": 8, "label": "call-1"
  })");
}

class ProtocolTest : public ::testing::Test {
 protected:
  Json call(const std::string& line) {
    last_ = handle_request(service_, line);
    EXPECT_EQ(last_.find('\n'), std::string::npos);
    Json r = Json::parse(last_, nullptr, false);
    EXPECT_FALSE(r.is_discarded()) << last_;
    EXPECT_TRUE(r.is_object() && r.contains("ok") && r["ok"].is_boolean()) << last_;
    EXPECT_EQ(last_.find(kKeyB64), std::string::npos) << last_;
    EXPECT_EQ(last_.find(kKey2B64), std::string::npos) << last_;
    return r;
  }
  Json call(const Json& j) { return call(j.dump()); }
  Json call(const char* line) { return call(std::string(line)); }

  // An error response whose message contains `want`, and nothing changed.
  void expect_error(const std::string& line, const std::string& want) {
    Json r = call(line);
    ASSERT_EQ(r.value("ok", true), false) << line;
    ASSERT_TRUE(r["error"].is_string());
    EXPECT_NE(r["error"].get<std::string>().find(want), std::string::npos)
        << "error: " << r["error"] << "\nwanted: " << want << "\nrequest: " << line;
    EXPECT_EQ(service_.mutations(), 0U);
  }
  void expect_error(const Json& j, const std::string& want) { expect_error(j.dump(), want); }
  void expect_error(const char* line, const std::string& want) {
    expect_error(std::string(line), want);
  }

  FakeService service_;
  std::string last_;
};

TEST_F(ProtocolTest, PingAndVersion) {
  for (const char* cmd : {"ping", "version"}) {
    Json r = call(std::string(R"({"cmd":")") + cmd + R"("})");
    EXPECT_EQ(r["ok"], true);
    EXPECT_TRUE(r["version"].is_string());
    EXPECT_EQ(r["protocol"], 1);
  }
  EXPECT_EQ(last_.rfind(R"({"ok":true)", 0), 0U) << "ok comes first: " << last_;
}

TEST_F(ProtocolTest, HelpListsEveryCommand) {
  Json r = call(R"({"cmd":"help"})");
  ASSERT_EQ(r["ok"], true);
  for (const char* c :
       {"create", "delete", "list", "show", "rekey", "stats", "ports", "ping", "version", "help"}) {
    EXPECT_TRUE(r["commands"].contains(c)) << c;
  }
}

TEST_F(ProtocolTest, CreateSdesUnprotect) {
  Json req = sdes_unprotect();
  req["tag"] = "t-1";
  Json r = call(req);
  ASSERT_EQ(r["ok"], true) << last_;
  EXPECT_EQ(r["tag"], "t-1");
  ASSERT_EQ(service_.creates.size(), 1U);
  const SessionRequest& s = service_.creates[0];
  EXPECT_EQ(s.port, "net_ring0");
  EXPECT_EQ(s.local_addr.to_string(), "198.18.0.1");
  EXPECT_EQ(s.local_port, 4000);
  EXPECT_EQ(s.vlan, 100);
  EXPECT_EQ(s.remote_addr.to_string(), "198.18.1.1");
  EXPECT_EQ(s.remote_port, 5000);
  EXPECT_EQ(s.action, dp::Action::unprotect);
  ASSERT_TRUE(s.inbound && s.inbound->sdes);
  EXPECT_FALSE(s.inbound->dtls);
  EXPECT_EQ(s.inbound->sdes->profile, srtp::Profile::aes_cm_128_hmac_sha1_80);
  EXPECT_EQ(s.inbound->sdes->key_params.view(), kKey);
  EXPECT_FALSE(s.outbound);
  EXPECT_EQ(s.next_hop.port, "net_ring1");
  EXPECT_EQ(s.next_hop.mac, (std::array<uint8_t, 6>{2, 0, 0, 0, 0, 1}));
  EXPECT_EQ(s.next_hop.src_addr.to_string(), "198.18.2.1");
  EXPECT_EQ(s.next_hop.src_port, 6000);
  EXPECT_EQ(s.next_hop.dst_addr.to_string(), "198.18.2.2");
  EXPECT_EQ(s.next_hop.dst_port, 7000);
  EXPECT_EQ(s.next_hop.vlan, 12);
  EXPECT_EQ(s.replay_window, 256U);
  EXPECT_EQ(s.max_streams, 8U);
  EXPECT_EQ(s.label, "call-1");

  const Json& info = r["session"];
  EXPECT_EQ(info["id"], 7);
  EXPECT_EQ(info["state"], "active");
  EXPECT_EQ(info["action"], "unprotect");
  EXPECT_EQ(info["local_addr"], "198.18.0.1");
  EXPECT_EQ(info["local_port"], 4000);
  EXPECT_EQ(info["vlan"], 100);
  EXPECT_EQ(info["inbound_profile"], "AES_CM_128_HMAC_SHA1_80");
  EXPECT_FALSE(info.contains("outbound_profile"));
  EXPECT_EQ(info["counters"]["rx_packets"], 10);
  EXPECT_EQ(info["counters"]["dropped"], 3);
  EXPECT_EQ(info["counters"]["drops"]["auth_failure"], 3);
  EXPECT_EQ(info["counters"]["drops"]["replay"], 0);
  EXPECT_EQ(info["counters"]["drops"].size(), dp::kDropCount);
}

TEST_F(ProtocolTest, CreateDefaultsAndMinimalFields) {
  Json req = sdes_unprotect();
  req.erase("local_port");
  req.erase("replay_window");
  req.erase("max_streams");
  req.erase("label");
  req["next_hop"].erase("port");
  req["next_hop"].erase("src_port");
  req["next_hop"].erase("vlan");
  ASSERT_EQ(call(req)["ok"], true) << last_;
  const SessionRequest& s = service_.creates.at(0);
  EXPECT_EQ(s.local_port, 0);
  EXPECT_EQ(s.replay_window, 128U);
  EXPECT_EQ(s.max_streams, 4U);
  EXPECT_EQ(s.label, "");
  EXPECT_EQ(s.next_hop.port, "");
  EXPECT_EQ(s.next_hop.src_port, 0);
  EXPECT_EQ(s.next_hop.vlan, 0);
}

TEST_F(ProtocolTest, CreateTranscryptDtlsInSdesOut) {
  Json req = sdes_unprotect();
  req["action"] = "transcrypt";
  req["inbound"] = Json{{"dtls",
                         {{"setup", "passive"},
                          {"fingerprint", kFingerprint},
                          {"profiles", {"SRTP_AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80"}}}}};
  req["outbound"] = Json{{"sdes", {{"profile", "AEAD_AES_128_GCM"}, {"key", kGcmKey}}}};
  ASSERT_EQ(call(req)["ok"], true) << last_;
  const SessionRequest& s = service_.creates.at(0);
  EXPECT_EQ(s.action, dp::Action::transcrypt);
  ASSERT_TRUE(s.inbound && s.inbound->dtls);
  EXPECT_FALSE(s.inbound->dtls->active);
  EXPECT_EQ(s.inbound->dtls->peer_fingerprint, kFingerprint);
  EXPECT_EQ(s.inbound->dtls->profiles,
            (std::vector<srtp::Profile>{srtp::Profile::aead_aes_128_gcm,
                                        srtp::Profile::aes_cm_128_hmac_sha1_80}));
  ASSERT_TRUE(s.outbound && s.outbound->sdes);
  EXPECT_EQ(s.outbound->sdes->profile, srtp::Profile::aead_aes_128_gcm);
  EXPECT_EQ(last_.find("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHA"), std::string::npos);
}

TEST_F(ProtocolTest, CreateDtlsReturnsOurFingerprint) {
  service_.canned.fingerprint = "sha-256 11:22";
  service_.canned.state = SessionState::handshaking;
  Json req = sdes_unprotect();
  req["inbound"] = Json{{"dtls", {{"setup", "active"}, {"fingerprint", kFingerprint}}}};
  Json r = call(req);
  ASSERT_EQ(r["ok"], true) << last_;
  EXPECT_TRUE(service_.creates.at(0).inbound->dtls->active);
  EXPECT_TRUE(service_.creates.at(0).inbound->dtls->profiles.empty());
  EXPECT_EQ(r["session"]["fingerprint"], "sha-256 11:22");
  EXPECT_EQ(r["session"]["state"], "handshaking");
}

TEST_F(ProtocolTest, CreateProtectAndForwardAndIpv6) {
  Json req = sdes_unprotect();
  req["action"] = "protect";
  req["outbound"] = req["inbound"];
  req.erase("inbound");
  ASSERT_EQ(call(req)["ok"], true) << last_;
  EXPECT_EQ(service_.creates.at(0).action, dp::Action::protect);
  EXPECT_TRUE(service_.creates.at(0).outbound->sdes);

  req = sdes_unprotect();
  req["action"] = "forward";
  req.erase("inbound");
  req["local_addr"] = "2001:db8::1";
  req["remote_addr"] = "2001:db8::2";
  req["next_hop"]["src_addr"] = "2001:db8:1::1";
  req["next_hop"]["dst_addr"] = "2001:db8:1::2";
  req["next_hop"]["mac"] = "0A-0b-0C-0d-0E-0f";
  Json r = call(req);
  ASSERT_EQ(r["ok"], true) << last_;
  const SessionRequest& s = service_.creates.at(1);
  EXPECT_EQ(s.action, dp::Action::forward);
  EXPECT_EQ(s.local_addr.family, 6);
  EXPECT_EQ(s.next_hop.mac, (std::array<uint8_t, 6>{10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(r["session"]["local_addr"], "2001:db8::1");
}

TEST_F(ProtocolTest, DeleteShowList) {
  Json r = call(R"({"cmd":"delete","id":5,"tag":17})");
  ASSERT_EQ(r["ok"], true) << last_;
  EXPECT_EQ(r["id"], 5);
  EXPECT_EQ(r["tag"], 17);
  EXPECT_EQ(service_.removes, std::vector<uint64_t>{5});

  r = call(R"({"cmd":"show","id":9})");
  ASSERT_EQ(r["ok"], true);
  EXPECT_EQ(r["session"]["id"], 9);
  EXPECT_EQ(r["session"]["label"], "call-1");
  EXPECT_EQ(r["session"]["worker"], 1);
  EXPECT_EQ(r["session"]["age_seconds"], 42);

  r = call(R"({"cmd":"list"})");
  ASSERT_EQ(r["ok"], true);
  ASSERT_EQ(r["sessions"].size(), 2U);
  EXPECT_EQ(r["sessions"][0]["remote_addr"], "198.18.1.1");
}

TEST_F(ProtocolTest, Rekey) {
  Json r = call(Json{{"cmd", "rekey"},
                     {"id", 3},
                     {"inbound", {{"profile", "AES_CM_128_HMAC_SHA1_80"}, {"key", kKey2}}}});
  ASSERT_EQ(r["ok"], true) << last_;
  ASSERT_EQ(service_.rekeys.size(), 1U);
  EXPECT_EQ(service_.rekeys[0].id, 3U);
  ASSERT_TRUE(service_.rekeys[0].inbound);
  EXPECT_EQ(service_.rekeys[0].inbound->key_params.view(), kKey2);
  EXPECT_FALSE(service_.rekeys[0].outbound);

  r = call(Json{{"cmd", "rekey"},
                {"id", 3},
                {"inbound", {{"profile", "AES_CM_128_HMAC_SHA1_32"}, {"key", kKey}}},
                {"outbound", {{"profile", "AES_CM_128_HMAC_SHA1_80"}, {"key", kKey2}}}});
  ASSERT_EQ(r["ok"], true) << last_;
  ASSERT_EQ(service_.rekeys.size(), 2U);
  EXPECT_EQ(service_.rekeys[1].inbound->profile, srtp::Profile::aes_cm_128_hmac_sha1_32);
  EXPECT_EQ(service_.rekeys[1].outbound->key_params.view(), kKey2);
}

TEST_F(ProtocolTest, Stats) {
  Json r = call(R"({"cmd":"stats"})");
  ASSERT_EQ(r["ok"], true);
  const Json& s = r["stats"];
  EXPECT_EQ(s["sessions"], 3);
  EXPECT_EQ(s["punted_stun"], 4);
  ASSERT_EQ(s["workers"].size(), 2U);
  EXPECT_EQ(s["workers"][1]["drops"]["replay"], 2);
  EXPECT_EQ(s["total"]["rx_packets"], 11);
  EXPECT_EQ(s["total"]["dropped"], 2);
  EXPECT_EQ(s["total"]["drops"].size(), dp::kDropCount);
}

// The stage clock's counters appear for a worker that runs it, under the stages' names, and
// not at all for one that does not.
TEST_F(ProtocolTest, StatsShowTheStageClockWhereItRuns) {
  Json r = call(R"({"cmd":"stats"})");
  ASSERT_EQ(r["ok"], true);
  const Json& s = r["stats"];
  EXPECT_FALSE(s["workers"][0].contains("stages"));
  const Json& st = s["workers"][1]["stages"];
  EXPECT_EQ(st["tsc_hz"], 2'800'000'000ULL);
  EXPECT_EQ(st["bursts"], 7);
  EXPECT_EQ(st["packets"], 200);
  ASSERT_EQ(st["cycles"].size(), dp::kStageCount);
  EXPECT_EQ(st["cycles"]["classify"], 1000);
  EXPECT_EQ(st["cycles"]["lookup"], 2000);
  EXPECT_EQ(st["cycles"]["prepare"], 3000);
  EXPECT_EQ(st["cycles"]["unprotect"], 4000);
  EXPECT_EQ(st["cycles"]["protect"], 5000);
  EXPECT_EQ(st["cycles"]["rewrite"], 6000);
  EXPECT_EQ(st["cycles"]["transmit"], 7000);
  EXPECT_EQ(s["total"]["stages"]["packets"], 200);
}

TEST_F(ProtocolTest, PortsNameTheirDriverQueuesAndChecksumOffloads) {
  Json r = call(R"({"cmd":"ports"})");
  ASSERT_EQ(r["ok"], true) << last_;
  const Json& p = r["ports"];
  ASSERT_EQ(p.size(), 2U);
  EXPECT_EQ(p[0]["name"], "0000:3b:00.0");
  EXPECT_EQ(p[0]["port_id"], 0);
  EXPECT_EQ(p[0]["driver"], "net_ice");
  EXPECT_EQ(p[0]["rx_queues"], 4);
  EXPECT_EQ(p[0]["tx_queues"], 5);
  EXPECT_EQ(p[0]["rss"], true);
  EXPECT_EQ(p[0]["mtu"], 9000);
  // Patterns that tell each pair of the three apart.
  EXPECT_EQ(p[0]["checksum_offload"],
            Json({{"rx_ipv4", true}, {"rx_udp", false}, {"tx_udp", true}}));
  EXPECT_EQ(p[1]["driver"], "net_ring");
  EXPECT_EQ(p[1]["rss"], false);
  EXPECT_EQ(p[1]["checksum_offload"],
            Json({{"rx_ipv4", true}, {"rx_udp", true}, {"tx_udp", false}}));
  EXPECT_EQ(call(R"({"cmd":"ports","x":1})")["ok"], false);
}

TEST_F(ProtocolTest, ServiceErrorsArePassedOnWithTheTag) {
  service_.fail_with = "no session 99";
  Json r = call(R"({"cmd":"show","id":99,"tag":"x"})");
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"], "no session 99");
  EXPECT_EQ(r["tag"], "x");
  r = call(R"({"cmd":"delete","id":99})");
  EXPECT_EQ(r["error"], "no session 99");
}

TEST_F(ProtocolTest, ServiceErrorQuotingTheKeyIsWithheld) {
  service_.fail_with = std::string("cannot use key ") + kKeyB64;
  Json r = call(sdes_unprotect());
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("withheld"), std::string::npos);
}

TEST_F(ProtocolTest, LineEndingsAndWhitespaceAreAccepted) {
  EXPECT_EQ(call("  {\"cmd\":\"ping\"}  \r\n")["ok"], true);
}

TEST_F(ProtocolTest, RequestSizeLimit) {
  std::string line = R"({"cmd":"ping"})";
  line.append(kMaxRequestBytes - line.size(), ' ');
  EXPECT_EQ(call(line)["ok"], true);
  line += ' ';
  expect_error(line, "too long");
}

// A request nested past kMaxRequestDepth is refused before anything walks it: at 30000 levels
// (60 KB, under the size limit) a recursive walk would overflow the stack. Brackets inside
// strings do not count, and a request at the limit is parsed and reaches its command (which
// refuses the unknown field).
TEST_F(ProtocolTest, DeeplyNestedRequestsAreRefused) {
  for (const std::size_t depth : {std::size_t{33}, std::size_t{30000}}) {
    const std::string deep =
        R"({"cmd":"ping","x":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
    expect_error(deep, "deeper than 32 levels");
  }
  const std::string at_limit =
      R"({"cmd":"ping","x":)" + std::string(31, '[') + std::string(31, ']') + "}";
  expect_error(at_limit, "x: unknown field");
  const std::string in_strings =
      R"({"cmd":"ping","x":")" + std::string(100, '[') + R"(\"[[[[","y":"\\"})";
  expect_error(in_strings, "x: unknown field");
}

// nlohmann keeps the last of repeated members; a request naming one twice is refused instead,
// at any depth, with the member's path, and nothing changes.
TEST_F(ProtocolTest, DuplicateMembersAreRefused) {
  std::string line = sdes_unprotect().dump();
  const std::string key = std::string(R"("key":")") + kKey + "\"";
  const auto at = line.find(key);
  ASSERT_NE(at, std::string::npos) << line;
  std::string twice = line;
  twice.insert(at, std::string(R"("key":"inline:)") + kKey2B64 + "\",");
  expect_error(twice, "inbound.sdes.key: duplicate field");

  expect_error(R"({"cmd":"delete","cmd":"list"})", "cmd: duplicate field");
  expect_error(R"({"cmd":"delete","id":1,"id":2})", "id: duplicate field");
  expect_error(R"({"cmd":"ping","tag":1,"tag":2})", "tag: duplicate field");
  expect_error(R"({"cmd":"ping","x":[[],{"a":1,"b":{},"a":2}]})", "x[1].a: duplicate field");
  expect_error(R"({"cmd":"ping","x":{"":1,"":2}})", "x.: duplicate field");
  // The same name in sibling or nested objects is not a repetition.
  expect_error(R"({"cmd":"ping","x":[{"a":1},{"a":{"a":2}}]})", "x: unknown field");
  EXPECT_EQ(call(R"({"cmd":"ping","tag":1})")["ok"], true);
}

TEST_F(ProtocolTest, EnvelopeErrors) {
  expect_error("", "empty request");
  expect_error("{", "not valid JSON");
  expect_error(std::string("{\"cmd\":\"create\",\"key\":\"") + kKey, "not valid JSON");
  expect_error("[1,2]", "must be a JSON object");
  expect_error("\"ping\"", "must be a JSON object");
  expect_error("{}", "cmd: missing");
  expect_error(R"({"cmd":5})", "cmd: must be a string");
  expect_error(R"({"cmd":"reboot"})", "unknown cmd 'reboot'");
  expect_error(R"({"cmd":"ping","tag":{}})", "tag: must be a string or a number");
  Json r = call(R"({"cmd":"nope","tag":"abc"})");
  EXPECT_EQ(r["tag"], "abc");
}

TEST_F(ProtocolTest, SimpleCommandErrors) {
  expect_error(R"({"cmd":"delete"})", "id: missing");
  expect_error(R"({"cmd":"delete","id":"5"})", "id: must be an integer");
  expect_error(R"({"cmd":"delete","id":-1})", "id: -1 is outside");
  expect_error(R"({"cmd":"delete","id":1.5})", "id: must be an integer");
  expect_error(R"({"cmd":"delete","id":1,"force":true})", "force: unknown field");
  expect_error(R"({"cmd":"show"})", "id: missing");
  expect_error(R"({"cmd":"list","id":1})", "id: unknown field");
  expect_error(R"({"cmd":"stats","x":1})", "x: unknown field");
  expect_error(R"({"cmd":"ping","x":1})", "x: unknown field");
  expect_error(R"({"cmd":"rekey","id":1})", "needs 'inbound', 'outbound' or both");
  expect_error(
      Json{{"cmd", "rekey"},
           {"id", 1},
           {"inbound", {{"sdes", {{"profile", "AES_CM_128_HMAC_SHA1_80"}, {"key", kKey}}}}}},
      "inbound.sdes: unknown field");
  expect_error(Json{{"cmd", "rekey"},
                    {"id", 1},
                    {"outbound", {{"profile", "AES_CM_128_HMAC_SHA1_80"}, {"key", "inline:abc"}}}},
               "outbound.key: ");
  expect_error(
      Json{{"cmd", "rekey"}, {"inbound", {{"profile", "AES_CM_128_HMAC_SHA1_80"}, {"key", kKey}}}},
      "id: missing");
  EXPECT_EQ(service_.reads, 0);
}

// A create request with one change, and the error message it must produce.
struct CreateCase {
  const char* name;
  void (*mutate)(Json&);
  const char* error;
};

class CreateErrorTest : public ProtocolTest, public ::testing::WithParamInterface<CreateCase> {};

TEST_P(CreateErrorTest, FailsNamingTheFieldAndChangesNothing) {
  Json req = sdes_unprotect();
  GetParam().mutate(req);
  expect_error(req, GetParam().error);
}

const CreateCase kCreateCases[] = {
    {"MissingPort", [](Json& j) { j.erase("port"); }, "port: missing (required)"},
    {"EmptyPort", [](Json& j) { j["port"] = ""; }, "port: must name a port"},
    {"PortNotString", [](Json& j) { j["port"] = 1; }, "port: must be a string, not number"},
    {"UnknownField", [](Json& j) { j["colour"] = "red"; }, "colour: unknown field"},
    {"UnknownNested", [](Json& j) { j["inbound"]["sdes"]["mki"] = 1; },
     "inbound.sdes.mki: unknown field"},
    {"UnknownNextHop", [](Json& j) { j["next_hop"]["ttl"] = 1; }, "next_hop.ttl: unknown field"},
    {"MissingLocalAddr", [](Json& j) { j.erase("local_addr"); }, "local_addr: missing"},
    {"BadLocalAddr", [](Json& j) { j["local_addr"] = "10.0.0.300"; },
     "local_addr: '10.0.0.300' is not an IPv4 or IPv6 address"},
    {"LocalAddrNotString", [](Json& j) { j["local_addr"] = Json::array(); },
     "local_addr: must be a string, not array"},
    {"LocalPortString", [](Json& j) { j["local_port"] = "4000"; },
     "local_port: must be an integer in 0..65535, not string"},
    {"LocalPortTooBig", [](Json& j) { j["local_port"] = 70000; },
     "local_port: 70000 is outside 0..65535"},
    {"LocalPortNegative", [](Json& j) { j["local_port"] = -1; }, "local_port: -1 is outside"},
    {"LocalPortFraction", [](Json& j) { j["local_port"] = 1.5; },
     "local_port: must be an integer in 0..65535, not a fraction"},
    {"RemotePortZero", [](Json& j) { j["remote_port"] = 0; }, "remote_port: 0 is outside 1..65535"},
    {"VlanReserved", [](Json& j) { j["vlan"] = 4095; }, "vlan: 4095 is outside 0..4094"},
    {"VlanString", [](Json& j) { j["vlan"] = "100"; },
     "vlan: must be an integer in 0..4094, not string"},
    {"MissingRemotePort", [](Json& j) { j.erase("remote_port"); }, "remote_port: missing"},
    {"FamilyMismatch", [](Json& j) { j["remote_addr"] = "2001:db8::1"; },
     "remote_addr: IPv6, but local_addr is IPv4"},
    {"MissingAction", [](Json& j) { j.erase("action"); }, "action: missing"},
    {"BadAction", [](Json& j) { j["action"] = "encrypt"; }, "action: unknown action 'encrypt'"},
    {"MissingInbound", [](Json& j) { j.erase("inbound"); },
     "inbound: missing (required for unprotect)"},
    {"OutboundNotAllowed", [](Json& j) { j["outbound"] = j["inbound"]; },
     "outbound: not allowed for unprotect"},
    {"InboundNotAllowedForProtect",
     [](Json& j) {
       j["action"] = "protect";
       j["outbound"] = j["inbound"];
     },
     "inbound: not allowed for protect"},
    {"TranscryptNeedsOutbound", [](Json& j) { j["action"] = "transcrypt"; },
     "outbound: missing (required for transcrypt)"},
    {"LegNotObject", [](Json& j) { j["inbound"] = "sdes"; }, "inbound: must be an object"},
    {"LegBoth",
     [](Json& j) {
       j["inbound"]["dtls"] = {{"setup", "active"}, {"fingerprint", kFingerprint}};
     },
     "inbound: needs exactly one of 'sdes' or 'dtls'"},
    {"LegNeither", [](Json& j) { j["inbound"] = Json::object(); },
     "inbound: needs exactly one of 'sdes' or 'dtls'"},
    {"BadProfile", [](Json& j) { j["inbound"]["sdes"]["profile"] = "AES_CM_64"; },
     "inbound.sdes.profile: unknown profile 'AES_CM_64'"},
    {"MissingKey", [](Json& j) { j["inbound"]["sdes"].erase("key"); }, "inbound.sdes.key: missing"},
    {"KeyNotString", [](Json& j) { j["inbound"]["sdes"]["key"] = 5; },
     "inbound.sdes.key: must be a string"},
    {"KeyBadBase64", [](Json& j) { j["inbound"]["sdes"]["key"] = std::string(kKey) + "!!!!"; },
     "inbound.sdes.key: "},
    {"KeyWrongLengthForProfile",
     [](Json& j) { j["inbound"]["sdes"]["profile"] = "AES_256_CM_HMAC_SHA1_80"; },
     "inbound.sdes.key: "},
    {"KeyBadLifetime", [](Json& j) { j["inbound"]["sdes"]["key"] = std::string(kKey) + "|2^x"; },
     "inbound.sdes.key: "},
    {"DtlsBadSetup",
     [](Json& j) {
       j["inbound"] = {{"dtls", {{"setup", "actpass"}, {"fingerprint", kFingerprint}}}};
     },
     "inbound.dtls.setup: 'actpass' must be 'active'"},
    {"DtlsMissingFingerprint",
     [](Json& j) {
       j["inbound"] = {{"dtls", {{"setup", "active"}}}};
     },
     "inbound.dtls.fingerprint: missing"},
    {"DtlsFingerprintNoHash",
     [](Json& j) {
       j["inbound"] = {{"dtls", {{"setup", "active"}, {"fingerprint", "AB:CD"}}}};
     },
     "inbound.dtls.fingerprint: must be 'HASH HEX:HEX:...'"},
    {"DtlsFingerprintBadHash",
     [](Json& j) {
       j["inbound"] = {{"dtls", {{"setup", "active"}, {"fingerprint", "md5 AB:CD"}}}};
     },
     "inbound.dtls.fingerprint: unsupported hash 'md5'"},
    {"DtlsFingerprintShort",
     [](Json& j) {
       j["inbound"] = {{"dtls", {{"setup", "active"}, {"fingerprint", "sha-256 AB:CD"}}}};
     },
     "a sha-256 fingerprint has 32 bytes, this one has 2"},
    {"DtlsFingerprintNotHex",
     [](Json& j) {
       j["inbound"] = {{"dtls", {{"setup", "active"}, {"fingerprint", "sha-256 AB:XY"}}}};
     },
     "hex byte pairs"},
    {"DtlsProfilesNotArray",
     [](Json& j) {
       j["inbound"] = {{"dtls",
                        {{"setup", "active"},
                         {"fingerprint", kFingerprint},
                         {"profiles", "SRTP_AEAD_AES_128_GCM"}}}};
     },
     "inbound.dtls.profiles: must be an array"},
    {"DtlsProfilesBadName",
     [](Json& j) {
       j["inbound"] = {
           {"dtls", {{"setup", "active"}, {"fingerprint", kFingerprint}, {"profiles", {"X"}}}}};
     },
     "inbound.dtls.profiles[0]: unknown profile 'X'"},
    {"DtlsProfilesTwice",
     [](Json& j) {
       j["inbound"] = {{"dtls",
                        {{"setup", "active"},
                         {"fingerprint", kFingerprint},
                         {"profiles", {"AEAD_AES_128_GCM", "SRTP_AEAD_AES_128_GCM"}}}}};
     },
     "inbound.dtls.profiles[1]: AEAD_AES_128_GCM is listed twice"},
    {"MissingNextHop", [](Json& j) { j.erase("next_hop"); }, "next_hop: missing"},
    {"NextHopNotObject", [](Json& j) { j["next_hop"] = 1; },
     "next_hop: must be an object, not number"},
    {"BadMac", [](Json& j) { j["next_hop"]["mac"] = "02:00:00:00:00"; },
     "next_hop.mac: '02:00:00:00:00' must be six hex bytes"},
    {"BadMacHex", [](Json& j) { j["next_hop"]["mac"] = "02:00:00:00:00:0g"; }, "next_hop.mac: "},
    {"MissingMac", [](Json& j) { j["next_hop"].erase("mac"); }, "next_hop.mac: missing"},
    {"BadNextHopDst", [](Json& j) { j["next_hop"]["dst_addr"] = "example.com"; },
     "next_hop.dst_addr: 'example.com' is not an IPv4 or IPv6 address"},
    {"NextHopFamilyMismatch", [](Json& j) { j["next_hop"]["dst_addr"] = "::1"; },
     "next_hop.dst_addr: IPv6, but src_addr is IPv4"},
    {"MissingNextHopDstPort", [](Json& j) { j["next_hop"].erase("dst_port"); },
     "next_hop.dst_port: missing"},
    {"VlanTooBig", [](Json& j) { j["next_hop"]["vlan"] = 4095; },
     "next_hop.vlan: 4095 is outside 0..4094"},
    {"ReplayWindowSmall", [](Json& j) { j["replay_window"] = 10; },
     "replay_window: 10 is outside 64..32768"},
    {"MaxStreamsZero", [](Json& j) { j["max_streams"] = 0; }, "max_streams: 0 is outside"},
    {"LabelNotString", [](Json& j) { j["label"] = true; }, "label: must be a string, not boolean"},
    {"LabelTooLong", [](Json& j) { j["label"] = std::string(300, 'x'); },
     "label: longer than 256 bytes"},
};

INSTANTIATE_TEST_SUITE_P(All, CreateErrorTest, ::testing::ValuesIn(kCreateCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ProtocolTest, ErrorsAboutKeysDoNotEchoThem) {
  // A key that fails for its profile, and one that fails to decode: neither appears.
  Json req = sdes_unprotect();
  req["inbound"]["sdes"]["profile"] = "AEAD_AES_256_GCM";
  Json r = call(req);
  EXPECT_EQ(r["ok"], false);
  req = sdes_unprotect();
  req["inbound"]["sdes"]["key"] = std::string("inline:") + kKey2B64 + "|2^31|1:4|junk";
  r = call(req);
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(service_.mutations(), 0U);
}

TEST_F(ProtocolTest, GarbageNeverThrowsAndAlwaysAnswers) {
  std::mt19937 rng(1234);
  const std::string base = sdes_unprotect().dump();
  for (int i = 0; i < 2000; ++i) {
    std::string line = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = rng() % line.size();
      switch (rng() % 3) {
        case 0:
          line[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          line.erase(at, 1 + rng() % 8);
          break;
        default:
          line.insert(at, 1, "{}[]\",:0-1e9"[rng() % 12]);
          break;
      }
      if (line.empty()) {
        line.push_back('x');  // not `line = "x"`: GCC 12 at -O3 warns of a memcpy overlap there
      }
    }
    std::string out = handle_request(service_, line);
    Json r = Json::parse(out, nullptr, false);
    ASSERT_FALSE(r.is_discarded()) << out;
    ASSERT_TRUE(r.contains("ok")) << out;
    ASSERT_EQ(out.find(kKeyB64), std::string::npos) << out;
  }
}

TEST(JsonCodec, MacRoundTrip) {
  auto mac = parse_mac("02:AB:cd:00:10:ff");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(format_mac(mac.value()), "02:ab:cd:00:10:ff");
  EXPECT_FALSE(parse_mac("02:ab:cd:00:10-ff").ok());
  EXPECT_FALSE(parse_mac("02:ab:cd:00:10:ff:").ok());
  EXPECT_FALSE(parse_mac("").ok());
}

TEST(JsonCodec, SessionStateNames) {
  EXPECT_EQ(name(SessionState::handshaking), "handshaking");
  EXPECT_EQ(name(SessionState::active), "active");
  EXPECT_EQ(name(SessionState::failed), "failed");
}

TEST(JsonCodec, FailedSessionShowsItsFailure) {
  SessionInfo info;
  info.state = SessionState::failed;
  info.failure = "peer fingerprint mismatch";
  Json j = to_json(info);
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["failure"], "peer fingerprint mismatch");
  EXPECT_FALSE(j.contains("fingerprint"));
  EXPECT_FALSE(j.contains("inbound_profile"));
}

}  // namespace
}  // namespace srtpgate::app
