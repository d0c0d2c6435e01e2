// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/tls_session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/tls_test_support.h"
#include "net/tls_context.h"

namespace kensa::net {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// One certificate for the whole suite: key generation is the slow part.
class TlsSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto tls = TestTls::Create(::testing::TempDir(), "kensa_tls");
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = tls->release();
  }
  static void TearDownTestSuite() { delete tls_; }

  void SetUp() override {
    server_ = TlsSession::NewServer(*tls_->server);
    client_ = TlsSession::NewClient(*tls_->client, "mx.example.org");
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(client_, nullptr);
  }

  // Moves ciphertext both ways until neither side has any left, as two reactors would.
  static absl::Status Shuttle(TlsSession& a, TlsSession& b, std::string* a_plain,
                              std::string* b_plain) {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      if (a.HasCiphertext()) {
        std::string c;
        a.TakeCiphertext(&c);
        moved = true;
        if (absl::Status s = b.FeedCiphertext(c, b_plain); !s.ok()) return s;
      }
      if (b.HasCiphertext()) {
        std::string c;
        b.TakeCiphertext(&c);
        moved = true;
        if (absl::Status s = a.FeedCiphertext(c, a_plain); !s.ok()) return s;
      }
      if (!moved) return absl::OkStatus();
    }
    return absl::InternalError("no quiescence");
  }

  absl::Status Handshake() {
    client_->StartHandshake();
    std::string cp, sp;
    absl::Status s = Shuttle(*client_, *server_, &cp, &sp);
    EXPECT_TRUE(cp.empty());
    EXPECT_TRUE(sp.empty());
    return s;
  }

  static TestTls* tls_;
  std::unique_ptr<TlsSession> server_;
  std::unique_ptr<TlsSession> client_;
};

TestTls* TlsSessionTest::tls_ = nullptr;

TEST_F(TlsSessionTest, HandshakeAndDataBothWays) {
  EXPECT_TRUE(tls_->server->is_server());
  EXPECT_FALSE(tls_->client->is_server());
  EXPECT_FALSE(client_->handshake_done());
  ASSERT_TRUE(Handshake().ok());
  EXPECT_TRUE(client_->handshake_done());
  EXPECT_TRUE(server_->handshake_done());
  EXPECT_THAT(server_->Describe(), HasSubstr("TLS"));
  EXPECT_THAT(server_->Describe(), StartsWith("TLSv1.3 with cipher TLS_"));
  EXPECT_THAT(server_->Describe(), HasSubstr(" bits)"));
  EXPECT_EQ(client_->Describe(), server_->Describe());

  ASSERT_TRUE(client_->WritePlaintext("EHLO client.example\r\n").ok());
  std::string cp, sp;
  ASSERT_TRUE(Shuttle(*client_, *server_, &cp, &sp).ok());
  EXPECT_EQ(sp, "EHLO client.example\r\n");
  ASSERT_TRUE(server_->WritePlaintext("250 mx.example.org\r\n").ok());
  ASSERT_TRUE(Shuttle(*client_, *server_, &cp, &sp).ok());
  EXPECT_EQ(cp, "250 mx.example.org\r\n");
  EXPECT_FALSE(client_->peer_closed());
  EXPECT_FALSE(server_->peer_closed());
}

TEST_F(TlsSessionTest, OneMegabyteEachWay) {
  ASSERT_TRUE(Handshake().ok());
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + (i >> 9));
  ASSERT_TRUE(client_->WritePlaintext(big).ok());
  ASSERT_TRUE(server_->WritePlaintext(big).ok());
  std::string cp, sp;
  ASSERT_TRUE(Shuttle(*client_, *server_, &cp, &sp).ok());
  EXPECT_EQ(sp.size(), big.size());
  EXPECT_TRUE(sp == big);
  EXPECT_TRUE(cp == big);
}

TEST_F(TlsSessionTest, CiphertextFedOneByteAtATime) {
  client_->StartHandshake();
  std::string cp, sp;
  // Byte-wise delivery exercises partial records in the in BIO.
  for (int round = 0; round < 20 && !(client_->handshake_done() && server_->handshake_done());
       ++round) {
    std::string c;
    client_->TakeCiphertext(&c);
    for (char ch : c) ASSERT_TRUE(server_->FeedCiphertext(std::string_view(&ch, 1), &sp).ok());
    c.clear();
    server_->TakeCiphertext(&c);
    for (char ch : c) ASSERT_TRUE(client_->FeedCiphertext(std::string_view(&ch, 1), &cp).ok());
  }
  ASSERT_TRUE(client_->handshake_done() && server_->handshake_done());
  ASSERT_TRUE(client_->WritePlaintext("hello").ok());
  std::string c;
  client_->TakeCiphertext(&c);
  for (char ch : c) ASSERT_TRUE(server_->FeedCiphertext(std::string_view(&ch, 1), &sp).ok());
  EXPECT_EQ(sp, "hello");
}

TEST_F(TlsSessionTest, PlaintextWrittenBeforeHandshakeIsDeliveredAfter) {
  ASSERT_TRUE(client_->WritePlaintext("EHLO early\r\n").ok());
  ASSERT_TRUE(server_->WritePlaintext("220 early banner\r\n").ok());
  client_->StartHandshake();
  std::string cp, sp;
  ASSERT_TRUE(Shuttle(*client_, *server_, &cp, &sp).ok());
  ASSERT_TRUE(client_->handshake_done());
  ASSERT_TRUE(server_->handshake_done());
  EXPECT_EQ(sp, "EHLO early\r\n");
  EXPECT_EQ(cp, "220 early banner\r\n");
}

TEST_F(TlsSessionTest, CloseNotifySetsPeerClosed) {
  ASSERT_TRUE(Handshake().ok());
  ASSERT_TRUE(client_->WritePlaintext("QUIT\r\n").ok());
  client_->Shutdown();
  client_->Shutdown();  // once only
  EXPECT_FALSE(client_->WritePlaintext("more").ok());
  std::string cp, sp;
  ASSERT_TRUE(Shuttle(*client_, *server_, &cp, &sp).ok());
  EXPECT_EQ(sp, "QUIT\r\n");
  EXPECT_TRUE(server_->peer_closed());
  EXPECT_FALSE(client_->peer_closed());
  // The server may still answer before closing its side.
  ASSERT_TRUE(server_->WritePlaintext("221 bye\r\n").ok());
  server_->Shutdown();
  ASSERT_TRUE(Shuttle(*client_, *server_, &cp, &sp).ok());
  EXPECT_EQ(cp, "221 bye\r\n");
  EXPECT_TRUE(client_->peer_closed());
}

TEST_F(TlsSessionTest, ShutdownBeforeHandshakeIsHarmless) {
  server_->Shutdown();
  client_->Shutdown();
  EXPECT_FALSE(server_->HasCiphertext());
}

TEST_F(TlsSessionTest, GarbageToServerIsAnErrorNotACrash) {
  std::string plain;
  absl::Status s = server_->FeedCiphertext("EHLO plaintext.example\r\n", &plain);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("error:"));  // OpenSSL's reason
  EXPECT_TRUE(plain.empty());
  EXPECT_FALSE(server_->handshake_done());
  // Later calls keep failing with the same reason; Shutdown is a no-op.
  absl::Status again = server_->FeedCiphertext("more", &plain);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.message(), s.message());
  EXPECT_FALSE(server_->WritePlaintext("x").ok());
  server_->Shutdown();
  std::string out;
  server_->TakeCiphertext(&out);  // at most an alert
  EXPECT_LT(out.size(), 64u);
}

TEST_F(TlsSessionTest, GarbageAfterHandshakeIsAnError) {
  ASSERT_TRUE(Handshake().ok());
  std::string plain;
  std::string junk(200, '\x17');
  EXPECT_FALSE(server_->FeedCiphertext(junk, &plain).ok());
}

TEST_F(TlsSessionTest, StaleErrorsOnTheThreadDoNotLeakIn) {
  // Another session on this reactor thread failed and left its errors behind.
  auto other = TlsSession::NewServer(*tls_->server);
  std::string plain;
  ASSERT_FALSE(other->FeedCiphertext("garbage garbage garbage", &plain).ok());
  ERR_raise(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR);
  ASSERT_TRUE(Handshake().ok());
  ERR_raise(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR);
  ASSERT_TRUE(client_->WritePlaintext("ok").ok());
  std::string cp, sp;
  ERR_raise(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR);
  ASSERT_TRUE(Shuttle(*client_, *server_, &cp, &sp).ok());
  EXPECT_EQ(sp, "ok");
  ERR_clear_error();
}

TEST_F(TlsSessionTest, ClientWithIpLiteralAndVerificationOff) {
  client_ = TlsSession::NewClient(*tls_->client, "192.0.2.1");
  ASSERT_TRUE(Handshake().ok());
  client_ = TlsSession::NewClient(*tls_->client, "[2001:db8::1]");
  server_ = TlsSession::NewServer(*tls_->server);
  ASSERT_TRUE(Handshake().ok());
  client_ = TlsSession::NewClient(*tls_->client, "");
  server_ = TlsSession::NewServer(*tls_->server);
  ASSERT_TRUE(Handshake().ok());
}

TEST_F(TlsSessionTest, VerifyingClientChecksChainAndName) {
  TlsClientOptions o;
  o.verify_peer = true;
  o.ca_file = tls_->cert_file();
  auto vctx = TlsContext::CreateClient(o);
  ASSERT_TRUE(vctx.ok()) << vctx.status();
  client_ = TlsSession::NewClient(**vctx, "mx.example.org.");
  ASSERT_TRUE(Handshake().ok());

  client_ = TlsSession::NewClient(**vctx, "wrong.example.org");
  server_ = TlsSession::NewServer(*tls_->server);
  client_->StartHandshake();
  std::string cp, sp;
  absl::Status s = Shuttle(*client_, *server_, &cp, &sp);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("certificate verify failed"));

  o.ca_file = tls_->dir + "/no-such-ca.pem";
  auto bad = TlsContext::CreateClient(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(o.ca_file));
}

TEST_F(TlsSessionTest, MinVersionTls13RefusesATls12Client) {
  TlsServerOptions so;
  so.cert_file = tls_->cert_file();
  so.key_file = tls_->key_file();
  so.min_version = "TLSv1.3";
  auto s13 = TlsContext::CreateServer(so);
  ASSERT_TRUE(s13.ok()) << s13.status();
  server_ = TlsSession::NewServer(**s13);
  SSL_CTX* c12 = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(c12, TLS1_2_VERSION);
  // Borrow the context through a client TlsContext is not possible (private ctor), so
  // drive a raw SSL for this one check.
  SSL* raw = SSL_new(c12);
  BIO* rin = BIO_new(BIO_s_mem());
  BIO* rout = BIO_new(BIO_s_mem());
  SSL_set_bio(raw, rin, rout);
  SSL_set_connect_state(raw);
  EXPECT_NE(SSL_do_handshake(raw), 1);
  std::string hello(BIO_ctrl_pending(rout), '\0');
  BIO_read(rout, hello.data(), static_cast<int>(hello.size()));
  std::string plain;
  absl::Status st = server_->FeedCiphertext(hello, &plain);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("unsupported protocol"));
  SSL_free(raw);
  SSL_CTX_free(c12);
  ERR_clear_error();
}

TEST_F(TlsSessionTest, TlsV12Works) {
  auto c12 = TlsContext::CreateClient({});
  ASSERT_TRUE(c12.ok());
  SSL_CTX_set_max_proto_version((*c12)->get(), TLS1_2_VERSION);
  client_ = TlsSession::NewClient(**c12, "mx.example.org");
  absl::Status s = Handshake();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(server_->Describe(), StartsWith("TLSv1.2 with cipher "));
  ASSERT_TRUE(client_->WritePlaintext("hi").ok());
  std::string cp, sp;
  ASSERT_TRUE(Shuttle(*client_, *server_, &cp, &sp).ok());
  EXPECT_EQ(sp, "hi");
}

// --- interoperability with the openssl binary over real sockets -------------------------

constexpr const char* kOpenssl = "/usr/bin/openssl";

// Runs `session` over `fd` until done() or the deadline; returns false on timeout/error.
bool Drive(int fd, TlsSession& session, std::string* plain, const std::function<bool()>& done,
           int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (session.HasCiphertext()) {
      std::string out;
      session.TakeCiphertext(&out);
      size_t off = 0;
      while (off < out.size()) {
        ssize_t n = send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
      }
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return done();
    if (!session.FeedCiphertext(std::string_view(buf, n), plain).ok()) return false;
  }
  // Flush whatever the last step queued.
  if (session.HasCiphertext()) {
    std::string out;
    session.TakeCiphertext(&out);
    (void)send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  }
  return true;
}

int ListenLoopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 4) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

TEST_F(TlsSessionTest, InteropWithOpensslSClient) {
  if (access(kOpenssl, X_OK) != 0) GTEST_SKIP() << "no openssl binary";
  int port = 0;
  int lfd = ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  int to_child[2], from_child[2];
  ASSERT_EQ(pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(from_child, O_CLOEXEC), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    std::string addr = "127.0.0.1:" + std::to_string(port);
    execl(kOpenssl, kOpenssl, "s_client", "-connect", addr.c_str(), "-servername",
          "mx.example.org", "-quiet", "-no_ign_eof", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  pollfd p{lfd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(fd, 0);
  close(lfd);

  std::string plain;
  ASSERT_TRUE(server_->WritePlaintext("220 hello from kensa\n").ok());
  ASSERT_TRUE(Drive(fd, *server_, &plain, [&] { return server_->handshake_done(); }));
  EXPECT_THAT(server_->Describe(), StartsWith("TLSv1.3"));
  ASSERT_EQ(write(to_child[1], "EHLO s_client\n", 14), 14);
  ASSERT_TRUE(Drive(fd, *server_, &plain,
                    [&] { return plain.find('\n') != std::string::npos; }));
  EXPECT_EQ(plain, "EHLO s_client\n");
  ASSERT_TRUE(server_->WritePlaintext("250 ok\n").ok());
  ASSERT_TRUE(Drive(fd, *server_, &plain, [] { return true; }));

  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.find("250 ok\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd q{from_child[0], POLLIN, 0};
    if (poll(&q, 1, 200) != 1) continue;
    char buf[512];
    ssize_t n = read(from_child[0], buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, n);
  }
  EXPECT_EQ(got, "220 hello from kensa\n250 ok\n");
  server_->Shutdown();
  ASSERT_TRUE(Drive(fd, *server_, &plain, [] { return true; }));
  close(to_child[1]);
  close(from_child[0]);
  close(fd);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

TEST_F(TlsSessionTest, InteropWithOpensslSServer) {
  if (access(kOpenssl, X_OK) != 0) GTEST_SKIP() << "no openssl binary";
  int port = 0;
  int lfd = ListenLoopback(&port);  // reserve a free port, then hand it over
  ASSERT_GE(lfd, 0);
  close(lfd);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::string addr = "127.0.0.1:" + std::to_string(port);
    std::string cert = tls_->cert_file(), key = tls_->key_file();
    // -rev: each line comes back reversed, which proves a full round trip.
    execl(kOpenssl, kOpenssl, "s_server", "-accept", addr.c_str(), "-cert", cert.c_str(),
          "-key", key.c_str(), "-naccept", "1", "-rev", static_cast<char*>(nullptr));
    _exit(127);
  }
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; ++i) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(fd);
      fd = -1;
      usleep(50 * 1000);
    }
  }
  ASSERT_GE(fd, 0) << "s_server did not come up";
  std::string plain;
  ASSERT_TRUE(client_->WritePlaintext("kensa\n").ok());
  client_->StartHandshake();
  ASSERT_TRUE(Drive(fd, *client_, &plain,
                    [&] { return plain.find("asnek") != std::string::npos; }));
  EXPECT_THAT(client_->Describe(), StartsWith("TLSv1.3"));
  EXPECT_THAT(plain, HasSubstr("asnek"));
  client_->Shutdown();
  Drive(fd, *client_, &plain, [] { return true; });
  close(fd);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace kensa::net
