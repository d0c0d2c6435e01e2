// SPDX-License-Identifier: GPL-2.0-or-later
// SmtpConnection on a real reactor, through a socketpair: what a client sees (the replies)
// and what the connection leaves behind (the queue file, the enqueue, the finished report, the
// admission released).
#include "server/smtp_connection.h"

#include <fcntl.h>

#include "absl/strings/match.h"
#include "server/connection_test_support.h"
#include "spool/queue_file.h"

namespace kensa {
namespace {

class SmtpConnectionTest : public testing::ConnectionTestBed {
 protected:
  void Start(ListenerConfig listener = Mx()) {
    Connect([listener](std::shared_ptr<const ConnectionEnvironment> env, std::shared_ptr<SocketStream> stream,
                       const SocketAddress& peer) {
      return std::make_unique<SmtpConnection>(std::move(env), 1, std::move(stream), peer, listener);
    });
  }

  static ListenerConfig Mx() {
    ListenerConfig l;
    l.name = "mx";
    l.address = "127.0.0.1:25";
    l.tls = ListenerTls::kNone;
    l.auth = ListenerAuth::kOff;
    return l;
  }

  // Sends a command and returns its reply.
  std::string Say(std::string_view command) {
    Send(command);
    return ReadReply();
  }
};

TEST_F(SmtpConnectionTest, QueuesTheMessageByteForByte) {
  Start();
  EXPECT_TRUE(absl::StartsWith(ReadReply(), "220 mx.test "));
  EXPECT_TRUE(absl::StartsWith(Say("EHLO client.test\r\n"), "250-mx.test"));
  EXPECT_TRUE(absl::StartsWith(Say("MAIL FROM:<alice@sender.test>\r\n"), "250 "));
  EXPECT_TRUE(absl::StartsWith(Say("RCPT TO:<bob@example.test>\r\n"), "250 "));
  EXPECT_TRUE(absl::StartsWith(Say("DATA\r\n"), "354 "));
  // The wire form is dot-stuffed; the queue file holds the message as the client meant it.
  const std::string message =
      "From: alice@sender.test\r\nSubject: hi\r\n\r\nline one\r\n.a dotted line\r\n";
  const std::string reply =
      Say("From: alice@sender.test\r\nSubject: hi\r\n\r\nline one\r\n..a dotted line\r\n.\r\n");
  ASSERT_TRUE(absl::StartsWith(reply, "250 ")) << reply;
  std::vector<std::pair<std::string, std::string>> enqueued;
  Run([&] { enqueued = enqueued_; });
  ASSERT_EQ(enqueued.size(), 1u);
  EXPECT_TRUE(absl::StrContains(reply, enqueued[0].second)) << reply;

  auto info = spool::ReadQueueFile(enqueued[0].first);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->envelope.queue_id, enqueued[0].second);
  EXPECT_EQ(info->envelope.sender, "alice@sender.test");
  ASSERT_EQ(info->envelope.recipients.size(), 1u);
  EXPECT_EQ(info->envelope.recipients[0].address, "bob@example.test");
  EXPECT_EQ(info->envelope.helo, "client.test");
  EXPECT_EQ(info->envelope.protocol, "ESMTP");
  const std::string& trace = info->envelope.trace_header;
  EXPECT_TRUE(absl::StartsWith(trace, "Received: from client.test (127.0.0.1 [127.0.0.1])"))
      << trace;
  EXPECT_TRUE(absl::StrContains(
      trace, absl::StrCat("by mx.test (kensa) with ESMTP id ", enqueued[0].second)))
      << trace;
  EXPECT_TRUE(absl::StrContains(trace, "for <bob@example.test>")) << trace;
  int fd = open(enqueued[0].first.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto content = spool::ReadContent(fd, *info);
  close(fd);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, message);

  EXPECT_TRUE(absl::StartsWith(Say("QUIT\r\n"), "221 "));
  EXPECT_TRUE(ReadsEof());
  ASSERT_TRUE(WaitFinished());
  EXPECT_EQ(counters_.Sum(ids_.messages_queued), 1u);
  EXPECT_EQ(counters_.Sum(ids_.messages_unscanned), 1u);
}

TEST_F(SmtpConnectionTest, RefusesRelayWithoutAuth) {
  Start();
  ReadReply();
  Say("EHLO client.test\r\n");
  Say("MAIL FROM:<alice@sender.test>\r\n");
  const std::string reply = Say("RCPT TO:<carol@elsewhere.test>\r\n");
  EXPECT_TRUE(absl::StartsWith(reply, "550 5.7.1 <carol@elsewhere.test>: Relay access denied"))
      << reply;
  // A local domain reached through a routing local part is relaying too.
  EXPECT_TRUE(absl::StartsWith(Say("RCPT TO:<carol%elsewhere.test@example.test>\r\n"), "550 "));
  const std::string local = Say("RCPT TO:<bob@Example.TEST>\r\n");
  EXPECT_TRUE(absl::StartsWith(local, "250 ")) << local;
  Say("QUIT\r\n");
  ASSERT_TRUE(WaitFinished());
  std::vector<std::pair<std::string, std::string>> enqueued;
  Run([&] { enqueued = enqueued_; });
  EXPECT_TRUE(enqueued.empty());
}

TEST_F(SmtpConnectionTest, CommandTimeoutAnswers421AndCloses) {
  smtp_.command_timeout = absl::Milliseconds(200);
  Start();
  EXPECT_TRUE(absl::StartsWith(ReadReply(), "220 "));
  const auto start = std::chrono::steady_clock::now();
  const std::string reply = ReadReply();  // nothing sent: the deadline passes
  EXPECT_TRUE(absl::StartsWith(reply, "421 4.4.2 mx.test Error: timeout exceeded"))
      << "[" << reply << "]";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_TRUE(ReadsEof());
  ASSERT_TRUE(WaitFinished());
}

TEST_F(SmtpConnectionTest, ClientGoneReportsFinishedOnceAndReleasesTheClient) {
  Start();
  ReadReply();
  Say("EHLO client.test\r\n");
  Say("MAIL FROM:<alice@sender.test>\r\n");
  Say("RCPT TO:<bob@example.test>\r\n");
  Say("DATA\r\n");
  Send("Subject: never finished\r\n\r\npart of a body\r\n");
  EXPECT_EQ(limiter_.total(), 1u);
  shutdown(client_fd_, SHUT_RDWR);  // gone mid-message: nothing may be queued
  ASSERT_TRUE(WaitFinished());
  // Later events (the timer, a second close) must not report it again.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int finished = 0;
  std::vector<std::pair<std::string, std::string>> enqueued;
  Run([&] {
    finished = finished_;
    enqueued = enqueued_;
  });
  EXPECT_EQ(finished, 1);
  EXPECT_TRUE(enqueued.empty());
  EXPECT_EQ(limiter_.total(), 0u);
  std::vector<std::string> discarded;
  auto recovered = spool_->Recover(&discarded);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_TRUE(recovered->empty());
}

}  // namespace
}  // namespace kensa
