// SPDX-License-Identifier: GPL-2.0-or-later
// PasswdFileBackend against files whose hashes the test makes itself with libcrypt, so a
// broken scheme check or comparison cannot pass by a stale fixture.
#include "auth/passwd_file_backend.h"

#include <crypt.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/crypt_hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Kind = AuthOutcome::Kind;

std::string Hash(std::string_view password, const std::string& prefix) {
  absl::StatusOr<std::string> h = CryptHash(password, prefix);
  EXPECT_TRUE(h.ok()) << h.status();
  return h.ok() ? *h : std::string();
}

AuthRequest Req(std::string user, std::string password, std::string authzid = "") {
  AuthRequest r;
  r.user = std::move(user);
  r.password = std::move(password);
  r.authzid = std::move(authzid);
  r.client_address = "192.0.2.1";
  r.secured = true;
  return r;
}

class PasswdFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    yescrypt_ = Hash("demo", "$y$");
    sha512_ = Hash("s3cret pass", "$6$");
    ASSERT_TRUE(yescrypt_.starts_with("$y$"));
    ASSERT_TRUE(sha512_.starts_with("$6$"));
    text_ = absl::StrCat("# kensa users\n\n",
                         "Demo@Example.Test:", yescrypt_, "\n",
                         "bob:", sha512_, ":Bob@Example.Test, bob.alias@example.test\r\n",
                         "locked@example.test:!", sha512_, "\n");
  }
  std::string yescrypt_, sha512_, text_;
};

TEST_F(PasswdFileTest, LoadsFromDiskAndDescribesItself) {
  char path[] = "/tmp/kensa-passwd-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, text_.data(), text_.size()), static_cast<ssize_t>(text_.size()));
  close(fd);
  auto backend = PasswdFileBackend::Load(path);
  unlink(path);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->user_count(), 3u);
  EXPECT_EQ((*backend)->Describe(), absl::StrCat("file:", path));
  EXPECT_EQ(PasswdFileBackend::Load("/nonexistent/kensa/passwd").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PasswdFileTest, YescryptAndSha512MatchCaseInsensitiveAddresses) {
  auto backend = PasswdFileBackend::Parse(text_, "mem");
  ASSERT_TRUE(backend.ok()) << backend.status();
  AuthOutcome ok = (*backend)->Verify(Req("DEMO@example.test", "demo"));
  EXPECT_EQ(ok.kind, Kind::kOk) << ok.reason;
  EXPECT_EQ(ok.user, "demo@example.test");
  EXPECT_THAT(ok.addresses, ElementsAre("demo@example.test"));

  AuthOutcome bob = (*backend)->Verify(Req("bob", "s3cret pass"));
  EXPECT_EQ(bob.kind, Kind::kOk) << bob.reason;
  EXPECT_EQ(bob.user, "bob");
  EXPECT_THAT(bob.addresses, ElementsAre("bob@example.test", "bob.alias@example.test"));
  // A plain user name is not an address and stays case-sensitive.
  EXPECT_EQ((*backend)->Verify(Req("BOB", "s3cret pass")).kind, Kind::kFailed);
}

TEST_F(PasswdFileTest, WrongPasswordUnknownUserLockedAccount) {
  auto backend = PasswdFileBackend::Parse(text_, "mem");
  ASSERT_TRUE(backend.ok()) << backend.status();
  AuthOutcome wrong = (*backend)->Verify(Req("demo@example.test", "Demo"));
  EXPECT_EQ(wrong.kind, Kind::kFailed);
  EXPECT_THAT(wrong.user, IsEmpty());
  EXPECT_THAT(wrong.addresses, IsEmpty());
  EXPECT_THAT(wrong.reason, Not(HasSubstr("Demo")));

  EXPECT_EQ((*backend)->Verify(Req("demo@example.test", "")).kind, Kind::kFailed);
  // crypt(3) stops at NUL; "demo\0x" must not pass as "demo".
  EXPECT_EQ((*backend)->Verify(Req("demo@example.test", std::string("demo\0x", 6))).kind,
            Kind::kFailed);
  AuthOutcome unknown = (*backend)->Verify(Req("nobody@example.test", "demo"));
  EXPECT_EQ(unknown.kind, Kind::kFailed);
  EXPECT_EQ(unknown.reason, "unknown user");
  AuthOutcome locked = (*backend)->Verify(Req("locked@example.test", "s3cret pass"));
  EXPECT_EQ(locked.kind, Kind::kFailed);
  EXPECT_EQ(locked.reason, "account locked");
  PasswdFileOptions small;
  small.max_password_bytes = 3;
  auto limited = PasswdFileBackend::Parse(text_, "mem", small);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ((*limited)->Verify(Req("demo@example.test", "demo")).kind, Kind::kFailed);
}

TEST_F(PasswdFileTest, AuthzidMustNameTheUser) {
  auto backend = PasswdFileBackend::Parse(text_, "mem");
  ASSERT_TRUE(backend.ok()) << backend.status();
  AuthOutcome other = (*backend)->Verify(Req("demo@example.test", "demo", "bob"));
  EXPECT_EQ(other.kind, Kind::kFailed);
  EXPECT_EQ(other.reason, "authzid not allowed");
  EXPECT_EQ((*backend)->Verify(Req("demo@example.test", "demo", "Demo@Example.test")).kind,
            Kind::kOk);
}

TEST_F(PasswdFileTest, MalformedLinesNameTheLine) {
  struct Case {
    std::string line;
    std::string want;
  };
  std::string des = "abJnggxhB/yWI";  // DES: refused even if libcrypt could compute it
  std::string md5 = "$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0";
  std::vector<Case> cases = {
      {"justauser", "want user:hash"},
      {absl::StrCat(":", yescrypt_), "empty user name"},
      {absl::StrCat("a b:", yescrypt_), "empty user name"},
      {"carol:" + des, "unsupported or malformed password hash"},
      {"carol:" + md5, "unsupported or malformed password hash"},
      {"carol:", "unsupported or malformed password hash"},
      {"carol:$6$", "unsupported or malformed password hash"},
      {"carol:" + sha512_.substr(0, sha512_.size() - 1), "unsupported or malformed password hash"},
      {"carol:" + yescrypt_ + "x", "unsupported or malformed password hash"},
      {"carol:plaintext", "unsupported or malformed password hash"},
      {absl::StrCat("carol:", yescrypt_, ":not-an-address"), "bad address"},
      {absl::StrCat("demo@EXAMPLE.test:", yescrypt_), "already defined on line 3"},
  };
  for (const Case& c : cases) {
    auto backend = PasswdFileBackend::Parse(absl::StrCat(text_, c.line, "\n"), "users.txt");
    ASSERT_FALSE(backend.ok()) << c.line;
    EXPECT_THAT(backend.status().message(), HasSubstr("users.txt: line 6: ")) << c.line;
    EXPECT_THAT(backend.status().message(), HasSubstr(c.want)) << c.line;
    // The hash field is never echoed into the error.
    if (c.line == "carol:" + des || c.line == "carol:" + md5) {
      EXPECT_THAT(backend.status().message(), Not(HasSubstr(c.line.substr(6)))) << c.line;
    }
  }
  PasswdFileOptions small;
  small.max_line_bytes = 16;
  auto long_line = PasswdFileBackend::Parse(text_, "users.txt", small);
  ASSERT_FALSE(long_line.ok());
  EXPECT_THAT(long_line.status().message(), HasSubstr("line 3: longer than 16 bytes"));
}

TEST_F(PasswdFileTest, UnknownUserCostsAHashToo) {
  auto backend = PasswdFileBackend::Parse(text_, "mem");
  ASSERT_TRUE(backend.ok()) << backend.status();
  // The three kinds take turns, and each keeps its fastest time: a burst of load from tests
  // running beside this one slows one round of all three, not all rounds of one.
  const AuthRequest requests[] = {Req("demo@example.test", "not it"),
                                  Req("ghost@example.test", "not it"),
                                  Req("locked@example.test", "not it")};
  absl::Duration best[3] = {absl::InfiniteDuration(), absl::InfiniteDuration(),
                            absl::InfiniteDuration()};
  for (int round = 0; round < 5; ++round) {
    for (int k = 0; k < 3; ++k) {
      absl::Time start = absl::Now();
      (void)(*backend)->Verify(requests[k]);
      best[k] = std::min(best[k], absl::Now() - start);
    }
  }
  const absl::Duration known = best[0], unknown = best[1], locked = best[2];
  // Without the dummy hash an unknown user would answer in microseconds, not milliseconds.
  EXPECT_GT(unknown, known * 0.3) << "known " << known << " unknown " << unknown;
  EXPECT_GT(locked, known * 0.3) << "known " << known << " locked " << locked;
}

TEST_F(PasswdFileTest, ConcurrentVerifies) {
  auto backend = PasswdFileBackend::Parse(text_, "mem");
  ASSERT_TRUE(backend.ok()) << backend.status();
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2; ++i) {
        bool good = (t + i) % 2 == 0;
        AuthOutcome o = (*backend)->Verify(Req(t % 2 ? "bob" : "demo@example.test",
                                               good ? (t % 2 ? "s3cret pass" : "demo") : "bad"));
        if (o.kind == (good ? Kind::kOk : Kind::kFailed)) ++right;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(right.load(), 8);
}

TEST_F(PasswdFileTest, EmptyFileRefusesEveryone) {
  auto backend = PasswdFileBackend::Parse("# nobody yet\n", "mem");
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->user_count(), 0u);
  EXPECT_EQ((*backend)->Verify(Req("demo@example.test", "demo")).kind, Kind::kFailed);
}

TEST(CryptHashTest, AcceptsOnlyModernSchemes) {
  EXPECT_TRUE(IsAcceptedCryptHash(Hash("x", "$y$")));
  EXPECT_TRUE(IsAcceptedCryptHash(Hash("x", "$6$")));
  std::string sha256 = Hash("x", "$5$");  // accepted only where libcrypt rates it current
  EXPECT_EQ(IsAcceptedCryptHash(sha256), crypt_checksalt(sha256.c_str()) == CRYPT_SALT_OK);
  std::string bcrypt = Hash("x", "$2b$");
  EXPECT_EQ(IsAcceptedCryptHash(bcrypt), crypt_checksalt(bcrypt.c_str()) == CRYPT_SALT_OK);
  EXPECT_FALSE(IsAcceptedCryptHash("$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0"));
  EXPECT_FALSE(IsAcceptedCryptHash("abJnggxhB/yWI"));
  EXPECT_FALSE(IsAcceptedCryptHash("{PLAIN}demo"));
  EXPECT_FALSE(IsAcceptedCryptHash(""));
  std::string h = Hash("right", "$6$");
  EXPECT_TRUE(CryptMatches("right", h));
  EXPECT_FALSE(CryptMatches("wrong", h));
  EXPECT_FALSE(CryptMatches("right", "*"));
}

}  // namespace
}  // namespace kensa::auth
