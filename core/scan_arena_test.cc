// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/scan_arena.h"

#include <jemalloc/jemalloc.h>

#include <thread>

#include "gtest/gtest.h"

extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp,
                       size_t newlen) __attribute__((weak));

namespace kensa {
namespace {

unsigned ThreadArena() {
  unsigned index = 0;
  size_t len = sizeof(index);
  EXPECT_EQ(mallctl("thread.arena", &index, &len, nullptr, 0), 0);
  return index;
}

extent_hooks_t* ArenaHooks(unsigned index) {
  extent_hooks_t* hooks = nullptr;
  size_t len = sizeof(hooks);
  const std::string name = "arena." + std::to_string(index) + ".extent_hooks";
  EXPECT_EQ(mallctl(name.c_str(), &hooks, &len, nullptr, 0), 0);
  return hooks;
}

TEST(ScanArenaTest, ThreadsShareOneArenaWithTheDefaultFunctionsUnderAnotherTable) {
  if (mallctl == nullptr) GTEST_SKIP() << "not linked with jemalloc (sanitizer build)";
  unsigned first = 0, second = 0;
  std::thread([&] {
    ASSERT_TRUE(UseScanArena().ok());
    first = ThreadArena();
  }).join();
  std::thread([&] {
    ASSERT_TRUE(UseScanArena().ok());
    second = ThreadArena();
  }).join();
  EXPECT_EQ(first, second);
  EXPECT_NE(first, ThreadArena());  // this thread was not moved

  extent_hooks_t* defaults = ArenaHooks(0);
  extent_hooks_t* scan = ArenaHooks(first);
  // A table of its own is what makes jemalloc zero by memset (see scan_arena.h) ...
  EXPECT_NE(scan, defaults);
  // ... and jemalloc's own functions do the work.
  EXPECT_EQ(scan->alloc, defaults->alloc);
  EXPECT_EQ(scan->purge_forced, defaults->purge_forced);
}

}  // namespace
}  // namespace kensa
