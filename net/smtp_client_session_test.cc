// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/smtp_client_session.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kensa::net {
namespace {

using Outcome = RecipientResult::Outcome;

// Records every call as an event; `sends` keeps each SendToServer separately.
class FakeHost : public SmtpClientHost {
 public:
  void SendToServer(std::string_view bytes) override {
    sends.emplace_back(bytes);
    events.push_back("send");
  }
  void StartTls() override { events.push_back("starttls"); }
  void OnReady() override {
    ++ready;
    events.push_back("ready");
  }
  void WantContent() override {
    ++want_content;
    events.push_back("content");
  }
  void OnTransactionDone(std::vector<RecipientResult> r) override {
    done.push_back(std::move(r));
    events.push_back("done");
  }
  void OnSessionFailed(absl::Status why, RecipientResult as_result) override {
    failed_why = why;
    failed_result = as_result;
    ++failed;
    events.push_back("failed");
  }
  void CloseConnection() override {
    ++closed;
    events.push_back("close");
  }

  std::string AllSent() const {
    std::string s;
    for (const std::string& x : sends) s += x;
    return s;
  }
  std::string TakeSent() {
    std::string s = AllSent();
    sends.clear();
    return s;
  }

  std::vector<std::string> sends, events;
  int ready = 0, want_content = 0, failed = 0, closed = 0;
  std::vector<std::vector<RecipientResult>> done;
  absl::Status failed_why;
  RecipientResult failed_result;
};

OutboundMessage Msg(std::vector<std::string> rcpts) {
  OutboundMessage m;
  m.sender = "s@example.org";
  m.size = 10;
  for (std::string& r : rcpts) m.recipients.push_back({r, "", ""});
  return m;
}

class ClientTest : public ::testing::Test {
 protected:
  void Start(std::string ehlo_reply, SmtpClientConfig c = {}) {
    if (c.tls == TlsPolicy::kOpportunistic && !c.tls_available) c.tls = TlsPolicy::kOpportunistic;
    session_ = std::make_unique<SmtpClientSession>(c, &host_);
    session_->Feed("220 mx.example.net ESMTP\r\n");
    EXPECT_EQ(host_.TakeSent(), std::string(c.lmtp ? "LHLO " : "EHLO ") + c.helo_name + "\r\n");
    session_->Feed(ehlo_reply);
  }
  FakeHost host_;
  std::unique_ptr<SmtpClientSession> session_;
};

constexpr char kPlainEhlo[] = "250-mx.example.net\r\n250 8BITMIME\r\n";
constexpr char kPipeEhlo[] = "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n";

TEST_F(ClientTest, GreetingEhloReady) {
  session_ = std::make_unique<SmtpClientSession>(SmtpClientConfig{}, &host_);
  EXPECT_FALSE(session_->ready());
  EXPECT_TRUE(host_.sends.empty());
  session_->Feed("220-mx.example.net ESMTP\r\n220 hello\r\n");
  EXPECT_EQ(host_.TakeSent(), "EHLO localhost\r\n");
  EXPECT_EQ(host_.ready, 0);
  session_->Feed("250-mx.example.net\r\n250-SIZE 1000\r\n250 HELP\r\n");
  EXPECT_EQ(host_.ready, 1);
  EXPECT_TRUE(session_->ready());
  EXPECT_EQ(host_.failed, 0);
}

TEST_F(ClientTest, BadGreetingFails) {
  session_ = std::make_unique<SmtpClientSession>(SmtpClientConfig{}, &host_);
  session_->Feed("554 go away\r\n");
  EXPECT_EQ(host_.failed, 1);
  EXPECT_EQ(host_.failed_result.outcome, Outcome::kTempFail);
  EXPECT_TRUE(host_.sends.empty());
}

TEST_F(ClientTest, RepliesFedByteByByte) {
  session_ = std::make_unique<SmtpClientSession>(SmtpClientConfig{}, &host_);
  std::string bytes = "220 hi\r\n";
  for (char c : bytes) session_->Feed(std::string_view(&c, 1));
  EXPECT_EQ(host_.TakeSent(), "EHLO localhost\r\n");
  std::string ehlo = "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
  for (char c : ehlo) {
    EXPECT_EQ(host_.ready, 0);
    session_->Feed(std::string_view(&c, 1));
  }
  EXPECT_EQ(host_.ready, 1);
  session_->Send(Msg({"a@x.y"}));
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@x.y>\r\n");
  std::string replies = "250 2.1.0 ok\r\n250-2.1.5 ok\r\n250 2.1.5 really\r\n";
  for (char c : replies) session_->Feed(std::string_view(&c, 1));
  EXPECT_EQ(host_.want_content, 1);
}

TEST_F(ClientTest, PipeliningSendsEnvelopeAtOnce) {
  Start(kPipeEhlo);
  ASSERT_EQ(host_.ready, 1);
  session_->Send(Msg({"a@x.y", "b@x.y"}));
  ASSERT_EQ(host_.sends.size(), 1u);
  EXPECT_EQ(host_.sends[0],
            "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@x.y>\r\nRCPT TO:<b@x.y>\r\nDATA\r\n");
  host_.sends.clear();
  session_->Feed("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(host_.want_content, 1);
  session_->SendContent("Subject: x\r\n\r\nhi\r\n");
  session_->EndContent();
  EXPECT_EQ(host_.TakeSent(), "Subject: x\r\n\r\nhi\r\n.\r\n");
  session_->Feed("250 2.0.0 queued as X\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  ASSERT_EQ(host_.done[0].size(), 2u);
  for (const RecipientResult& r : host_.done[0]) {
    EXPECT_EQ(r.outcome, Outcome::kDelivered);
    EXPECT_EQ(r.code, 250);
    EXPECT_EQ(r.enhanced, "2.0.0");
    EXPECT_EQ(r.text, "queued as X");
  }
  EXPECT_EQ(host_.ready, 2);
  EXPECT_EQ(host_.events.back(), "ready");
}

TEST_F(ClientTest, WithoutPipeliningOneCommandPerReply) {
  Start(kPlainEhlo);
  session_->Send(Msg({"a@x.y", "b@x.y"}));
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org>\r\n");
  session_->Feed("250 ok\r\n");
  EXPECT_EQ(host_.TakeSent(), "RCPT TO:<a@x.y>\r\n");
  session_->Feed("250 ok\r\n");
  EXPECT_EQ(host_.TakeSent(), "RCPT TO:<b@x.y>\r\n");
  session_->Feed("250 ok\r\n");
  EXPECT_EQ(host_.TakeSent(), "DATA\r\n");
  EXPECT_EQ(host_.want_content, 0);
  session_->Feed("354 go\r\n");
  EXPECT_EQ(host_.want_content, 1);
  session_->SendContent("x\r\n");
  session_->EndContent();
  EXPECT_EQ(host_.TakeSent(), "x\r\n.\r\n");
  session_->Feed("250 ok\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.done[0][0].outcome, Outcome::kDelivered);
  EXPECT_EQ(host_.done[0][1].outcome, Outcome::kDelivered);
  EXPECT_TRUE(session_->ready());
}

TEST_F(ClientTest, ChunkingUsesBdatByteExact) {
  Start("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
  session_->Send(Msg({"a@x.y"}));
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@x.y>\r\n");  // no DATA
  session_->Feed("250 ok\r\n");
  EXPECT_EQ(host_.want_content, 0);
  session_->Feed("250 ok\r\n");
  EXPECT_EQ(host_.want_content, 1);
  const std::string c1 = ".leading dot\r\n";
  const std::string c2 = "bare\nlf and no final crlf";
  session_->SendContent(c1);
  session_->SendContent(c2);
  session_->EndContent();
  // Chunks may be coalesced: parse the BDAT framing and check the payload is byte exact.
  std::string wire = host_.TakeSent();
  std::string payload;
  bool saw_last = false;
  size_t pos = 0;
  while (pos < wire.size()) {
    size_t eol = wire.find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos) << wire;
    std::string cmd = wire.substr(pos, eol - pos);
    ASSERT_EQ(cmd.rfind("BDAT ", 0), 0u) << cmd;
    ASSERT_FALSE(saw_last) << "command after LAST: " << cmd;
    size_t n = std::stoul(cmd.substr(5));
    if (cmd.size() > 5 && cmd.find(" LAST") != std::string::npos) saw_last = true;
    payload += wire.substr(eol + 2, n);
    pos = eol + 2 + n;
  }
  EXPECT_TRUE(saw_last) << wire;
  EXPECT_EQ(payload, c1 + c2);
  // Replies for however many BDATs were sent; the last one decides.
  size_t bdats = 0;
  for (size_t p = wire.find("BDAT "); p != std::string::npos; p = wire.find("BDAT ", p + 1)) {
    ++bdats;
  }
  // (payload contained no "BDAT ", so this counts commands)
  for (size_t i = 0; i + 1 < bdats; ++i) session_->Feed("250 2.0.0 chunk ok\r\n");
  EXPECT_TRUE(host_.done.empty());
  session_->Feed("250 2.0.0 queued\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.done[0][0].outcome, Outcome::kDelivered);
  EXPECT_EQ(host_.done[0][0].text, "queued");
}

TEST_F(ClientTest, ChunkingEmptyMessageIsBdatZeroLast) {
  Start("250-mx\r\n250 CHUNKING\r\n");
  session_->Send(Msg({"a@x.y"}));
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org>\r\n");
  session_->Feed("250 ok\r\n");
  EXPECT_EQ(host_.TakeSent(), "RCPT TO:<a@x.y>\r\n");
  session_->Feed("250 ok\r\n");
  ASSERT_EQ(host_.want_content, 1);
  session_->EndContent();
  EXPECT_EQ(host_.TakeSent(), "BDAT 0 LAST\r\n");
  session_->Feed("250 ok\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.done[0][0].outcome, Outcome::kDelivered);
}

// Runs one DATA transaction with content split into `pieces`; returns what went on the wire
// after 354.
std::string DataWire(const std::vector<std::string>& pieces) {
  FakeHost host;
  SmtpClientSession s(SmtpClientConfig{}, &host);
  s.Feed("220 hi\r\n");
  s.Feed(kPipeEhlo);
  s.Send(Msg({"a@x.y"}));
  s.Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(host.want_content, 1);
  host.sends.clear();
  for (const std::string& p : pieces) s.SendContent(p);
  s.EndContent();
  std::string wire = host.AllSent();
  s.Feed("250 ok\r\n");
  EXPECT_EQ(host.done.size(), 1u);
  return wire;
}

TEST(ClientDataTest, DotStuffingAcrossChunkBoundaries) {
  const std::string content = "a\r\n.b\r\n..c\r\nd.e\r\n.\r\n";
  const std::string stuffed = "a\r\n..b\r\n...c\r\nd.e\r\n..\r\n.\r\n";
  EXPECT_EQ(DataWire({content}), stuffed);
  for (size_t i = 0; i <= content.size(); ++i) {
    for (size_t j = i; j <= content.size(); ++j) {
      EXPECT_EQ(DataWire({content.substr(0, i), content.substr(i, j - i), content.substr(j)}),
                stuffed)
          << "split at " << i << "," << j;
    }
  }
  std::vector<std::string> bytes;
  for (char c : content) bytes.emplace_back(1, c);
  EXPECT_EQ(DataWire(bytes), stuffed);
  EXPECT_EQ(DataWire({".first line\r\n"}), "..first line\r\n.\r\n");
}

TEST(ClientDataTest, FinalCrlfOnlyWhenMissing) {
  EXPECT_EQ(DataWire({"x\r\n"}), "x\r\n.\r\n");
  EXPECT_EQ(DataWire({"x"}), "x\r\n.\r\n");
  EXPECT_EQ(DataWire({"x\r"}), "x\r\r\n.\r\n");
  EXPECT_EQ(DataWire({"x\r", "\n"}), "x\r\n.\r\n");
  EXPECT_EQ(DataWire({"x", "\r", "\n"}), "x\r\n.\r\n");
  EXPECT_EQ(DataWire({}), ".\r\n");
}

TEST_F(ClientTest, LmtpOneReplyPerAcceptedRecipient) {
  SmtpClientConfig c;
  c.lmtp = true;
  c.helo_name = "kensa.test";
  Start("250-lmtp\r\n250 PIPELINING\r\n", c);
  session_->Send(Msg({"a@x.y", "b@x.y", "c@x.y"}));
  EXPECT_EQ(host_.TakeSent(),
            "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@x.y>\r\nRCPT TO:<b@x.y>\r\n"
            "RCPT TO:<c@x.y>\r\nDATA\r\n");
  session_->Feed("250 ok\r\n250 ok\r\n550 5.1.1 no b\r\n250 ok\r\n354 go\r\n");
  session_->SendContent("m\r\n");
  session_->EndContent();
  EXPECT_EQ(host_.TakeSent(), "m\r\n.\r\n");
  session_->Feed("250 2.0.0 a delivered\r\n");
  EXPECT_TRUE(host_.done.empty());
  session_->Feed("452 4.2.2 c over quota\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  const std::vector<RecipientResult>& r = host_.done[0];
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].outcome, Outcome::kDelivered);
  EXPECT_EQ(r[0].text, "a delivered");
  EXPECT_EQ(r[1].outcome, Outcome::kPermFail);
  EXPECT_EQ(r[1].enhanced, "5.1.1");
  EXPECT_EQ(r[2].outcome, Outcome::kTempFail);
  EXPECT_EQ(r[2].code, 452);
  EXPECT_EQ(r[2].enhanced, "4.2.2");
  EXPECT_TRUE(session_->ready());
}

TEST_F(ClientTest, LmtpHasNoHeloFallback) {
  SmtpClientConfig c;
  c.lmtp = true;
  Start("500 what\r\n", c);
  EXPECT_EQ(host_.failed, 1);
  EXPECT_TRUE(host_.sends.empty());
}

TEST_F(ClientTest, MixedRcptResults) {
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y", "b@x.y", "c@x.y"}));
  host_.sends.clear();
  session_->Feed("250 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n450 4.2.1 later\r\n354 go\r\n");
  EXPECT_EQ(host_.want_content, 1);
  session_->SendContent("m\r\n");
  session_->EndContent();
  session_->Feed("250 2.0.0 ok\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  const std::vector<RecipientResult>& r = host_.done[0];
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].outcome, Outcome::kDelivered);
  EXPECT_EQ(r[0].enhanced, "2.0.0");
  EXPECT_EQ(r[1].outcome, Outcome::kPermFail);
  EXPECT_EQ(r[1].code, 550);
  EXPECT_EQ(r[1].enhanced, "5.1.1");
  EXPECT_EQ(r[1].text, "no such user");
  EXPECT_EQ(r[2].outcome, Outcome::kTempFail);
  EXPECT_EQ(r[2].code, 450);
  EXPECT_EQ(r[2].enhanced, "4.2.1");
}

TEST_F(ClientTest, DataRejectedAfterRcptsAppliesToAccepted) {
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y", "b@x.y"}));
  host_.sends.clear();
  session_->Feed("250 ok\r\n250 ok\r\n550 5.1.1 nope\r\n354 go\r\n");
  session_->SendContent("m\r\n");
  session_->EndContent();
  session_->Feed("554 5.7.1 spam\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.done[0][0].outcome, Outcome::kPermFail);
  EXPECT_EQ(host_.done[0][0].enhanced, "5.7.1");
  EXPECT_EQ(host_.done[0][1].enhanced, "5.1.1");  // keeps its RCPT result
}

TEST_F(ClientTest, AllRcptRejectedPipelined) {
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y", "b@x.y"}));
  host_.sends.clear();
  host_.events.clear();
  session_->Feed("250 ok\r\n550 5.1.1 no\r\n450 4.1.1 later\r\n554 5.5.1 no valid recipients\r\n");
  EXPECT_EQ(host_.want_content, 0);
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.done[0][0].outcome, Outcome::kPermFail);
  EXPECT_EQ(host_.done[0][0].enhanced, "5.1.1");
  EXPECT_EQ(host_.done[0][1].outcome, Outcome::kTempFail);
  EXPECT_EQ(host_.TakeSent(), "RSET\r\n");
  EXPECT_EQ(host_.events, (std::vector<std::string>{"send", "done", "ready"}));
}

TEST_F(ClientTest, AllRcptRejectedWithoutPipelining) {
  Start(kPlainEhlo);
  session_->Send(Msg({"a@x.y"}));
  session_->Feed("250 ok\r\n");
  host_.sends.clear();
  host_.events.clear();
  session_->Feed("550 5.1.1 no\r\n");
  EXPECT_EQ(host_.want_content, 0);
  EXPECT_EQ(host_.TakeSent(), "RSET\r\n");  // no DATA
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.done[0][0].outcome, Outcome::kPermFail);
  EXPECT_EQ(host_.events, (std::vector<std::string>{"send", "done", "ready"}));
  // The RSET reply then the next transaction.
  session_->Feed("250 ok\r\n");
  session_->Send(Msg({"b@x.y"}));
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org>\r\n");
}

TEST_F(ClientTest, AllRcptRejectedWithChunking) {
  Start("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
  session_->Send(Msg({"a@x.y", "b@x.y"}));
  host_.sends.clear();
  session_->Feed("250 ok\r\n550 no\r\n550 no\r\n");
  EXPECT_EQ(host_.want_content, 0);
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.TakeSent(), "RSET\r\n");
  EXPECT_EQ(host_.ready, 2);
}

TEST_F(ClientTest, MailRejectedFailsEveryone) {
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y", "b@x.y"}));
  host_.sends.clear();
  session_->Feed("550 5.7.1 sender refused\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n"
                 "503 5.5.1 no MAIL\r\n");
  EXPECT_EQ(host_.want_content, 0);
  ASSERT_EQ(host_.done.size(), 1u);
  for (const RecipientResult& r : host_.done[0]) {
    EXPECT_EQ(r.outcome, Outcome::kPermFail);
    EXPECT_EQ(r.code, 550);
    EXPECT_EQ(r.enhanced, "5.7.1");
    EXPECT_EQ(r.text, "sender refused");
  }
  EXPECT_TRUE(session_->ready());
}

TEST_F(ClientTest, MailRejectedWithoutPipelining) {
  Start(kPlainEhlo);
  session_->Send(Msg({"a@x.y", "b@x.y"}));
  host_.sends.clear();
  session_->Feed("553 5.1.8 bad sender\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  ASSERT_EQ(host_.done[0].size(), 2u);
  for (const RecipientResult& r : host_.done[0]) EXPECT_EQ(r.outcome, Outcome::kPermFail);
  EXPECT_EQ(host_.AllSent().find("RCPT"), std::string::npos);
  EXPECT_EQ(host_.want_content, 0);
}

TEST_F(ClientTest, ServerClosingMidTransaction) {
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y"}));
  session_->Feed("250 ok\r\n421 4.3.2 shutting down\r\n");
  EXPECT_EQ(host_.failed, 1);
  EXPECT_EQ(host_.failed_result.outcome, Outcome::kTempFail);
  EXPECT_EQ(host_.failed_result.code, 421);
  EXPECT_EQ(host_.failed_result.enhanced, "4.3.2");
  EXPECT_FALSE(session_->ready());
  host_.sends.clear();
  session_->Feed("250 late\r\n");  // nothing after failure
  EXPECT_TRUE(host_.sends.empty());
  EXPECT_EQ(host_.failed, 1);
}

TEST_F(ClientTest, MultiLineRepliesJoined) {
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y"}));
  session_->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  session_->SendContent("m\r\n");
  session_->EndContent();
  session_->Feed("550-5.7.1 first line\r\n550-5.7.1 second line\r\n550 5.7.1 third\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.done[0][0].code, 550);
  EXPECT_EQ(host_.done[0][0].enhanced, "5.7.1");
  EXPECT_EQ(host_.done[0][0].text, "first line; second line; third");
}

TEST_F(ClientTest, EnhancedCodeParsing) {
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y", "b@x.y", "c@x.y", "d@x.y"}));
  session_->Feed("250 ok\r\n550 5.1.1 no such user\r\n550 4.1.1 class disagrees\r\n"
                 "550 no code here\r\n550 5.1.1\r\n554 no rcpts\r\n");
  ASSERT_EQ(host_.done.size(), 1u);
  const std::vector<RecipientResult>& r = host_.done[0];
  EXPECT_EQ(r[0].enhanced, "5.1.1");
  EXPECT_EQ(r[0].text, "no such user");
  EXPECT_EQ(r[1].enhanced, "");
  EXPECT_EQ(r[1].text, "4.1.1 class disagrees");
  EXPECT_EQ(r[2].enhanced, "");
  EXPECT_EQ(r[2].text, "no code here");
  EXPECT_EQ(r[3].enhanced, "5.1.1");
}

TEST_F(ClientTest, EhloRefusedFallsBackToHelo) {
  session_ = std::make_unique<SmtpClientSession>(SmtpClientConfig{}, &host_);
  session_->Feed("220 old\r\n");
  host_.sends.clear();
  session_->Feed("502 5.5.2 what\r\n");
  EXPECT_EQ(host_.TakeSent(), "HELO localhost\r\n");
  EXPECT_EQ(host_.ready, 0);
  session_->Feed("250 old\r\n");
  EXPECT_EQ(host_.ready, 1);
  // No extensions: no pipelining, no SIZE.
  session_->Send(Msg({"a@x.y"}));
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org>\r\n");
}

TEST_F(ClientTest, EhloTempFailureFails) {
  Start("421 busy\r\n");
  EXPECT_EQ(host_.failed, 1);
}

TEST_F(ClientTest, StartTlsFlow) {
  SmtpClientConfig c;
  c.tls_available = true;
  Start("250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n", c);
  EXPECT_EQ(host_.ready, 0);
  EXPECT_EQ(host_.TakeSent(), "STARTTLS\r\n");
  // A plaintext reply smuggled after 220 must not be read as coming from inside TLS.
  session_->Feed("220 2.0.0 go ahead\r\n250 injected\r\n");
  EXPECT_EQ(host_.events.back(), "starttls");
  EXPECT_TRUE(host_.sends.empty());
  session_->OnTlsEstablished();
  EXPECT_EQ(host_.TakeSent(), "EHLO localhost\r\n");
  EXPECT_EQ(host_.ready, 0);
  session_->Feed("250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
  EXPECT_EQ(host_.ready, 1);
  EXPECT_TRUE(host_.sends.empty());  // no second STARTTLS
  EXPECT_EQ(host_.failed, 0);
}

TEST_F(ClientTest, StartTlsNotUsedWithoutHostTlsOrWithPolicyNone) {
  Start("250-mx\r\n250 STARTTLS\r\n");  // tls_available false
  EXPECT_EQ(host_.ready, 1);
  EXPECT_TRUE(host_.sends.empty());

  FakeHost h2;
  SmtpClientConfig c;
  c.tls = TlsPolicy::kNone;
  c.tls_available = true;
  SmtpClientSession s(c, &h2);
  s.Feed("220 hi\r\n250-mx\r\n250 STARTTLS\r\n");
  EXPECT_EQ(h2.AllSent(), "EHLO localhost\r\n");
  EXPECT_EQ(h2.ready, 1);
}

TEST_F(ClientTest, StartTlsRequiredButNotOffered) {
  SmtpClientConfig c;
  c.tls = TlsPolicy::kRequired;
  c.tls_available = true;
  Start("250-mx\r\n250 PIPELINING\r\n", c);
  EXPECT_EQ(host_.failed, 1);
  EXPECT_EQ(host_.ready, 0);
  EXPECT_EQ(host_.failed_result.outcome, Outcome::kTempFail);
}

TEST_F(ClientTest, StartTlsRefused) {
  SmtpClientConfig c;
  c.tls_available = true;
  Start("250-mx\r\n250 STARTTLS\r\n", c);
  host_.sends.clear();
  session_->Feed("454 4.7.0 TLS not available\r\n");
  EXPECT_EQ(host_.ready, 1);  // opportunistic: go on in plaintext

  FakeHost h2;
  c.tls = TlsPolicy::kRequired;
  SmtpClientSession s(c, &h2);
  s.Feed("220 hi\r\n250-mx\r\n250 STARTTLS\r\n454 4.7.0 no\r\n");
  EXPECT_EQ(h2.failed, 1);
  EXPECT_EQ(h2.ready, 0);
}

TEST_F(ClientTest, Smtputf8ToServerWithout) {
  Start(kPipeEhlo);
  host_.sends.clear();
  OutboundMessage m = Msg({"a@x.y", "b@x.y"});
  m.smtputf8 = true;
  session_->Send(m);
  EXPECT_TRUE(host_.sends.empty());
  ASSERT_EQ(host_.done.size(), 1u);
  ASSERT_EQ(host_.done[0].size(), 2u);
  for (const RecipientResult& r : host_.done[0]) {
    EXPECT_EQ(r.outcome, Outcome::kPermFail);
    EXPECT_EQ(r.enhanced, "5.6.7");
  }
  EXPECT_TRUE(session_->ready());
  EXPECT_EQ(host_.ready, 2);
}

TEST_F(ClientTest, Smtputf8ToServerWith) {
  Start("250-mx\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n");
  OutboundMessage m = Msg({"a@x.y"});
  m.smtputf8 = true;
  session_->Send(m);
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org> SMTPUTF8\r\nRCPT TO:<a@x.y>\r\nDATA\r\n");
}

TEST_F(ClientTest, SizeOverServerLimit) {
  Start("250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
  OutboundMessage m = Msg({"a@x.y"});
  m.size = 1001;
  session_->Send(m);
  EXPECT_TRUE(host_.sends.empty());
  ASSERT_EQ(host_.done.size(), 1u);
  EXPECT_EQ(host_.done[0][0].outcome, Outcome::kPermFail);
  EXPECT_EQ(host_.done[0][0].enhanced, "5.3.4");
  m.size = 1000;
  session_->Send(m);
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org> SIZE=1000\r\nRCPT TO:<a@x.y>\r\nDATA\r\n");
}

TEST_F(ClientTest, SizeParameterOnlyWhenOffered) {
  Start(kPipeEhlo);
  OutboundMessage m = Msg({"a@x.y"});
  m.size = 12345;
  session_->Send(m);
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@x.y>\r\nDATA\r\n");
  FakeHost h2;
  SmtpClientSession s(SmtpClientConfig{}, &h2);
  s.Feed("220 hi\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE\r\n");  // SIZE without a limit
  h2.sends.clear();
  s.Send(m);
  EXPECT_EQ(h2.AllSent(), "MAIL FROM:<s@example.org> SIZE=12345\r\nRCPT TO:<a@x.y>\r\nDATA\r\n");
}

OutboundMessage DsnMsg() {
  OutboundMessage m = Msg({"a@x.y"});
  m.sender = "";
  m.ret = "hdrs";
  m.envid = "id 1+x=";
  m.recipients[0].notify = "SUCCESS,FAILURE";
  m.recipients[0].orcpt = "rfc822;a+2Bb@x.y";  // as received: already xtext
  return m;
}

TEST_F(ClientTest, DsnParametersWhenOffered) {
  Start("250-mx\r\n250-PIPELINING\r\n250 DSN\r\n");
  session_->Send(DsnMsg());
  EXPECT_EQ(host_.TakeSent(),
            "MAIL FROM:<> RET=HDRS ENVID=id+201+2Bx+3D\r\n"
            "RCPT TO:<a@x.y> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@x.y\r\nDATA\r\n");
}

TEST_F(ClientTest, DsnParametersNotWithoutDsn) {
  Start(kPipeEhlo);
  session_->Send(DsnMsg());
  EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<>\r\nRCPT TO:<a@x.y>\r\nDATA\r\n");
}

TEST_F(ClientTest, ReuseForSecondTransaction) {
  Start(kPipeEhlo);
  for (int round = 0; round < 3; ++round) {
    host_.sends.clear();
    session_->Send(Msg({"a@x.y"}));
    EXPECT_EQ(host_.TakeSent(), "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@x.y>\r\nDATA\r\n");
    session_->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
    session_->SendContent(".x");
    session_->EndContent();
    EXPECT_EQ(host_.TakeSent(), "..x\r\n.\r\n");
    session_->Feed("250 ok\r\n");
    ASSERT_EQ(host_.done.size(), static_cast<size_t>(round + 1));
    EXPECT_EQ(host_.done.back()[0].outcome, Outcome::kDelivered);
  }
  EXPECT_EQ(host_.ready, 4);
}

TEST_F(ClientTest, SendWhenNotReady) {
  session_ = std::make_unique<SmtpClientSession>(SmtpClientConfig{}, &host_);
  session_->Send(Msg({"a@x.y", "b@x.y"}));
  ASSERT_EQ(host_.done.size(), 1u);
  ASSERT_EQ(host_.done[0].size(), 2u);
  EXPECT_EQ(host_.done[0][0].outcome, Outcome::kTempFail);
  EXPECT_TRUE(host_.sends.empty());
}

TEST_F(ClientTest, MalformedReplyFails) {
  for (const char* bad : {"hello\r\n", "25\r\n", "2500 x\r\n", "250x\r\n", "abc def\r\n"}) {
    FakeHost h;
    SmtpClientSession s(SmtpClientConfig{}, &h);
    s.Feed(bad);
    EXPECT_EQ(h.failed, 1) << bad;
    EXPECT_EQ(h.failed_result.outcome, Outcome::kTempFail) << bad;
  }
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y"}));
  session_->Feed("250 ok\r\nxyz\r\n");
  EXPECT_EQ(host_.failed, 1);
}

TEST_F(ClientTest, OverlongReplyLineFails) {
  SmtpClientConfig c;
  c.max_reply_line_bytes = 64;
  FakeHost h;
  SmtpClientSession s(c, &h);
  s.Feed("220 " + std::string(100, 'x'));  // no newline yet
  EXPECT_EQ(h.failed, 1);
}

TEST_F(ClientTest, UnexpectedReplyFails) {
  Start(kPipeEhlo);
  session_->Feed("250 nobody asked\r\n");
  EXPECT_EQ(host_.failed, 1);
}

TEST_F(ClientTest, QuitThenClose) {
  Start(kPipeEhlo);
  host_.sends.clear();
  session_->Quit();
  EXPECT_EQ(host_.TakeSent(), "QUIT\r\n");
  EXPECT_EQ(host_.closed, 0);
  session_->Feed("221 2.0.0 bye\r\n");
  EXPECT_EQ(host_.closed, 1);
  EXPECT_EQ(host_.failed, 0);
  session_->Quit();
  EXPECT_TRUE(host_.sends.empty());
}

TEST_F(ClientTest, ConnectionLostStopsCallbacks) {
  Start(kPipeEhlo);
  session_->Send(Msg({"a@x.y"}));
  session_->OnConnectionLost();
  host_.events.clear();
  session_->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_TRUE(host_.events.empty());
}


// The same session driven through whole conversations by a host that reacts inside its
// callbacks, as OutboundConnection does (content given from inside WantContent, the next
// message sent from inside OnReady).
namespace flow {

// Records every call. When `content` is set, WantContent answers it at once (in `chunks`
// pieces, as OutboundConnection does from inside the callback); `send_on_ready` queues
// messages the host sends as soon as it is told the session is ready.
class FakeHost : public SmtpClientHost {
 public:
  void SendToServer(std::string_view bytes) override {
    ++sends;
    sent.append(bytes);
  }
  void StartTls() override { ++starttls; }
  void OnReady() override {
    ++readies;
    if (!send_on_ready.empty()) {
      OutboundMessage m = send_on_ready.front();
      send_on_ready.erase(send_on_ready.begin());
      session->Send(m);
    }
  }
  void WantContent() override {
    ++wants;
    if (!auto_content) return;
    for (const std::string& c : chunks) session->SendContent(c);
    session->EndContent();
  }
  void OnTransactionDone(std::vector<RecipientResult> results) override {
    done.push_back(std::move(results));
  }
  void OnSessionFailed(absl::Status why, RecipientResult as_result) override {
    ++failures;
    fail_status = why;
    fail_result = as_result;
  }
  void CloseConnection() override { ++closes; }

  // What was sent since the last call.
  std::string Take() {
    std::string s = sent.substr(taken);
    taken = sent.size();
    return s;
  }

  SmtpClientSession* session = nullptr;
  std::string sent;
  size_t taken = 0;
  int sends = 0, starttls = 0, readies = 0, wants = 0, failures = 0, closes = 0;
  bool auto_content = true;
  std::vector<std::string> chunks = {"Subject: t\r\n\r\nhello\r\n"};
  std::vector<OutboundMessage> send_on_ready;
  std::vector<std::vector<RecipientResult>> done;
  absl::Status fail_status;
  RecipientResult fail_result;
};

OutboundMessage Message(std::vector<std::string> rcpts) {
  OutboundMessage m;
  m.sender = "s@example.org";
  m.size = 100;
  for (auto& r : rcpts) m.recipients.push_back({r, "", ""});
  return m;
}

class ClientFlowTest : public ::testing::Test {
 protected:
  void Start(SmtpClientConfig c = {}) {
    session = std::make_unique<SmtpClientSession>(c, &host);
    host.session = session.get();
  }
  // Greeting and EHLO with the given keywords; the session is then ready.
  void Connect(const std::string& keywords, SmtpClientConfig c = {}) {
    Start(c);
    session->Feed("220 mx.example ESMTP\r\n");
    EXPECT_EQ(host.Take(), std::string(c.lmtp ? "LHLO " : "EHLO ") + c.helo_name + "\r\n");
    std::string ehlo = "250-mx.example hello\r\n";
    for (size_t start = 0; start < keywords.size();) {
      size_t sp = keywords.find(' ', start);
      std::string kw = keywords.substr(start, sp - start);
      if (!kw.empty()) ehlo += "250-" + kw + "\r\n";
      start = sp == std::string::npos ? keywords.size() : sp + 1;
    }
    ehlo += "250 HELP\r\n";
    session->Feed(ehlo);
  }

  FakeHost host;
  std::unique_ptr<SmtpClientSession> session;
};

TEST_F(ClientFlowTest, ChunkingLargeContentInSeveralBdats) {
  Connect("PIPELINING CHUNKING");
  host.chunks = {std::string(70000, 'a'), std::string(10, 'b')};
  session->Send(Message({"a@x"}));
  host.Take();
  session->Feed("250 ok\r\n250 ok\r\n");
  std::string out = host.Take();
  EXPECT_EQ(out.substr(0, 12), "BDAT 70000\r\n");
  EXPECT_EQ(out.substr(12 + 70000), "BDAT 10 LAST\r\nbbbbbbbbbb");
  session->Feed("250 2.0.0 chunk\r\n");
  EXPECT_TRUE(host.done.empty());
  session->Feed("250 2.0.0 done\r\n");
  ASSERT_EQ(host.done.size(), 1u);
  EXPECT_EQ(host.done[0][0].outcome, Outcome::kDelivered);
  EXPECT_EQ(host.done[0][0].text, "done");
}

TEST_F(ClientFlowTest, FailedBdatFailsAcceptedRecipients) {
  Connect("PIPELINING CHUNKING");
  host.chunks = {std::string(70000, 'a'), "tail"};
  session->Send(Message({"a@x", "b@x"}));
  host.Take();
  session->Feed("250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n");
  host.Take();
  session->Feed("552 5.3.4 too big\r\n");  // the first chunk
  EXPECT_TRUE(host.done.empty());
  session->Feed("503 5.5.1 no transaction\r\n");  // the LAST chunk
  ASSERT_EQ(host.done.size(), 1u);
  EXPECT_EQ(host.done[0][0].outcome, Outcome::kPermFail);
  EXPECT_EQ(host.done[0][0].code, 552);
  EXPECT_EQ(host.done[0][1].code, 550);
  EXPECT_EQ(host.Take(), "RSET\r\n");
}

TEST_F(ClientFlowTest, DotStuffingFirstByteAndMissingFinalCrlf) {
  Connect("PIPELINING");
  host.chunks = {".", "x\r\nlast line without crlf"};
  session->Send(Message({"a@x"}));
  host.Take();
  session->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(host.Take(), "..x\r\nlast line without crlf\r\n.\r\n");
}

TEST_F(ClientFlowTest, CrlfSplitAcrossChunksIsNotDoubled) {
  Connect("PIPELINING");
  host.chunks = {"line\r", "\n"};
  session->Send(Message({"a@x"}));
  host.Take();
  session->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(host.Take(), "line\r\n.\r\n");
}

TEST_F(ClientFlowTest, EmptyContent) {
  Connect("PIPELINING");
  host.chunks = {};
  session->Send(Message({"a@x"}));
  host.Take();
  session->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(host.Take(), ".\r\n");
}

TEST_F(ClientFlowTest, LmtpWithChunking) {
  SmtpClientConfig c;
  c.lmtp = true;
  Connect("PIPELINING CHUNKING", c);
  session->Send(Message({"a@x", "b@x"}));
  host.Take();
  session->Feed("250 ok\r\n250 ok\r\n250 ok\r\n");
  EXPECT_EQ(host.Take(), "BDAT 21 LAST\r\nSubject: t\r\n\r\nhello\r\n");
  session->Feed("550 5.2.1 a disabled\r\n250 2.0.0 b ok\r\n");
  ASSERT_EQ(host.done.size(), 1u);
  EXPECT_EQ(host.done[0][0].outcome, Outcome::kPermFail);
  EXPECT_EQ(host.done[0][1].outcome, Outcome::kDelivered);
}

TEST_F(ClientFlowTest, Greeting4xx) {
  Start();
  session->Feed("421 4.3.2 busy\r\n");
  EXPECT_EQ(host.failures, 1);
  EXPECT_EQ(host.fail_result.outcome, Outcome::kTempFail);
  EXPECT_EQ(host.fail_result.enhanced, "4.3.2");
}

TEST_F(ClientFlowTest, StartTlsRequiredNoClientContext) {
  SmtpClientConfig c;
  c.tls = TlsPolicy::kRequired;
  c.tls_available = false;
  Connect("STARTTLS", c);
  EXPECT_EQ(host.failures, 1);
  EXPECT_EQ(host.starttls, 0);
}

TEST_F(ClientFlowTest, StartTlsOpportunisticThenEhloAgain) {
  SmtpClientConfig c;
  c.tls_available = true;
  Connect("STARTTLS", c);
  EXPECT_EQ(host.Take(), "STARTTLS\r\n");
  // Bytes after 220 in the same read are plaintext injection: dropped.
  session->Feed("220 2.0.0 go ahead\r\n250 injected\r\n");
  EXPECT_EQ(host.starttls, 1);
  EXPECT_EQ(host.failures, 0);
  session->OnTlsEstablished();
  EXPECT_EQ(host.Take(), "EHLO localhost\r\n");
  session->Feed("250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
  EXPECT_TRUE(session->ready());
  EXPECT_EQ(host.Take(), "");  // no second STARTTLS
}

TEST_F(ClientFlowTest, Reply421WhileIdle) {
  Connect("PIPELINING");
  session->Feed("421 4.4.2 idle timeout\r\n");
  EXPECT_EQ(host.failures, 1);
}

TEST_F(ClientFlowTest, MailRejectedPermanentlyWithoutPipelining) {
  Connect("");
  session->Send(Message({"a@x", "b@x"}));
  host.Take();
  session->Feed("553 5.1.8 bad sender\r\n");
  ASSERT_EQ(host.done.size(), 1u);
  for (const auto& r : host.done[0]) {
    EXPECT_EQ(r.outcome, Outcome::kPermFail);
    EXPECT_EQ(r.code, 553);
    EXPECT_EQ(r.enhanced, "5.1.8");
  }
  EXPECT_EQ(host.Take(), "RSET\r\n");
  // The next transaction waits for RSET's reply.
  session->Send(Message({"c@x"}));
  EXPECT_EQ(host.Take(), "");
  session->Feed("250 reset\r\n");
  EXPECT_EQ(host.Take(), "MAIL FROM:<s@example.org>\r\n");
}

TEST_F(ClientFlowTest, NoRecipientAcceptedPipelinedDataRefused) {
  Connect("PIPELINING");
  session->Send(Message({"a@x"}));
  host.Take();
  session->Feed("250 ok\r\n550 5.1.1 nobody\r\n554 5.5.1 no valid recipients\r\n");
  EXPECT_EQ(host.wants, 0);
  EXPECT_EQ(host.Take(), "RSET\r\n");
  ASSERT_EQ(host.done.size(), 1u);
  EXPECT_EQ(host.done[0][0].code, 550);
}

TEST_F(ClientFlowTest, DataFinalReplyRejected) {
  Connect("PIPELINING");
  session->Send(Message({"a@x"}));
  host.Take();
  session->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  host.Take();
  session->Feed("554 5.7.1 spam\r\n");
  ASSERT_EQ(host.done.size(), 1u);
  EXPECT_EQ(host.done[0][0].outcome, Outcome::kPermFail);
  EXPECT_EQ(host.Take(), "");
}

TEST_F(ClientFlowTest, SecondMessageSentFromInsideOnReady) {
  Connect("PIPELINING");
  OutboundMessage second = Message({"b@x"});
  second.sender = "";
  host.send_on_ready = {second};
  session->Send(Message({"a@x"}));
  host.Take();
  session->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  host.Take();
  session->Feed("250 first done\r\n");
  ASSERT_EQ(host.done.size(), 1u);
  // The host sent the next message from inside OnReady.
  EXPECT_EQ(host.Take(), "MAIL FROM:<>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
  session->Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  host.Take();
  session->Feed("250 second done\r\n");
  ASSERT_EQ(host.done.size(), 2u);
  EXPECT_EQ(host.done[1][0].text, "second done");
}

TEST_F(ClientFlowTest, DsnParametersOnlyWhenOffered) {
  OutboundMessage m = Message({"a@x"});
  m.ret = "hdrs";
  m.envid = "id+1 x";
  m.recipients[0].notify = "SUCCESS,FAILURE";
  m.recipients[0].orcpt = "rfc822;a+2Bb@x";
  {
    Connect("PIPELINING");
    session->Send(m);
    EXPECT_EQ(host.Take(), "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@x>\r\nDATA\r\n");
  }
  FakeHost other;
  host.taken = host.sent.size();
  SmtpClientSession s2({}, &other);
  other.session = &s2;
  s2.Feed("220 x\r\n250-x\r\n250-DSN\r\n250 PIPELINING\r\n");
  other.Take();
  s2.Send(m);
  // ENVID is held decoded and encoded here; ORCPT is passed on as the client wrote it.
  EXPECT_EQ(other.Take(),
            "MAIL FROM:<s@example.org> RET=HDRS ENVID=id+2B1+20x\r\n"
            "RCPT TO:<a@x> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@x\r\nDATA\r\n");
}

TEST_F(ClientFlowTest, EightBitBodyWithout8BitMimeGoesUnlabelled) {
  Connect("PIPELINING");
  OutboundMessage m = Message({"a@x"});
  m.body = "8BITMIME";
  session->Send(m);
  EXPECT_EQ(host.Take(), "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@x>\r\nDATA\r\n");
}

TEST_F(ClientFlowTest, TooManyReplyLinesIsProtocolError) {
  SmtpClientConfig c;
  c.max_reply_lines = 5;
  Start(c);
  std::string s;
  for (int i = 0; i < 10; ++i) s += "220-more\r\n";
  session->Feed(s);
  EXPECT_EQ(host.failures, 1);
}

TEST_F(ClientFlowTest, GarbageIsProtocolError) {
  Start();
  session->Feed("HTTP/1.1 400 Bad Request\r\n");
  EXPECT_EQ(host.failures, 1);
  EXPECT_EQ(host.fail_result.outcome, Outcome::kTempFail);
}

TEST_F(ClientFlowTest, QuitAfterRsetWaitsForQuitReply) {
  Connect("");
  session->Send(Message({"a@x"}));
  EXPECT_EQ(host.Take().substr(0, 4), "MAIL");
  session->Feed("550 no\r\n");
  EXPECT_EQ(host.Take(), "RSET\r\n");
  session->Quit();  // before RSET's reply: that reply is read and ignored
  EXPECT_EQ(host.Take(), "QUIT\r\n");
  session->Feed("250 reset\r\n");
  EXPECT_EQ(host.closes, 0);
  session->Feed("221 bye\r\n");
  EXPECT_EQ(host.closes, 1);
}

TEST_F(ClientFlowTest, ContentOutsideTransactionIgnored) {
  Connect("PIPELINING");
  session->SendContent("junk");
  session->EndContent();
  EXPECT_EQ(host.Take(), "");
  EXPECT_TRUE(session->ready());
}

TEST_F(ClientFlowTest, RandomServerInputDoesNotCrash) {
  std::mt19937 rng(42);
  const std::vector<std::string> pieces = {
      "220 x\r\n", "250 ok\r\n", "250-", "PIPELINING\r\n", "CHUNKING\r\n", "354 go\r\n",
      "421 bye\r\n", "550 5.1.1 no\r\n", "\r\n", "\n", "2", "25", "999 x\r\n", "250 2.0.0 ok\n",
      "220 go\r\n", "452 4.2.2 full\r\n", std::string(5000, 'x'), "\0\r\n"};
  for (int round = 0; round < 300; ++round) {
    FakeHost h;
    SmtpClientConfig c;
    c.lmtp = round % 3 == 0;
    c.tls_available = round % 2 == 0;
    SmtpClientSession s(c, &h);
    h.session = &s;
    h.send_on_ready = {Message({"a@x", "b@x"}), Message({"c@x"})};
    for (int i = 0; i < 40; ++i) {
      s.Feed(pieces[rng() % pieces.size()]);
      if (h.starttls > 0 && rng() % 2) s.OnTlsEstablished();
      if (rng() % 10 == 0) s.Quit();
    }
    EXPECT_LE(h.failures, 1);
  }
}

}  // namespace flow

}  // namespace
}  // namespace kensa::net
