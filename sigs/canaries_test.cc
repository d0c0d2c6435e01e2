// SPDX-License-Identifier: GPL-2.0-or-later
// The canary samples themselves: EICAR is the standard 68 bytes, the zip is a valid archive
// (checked by an independent reader, Python's zipfile, which verifies the CRC), and the
// bundled engine classifies every sample right.
#include "sigs/canaries.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sigs/signature_set.h"

namespace kensa::sigs {
namespace {

namespace fs = std::filesystem;

TEST(CanariesTest, EicarIsTheStandardTestFile) {
  const std::string eicar = EicarTestFile();
  EXPECT_EQ(eicar.size(), 68u);
  EXPECT_EQ(eicar.substr(0, 3), "X5O");
  EXPECT_EQ(eicar.substr(eicar.size() - 4), "H+H*");
}

TEST(CanariesTest, CleanZipIsAValidArchive) {
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  std::string zip;
  for (const CanarySample& s : CleanCanarySamples()) {
    if (s.name == "zip of text") zip = s.data;
  }
  ASSERT_FALSE(zip.empty());
  const fs::path path = fs::path(::testing::TempDir()) / "canary_test.zip";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(zip.data(), static_cast<std::streamsize>(zip.size()));
  }
  const std::string cmd = absl::StrCat(
      "python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
      "assert z.testzip() is None; "
      "assert z.read(\"canary.txt\") == b\"kensa canary: a clean text file\\n\"' '",
      path.string(), "'");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  fs::remove(path);
}

TEST(CanariesTest, StoredZipLayout) {
  const std::string zip = StoredZip("a", "b", 0x12345678);
  // Local header 30 + name 1 + data 1, central header 46 + name 1, end record 22.
  ASSERT_EQ(zip.size(), 30u + 1 + 1 + 46 + 1 + 22);
  EXPECT_EQ(zip.substr(0, 4), "PK\x03\x04");
  EXPECT_EQ(zip.substr(14, 4), "\x78\x56\x34\x12");
  EXPECT_EQ(zip.substr(32, 4), "PK\x01\x02");
  EXPECT_EQ(zip.substr(79, 4), "PK\x05\x06");
}

TEST(CanariesTest, BundledEngineClassifiesEverySampleRight) {
  auto set = SignatureSet::Build(BundledSignatureDir(), scan::ClamLimits{},
                                 /*check_canaries=*/false);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(CheckCanaries((*set)->engine()).ok());
  EXPECT_FALSE((*set)->engine().ScanBuffer(EicarTestFile()).clean());
  for (const CanarySample& s : CleanCanarySamples()) {
    EXPECT_TRUE((*set)->engine().ScanBuffer(s.data).clean()) << s.name;
  }
}

}  // namespace
}  // namespace kensa::sigs
