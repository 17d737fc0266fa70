// Keys on the daemon's control path leave no copy in freed memory: SDES key-params in control
// requests (handled by the control protocol, received by the control socket) and in the
// configuration file, and the private key PEM the configuration names. While a test searches,
// this binary's operator delete looks in every block before it goes back to the allocator for
// any 8 consecutive bytes of a key's base64, of the key||salt it decodes to, or of the PEM's
// body. Every block is zeroed after the search, searched or not, so that the test's own unwiped
// copies cannot come back as stale bytes in a block the code under test allocates later. Each
// test drives the real code (handle_request, ControlSocket, load_config) with known keys. A
// separate binary, because replacing operator delete applies to the whole process.

// The replacements below pair malloc with free by design; GCC cannot see that through inlining.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config.h"
#include "control_protocol.h"
#include "control_socket.h"
#include "fake_service.h"
#include "json_codec.h"
#include "secret_string.h"
#include "temp_dir.h"

namespace {

// Two AES_CM_128_HMAC_SHA1_80 key||salt values (16 + 14 random bytes), as SDES key-params and
// decoded. Constants, so that the test makes no copies of its own while it searches.
constexpr std::string_view kKey1Params = "inline:F+mOdENMaNIz7WvFC1eG6W1nVyyJghzkmL/FuLYT";
constexpr std::string_view kKey1B64 = kKey1Params.substr(7);
constexpr uint8_t kKey1[30] = {0x17, 0xe9, 0x8e, 0x74, 0x43, 0x4c, 0x68, 0xd2, 0x33, 0xed,
                               0x6b, 0xc5, 0x0b, 0x57, 0x86, 0xe9, 0x6d, 0x67, 0x57, 0x2c,
                               0x89, 0x82, 0x1c, 0xe4, 0x98, 0xbf, 0xc5, 0xb8, 0xb6, 0x13};
constexpr std::string_view kKey2Params = "inline:/GkYexB8Qgau4FAS4Igh+ufFddUkTIUnFRqv4K3E";
constexpr std::string_view kKey2B64 = kKey2Params.substr(7);
constexpr uint8_t kKey2[30] = {0xfc, 0x69, 0x18, 0x7b, 0x10, 0x7c, 0x42, 0x06, 0xae, 0xe0,
                               0x50, 0x12, 0xe0, 0x88, 0x21, 0xfa, 0xe7, 0xc5, 0x75, 0xd5,
                               0x24, 0x4c, 0x85, 0x27, 0x15, 0x1a, 0xaf, 0xe0, 0xad, 0xc4};
// A private key file (the loader does not parse it; the DTLS context does) and its two lines of
// base64.
constexpr std::string_view kPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "qa0x01D1gDO+rSI1fDc3PSVeeKjQWCcVbkLSfTEVYg5QAXEDZmZ93vUcqPwF/7ZA\n"
    "WbG3eeqGPtfnou/0HBNZlktqBuC5jFnh9UEHZoNc3400WW+nCagUZxUT40iUOK/Q\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kPemLine1 = kPem.substr(28, 64);
constexpr std::string_view kPemLine2 = kPem.substr(28 + 65, 64);
static_assert(kPemLine1.starts_with("qa0x") && kPemLine2.starts_with("WbG3"));

struct Secret {
  const char* name;
  const void* bytes;
  std::size_t len;
};
constexpr Secret kSecrets[] = {
    {"key 1 as base64", kKey1B64.data(), kKey1B64.size()},
    {"key 1 decoded", kKey1, sizeof kKey1},
    {"key 2 as base64", kKey2B64.data(), kKey2B64.size()},
    {"key 2 decoded", kKey2, sizeof kKey2},
    {"private key PEM, line 1", kPemLine1.data(), kPemLine1.size()},
    {"private key PEM, line 2", kPemLine2.data(), kPemLine2.size()},
};
constexpr std::size_t kSecretCount = std::size(kSecrets);
// This many consecutive bytes of a secret count as a copy of it.
constexpr std::size_t kWindow = 8;

std::atomic<bool> g_searching{false};
std::atomic<std::size_t> g_searched{0};
std::array<std::atomic<int>, kSecretCount> g_found{};

void search(const void* block, std::size_t n) {
  if (!g_searching.load(std::memory_order_relaxed)) return;
  g_searched.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t k = 0; k < kSecretCount; ++k) {
    const auto* secret = static_cast<const uint8_t*>(kSecrets[k].bytes);
    for (std::size_t at = 0; at + kWindow <= kSecrets[k].len; ++at) {
      if (memmem(block, n, secret + at, kWindow) != nullptr) {
        g_found[k].fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
  }
}

// The whole block, as malloc has it: what lies past the requested size was someone's too.
void release(void* p) noexcept {
  if (p == nullptr) return;
  const std::size_t n = malloc_usable_size(p);
  search(p, n);
  explicit_bzero(p, n);
  std::free(p);
}

// Keeps the compiler from leaving out an allocation whose contents nothing reads.
void escape(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

}  // namespace

void operator delete(void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void* operator new(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(std::size_t n, std::align_val_t a) {
  const auto align = static_cast<std::size_t>(a);
  void* p = std::aligned_alloc(align, (n + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

namespace srtpgate::app {
namespace {

using testing::FakeService;

// Searches the blocks freed while it lives, counting from zero.
class Search {
 public:
  Search() {
    for (auto& f : g_found) f = 0;
    g_searched = 0;
    g_searching = true;
  }
  ~Search() { g_searching = false; }
  Search(const Search&) = delete;
  Search& operator=(const Search&) = delete;
};

void expect_nothing_found() {
  EXPECT_GT(g_searched.load(), 0U) << "no block was freed while searching";
  for (std::size_t k = 0; k < kSecretCount; ++k) {
    EXPECT_EQ(g_found[k].load(), 0)
        << kSecrets[k].name << " is in " << g_found[k].load() << " freed block(s)";
  }
}

Json sdes(std::string_view key) {
  return {{"sdes", {{"profile", "AES_CM_128_HMAC_SHA1_80"}, {"key", key}}}};
}

Json transcrypt_session() {
  return Json{{"port", "net_ring0"},
              {"local_addr", "198.18.0.1"},
              {"local_port", 4000},
              {"remote_addr", "198.18.1.1"},
              {"remote_port", 5000},
              {"action", "transcrypt"},
              {"inbound", sdes(kKey1Params)},
              {"outbound", sdes(kKey2Params)},
              {"next_hop",
               {{"port", "net_ring1"},
                {"mac", "02:00:00:00:00:01"},
                {"src_addr", "198.18.2.1"},
                {"dst_addr", "198.18.2.2"},
                {"dst_port", 7000}}}};
}

Json create_request() {
  Json j = transcrypt_session();
  j["cmd"] = "create";
  return j;
}

// Requests that carry both keys, as one line each. The answers expected: ok, or an error
// containing the text given.
struct Exchange {
  std::string request;
  std::string error;  // empty: ok
};
std::vector<Exchange> exchanges() {
  const std::string key1(kKey1Params);
  const std::string key2(kKey2Params);
  const std::string profile = R"("profile":"AES_CM_128_HMAC_SHA1_80")";
  Json bad_hop = create_request();
  bad_hop["next_hop"]["mac"] = "02:00:00:00:00";
  return {
      {create_request().dump(), ""},
      // The key is the request's last token, with a lifetime and an MKI.
      {R"({"cmd":"rekey","id":1,"inbound":{)" + profile + R"(,"key":")" + key2 + R"(|2^31|1:4"}})",
       ""},
      // Blanks after the key: nlohmann's lexer keeps them with the key in its token buffer.
      {R"({"cmd":"rekey","id":1,"outbound":{"key":")" + key1 + "\"" + std::string(300, ' ') + "," +
           profile + "}}",
       ""},
      // Refused after the keys were read.
      {bad_hop.dump(), "next_hop.mac"},
      // Refused while parsing: the parse stops looking at the second "key" and must still read
      // to the end.
      {R"({"cmd":"rekey","id":1,"inbound":{)" + profile + R"(,"key":")" + key1 + R"(","key":")" +
           key2 + R"("}})",
       "duplicate field"},
  };
}

void expect_answer(const std::string& answer, const Exchange& e) {
  const Json a = Json::parse(answer, nullptr, false);
  ASSERT_TRUE(a.is_object()) << answer;
  EXPECT_EQ(a.value("ok", !e.error.empty()), e.error.empty()) << answer;
  if (!e.error.empty()) {
    EXPECT_NE(a.value("error", "").find(e.error), std::string::npos) << answer;
  }
}

using testing::TempDir;

// A configuration with `sessions` sessions keyed by both keys, naming a certificate and the
// private key, pretty-printed (so the keys are followed by blanks).
std::string configuration(const TempDir& dir, std::size_t sessions) {
  dir.write("cert.pem", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
  dir.write("key.pem", std::string(kPem));
  Json j = {{"ports",
             {{{"name", "net_ring0"}, {"addresses", {"198.18.0.1"}}},
              {{"name", "net_ring1"}, {"addresses", {"198.18.2.1"}}}}},
            {"certificate", {{"cert_pem_file", "cert.pem"}, {"key_pem_file", "key.pem"}}},
            {"sessions", Json::array()}};
  for (std::size_t i = 0; i < sessions; ++i) {
    j["sessions"].push_back(transcrypt_session());
  }
  return j.dump(2);
}

void expect_configuration(const AppConfig& c, std::size_t sessions) {
  ASSERT_EQ(c.sessions.size(), sessions);
  EXPECT_EQ(c.sessions.back().inbound->sdes->key_params.view(), kKey1Params);
  EXPECT_EQ(c.sessions.back().outbound->sdes->key_params.view(), kKey2Params);
  EXPECT_EQ(c.private_key_pem.view(), kPem);
}

// The search finds an unwiped copy of each secret in a freed block, and not the same copy held
// by a SecretString: it can fail, and SecretString passes it.
TEST(KeyWiping, AnUnwipedCopyIsFoundAndAWipedOneIsNot) {
  for (std::size_t k = 0; k < kSecretCount; ++k) {
    const auto* bytes = static_cast<const uint8_t*>(kSecrets[k].bytes);
    {
      Search search;
      auto copy = std::make_unique<std::vector<uint8_t>>(bytes, bytes + kSecrets[k].len);
      escape(copy->data());
      copy.reset();
    }
    EXPECT_EQ(g_found[k].load(), 1) << kSecrets[k].name;
    {
      Search search;
      auto copy = std::make_unique<SecretString>(
          std::string_view(static_cast<const char*>(kSecrets[k].bytes), kSecrets[k].len));
      escape(copy->data());
      copy.reset();
    }
    EXPECT_EQ(g_found[k].load(), 0) << kSecrets[k].name;
  }
}

// SecretString wipes each block it outgrows, and the bytes it drops while it lives (so a
// receive buffer holds no request it has answered).
TEST(KeyWiping, SecretStringWipesWhatItOutgrowsAndWhatItDrops) {
  std::string text;
  for (int i = 0; i < 8; ++i) {
    text.append(kKey1Params).append("|").append(kKey2Params).append("\n");
  }
  const std::string_view piece = text;
  const auto all_zero = [](const char* p, std::size_t n) {
    return std::all_of(p, p + n, [](char c) { return c == 0; });
  };
  {
    Search search;
    SecretString s;
    for (std::size_t at = 0; at < piece.size(); at += 5) s.append(piece.substr(at, 5));
    EXPECT_EQ(s.view(), piece);
    s.append(s.view());  // from itself, into a new block
    EXPECT_EQ(s.view().substr(piece.size()), piece);

    SecretString copy = s;
    SecretString moved = std::move(copy);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    moved.erase_front(100);
    EXPECT_EQ(moved.view(), s.view().substr(100));
    EXPECT_TRUE(all_zero(moved.data() + moved.size(), 100)) << "erase_front left bytes behind";
    moved.resize(10);
    EXPECT_TRUE(all_zero(moved.data() + 10, 100)) << "resize left bytes behind";
    moved.resize(5000);
    EXPECT_EQ(moved.view().substr(0, 10), s.view().substr(100, 10));
    EXPECT_TRUE(all_zero(moved.data() + 10, 4990));
    const char* before = moved.data();
    moved.clear();
    EXPECT_EQ(moved.data(), before);
    EXPECT_TRUE(all_zero(moved.data(), 5000)) << "clear left bytes behind";
    moved = s;
    s = SecretString("x");
    moved = std::move(s);
    EXPECT_EQ(moved.view(), "x");
  }
  expect_nothing_found();
}

// Requests through the control protocol: the request's parse (nlohmann's lexer and tree),
// the decoded legs and the service's copies of them.
TEST(KeyWiping, ControlRequestsLeaveNoKeyInFreedMemory) {
  const std::vector<Exchange> ex = exchanges();
  std::vector<std::string> answers;
  answers.reserve(ex.size());
  {
    Search search;
    FakeService service;
    for (const Exchange& e : ex) answers.push_back(handle_request(service, e.request));
    EXPECT_EQ(service.creates.size(), 1U);
    EXPECT_EQ(service.rekeys.size(), 2U);
  }
  expect_nothing_found();
  for (std::size_t i = 0; i < ex.size(); ++i) expect_answer(answers[i], ex[i]);
}

// The same requests through the control socket, sent a few bytes at a time and then all at
// once: the receive buffer grows, answers a line and keeps the rest, and goes on close.
TEST(KeyWiping, TheControlSocketsReceiveBufferLeavesNoKeyInFreedMemory) {
  const std::vector<Exchange> ex = exchanges();
  std::string slow = ex[0].request + "\n";
  std::string fast;
  for (std::size_t i = 1; i < ex.size(); ++i) fast += ex[i].request + "\n";
  TempDir dir;
  const std::string path = dir.path() + "/control.sock";
  std::string received;
  received.reserve(1 << 16);
  {
    Search search;
    FakeService service;
    auto opened = ControlSocket::open(
        path, [&](std::string_view line) { return handle_request(service, line); });
    ASSERT_TRUE(opened) << opened.message();
    std::unique_ptr<ControlSocket> socket = std::move(opened.value());
    const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(client, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    socket->service(0);
    ASSERT_EQ(socket->clients(), 1U);
    const auto send_all = [&](std::string_view data) {
      ASSERT_EQ(::send(client, data.data(), data.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(data.size()));
      socket->service(0);
    };
    for (std::size_t at = 0; at < slow.size(); at += 7) {
      send_all(std::string_view(slow).substr(at, 7));
    }
    send_all(fast);
    char buf[4096];
    for (int i = 0; i < 1000 && std::count(received.begin(), received.end(), '\n') <
                                    static_cast<std::ptrdiff_t>(ex.size());
         ++i) {
      socket->service(1);
      for (ssize_t n; (n = ::read(client, buf, sizeof buf)) > 0;) {
        received.append(buf, static_cast<std::size_t>(n));
      }
    }
    ::close(client);
    for (int i = 0; i < 1000 && socket->clients() != 0; ++i) socket->service(1);
    EXPECT_EQ(socket->clients(), 0U);
  }
  expect_nothing_found();
  std::size_t at = 0;
  for (const Exchange& e : ex) {
    const std::size_t nl = received.find('\n', at);
    ASSERT_NE(nl, std::string::npos) << received;
    expect_answer(received.substr(at, nl - at), e);
    at = nl + 1;
  }
}

// A configuration file with keys and the private key file it names: their read buffers, the
// parse, and the configuration the daemon is given.
TEST(KeyWiping, TheConfigurationLeavesNoKeyInFreedMemory) {
  TempDir dir;
  const std::string file = dir.write("srtpgate.json", configuration(dir, 3));
  {
    Search search;
    auto c = load_config(file);
    ASSERT_TRUE(c.ok()) << c.message();
    expect_configuration(c.value(), 3);
  }
  expect_nothing_found();
}

// A configuration from a pipe is read into a buffer that starts at 4 KiB and doubles: none of
// the smaller blocks keeps what it held.
TEST(KeyWiping, TheConfigurationFromAPipeLeavesNoKeyInFreedMemory) {
  TempDir dir;
  const std::string text = configuration(dir, 30);
  ASSERT_GT(text.size(), std::size_t{16384});
  const std::string fifo = dir.path() + "/srtpgate.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  {
    Search search;
    std::thread writer([&] {
      const int fd = testing::open_fifo_writer(fifo);
      if (fd < 0) return;
      for (std::size_t at = 0; at < text.size();) {
        const std::size_t chunk = std::min<std::size_t>(3000, text.size() - at);
        const ssize_t n = ::write(fd, text.data() + at, chunk);
        if (n <= 0) break;
        at += static_cast<std::size_t>(n);
      }
      ::close(fd);
    });
    auto c = load_config(fifo);
    writer.join();
    ASSERT_TRUE(c.ok()) << c.message();
    expect_configuration(c.value(), 30);
  }
  expect_nothing_found();
}

}  // namespace
}  // namespace srtpgate::app
