// SPDX-License-Identifier: GPL-2.0-or-later
// AuthFailureLimiter with a fake clock: delays, blocking, expiry and the memory bound, with
// no sleeps.
#include "auth/auth_failure_limiter.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kensa::auth {
namespace {

class LimiterTest : public ::testing::Test {
 protected:
  AuthFailureLimiter Make(AuthFailureLimiterOptions o = {}) {
    return AuthFailureLimiter(o, [this] { return now_; });
  }
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(LimiterTest, DelayDoublesPerFailureUpToTheCap) {
  AuthFailureLimiter l = Make();
  EXPECT_EQ(l.FailureDelay("192.0.2.1", "a@example.test"), absl::Seconds(1));
  std::vector<absl::Duration> got;
  for (int i = 0; i < 8; ++i) {
    l.RecordFailure("192.0.2.1", "a@example.test");
    got.push_back(l.FailureDelay("192.0.2.1", "a@example.test"));
  }
  std::vector<absl::Duration> want = {absl::Seconds(1),  absl::Seconds(2),  absl::Seconds(4),
                                      absl::Seconds(8),  absl::Seconds(16), absl::Seconds(30),
                                      absl::Seconds(30), absl::Seconds(30)};
  EXPECT_EQ(got, want);
}

TEST_F(LimiterTest, ClientAndUserCountSeparately) {
  AuthFailureLimiter l = Make();
  // One client rotating user names: the client key grows.
  for (int i = 0; i < 3; ++i) l.RecordFailure("192.0.2.1", absl::StrCat("u", i, "@example.test"));
  EXPECT_EQ(l.FailureDelay("192.0.2.1", "fresh@example.test"), absl::Seconds(4));
  // Many clients guessing one user: the user key grows, case-insensitively for addresses.
  for (int i = 0; i < 4; ++i) l.RecordFailure(absl::StrCat("198.51.100.", i), "Victim@Example.test");
  EXPECT_EQ(l.FailureDelay("203.0.113.9", "victim@example.test"), absl::Seconds(8));
  EXPECT_EQ(l.FailureDelay("203.0.113.9", "other@example.test"), absl::Seconds(1));
}

TEST_F(LimiterTest, BlocksAtMaxFailuresAndExpiresAfterTheWindow) {
  AuthFailureLimiterOptions o;
  o.max_failures = 3;
  o.window = absl::Minutes(10);
  AuthFailureLimiter l = Make(o);
  for (int i = 0; i < 2; ++i) l.RecordFailure("192.0.2.1", "a@example.test");
  EXPECT_FALSE(l.Blocked("192.0.2.1", "a@example.test"));
  now_ += absl::Minutes(9);
  l.RecordFailure("192.0.2.1", "a@example.test");
  EXPECT_TRUE(l.Blocked("192.0.2.1", "a@example.test"));
  EXPECT_TRUE(l.Blocked("192.0.2.1", "someone-else@example.test"));  // by client
  EXPECT_TRUE(l.Blocked("198.51.100.7", "A@EXAMPLE.TEST"));           // by user
  EXPECT_FALSE(l.Blocked("198.51.100.7", "b@example.test"));
  now_ += absl::Minutes(9);
  EXPECT_TRUE(l.Blocked("192.0.2.1", "a@example.test"));  // window counts from the last failure
  now_ += absl::Minutes(1);
  EXPECT_FALSE(l.Blocked("192.0.2.1", "a@example.test"));
  EXPECT_EQ(l.tracked_keys(), 0u);
  EXPECT_EQ(l.FailureDelay("192.0.2.1", "a@example.test"), absl::Seconds(1));
}

TEST_F(LimiterTest, SuccessClearsClientAndUser) {
  AuthFailureLimiterOptions o;
  o.max_failures = 2;
  AuthFailureLimiter l = Make(o);
  l.RecordFailure("192.0.2.1", "a@example.test");
  l.RecordFailure("192.0.2.1", "a@example.test");
  l.RecordFailure("198.51.100.1", "b@example.test");
  ASSERT_TRUE(l.Blocked("192.0.2.1", "a@example.test"));
  l.RecordSuccess("192.0.2.1", "A@example.test");
  EXPECT_FALSE(l.Blocked("192.0.2.1", "a@example.test"));
  EXPECT_EQ(l.FailureDelay("192.0.2.1", "a@example.test"), absl::Seconds(1));
  EXPECT_EQ(l.tracked_keys(), 2u);  // the other client's and user's counts stay
}

TEST_F(LimiterTest, MemoryStaysBoundedUnderRotatingNames) {
  AuthFailureLimiterOptions o;
  o.max_tracked_keys = 100;
  o.max_key_bytes = 64;
  AuthFailureLimiter l = Make(o);
  l.RecordFailure("192.0.2.1", "");
  for (int i = 0; i < 10000; ++i) {
    now_ += absl::Milliseconds(1);
    l.RecordFailure("", absl::StrCat("u", i, "@example.test", std::string(1000, 'x')));
    ASSERT_LE(l.tracked_keys(), 100u);
  }
  EXPECT_EQ(l.tracked_keys(), 100u);
  // The oldest entry went first: the client counted before the flood is forgotten.
  EXPECT_EQ(l.FailureDelay("192.0.2.1", ""), absl::Seconds(1));
  // A name longer than max_key_bytes is counted by its prefix, bounding the bytes per key.
  l.RecordFailure("", std::string(1000, 'x') + "a");
  l.RecordFailure("", std::string(1000, 'x') + "b");
  EXPECT_EQ(l.FailureDelay("", std::string(1000, 'x')), absl::Seconds(2));
}

TEST_F(LimiterTest, EmptyKeysAreNotCounted) {
  AuthFailureLimiter l = Make();
  l.RecordFailure("", "");
  EXPECT_EQ(l.tracked_keys(), 0u);
  EXPECT_FALSE(l.Blocked("", ""));
}

}  // namespace
}  // namespace kensa::auth
