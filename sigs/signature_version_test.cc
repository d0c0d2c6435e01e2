// SPDX-License-Identifier: GPL-2.0-or-later
// DescribeDatabaseDir: which files count, the digest version's determinism and sensitivity,
// and the official version read from CVD headers.
#include "sigs/signature_version.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::sigs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

void WriteFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A CVD header as ClamAV writes it: 512 bytes, colon-separated, space padded. cl_cvdhead
// reads only this, so a header-only file is enough to test the version.
std::string CvdHeader(unsigned version) {
  std::string h = absl::StrCat("ClamAV-VDB:01 Dec 2026 23-58 +0000:", version,
                               ":3:216:330d8561588777dba77e4bb2c8b269b5:X:kensa-test:1796169517");
  h.resize(512, ' ');
  return h;
}

class DirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "signature_version_test.XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Version() {
    auto v = DescribeDatabaseDir(dir_.string());
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? v->version : "";
  }
  fs::path dir_;
};

TEST(IsDatabaseFileNameTest, KnowsLibclamavExtensions) {
  for (const char* name : {"a.ndb", "a.hdb", "a.ldb", "a.hsb", "a.yar", "a.yara", "a.ign2",
                           "daily.cvd", "daily.cld", "daily.cud", "A.NDB", "x.fp", "b.cbc"}) {
    EXPECT_TRUE(IsDatabaseFileName(name)) << name;
  }
  for (const char* name : {"README.md", "COPYING", "a.ndb.tmp", "daily.info", "x.txt"}) {
    EXPECT_FALSE(IsDatabaseFileName(name)) << name;
  }
}

TEST_F(DirTest, DigestVersionIsDeterministicAndIgnoresOtherFiles) {
  WriteFile(dir_ / "b.ndb", "Sig.B:0:*:626262\n");
  WriteFile(dir_ / "a.hdb", "aa15bcf478d165efd2065190eb473bcb:544:Sig.A\n");
  const std::string v = Version();
  EXPECT_THAT(v, MatchesRegex("sha256-[0-9a-f]{16}"));
  EXPECT_EQ(Version(), v);
  WriteFile(dir_ / "README.md", "notes\n");
  EXPECT_EQ(Version(), v);
  EXPECT_EQ(DescribeDatabaseDir(dir_.string())->files, 2);
}

TEST_F(DirTest, DigestVersionChangesWithContentAndNames) {
  WriteFile(dir_ / "a.ndb", "Sig.A:0:*:616161\n");
  const std::string original = Version();
  WriteFile(dir_ / "a.ndb", "Sig.A:0:*:616162\n");
  const std::string edited = Version();
  EXPECT_NE(edited, original);
  fs::rename(dir_ / "a.ndb", dir_ / "b.ndb");
  EXPECT_NE(Version(), edited);
  WriteFile(dir_ / "c.ldb", "");
  EXPECT_NE(Version(), edited);
}

TEST_F(DirTest, OfficialVersionIsTheNewestHeader) {
  WriteFile(dir_ / "main.cvd", CvdHeader(62));
  WriteFile(dir_ / "daily.cld", CvdHeader(27432));
  WriteFile(dir_ / "bytecode.cvd", CvdHeader(335));
  EXPECT_EQ(Version(), "daily-27432");
  EXPECT_EQ(DescribeDatabaseDir(dir_.string())->files, 3);
}

TEST_F(DirTest, LocalFilesBesideOfficialOnesAddTheirDigest) {
  WriteFile(dir_ / "daily.cvd", CvdHeader(27432));
  WriteFile(dir_ / "local.ndb", "Sig.A:0:*:616161\n");
  const std::string v = Version();
  EXPECT_THAT(v, MatchesRegex("daily-27432\\+sha256-[0-9a-f]{16}"));
  WriteFile(dir_ / "local.ndb", "Sig.A:0:*:616162\n");
  EXPECT_NE(Version(), v);
}

TEST_F(DirTest, RefusesAnUnreadableCvdHeader) {
  WriteFile(dir_ / "daily.cvd", "not a cvd");
  auto v = DescribeDatabaseDir(dir_.string());
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("daily.cvd"));
}

TEST_F(DirTest, RefusesADirectoryWithoutDatabases) {
  WriteFile(dir_ / "README.md", "nothing here\n");
  auto v = DescribeDatabaseDir(dir_.string());
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr(dir_.string()));
  EXPECT_FALSE(DescribeDatabaseDir((dir_ / "missing").string()).ok());
}

}  // namespace
}  // namespace kensa::sigs
