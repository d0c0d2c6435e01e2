// SPDX-License-Identifier: GPL-2.0-or-later
// Pop3Connection on a real reactor: the client through a socketpair, the backend a scripted
// POP3 server on 127.0.0.1 in a thread of the test.
#include "server/pop3_connection.h"

#include <netinet/in.h>

#include <future>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/connection_test_support.h"

namespace kensa {
namespace {

// A listening socket on 127.0.0.1 and one scripted session on it: each client line gets the
// reply the script has for its command word; what it received is kept for the test.
class ScriptedBackend {
 public:
  ScriptedBackend() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 1);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~ScriptedBackend() {
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  // Serves one connection: the greeting, then a reply per line until QUIT (or 5 s of silence).
  void Serve(std::vector<std::pair<std::string, std::string>> script) {
    thread_ = std::thread([this, script = std::move(script)] {
      timeval tv{5, 0};
      setsockopt(listen_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Write(fd, "+OK backend ready\r\n");
      std::string line;
      char c;
      while (recv(fd, &c, 1, 0) == 1) {
        line += c;
        if (!absl::EndsWith(line, "\r\n")) continue;
        received_ += line;
        for (const auto& [command, reply] : script) {
          if (absl::StartsWith(line, command)) {
            Write(fd, reply);
            break;
          }
        }
        if (absl::StartsWith(line, "QUIT")) break;
        line.clear();
      }
      close(fd);
    });
  }

  // After the session (joins the thread).
  std::string received() {
    if (thread_.joinable()) thread_.join();
    return received_;
  }

 private:
  static void Write(int fd, std::string_view s) {
    (void)!send(fd, s.data(), s.size(), MSG_NOSIGNAL);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string received_;
};

class Pop3ConnectionTest : public testing::ConnectionTestBed {
 protected:
  void Start() {
    ListenerConfig l;
    l.name = "pop3";
    l.address = "127.0.0.1:110";
    l.tls = ListenerTls::kNone;
    l.protocol = ListenerProtocol::kPop3;
    Connect([l](std::shared_ptr<const ConnectionEnvironment> env, std::shared_ptr<SocketStream> stream,
                const SocketAddress& peer) {
      return std::make_unique<Pop3Connection>(std::move(env), 1, std::move(stream), peer, l);
    });
  }

  std::string Say(std::string_view command) {
    Send(command);
    return ReadLine();
  }

  // A multi-line response: lines up to and with ".\r\n".
  std::string ReadMulti() {
    std::string out;
    for (int i = 0; i < 1000; ++i) {
      std::string line = ReadLine();
      out += line;
      if (line.empty() || line == ".\r\n") break;
    }
    return out;
  }
};

constexpr char kMessage[] = "From: alice@sender.test\r\nSubject: hi\r\n\r\nhello\r\n..stuffed\r\n";

TEST_F(Pop3ConnectionTest, RelaysTheBackendAfterLogin) {
  ScriptedBackend backend;
  pop3_.backend = backend.address();
  backend.Serve({{"USER", "+OK\r\n"},
                 {"PASS", "+OK logged in\r\n"},
                 {"LIST", "+OK 1 messages\r\n1 64\r\n.\r\n"},
                 {"RETR 1", absl::StrCat("+OK 64 octets\r\n", kMessage, ".\r\n")},
                 {"QUIT", "+OK bye\r\n"}});
  Start();
  EXPECT_TRUE(absl::StartsWith(ReadLine(), "+OK")) << "kensa's own greeting";
  EXPECT_TRUE(absl::StartsWith(Say("USER bob@example.test\r\n"), "+OK"));
  EXPECT_EQ(Say("PASS secret\r\n"), "+OK logged in\r\n");
  Send("LIST\r\n");
  EXPECT_EQ(ReadMulti(), "+OK 1 messages\r\n1 64\r\n.\r\n");
  Send("RETR 1\r\n");
  EXPECT_EQ(ReadMulti(), absl::StrCat("+OK 64 octets\r\n", kMessage, ".\r\n"));
  EXPECT_EQ(Say("QUIT\r\n"), "+OK bye\r\n");
  EXPECT_TRUE(ReadsEof());
  // The credentials went to the backend as the client gave them.
  const std::string received = backend.received();
  EXPECT_TRUE(absl::StrContains(received, "USER bob@example.test\r\nPASS secret\r\n")) << received;
  EXPECT_TRUE(absl::StrContains(received, "RETR 1\r\nQUIT\r\n")) << received;
  ASSERT_TRUE(WaitFinished());
  EXPECT_EQ(counters_.Sum(ids_.pop3_logins), 1u);
  EXPECT_EQ(limiter_.total(), 0u);
}

TEST_F(Pop3ConnectionTest, BackendDownAnswersErr) {
  {
    ScriptedBackend closed;  // a port that nobody listens on once it is gone
    pop3_.backend = closed.address();
  }
  Start();
  EXPECT_TRUE(absl::StartsWith(ReadLine(), "+OK"));
  EXPECT_TRUE(absl::StartsWith(Say("USER bob@example.test\r\n"), "+OK"));
  const std::string reply = Say("PASS secret\r\n");
  EXPECT_TRUE(absl::StartsWith(reply, "-ERR [SYS/TEMP]")) << reply;
  // The session goes on: the client may try again, or leave.
  EXPECT_TRUE(absl::StartsWith(Say("QUIT\r\n"), "+OK"));
  EXPECT_TRUE(ReadsEof());
  ASSERT_TRUE(WaitFinished());
  int finished = 0;
  Run([&] { finished = finished_; });
  EXPECT_EQ(finished, 1);
  EXPECT_EQ(limiter_.total(), 0u);
}

}  // namespace
}  // namespace kensa
