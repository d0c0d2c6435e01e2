// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/pop3_proxy_session.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "net/pop3_dot_codec.h"
#include "net/sasl.h"

namespace kensa::net {
namespace {

using Phase = Pop3ProxySession::Phase;

class FakeHost : public Pop3ProxyHost {
 public:
  void SendToClient(std::string_view b) override { client.append(b); }
  void StartClientTls() override { ++client_tls; }
  void ConnectBackend() override { ++connects; }
  void SendToBackend(std::string_view b) override { backend.append(b); }
  void StartBackendTls() override { ++backend_tls; }
  bool MailboxScanned(const std::string& user) override {
    users.push_back(user);
    return scan;
  }
  void BeginScan(std::string_view command, std::string_view uid) override {
    begun.emplace_back(command);
    uids.emplace_back(uid);
    scanned_bytes.clear();
  }
  void ScanData(std::string_view bytes) override { scanned_bytes.append(bytes); }
  void EndScan() override { scans.push_back(begun.back()); }
  bool PassOversized() override {
    ++oversized;
    return pass_oversized;
  }
  void SendReadAhead(std::string_view status) override {
    ++ahead_sent;
    client.append(status);
  }
  void DropReadAhead() override { ++ahead_dropped; }
  void CloseConnection() override { ++closes; }

  std::string TakeClient() { return std::exchange(client, {}); }
  std::string TakeBackend() { return std::exchange(backend, {}); }

  std::string client, backend;
  int client_tls = 0, connects = 0, backend_tls = 0, closes = 0;
  bool scan = true;
  bool pass_oversized = false;
  int oversized = 0;
  int ahead_sent = 0, ahead_dropped = 0;
  std::vector<std::string> users, scans, begun, uids;
  std::string scanned_bytes;
};

class Pop3ProxyTest : public ::testing::Test {
 protected:
  void Make(Pop3ProxyConfig c) {
    host_ = std::make_unique<FakeHost>();
    s_ = std::make_unique<Pop3ProxySession>(c, host_.get());
    s_->Start();
    host_->TakeClient();
  }
  void SetUp() override {
    Pop3ProxyConfig c;
    c.hostname = "pop.example.test";
    c.implicit_tls = true;
    c.max_line_bytes = 200;
    Make(c);
  }
  std::string Client(std::string_view line) {
    s_->FeedClient(std::string(line) + "\r\n");
    return host_->TakeClient();
  }
  // USER/PASS through a backend that greets and accepts.
  void Login(bool scanned = true) {
    host_->scan = scanned;
    EXPECT_EQ(Client("USER alice@example.test"), "+OK\r\n");
    EXPECT_EQ(Client("PASS pw with spaces"), "");
    EXPECT_EQ(host_->connects, 1);
    EXPECT_EQ(s_->phase(), Phase::kLoggingIn);
    EXPECT_FALSE(s_->WantsClientInput());
    s_->OnBackendConnected();
    s_->FeedBackend("+OK Dovecot ready.\r\n");
    EXPECT_EQ(host_->TakeBackend(), "USER alice@example.test\r\n");
    s_->FeedBackend("+OK\r\n");
    EXPECT_EQ(host_->TakeBackend(), "PASS pw with spaces\r\n");
    s_->FeedBackend("+OK Logged in.\r\n");
    EXPECT_EQ(host_->TakeClient(), "+OK Logged in.\r\n");
    EXPECT_EQ(s_->phase(), scanned ? Phase::kTransaction : Phase::kRelay);
    if (!scanned) return;
    // kensa learns the UIDLs first (the verdict cache's key); the client waits meanwhile.
    EXPECT_EQ(host_->TakeBackend(), "UIDL\r\n");
    EXPECT_FALSE(s_->WantsClientInput());
    s_->FeedBackend("+OK\r\n1 uid-one\r\n2 uid-two\r\n.\r\n");
    EXPECT_EQ(host_->TakeClient(), "");
    EXPECT_TRUE(s_->WantsClientInput());
  }

  std::unique_ptr<FakeHost> host_;
  std::unique_ptr<Pop3ProxySession> s_;
};

TEST(Pop3DotCodec, DecodesAcrossAnyCut) {
  const std::string wire = "a\r\n..b\r\n.\rx\r\n..\r\nlast\r\n.\r\nNEXT";
  const std::string want = "a\r\n.b\r\n\rx\r\n.\r\nlast\r\n";
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    Pop3DotDecoder d;
    std::string out;
    size_t n = d.Feed(std::string_view(wire).substr(0, cut), &out);
    if (!d.done()) n += d.Feed(std::string_view(wire).substr(cut), &out);
    EXPECT_TRUE(d.done()) << cut;
    EXPECT_EQ(out, want) << cut;
    EXPECT_EQ(wire.substr(n), cut <= wire.size() - 4 ? "NEXT" : wire.substr(n)) << cut;
  }
  EXPECT_EQ(Pop3DotStuff("a\r\n.b\r\n."), "a\r\n..b\r\n..\r\n.\r\n");
  EXPECT_EQ(Pop3DotStuff(""), ".\r\n");
  Pop3DotDecoder d;
  std::string out;
  d.Feed(Pop3DotStuff(want), &out);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, want);
}

TEST_F(Pop3ProxyTest, CapaBeforeAndAfterTls) {
  Pop3ProxyConfig c;
  c.stls_available = true;
  Make(c);
  std::string capa = Client("CAPA");
  EXPECT_NE(capa.find("STLS\r\n"), std::string::npos);
  EXPECT_EQ(capa.find("USER"), std::string::npos);
  EXPECT_EQ(capa.find("SASL"), std::string::npos);
  EXPECT_EQ(Client("USER a@example.test").substr(0, 10), "-ERR [AUTH");
  EXPECT_EQ(Client("AUTH PLAIN").substr(0, 10), "-ERR [AUTH");
  // STLS; what is pipelined behind it is an injection and is dropped.
  s_->FeedClient("STLS\r\nUSER injected@example.test\r\nPASS x\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK Begin TLS negotiation\r\n");
  EXPECT_EQ(host_->client_tls, 1);
  s_->FeedClient("PASS y\r\n");  // still before the handshake
  s_->OnClientTlsEstablished();
  EXPECT_TRUE(s_->client_tls());
  EXPECT_EQ(host_->connects, 0);
  EXPECT_EQ(Client("PASS y"), "-ERR USER first\r\n");
  capa = Client("CAPA");
  EXPECT_EQ(capa.find("STLS"), std::string::npos);
  EXPECT_NE(capa.find("USER\r\nSASL PLAIN\r\n"), std::string::npos);
  EXPECT_EQ(Client("STLS").substr(0, 4), "-ERR");
}

TEST_F(Pop3ProxyTest, LoginFailurePassesTheBackendAnswerAndAllowsAnotherTry) {
  EXPECT_EQ(Client("USER bob@example.test"), "+OK\r\n");
  Client("PASS wrong");
  s_->OnBackendConnected();
  s_->FeedBackend("+OK ready\r\n+OK\r\n");
  EXPECT_EQ(host_->TakeBackend(), "USER bob@example.test\r\nPASS wrong\r\n");
  s_->FeedBackend("-ERR [AUTH] Authentication failed.\r\n");
  EXPECT_EQ(host_->TakeClient(), "-ERR [AUTH] Authentication failed.\r\n");
  EXPECT_EQ(s_->phase(), Phase::kAuthorization);
  // The backend connection is reused for the next try.
  Client("PASS right");
  EXPECT_EQ(host_->connects, 1);
  EXPECT_EQ(host_->TakeBackend(), "USER bob@example.test\r\n");
}

TEST_F(Pop3ProxyTest, BackendDownIsATemporaryError) {
  Client("USER bob@example.test");
  Client("PASS pw");
  s_->OnBackendFailed("connection refused");
  EXPECT_EQ(host_->TakeClient(), "-ERR [SYS/TEMP] Mail server unavailable, try again later\r\n");
  EXPECT_EQ(s_->phase(), Phase::kAuthorization);
  EXPECT_EQ(host_->closes, 0);
}

TEST_F(Pop3ProxyTest, AuthPlainGoesToTheBackendAsIs) {
  const std::string resp = EncodeSaslBase64(std::string("\0carol@example.test\0pw", 22));
  EXPECT_EQ(Client("AUTH PLAIN"), "+ \r\n");
  Client(resp);
  s_->OnBackendConnected();
  s_->FeedBackend("+OK ready\r\n");
  EXPECT_EQ(host_->TakeBackend(), "AUTH PLAIN " + resp + "\r\n");
  s_->FeedBackend("+OK Logged in.\r\n-ERR no UIDL here\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK Logged in.\r\n");
  EXPECT_EQ(host_->TakeBackend(), "UIDL\r\n");
  EXPECT_EQ(s_->user(), "carol@example.test");
  ASSERT_EQ(host_->users.size(), 1u);
  EXPECT_EQ(Client("AUTH PLAIN ===="), "-ERR Command not valid in this state\r\n");
}

// Found by pop3_proxy_fuzz: a SASL user name holding CRLF, and after a failed AUTH a PASS
// that sent that name on a USER line to the backend.
TEST_F(Pop3ProxyTest, SaslUserCannotInjectBackendCommands) {
  const std::string evil = EncodeSaslBase64(std::string("\0a@b\r\nDELE 1\0pw", 15));
  EXPECT_EQ(Client("AUTH PLAIN " + evil), "-ERR Invalid AUTH PLAIN response\r\n");
  const std::string ok = EncodeSaslBase64(std::string("\0a@b\0pw", 7));
  Client("AUTH PLAIN " + ok);
  s_->OnBackendConnected();
  s_->FeedBackend("+OK ready\r\n-ERR [AUTH] Authentication failed.\r\n");
  host_->TakeBackend();
  EXPECT_EQ(host_->TakeClient(), "-ERR [AUTH] Authentication failed.\r\n");
  EXPECT_EQ(Client("PASS pw"), "-ERR USER first\r\n");
  EXPECT_EQ(host_->TakeBackend(), "");
}

TEST_F(Pop3ProxyTest, AuthzidNamesTheMailbox) {
  Client("AUTH PLAIN " + EncodeSaslBase64(std::string("box@x\0master\0pw", 15)));
  s_->OnBackendConnected();
  s_->FeedBackend("+OK ready\r\n+OK Logged in.\r\n");
  EXPECT_EQ(s_->user(), "box@x");
  ASSERT_EQ(host_->users.size(), 1u);
  EXPECT_EQ(host_->users[0], "box@x");
}

TEST_F(Pop3ProxyTest, BadAuthInput) {
  EXPECT_EQ(Client("AUTH CRAM-MD5"), "-ERR Unsupported authentication mechanism\r\n");
  EXPECT_EQ(Client("AUTH PLAIN not-base64"), "-ERR Invalid AUTH PLAIN response\r\n");
  EXPECT_EQ(Client("AUTH PLAIN"), "+ \r\n");
  EXPECT_EQ(Client("*"), "-ERR Authentication cancelled\r\n");
  EXPECT_EQ(host_->connects, 0);
}

TEST_F(Pop3ProxyTest, ScannedRetrIsCollectedScannedAndStuffedAgain) {
  Login();
  EXPECT_EQ(Client("RETR 1"), "");
  EXPECT_EQ(host_->TakeBackend(), "RETR 1\r\n");
  s_->FeedBackend("+OK 20 octets\r\nSubject: x\r\n\r\n..dot\r\n");
  // The status line went out at once; the body waits for the scan.
  EXPECT_EQ(host_->TakeClient(), "+OK 20 octets\r\n");
  s_->FeedBackend(".\r\n");
  ASSERT_EQ(host_->scans.size(), 1u);
  EXPECT_EQ(host_->scans[0], "RETR 1");
  EXPECT_EQ(host_->uids[0], "uid-one");
  EXPECT_EQ(s_->message(), "Subject: x\r\n\r\n.dot\r\n");
  EXPECT_EQ(host_->scanned_bytes, s_->message());
  EXPECT_FALSE(s_->WantsClientInput());
  s_->FeedClient("STAT\r\n");  // pipelined: waits for the message
  EXPECT_EQ(host_->TakeBackend(), "");
  s_->DeliverMessage("X-Virus-Status: Clean\r\n" + s_->message());
  EXPECT_EQ(host_->TakeClient(), "X-Virus-Status: Clean\r\nSubject: x\r\n\r\n..dot\r\n.\r\n");
  EXPECT_EQ(host_->TakeBackend(), "STAT\r\n");
  s_->FeedBackend("+OK 1 20\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK 1 20\r\n");
}

TEST_F(Pop3ProxyTest, MultiLineAnswersPassThroughAndCommandsAreChecked) {
  Login();
  s_->FeedClient("UIDL\r\nLIST 1\r\n");
  EXPECT_EQ(host_->TakeBackend(), "UIDL\r\n");
  s_->FeedBackend("+OK\r\n1 abc\r\n2 def\r\n.\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK\r\n1 abc\r\n2 def\r\n.\r\n");
  EXPECT_EQ(host_->TakeBackend(), "LIST 1\r\n");
  s_->FeedBackend("+OK 1 20\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK 1 20\r\n");
  EXPECT_EQ(Client("RETR 1 2"), "-ERR Syntax: RETR msg\r\n");
  EXPECT_EQ(Client("DELE x"), "-ERR Syntax: DELE msg\r\n");
  EXPECT_EQ(Client("XTND XMIT"), "-ERR Unknown command\r\n");
  EXPECT_EQ(Client("STLS"), "-ERR Command not valid in this state\r\n");
  EXPECT_EQ(Client(std::string(300, 'N')), "-ERR Line too long\r\n");
  EXPECT_EQ(host_->TakeBackend(), "");
  EXPECT_EQ(Client("NOOP"), "");
  EXPECT_EQ(host_->TakeBackend(), "NOOP\r\n");
}

TEST_F(Pop3ProxyTest, BackendDroppingMidMessageNeverEndsTheMessage) {
  Login();
  Client("RETR 1");
  s_->FeedBackend("+OK\r\nSubject: x\r\n\r\nbody\r\n");
  host_->TakeClient();
  s_->OnBackendClosed();
  EXPECT_EQ(host_->closes, 1);
  EXPECT_EQ(host_->TakeClient(), "");  // no "." and no -ERR after the +OK
  EXPECT_TRUE(host_->scans.empty());
}

TEST_F(Pop3ProxyTest, NotScannedMailboxIsRelayedByteForByte) {
  Login(/*scanned=*/false);
  s_->FeedClient("RETR 1\r\nXTND anything\r\n");
  EXPECT_EQ(host_->TakeBackend(), "RETR 1\r\nXTND anything\r\n");
  s_->FeedBackend("+OK\r\n..x\r\n.\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK\r\n..x\r\n.\r\n");
  EXPECT_TRUE(host_->scans.empty());
}

TEST_F(Pop3ProxyTest, QuitAndTimeouts) {
  Login();
  Client("QUIT");
  EXPECT_EQ(host_->TakeBackend(), "QUIT\r\n");
  s_->FeedBackend("+OK Logging out.\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK Logging out.\r\n");
  EXPECT_EQ(host_->closes, 1);
  SetUp();
  s_->OnClientTimeout();
  EXPECT_EQ(host_->TakeClient(), "-ERR Autologout; idle for too long\r\n");
  EXPECT_EQ(s_->phase(), Phase::kClosed);
}

TEST_F(Pop3ProxyTest, OversizedMessageKeepsItsHeadersForTheNotice) {
  Pop3ProxyConfig c;
  c.implicit_tls = true;
  c.max_message_bytes = 100;
  Make(c);
  Login();
  Client("RETR 1");
  s_->FeedBackend("+OK\r\nSubject: big\r\n\r\n" + std::string(150, 'a') + "\r\n");
  EXPECT_EQ(host_->oversized, 1);
  EXPECT_EQ(host_->TakeClient(), "+OK\r\n");
  EXPECT_TRUE(host_->scans.empty());
  s_->FeedBackend(std::string(1000, 'b') + "\r\n.\r\n");
  ASSERT_EQ(host_->scans.size(), 1u);
  EXPECT_EQ(s_->message(), "Subject: big\r\n\r\n");
  s_->DeliverMessage("Subject: big\r\n\r\nnotice\r\n");
  EXPECT_EQ(host_->TakeClient(), "Subject: big\r\n\r\nnotice\r\n.\r\n");
  EXPECT_EQ(host_->closes, 0);
}

TEST_F(Pop3ProxyTest, OversizedMessageEndingInTheSamePieceFinishes) {
  Pop3ProxyConfig c;
  c.implicit_tls = true;
  c.max_message_bytes = 100;
  for (bool pass : {false, true}) {
    Make(c);
    Login();
    host_->pass_oversized = pass;
    Client("RETR 1");
    const std::string body = "Subject: big\r\n\r\n" + std::string(150, 'a') + "\r\n.\r\n";
    s_->FeedBackend("+OK\r\n" + body);
    if (pass) {
      EXPECT_EQ(host_->TakeClient(), "+OK\r\n" + body);
    } else {
      ASSERT_EQ(host_->scans.size(), 1u);
      s_->DeliverMessage("notice\r\n");
      EXPECT_EQ(host_->TakeClient(), "+OK\r\nnotice\r\n.\r\n");
    }
    EXPECT_TRUE(s_->WantsClientInput()) << pass;
    Client("NOOP");
    EXPECT_EQ(host_->TakeBackend(), "RETR 1\r\nNOOP\r\n");
  }
}

TEST_F(Pop3ProxyTest, UnsolicitedBackendDataIsBounded) {
  Login();
  s_->FeedBackend(std::string(500, 'x'));
  EXPECT_EQ(host_->closes, 1);
}

TEST_F(Pop3ProxyTest, OversizedMessagePassedOnIsTheBackendsBytesExactly) {
  Pop3ProxyConfig c;
  c.implicit_tls = true;
  c.max_message_bytes = 100;
  Make(c);
  Login();
  host_->pass_oversized = true;
  Client("RETR 1");
  // Cut right after a held "." of a stuffed line, the case that needs held().
  const std::string body = "Subject: big\r\n\r\n" + std::string(120, 'a') + "\r\n..dot\r\nend\r\n.\r\n";
  const size_t cut = body.find("..dot") + 1;
  s_->FeedBackend("+OK\r\n" + body.substr(0, cut));
  s_->FeedBackend(body.substr(cut));
  EXPECT_EQ(host_->TakeClient(), "+OK\r\n" + body);
  EXPECT_TRUE(host_->scans.empty());
  EXPECT_TRUE(s_->WantsClientInput());
}

}  // namespace
}  // namespace kensa::net

namespace kensa::net {
namespace {

// A host that spools ScanData() itself (kensad): the session keeps only the header block.
class SpoolingHostTest : public Pop3ProxyTest {
 protected:
  void SetUp() override {
    Pop3ProxyConfig c;
    c.implicit_tls = true;
    c.keep_message = false;
    c.max_message_bytes = 1000;
    Make(c);
    Login();
  }
};

TEST_F(SpoolingHostTest, TheHostSpoolsTheBodyAndStreamsTheCopy) {
  Client("RETR 1");
  EXPECT_EQ(host_->TakeBackend(), "RETR 1\r\n");
  const std::string body = "Subject: x\r\n\r\n" + std::string(500, 'a') + "\r\n..dot\r\n";
  s_->FeedBackend("+OK\r\n" + body.substr(0, 7));
  s_->FeedBackend(body.substr(7) + ".\r\n");
  ASSERT_EQ(host_->scans.size(), 1u);
  EXPECT_EQ(host_->scanned_bytes, "Subject: x\r\n\r\n" + std::string(500, 'a') + "\r\n.dot\r\n");
  EXPECT_EQ(s_->message(), "Subject: x\r\n\r\n");  // the header block only
  EXPECT_EQ(host_->TakeClient(), "+OK\r\n");
  s_->FeedClient("NOOP\r\n");
  EXPECT_EQ(host_->TakeBackend(), "");  // waits for the message
  host_->SendToClient("copy\r\n.\r\n");
  s_->OnMessageStreamed();
  EXPECT_EQ(host_->TakeClient(), "copy\r\n.\r\n");
  EXPECT_EQ(host_->TakeBackend(), "NOOP\r\n");
}

TEST_F(SpoolingHostTest, OversizedKeepsTheHeaderBlockForTheNotice) {
  Client("RETR 1");
  s_->FeedBackend("+OK\r\nSubject: big\n\n" + std::string(600, 'a') + "\r\n");
  s_->FeedBackend(std::string(600, 'b') + "\r\n.\r\n");
  EXPECT_EQ(host_->oversized, 1);
  ASSERT_EQ(host_->scans.size(), 1u);
  EXPECT_EQ(s_->message(), "Subject: big\n\n");
  // ScanData got every byte up to the piece that went over the limit.
  EXPECT_EQ(host_->scanned_bytes.size(), 14u + 600 + 2 + 600 + 2);
}

TEST_F(SpoolingHostTest, OversizedPassedOnSendsOnlyTheRestAfterTheHost) {
  host_->pass_oversized = true;
  Client("RETR 1");
  s_->FeedBackend("+OK\r\nSubject: big\r\n\r\n" + std::string(1200, 'a') + "\r\n.");
  EXPECT_EQ(host_->oversized, 1);
  // The host sent what it spooled (here: nothing, it is a fake); the session the held ".".
  EXPECT_EQ(host_->TakeClient(), "+OK\r\n.");
  s_->FeedBackend("\r\n");
  EXPECT_EQ(host_->TakeClient(), "\r\n");
  EXPECT_TRUE(s_->WantsClientInput());
}

// Read-ahead on: after the UIDL kensa also asks for LIST (the sizes).
class ReadAheadTest : public Pop3ProxyTest {
 protected:
  void SetUp() override { Start(/*pipelining=*/false); }
  // kensa asks the backend's CAPA (PIPELINING?), then UIDL and LIST.
  void Start(bool pipelining) {
    Pop3ProxyConfig c;
    c.implicit_tls = true;
    c.read_ahead_messages = 2;
    c.read_ahead_max_bytes = 100;
    Make(c);
    host_->scan = true;
    Client("USER alice@example.test");
    Client("PASS pw");
    s_->OnBackendConnected();
    s_->FeedBackend("+OK ready\r\n+OK\r\n+OK Logged in.\r\n");
    EXPECT_EQ(host_->TakeBackend(), "USER alice@example.test\r\nPASS pw\r\nCAPA\r\n");
    EXPECT_FALSE(s_->WantsClientInput());
    s_->FeedBackend(absl::StrCat("+OK\r\nTOP\r\nUIDL\r\n", pipelining ? "pipelining\r\n" : "",
                                 "USER\r\n.\r\n"));
    EXPECT_EQ(host_->TakeBackend(), "UIDL\r\n");
    s_->FeedBackend("+OK\r\n1 u1\r\n2 u2\r\n3 u3\r\n4 u4\r\n5 u5\r\n.\r\n");
    EXPECT_EQ(host_->TakeBackend(), "LIST\r\n");
    EXPECT_FALSE(s_->WantsClientInput());
    s_->FeedBackend("+OK 5 messages\r\n1 20\r\n2 20\r\n3 20\r\n4 20\r\n5 5000\r\n.\r\n");
    EXPECT_TRUE(s_->WantsClientInput());
    host_->TakeClient();
  }
  static std::string Message(int n) { return absl::StrCat("Subject: ", n, "\r\n\r\nx\r\n"); }
  // The client's RETR n, answered by the backend and delivered by the host.
  void Retrieve(int n) {
    EXPECT_EQ(Client(absl::StrCat("RETR ", n)), "");
    EXPECT_EQ(host_->TakeBackend(), absl::StrCat("RETR ", n, "\r\n"));
    s_->FeedBackend(absl::StrCat("+OK m", n, "\r\n", Message(n), ".\r\n"));
    EXPECT_EQ(host_->TakeClient(), absl::StrCat("+OK m", n, "\r\n"));
    s_->DeliverMessage(s_->message());
    EXPECT_EQ(host_->TakeClient(), Message(n) + ".\r\n");
  }
  // kensa's own RETR n: asked, answered, scanned; the host keeps the copy.
  void ReadAhead(int n) {
    EXPECT_EQ(host_->TakeBackend(), absl::StrCat("RETR ", n, "\r\n"));
    EXPECT_TRUE(s_->read_ahead_in_flight());
    s_->FeedBackend(absl::StrCat("+OK m", n, "\r\n", Message(n), ".\r\n"));
    EXPECT_EQ(host_->scans.back(), absl::StrCat("RETR ", n));
    EXPECT_EQ(host_->uids.back(), absl::StrCat("u", n));
    EXPECT_TRUE(s_->reading_ahead_unasked());
    EXPECT_EQ(host_->TakeClient(), "");  // nothing the client did not ask for
    s_->OnReadAheadReady();
  }
  // The client's RETR n of a kept copy: the status line, then the host's copy.
  void TakeKept(int n) {
    const int sent = host_->ahead_sent;
    EXPECT_EQ(Client(absl::StrCat("RETR 0", n)), absl::StrCat("+OK m", n, "\r\n"));
    EXPECT_EQ(host_->ahead_sent, sent + 1);
    s_->DeliverMessage(Message(n));
    EXPECT_EQ(host_->TakeClient(), Message(n) + ".\r\n");
  }
};

TEST_F(ReadAheadTest, AWalkedMailboxIsReadAheadTwoMessagesDeep) {
  Retrieve(1);
  ReadAhead(2);
  ReadAhead(3);
  EXPECT_EQ(host_->TakeBackend(), "");  // two kept: no third
  EXPECT_EQ(s_->read_ahead_kept(), 2u);
  EXPECT_TRUE(s_->WantsClientInput());
  TakeKept(2);
  ReadAhead(4);
  TakeKept(3);
  // 5 is larger than read_ahead_max_bytes: the client's RETR fetches it.
  EXPECT_EQ(host_->TakeBackend(), "");
  TakeKept(4);
  EXPECT_EQ(host_->TakeBackend(), "");
  Retrieve(5);
  EXPECT_EQ(host_->ahead_dropped, 0);
}

TEST_F(ReadAheadTest, ABackendThatPipelinesHasTheNextRetrBeforeItAnswers) {
  Start(/*pipelining=*/true);
  Retrieve(1);
  // 2 was asked as 1 ended; 3 as soon as 2 was on its way, before any answer.
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\nRETR 3\r\n");
  s_->FeedBackend("+OK m2\r\n" + Message(2) + ".\r\n+OK m3\r\n" + Message(3) + ".\r\n");
  EXPECT_EQ(host_->scans.back(), "RETR 2");  // 3 waits its turn for the scanner
  s_->OnReadAheadReady();
  EXPECT_EQ(host_->scans.back(), "RETR 3");
  s_->OnReadAheadReady();
  EXPECT_EQ(s_->read_ahead_kept(), 2u);
  EXPECT_EQ(host_->TakeBackend(), "");
  TakeKept(2);
  EXPECT_EQ(host_->TakeBackend(), "RETR 4\r\n");
  TakeKept(3);
  EXPECT_EQ(host_->TakeBackend(), "");
}

TEST_F(ReadAheadTest, TheClientsRetrOfTheMessageInFlightWaitsForIt) {
  Retrieve(1);
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\n");
  // The client asks for 2 while kensa reads it: answered when its copy is kept.
  EXPECT_EQ(Client("RETR 2"), "");
  EXPECT_FALSE(s_->WantsClientInput());
  s_->FeedBackend("+OK m2\r\n" + Message(2) + ".\r\n");
  EXPECT_EQ(host_->TakeClient(), "");
  s_->OnReadAheadReady();
  EXPECT_EQ(host_->TakeClient(), "+OK m2\r\n");
  EXPECT_EQ(host_->ahead_sent, 1);
  s_->DeliverMessage(Message(2));
  EXPECT_EQ(host_->TakeClient(), Message(2) + ".\r\n");
  ReadAhead(3);
  ReadAhead(4);
}

TEST_F(ReadAheadTest, OtherCommandsWaitForTheBackendAndKeepTheCopies) {
  Retrieve(1);
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\n");
  // The client deletes message 1 while kensa reads 2: the DELE waits for the backend.
  s_->FeedClient("DELE 1\r\n");
  EXPECT_FALSE(s_->WantsClientInput());
  EXPECT_EQ(host_->TakeBackend(), "");
  s_->FeedBackend("+OK m2\r\n" + Message(2) + ".\r\n");
  EXPECT_EQ(host_->TakeBackend(), "");  // and for the scan
  s_->OnReadAheadReady();
  EXPECT_EQ(host_->TakeBackend(), "DELE 1\r\n");
  s_->FeedBackend("+OK Marked to be deleted.\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK Marked to be deleted.\r\n");
  ReadAhead(3);
  TakeKept(2);
  EXPECT_EQ(host_->ahead_dropped, 0);
}

TEST_F(ReadAheadTest, ARetrievalOffTheWalkOrADeletionDropsEveryCopy) {
  Retrieve(1);
  ReadAhead(2);
  ReadAhead(3);
  EXPECT_EQ(Client("TOP 1 0"), "");
  EXPECT_EQ(host_->ahead_dropped, 1);
  EXPECT_EQ(s_->read_ahead_kept(), 0u);
  EXPECT_EQ(host_->TakeBackend(), "TOP 1 0\r\n");
  SetUp();
  Retrieve(1);
  ReadAhead(2);
  ReadAhead(3);
  EXPECT_EQ(Client("DELE 3"), "");
  EXPECT_EQ(host_->ahead_dropped, 1);
  EXPECT_EQ(host_->TakeBackend(), "DELE 3\r\n");
  s_->FeedBackend("+OK\r\n");
  host_->TakeClient();
  // RETR 2 now goes to the backend.
  EXPECT_EQ(Client("RETR 2"), "");
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\n");
  EXPECT_EQ(host_->ahead_sent, 0);
  SetUp();
  Retrieve(1);
  ReadAhead(2);
  EXPECT_EQ(Client("RETR 4"), "");
  EXPECT_EQ(host_->ahead_dropped, 0);  // 3 was in flight: the RETR waits for it
  EXPECT_EQ(host_->TakeBackend(), "RETR 3\r\n");
  s_->FeedBackend("+OK m3\r\n" + Message(3) + ".\r\n");
  s_->OnReadAheadReady();
  EXPECT_EQ(host_->ahead_dropped, 1);
  EXPECT_EQ(host_->TakeBackend(), "RETR 4\r\n");
}

TEST_F(ReadAheadTest, OnlyAMailboxWalkedInOrderIsReadAhead) {
  // RETR 3 first: not a walk (a client fetching one new message).
  EXPECT_EQ(Client("RETR 3"), "");
  s_->FeedBackend("+OK m3\r\n" + Message(3) + ".\r\n");
  s_->DeliverMessage(s_->message());
  EXPECT_EQ(host_->TakeBackend(), "RETR 3\r\n");
  EXPECT_FALSE(s_->read_ahead_in_flight());
}

TEST_F(ReadAheadTest, AnErrorOrAnOverlongAnswerIsForgotten) {
  Retrieve(1);
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\n");
  s_->FeedBackend("-ERR Message is deleted.\r\n");
  EXPECT_EQ(host_->TakeClient(), "");
  EXPECT_FALSE(s_->read_ahead_in_flight());
  EXPECT_EQ(host_->TakeBackend(), "");  // and no further
  Retrieve(2);
  // LIST said 20 octets, the backend sends more than read_ahead_max_bytes: read, dropped.
  EXPECT_EQ(host_->TakeBackend(), "RETR 3\r\n");
  s_->FeedBackend("+OK m3\r\nSubject: 3\r\n\r\n" + std::string(200, 'y') + "\r\n");
  EXPECT_EQ(host_->ahead_dropped, 1);
  s_->FeedClient("RETR 3\r\n");
  EXPECT_EQ(host_->TakeBackend(), "");
  s_->FeedBackend(".\r\n");
  EXPECT_EQ(host_->TakeBackend(), "RETR 3\r\n");
  EXPECT_EQ(host_->TakeClient(), "");
  s_->FeedBackend("+OK m3\r\n" + Message(3) + ".\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK m3\r\n");
  EXPECT_EQ(host_->ahead_sent, 0);
}

TEST_F(ReadAheadTest, AnErrorForTheMessageTheClientWaitsForIsItsAnswer) {
  Retrieve(1);
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\n");
  EXPECT_EQ(Client("RETR 2"), "");
  s_->FeedBackend("-ERR Message is deleted.\r\n");
  EXPECT_EQ(host_->TakeClient(), "-ERR Message is deleted.\r\n");
  EXPECT_TRUE(s_->WantsClientInput());
  // A local failure while the client waits: its RETR goes to the backend after all.
  SetUp();
  Retrieve(1);
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\n");
  EXPECT_EQ(Client("RETR 2"), "");
  s_->FeedBackend("+OK m2\r\n" + Message(2) + ".\r\n");
  // Message 3 was asked for while 2 was scanned: its answer goes first.
  EXPECT_EQ(host_->TakeBackend(), "RETR 3\r\n");
  s_->OnReadAheadDropped();
  EXPECT_EQ(host_->TakeBackend(), "");
  s_->FeedBackend("+OK m3\r\n" + Message(3) + ".\r\n");
  s_->OnReadAheadReady();
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\n");
  s_->FeedBackend("+OK m2\r\n" + Message(2) + ".\r\n");
  EXPECT_EQ(host_->TakeClient(), "+OK m2\r\n");
  EXPECT_FALSE(s_->reading_ahead_unasked());
}

TEST_F(ReadAheadTest, TheBackendFailingWhileReadingAheadTellsTheIdleClient) {
  Retrieve(1);
  EXPECT_EQ(host_->TakeBackend(), "RETR 2\r\n");
  s_->FeedBackend("+OK m2\r\nSubject: 2\r\n");
  s_->OnBackendClosed();
  EXPECT_EQ(host_->TakeClient(), "-ERR [SYS/TEMP] Mail server closed the connection\r\n");
  EXPECT_EQ(host_->closes, 1);
  SetUp();
  Retrieve(1);
  s_->Shutdown();
  EXPECT_EQ(host_->TakeClient(), "-ERR [SYS/TEMP] Server shutting down\r\n");
}

}  // namespace
}  // namespace kensa::net
