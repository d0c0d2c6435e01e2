// SPDX-License-Identifier: GPL-2.0-or-later
// The queue manager end to end on a real reactor: queue files written as the SMTP side writes
// them, delivered to a scripted next hop on 127.0.0.1; what reaches the next hop, what is left
// in the spool (removed, or status records appended) and what the counters say.
#include "queue/delivery_agent.h"

#include <atomic>
#include <future>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "core/io_uring_probe.h"
#include "gtest/gtest.h"
#include "queue/queue_test_support.h"
#include "spool/queue_file.h"

namespace kensa::queue {
namespace {

TEST(RetryDelayTest, DoublesFromMinimumAndStopsAtMaximum) {
  const absl::Duration min = absl::Seconds(60), max = absl::Hours(1);
  EXPECT_EQ(DeliveryAgent::RetryDelay(1, min, max), absl::Seconds(60));
  EXPECT_EQ(DeliveryAgent::RetryDelay(2, min, max), absl::Seconds(120));
  EXPECT_EQ(DeliveryAgent::RetryDelay(4, min, max), absl::Seconds(480));
  EXPECT_EQ(DeliveryAgent::RetryDelay(7, min, max), absl::Hours(1));
  EXPECT_EQ(DeliveryAgent::RetryDelay(1000, min, max), absl::Hours(1));
}

class DeliveryAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CheckIoUringSupport().ok()) GTEST_SKIP() << "no io_uring";
    absl::Status s = bed_.SetUp();
    ASSERT_TRUE(s.ok()) << s;
  }

  void TearDown() override {
    bed_.TearDown([this] { agent_.reset(); });
    next_hop_.Stop();
  }

  // Retries far apart unless a test says otherwise: one attempt is all most tests see.
  static DeliverySettings Settings() {
    DeliverySettings s;
    s.hostname = "kensa.test";
    s.connect_timeout = absl::Seconds(5);
    s.reply_timeout = absl::Seconds(5);
    s.retry_min = absl::Hours(1);
    s.retry_max = absl::Hours(1);
    s.max_connections_per_hop = 4;
    return s;
  }

  static net::NextHop Hop(uint16_t port) {
    absl::StatusOr<net::NextHop> hop = net::ParseNextHop(absl::StrCat("smtp://127.0.0.1:", port));
    EXPECT_TRUE(hop.ok()) << hop.status();
    return *hop;
  }

  void StartAgent(uint16_t port, const DeliverySettings& settings = Settings()) {
    bed_.Run(
        [&] { agent_ = std::make_unique<DeliveryAgent>(settings, bed_.Environment(Hop(port))); });
  }

  void Enqueue(const std::string& path, const std::string& id) {
    bed_.Run([&] { agent_->Enqueue(path, id); });
  }

  size_t QueueLength() {
    size_t n = 0;
    bed_.Run([&] { n = agent_->queue_length(); });
    return n;
  }

  // The queue file's status once its attempt count reaches `attempts`.
  static absl::StatusOr<spool::QueueFileInfo> AfterAttempts(const std::string& path, int attempts) {
    absl::StatusOr<spool::QueueFileInfo> info = absl::DeadlineExceededError("no attempt recorded");
    WaitFor([&] {
      info = spool::ReadQueueFile(path);
      return info.ok() && info->attempts >= attempts;
    });
    return info;
  }

  QueueTestBed bed_;
  ScriptedNextHop next_hop_;
  std::unique_ptr<DeliveryAgent> agent_;  // reactor thread only
};

TEST_F(DeliveryAgentTest, DeliversAQueuedMessageByteForByteAndRemovesItsQueueFile) {
  ASSERT_TRUE(next_hop_.Start().ok());
  // Lines starting with a dot (stuffed on the wire, unstuffed by the next hop) and more than
  // two 256 KiB pieces of content.
  std::string content = "Subject: bytes\r\nFrom: <sender@example.org>\r\n\r\n.leading dot\r\n";
  for (int i = 0; content.size() < 700 * 1024; ++i) {
    absl::StrAppend(&content, i % 7 == 0 ? "." : "", "line ", i, " of the body\r\n");
  }
  content += "..\r\nlast line\r\n";
  spool::QueueEnvelope env = QueueTestBed::Envelope("sender@example.org", {"rcpt@example.test"});
  absl::StatusOr<std::string> path = bed_.Spool(env, content);
  ASSERT_TRUE(path.ok()) << path.status();

  StartAgent(next_hop_.port());
  Enqueue(*path, env.queue_id);

  // The file goes on the worker; the agent forgets the message when that is reported back.
  ASSERT_TRUE(WaitFor([&] { return bed_.QueueFiles() == 0 && QueueLength() == 0; }));
  ASSERT_EQ(next_hop_.transaction_count(), 1u);
  const ScriptedNextHop::Transaction t = next_hop_.transactions()[0];
  EXPECT_EQ(t.sender, "sender@example.org");
  EXPECT_EQ(t.recipients, std::vector<std::string>{"rcpt@example.test"});
  EXPECT_EQ(t.data.size(), env.trace_header.size() + content.size());
  EXPECT_TRUE(t.data == env.trace_header + content) << "the next hop got other bytes";
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_ok), 1u);
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_deferred), 0u);
}

TEST_F(DeliveryAgentTest, DefersA4xxRecipientRecordsTheAttemptAndRetriesOnlyItAfterTheBackoff) {
  auto refusals = std::make_shared<std::atomic<int>>(0);
  next_hop_.rcpt_reply = [refusals](const std::string& address) {
    if (address == "later@example.test" && refusals->fetch_add(1) == 0) {
      return std::string("451 4.2.0 mailbox busy, try later");
    }
    return std::string("250 2.1.5 Ok");
  };
  ASSERT_TRUE(next_hop_.Start().ok());
  spool::QueueEnvelope env =
      QueueTestBed::Envelope("sender@example.org", {"now@example.test", "later@example.test"});
  absl::StatusOr<std::string> path = bed_.Spool(env, "Subject: retry\r\n\r\nbody\r\n");
  ASSERT_TRUE(path.ok()) << path.status();
  DeliverySettings settings = Settings();
  settings.retry_min = absl::Milliseconds(400);
  settings.retry_max = absl::Milliseconds(400);

  StartAgent(next_hop_.port(), settings);
  Enqueue(*path, env.queue_id);

  // First attempt: one recipient delivered and marked done, the other deferred; the file says so.
  absl::StatusOr<spool::QueueFileInfo> info = AfterAttempts(*path, 1);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->attempts, 1);
  EXPECT_EQ(info->recipient_done, (std::vector<bool>{true, false}));
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_deferred), 1u);

  // Second attempt, after the backoff: only the deferred recipient, and the file goes.
  ASSERT_TRUE(
      WaitFor([&] { return next_hop_.transaction_count() == 2 && bed_.QueueFiles() == 0; }));
  const std::vector<ScriptedNextHop::Transaction> ts = next_hop_.transactions();
  EXPECT_EQ(ts[0].recipients, std::vector<std::string>{"now@example.test"});
  EXPECT_EQ(ts[1].recipients, std::vector<std::string>{"later@example.test"});
  EXPECT_GE(ts[1].mail_time - ts[0].mail_time, settings.retry_min);
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_ok), 2u);
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_bounced), 0u);
}

TEST_F(DeliveryAgentTest, HeldMessageWaitsUntilReleasedAndTheHoldIsInItsQueueFile) {
  ASSERT_TRUE(next_hop_.Start().ok());
  spool::QueueEnvelope env = QueueTestBed::Envelope("sender@example.org", {"rcpt@example.test"});
  absl::StatusOr<std::string> path = bed_.Spool(env, "Subject: held\r\n\r\nbody\r\n");
  ASSERT_TRUE(path.ok()) << path.status();
  absl::StatusOr<spool::QueueFileInfo> info = spool::ReadQueueFile(*path);
  ASSERT_TRUE(info.ok()) << info.status();
  // Found at start-up after one attempt just now: the next is an hour away.
  info->attempts = 1;
  info->last_attempt_unix_micros = absl::ToUnixMicros(absl::Now());
  StartAgent(next_hop_.port());
  bed_.Run([&] { agent_->EnqueueRecovered(*path, *info); });

  auto status = std::make_shared<std::atomic<int>>(-1);
  bed_.Run([&] {
    agent_->SetHeld(env.queue_id, true, [status](absl::Status s) { status->store(s.ok() ? 1 : 0); });
  });
  ASSERT_TRUE(WaitFor([&] { return status->load() != -1; }));
  EXPECT_EQ(status->load(), 1);
  absl::StatusOr<spool::QueueFileInfo> after = spool::ReadQueueFile(*path);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->held);  // what a restart reads
  size_t flushed = 99;
  bed_.Run([&] { flushed = agent_->Flush(); });
  EXPECT_EQ(flushed, 0u);
  bool held = false;
  bed_.Run([&] {
    for (const DeliveryAgent::QueuedMessage& m : agent_->List()) held = m.held;
  });
  EXPECT_TRUE(held);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(next_hop_.transaction_count(), 0u);

  status->store(-1);
  bed_.Run([&] {
    agent_->SetHeld(env.queue_id, false, [status](absl::Status s) { status->store(s.ok() ? 1 : 0); });
  });
  // Released: attempted at once, not after the hour.
  ASSERT_TRUE(WaitFor([&] { return next_hop_.transaction_count() == 1 && bed_.QueueFiles() == 0; }));
  EXPECT_EQ(status->load(), 1);

  status->store(-1);
  bed_.Run([&] {
    agent_->SetHeld("nosuchid", true, [status](absl::Status s) {
      status->store(s.code() == absl::StatusCode::kNotFound ? 1 : 0);
    });
  });
  ASSERT_TRUE(WaitFor([&] { return status->load() != -1; }));
  EXPECT_EQ(status->load(), 1);
}

TEST_F(DeliveryAgentTest, BouncesA5xxRecipientWithADsnQueuedAndDeliveredToTheSender) {
  next_hop_.rcpt_reply = [](const std::string& address) {
    return std::string(address == "gone@example.test" ? "550 5.1.1 no such user" : "250 2.1.5 Ok");
  };
  ASSERT_TRUE(next_hop_.Start().ok());
  spool::QueueEnvelope env = QueueTestBed::Envelope("sender@example.org", {"gone@example.test"});
  absl::StatusOr<std::string> path = bed_.Spool(env, "Subject: bounce me\r\n\r\nbody\r\n");
  ASSERT_TRUE(path.ok()) << path.status();

  StartAgent(next_hop_.port());
  Enqueue(*path, env.queue_id);

  // The refused message never reaches DATA; the one transaction is the DSN.
  ASSERT_TRUE(
      WaitFor([&] { return next_hop_.transaction_count() == 1 && bed_.QueueFiles() == 0; }));
  const ScriptedNextHop::Transaction dsn = next_hop_.transactions()[0];
  EXPECT_EQ(dsn.sender, "");
  EXPECT_EQ(dsn.recipients, std::vector<std::string>{"sender@example.org"});
  EXPECT_TRUE(absl::StrContains(dsn.data, "report-type=delivery-status")) << dsn.data;
  EXPECT_TRUE(absl::StrContains(dsn.data, "Final-Recipient: rfc822; gone@example.test"));
  EXPECT_TRUE(absl::StrContains(dsn.data, "Status: 5.1.1"));
  EXPECT_TRUE(absl::StrContains(dsn.data, "Subject: bounce me")) << "the original is returned";
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_bounced), 1u);
  EXPECT_EQ(bed_.Count(bed_.ids().dsns_created), 1u);
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_ok), 1u);  // the DSN itself
}

TEST_F(DeliveryAgentTest, BouncesForTheNullSenderWithoutADsn) {
  next_hop_.rcpt_reply = [](const std::string&) { return std::string("550 5.1.1 no such user"); };
  ASSERT_TRUE(next_hop_.Start().ok());
  spool::QueueEnvelope env = QueueTestBed::Envelope("", {"gone@example.test"});
  absl::StatusOr<std::string> path = bed_.Spool(env, "Subject: a bounce\r\n\r\nbody\r\n");
  ASSERT_TRUE(path.ok()) << path.status();

  StartAgent(next_hop_.port());
  Enqueue(*path, env.queue_id);

  // A DSN would be counted and queued in the same step that forgets the original.
  ASSERT_TRUE(WaitFor([&] { return QueueLength() == 0; }));
  EXPECT_EQ(bed_.QueueFiles(), 0u);
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_bounced), 1u);
  EXPECT_EQ(bed_.Count(bed_.ids().dsns_created), 0u);
  EXPECT_EQ(next_hop_.transaction_count(), 0u);
}

TEST_F(DeliveryAgentTest, DefersEveryRecipientWhenTheNextHopRefusesTheConnection) {
  spool::QueueEnvelope env =
      QueueTestBed::Envelope("sender@example.org", {"a@example.test", "b@example.test"});
  absl::StatusOr<std::string> path = bed_.Spool(env, "Subject: nobody home\r\n\r\nbody\r\n");
  ASSERT_TRUE(path.ok()) << path.status();

  StartAgent(RefusingPort());
  Enqueue(*path, env.queue_id);

  absl::StatusOr<spool::QueueFileInfo> info = AfterAttempts(*path, 1);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->attempts, 1);
  EXPECT_EQ(info->recipient_done, (std::vector<bool>{false, false}));
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_deferred), 2u);
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_bounced), 0u);
  EXPECT_EQ(bed_.Count(bed_.ids().dsns_created), 0u);
  EXPECT_EQ(QueueLength(), 1u);  // waiting for its retry
}

TEST_F(DeliveryAgentTest, KeepsTheQueueGaugesAndTheDeliveryLatencyOfItsRow) {
  const QueueMetrics& m = bed_.metric_ids();
  // One message that cannot go anywhere, which arrived a minute ago.
  spool::QueueEnvelope stuck = QueueTestBed::Envelope("sender@example.org", {"a@example.test"});
  stuck.arrival_unix_micros = absl::ToUnixMicros(absl::Now() - absl::Minutes(1));
  absl::StatusOr<std::string> stuck_path = bed_.Spool(stuck, "Subject: stuck\r\n\r\nbody\r\n");
  ASSERT_TRUE(stuck_path.ok()) << stuck_path.status();
  StartAgent(RefusingPort());
  Enqueue(*stuck_path, stuck.queue_id);
  ASSERT_TRUE(AfterAttempts(*stuck_path, 1).ok());
  // Its envelope, read at the attempt, corrected the arrival taken at Enqueue().
  EXPECT_EQ(bed_.gauges().Get(0, m.queue_messages), 1);
  EXPECT_EQ(bed_.gauges().Get(0, m.oldest_arrival), stuck.arrival_unix_micros);
  EXPECT_EQ(bed_.histograms().Read(0, m.delivery_latency).count(), 0u) << "a deferral";
  bed_.Run([&] { agent_.reset(); });

  // A next hop that takes the message: one delivery observed, the queue empty again.
  ASSERT_TRUE(next_hop_.Start().ok());
  spool::QueueEnvelope env = QueueTestBed::Envelope("sender@example.org", {"b@example.test"});
  absl::StatusOr<std::string> path = bed_.Spool(env, "Subject: quick\r\n\r\nbody\r\n");
  ASSERT_TRUE(path.ok()) << path.status();
  StartAgent(next_hop_.port());
  Enqueue(*path, env.queue_id);
  ASSERT_TRUE(WaitFor([&] { return QueueLength() == 0 && bed_.QueueFiles() == 1; }));
  EXPECT_EQ(bed_.gauges().Get(0, m.queue_messages), 0);
  EXPECT_EQ(bed_.gauges().Get(0, m.oldest_arrival), 0);
  const HistogramSet::Reading latency = bed_.histograms().Read(0, m.delivery_latency);
  EXPECT_EQ(latency.count(), 1u);
  EXPECT_GT(latency.sum_seconds, 0.0);
  EXPECT_LT(latency.sum_seconds, 30.0);
}

TEST_F(DeliveryAgentTest, DestroyedWhileItsWorkerJobIsInFlightDropsTheResult) {
  ASSERT_TRUE(next_hop_.Start().ok());
  spool::QueueEnvelope env = QueueTestBed::Envelope("sender@example.org", {"rcpt@example.test"});
  absl::StatusOr<std::string> path = bed_.Spool(env, "Subject: orphan\r\n\r\nbody\r\n");
  ASSERT_TRUE(path.ok()) << path.status();

  // Hold the worker so the attempt's read of the queue file waits behind it.
  std::promise<void> held, release;
  std::shared_future<void> gate = release.get_future().share();
  bed_.worker().Submit([&held, gate] {
    held.set_value();
    gate.wait();
  });
  held.get_future().wait();
  StartAgent(next_hop_.port());
  Enqueue(*path, env.queue_id);
  ASSERT_TRUE(WaitFor([&] { return bed_.worker().queued() == 1; }));

  bed_.Run([&] { agent_.reset(); });
  release.set_value();
  // The read runs and posts its result; a job after it and a step after that post prove the
  // result reached the reactor (and was dropped) before the checks below.
  std::promise<void> after;
  bed_.worker().Submit([&after] { after.set_value(); });
  after.get_future().wait();
  bed_.Run([] {});

  EXPECT_EQ(bed_.QueueFiles(), 1u) << "the message stays queued for the next start";
  EXPECT_EQ(next_hop_.connections(), 0);
  EXPECT_EQ(bed_.Count(bed_.ids().deliveries_ok), 0u);
}

}  // namespace
}  // namespace kensa::queue
