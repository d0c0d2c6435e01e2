// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/pop3_verdict_cache.h"

#include "gtest/gtest.h"

namespace kensa {
namespace {

TEST(Pop3VerdictCache, KeyNamesTheMessageByUidlNotByNumber) {
  EXPECT_EQ(Pop3VerdictCache::Key("u@x", "abc", "v1", "RETR 7"),
            Pop3VerdictCache::Key("u@x", "abc", "v1", "RETR 2"));
  EXPECT_NE(Pop3VerdictCache::Key("u@x", "abc", "v1", "RETR 7"),
            Pop3VerdictCache::Key("u@x", "abc", "v2", "RETR 7"));
  EXPECT_NE(Pop3VerdictCache::Key("u@x", "abc", "v1", "TOP 7 10"),
            Pop3VerdictCache::Key("u@x", "abc", "v1", "TOP 7 0"));
  EXPECT_NE(Pop3VerdictCache::Key("u@x", "abc", "v1", "TOP 7 0"),
            Pop3VerdictCache::Key("u@x", "abc", "v1", "RETR 7"));
  EXPECT_NE(Pop3VerdictCache::Key("u@x", "abc", "v1", "RETR 7"),
            Pop3VerdictCache::Key("v@x", "abc", "v1", "RETR 7"));
}

TEST(Pop3VerdictCache, LeastRecentlyUsedGoesFirst) {
  Pop3VerdictCache c(2);
  c.Put("a", CachedRetrieval{1, "clean", "", "", {}});
  c.Put("b", CachedRetrieval{2, "clean", "", "", {}});
  ASSERT_NE(c.Find("a"), nullptr);  // a is now the most recent
  c.Put("c", CachedRetrieval{3, "infected", "X", "", {}});
  EXPECT_EQ(c.Find("b"), nullptr);
  ASSERT_NE(c.Find("a"), nullptr);
  ASSERT_NE(c.Find("c"), nullptr);
  EXPECT_EQ(c.Find("c")->size, 3u);
  EXPECT_EQ(c.size(), 2u);
  c.Put("c", CachedRetrieval{4, "clean", "", "", {}});
  EXPECT_EQ(c.Find("c")->size, 4u);
  EXPECT_EQ(c.size(), 2u);
}

}  // namespace
}  // namespace kensa
