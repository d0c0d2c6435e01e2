// SPDX-License-Identifier: GPL-2.0-or-later
// ClamEngine with the bundled test signatures (sigs/test): EICAR and every ClamAV test file
// are found, clean data passes, encrypted archives and exceeded limits are unscannable,
// broken or empty databases are refused, and one engine scans from several threads at once.
#include "scan/clam_engine.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scan/clam_test_support.h"

namespace kensa::scan {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Kind = ScanResult::Kind;

const fs::path kClamTestFiles = "/usr/share/clamav-testfiles";

fs::path BundledSigs() { return fs::path(KENSA_SOURCE_DIR) / "sigs/test"; }

std::string Eicar() {
  std::string eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR";
  eicar += "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
  return eicar;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using testing::TempDir;
using testing::WriteFile;

bool HaveZip() { return std::system("command -v zip >/dev/null 2>&1") == 0; }

// Runs `zip` in `dir`; the command line is the test's own, no outside input.
void Zip(const fs::path& dir, const std::string& args) {
  const std::string cmd = absl::StrCat("cd '", dir.string(), "' && zip -q ", args);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

class ClamEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = ClamEngine::Load(BundledSigs().string(), ClamLimits{});
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    engine_ = new std::shared_ptr<const ClamEngine>(*std::move(loaded));
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  static const ClamEngine& engine() { return **engine_; }

  static std::shared_ptr<const ClamEngine>* engine_;
};
std::shared_ptr<const ClamEngine>* ClamEngineTest::engine_ = nullptr;

TEST_F(ClamEngineTest, CountsTheBundledSignatures) {
  // kensa-test.hdb 1, kensa-test.ndb 2, kensa-test.ldb 1.
  EXPECT_EQ(engine().signature_count(), 4u);
}

TEST_F(ClamEngineTest, DetectsEicarBuiltAtRunTime) {
  ScanResult r = engine().ScanBuffer(Eicar(), "eicar.com");
  EXPECT_EQ(r.kind, Kind::kInfected);
  EXPECT_THAT(r.name, StartsWith("Kensa.Test.EICAR"));
}

TEST_F(ClamEngineTest, DetectsEicarInsideText) {
  ScanResult r = engine().ScanBuffer(absl::StrCat("Subject: test\r\n\r\n", Eicar(), "\r\n"));
  EXPECT_EQ(r.kind, Kind::kInfected);
  EXPECT_THAT(r.name, StartsWith("Kensa.Test.EICAR"));
}

TEST_F(ClamEngineTest, DetectsEveryClamavTestFileFromMemoryAndFd) {
  if (!fs::is_directory(kClamTestFiles)) GTEST_SKIP() << "clamav-testfiles not installed";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(kClamTestFiles)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string name = entry.path().filename().string();
    ScanResult from_memory = engine().ScanBuffer(ReadFile(entry.path()), name);
    EXPECT_EQ(from_memory.kind, Kind::kInfected) << name << ": " << from_memory.name;
    EXPECT_THAT(from_memory.name, StartsWith("Kensa.Test.ClamExe")) << name;

    int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << name;
    ScanResult from_fd = engine().ScanFd(fd, name);
    close(fd);
    EXPECT_EQ(from_fd.kind, Kind::kInfected) << name << ": " << from_fd.name;
  }
  EXPECT_GE(files, 40) << "clamav-testfiles ships about 44 files";
}

TEST_F(ClamEngineTest, PassesCleanData) {
  std::mt19937_64 rng(20261201);
  std::string random(1 << 20, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  EXPECT_TRUE(engine().ScanBuffer(random, "random.bin").clean());
  EXPECT_TRUE(engine().ScanBuffer("Hello,\r\nsee you at ten.\r\n", "note.txt").clean());
  EXPECT_TRUE(engine().ScanBuffer("<html><body><p>Hi</p></body></html>", "a.html").clean());
  EXPECT_TRUE(engine().ScanBuffer("").clean());
}

TEST_F(ClamEngineTest, PassesZipOfText) {
  if (!HaveZip()) GTEST_SKIP() << "zip not installed";
  TempDir dir;
  WriteFile(dir.path() / "a.txt", "a plain text attachment\n");
  ASSERT_NO_FATAL_FAILURE(Zip(dir.path(), "text.zip a.txt"));
  ScanResult r = engine().ScanBuffer(ReadFile(dir.path() / "text.zip"), "text.zip");
  EXPECT_EQ(r.kind, Kind::kClean) << r.name;
}

TEST_F(ClamEngineTest, DetectsEicarInsideZip) {
  if (!HaveZip()) GTEST_SKIP() << "zip not installed";
  TempDir dir;
  WriteFile(dir.path() / "eicar.com", Eicar());
  ASSERT_NO_FATAL_FAILURE(Zip(dir.path(), "eicar.zip eicar.com"));
  ScanResult r = engine().ScanBuffer(ReadFile(dir.path() / "eicar.zip"), "eicar.zip");
  EXPECT_EQ(r.kind, Kind::kInfected);
  EXPECT_THAT(r.name, StartsWith("Kensa.Test.EICAR"));
}

TEST_F(ClamEngineTest, EncryptedZipIsUnscannable) {
  if (!HaveZip()) GTEST_SKIP() << "zip not installed";
  TempDir dir;
  WriteFile(dir.path() / "a.txt", "a secret that libclamav cannot read\n");
  ASSERT_NO_FATAL_FAILURE(Zip(dir.path(), "-P secret enc.zip a.txt"));
  ScanResult r = engine().ScanBuffer(ReadFile(dir.path() / "enc.zip"), "enc.zip");
  EXPECT_EQ(r.kind, Kind::kUnscannable);
  EXPECT_THAT(r.name, StartsWith("Heuristics.Encrypted.Zip"));
}

TEST_F(ClamEngineTest, ScanFdReadsAFile) {
  TempDir dir;
  WriteFile(dir.path() / "eicar.txt", Eicar());
  WriteFile(dir.path() / "clean.txt", "nothing to see\n");
  int fd = open((dir.path() / "eicar.txt").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ScanResult infected = engine().ScanFd(fd, "eicar.txt");
  close(fd);
  EXPECT_EQ(infected.kind, Kind::kInfected);
  EXPECT_THAT(infected.name, StartsWith("Kensa.Test.EICAR"));

  fd = open((dir.path() / "clean.txt").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(engine().ScanFd(fd).clean());
  close(fd);
}

TEST_F(ClamEngineTest, ScanFdOnABadDescriptorIsUnscannable) {
  ScanResult r = engine().ScanFd(-1);
  EXPECT_EQ(r.kind, Kind::kUnscannable);
  EXPECT_THAT(r.name, StartsWith("scan error: "));
}

TEST_F(ClamEngineTest, ScansFromFourThreadsAtOnce) {
  if (!fs::is_directory(kClamTestFiles)) GTEST_SKIP() << "clamav-testfiles not installed";
  const std::string clam_zip = ReadFile(kClamTestFiles / "clam.zip");
  const std::string eicar = Eicar();
  const std::string clean = "an ordinary newsletter paragraph\n";
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (engine().ScanBuffer(clam_zip).kind != Kind::kInfected) ++wrong;
        if (engine().ScanBuffer(eicar).kind != Kind::kInfected) ++wrong;
        if (!engine().ScanBuffer(clean).clean()) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Limits: an engine with small limits, and objects just beyond each one.
class ClamLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveZip()) GTEST_SKIP() << "zip not installed";
    ClamLimits limits;
    limits.max_scan_bytes = 1 << 20;
    limits.max_file_bytes = 1 << 20;
    limits.max_recursion = 2;
    limits.max_files = 5;
    auto loaded = ClamEngine::Load(BundledSigs().string(), limits);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    engine_ = *std::move(loaded);
  }
  ScanResult ScanFile(const std::string& name) {
    return engine_->ScanBuffer(ReadFile(dir_.path() / name), name);
  }

  TempDir dir_;
  std::shared_ptr<const ClamEngine> engine_;
};

TEST_F(ClamLimitsTest, ObjectLargerThanMaxFileSizeIsUnscannable) {
  const std::string big(2 << 20, 'a');
  ScanResult r = engine_->ScanBuffer(big, "big.txt");
  EXPECT_EQ(r.kind, Kind::kUnscannable);
  EXPECT_EQ(r.name, "Heuristics.Limits.Exceeded.MaxFileSize");

  WriteFile(dir_.path() / "big.txt", big);
  int fd = open((dir_.path() / "big.txt").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ScanResult from_fd = engine_->ScanFd(fd, "big.txt");
  close(fd);
  EXPECT_EQ(from_fd.kind, Kind::kUnscannable);
  EXPECT_EQ(from_fd.name, "Heuristics.Limits.Exceeded.MaxFileSize");
}

TEST_F(ClamLimitsTest, ZipBombBeyondMaxScanSizeIsUnscannable) {
  // 3 MB of zeros deflate to a few kilobytes; unpacked they pass the 1 MiB scan budget.
  WriteFile(dir_.path() / "zeros.bin", std::string(3 << 20, '\0'));
  ASSERT_NO_FATAL_FAILURE(Zip(dir_.path(), "bomb.zip zeros.bin"));
  ASSERT_LT(fs::file_size(dir_.path() / "bomb.zip"), 64u << 10);
  ScanResult r = ScanFile("bomb.zip");
  EXPECT_EQ(r.kind, Kind::kUnscannable);
  EXPECT_THAT(r.name, StartsWith("Heuristics.Limits.Exceeded."));
}

TEST_F(ClamLimitsTest, NestingBeyondMaxRecursionIsUnscannable) {
  WriteFile(dir_.path() / "a.txt", "innermost\n");
  ASSERT_NO_FATAL_FAILURE(Zip(dir_.path(), "n1.zip a.txt"));
  ASSERT_NO_FATAL_FAILURE(Zip(dir_.path(), "n2.zip n1.zip"));
  ASSERT_NO_FATAL_FAILURE(Zip(dir_.path(), "n3.zip n2.zip"));
  ASSERT_NO_FATAL_FAILURE(Zip(dir_.path(), "n4.zip n3.zip"));
  EXPECT_TRUE(ScanFile("n1.zip").clean());
  ScanResult r = ScanFile("n4.zip");
  EXPECT_EQ(r.kind, Kind::kUnscannable);
  EXPECT_EQ(r.name, "Heuristics.Limits.Exceeded.MaxRecursion");
}

TEST_F(ClamLimitsTest, MoreMembersThanMaxFilesIsUnscannable) {
  std::string names;
  for (int i = 0; i < 20; ++i) {
    const std::string name = absl::StrCat("f", i, ".txt");
    WriteFile(dir_.path() / name, absl::StrCat("member ", i, "\n"));
    absl::StrAppend(&names, " ", name);
  }
  ASSERT_NO_FATAL_FAILURE(Zip(dir_.path(), absl::StrCat("many.zip", names)));
  ScanResult r = ScanFile("many.zip");
  EXPECT_EQ(r.kind, Kind::kUnscannable);
  EXPECT_EQ(r.name, "Heuristics.Limits.Exceeded.MaxFiles");
}

// libclamav 1.4 answers clean, having scanned nothing, when it cannot make its per-scan
// directory: kensa must not take that for a verdict.
TEST(ClamEngineTempDirTest, AMissingTempDirIsALocalFailureNotClean) {
  TempDir dir;
  ClamLimits limits;
  limits.temp_dir = (dir.path() / "removed").string();
  fs::create_directories(limits.temp_dir);
  auto loaded = ClamEngine::Load(BundledSigs().string(), limits);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::shared_ptr<const ClamEngine> engine = *std::move(loaded);
  ASSERT_EQ(engine->ScanBuffer(Eicar(), "eicar.com").kind, Kind::kInfected);
  fs::remove(limits.temp_dir);  // what a cleaner of /run or /tmp might do to a running kensad

  ScanResult r = engine->ScanBuffer(Eicar(), "eicar.com");
  EXPECT_EQ(r.kind, Kind::kLocalFailure) << r.name;
  EXPECT_THAT(r.name, HasSubstr(limits.temp_dir));
  EXPECT_EQ(engine->ScanBuffer(std::string(4000, 'a'), "text").kind, Kind::kLocalFailure);
  WriteFile(dir.path() / "eicar.com", Eicar());
  int fd = open((dir.path() / "eicar.com").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(engine->ScanFd(fd, "eicar.com").kind, Kind::kLocalFailure);
  close(fd);
  // Objects of at most 5 bytes libclamav skips whatever its directory: clean, as before.
  EXPECT_EQ(engine->ScanBuffer("abcde", "tiny").kind, Kind::kClean);

  fs::create_directories(limits.temp_dir);
  EXPECT_EQ(engine->ScanBuffer(Eicar(), "eicar.com").kind, Kind::kInfected);
}

TEST(ClamEngineLoadTest, RefusesAMissingDirectory) {
  auto r = ClamEngine::Load("/nonexistent/kensa-sigs", ClamLimits{});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("/nonexistent/kensa-sigs"));
}

TEST(ClamEngineLoadTest, RefusesAnEmptyDirectory) {
  TempDir dir;
  auto r = ClamEngine::Load(dir.path().string(), ClamLimits{});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(dir.path().string()));
}

TEST(ClamEngineLoadTest, RefusesAGarbageBodySignatureFileNamingIt) {
  TempDir dir;
  WriteFile(dir.path() / "broken.ndb", "this is not a signature\n");
  auto r = ClamEngine::Load(dir.path().string(), ClamLimits{});
  ASSERT_FALSE(r.ok());
  const std::string message(r.status().message());
  EXPECT_THAT(message, HasSubstr(dir.path().string()));
  EXPECT_THAT(message, HasSubstr("broken.ndb"));
  EXPECT_THAT(message, HasSubstr("Malformed database"));
}

}  // namespace
}  // namespace kensa::scan
