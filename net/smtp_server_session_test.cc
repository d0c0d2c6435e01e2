// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/smtp_server_session.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "net/sasl.h"

namespace kensa::net {
namespace {

using Phase = SmtpServerSession::Phase;

// Records every call; the test decides what BeginMessage/CheckRecipient answer and whether
// EndMessage commits synchronously.
class FakeHost : public SmtpServerHost {
 public:
  void SendToClient(std::string_view bytes) override {
    ++sends;
    sent.append(bytes);
  }
  std::optional<SmtpReply> CheckRecipient(const SmtpEnvelope& env,
                                          const SmtpRecipient& rcpt) override {
    checked.push_back(rcpt);
    checked_senders.push_back(env.sender);
    if (check) return check(rcpt);
    return std::nullopt;
  }
  void StartTls() override {
    ++starttls;
    sent_at_starttls = sent;
  }
  absl::Status BeginMessage(const SmtpEnvelope& env) override {
    ++begins;
    begun.push_back(env);
    if (!begin_status.ok()) return begin_status;
    EXPECT_FALSE(open) << "BeginMessage with a message open";
    open = true;
    current.clear();
    return absl::OkStatus();
  }
  void MessageData(std::string_view bytes) override {
    EXPECT_TRUE(open) << "MessageData without an open message";
    EXPECT_FALSE(bytes.empty());
    ++data_calls;
    current.append(bytes);
  }
  void EndMessage() override {
    EXPECT_TRUE(open);
    open = false;
    ++ends;
    messages.push_back(current);
    if (sync_commit) session->CompleteMessage(std::string("Q") + std::to_string(ends));
  }
  void AbortMessage() override {
    ++aborts;
    open = false;
  }
  void CloseConnection() override { ++closes; }
  void Authenticate(const SmtpAuthRequest& request) override {
    auth_requests.push_back(request);
    if (auth_answer) session->CompleteAuth(*auth_answer, request.user);
  }
  std::optional<SmtpReply> CheckSender(const SmtpEnvelope& env) override {
    sender_checks.push_back(env.sender);
    if (env.sender != env.auth_user) return SmtpReply{553, "5.7.1", "not yours"};
    return std::nullopt;
  }

  // The reply codes in `sent`, one per complete reply (multi-line replies count once).
  std::vector<int> Codes() const {
    std::vector<int> codes;
    size_t pos = 0;
    while (pos < sent.size()) {
      size_t end = sent.find("\r\n", pos);
      if (end == std::string::npos) break;
      std::string_view line(sent.data() + pos, end - pos);
      if (line.size() >= 4 && line[3] == ' ') codes.push_back(std::stoi(std::string(line.substr(0, 3))));
      if (line.size() < 4 || (line[3] != ' ' && line[3] != '-')) codes.push_back(-1);
      pos = end + 2;
    }
    return codes;
  }
  std::string TakeSent() {
    std::string s;
    s.swap(sent);
    return s;
  }

  SmtpServerSession* session = nullptr;
  std::string sent;
  std::string sent_at_starttls;
  int sends = 0;
  std::vector<SmtpRecipient> checked;
  std::vector<std::string> checked_senders;
  std::function<std::optional<SmtpReply>(const SmtpRecipient&)> check;
  absl::Status begin_status = absl::OkStatus();
  std::vector<SmtpEnvelope> begun;
  bool open = false;
  bool sync_commit = false;
  std::string current;
  std::vector<std::string> messages;
  int begins = 0, ends = 0, aborts = 0, starttls = 0, closes = 0, data_calls = 0;
  std::vector<SmtpAuthRequest> auth_requests;
  std::optional<SmtpAuthResult> auth_answer;  // answer at once; nullopt: the test answers
  std::vector<std::string> sender_checks;
};

SmtpServerConfig DefaultConfig() {
  SmtpServerConfig c;
  c.hostname = "mx.example.test";
  c.limits.max_message_bytes = 100000;
  return c;
}

class SmtpServerSessionTest : public ::testing::Test {
 protected:
  void Make(const SmtpServerConfig& c = DefaultConfig()) {
    host_ = std::make_unique<FakeHost>();
    session_ = std::make_unique<SmtpServerSession>(c, host_.get(), "192.0.2.7");
    host_->session = session_.get();
    session_->Start();
  }
  void SetUp() override { Make(); }

  // Feeds a command, returns everything sent in answer.
  std::string Cmd(std::string_view line) {
    host_->sent.clear();
    session_->Feed(std::string(line) + "\r\n");
    return host_->TakeSent();
  }
  int Code(std::string_view line) {
    std::string r = Cmd(line);
    host_->sent = r;
    std::vector<int> c = host_->Codes();
    host_->sent.clear();
    return c.size() == 1 ? c[0] : -static_cast<int>(c.size());
  }
  void Envelope(std::string_view mail = "MAIL FROM:<s@example.org>",
                std::string_view rcpt = "RCPT TO:<r@example.test>") {
    ASSERT_EQ(Code("EHLO client.example"), 250);
    ASSERT_EQ(Code(mail), 250);
    ASSERT_EQ(Code(rcpt), 250);
  }
  // A DATA transaction; returns the reply to the end of data (committed with "Q<n>").
  std::string SendData(std::string_view body) {
    EXPECT_EQ(Code("DATA"), 354);
    session_->Feed(body);
    if (session_->phase() == Phase::kAwaitingCommit) {
      session_->CompleteMessage(std::string("Q") + std::to_string(host_->ends));
    }
    return host_->TakeSent();
  }

  std::unique_ptr<FakeHost> host_;
  std::unique_ptr<SmtpServerSession> session_;
};

// --- greeting, EHLO, HELO ------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, GreetingAndEhlo) {
  SmtpServerConfig c = DefaultConfig();
  auto host = std::make_unique<FakeHost>();
  SmtpServerSession s(c, host.get(), "peer");
  EXPECT_EQ(s.phase(), Phase::kGreeting);
  EXPECT_TRUE(host->sent.empty());
  s.Start();
  EXPECT_EQ(host->sent, "220 mx.example.test ESMTP kensa\r\n");
  EXPECT_EQ(s.phase(), Phase::kCommand);
  EXPECT_EQ(Cmd("EHLO client.example"),
            "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-8BITMIME\r\n"
            "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250 CHUNKING\r\n");
  EXPECT_EQ(session_->envelope().helo, "client.example");
  EXPECT_TRUE(session_->envelope().esmtp);
  EXPECT_FALSE(session_->envelope().tls);
}

TEST_F(SmtpServerSessionTest, EhloOffersStartTlsOnlyWhenAvailable) {
  SmtpServerConfig c = DefaultConfig();
  c.starttls_available = true;
  Make(c);
  EXPECT_NE(Cmd("EHLO x").find("250-STARTTLS\r\n"), std::string::npos);
  c.implicit_tls = true;
  Make(c);
  EXPECT_TRUE(session_->envelope().tls);
  EXPECT_EQ(Cmd("EHLO x").find("STARTTLS"), std::string::npos);
  EXPECT_EQ(Code("STARTTLS"), 503);
}

TEST_F(SmtpServerSessionTest, HeloAndEhloSyntax) {
  EXPECT_EQ(Code("EHLO"), 501);
  EXPECT_EQ(Code("HELO"), 501);
  EXPECT_EQ(Cmd("HELO client.example"), "250 mx.example.test\r\n");
  EXPECT_FALSE(session_->envelope().esmtp);
  EXPECT_EQ(session_->envelope().helo, "client.example");
  // ESMTP parameters need EHLO.
  EXPECT_EQ(Code("MAIL FROM:<a@example.org> SIZE=10"), 555);
  EXPECT_EQ(Code("MAIL FROM:<a@example.org>"), 250);
  EXPECT_EQ(Code("RCPT TO:<b@example.test> NOTIFY=NEVER"), 555);
}

TEST_F(SmtpServerSessionTest, EhloResetsTransaction) {
  Envelope();
  EXPECT_EQ(session_->envelope().recipients.size(), 1u);
  EXPECT_EQ(Code("EHLO again.example"), 250);
  EXPECT_TRUE(session_->envelope().recipients.empty());
  EXPECT_EQ(session_->envelope().sender, "");
  EXPECT_EQ(Code("RCPT TO:<r@example.test>"), 503);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 250);
  EXPECT_EQ(Code("HELO again.example"), 250);
  EXPECT_EQ(Code("RCPT TO:<r@example.test>"), 503);
}

TEST_F(SmtpServerSessionTest, CommandsAreCaseInsensitive) {
  EXPECT_EQ(Code("ehlo client.example"), 250);
  EXPECT_EQ(Code("mail from:<s@example.org>"), 250);
  EXPECT_EQ(Code("Rcpt To:<r@example.test>"), 250);
  EXPECT_EQ(Code("nOoP"), 250);
  EXPECT_EQ(Code("rset"), 250);
}

// --- MAIL ----------------------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, MailOrdering) {
  EXPECT_EQ(Cmd("MAIL FROM:<s@example.org>"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Code("RCPT TO:<r@example.test>"), 503);
  EXPECT_EQ(Cmd("MAIL FROM:<s@example.org>"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(session_->envelope().sender, "s@example.org");
  EXPECT_EQ(Code("MAIL FROM:<t@example.org>"), 503);
  EXPECT_EQ(session_->envelope().sender, "s@example.org");
}

TEST_F(SmtpServerSessionTest, MailSyntax) {
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Code("MAIL"), 501);
  EXPECT_EQ(Code("MAIL TO:<s@example.org>"), 501);
  EXPECT_EQ(Code("MAIL FROM:s@example.org"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@>"), 501);
  EXPECT_EQ(Code("MAIL FROM: <s@example.org>"), 250);  // common client sloppiness
  EXPECT_EQ(Code("RSET"), 250);
  EXPECT_EQ(Code("MAIL FROM:<>"), 250);
  EXPECT_EQ(session_->envelope().sender, "");
}

TEST_F(SmtpServerSessionTest, MailParameters) {
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> SIZE=1000 BODY=8bitmime SMTPUTF8 RET=hdrs "
                 "ENVID=abc+2Bdef"),
            250);
  const SmtpEnvelope& e = session_->envelope();
  EXPECT_EQ(e.declared_size, 1000u);
  EXPECT_EQ(e.body, "8BITMIME");
  EXPECT_TRUE(e.smtputf8);
  EXPECT_EQ(e.ret, "HDRS");
  EXPECT_EQ(e.envid, "abc+def");
  EXPECT_EQ(Code("RSET"), 250);
  EXPECT_EQ(session_->envelope().declared_size, 0u);
  EXPECT_FALSE(session_->envelope().smtputf8);

  EXPECT_EQ(Cmd("MAIL FROM:<s@example.org> SIZE=100001"),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> SIZE=99999999999999999999999"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> SIZE=abc"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> SIZE"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> SIZE=1 SIZE=2"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> BODY=BINARYMIME"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> RET=ALL"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> ENVID=a+zz"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> SMTPUTF8=yes"), 501);
  EXPECT_EQ(Cmd("MAIL FROM:<s@example.org> AUTH=<>"),
            "555 5.5.4 Unsupported parameter AUTH\r\n");
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> XFOO"), 555);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org> SIZE=100000 BODY=7BIT"), 250);
  EXPECT_EQ(session_->envelope().body, "7BIT");
}

TEST_F(SmtpServerSessionTest, NonAsciiNeedsSmtpUtf8) {
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Cmd("MAIL FROM:<j\xc3\xb6rg@example.org>"),
            "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n");
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 250);
  EXPECT_EQ(Code("RCPT TO:<m\xc3\xbcller@example.test>"), 553);
  EXPECT_EQ(Code("RSET"), 250);
  EXPECT_EQ(Code("MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8"), 250);
  EXPECT_EQ(session_->envelope().sender, "j\xc3\xb6rg@example.org");
  EXPECT_EQ(Code("RCPT TO:<m\xc3\xbcller@b\xc3\xbc" "cher.example>"), 250);
  EXPECT_EQ(Code("RCPT TO:<bad\xff@example.test>"), 501);
}

// --- RCPT ----------------------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, RcptGoesThroughPolicy) {
  host_->check = [](const SmtpRecipient& r) -> std::optional<SmtpReply> {
    if (r.address == "r@elsewhere.example") {
      return SmtpReply{550, "5.7.1", "<r@elsewhere.example>: Relay access denied"};
    }
    return std::nullopt;
  };
  Envelope();
  EXPECT_EQ(Cmd("RCPT TO:<r@elsewhere.example>"),
            "550 5.7.1 <r@elsewhere.example>: Relay access denied\r\n");
  EXPECT_EQ(Cmd("RCPT TO:<Postmaster>"), "250 2.1.5 Ok\r\n");
  ASSERT_EQ(session_->envelope().recipients.size(), 2u);
  EXPECT_EQ(session_->envelope().recipients[1].address, "Postmaster");
  ASSERT_EQ(host_->checked.size(), 3u);
  EXPECT_EQ(host_->checked_senders[0], "s@example.org");
}

TEST_F(SmtpServerSessionTest, RcptSyntaxAndDsnParameters) {
  Envelope();
  EXPECT_EQ(Code("RCPT"), 501);
  EXPECT_EQ(Code("RCPT TO:<>"), 501);
  EXPECT_EQ(Cmd("RCPT TO:<a b@example.test>").substr(0, 10), "501 5.1.3 ");
  EXPECT_EQ(Code("RCPT TO:<x@example.test> NOTIFY=success,Delay ORCPT=rfc822;x+40example.test"),
            250);
  const SmtpRecipient& r = session_->envelope().recipients.back();
  EXPECT_EQ(r.notify, "SUCCESS,DELAY");
  EXPECT_EQ(r.orcpt, "rfc822;x+40example.test");
  EXPECT_EQ(Code("RCPT TO:<y@example.test> NOTIFY=NEVER"), 250);
  EXPECT_EQ(session_->envelope().recipients.back().notify, "NEVER");
  EXPECT_EQ(Code("RCPT TO:<y@example.test> NOTIFY=NEVER,SUCCESS"), 501);
  EXPECT_EQ(Code("RCPT TO:<y@example.test> NOTIFY=SUCCESS,SUCCESS"), 501);
  EXPECT_EQ(Code("RCPT TO:<y@example.test> NOTIFY=SOMETIMES"), 501);
  EXPECT_EQ(Code("RCPT TO:<y@example.test> NOTIFY="), 501);
  EXPECT_EQ(Code("RCPT TO:<y@example.test> ORCPT=rfc822"), 501);
  EXPECT_EQ(Code("RCPT TO:<y@example.test> ORCPT=;x"), 501);
  EXPECT_EQ(Code("RCPT TO:<y@example.test> ORCPT=rfc822;a+zz"), 501);
  EXPECT_EQ(Code("RCPT TO:<y@example.test> FOO=BAR"), 555);
  EXPECT_EQ(session_->envelope().recipients.size(), 3u);
}

TEST_F(SmtpServerSessionTest, TooManyRecipients) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_recipients = 2;
  Make(c);
  Envelope();
  EXPECT_EQ(Code("RCPT TO:<r2@example.test>"), 250);
  EXPECT_EQ(Cmd("RCPT TO:<r3@example.test>"), "452 4.5.3 Error: too many recipients\r\n");
  EXPECT_EQ(session_->envelope().recipients.size(), 2u);
  EXPECT_EQ(host_->checked.size(), 2u);  // the refused one never reached the policy
}

// --- DATA ----------------------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, DataOrdering) {
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Code("DATA"), 503);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 250);
  EXPECT_EQ(Cmd("DATA"), "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(Code("RCPT TO:<r@example.test>"), 250);
  EXPECT_EQ(Code("DATA now"), 501);
  EXPECT_EQ(host_->begins, 0);
  EXPECT_EQ(Cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(session_->phase(), Phase::kData);
  EXPECT_EQ(host_->begins, 1);
  EXPECT_EQ(host_->begun[0].recipients.size(), 1u);
  EXPECT_EQ(host_->begun[0].sender, "s@example.org");
}

TEST_F(SmtpServerSessionTest, SimpleMessageAndCommit) {
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed("Subject: hi\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(session_->phase(), Phase::kAwaitingCommit);
  EXPECT_FALSE(session_->WantsMoreInput());
  EXPECT_EQ(host_->sent, "");  // the 250 waits for the commit
  ASSERT_EQ(host_->messages.size(), 1u);
  EXPECT_EQ(host_->messages[0], "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(host_->data_calls, 1);  // one Feed, one MessageData
  session_->CompleteMessage(std::string("ABC123"));
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 Ok: queued as ABC123\r\n");
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_TRUE(session_->WantsMoreInput());
  // The transaction is reset; HELO and TLS state stay.
  EXPECT_EQ(session_->envelope().sender, "");
  EXPECT_TRUE(session_->envelope().recipients.empty());
  EXPECT_EQ(session_->envelope().helo, "client.example");
  EXPECT_TRUE(session_->envelope().esmtp);
  EXPECT_EQ(Code("RCPT TO:<r@example.test>"), 503);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 250);
}

TEST_F(SmtpServerSessionTest, CommitFailures) {
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed("x\r\n.\r\n");
  session_->CompleteMessage(absl::ResourceExhaustedError("disk"));
  EXPECT_EQ(host_->TakeSent(), "452 4.3.1 Insufficient system storage\r\n");
  EXPECT_TRUE(session_->envelope().recipients.empty());
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed("x\r\n.\r\n");
  session_->CompleteMessage(absl::InternalError("io"));
  EXPECT_EQ(host_->TakeSent(), "451 4.3.0 Local error in processing\r\n");
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  // A stray second CompleteMessage is ignored.
  session_->CompleteMessage(std::string("X"));
  EXPECT_EQ(host_->sent, "");
}

TEST_F(SmtpServerSessionTest, BeginMessageFailure) {
  Envelope();
  host_->begin_status = absl::ResourceExhaustedError("full");
  EXPECT_EQ(Cmd("DATA"), "452 4.3.1 Insufficient system storage\r\n");
  host_->begin_status = absl::InternalError("x");
  EXPECT_EQ(Cmd("DATA"), "451 4.3.0 Local error in processing\r\n");
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  host_->begin_status = absl::OkStatus();
  EXPECT_EQ(SendData("ok\r\n.\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
}

TEST_F(SmtpServerSessionTest, DotUnstuffing) {
  Envelope();
  EXPECT_EQ(SendData("..leading\r\n...\r\nmid.dle.\r\n. \r\n.x\r\n..\r\n.\r\n"),
            "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(host_->messages.size(), 1u);
  EXPECT_EQ(host_->messages[0], ".leading\r\n..\r\nmid.dle.\r\n \r\nx\r\n.\r\n");
  EXPECT_EQ(host_->data_calls, 1);  // pieces are joined: one MessageData per Feed
}

TEST_F(SmtpServerSessionTest, DotUnstuffingEveryByteSplit) {
  const std::string body =
      "From: a\r\n\r\n..dot\r\n.. \r\n\r\nx..y\r\n...\r\n.a\r\n\r\n\r\n..\r\nend\r\n.\r\n";
  const std::string expect =
      "From: a\r\n\r\n.dot\r\n. \r\n\r\nx..y\r\n..\r\na\r\n\r\n\r\n.\r\nend\r\n";
  for (size_t split = 0; split <= body.size(); ++split) {
    Make();
    Envelope();
    EXPECT_EQ(Code("DATA"), 354);
    session_->Feed(body.substr(0, split));
    session_->Feed(body.substr(split));
    ASSERT_EQ(host_->messages.size(), 1u) << split;
    EXPECT_EQ(host_->messages[0], expect) << split;
  }
  Make();
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  for (char c : body) session_->Feed(std::string_view(&c, 1));
  ASSERT_EQ(host_->messages.size(), 1u);
  EXPECT_EQ(host_->messages[0], expect);
}

TEST_F(SmtpServerSessionTest, LargeMessageStreamedNotBuffered) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_message_bytes = 10 << 20;
  Make(c);
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  const std::string line(998, 'x');
  std::string chunk;
  for (int i = 0; i < 64; ++i) chunk += line + "\r\n";
  for (int i = 0; i < 50; ++i) {
    session_->Feed(chunk);
    EXPECT_EQ(host_->current.size(), chunk.size() * (i + 1));  // passed on as it arrives
  }
  session_->Feed(".\r\n");
  ASSERT_EQ(host_->messages.size(), 1u);
  EXPECT_EQ(host_->messages[0].size(), chunk.size() * 50);
  EXPECT_EQ(host_->data_calls, 50);
}

TEST_F(SmtpServerSessionTest, OversizeDataConsumedThenRefused) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_message_bytes = 1000;
  Make(c);
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  std::string big;
  for (int i = 0; i < 30; ++i) big += std::string(98, 'a') + "\r\n";
  session_->Feed(big);
  EXPECT_EQ(session_->phase(), Phase::kData);
  EXPECT_LE(host_->current.size(), 1000u);
  // Commands inside the data stay data.
  session_->Feed("MAIL FROM:<x@example.org>\r\nRCPT TO:<r@example.test>\r\n");
  EXPECT_EQ(host_->sent, "");
  session_->Feed(".\r\nNOOP\r\n");
  EXPECT_EQ(host_->TakeSent(),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_TRUE(session_->envelope().recipients.empty());
  // Exactly at the limit is fine.
  Envelope();
  std::string exact;
  for (int i = 0; i < 10; ++i) exact += std::string(98, 'b') + "\r\n";
  EXPECT_EQ(SendData(exact + ".\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
  EXPECT_EQ(host_->messages.back(), exact);
}

TEST_F(SmtpServerSessionTest, BareLfRefusedAfterRealEnd) {
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed("Subject: x\r\n\r\nline one\nline two\r\nline\rthree\r\n.\r\n");
  EXPECT_EQ(host_->TakeSent(),
            "550 5.5.2 Message contains bare <LF> or <CR> (SMTP smuggling protection)\r\n");
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_EQ(Code("NOOP"), 250);
  EXPECT_EQ(Code("RCPT TO:<r@example.test>"), 503);  // the transaction is gone
}

TEST_F(SmtpServerSessionTest, BareLineEndingsAllowedWhenConfigured) {
  SmtpServerConfig c = DefaultConfig();
  c.reject_bare_line_endings = false;
  Make(c);
  Envelope();
  // Still only CRLF.CRLF ends the data: the look-alikes stay inside the one message.
  EXPECT_EQ(SendData("a\nb\rc\n.\nMAIL FROM:<e@example.org>\r\n.\r\n"),
            "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(host_->messages.size(), 1u);
  EXPECT_EQ(host_->messages[0], "a\nb\rc\n.\nMAIL FROM:<e@example.org>\r\n");
}

// Every end-of-data look-alike with a bare CR or LF, followed by a smuggled transaction and
// the real end: one refused transaction, no command executed from inside the data.
class SmugglingTest : public SmtpServerSessionTest,
                      public ::testing::WithParamInterface<std::string> {};

constexpr const char* kSmuggled =
    "MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n"
    "From: <evil@example.org>\r\nSubject: smuggled\r\n\r\nSMUGGLED-PAYLOAD";

void CheckSmuggling(SmtpServerSessionTest* t, FakeHost* host, SmtpServerSession* session,
                    const std::string& variant, size_t step) {
  const std::string data = "From: <s@example.org>\r\n\r\nhello" + variant + kSmuggled +
                           "\r\n.\r\nQUIT\r\n";
  host->sent.clear();
  if (step == 0) {
    session->Feed(data);
  } else {
    for (size_t i = 0; i < data.size(); i += step) session->Feed(data.substr(i, step));
  }
  (void)t;
  EXPECT_EQ(host->sent,
            "550 5.5.2 Message contains bare <LF> or <CR> (SMTP smuggling protection)\r\n"
            "221 2.0.0 Bye\r\n")
      << step;
  EXPECT_EQ(host->ends, 0);
  EXPECT_EQ(host->begins, 1);
  EXPECT_EQ(host->aborts, 1);
  EXPECT_EQ(host->checked.size(), 1u);  // only the real RCPT
  EXPECT_EQ(session->phase(), Phase::kClosed);
}

TEST_P(SmugglingTest, OneFeed) {
  Envelope("MAIL FROM:<s@example.org>", "RCPT TO:<victim@example.test>");
  EXPECT_EQ(Code("DATA"), 354);
  CheckSmuggling(this, host_.get(), session_.get(), GetParam(), 0);
}

TEST_P(SmugglingTest, ByteByByte) {
  Envelope("MAIL FROM:<s@example.org>", "RCPT TO:<victim@example.test>");
  EXPECT_EQ(Code("DATA"), 354);
  CheckSmuggling(this, host_.get(), session_.get(), GetParam(), 1);
}

TEST_P(SmugglingTest, OddSplits) {
  for (size_t step : {2, 3, 5, 7}) {
    Make();
    Envelope("MAIL FROM:<s@example.org>", "RCPT TO:<victim@example.test>");
    EXPECT_EQ(Code("DATA"), 354);
    CheckSmuggling(this, host_.get(), session_.get(), GetParam(), step);
  }
}

TEST_P(SmugglingTest, PipelinedTransactionWithSyncCommit) {
  host_->sync_commit = true;
  const std::string all = "EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<victim@example.test>\r\n"
                          "DATA\r\n";
  session_->Feed(all);
  host_->sent.clear();
  CheckSmuggling(this, host_.get(), session_.get(), GetParam(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, SmugglingTest,
    ::testing::Values("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r", "\r.\r\n",
                      "\r\n.\r\r\n", "\r.\n", "\n.\r", "\n.\r\r\n", "\r\r\n.\r\r\n", "\n\n.\n\n",
                      "\r\r.\r\r", "\r\n.\n\r\n", "\n.\n\r\n", "\r.\r\r\n", "\r\n\n.\r\n\n",
                      "\n\r.\n\r", "\n..\n", "\r\n..\n", "\n..\r\n", "\r\n.\rX", "\r", "\n"));

// Not bare line endings, not the end either: one message that contains the payload.
TEST_F(SmtpServerSessionTest, OtherDotLinesStayInside) {
  for (const std::string& v : std::vector<std::string>{"\r\n .\r\n", "\r\n..\r\n", "\r\n.\t\r\n", std::string("\r\n.\0\r\n", 6),
                        "\r\n. \r\n"}) {
    Make();
    Envelope();
    const std::string reply = SendData("hello" + v + kSmuggled + "\r\n.\r\n");
    EXPECT_EQ(reply, "250 2.0.0 Ok: queued as Q1\r\n");
    ASSERT_EQ(host_->messages.size(), 1u);
    EXPECT_NE(host_->messages[0].find("SMUGGLED-PAYLOAD"), std::string::npos);
    EXPECT_EQ(host_->checked.size(), 1u);
  }
}

// --- pipelining ----------------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, PipelinedGroupOneWrite) {
  host_->sent.clear();
  host_->sends = 0;
  session_->Feed("EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.test>\r\n"
                 "RCPT TO:<b@example.test>\r\nNOOP\r\n");
  EXPECT_EQ(host_->sends, 1);
  EXPECT_EQ(host_->Codes(), (std::vector<int>{250, 250, 250, 250, 250}));
}

const char kWholeSession[] =
    "EHLO client.example\r\n"
    "MAIL FROM:<s@example.org> SIZE=60\r\n"
    "RCPT TO:<a@example.test>\r\n"
    "RCPT TO:<b@example.test> NOTIFY=FAILURE\r\n"
    "DATA\r\n"
    "Subject: one\r\n\r\n..dotted\r\nbody\r\n.\r\n"
    "MAIL FROM:<>\r\n"
    "RCPT TO:<c@example.test>\r\n"
    "BDAT 10\r\n0123456789"
    "BDAT 5 LAST\r\nabcde"
    "MAIL FROM:<s@example.org>\r\n"
    "RCPT TO:<d@example.test>\r\n"
    "DATA\r\n"
    "second\r\n.\r\n"
    "RSET\r\n"
    "QUIT\r\n";

std::string ExpectedWholeSessionReplies() {
  return "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-8BITMIME\r\n"
         "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250 CHUNKING\r\n"
         "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
         "354 End data with <CR><LF>.<CR><LF>\r\n"
         "250 2.0.0 Ok: queued as Q1\r\n"
         "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 10 octets received\r\n"
         "250 2.0.0 Ok: queued as Q2\r\n"
         "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
         "250 2.0.0 Ok: queued as Q3\r\n"
         "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n";
}

void CheckWholeSession(FakeHost* host) {
  EXPECT_EQ(host->sent, ExpectedWholeSessionReplies());
  ASSERT_EQ(host->messages.size(), 3u);
  EXPECT_EQ(host->messages[0], "Subject: one\r\n\r\n.dotted\r\nbody\r\n");
  EXPECT_EQ(host->messages[1], "0123456789abcde");
  EXPECT_EQ(host->messages[2], "second\r\n");
  EXPECT_EQ(host->closes, 1);
  EXPECT_EQ(host->aborts, 0);
  ASSERT_EQ(host->begun.size(), 3u);
  EXPECT_EQ(host->begun[0].recipients.size(), 2u);
  EXPECT_EQ(host->begun[0].recipients[1].notify, "FAILURE");
  EXPECT_EQ(host->begun[0].declared_size, 60u);
  EXPECT_EQ(host->begun[1].sender, "");
}

// The host commits asynchronously: input behind the message waits in the session until
// CompleteMessage().
void RunWholeSessionAsync(SmtpServerSession* s, FakeHost* host, size_t step) {
  const std::string all = kWholeSession;
  for (size_t i = 0; i < all.size(); i += step) {
    s->Feed(all.substr(i, step));
    while (s->phase() == Phase::kAwaitingCommit) {
      s->CompleteMessage(std::string("Q") + std::to_string(host->ends));
    }
  }
}

TEST_F(SmtpServerSessionTest, WholeSessionOneFeedSyncCommit) {
  host_->sync_commit = true;
  host_->sent.clear();
  session_->Feed(kWholeSession);
  CheckWholeSession(host_.get());
  EXPECT_EQ(session_->phase(), Phase::kClosed);
}

TEST_F(SmtpServerSessionTest, WholeSessionOneFeedAsyncCommit) {
  host_->sent.clear();
  session_->Feed(kWholeSession);
  EXPECT_EQ(session_->phase(), Phase::kAwaitingCommit);
  EXPECT_EQ(host_->ends, 1);
  // Fed while the commit runs (a host that did not pause): kept in order.
  session_->Feed("NOOP\r\n");
  while (session_->phase() == Phase::kAwaitingCommit) {
    session_->CompleteMessage(std::string("Q") + std::to_string(host_->ends));
  }
  CheckWholeSession(host_.get());
}

TEST_F(SmtpServerSessionTest, WholeSessionEverySplitStep) {
  for (size_t step = 1; step <= 40; ++step) {
    Make();
    host_->sent.clear();
    RunWholeSessionAsync(session_.get(), host_.get(), step);
    CheckWholeSession(host_.get());
    if (HasFailure()) {
      ADD_FAILURE() << "step " << step;
      return;
    }
  }
}

TEST_F(SmtpServerSessionTest, WholeSessionEveryTwoWaySplit) {
  const std::string all = kWholeSession;
  for (size_t split = 0; split <= all.size(); ++split) {
    Make();
    host_->sync_commit = true;
    host_->sent.clear();
    session_->Feed(all.substr(0, split));
    session_->Feed(all.substr(split));
    CheckWholeSession(host_.get());
    if (HasFailure()) {
      ADD_FAILURE() << "split " << split;
      return;
    }
  }
}

// --- BDAT ----------------------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, BdatBinaryChunkUnchanged) {
  Envelope();
  const std::string chunk1 = "Subject: b\r\n\r\n.\r\n..x\r\nMAIL FROM:<e@x.org>\r\n\n\r";
  const std::string chunk2 = std::string("\0\xff\r\n.\r\n", 7);
  session_->Feed("BDAT " + std::to_string(chunk1.size()) + "\r\n" + chunk1);
  EXPECT_EQ(host_->TakeSent(),
            "250 2.0.0 " + std::to_string(chunk1.size()) + " octets received\r\n");
  EXPECT_EQ(session_->phase(), Phase::kBdat);
  EXPECT_EQ(host_->begins, 1);
  session_->Feed("BDAT " + std::to_string(chunk2.size()) + " LAST\r\n" + chunk2);
  EXPECT_EQ(session_->phase(), Phase::kAwaitingCommit);
  EXPECT_EQ(host_->sent, "");
  session_->CompleteMessage(std::string("B1"));
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 Ok: queued as B1\r\n");
  ASSERT_EQ(host_->messages.size(), 1u);
  EXPECT_EQ(host_->messages[0], chunk1 + chunk2);
  EXPECT_EQ(host_->checked.size(), 1u);
  EXPECT_EQ(host_->begins, 1);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
}

TEST_F(SmtpServerSessionTest, BdatPhaseInsideAndBetweenChunks) {
  Envelope();
  session_->Feed("BDAT 10\r\n01234");
  EXPECT_EQ(session_->phase(), Phase::kBdat);
  session_->Feed("56789");
  EXPECT_EQ(session_->phase(), Phase::kBdat);
  EXPECT_EQ(Code("NOOP"), 250);
  EXPECT_EQ(session_->phase(), Phase::kBdat);
  EXPECT_EQ(Code("DATA"), 503);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 503);
  EXPECT_EQ(Code("RCPT TO:<x@example.test>"), 503);
  EXPECT_EQ(Code("BDAT 0 LAST"), -0);  // no reply until the commit
  session_->CompleteMessage(std::string("Z"));
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 Ok: queued as Z\r\n");
  EXPECT_EQ(host_->messages[0], "0123456789");
}

TEST_F(SmtpServerSessionTest, BdatZeroLastOnlyIsAnEmptyMessageAndRefused) {
  // RFC 3030 lets "BDAT 0 LAST" end a message; with no chunk before it the message has no
  // bytes at all, so no header fields (RFC 5322 3.6 requires From and Date): nothing to queue.
  Envelope();
  EXPECT_EQ(Cmd("BDAT 0 LAST"), "554 5.6.0 Message is empty\r\n");
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_TRUE(host_->messages.empty());
  EXPECT_TRUE(session_->envelope().recipients.empty());
  // Two empty chunks are still an empty message.
  Envelope();
  EXPECT_EQ(Cmd("BDAT 0"), "250 2.0.0 0 octets received\r\n");
  EXPECT_EQ(Cmd("BDAT 0 LAST"), "554 5.6.0 Message is empty\r\n");
  EXPECT_EQ(host_->ends, 0);
  // After a chunk with bytes, "BDAT 0 LAST" ends the message as RFC 3030 says.
  Envelope();
  session_->Feed("BDAT 3\r\nabc");
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 3 octets received\r\n");
  EXPECT_EQ(Cmd("BDAT 0 LAST"), "");
  EXPECT_EQ(session_->phase(), Phase::kAwaitingCommit);
  session_->CompleteMessage(std::string("E"));
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 Ok: queued as E\r\n");
  ASSERT_EQ(host_->messages.size(), 1u);
  EXPECT_EQ(host_->messages[0], "abc");
  Envelope();
  EXPECT_EQ(Cmd("BDAT 0"), "250 2.0.0 0 octets received\r\n");
  EXPECT_EQ(Cmd("bdat 3 last\r\nabc").substr(0, 0), "");
  EXPECT_EQ(session_->phase(), Phase::kAwaitingCommit);
}

TEST_F(SmtpServerSessionTest, BdatSyntaxErrorStaysInCommandMode) {
  Envelope();
  EXPECT_EQ(Cmd("BDAT"), "501 5.5.4 Syntax: BDAT <size> [LAST]\r\n");
  EXPECT_EQ(Code("BDAT x"), 501);
  EXPECT_EQ(Code("BDAT -5"), 501);
  EXPECT_EQ(Code("BDAT 5 NOTLAST"), 501);
  EXPECT_EQ(Code("BDAT 5 LAST more"), 501);
  EXPECT_EQ(Code("BDAT 99999999999999999999999"), 501);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_EQ(host_->begins, 0);
  EXPECT_EQ(Code("NOOP"), 250);
}

TEST_F(SmtpServerSessionTest, BdatWithoutTransactionStillConsumesChunk) {
  EXPECT_EQ(Code("EHLO c"), 250);
  session_->Feed("BDAT 12\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
  EXPECT_EQ(host_->TakeSent(), "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 250);
  session_->Feed("BDAT 6 LAST\r\nQUIT\r\n");
  EXPECT_EQ(host_->TakeSent(), "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(host_->begins, 0);
  EXPECT_EQ(host_->closes, 0);
}

TEST_F(SmtpServerSessionTest, BdatBeginFailureConsumesChunks) {
  Envelope();
  host_->begin_status = absl::ResourceExhaustedError("full");
  session_->Feed("BDAT 6\r\nRSET\r\n");
  EXPECT_EQ(host_->TakeSent(), "452 4.3.1 Insufficient system storage\r\n");
  EXPECT_EQ(session_->phase(), Phase::kBdat);
  session_->Feed("BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
  EXPECT_EQ(host_->TakeSent(), "452 4.3.1 Insufficient system storage\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(host_->begins, 1);
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_TRUE(session_->envelope().recipients.empty());
}

TEST_F(SmtpServerSessionTest, EmptyDataMessageIsRefused) {
  // The same rule as "BDAT 0 LAST" alone: zero bytes are no message, whichever command.
  Envelope();
  EXPECT_EQ(SendData(".\r\n"), "554 5.6.0 Message is empty\r\n");
  EXPECT_EQ(host_->data_calls, 0);
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
}

SmtpServerConfig LineLimitConfig(uint64_t line_limit) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_message_bytes = 50u << 20;
  c.limits.max_data_line_bytes = line_limit;
  return c;
}

TEST_F(SmtpServerSessionTest, DataLineOverTheLimitIsConsumedThenRefusedWithoutBuffering) {
  Make(LineLimitConfig(1000));
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed("Subject: long\r\n\r\n");
  // A 10 MB line in 64 KiB pieces: refused as it streams, not held anywhere.
  const std::string piece(64 << 10, 'x');
  for (int i = 0; i < 160; ++i) session_->Feed(piece);
  EXPECT_EQ(host_->sent, "");
  EXPECT_LE(host_->current.size(), 70000u) << "the host kept receiving the doomed line";
  session_->Feed("\r\n.\r\nNOOP\r\n");
  EXPECT_EQ(host_->TakeSent(),
            "554 5.6.0 Message contains a line longer than 1000 bytes\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
}

TEST_F(SmtpServerSessionTest, DataLinesAtTheLimitPassUnchanged) {
  Make(LineLimitConfig(1000));
  Envelope();
  // 998 octets + CRLF is RFC 5321's line; a leading dot (stuffed on the wire) counts too.
  const std::string line(998, 'y');
  const std::string dotted = "." + std::string(996, 'z');
  std::string wire = "Subject: ok\r\n\r\n" + line + "\r\n." + dotted + "\r\n";
  // Split so that one line crosses Feeds, and a CRLF is cut between them.
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed(wire.substr(0, 500));
  session_->Feed(wire.substr(500, 1014 - 500));
  session_->Feed(wire.substr(1014) + ".\r\n");
  ASSERT_EQ(session_->phase(), Phase::kAwaitingCommit) << host_->sent;
  session_->CompleteMessage(std::string("L"));
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 Ok: queued as L\r\n");
  ASSERT_EQ(host_->messages.size(), 1u);
  EXPECT_EQ(host_->messages[0], "Subject: ok\r\n\r\n" + line + "\r\n" + dotted + "\r\n");
  // One more octet is over.
  Envelope();
  EXPECT_EQ(SendData(std::string(999, 'w') + "\r\n.\r\n"),
            "554 5.6.0 Message contains a line longer than 1000 bytes\r\n");
}

TEST_F(SmtpServerSessionTest, DefaultLineLimitPassesLongRealWorldLines) {
  Envelope();  // DefaultConfig: the default max_data_line_bytes
  const std::string html = "<p>" + std::string(90000, 'h') + "</p>";  // over 64 KiB
  EXPECT_EQ(SendData("Subject: html\r\n\r\n" + html + "\r\n.\r\n"),
            "250 2.0.0 Ok: queued as Q1\r\n");
  EXPECT_EQ(host_->messages.at(0), "Subject: html\r\n\r\n" + html + "\r\n");
}

TEST_F(SmtpServerSessionTest, BdatLineOverTheLimitIsRefused) {
  Make(LineLimitConfig(1000));
  Envelope();
  const std::string head = "Subject: b\r\n\r\n";
  session_->Feed("BDAT " + std::to_string(head.size()) + "\r\n" + head);
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 " + std::to_string(head.size()) + " octets received\r\n");
  // The long line is cut across two chunks: it is the line that counts, not the chunk.
  session_->Feed("BDAT 600\r\n" + std::string(600, 'a'));
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 600 octets received\r\n");
  session_->Feed("BDAT 600 LAST\r\n" + std::string(598, 'a') + "\r\n");
  EXPECT_EQ(host_->TakeSent(), "554 5.6.0 Message contains a line longer than 1000 bytes\r\n");
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
}

TEST_F(SmtpServerSessionTest, BdatOversize) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_message_bytes = 100;
  Make(c);
  Envelope();
  session_->Feed("BDAT 60\r\n" + std::string(60, 'a'));
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 60 octets received\r\n");
  session_->Feed("BDAT 60\r\n" + std::string(50, 'b'));
  EXPECT_EQ(host_->sent, "");
  session_->Feed(std::string(10, 'b') + "NOOP\r\n");
  EXPECT_EQ(host_->TakeSent(),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_EQ(host_->current.size(), 60u);
  // Later chunks of the failed transaction are consumed and refused; LAST ends it.
  session_->Feed("BDAT 4 LAST\r\nQUITNOOP\r\n");
  EXPECT_EQ(host_->TakeSent(),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_EQ(Code("RCPT TO:<r@example.test>"), 503);
}

TEST_F(SmtpServerSessionTest, RsetAbortsOpenBdatMessage) {
  Envelope();
  session_->Feed("BDAT 3\r\nabc");
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 3 octets received\r\n");
  EXPECT_TRUE(host_->open);
  EXPECT_EQ(Code("RSET"), 250);
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_FALSE(host_->open);
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  EXPECT_TRUE(session_->envelope().recipients.empty());
}

TEST_F(SmtpServerSessionTest, BdatHugeSizeDoesNotAllocate) {
  Envelope();
  session_->Feed("BDAT 18446744073709551615\r\n");
  EXPECT_EQ(session_->phase(), Phase::kBdat);
  for (int i = 0; i < 10; ++i) session_->Feed(std::string(100000, 'z'));
  EXPECT_EQ(session_->phase(), Phase::kBdat);
  EXPECT_LE(host_->current.size(), 100000u);
  session_->OnTimeout();
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_EQ(session_->phase(), Phase::kClosed);
}

// --- other commands ------------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, SimpleCommands) {
  EXPECT_EQ(Cmd("NOOP"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(Cmd("RSET"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(Code("VRFY someone"), 252);
  EXPECT_EQ(Cmd("VRFY x").substr(0, 10), "252 2.5.2 ");
  EXPECT_EQ(Code("HELP"), 214);
  EXPECT_EQ(Cmd("FOO bar"), "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_EQ(Code(""), 500);
  EXPECT_EQ(Code("EXPN list"), 500);
  EXPECT_EQ(Code(std::string("NO\0OP", 5)), 500);
  EXPECT_EQ(Cmd("QUIT"), "221 2.0.0 Bye\r\n");
  EXPECT_EQ(host_->closes, 1);
  EXPECT_EQ(session_->phase(), Phase::kClosed);
  EXPECT_FALSE(session_->WantsMoreInput());
  EXPECT_EQ(Cmd("NOOP"), "");  // ignored after close
}

TEST_F(SmtpServerSessionTest, BareLfEndsCommandLines) {
  host_->sent.clear();
  session_->Feed("EHLO c\nMAIL FROM:<s@example.org>\nRCPT TO:<r@example.test>\r\nNOOP\n");
  EXPECT_EQ(host_->Codes(), (std::vector<int>{250, 250, 250, 250}));
  // A bare CR does not end a command line and is refused inside one.
  EXPECT_EQ(Code("NOOP\rRSET"), 500);
}

TEST_F(SmtpServerSessionTest, QuitInsideTransactionAbortsOpenMessage) {
  Envelope();
  session_->Feed("BDAT 1\r\nx");
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 1 octets received\r\n");
  EXPECT_EQ(Code("QUIT"), 221);
  EXPECT_EQ(host_->aborts, 1);
}

// --- STARTTLS ------------------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, StartTlsResetsAndDiscardsInjection) {
  SmtpServerConfig c = DefaultConfig();
  c.starttls_available = true;
  Make(c);
  EXPECT_EQ(Code("EHLO c"), 250);
  host_->sent.clear();
  session_->Feed("STARTTLS\r\nMAIL FROM:<injected@example.org>\r\nRCPT TO:<r@example.test>\r\n");
  EXPECT_EQ(host_->starttls, 1);
  // The 220 was sent before StartTls(): it must go out in plaintext.
  EXPECT_EQ(host_->sent_at_starttls, "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(host_->TakeSent(), "220 2.0.0 Ready to start TLS\r\n");
  session_->Feed("NOOP\r\nMAIL FROM:<injected2@example.org>\r\n");  // before the handshake
  EXPECT_EQ(host_->sent, "");
  EXPECT_FALSE(session_->envelope().tls);
  session_->OnTlsEstablished();
  EXPECT_TRUE(session_->envelope().tls);
  EXPECT_EQ(session_->envelope().helo, "");
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 503);  // EHLO again first
  std::string ehlo = Cmd("EHLO c");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(Code("STARTTLS"), 503);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 250);
  EXPECT_EQ(host_->checked.size(), 0u);
  EXPECT_EQ(host_->starttls, 1);
  EXPECT_TRUE(session_->envelope().tls);
}

TEST_F(SmtpServerSessionTest, StartTlsRefusals) {
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Code("STARTTLS"), 502);  // not offered
  SmtpServerConfig c = DefaultConfig();
  c.starttls_available = true;
  Make(c);
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Code("STARTTLS now"), 501);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 250);
  EXPECT_EQ(Code("STARTTLS"), 503);
  EXPECT_EQ(host_->starttls, 0);
}

TEST_F(SmtpServerSessionTest, StartTlsInjectionByteByByte) {
  SmtpServerConfig c = DefaultConfig();
  c.starttls_available = true;
  Make(c);
  host_->sent.clear();
  const std::string in = "EHLO c\r\nSTARTTLS\r\nMAIL FROM:<i@example.org>\r\n";
  for (char ch : in) session_->Feed(std::string_view(&ch, 1));
  EXPECT_EQ(host_->starttls, 1);
  EXPECT_EQ(host_->Codes(), (std::vector<int>{250, 220}));
  session_->OnTlsEstablished();
  EXPECT_EQ(Code("RCPT TO:<r@example.test>"), 503);
}

// --- limits --------------------------------------------------------------------------------

TEST_F(SmtpServerSessionTest, OverlongLineAnsweredOnceAndSkipped) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_command_line_bytes = 64;
  Make(c);
  EXPECT_EQ(Cmd("NOOP " + std::string(100, 'x')), "500 5.5.2 Error: line too long\r\n");
  EXPECT_EQ(Code("NOOP"), 250);
  // Sent in pieces: one reply, then the rest of the line is dropped.
  host_->sent.clear();
  session_->Feed("MAIL FROM:<" + std::string(1000, 'a'));
  EXPECT_EQ(host_->TakeSent(), "500 5.5.2 Error: line too long\r\n");
  session_->Feed(std::string(1000, 'b'));
  session_->Feed("@example.org>\r\nNOOP\r\n");
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 Ok\r\n");
  // Exactly at the limit (with CRLF) is accepted, one more byte is not.
  EXPECT_EQ(Code("NOOP " + std::string(64 - 7, 'y')), 250);
  EXPECT_EQ(Code("NOOP " + std::string(64 - 6, 'y')), 500);
  std::string exact = "NOOP " + std::string(64 - 7, 'y') + "\r\n";
  host_->sent.clear();
  for (char ch : exact) session_->Feed(std::string_view(&ch, 1));
  EXPECT_EQ(host_->TakeSent(), "250 2.0.0 Ok\r\n");
}

TEST_F(SmtpServerSessionTest, TooManyCommands) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_commands = 50;
  Make(c);
  host_->sent.clear();
  std::string in;
  for (int i = 0; i < 60; ++i) in += "NOOP\r\n";
  session_->Feed(in);
  std::vector<int> codes = host_->Codes();
  ASSERT_EQ(codes.size(), 51u);
  EXPECT_EQ(codes.back(), 421);
  EXPECT_NE(host_->sent.find("421 4.7.0 Error: too many commands\r\n"), std::string::npos);
  EXPECT_EQ(host_->closes, 1);
  EXPECT_EQ(session_->phase(), Phase::kClosed);
  EXPECT_EQ(session_->commands(), 51u);
}

TEST_F(SmtpServerSessionTest, TooManyErrors) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_errors = 5;
  Make(c);
  host_->sent.clear();
  std::string in;
  for (int i = 0; i < 10; ++i) in += "\x01garbage\xff\r\n";
  session_->Feed(in);
  EXPECT_EQ(host_->Codes(), (std::vector<int>{500, 500, 500, 500, 500, 421}));
  EXPECT_EQ(host_->closes, 1);
}

TEST_F(SmtpServerSessionTest, PolicyRefusalsCountAsErrors) {
  SmtpServerConfig c = DefaultConfig();
  c.limits.max_errors = 3;
  Make(c);
  host_->check = [](const SmtpRecipient&) { return SmtpReply{550, "5.7.1", "denied\r\n250 ok"}; };
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Code("MAIL FROM:<s@example.org>"), 250);
  EXPECT_EQ(Cmd("RCPT TO:<a@x.example>"), "550 5.7.1 denied  250 ok\r\n");  // no framing break
  EXPECT_EQ(Code("RCPT TO:<a@x.example>"), 550);
  host_->sent.clear();
  session_->Feed("RCPT TO:<a@x.example>\r\n");
  EXPECT_EQ(host_->Codes(), (std::vector<int>{550, 421}));
  EXPECT_EQ(session_->phase(), Phase::kClosed);
}

TEST_F(SmtpServerSessionTest, ShutdownAndTimeout) {
  EXPECT_EQ(Code("EHLO c"), 250);
  session_->Shutdown();
  EXPECT_EQ(host_->TakeSent(), "421 4.3.2 Service shutting down\r\n");
  EXPECT_EQ(host_->closes, 1);
  EXPECT_EQ(session_->phase(), Phase::kClosed);
  session_->Shutdown();
  session_->OnTimeout();
  EXPECT_EQ(host_->sent, "");
  EXPECT_EQ(host_->closes, 1);

  Make();
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed("partial message\r\n");
  session_->OnTimeout();
  EXPECT_EQ(host_->TakeSent(), "421 4.4.2 mx.example.test Error: timeout exceeded\r\n");
  EXPECT_EQ(host_->aborts, 1);
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(session_->phase(), Phase::kClosed);
  session_->Feed(".\r\n");
  EXPECT_EQ(host_->ends, 0);
  EXPECT_EQ(host_->sent, "");

  Make();
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Shutdown();
  EXPECT_EQ(host_->aborts, 1);
}

TEST_F(SmtpServerSessionTest, ShutdownWhileCommittingDoesNotAbort) {
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed("x\r\n.\r\n");
  ASSERT_EQ(session_->phase(), Phase::kAwaitingCommit);
  session_->Shutdown();
  EXPECT_EQ(host_->aborts, 0);  // the message was handed over; the host finishes it
  session_->CompleteMessage(std::string("late"));
  EXPECT_EQ(host_->sent.find("queued"), std::string::npos);
}

TEST_F(SmtpServerSessionTest, PipelinedInputWhileCommittingIsBounded) {
  Envelope();
  EXPECT_EQ(Code("DATA"), 354);
  session_->Feed("x\r\n.\r\nNOOP\r\n");
  ASSERT_EQ(session_->phase(), Phase::kAwaitingCommit);
  // A host that ignores WantsMoreInput() cannot make the session buffer without limit.
  const std::string junk(64 << 10, 'j');
  for (int i = 0; i < 64 && session_->phase() != Phase::kClosed; ++i) session_->Feed(junk);
  EXPECT_EQ(session_->phase(), Phase::kClosed);
  EXPECT_NE(host_->sent.find("421 4.7.0"), std::string::npos);
}

TEST_F(SmtpServerSessionTest, InputBeforeStartIsKept) {
  auto host = std::make_unique<FakeHost>();
  SmtpServerSession s(DefaultConfig(), host.get(), "peer");
  s.Feed("EHLO early\r\n");
  EXPECT_EQ(host->sent, "");
  s.Start();
  EXPECT_EQ(host->Codes(), (std::vector<int>{220, 250}));
}

TEST_F(SmtpServerSessionTest, CommandCounter) {
  EXPECT_EQ(Code("EHLO c"), 250);
  EXPECT_EQ(Code("NOOP"), 250);
  EXPECT_EQ(session_->commands(), 2u);
}


// --- AUTH (RFC 4954) -----------------------------------------------------------------------

SmtpServerConfig SubmissionConfig() {
  SmtpServerConfig c = DefaultConfig();
  c.implicit_tls = true;
  c.auth_available = true;
  c.auth_required = true;
  return c;
}

std::string Plain(std::string_view user, std::string_view password) {
  std::string message(1, '\0');
  message.append(user).push_back('\0');
  message.append(password);
  return EncodeSaslBase64(message);
}

TEST(SaslTest, StrictBase64) {
  EXPECT_EQ(DecodeSaslBase64("dXNlcg==").value(), "user");
  EXPECT_EQ(DecodeSaslBase64("").value(), "");
  EXPECT_FALSE(DecodeSaslBase64("dXNlcg"));     // missing padding
  EXPECT_FALSE(DecodeSaslBase64("dXN lcg=="));  // whitespace
  EXPECT_FALSE(DecodeSaslBase64("dX=lcg=="));   // padding inside
  EXPECT_FALSE(DecodeSaslBase64("dXNlc==="));   // three pads
  EXPECT_FALSE(DecodeSaslBase64("*"));
  EXPECT_FALSE(ParseSaslPlain(std::string("user\0pw", 7)));
  EXPECT_FALSE(ParseSaslPlain(std::string("\0\0pw", 4)));
  EXPECT_FALSE(ParseSaslPlain(std::string("\0u\0p\0x", 6)));
  std::optional<SaslPlain> p = ParseSaslPlain(std::string("az\0u\0p", 6));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->authzid, "az");
  EXPECT_EQ(p->user, "u");
  EXPECT_EQ(p->password, "p");
}

TEST_F(SmtpServerSessionTest, AuthOfferedOnlyInsideTls) {
  SmtpServerConfig c = DefaultConfig();
  c.starttls_available = true;
  c.auth_available = true;
  Make(c);
  EXPECT_EQ(Cmd("EHLO x").find("AUTH"), std::string::npos);
  EXPECT_EQ(Cmd("AUTH PLAIN " + Plain("u@example.test", "pw")),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  EXPECT_TRUE(host_->auth_requests.empty());
  EXPECT_EQ(Code("STARTTLS"), 220);
  session_->OnTlsEstablished();
  EXPECT_NE(Cmd("EHLO x").find("250-AUTH PLAIN LOGIN\r\n"), std::string::npos);
}

TEST_F(SmtpServerSessionTest, AuthNotEnabled) {
  SmtpServerConfig c = DefaultConfig();
  c.implicit_tls = true;
  Make(c);
  EXPECT_EQ(Cmd("EHLO x").find("AUTH"), std::string::npos);
  EXPECT_EQ(Code("AUTH PLAIN " + Plain("u", "p")), 502);
}

TEST_F(SmtpServerSessionTest, SubmissionNeedsAuthBeforeMail) {
  Make(SubmissionConfig());
  ASSERT_EQ(Code("EHLO x"), 250);
  EXPECT_EQ(Cmd("MAIL FROM:<u@example.test>"), "530 5.7.0 Authentication required\r\n");
  host_->auth_answer = SmtpAuthResult::kOk;
  EXPECT_EQ(Cmd("AUTH PLAIN " + Plain("u@example.test", "pw")),
            "235 2.7.0 Authentication successful\r\n");
  ASSERT_EQ(host_->auth_requests.size(), 1u);
  EXPECT_EQ(host_->auth_requests[0].mechanism, "PLAIN");
  EXPECT_EQ(host_->auth_requests[0].user, "u@example.test");
  EXPECT_EQ(host_->auth_requests[0].password, "pw");
  EXPECT_EQ(session_->envelope().auth_user, "u@example.test");
  // The sender rule is the host's; the session asks it for every MAIL of the session.
  EXPECT_EQ(Code("MAIL FROM:<other@example.test>"), 553);
  EXPECT_EQ(Code("MAIL FROM:<u@example.test> AUTH=<>"), 250);
  EXPECT_EQ(Code("RSET"), 250);
  EXPECT_EQ(session_->envelope().auth_user, "u@example.test");  // RSET keeps AUTH
  EXPECT_EQ(Code("AUTH PLAIN " + Plain("u@example.test", "pw")), 503);  // already done
}

TEST_F(SmtpServerSessionTest, AuthPlainWithoutInitialResponse) {
  Make(SubmissionConfig());
  ASSERT_EQ(Code("EHLO x"), 250);
  EXPECT_EQ(Cmd("AUTH plain"), "334 \r\n");
  EXPECT_EQ(session_->phase(), Phase::kCommand);
  // Answered later (the backend runs off the reactor): input waits meanwhile.
  session_->Feed(Plain("u@example.test", "pw") + "\r\nNOOP\r\n");
  EXPECT_EQ(session_->phase(), Phase::kAwaitingAuth);
  EXPECT_FALSE(session_->WantsMoreInput());
  EXPECT_TRUE(host_->TakeSent().empty());
  session_->CompleteAuth(SmtpAuthResult::kOk, "canonical@example.test");
  EXPECT_EQ(host_->TakeSent(), "235 2.7.0 Authentication successful\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(session_->envelope().auth_user, "canonical@example.test");
}

TEST_F(SmtpServerSessionTest, AuthLoginOutlookAndThunderbirdStyles) {
  Make(SubmissionConfig());
  host_->auth_answer = SmtpAuthResult::kOk;
  ASSERT_EQ(Code("EHLO x"), 250);
  // Outlook: AUTH LOGIN, then user and password as answers to the two challenges.
  EXPECT_EQ(Cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(Cmd(EncodeSaslBase64("u@example.test")), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(Code(EncodeSaslBase64("pw")), 235);
  EXPECT_EQ(host_->auth_requests.back().mechanism, "LOGIN");
  EXPECT_EQ(host_->auth_requests.back().password, "pw");
  // Thunderbird and others: the user name as an initial response.
  Make(SubmissionConfig());
  host_->auth_answer = SmtpAuthResult::kOk;
  ASSERT_EQ(Code("EHLO x"), 250);
  EXPECT_EQ(Cmd("AUTH LOGIN " + EncodeSaslBase64("u@example.test")), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(Code(EncodeSaslBase64("pw")), 235);
  EXPECT_EQ(host_->auth_requests.back().user, "u@example.test");
}

TEST_F(SmtpServerSessionTest, AuthBadInputAnsweredPerRfc4954) {
  Make(SubmissionConfig());
  ASSERT_EQ(Code("EHLO x"), 250);
  EXPECT_EQ(Code("AUTH"), 501);
  EXPECT_EQ(Cmd("AUTH CRAM-MD5"), "504 5.5.4 Unrecognized authentication type\r\n");
  EXPECT_EQ(Cmd("AUTH PLAIN"), "334 \r\n");
  EXPECT_EQ(Cmd("*"), "501 5.7.0 Authentication cancelled\r\n");
  EXPECT_EQ(Code("AUTH PLAIN *"), 501);
  EXPECT_EQ(Cmd("AUTH PLAIN dXNlcg"), "501 5.5.2 Cannot decode response\r\n");
  EXPECT_EQ(Cmd("AUTH PLAIN " + EncodeSaslBase64("no nul")), "501 5.5.2 Invalid PLAIN response\r\n");
  EXPECT_EQ(Code("AUTH PLAIN ="), 501);
  EXPECT_EQ(Code("AUTH LOGIN"), 334);
  EXPECT_EQ(Code("not base64!"), 501);
  EXPECT_EQ(Code("AUTH PLAIN a b"), 501);
  EXPECT_TRUE(host_->auth_requests.empty());
  // Every exchange ended: commands are commands again.
  EXPECT_EQ(Code("NOOP"), 250);
}

TEST_F(SmtpServerSessionTest, AuthDuringTransactionRefused) {
  SmtpServerConfig c = SubmissionConfig();
  c.auth_required = false;
  Make(c);
  Envelope("MAIL FROM:<s@example.org>");
  EXPECT_EQ(Cmd("AUTH PLAIN " + Plain("u", "p")), "503 5.5.1 Error: MAIL transaction in progress\r\n");
  EXPECT_TRUE(host_->auth_requests.empty());
}

TEST_F(SmtpServerSessionTest, AuthOverlongLines) {
  SmtpServerConfig c = SubmissionConfig();
  c.limits.max_command_line_bytes = 600;
  Make(c);
  ASSERT_EQ(Code("EHLO x"), 250);
  EXPECT_EQ(Cmd("AUTH PLAIN " + std::string(2000, 'A')),
            "500 5.5.6 Authentication Exchange line is too long\r\n");
  EXPECT_EQ(Code("AUTH LOGIN"), 334);
  // Fed in pieces, the way a slow client sends it.
  host_->sent.clear();
  for (int i = 0; i < 10; ++i) session_->Feed(std::string(100, 'Q'));
  session_->Feed("\r\n");
  EXPECT_EQ(host_->TakeSent(), "500 5.5.6 Authentication Exchange line is too long\r\n");
  EXPECT_EQ(Code("NOOP"), 250);
  EXPECT_TRUE(host_->auth_requests.empty());
}

TEST_F(SmtpServerSessionTest, AuthFailuresCloseTheSession) {
  Make(SubmissionConfig());
  ASSERT_EQ(Code("EHLO x"), 250);
  host_->auth_answer = SmtpAuthResult::kFailed;
  EXPECT_EQ(Cmd("AUTH PLAIN " + Plain("u", "bad")), "535 5.7.8 Error: authentication failed\r\n");
  host_->auth_answer = SmtpAuthResult::kTempFail;
  EXPECT_EQ(Cmd("AUTH PLAIN " + Plain("u", "bad")), "454 4.7.0 Temporary authentication failure\r\n");
  host_->auth_answer = SmtpAuthResult::kFailed;
  EXPECT_EQ(Cmd("AUTH PLAIN " + Plain("u", "bad")),
            "535 5.7.8 Error: authentication failed\r\n"
            "421 4.7.0 Error: too many failed authentications\r\n");
  EXPECT_EQ(session_->phase(), Phase::kClosed);
  EXPECT_EQ(host_->closes, 1);
}

TEST_F(SmtpServerSessionTest, StartTlsForgetsNothingItShouldKeepAndAuthNeedsNewEhlo) {
  SmtpServerConfig c = DefaultConfig();
  c.starttls_available = true;
  c.auth_available = true;
  c.auth_required = true;
  Make(c);
  ASSERT_EQ(Code("EHLO x"), 250);
  EXPECT_EQ(Code("MAIL FROM:<u@example.test>"), 530);
  // AUTH pipelined behind STARTTLS is an injection: discarded, never reaches the host.
  session_->Feed("STARTTLS\r\nAUTH PLAIN " + Plain("u", "p") + "\r\n");
  session_->OnTlsEstablished();
  EXPECT_TRUE(host_->auth_requests.empty());
  EXPECT_EQ(Code("AUTH PLAIN " + Plain("u", "p")), 503);  // EHLO first
}
}  // namespace
}  // namespace kensa::net
