// SPDX-License-Identifier: GPL-2.0-or-later
// Group commit: many messages finishing together share directory fsyncs, and none is told
// "durable" by an fsync that started before its file existed.
#include "spool/dir_syncer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/io_uring_probe.h"
#include "core/reactor_pool.h"
#include "gtest/gtest.h"

namespace kensa::spool {
namespace {

TEST(DirSyncerTest, ConcurrentWaitersShareFsyncsAndLateOnesWaitForANewOne) {
  if (!CheckIoUringSupport().ok()) GTEST_SKIP() << "no io_uring";
  char tmpl[] = "/tmp/dirsyncXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  int dir_fd = open(tmpl, O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir_fd, 0);

  std::atomic<int> done{0};
  std::atomic<uint64_t> fsyncs{0};
  std::atomic<bool> order_ok{true};
  std::unique_ptr<DirSyncer> syncer;
  auto pool = ReactorPool::Start(1, ReactorOptions{}, false, [&](Reactor& r) {
    syncer = std::make_unique<DirSyncer>(&r, dir_fd);
    // 100 messages created at epoch 0 complete at once.
    for (int i = 0; i < 100; ++i) {
      syncer->SyncAfter(0, [&](absl::Status s) {
        EXPECT_TRUE(s.ok());
        done++;
      });
    }
    // A file created while fsync #1 runs (epoch 1) must wait for fsync #2.
    uint64_t created = syncer->epoch();
    EXPECT_EQ(created, 1u);
    syncer->SyncAfter(created, [&, created](absl::Status s) {
      if (syncer->fsyncs() <= created) order_ok = false;
      done++;
      fsyncs = syncer->fsyncs();
    });
    return absl::OkStatus();
  });
  ASSERT_TRUE(pool.ok());
  while (done < 101) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (*pool)->StopAll();
  (*pool)->Join();
  EXPECT_TRUE(order_ok);
  EXPECT_EQ(fsyncs.load(), 2u);  // 101 waiters, two fsyncs
  close(dir_fd);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace kensa::spool
