// SPDX-License-Identifier: GPL-2.0-or-later
// libclamav's own temporary directory: stable per state directory, emptied at start, and
// nothing beside it touched.
#include "appliance/engine_temp_dir.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace kensa {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kensa-etmpXXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(EngineTempDirTest, OwnSubdirectoryIsStableAndEmptiedAtStart) {
  TempDir base;
  absl::StatusOr<EngineTempDir> first = PrepareEngineTempDir(base.path(), "/var/lib/kensa-a");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->removed, 0u);
  EXPECT_EQ(std::filesystem::path(first->path).parent_path(), base.path());
  // What a killed scan leaves: libclamav's per-scan directory with a file, and a loose file.
  std::filesystem::create_directories(first->path + "/clamav-0123.tmp/sub");
  std::ofstream(first->path + "/clamav-0123.tmp/sub/member") << "x";
  std::ofstream(first->path + "/clamav-loose.tmp") << "y";
  // Beside it: another program's file, and another kensad's directory.
  std::ofstream(base.path() + "/other-program.tmp") << "z";
  absl::StatusOr<EngineTempDir> other = PrepareEngineTempDir(base.path(), "/var/lib/kensa-b");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->path, first->path);
  std::ofstream(other->path + "/busy") << "w";

  absl::StatusOr<EngineTempDir> again = PrepareEngineTempDir(base.path(), "/var/lib/kensa-a");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->path, first->path);
  EXPECT_EQ(again->removed, 2u);
  EXPECT_TRUE(std::filesystem::is_empty(again->path));
  EXPECT_TRUE(std::filesystem::exists(base.path() + "/other-program.tmp"));
  EXPECT_TRUE(std::filesystem::exists(other->path + "/busy"));
}

TEST(EngineTempDirTest, RefusesASymbolicLinkInItsPlace) {
  TempDir base;
  TempDir target;
  absl::StatusOr<EngineTempDir> d = PrepareEngineTempDir(base.path(), "/var/lib/kensa-c");
  ASSERT_TRUE(d.ok()) << d.status();
  std::filesystem::remove(d->path);
  std::filesystem::create_directory_symlink(target.path(), d->path);
  std::ofstream(target.path() + "/precious") << "p";
  EXPECT_FALSE(PrepareEngineTempDir(base.path(), "/var/lib/kensa-c").ok());
  EXPECT_TRUE(std::filesystem::exists(target.path() + "/precious"));
}

}  // namespace
}  // namespace kensa
