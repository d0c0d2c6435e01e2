// SPDX-License-Identifier: GPL-2.0-or-later
// Test helpers for the tests that load signatures (scan/clam_engine_test, sigs/): writing a
// file and a temporary directory removed at the end.
#ifndef KENSA_SCAN_CLAM_TEST_SUPPORT_H_
#define KENSA_SCAN_CLAM_TEST_SUPPORT_H_

#include <errno.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "gtest/gtest.h"

namespace kensa::scan::testing {

inline void WriteFile(const std::filesystem::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A fresh directory under the test temp dir, named after the test binary, removed with its
// contents at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) /
                        (std::string(program_invocation_short_name) + ".XXXXXX"))
                           .string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace kensa::scan::testing

#endif  // KENSA_SCAN_CLAM_TEST_SUPPORT_H_
