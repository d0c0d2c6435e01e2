// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/arena_zeroing.h"

#include <jemalloc/jemalloc.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp,
                       size_t newlen) __attribute__((weak));

namespace kensa {
namespace {

extent_hooks_t* ArenaHooks(unsigned index) {
  extent_hooks_t* hooks = nullptr;
  size_t len = sizeof(hooks);
  const std::string name = "arena." + std::to_string(index) + ".extent_hooks";
  EXPECT_EQ(mallctl(name.c_str(), &hooks, &len, nullptr, 0), 0) << name;
  return hooks;
}

TEST(ArenaZeroingTest, EveryArenaButZeroGetsTheDefaultFunctionsUnderAnotherTable) {
  if (mallctl == nullptr) GTEST_SKIP() << "not linked with jemalloc (sanitizer build)";
  extent_hooks_t* before = ArenaHooks(0);
  const extent_hooks_t defaults = *before;
  ASSERT_TRUE(ZeroByMemsetInEveryArena().ok());
  ASSERT_TRUE(ZeroByMemsetInEveryArena().ok());  // a second call changes nothing

  unsigned narenas = 0;
  size_t len = sizeof(narenas);
  ASSERT_EQ(mallctl("opt.narenas", &narenas, &len, nullptr, 0), 0);
  ASSERT_GE(narenas, 2u);
  // jemalloc supports only its own table on arena 0 (a self-deadlock otherwise).
  EXPECT_EQ(ArenaHooks(0), before);
  extent_hooks_t* table = ArenaHooks(1);
  // A table of its own is what makes jemalloc zero by memset (see arena_zeroing.h) ...
  EXPECT_NE(table, before);
  // ... and jemalloc's own functions still do the work.
  EXPECT_EQ(table->alloc, defaults.alloc);
  EXPECT_EQ(table->purge_forced, defaults.purge_forced);
  for (unsigned i = 1; i < narenas; ++i) EXPECT_EQ(ArenaHooks(i), table) << "arena " << i;

  // A thread on arena 0 that moves off it callocs from an arena with the table.
  std::thread([&] {
    unsigned zero = 0;
    ASSERT_EQ(mallctl("thread.arena", nullptr, nullptr, &zero, sizeof(zero)), 0);
    ASSERT_TRUE(MoveThisThreadOffArenaZero().ok());
    unsigned index = 0;
    size_t n = sizeof(index);
    ASSERT_EQ(mallctl("thread.arena", &index, &n, nullptr, 0), 0);
    EXPECT_NE(index, 0u);
    EXPECT_EQ(ArenaHooks(index), table);
    void* p = calloc(1 << 20, 1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(static_cast<unsigned char*>(p)[12345], 0);
    free(p);
  }).join();
}

}  // namespace
}  // namespace kensa
