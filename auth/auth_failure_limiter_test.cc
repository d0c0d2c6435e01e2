// SPDX-License-Identifier: GPL-2.0-or-later
// AuthFailureLimiter with a fake clock: reservations, the address and user rules, delays,
// expiry and the memory bound, with no sleeps.
#include "auth/auth_failure_limiter.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kensa::auth {
namespace {

using Kind = AuthOutcome::Kind;
using Refusal = AuthFailureLimiter::Refusal;

class LimiterTest : public ::testing::Test {
 protected:
  AuthFailureLimiter Make(AuthFailureLimiterOptions o = {}) {
    return AuthFailureLimiter(o, [this] { return now_; });
  }
  // One whole check with the given outcome; false when the limiter refused it.
  static bool Check(AuthFailureLimiter& l, std::string_view client, std::string_view user,
                    Kind outcome) {
    AuthFailureLimiter::Attempt a = l.Begin(client, user);
    if (!a.admitted()) return false;
    a.Finish(outcome);
    return true;
  }
  static void Fail(AuthFailureLimiter& l, std::string_view client, std::string_view user) {
    ASSERT_TRUE(Check(l, client, user, Kind::kFailed)) << client << " " << user;
  }
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(LimiterTest, DelayDoublesPerFailureUpToTheCap) {
  AuthFailureLimiter l = Make();
  EXPECT_EQ(l.FailureDelay("192.0.2.1"), absl::Seconds(1));
  std::vector<absl::Duration> got;
  for (int i = 0; i < 8; ++i) {
    Fail(l, "192.0.2.1", "a@example.test");
    got.push_back(l.FailureDelay("192.0.2.1"));
  }
  std::vector<absl::Duration> want = {absl::Seconds(1),  absl::Seconds(2),  absl::Seconds(4),
                                      absl::Seconds(8),  absl::Seconds(16), absl::Seconds(30),
                                      absl::Seconds(30), absl::Seconds(30)};
  EXPECT_EQ(got, want);
}

TEST_F(LimiterTest, ACheckCountsFromItsStart) {
  AuthFailureLimiterOptions o;
  o.max_failures = 3;
  AuthFailureLimiter l = Make(o);
  // Three checks in flight from one address, none answered yet: the fourth is refused
  // before the backend is asked, whatever user it names.
  std::vector<AuthFailureLimiter::Attempt> inflight;
  for (int i = 0; i < 3; ++i) {
    inflight.push_back(l.Begin("192.0.2.1", absl::StrCat("u", i, "@example.test")));
    ASSERT_TRUE(inflight.back().admitted());
  }
  AuthFailureLimiter::Attempt fourth = l.Begin("192.0.2.1", "u9@example.test");
  EXPECT_FALSE(fourth.admitted());
  EXPECT_EQ(fourth.refusal(), Refusal::kClient);
  EXPECT_EQ(l.FailureDelay("192.0.2.1"), absl::Seconds(4));  // pending checks slow it too
  // A temporary failure releases its reservation; a success releases it too.
  inflight[0].Finish(Kind::kTempFail);
  inflight[1].Finish(Kind::kOk);
  EXPECT_TRUE(Check(l, "192.0.2.1", "u8@example.test", Kind::kFailed));
  EXPECT_TRUE(l.Begin("192.0.2.1", "u7@example.test").admitted());  // released unfinished
  // Two failures and one check in flight: full again.
  EXPECT_TRUE(Check(l, "192.0.2.1", "u5@example.test", Kind::kFailed));
  EXPECT_FALSE(l.Begin("192.0.2.1", "u6@example.test").admitted());
  inflight[2].Finish(Kind::kFailed);
  EXPECT_FALSE(l.Begin("192.0.2.1", "u6@example.test").admitted());
}

TEST_F(LimiterTest, ParallelBeginsAdmitExactlyMaxFailures) {
  AuthFailureLimiterOptions o;
  o.max_failures = 10;
  AuthFailureLimiter l(o);  // the real clock: threads race on the lock, not on a fake time
  constexpr int kThreads = 8, kPerThread = 25;
  std::atomic<int> admitted{0};
  std::vector<std::vector<AuthFailureLimiter::Attempt>> held(kThreads);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        AuthFailureLimiter::Attempt a = l.Begin("192.0.2.1", absl::StrCat("t", t, "i", i));
        if (!a.admitted()) continue;
        ++admitted;
        held[t].push_back(std::move(a));  // still in flight
      }
    });
  }
  go = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 10);
  for (auto& v : held) {
    for (AuthFailureLimiter::Attempt& a : v) a.Finish(Kind::kFailed);
  }
  EXPECT_FALSE(l.Begin("192.0.2.1", "late").admitted());
}

TEST_F(LimiterTest, UserRuleDoesNotRefuseACleanAddress) {
  AuthFailureLimiterOptions o;
  o.max_failures = 10;
  AuthFailureLimiter l = Make(o);
  // Twelve addresses guess the victim's password once each.
  for (int i = 2; i <= 13; ++i) Fail(l, absl::StrCat("198.51.100.", i), "Victim@Example.test");
  // The owner from an address that has not tried it: asked, answered at once if right, and
  // a typing error costs only base_delay.
  EXPECT_TRUE(Check(l, "203.0.113.9", "victim@example.test", Kind::kOk));
  EXPECT_TRUE(Check(l, "203.0.113.10", "victim@example.test", Kind::kFailed));
  EXPECT_EQ(l.FailureDelay("203.0.113.11"), absl::Seconds(1));
  // An address that has already tried this user gets no more guesses at it...
  AuthFailureLimiter::Attempt again = l.Begin("198.51.100.2", "victim@example.test");
  EXPECT_FALSE(again.admitted());
  EXPECT_EQ(again.refusal(), Refusal::kUser);
  EXPECT_FALSE(l.Begin("203.0.113.10", "victim@example.test").admitted());
  // ...but may still try other users (its own count is below the limit).
  EXPECT_TRUE(Check(l, "198.51.100.2", "other@example.test", Kind::kFailed));
  // A fresh address gets one guess: a second one in parallel is refused before the backend.
  AuthFailureLimiter::Attempt first = l.Begin("203.0.113.50", "victim@example.test");
  ASSERT_TRUE(first.admitted());
  EXPECT_FALSE(l.Begin("203.0.113.50", "victim@example.test").admitted());
}

TEST_F(LimiterTest, SuccessForgivesOnlyThatAddressesFailuresForThatUser) {
  AuthFailureLimiterOptions o;
  o.max_failures = 3;
  AuthFailureLimiter l = Make(o);
  // The owner mistypes twice, then gets it right: its address is clean again.
  Fail(l, "192.0.2.1", "a@example.test");
  Fail(l, "192.0.2.1", "a@example.test");
  EXPECT_TRUE(Check(l, "192.0.2.1", "A@example.test", Kind::kOk));
  EXPECT_EQ(l.FailureDelay("192.0.2.1"), absl::Seconds(1));
  EXPECT_EQ(l.tracked_keys(), 0u);
  // An attacker logging into its own account does not wash away its guesses at another.
  Fail(l, "198.51.100.1", "victim@example.test");
  Fail(l, "198.51.100.1", "victim@example.test");
  EXPECT_TRUE(Check(l, "198.51.100.1", "mine@example.test", Kind::kOk));
  EXPECT_EQ(l.FailureDelay("198.51.100.1"), absl::Seconds(2));
  Fail(l, "198.51.100.1", "victim@example.test");
  EXPECT_FALSE(l.Begin("198.51.100.1", "mine@example.test").admitted());
}

TEST_F(LimiterTest, BlocksAtMaxFailuresAndExpiresAfterTheWindow) {
  AuthFailureLimiterOptions o;
  o.max_failures = 3;
  o.window = absl::Minutes(10);
  AuthFailureLimiter l = Make(o);
  for (int i = 0; i < 2; ++i) Fail(l, "192.0.2.1", "a@example.test");
  EXPECT_TRUE(l.Begin("192.0.2.1", "a@example.test").admitted());  // released at once
  now_ += absl::Minutes(9);
  Fail(l, "192.0.2.1", "a@example.test");
  EXPECT_FALSE(l.Begin("192.0.2.1", "a@example.test").admitted());
  EXPECT_FALSE(l.Begin("192.0.2.1", "someone-else@example.test").admitted());  // by address
  EXPECT_TRUE(l.Begin("198.51.100.7", "A@EXAMPLE.TEST").admitted());  // clean for this user
  now_ += absl::Minutes(9);
  EXPECT_FALSE(l.Begin("192.0.2.1", "a@example.test").admitted());  // from the last check
  now_ += absl::Minutes(1);
  EXPECT_TRUE(l.Begin("192.0.2.1", "a@example.test").admitted());
  EXPECT_EQ(l.tracked_keys(), 0u);
  EXPECT_EQ(l.FailureDelay("192.0.2.1"), absl::Seconds(1));
}

TEST_F(LimiterTest, MemoryStaysBoundedUnderRotatingNames) {
  AuthFailureLimiterOptions o;
  o.max_tracked_keys = 100;
  o.max_key_bytes = 64;
  o.max_failures = 1000000;
  AuthFailureLimiter l = Make(o);
  Fail(l, "192.0.2.1", "");
  for (int i = 0; i < 10000; ++i) {
    now_ += absl::Milliseconds(1);
    Fail(l, absl::StrCat("198.51.100.", i % 200),
         absl::StrCat("u", i, "@example.test", std::string(1000, 'x')));
    ASSERT_LE(l.tracked_keys(), 100u);
  }
  EXPECT_EQ(l.tracked_keys(), 100u);
  // The oldest entry went first: the address counted before the flood is forgotten.
  EXPECT_EQ(l.FailureDelay("192.0.2.1"), absl::Seconds(1));
  // A name longer than max_key_bytes is counted by its prefix, bounding the bytes per key:
  // to the limiter "x...b" is the user "x...a" that this address has already tried.
  AuthFailureLimiterOptions small;
  small.max_failures = 2;
  small.max_key_bytes = 64;
  AuthFailureLimiter s = Make(small);
  Fail(s, "192.0.2.2", std::string(1000, 'x') + "a");
  Fail(s, "192.0.2.3", std::string(1000, 'x') + "a");
  AuthFailureLimiter::Attempt same = s.Begin("192.0.2.2", std::string(1000, 'x') + "b");
  EXPECT_FALSE(same.admitted());
  EXPECT_EQ(same.refusal(), Refusal::kUser);
}

TEST_F(LimiterTest, EmptyKeysAreNotCounted) {
  AuthFailureLimiter l = Make();
  Fail(l, "", "");
  EXPECT_EQ(l.tracked_keys(), 0u);
  EXPECT_TRUE(l.Begin("", "").admitted());
}

}  // namespace
}  // namespace kensa::auth
