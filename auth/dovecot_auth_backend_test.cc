// SPDX-License-Identifier: GPL-2.0-or-later
// DovecotAuthBackend against a real Dovecot (started by the test, over UNIX and TCP) and, for
// the failures a healthy Dovecot never produces, against a scripted fake server.
#include "auth/dovecot_auth_backend.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "auth/auth_backend_factory.h"
#include "auth/crypt_hash.h"
#include "auth/dovecot_fixture_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Kind = AuthOutcome::Kind;

AuthRequest Req(std::string user, std::string password) {
  AuthRequest r;
  r.user = std::move(user);
  r.password = std::move(password);
  r.client_address = "192.0.2.10";
  r.local_address = "127.0.0.1";
  r.secured = true;
  return r;
}

std::unique_ptr<DovecotAuthBackend> MakeBackend(const std::string& endpoint,
                                                absl::Duration timeout = absl::Seconds(10),
                                                size_t connections = 4) {
  DovecotAuthOptions o;
  o.endpoint = endpoint;
  o.timeout = timeout;
  o.connections = connections;
  auto b = DovecotAuthBackend::Create(o);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *std::move(b) : nullptr;
}

class RealDovecotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> sha = CryptHash("sha pass", "$6$");
    ASSERT_TRUE(sha.ok()) << sha.status();
    absl::Status st = server_.Start({{"alice@example.test", "{PLAIN}wonderland"},
                                     {"bob", "{SHA512-CRYPT}" + *sha}});
    ASSERT_TRUE(st.ok()) << st;
  }
  testing::DovecotServer server_;
};

TEST_F(RealDovecotTest, VerifiesOverUnixAndTcp) {
  for (const std::string& endpoint : {server_.unix_endpoint(), server_.inet_endpoint()}) {
    SCOPED_TRACE(endpoint);
    auto backend = MakeBackend(endpoint);
    ASSERT_NE(backend, nullptr);
    EXPECT_EQ(backend->Describe(), "dovecot:" + endpoint);
    AuthOutcome ok = backend->Verify(Req("Alice@Example.Test", "wonderland"));
    ASSERT_EQ(ok.kind, Kind::kOk) << ok.reason << "\n" << server_.log();
    EXPECT_EQ(ok.user, "alice@example.test");  // Dovecot's canonical name
    EXPECT_EQ(ok.addresses, std::vector<std::string>{"alice@example.test"});
    AuthOutcome bob = backend->Verify(Req("bob", "sha pass"));
    EXPECT_EQ(bob.kind, Kind::kOk) << bob.reason;
    EXPECT_EQ(bob.user, "bob");
    EXPECT_TRUE(bob.addresses.empty());

    AuthOutcome wrong = backend->Verify(Req("alice@example.test", "looking-glass"));
    EXPECT_EQ(wrong.kind, Kind::kFailed) << wrong.reason;
    EXPECT_THAT(wrong.reason, Not(HasSubstr("looking-glass")));
    EXPECT_EQ(backend->Verify(Req("nobody@example.test", "wonderland")).kind, Kind::kFailed);
    // The pooled connection survives failures: the next OK reuses it.
    EXPECT_EQ(backend->Verify(Req("alice@example.test", "wonderland")).kind, Kind::kOk);
  }
}

TEST_F(RealDovecotTest, TabsAndNewlinesInNamesCannotInjectParameters) {
  auto backend = MakeBackend(server_.unix_endpoint());
  ASSERT_NE(backend, nullptr);
  // Were the user name put on the line raw, "\tuser=bob" or "\nAUTH..." would be new fields.
  for (const char* user : {"bob\tuser=bob", "bob\nOK\t1\tuser=bob", "alice@example.test\t"}) {
    AuthOutcome o = backend->Verify(Req(user, "wonderland"));
    EXPECT_EQ(o.kind, Kind::kFailed) << o.reason;
  }
  AuthRequest odd = Req("alice@example.test", "wonderland");
  odd.client_address = "192.0.2.1\tuser=bob";
  EXPECT_EQ(backend->Verify(odd).kind, Kind::kOk);  // escaped into one (bogus) rip value
  EXPECT_EQ(backend->Verify(Req("alice@example.test", std::string("wonder\0land", 11))).kind,
            Kind::kFailed);
}

TEST_F(RealDovecotTest, AuthzidIsDovecotsDecision) {
  auto backend = MakeBackend(server_.unix_endpoint());
  ASSERT_NE(backend, nullptr);
  AuthRequest r = Req("alice@example.test", "wonderland");
  r.authzid = "bob";  // no master users configured: Dovecot refuses
  EXPECT_EQ(backend->Verify(r).kind, Kind::kFailed);
}

TEST_F(RealDovecotTest, ConcurrentCallersShareTheBoundedPool) {
  auto backend = MakeBackend(server_.inet_endpoint(), absl::Seconds(10), 2);
  ASSERT_NE(backend, nullptr);
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        bool good = (t + i) % 5 != 0;
        AuthOutcome o = backend->Verify(Req("alice@example.test", good ? "wonderland" : "nope"));
        (o.kind == (good ? Kind::kOk : Kind::kFailed) ? ok : failed)++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(failed.load(), 0);
}

TEST_F(RealDovecotTest, StoppedDovecotIsTempFailNotFailed) {
  auto unix_backend = MakeBackend(server_.unix_endpoint(), absl::Seconds(3));
  auto inet_backend = MakeBackend(server_.inet_endpoint(), absl::Seconds(3));
  ASSERT_EQ(unix_backend->Verify(Req("alice@example.test", "wonderland")).kind, Kind::kOk);
  ASSERT_EQ(inet_backend->Verify(Req("alice@example.test", "wonderland")).kind, Kind::kOk);
  ASSERT_TRUE(server_.Stop().ok());
  // Both hold a pooled connection the server closed; neither may call the password wrong.
  for (auto* b : {unix_backend.get(), inet_backend.get()}) {
    AuthOutcome o = b->Verify(Req("alice@example.test", "wonderland"));
    EXPECT_EQ(o.kind, Kind::kTempFail) << o.reason;
    EXPECT_EQ(b->Verify(Req("alice@example.test", "wrong")).kind, Kind::kTempFail);
  }
}

TEST_F(RealDovecotTest, FactoryBuildsBothKinds) {
  AuthBackendOptions o;
  o.kind = "dovecot";
  o.dovecot_endpoint = server_.unix_endpoint();
  auto b = MakeAuthBackend(o);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->Verify(Req("alice@example.test", "wonderland")).kind, Kind::kOk);
  o.kind = "file";
  EXPECT_FALSE(MakeAuthBackend(o).ok());  // no passwd_file
  o.passwd_file = server_.dir() + "/missing";
  EXPECT_FALSE(MakeAuthBackend(o).ok());
  o.kind = "ldap";
  auto bad = MakeAuthBackend(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("ldap"));
  o.kind = "dovecot";
  o.dovecot_endpoint = "tcp:1.2.3.4";
  EXPECT_FALSE(MakeAuthBackend(o).ok());
}

// A one-connection-at-a-time scripted server on a UNIX socket: `script` gets each line the
// client sends and returns what to answer ("" for nothing, "<close>" to hang up).
class FakeServer {
 public:
  using Script = std::function<std::string(const std::string& line)>;
  explicit FakeServer(Script script, std::string greeting = kGreeting)
      : script_(std::move(script)), greeting_(std::move(greeting)) {
    char tmpl[] = "/tmp/kensa-fakeauth-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/auth";
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strncpy(un.sun_path, path_.c_str(), sizeof un.sun_path - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string endpoint() const { return "unix:" + path_; }
  int connections() const { return connections_.load(); }

  static constexpr const char* kGreeting =
      "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\nCOOKIE\tabc\nDONE\n";

 private:
  void Run() {
    for (;;) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      send(c, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
      std::string in;
      char buf[4096];
      bool open = true;
      while (open) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        size_t lf;
        while (open && (lf = in.find('\n')) != std::string::npos) {
          std::string line = in.substr(0, lf);
          in.erase(0, lf + 1);
          std::string answer = script_(line);
          if (answer == "<close>") {
            open = false;
          } else if (!answer.empty()) {
            send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
          }
        }
      }
      close(c);
    }
  }
  Script script_;
  std::string greeting_;
  std::string dir_, path_;
  int fd_ = -1;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

std::string AuthId(const std::string& line) {
  std::vector<std::string> f = absl::StrSplit(line, '\t');
  return f.size() > 1 ? f[1] : "";
}

TEST(FakeDovecotTest, ContinuationIsTempFailAndDropsTheConnection) {
  FakeServer server([](const std::string& line) -> std::string {
    if (!line.starts_with("AUTH")) return "";
    return absl::StrCat("CONT\t", AuthId(line), "\t\n");
  });
  auto backend = MakeBackend(server.endpoint(), absl::Seconds(5));
  EXPECT_EQ(backend->Verify(Req("a@example.test", "pw")).kind, Kind::kTempFail);
  EXPECT_EQ(backend->Verify(Req("a@example.test", "pw")).kind, Kind::kTempFail);
  EXPECT_EQ(server.connections(), 2);
}

TEST(FakeDovecotTest, BrokenMidRequestIsTempFailThenReconnects) {
  std::atomic<int> auths{0};
  FakeServer server([&](const std::string& line) -> std::string {
    if (!line.starts_with("AUTH")) return "";
    if (auths++ == 0) return "<close>";
    return absl::StrCat("OK\t", AuthId(line), "\tuser=a@example.test\n");
  });
  auto backend = MakeBackend(server.endpoint(), absl::Seconds(5));
  AuthOutcome broken = backend->Verify(Req("a@example.test", "pw"));
  EXPECT_EQ(broken.kind, Kind::kTempFail);
  EXPECT_THAT(broken.reason, HasSubstr("closed"));
  EXPECT_EQ(backend->Verify(Req("a@example.test", "pw")).kind, Kind::kOk);
  EXPECT_EQ(server.connections(), 2);
}

TEST(FakeDovecotTest, SilentServerTimesOutAsTempFail) {
  FakeServer server([](const std::string&) { return std::string(); });
  auto backend = MakeBackend(server.endpoint(), absl::Milliseconds(300));
  absl::Time start = absl::Now();
  AuthOutcome o = backend->Verify(Req("a@example.test", "pw"));
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(o.kind, Kind::kTempFail);
  EXPECT_THAT(o.reason, HasSubstr("timeout"));
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(3));
}

TEST(FakeDovecotTest, HandshakeWithoutPlainOrWrongVersionIsTempFail) {
  FakeServer no_plain([](const std::string&) { return std::string(); },
                      "VERSION\t1\t2\nMECH\tCRAM-MD5\nDONE\n");
  AuthOutcome o = MakeBackend(no_plain.endpoint())->Verify(Req("a@example.test", "pw"));
  EXPECT_EQ(o.kind, Kind::kTempFail);
  EXPECT_THAT(o.reason, HasSubstr("PLAIN"));
  FakeServer v2([](const std::string&) { return std::string(); }, "VERSION\t2\t0\nDONE\n");
  EXPECT_EQ(MakeBackend(v2.endpoint())->Verify(Req("a@example.test", "pw")).kind, Kind::kTempFail);
}

TEST(FakeDovecotTest, ReplyForAnotherIdOrGarbageIsTempFail) {
  FakeServer server([](const std::string& line) -> std::string {
    if (!line.starts_with("AUTH")) return "";
    return AuthId(line) == "1" ? "OK\t99\tuser=x\n" : "HELLO\tthere\n";
  });
  auto backend = MakeBackend(server.endpoint(), absl::Seconds(5));
  EXPECT_EQ(backend->Verify(Req("a@example.test", "pw")).kind, Kind::kTempFail);
  EXPECT_EQ(backend->Verify(Req("a@example.test", "pw")).kind, Kind::kTempFail);
}

TEST(FakeDovecotTest, SendsThePlainResponseAndFlags) {
  std::string seen;
  std::mutex mu;
  FakeServer server([&](const std::string& line) -> std::string {
    if (!line.starts_with("AUTH")) return "";
    std::lock_guard<std::mutex> lock(mu);
    seen = line;
    return absl::StrCat("FAIL\t", AuthId(line), "\tuser=a@example.test\n");
  });
  auto backend = MakeBackend(server.endpoint(), absl::Seconds(5));
  AuthRequest r = Req("a@example.test", "pw");
  r.secured = false;
  EXPECT_EQ(backend->Verify(r).kind, Kind::kFailed);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen, "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tno-penalty\trip=192.0.2.10\t"
                  "lip=127.0.0.1\tresp=AGFAZXhhbXBsZS50ZXN0AHB3");
}

TEST(FakeDovecotTest, NoServerIsTempFail) {
  auto backend = MakeBackend("unix:/nonexistent/kensa/auth-client", absl::Seconds(1));
  EXPECT_EQ(backend->Verify(Req("a@example.test", "pw")).kind, Kind::kTempFail);
}

}  // namespace
}  // namespace kensa::auth
