// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/connection_limiter.h"

#include "gtest/gtest.h"

namespace kensa {
namespace {

SocketAddress Addr(const char* text) { return *ParseSocketAddress(text); }

TEST(ConnectionLimiterTest, RefusesBeyondPerClientLimitButNotForExemptNetworks) {
  ConnectionLimiter l(100, 2, {*CidrBlock::Parse("127.0.0.0/8")});
  SocketAddress a = Addr("192.0.2.1:1000");
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kOk);
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kOk);
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kClientLimit);
  EXPECT_EQ(l.TryAdmit(Addr("192.0.2.2:1")), ConnectionLimiter::Admit::kOk);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(l.TryAdmit(Addr("127.0.0.1:1")), ConnectionLimiter::Admit::kOk);
  }
  l.Release(a);
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kOk);
  EXPECT_EQ(l.total(), 13u);
}

TEST(ConnectionLimiterTest, RefusesBeyondTotalLimit) {
  ConnectionLimiter l(3, 100, {});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(l.TryAdmit(Addr("192.0.2.1:1")), ConnectionLimiter::Admit::kOk);
  }
  EXPECT_EQ(l.TryAdmit(Addr("192.0.2.9:1")), ConnectionLimiter::Admit::kTotalLimit);
}

TEST(ConnectionLimiterTest, NewLimitsDecideTheNextAdmissionsAndKeepTheCounts) {
  ConnectionLimiter l(100, 1, {});
  SocketAddress a = Addr("192.0.2.1:1000");
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kOk);
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kClientLimit);
  l.SetLimits(100, 2, {});
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kOk);
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kClientLimit);
  l.SetLimits(100, 1, {*CidrBlock::Parse("192.0.2.0/24")});
  EXPECT_EQ(l.TryAdmit(a), ConnectionLimiter::Admit::kOk);  // exempt now
  l.SetLimits(3, 1, {});
  EXPECT_EQ(l.TryAdmit(Addr("192.0.2.7:1")), ConnectionLimiter::Admit::kTotalLimit);
  l.Release(a);
  l.Release(a);
  EXPECT_EQ(l.total(), 1u);  // the counts survived every change
  EXPECT_EQ(l.TryAdmit(Addr("192.0.2.7:1")), ConnectionLimiter::Admit::kOk);
}

TEST(CidrBlockTest, MatchesPrefixesAndMappedAddresses) {
  CidrBlock b = *CidrBlock::Parse("10.1.0.0/16");
  EXPECT_TRUE(b.Contains(Addr("10.1.200.3:1")));
  EXPECT_FALSE(b.Contains(Addr("10.2.0.1:1")));
  EXPECT_TRUE(b.Contains(Addr("[::ffff:10.1.0.9]:1")));
  CidrBlock v6 = *CidrBlock::Parse("::1/128");
  EXPECT_TRUE(v6.Contains(Addr("[::1]:25")));
  EXPECT_FALSE(v6.Contains(Addr("[::2]:25")));
  EXPECT_FALSE(CidrBlock::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(CidrBlock::Parse("banana").ok());
}

}  // namespace
}  // namespace kensa
