// SPDX-License-Identifier: GPL-2.0-or-later
// InFlightBytes: a worker thread drains the count; waiters on the reactor are woken when it
// reaches their bound, never lost, never polled.
#include "core/in_flight_bytes.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "core/io_uring_probe.h"
#include "core/reactor_pool.h"
#include "core/reactor_test_support.h"
#include "gtest/gtest.h"

namespace kensa {
namespace {

class InFlightBytesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = CheckIoUringSupport();
    if (!s.ok()) GTEST_SKIP() << s;
    auto pool = ReactorPool::Start(1, ReactorOptions{}, false,
                                   [](Reactor&) { return absl::OkStatus(); });
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }
  void TearDown() override {
    if (pool_ == nullptr) return;
    pool_->StopAll();
    pool_->Join();
  }
  void OnReactor(const std::function<void()>& fn) { RunOnReactor(pool_->reactor(0), fn); }
  static bool WaitFor(const std::function<bool()>& pred) {
    for (int i = 0; i < 1000 && !pred(); ++i) {  // 5 s
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }
  std::unique_ptr<ReactorPool> pool_;
};

TEST_F(InFlightBytesTest, WaiterRunsOnTheReactorOnceTheCountIsAtItsBound) {
  InFlightBytes bytes(&pool_->reactor(0));
  bytes.Add(1000);
  std::atomic<int> woken{0};
  std::atomic<size_t> seen_at_wake{0};
  std::atomic<bool> on_reactor{false};
  OnReactor([&] {
    bytes.WakeWhenAtMost(7, 400, [&] {
      on_reactor = Reactor::Current() == &pool_->reactor(0);
      seen_at_wake = bytes.value();
      ++woken;
    });
  });
  bytes.Sub(300);  // 700: still above
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(woken.load(), 0);
  bytes.Sub(300);  // 400: at the bound
  ASSERT_TRUE(WaitFor([&] { return woken.load() == 1; }));
  EXPECT_TRUE(on_reactor.load());
  EXPECT_LE(seen_at_wake.load(), 400u);
  bytes.Sub(400);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(woken.load(), 1);  // once
  OnReactor([&] { EXPECT_EQ(bytes.waiters(), 0u); });
}

TEST_F(InFlightBytesTest, AlreadyBelowWakesFromTheLoopNotTheCall) {
  InFlightBytes bytes(&pool_->reactor(0));
  std::atomic<int> woken{0};
  OnReactor([&] {
    bytes.WakeWhenAtMost(1, 10, [&] { ++woken; });
    EXPECT_EQ(woken.load(), 0);  // not from inside the call
  });
  ASSERT_TRUE(WaitFor([&] { return woken.load() == 1; }));
}

TEST_F(InFlightBytesTest, EveryWaiterOfASharedCountIsWokenAndForgottenOnesNever) {
  InFlightBytes bytes(&pool_->reactor(0));
  bytes.Add(10'000);
  std::atomic<int> woken{0};
  std::atomic<bool> forgotten_ran{false};
  OnReactor([&] {
    for (uint64_t owner = 1; owner <= 5; ++owner) {
      bytes.WakeWhenAtMost(owner, 1000, [&] { ++woken; });
    }
    bytes.WakeWhenAtMost(3, 1000, [&] { ++woken; });  // replaces owner 3's first
    bytes.WakeWhenAtMost(9, 1000, [&] { forgotten_ran = true; });
    bytes.Forget(9);
  });
  // Another thread drains in small steps, as the scan worker does chunk by chunk.
  std::thread worker([&] {
    for (int i = 0; i < 100; ++i) bytes.Sub(100);
  });
  worker.join();
  ASSERT_TRUE(WaitFor([&] { return woken.load() == 5; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(woken.load(), 5);
  EXPECT_FALSE(forgotten_ran.load());
}

TEST_F(InFlightBytesTest, NoWakeUpIsLostUnderRacingRegistrationsAndDrains) {
  // The reactor registers while a worker drains: the store-then-load on both sides must
  // leave no waiter asleep with the count at its bound.
  InFlightBytes bytes(&pool_->reactor(0));
  for (int round = 0; round < 200; ++round) {
    bytes.Add(64);
    std::atomic<bool> woken{false};
    std::thread worker([&] { bytes.Sub(64); });
    OnReactor([&] { bytes.WakeWhenAtMost(1, 0, [&] { woken = true; }); });
    worker.join();
    ASSERT_TRUE(WaitFor([&] { return woken.load(); })) << "round " << round;
  }
}

}  // namespace
}  // namespace kensa
