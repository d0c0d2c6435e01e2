// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/database_text.h"

#include "feed/test_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

using ::kensa::feed::testing::TestDir;
using ::kensa::feed::testing::WriteFile;
using ::testing::ElementsAre;

TEST(DatabaseTextTest, CountsNonEmptyNonCommentLines) {
  TestDir dir;
  WriteFile(dir / "x.ndb", "# header\n\nA:0:*:41\n   \nB:0:*:42\n#C:0:*:43\nD:0:*:44");
  EXPECT_EQ(*CountSignatures(dir / "x.ndb"), 3u);
  EXPECT_THAT(*SignatureNames(dir / "x.ndb"), ElementsAre("A", "B", "D"));
}

TEST(DatabaseTextTest, NamesComeFromEachKindsField) {
  EXPECT_EQ(SignatureNameOfLine("ldb", "Kensa.L;Target:1;0&1;41;42"), "Kensa.L");
  EXPECT_EQ(SignatureNameOfLine("hdb", "aa15bcf478d165efd2065190eb473bcb:544:Kensa.H"), "Kensa.H");
  EXPECT_EQ(SignatureNameOfLine("mdb", "544:aa15bcf478d165efd2065190eb473bcb:Kensa.M"), "Kensa.M");
  EXPECT_EQ(SignatureNameOfLine("db", "Kensa.Old=414243"), "Kensa.Old");
  EXPECT_EQ(SignatureNameOfLine("wdb", "X:a.example:b.example"), "X:a.example:b.example");
}

TEST(DatabaseTextTest, CountsYaraRulesAndBytecodeFiles) {
  TestDir dir;
  WriteFile(dir / "r.yar",
            "rule one {\n condition: true\n}\nprivate rule two { condition: true }\n");
  EXPECT_EQ(*CountSignatures(dir / "r.yar"), 2u);
  WriteFile(dir / "b.cbc", "ClamBC....\nmore\n");
  EXPECT_EQ(*CountSignatures(dir / "b.cbc"), 1u);
}

TEST(DatabaseTextTest, RefusesAnUnreadableCvd) {
  TestDir dir;
  WriteFile(dir / "daily.cvd", "not a cvd header");
  EXPECT_FALSE(CountSignatures(dir / "daily.cvd").ok());
}

}  // namespace
}  // namespace kensa::feed
