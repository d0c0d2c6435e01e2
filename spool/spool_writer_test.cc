// SPDX-License-Identifier: GPL-2.0-or-later
// The durability protocol behind every "250": what Commit() reports OK is a complete queue
// file (envelope, content, scan outcome, END) that recovery reads back; what it reports as an
// error, or what was aborted, leaves no file behind.
#include "spool/spool_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <optional>
#include <random>
#include <thread>

#include "spool/dir_syncer.h"
#include "core/io_uring_probe.h"
#include "core/reactor_pool.h"
#include "core/reactor_test_support.h"
#include "gtest/gtest.h"

namespace kensa::spool {
namespace {

namespace fs = std::filesystem;

spool::QueueEnvelope Envelope(const std::string& id) {
  spool::QueueEnvelope env;
  env.queue_id = id;
  env.arrival_unix_micros = 1700000000000000;
  env.sender = "sender@example.org";
  env.recipients = {{"a@example.test", "SUCCESS,FAILURE", "rfc822;a@example.test"},
                    {"b@example.test", "", ""}};
  env.client_address = "192.0.2.1";
  env.helo = "client.example.org";
  env.protocol = "ESMTPS";
  env.trace_header = "Received: from client.example.org\r\n";
  return env;
}

// One reactor with a spool shard and its directory syncer; Run() executes a step on the
// reactor thread, as a connection would, and waits for it.
class SpoolWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CheckIoUringSupport().ok()) GTEST_SKIP() << "no io_uring";
    char tmpl[] = "/tmp/spoolwriterXXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto shard = spool::SpoolShard::Open(dir_.string(), 0);
    ASSERT_TRUE(shard.ok()) << shard.status();
    shard_.emplace(std::move(*shard));
    auto pool = ReactorPool::Start(1, ReactorOptions{}, false, [this](Reactor& r) {
      reactor_ = &r;
      syncer_ = std::make_unique<DirSyncer>(&r, shard_->dir_fd());
      return absl::OkStatus();
    });
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }

  void TearDown() override {
    if (pool_ != nullptr) {
      Run([this] { syncer_.reset(); });
      pool_->StopAll();
      pool_->Join();
    }
    shard_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void Run(const std::function<void()>& step) { RunOnReactor(*reactor_, step); }

  // Creates, appends `pieces`, optionally records a scan outcome, commits; the commit's status.
  absl::Status WriteMessage(const std::string& id, const std::vector<std::string>& pieces,
                            const std::optional<spool::ScanOutcome>& outcome = std::nullopt) {
    std::promise<absl::Status> committed;
    Run([&] {
      auto w = SpoolWriter::Create(reactor_, syncer_.get(), *shard_, Envelope(id));
      if (!w.ok()) {
        committed.set_value(w.status());
        return;
      }
      for (const std::string& p : pieces) (*w)->Append(p);
      if (outcome.has_value()) (*w)->SetScanOutcome(*outcome);
      // The caller drops its reference at once: the writer keeps itself alive until done.
      (*w)->Commit([&committed](absl::Status s) { committed.set_value(s); });
    });
    auto f = committed.get_future();
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      return absl::DeadlineExceededError("commit never reported");
    }
    return f.get();
  }

  std::string PathFor(const std::string& id) const { return shard_->PathFor(id); }

  fs::path dir_;
  std::optional<spool::SpoolShard> shard_;
  std::unique_ptr<ReactorPool> pool_;
  Reactor* reactor_ = nullptr;
  std::unique_ptr<DirSyncer> syncer_;
};

TEST_F(SpoolWriterTest, CommittedFileReadsBackWhole) {
  ASSERT_TRUE(WriteMessage("Q1", {"Subject: hi\r\n\r\n", "body line\r\n", ""}).ok());
  auto info = spool::ReadQueueFile(PathFor("Q1"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->envelope.queue_id, "Q1");
  EXPECT_EQ(info->envelope.sender, "sender@example.org");
  ASSERT_EQ(info->envelope.recipients.size(), 2u);
  EXPECT_EQ(info->envelope.recipients[0].notify, "SUCCESS,FAILURE");
  EXPECT_EQ(info->envelope.recipients[0].orcpt, "rfc822;a@example.test");
  EXPECT_EQ(info->envelope.trace_header, "Received: from client.example.org\r\n");
  EXPECT_TRUE(info->scan.variants.empty());
  int fd = open(PathFor("Q1").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto content = spool::ReadContent(fd, *info);
  close(fd);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "Subject: hi\r\n\r\nbody line\r\n");
}

TEST_F(SpoolWriterTest, ManyMegabytesInSmallPiecesArriveInOrder) {
  std::mt19937 rng(7);
  std::string all;
  std::vector<std::string> pieces;
  while (all.size() < 3 * 1024 * 1024) {
    std::string p(1 + rng() % 9000, '\0');
    for (char& c : p) c = static_cast<char>(rng());
    all += p;
    pieces.push_back(std::move(p));
  }
  ASSERT_TRUE(WriteMessage("QBIG", pieces).ok());
  auto info = spool::ReadQueueFile(PathFor("QBIG"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->content_bytes, all.size());
  int fd = open(PathFor("QBIG").c_str(), O_RDONLY);
  auto content = spool::ReadContent(fd, *info);
  close(fd);
  ASSERT_TRUE(content.ok());
  EXPECT_TRUE(*content == all) << "content differs";
}

TEST_F(SpoolWriterTest, ScanOutcomeIsPartOfTheCommittedFile) {
  spool::ScanOutcome outcome;
  outcome.variants.push_back({"X-Virus-Status: Infected\r\n", {{10, 20, "[removed]"}}});
  outcome.variants.push_back({"", {}});
  outcome.recipient_variant = {0, 1};
  ASSERT_TRUE(WriteMessage("QSCAN", {std::string(64, 'x')}, outcome).ok());
  auto info = spool::ReadQueueFile(PathFor("QSCAN"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->scan, outcome);
}

TEST_F(SpoolWriterTest, AnExistingQueueIdIsAnErrorAndTheFirstFileStays) {
  ASSERT_TRUE(WriteMessage("QDUP", {"first\r\n"}).ok());
  absl::Status s = WriteMessage("QDUP", {"second\r\n"});
  EXPECT_FALSE(s.ok());
  auto info = spool::ReadQueueFile(PathFor("QDUP"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->content_bytes, 7u);
}

TEST_F(SpoolWriterTest, AbortLeavesNoFileAndLateAppendsAreIgnored) {
  Run([&] {
    auto w = SpoolWriter::Create(reactor_, syncer_.get(), *shard_, Envelope("QAB"));
    ASSERT_TRUE(w.ok());
    (*w)->Append(std::string(600 * 1024, 'a'));  // writes in flight when it is aborted
    (*w)->Abort();
    (*w)->Append("more");
  });
  // The aborted writes still complete into the unlinked inode; the name never comes back.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(fs::exists(PathFor("QAB")));
}

TEST_F(SpoolWriterTest, InFlightBytesRiseWithAppendsAndDrainToZero) {
  std::atomic<size_t> peak{0};
  std::promise<absl::Status> committed;
  std::shared_ptr<SpoolWriter> writer;
  Run([&] {
    auto w = SpoolWriter::Create(reactor_, syncer_.get(), *shard_, Envelope("QFLOW"));
    ASSERT_TRUE(w.ok());
    writer = *w;
    for (int i = 0; i < 8; ++i) {
      writer->Append(std::string(SpoolWriter::kWriteChunk, 'f'));
      peak = std::max<size_t>(peak, writer->bytes_in_flight());
    }
    writer->Commit([&committed](absl::Status s) { committed.set_value(s); });
  });
  ASSERT_TRUE(committed.get_future().get().ok());
  EXPECT_GE(peak.load(), SpoolWriter::kWriteChunk);
  size_t after = 1;
  Run([&] { after = writer->bytes_in_flight(); });
  EXPECT_EQ(after, 0u);
  Run([&] { writer.reset(); });
}

}  // namespace
}  // namespace kensa::spool
