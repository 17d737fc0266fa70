// The control socket's transport: a client that never reads its answers holds a bounded amount
// of the daemon's memory, and a client that keeps writing cannot keep the control thread in one
// service() call. Over a real AF_UNIX socket, against a stub handler.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "control_socket.h"

namespace srtpgate::app {
namespace {

class SocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/srtpgate-socket-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/control.sock";
  }
  void TearDown() override {
    socket_.reset();
    if (client_ >= 0) ::close(client_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  void open(ControlSocket::Handler handler) {
    auto s = ControlSocket::open(path_, std::move(handler));
    ASSERT_TRUE(s) << s.message();
    socket_ = std::move(s.value());
    client_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(client_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::connect(client_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    socket_->service(0);  // accepts
    ASSERT_EQ(socket_->clients(), 1u);
  }
  // Writes as much of `data` as the socket takes without blocking; returns how much.
  std::size_t write_some(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(client_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }
  // Reads what is there without blocking; returns the number of newlines in it.
  std::size_t read_lines() {
    std::size_t lines = 0;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(client_, buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
    }
    return lines;
  }

  // Appends what is there to `into` without blocking; returns the number of newlines added.
  std::size_t read_into(std::string& into) {
    const std::size_t before = into.size();
    char buf[65536];
    ssize_t n;
    while ((n = ::read(client_, buf, sizeof buf)) > 0) {
      into.append(buf, static_cast<std::size_t>(n));
    }
    return static_cast<std::size_t>(std::count(into.begin() + before, into.end(), '\n'));
  }

  std::string dir_, path_;
  std::unique_ptr<ControlSocket> socket_;
  int client_ = -1;
};

// A client pipelines 2000 requests whose answers are 4 KiB each (8 MB in all) and reads none:
// the daemon holds at most kMaxPendingOutput plus one answer for it. Once it reads, every
// answer arrives, in order of the requests, none lost. Each request has its own `tag`, which the
// stub echoes as the protocol does (docs/control.md), so the order is visible to the client.
TEST_F(SocketTest, AClientThatDoesNotReadHoldsBoundedMemoryAndLosesNothing) {
  constexpr std::size_t kAnswerSize = 4096;
  constexpr std::size_t kRequests = 2000;
  const auto answer_to = [](std::string_view tag) {
    std::string a = "{\"ok\":true,\"tag\":" + std::string(tag) + ",\"pad\":\"";
    a.append(kAnswerSize - a.size() - 2, 'a');
    return a + "\"}";
  };
  std::size_t handled = 0;
  open([&](std::string_view line) {
    ++handled;
    // `{"tag":N}` -> N
    const std::size_t colon = line.find(':');
    return answer_to(line.substr(colon + 1, line.size() - colon - 2));
  });
  std::string requests;
  for (std::size_t i = 0; i < kRequests; ++i) {
    requests += "{\"tag\":" + std::to_string(i) + "}\n";
  }
  ASSERT_EQ(write_some(requests), requests.size());
  for (int i = 0; i < 200; ++i) {
    socket_->service(0);
    ASSERT_LE(socket_->pending_output_bytes(), ControlSocket::kMaxPendingOutput + kAnswerSize + 1);
  }
  EXPECT_LT(handled, kRequests);  // the rest wait until the client reads
  std::string received;
  std::size_t lines = 0;
  for (int i = 0; i < 100000 && lines < kRequests; ++i) {
    socket_->service(0);
    lines += read_into(received);
  }
  ASSERT_EQ(lines, kRequests);
  std::size_t at = 0;
  for (std::size_t i = 0; i < kRequests; ++i) {
    const std::size_t nl = received.find('\n', at);
    ASSERT_EQ(received.substr(at, nl - at), answer_to(std::to_string(i))) << "answer " << i;
    at = nl + 1;
  }
  EXPECT_EQ(handled, kRequests);
  EXPECT_EQ(socket_->clients(), 1u);
}

// A client that has written far more than kReadBudget gets at most that much read in one
// service() call; the rest is answered in later calls.
TEST_F(SocketTest, OneServiceCallReadsAtMostTheBudgetFromAClient) {
  std::size_t handled = 0;
  open([&](std::string_view) {
    ++handled;
    return std::string("{}");
  });
  std::string requests;
  for (std::size_t i = 0; i < 4 * ControlSocket::kReadBudget / 3; ++i) requests += "{}\n";
  const std::size_t sent = write_some(requests);
  ASSERT_GT(sent, ControlSocket::kReadBudget + 3);
  socket_->service(0);
  EXPECT_GT(handled, 0u);
  EXPECT_LE(handled, ControlSocket::kReadBudget / 3);
  for (int i = 0; i < 1000 && handled < sent / 3; ++i) {
    socket_->service(0);
    read_lines();
  }
  EXPECT_EQ(handled, sent / 3);
}

// A daemon shutting down stops accepting (and removes its socket file); one started meanwhile
// binds the same path. The first one's destruction must leave the second one's file alone.
TEST_F(SocketTest, ClosingAfterStopAcceptingLeavesASuccessorsSocketFile) {
  auto first = ControlSocket::open(path_, [](std::string_view) { return std::string("{}"); });
  ASSERT_TRUE(first) << first.message();
  first.value()->stop_accepting();
  auto second = ControlSocket::open(path_, [](std::string_view) { return std::string("{}"); });
  ASSERT_TRUE(second) << second.message();
  first.value().reset();
  struct stat st {};
  EXPECT_EQ(::lstat(path_.c_str(), &st), 0) << "the successor's socket file is gone";
  second.value().reset();
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
}

// Whoever can write the socket's folder can replace the socket and read the keys sent to it:
// the daemon refuses a folder that someone else owns, that others may write without the sticky
// bit, or that is a symbolic link someone else owns; a sticky world-writable folder such as /tmp
// is fine, and so is a link we or root own (/var/run -> /run). (A `--demo` started while
// someone else had made /tmp/srtpgate-demo would have served its control socket from their
// folder.) A folder the daemon creates is its own whatever the umask.
TEST_F(SocketTest, RefusesAFolderSomeoneElseCouldReplaceTheSocketIn) {
  const auto refused = [](const std::string& folder, const char* why) {
    auto s = ControlSocket::open(folder + "/control.sock", [](std::string_view) {
      return std::string("{}");
    });
    EXPECT_FALSE(s) << why;
    if (!s) {
      EXPECT_NE(s.message().find(folder), std::string::npos) << s.message();
    }
  };
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);  // writable by all, not sticky
  refused(dir_, "a folder anyone may write");
  ASSERT_EQ(::chmod(dir_.c_str(), 01777), 0);  // sticky, like /tmp
  {
    auto s = ControlSocket::open(path_, [](std::string_view) { return std::string("{}"); });
    EXPECT_TRUE(s) << s.message();
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  const std::string link = dir_ + "-link";
  ASSERT_EQ(::symlink(dir_.c_str(), link.c_str()), 0);
  {
    auto s = ControlSocket::open(link + "/control.sock", [](std::string_view) { return "{}"; });
    EXPECT_TRUE(s) << "our own link: " << s.message();
  }
  const std::string made = dir_ + "/made/by/us";
  const mode_t old_mask = ::umask(002);
  {
    auto s = ControlSocket::open(made + "/control.sock", [](std::string_view) { return "{}"; });
    EXPECT_TRUE(s) << "a folder made under umask 002: " << s.message();
  }
  ::umask(old_mask);
  ::unlink((made + "/control.sock").c_str());
  ::rmdir(made.c_str());
  ::rmdir((dir_ + "/made/by").c_str());
  ::rmdir((dir_ + "/made").c_str());
  if (::geteuid() == 0) {  // only root can give a folder or a link away
    ASSERT_EQ(::lchown(link.c_str(), 4242, 4242), 0);
    refused(link, "a symbolic link another user owns");
    ASSERT_EQ(::chown(dir_.c_str(), 4242, 4242), 0);
    refused(dir_, "a folder another user owns");
    ASSERT_EQ(::chown(dir_.c_str(), 0, 0), 0);
  }
  ::unlink(link.c_str());
}

}  // namespace
}  // namespace srtpgate::app
