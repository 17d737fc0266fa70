// srtpgate-ctl end to end: the built binary against a one-shot fake server on a temporary Unix
// socket that records the request line and answers with a canned line.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fake_service.h"
#include "json_codec.h"

namespace srtpgate::app {
namespace {

using testing::kKey;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

struct RunResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

RunResult run_ctl(const std::vector<std::string>& args, const std::string& env = "") {
  std::string cmd = env;
  cmd += ' ';
  cmd += shell_quote(SRTPGATE_CTL_PATH);
  for (const std::string& a : args) {
    cmd += ' ';
    cmd += shell_quote(a);
  }
  cmd += " 2>&1 </dev/null";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    r.output.append(buf, n);
  }
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Listens on a fresh socket path; serves one connection in a thread.
class FakeServer {
 public:
  explicit FakeServer(std::string response) : response_(std::move(response)) {
    char tmpl[] = "/tmp/srtpgate-ctl-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/control.sock";
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    if (thread_.joinable()) {
      thread_.join();
    }
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  // The request line, once the client has run.
  const std::string& request() {
    if (thread_.joinable()) {
      thread_.join();
    }
    return request_;
  }
  Json request_json() { return Json::parse(request(), nullptr, false); }

 private:
  void serve() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) {
      return;
    }
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) {
      return;
    }
    char buf[4096];
    while (request_.find('\n') == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      request_.append(buf, static_cast<std::size_t>(n));
    }
    if (auto nl = request_.find('\n'); nl != std::string::npos) {
      request_.resize(nl);
    }
    if (!response_.empty()) {
      ::send(c, response_.data(), response_.size(), MSG_NOSIGNAL);
    }
    ::close(c);
  }

  std::string response_;
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  std::string request_;
  std::thread thread_;
};

TEST(Ctl, PingPrintsTheResponse) {
  FakeServer server("{\"ok\":true,\"version\":\"0.1.0\",\"protocol\":1}\n");
  RunResult r = run_ctl({"--socket", server.path(), "ping"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(server.request(), R"({"cmd":"ping"})");
  EXPECT_NE(r.output.find("\"version\": \"0.1.0\""), std::string::npos) << r.output;
}

TEST(Ctl, PortsSendsTheCommandAndTakesNoArguments) {
  FakeServer server(
      "{\"ok\":true,\"ports\":[{\"name\":\"net_ring_x\",\"driver\":\"net_ring\"}]}\n");
  RunResult r = run_ctl({"--socket", server.path(), "ports"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(server.request(), R"({"cmd":"ports"})");
  EXPECT_NE(r.output.find("\"driver\": \"net_ring\""), std::string::npos) << r.output;
  EXPECT_EQ(run_ctl({"--socket", server.path(), "ports", "1"}).status, 2);
}

TEST(Ctl, SocketFromTheEnvironment) {
  FakeServer server("{\"ok\":true,\"stats\":{}}\n");
  RunResult r = run_ctl({"stats"}, "SRTPGATE_CONTROL_SOCKET=" + shell_quote(server.path()));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(server.request(), R"({"cmd":"stats"})");
}

TEST(Ctl, CreateFromOptions) {
  FakeServer server("{\"ok\":true,\"session\":{\"id\":1}}\n");
  RunResult r = run_ctl({"--socket",
                         server.path(),
                         "create",
                         "--port",
                         "net_ring0",
                         "--port-vlan",
                         "100",
                         "--local",
                         "198.18.0.1",
                         "--remote",
                         "198.18.1.1:5000",
                         "--action",
                         "transcrypt",
                         "--in-sdes",
                         std::string("AES_CM_128_HMAC_SHA1_80:") + kKey,
                         "--out-dtls",
                         std::string("active:") + testing::kFingerprint,
                         "--next-hop-port",
                         "net_ring1",
                         "--next-hop-mac",
                         "02:00:00:00:00:01",
                         "--next-hop-src",
                         "[2001:db8::1]:6000",
                         "--next-hop-dst",
                         "[2001:db8::2]:7000",
                         "--vlan",
                         "5",
                         "--label",
                         "call 1"});
  EXPECT_EQ(r.status, 0) << r.output;
  Json j = server.request_json();
  ASSERT_TRUE(j.is_object()) << server.request();
  EXPECT_EQ(j["cmd"], "create");
  EXPECT_EQ(j["port"], "net_ring0");
  EXPECT_EQ(j["vlan"], 100);
  EXPECT_EQ(j["local_addr"], "198.18.0.1");
  EXPECT_FALSE(j.contains("local_port"));
  EXPECT_EQ(j["remote_addr"], "198.18.1.1");
  EXPECT_EQ(j["remote_port"], 5000);
  EXPECT_EQ(j["action"], "transcrypt");
  EXPECT_EQ(j["inbound"]["sdes"]["profile"], "AES_CM_128_HMAC_SHA1_80");
  EXPECT_EQ(j["inbound"]["sdes"]["key"], kKey);
  EXPECT_EQ(j["outbound"]["dtls"]["setup"], "active");
  EXPECT_EQ(j["outbound"]["dtls"]["fingerprint"], testing::kFingerprint);
  EXPECT_EQ(j["next_hop"]["port"], "net_ring1");
  EXPECT_EQ(j["next_hop"]["src_addr"], "2001:db8::1");
  EXPECT_EQ(j["next_hop"]["src_port"], 6000);
  EXPECT_EQ(j["next_hop"]["dst_addr"], "2001:db8::2");
  EXPECT_EQ(j["next_hop"]["dst_port"], 7000);
  EXPECT_EQ(j["next_hop"]["vlan"], 5);
  EXPECT_EQ(j["label"], "call 1");

  // What the options build is what the daemon's codec accepts.
  j.erase("cmd");
  j["next_hop"]["src_addr"] = "198.18.2.1";
  j["next_hop"]["dst_addr"] = "198.18.2.2";
  auto parsed = session_request_from_json(j, "");
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  EXPECT_EQ(parsed->vlan, 100);
  EXPECT_EQ(parsed->next_hop.vlan, 5);
  j["vlan"] = 4095;
  EXPECT_FALSE(session_request_from_json(j, "").ok());
}

TEST(Ctl, CreateFromJsonAndRekeyDeleteShow) {
  {
    FakeServer server("{\"ok\":true}\n");
    RunResult r = run_ctl(
        {"--socket", server.path(), "create", "--json", R"({"port":"p","action":"forward"})"});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(server.request(), R"({"cmd":"create","port":"p","action":"forward"})");
  }
  {
    FakeServer server("{\"ok\":true,\"id\":4}\n");
    RunResult r = run_ctl({"--socket", server.path(), "rekey", "4", "--out-sdes",
                           std::string("AES_CM_128_HMAC_SHA1_32:") + kKey});
    EXPECT_EQ(r.status, 0) << r.output;
    Json j = server.request_json();
    EXPECT_EQ(j["id"], 4);
    EXPECT_EQ(j["outbound"]["profile"], "AES_CM_128_HMAC_SHA1_32");
    EXPECT_EQ(j["outbound"]["key"], kKey);
  }
  {
    FakeServer server("{\"ok\":true,\"id\":12}\n");
    EXPECT_EQ(run_ctl({"--socket", server.path(), "delete", "12"}).status, 0);
    EXPECT_EQ(server.request(), R"({"cmd":"delete","id":12})");
  }
  {
    FakeServer server("{\"ok\":true,\"session\":{\"id\":12}}\n");
    EXPECT_EQ(run_ctl({"--socket", server.path(), "show", "12"}).status, 0);
    EXPECT_EQ(server.request(), R"({"cmd":"show","id":12})");
  }
  {
    FakeServer server("{\"ok\":true}\n");
    EXPECT_EQ(run_ctl({"--socket", server.path(), "raw", R"({"cmd":"help","tag":1})"}).status, 0);
    EXPECT_EQ(server.request(), R"({"cmd":"help","tag":1})");
  }
}

TEST(Ctl, ListPrintsATableAndJsonPrintsTheLine) {
  const std::string line =
      R"({"ok":true,"sessions":[{"id":7,"state":"active","action":"unprotect",)"
      R"("port":"net_ring0","local_addr":"198.18.0.1","local_port":20000,)"
      R"("remote_addr":"198.18.1.1","remote_port":5000,"label":"call-7",)"
      R"("counters":{"rx_packets":10,"tx_packets":9,"dropped":1}}]})";
  {
    FakeServer server(line + "\n");
    RunResult r = run_ctl({"--socket", server.path(), "list"});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("198.18.0.1:20000"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("call-7"), std::string::npos) << r.output;
  }
  {
    FakeServer server(line + "\n");
    RunResult r = run_ctl({"--socket", server.path(), "--json", "list"});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, line + "\n");
  }
}

TEST(Ctl, ExitCodes) {
  {
    FakeServer server("{\"ok\":false,\"error\":\"no session 3\"}\n");
    RunResult r = run_ctl({"--socket", server.path(), "show", "3"});
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("no session 3"), std::string::npos) << r.output;
  }
  EXPECT_EQ(run_ctl({}).status, 2);
  EXPECT_EQ(run_ctl({"frobnicate"}).status, 2);
  EXPECT_EQ(run_ctl({"show"}).status, 2);
  EXPECT_EQ(run_ctl({"show", "x"}).status, 2);
  EXPECT_EQ(run_ctl({"--bogus", "list"}).status, 2);
  EXPECT_EQ(run_ctl({"create", "--remote", "198.18.1.1"}).status, 2);
  EXPECT_EQ(run_ctl({"create", "--json", "[1]"}).status, 2);
  EXPECT_EQ(run_ctl({"rekey", "1"}).status, 2);
  EXPECT_EQ(run_ctl({"--help"}).status, 0);

  RunResult r = run_ctl({"--socket", "/nonexistent/srtpgate.sock", "ping"});
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("cannot connect"), std::string::npos) << r.output;
  {
    FakeServer server("");  // closes without answering
    EXPECT_EQ(run_ctl({"--socket", server.path(), "ping"}).status, 3);
  }
  {
    FakeServer server("not json\n");
    EXPECT_EQ(run_ctl({"--socket", server.path(), "ping"}).status, 3);
  }
}

// A reply that parses but has the wrong shape is "no valid answer" (3), not a usage error (2).
TEST(Ctl, MalformedReplyExitsThree) {
  for (const char* line : {R"({"ok":true,"sessions":[1]})", R"({"ok":true,"sessions":[{},"x"]})"}) {
    FakeServer server(std::string(line) + "\n");
    RunResult r = run_ctl({"--socket", server.path(), "list"});
    EXPECT_EQ(r.status, 3) << line << "\n" << r.output;
    EXPECT_NE(r.output.find("not a protocol response"), std::string::npos) << r.output;
  }
}

// With the daemon's listen backlog full, connect fails at once with EAGAIN; the client tries
// again until the daemon accepts rather than failing (before the fix: exit 3, "send: ...").
TEST(Ctl, WaitsWhileTheListenBacklogIsFull) {
  char tmpl[] = "/tmp/srtpgate-ctl-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string path = dir + "/control.sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::bind(listener, sa, sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  // Backlog 0 holds one pending connection: this one fills it.
  const int filler = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_EQ(::connect(filler, sa, sizeof(addr)), 0);
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_EQ(::connect(probe, sa, sizeof(addr)), -1);
  ASSERT_EQ(errno, EAGAIN) << "the backlog is not full, so this test would prove nothing";
  ::close(probe);

  std::string request;
  std::thread server([&] {
    // Long enough for the client to have met the full backlog.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::close(::accept(listener, nullptr, nullptr));  // the filler
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 6000) <= 0) {  // the client gives up after 5 s
      return;
    }
    const int c = ::accept(listener, nullptr, nullptr);
    char buf[4096];
    while (request.find('\n') == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      request.append(buf, static_cast<std::size_t>(n));
    }
    const std::string response = "{\"ok\":true,\"version\":\"0.1.0\",\"protocol\":1}\n";
    ::send(c, response.data(), response.size(), MSG_NOSIGNAL);
    ::close(c);
  });
  RunResult r = run_ctl({"--socket", path, "ping"});
  server.join();
  ::close(filler);
  ::close(listener);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(request, "{\"cmd\":\"ping\"}\n");
}

// Argument mistakes are reported by the option's name or the argument's position, never with a
// value that may be a key.
TEST(Ctl, UsageErrorsDoNotEchoKeys) {
  const std::string sdes = std::string("AES_CM_128_HMAC_SHA1_80:") + kKey;
  struct Case {
    std::vector<std::string> args;
    std::string want;
  };
  const Case cases[] = {
      {{"create", "--in-sdes=" + sdes, "--port", "p"},
       "create: '--in-sdes=...' (argument 2): give the value as the next argument"},
      {{"create", "--port", "p", "--in-sdes=" + sdes}, "create: '--in-sdes=...' (argument 4)"},
      {{"create", "--port", "p", sdes}, "create: expected an option (argument 4)"},
      {{"create", "--port", "p", "--bogus=" + sdes}, "create: unknown option '--bogus=...'"},
      {{"create", "--port", "p", "--" + sdes}, "create: expected an option (argument 4)"},
      {{"rekey", "1", sdes}, "rekey: expected an option (argument 3)"},
      {{"rekey", "1", "--out-sdes=" + sdes}, "rekey: '--out-sdes=...' (argument 3)"},
      {{"rekey", sdes}, "ID: expected a number"},
      {{"--in-sdes=" + sdes, "list"}, "unknown option '--in-sdes=...' (argument 1)"},
      {{sdes}, "expected a command (argument 1)"},
      {{"create", "--vlan", sdes}, "--vlan: expected a number in 0..4094"},
      {{"create", "--port-vlan", sdes}, "--port-vlan: expected a number in 0..4094"},
      {{"create", "--remote", "[2001:db8::1]:" + sdes}, "--remote: expected a number"},
      {{"create", "--local", "[" + sdes}, "--local: missing ']'"},
  };
  for (const Case& c : cases) {
    RunResult r = run_ctl(c.args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_EQ(r.output.find(testing::kKeyB64), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.want), std::string::npos)
        << "output: " << r.output << "wanted: " << c.want;
  }
}

// The request is rebuilt from the parsed object, which keeps only the last of repeated members:
// the client refuses them so that the daemon's check is not bypassed.
TEST(Ctl, DuplicateMembersInJsonArgumentsAreRefused) {
  const std::string twice =
      std::string(R"({"inbound":{"sdes":{"key":")") + kKey + R"(","key":"inline:AAAA"}}})";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"create", "--json", twice},
        std::vector<std::string>{"raw", R"({"cmd":"list","cmd":"stats"})"}}) {
    RunResult r = run_ctl(args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("is given twice in one object"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find(testing::kKeyB64), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace srtpgate::app
