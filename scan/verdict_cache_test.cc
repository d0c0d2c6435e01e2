// SPDX-License-Identifier: GPL-2.0-or-later
// VerdictCache: hits and misses are counted, the least recently used entry leaves first, and
// a verdict under one signature version is never returned for another.
#include "scan/verdict_cache.h"

#include "gtest/gtest.h"

namespace kensa::scan {
namespace {

Sha256 Digest(uint8_t seed) {
  Sha256 d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seed + i);
  return d;
}

const ScanResult kClean{};
const ScanResult kInfected{ScanResult::Kind::kInfected, "Kensa.Test.EICAR"};

TEST(VerdictCacheTest, MissThenHit) {
  VerdictCache cache(4);
  EXPECT_FALSE(cache.Find(Digest(1), "v1").has_value());
  cache.Insert(Digest(1), "v1", kInfected);
  std::optional<ScanResult> r = cache.Find(Digest(1), "v1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, ScanResult::Kind::kInfected);
  EXPECT_EQ(r->name, "Kensa.Test.EICAR");
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(VerdictCacheTest, SeparatesSignatureVersions) {
  VerdictCache cache(4);
  cache.Insert(Digest(1), "sha256-aaaa", kClean);
  EXPECT_FALSE(cache.Find(Digest(1), "sha256-bbbb").has_value());
  cache.Insert(Digest(1), "sha256-bbbb", kInfected);
  EXPECT_TRUE(cache.Find(Digest(1), "sha256-aaaa")->clean());
  EXPECT_EQ(cache.Find(Digest(1), "sha256-bbbb")->kind, ScanResult::Kind::kInfected);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(VerdictCacheTest, SeparatesDigestsThatDifferInOneByte) {
  VerdictCache cache(4);
  Sha256 a = Digest(7), b = Digest(7);
  b[31] ^= 1;
  cache.Insert(a, "v", kInfected);
  EXPECT_FALSE(cache.Find(b, "v").has_value());
}

TEST(VerdictCacheTest, EvictsTheLeastRecentlyUsed) {
  VerdictCache cache(2);
  cache.Insert(Digest(1), "v", kClean);
  cache.Insert(Digest(2), "v", kClean);
  ASSERT_TRUE(cache.Find(Digest(1), "v").has_value());  // 1 is now the most recent
  cache.Insert(Digest(3), "v", kClean);                 // evicts 2
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.Find(Digest(1), "v").has_value());
  EXPECT_FALSE(cache.Find(Digest(2), "v").has_value());
  EXPECT_TRUE(cache.Find(Digest(3), "v").has_value());
}

TEST(VerdictCacheTest, ReinsertReplacesAndRefreshes) {
  VerdictCache cache(2);
  cache.Insert(Digest(1), "v", kClean);
  cache.Insert(Digest(2), "v", kClean);
  cache.Insert(Digest(1), "v", kInfected);  // replaces, 1 becomes the most recent
  EXPECT_EQ(cache.size(), 2u);
  cache.Insert(Digest(3), "v", kClean);  // evicts 2
  EXPECT_EQ(cache.Find(Digest(1), "v")->kind, ScanResult::Kind::kInfected);
  EXPECT_FALSE(cache.Find(Digest(2), "v").has_value());
}

TEST(VerdictCacheTest, ZeroCapacityKeepsNothing) {
  VerdictCache cache(0);
  cache.Insert(Digest(1), "v", kClean);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Find(Digest(1), "v").has_value());
}

TEST(VerdictCacheTest, StaysWithinCapacityUnderChurn) {
  VerdictCache cache(16);
  for (int i = 0; i < 1000; ++i) {
    cache.Insert(Digest(static_cast<uint8_t>(i)), std::to_string(i % 7), kClean);
    ASSERT_LE(cache.size(), 16u);
  }
  EXPECT_EQ(cache.size(), 16u);
}

}  // namespace
}  // namespace kensa::scan
