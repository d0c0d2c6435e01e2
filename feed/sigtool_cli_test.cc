// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-sigtool's commands run in-process: exit codes, the one-line errors, diff's output.
#include "feed/sigtool_cli.h"

#include <filesystem>
#include <sstream>

#include "feed/test_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

using ::kensa::feed::testing::TestDir;
using ::kensa::feed::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Result {
  int code;
  std::string out, err;
};

Result Sigtool(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = RunSigtool(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(SigtoolCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Sigtool({}).code, 2);
  EXPECT_EQ(Sigtool({"frobnicate"}).code, 2);
  Result r = Sigtool({"build", "dir", "-o", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, StartsWith("kensa-sigtool build: --version is required\n"));
  EXPECT_EQ(Sigtool({"verify", "b", "--key"}).code, 2);
  EXPECT_EQ(Sigtool({"sign", "b", "--key", "k", "--bogus", "1"}).code, 2);
  EXPECT_EQ(Sigtool({"build", "dir", "--version", "1.02", "-o", "x"}).code, 2);
}

TEST(SigtoolCliTest, HelpForEveryCommand) {
  for (const char* c : {"keygen", "build", "sign", "verify", "inspect", "diff"}) {
    Result r = Sigtool({c, "--help"});
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_THAT(r.out, StartsWith(std::string("usage: kensa-sigtool ") + c)) << c;
  }
}

TEST(SigtoolCliTest, DiffNamesSignaturesAddedAndRemoved) {
  TestDir dir;
  std::filesystem::create_directory(dir / "v1");
  std::filesystem::create_directory(dir / "v2");
  WriteFile(dir / "v1/a.ndb", "Kensa.A:0:*:41\nKensa.B:0:*:42\n");
  WriteFile(dir / "v1/gone.hdb", "aa15bcf478d165efd2065190eb473bcb:544:Kensa.H\n");
  WriteFile(dir / "v2/a.ndb", "Kensa.A:0:*:41\nKensa.C:0:*:43\nKensa.D:0:*:44\n");
  WriteFile(dir / "v2/new.ldb", "Kensa.L;Target:0;0;41\n");
  ASSERT_EQ(Sigtool({"build", dir / "v1", "--version", "1", "-o", dir / "v1.tar.gz"}).code, 0);
  ASSERT_EQ(Sigtool({"build", dir / "v2", "--version", "2", "-o", dir / "v2.tar.gz"}).code, 0);
  Result r = Sigtool({"diff", dir / "v1.tar.gz", dir / "v2.tar.gz"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "version 1 -> 2\n"
            "file changed a.ndb signatures 2 -> 3 (+1)\n"
            "signature added a.ndb Kensa.C\n"
            "signature added a.ndb Kensa.D\n"
            "signature removed a.ndb Kensa.B\n"
            "file removed gone.hdb signatures 1\n"
            "signature removed gone.hdb Kensa.H\n"
            "file added new.ldb signatures 1\n"
            "signature added new.ldb Kensa.L\n"
            "total hdb 1 -> 0 (-1)\n"
            "total ldb 0 -> 1 (+1)\n"
            "total ndb 2 -> 3 (+1)\n");
}

TEST(SigtoolCliTest, VerifyFailureIsOneLineAndExitOne) {
  TestDir dir;
  WriteFile(dir / "junk.tar.gz", "junk");
  ASSERT_EQ(Sigtool({"keygen", "-o", dir / "k"}).code, 0);
  Result r = Sigtool({"verify", dir / "junk.tar.gz", "--key", dir / "k.pub"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, StartsWith("kensa-sigtool verify: bundle "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  Result again = Sigtool({"keygen", "-o", dir / "k"});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("File exists"));
}

}  // namespace
}  // namespace kensa::feed
