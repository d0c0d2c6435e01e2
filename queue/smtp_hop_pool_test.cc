// SPDX-License-Identifier: GPL-2.0-or-later
// SmtpHopPool on a real reactor against a scripted next hop: never more connections than its
// cap, an idle connection takes the next job, and a next hop that cannot be reached fails
// every recipient temporarily (so the agent retries), never loses a job.
#include "queue/smtp_hop_pool.h"

#include <memory>
#include <string>
#include <vector>

#include "core/io_uring_probe.h"
#include "gtest/gtest.h"
#include "queue/queue_test_support.h"
#include "spool/queue_file.h"

namespace kensa::queue {
namespace {

using Outcome = net::RecipientResult::Outcome;

class SmtpHopPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CheckIoUringSupport().ok()) GTEST_SKIP() << "no io_uring";
    absl::Status s = bed_.SetUp();
    ASSERT_TRUE(s.ok()) << s;
    settings_.hostname = "kensa.test";
    settings_.connect_timeout = absl::Seconds(5);
    settings_.reply_timeout = absl::Seconds(5);
  }

  void TearDown() override {
    bed_.TearDown([this] { pool_.reset(); });
    next_hop_.Stop();
  }

  // Spools one message and makes `n` jobs of it, each recording its results on the reactor.
  std::vector<DeliveryJob> Jobs(int n) {
    spool::QueueEnvelope env = QueueTestBed::Envelope("sender@example.org", {"rcpt@example.test"});
    absl::StatusOr<std::string> path = bed_.Spool(env, "Subject: pooled\r\n\r\nbody\r\n");
    EXPECT_TRUE(path.ok()) << path.status();
    absl::StatusOr<spool::QueueFileInfo> info = spool::ReadQueueFile(*path);
    EXPECT_TRUE(info.ok()) << info.status();
    auto shared = std::make_shared<const spool::QueueFileInfo>(*info);
    std::vector<DeliveryJob> jobs;
    for (int i = 0; i < n; ++i) {
      DeliveryJob job;
      job.message.sender = env.sender;
      job.message.size = spool::CopyReader::CopySize(*shared, 0);
      job.message.recipients.push_back({"rcpt@example.test", "", ""});
      job.open_copy = [path = *path, shared] { return spool::CopyReader::Open(path, shared, 0); };
      job.done = [this](std::vector<net::RecipientResult> results) {
        for (net::RecipientResult& r : results) results_.push_back(std::move(r));
        most_connections_ = std::max(most_connections_, pool_->connections());
      };
      jobs.push_back(std::move(job));
    }
    return jobs;
  }

  void StartPool(uint16_t port, size_t max_connections, std::vector<DeliveryJob> jobs) {
    absl::StatusOr<net::NextHop> hop = net::ParseNextHop(absl::StrCat("smtp://127.0.0.1:", port));
    ASSERT_TRUE(hop.ok()) << hop.status();
    env_ = bed_.Environment(*hop);
    bed_.Run([&] {
      pool_ = std::make_unique<SmtpHopPool>(&settings_, &env_, *hop, max_connections);
      for (DeliveryJob& job : jobs) pool_->Submit(std::move(job));
      most_connections_ = pool_->connections();
    });
  }

  size_t ResultCount() {
    size_t n = 0;
    bed_.Run([&] { n = results_.size(); });
    return n;
  }

  QueueTestBed bed_;
  ScriptedNextHop next_hop_;
  DeliverySettings settings_;
  DeliveryEnvironment env_;
  // Reactor thread only:
  std::unique_ptr<SmtpHopPool> pool_;
  std::vector<net::RecipientResult> results_;
  size_t most_connections_ = 0;
};

TEST_F(SmtpHopPoolTest, OpensNoMoreConnectionsThanItsCapAndReusesThem) {
  // Each transaction holds its connection a while, so waiting jobs pile up against the cap.
  next_hop_.hold_data_reply = absl::Milliseconds(100);
  ASSERT_TRUE(next_hop_.Start().ok());
  StartPool(next_hop_.port(), 2, Jobs(6));

  ASSERT_TRUE(WaitFor([&] { return ResultCount() == 6; }));
  bed_.Run([&] {
    for (const net::RecipientResult& r : results_) EXPECT_EQ(r.outcome, Outcome::kDelivered);
    EXPECT_EQ(most_connections_, 2u);
  });
  EXPECT_EQ(next_hop_.transaction_count(), 6u);
  EXPECT_EQ(next_hop_.max_concurrent(), 2);
  EXPECT_EQ(next_hop_.connections(), 2) << "idle connections take the waiting jobs";
}

TEST_F(SmtpHopPoolTest, FailsEveryRecipientTemporarilyWhenTheNextHopRefusesConnections) {
  StartPool(RefusingPort(), 2, Jobs(3));

  ASSERT_TRUE(WaitFor([&] { return ResultCount() == 3; }));
  bed_.Run([&] {
    for (const net::RecipientResult& r : results_) {
      EXPECT_EQ(r.outcome, Outcome::kTempFail);
      EXPECT_EQ(r.enhanced, "4.4.1");
      EXPECT_TRUE(absl::StrContains(r.text, "connect to 127.0.0.1")) << r.text;
    }
    EXPECT_LE(most_connections_, 2u);
  });
}

}  // namespace
}  // namespace kensa::queue
