// SPDX-License-Identifier: GPL-2.0-or-later
// SignatureSet::Build on the bundled signatures and on directories made by the test: the
// version follows the content, broken or empty directories and failed canaries are refused
// with a reason, and the holder hands out what was published.
#include "sigs/signature_set.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scan/clam_test_support.h"
#include "sigs/canaries.h"

// gcc says __SANITIZE_ADDRESS__; clang 14 only answers __has_feature.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KENSA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(KENSA_ASAN)
#include <sanitizer/lsan_interface.h>
#define KENSA_LSAN_DISABLE() __lsan_disable()
#define KENSA_LSAN_ENABLE() __lsan_enable()
#else
#define KENSA_LSAN_DISABLE()
#define KENSA_LSAN_ENABLE()
#endif

namespace kensa::sigs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

const char kEicarNdb[] =
    "Kensa.Test.EICAR:0:*:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d"
    "5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n";
const char kClamExeHdb[] = "aa15bcf478d165efd2065190eb473bcb:544:Kensa.Test.ClamExe\n";

using scan::testing::TempDir;
using scan::testing::WriteFile;

TEST(SignatureSetTest, BuildsTheBundledSet) {
  auto set = SignatureSet::Build(BundledSignatureDir(), scan::ClamLimits{});
  ASSERT_TRUE(set.ok()) << set.status();
  const SignatureSetInfo& info = (*set)->info();
  EXPECT_EQ(info.dir, BundledSignatureDir());
  EXPECT_THAT(info.version, MatchesRegex("sha256-[0-9a-f]{16}"));
  EXPECT_EQ((*set)->version(), info.version);
  EXPECT_EQ(info.files, 3);  // kensa-test.hdb, .ldb, .ndb
  EXPECT_EQ(info.signatures, 4u);
  EXPECT_GT(info.load_time, absl::ZeroDuration());
  LogLine(LogLevel::kInfo, "signature_set_built")
      .Kv("dir", info.dir)
      .Kv("version", info.version)
      .Kv("files", info.files)
      .Kv("signatures", info.signatures)
      .Kv("build_time", info.load_time);

  scan::ScanResult r = (*set)->engine().ScanBuffer(EicarTestFile());
  EXPECT_EQ(r.kind, scan::ScanResult::Kind::kInfected);
  EXPECT_THAT(r.name, StartsWith("Kensa.Test.EICAR"));
}

TEST(SignatureSetTest, BundledDirIsTheSourceTreeCopy) {
  EXPECT_EQ(fs::canonical(BundledSignatureDir()),
            fs::canonical(fs::path(KENSA_SOURCE_DIR) / "sigs" / "test"));
}

TEST(SignatureSetTest, SameContentSameVersionAndAnyChangeANewOne) {
  TempDir dir;
  WriteFile(dir.path() / "local.ndb", kEicarNdb);
  WriteFile(dir.path() / "local.hdb", kClamExeHdb);
  auto first = SignatureSet::Build(dir.str(), scan::ClamLimits{});
  auto again = SignatureSet::Build(dir.str(), scan::ClamLimits{});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*first)->version(), (*again)->version());
  EXPECT_EQ((*first)->info().files, 2);

  WriteFile(
      dir.path() / "local.hdb",
      absl::StrCat(kClamExeHdb, "44d88612fea8a8f36de82e1278abb02f:68:Kensa.Test.EICAR.Hash\n"));
  auto changed = SignatureSet::Build(dir.str(), scan::ClamLimits{});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_NE((*changed)->version(), (*first)->version());
  EXPECT_EQ((*changed)->info().signatures, (*first)->info().signatures + 1);
}

TEST(SignatureSetTest, RefusesAnEmptyDirectory) {
  TempDir dir;
  auto set = SignatureSet::Build(dir.str(), scan::ClamLimits{});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(std::string(set.status().message()), HasSubstr(dir.str()));
}

TEST(SignatureSetTest, RefusesACorruptDatabaseNamingTheFile) {
  TempDir dir;
  WriteFile(dir.path() / "good.ndb", kEicarNdb);
  WriteFile(dir.path() / "corrupt.ndb", "\x89PNG\r\n\x1a\n garbage, not a signature\n");
  auto set = SignatureSet::Build(dir.str(), scan::ClamLimits{});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(std::string(set.status().message()), HasSubstr("corrupt.ndb"));
}

TEST(SignatureSetTest, RefusesASetThatMissesEicar) {
  TempDir dir;
  WriteFile(dir.path() / "clam.hdb", kClamExeHdb);
  auto set = SignatureSet::Build(dir.str(), scan::ClamLimits{});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(std::string(set.status().message()),
            absl::StrCat("canary: EICAR not detected by ", dir.str()));

  auto unchecked = SignatureSet::Build(dir.str(), scan::ClamLimits{}, /*check_canaries=*/false);
  EXPECT_TRUE(unchecked.ok()) << unchecked.status();
}

TEST(SignatureSetTest, RefusesASetThatFlagsCleanText) {
  TempDir dir;
  // "meeting moves" appears in the clean plain-text canary.
  WriteFile(dir.path() / "local.ndb",
            absl::StrCat(kEicarNdb, "Kensa.Test.FalsePositive:0:*:6d656574696e67206d6f766573\n"));
  auto set = SignatureSet::Build(dir.str(), scan::ClamLimits{});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(std::string(set.status().message()),
              HasSubstr("canary: clean plain text sample flagged as Kensa.Test.FalsePositive"));
}

TEST(SignatureSetTest, OfficialDatabaseVersionFromItsHeader) {
  if (std::system("command -v sigtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "no sigtool";
  // An unsigned official-format database (.cud), built the way ClamAV builds daily.cvd.
  TempDir work, dir;
  WriteFile(work.path() / "daily.ndb", kEicarNdb);
  WriteFile(work.path() / "daily.hdb", kClamExeHdb);
  WriteFile(work.path() / "COPYING", "test signatures\n");
  const std::string cmd = absl::StrCat(
      "cd '", work.str(), "' && echo kensa-test | sigtool --build=daily.cud --unsigned ",
      "--cvd-version=27432 --datadir='", work.str(), "' >/dev/null 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  fs::copy_file(work.path() / "daily.cud", dir.path() / "daily.cud");

  // libclamav 1.4.6 leaks a hash context (about 1 KB, from cl_hash_init) each time it loads a
  // CVD-format file; LeakSanitizer ignores allocations made while it is disabled. Only this
  // load is exempt: every other Build in these tests runs under the leak check.
  KENSA_LSAN_DISABLE();
  auto set = SignatureSet::Build(dir.str(), scan::ClamLimits{});
  KENSA_LSAN_ENABLE();
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->version(), "daily-27432");
  EXPECT_EQ((*set)->info().files, 1);
}

TEST(SignatureHolderTest, HandsOutWhatWasPublished) {
  SignatureHolder holder;
  EXPECT_EQ(holder.Current(), nullptr);
  auto set = SignatureSet::Build(BundledSignatureDir(), scan::ClamLimits{});
  ASSERT_TRUE(set.ok()) << set.status();
  holder.Publish(*set);
  EXPECT_EQ(holder.Current(), *set);
  std::shared_ptr<const SignatureSet> in_flight = holder.Current();
  holder.Publish(nullptr);
  EXPECT_EQ(holder.Current(), nullptr);
  // A scan that took its snapshot before the swap keeps a working engine.
  EXPECT_FALSE(in_flight->engine().ScanBuffer(EicarTestFile()).clean());
}

}  // namespace
}  // namespace kensa::sigs
