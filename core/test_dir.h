// SPDX-License-Identifier: GPL-2.0-or-later
// Tests only: a scratch directory under $TMPDIR (or /tmp), removed with its contents when the
// test ends. An empty path() means mkdtemp failed; the test's first file operation says so.
#ifndef KENSA_CORE_TEST_DIR_H_
#define KENSA_CORE_TEST_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace kensa {

class TestDir {
 public:
  TestDir() {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/kensa-test.XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TestDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace kensa

#endif  // KENSA_CORE_TEST_DIR_H_
