// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/background_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"

namespace kensa {
namespace {

int NiceOfThisThread() {
  return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
}

TEST(BackgroundPriorityTest, LowersOnlyTheCallingThreadForTheScope) {
  std::thread([] {
    const int before = NiceOfThisThread();
    ASSERT_LT(before, kBackgroundNice);
    int other = -100;
    {
      BackgroundPriority low;
      EXPECT_EQ(NiceOfThisThread(), kBackgroundNice);
      std::thread([&other] { other = NiceOfThisThread(); }).join();  // inherits, as Linux does
    }
    EXPECT_EQ(other, kBackgroundNice);
    // Back where it was when the process may raise it again (root here; a service without
    // CAP_SYS_NICE stays low, which the class allows).
    if (geteuid() == 0) EXPECT_EQ(NiceOfThisThread(), before);
  }).join();
  EXPECT_LT(NiceOfThisThread(), kBackgroundNice);  // the test's own thread never moved
}

TEST(BackgroundPriorityTest, ADedicatedThreadStaysLow) {
  int seen = 0;
  std::thread([&seen] {
    LowerThisThreadForBackgroundWork();
    seen = NiceOfThisThread();
  }).join();
  EXPECT_EQ(seen, kBackgroundNice);
}

}  // namespace
}  // namespace kensa
